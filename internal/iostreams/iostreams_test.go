package iostreams

import (
	"bytes"
	"testing"
)

// TestRedactor: a registered secret is masked in everything written through
// the redactor, a URL's password in its plain and escaped forms; values too
// short to protect anything are not registered.
func TestRedactor(t *testing.T) {
	r := &Redactor{}
	r.Add("ab")
	r.AddURL("amqp://user:p%40ss%2Fw@host:5672/vhost")
	r.AddURL("amqp://nopassword@host/")
	var buf bytes.Buffer
	w := r.Writer(&buf)
	if _, err := w.Write([]byte("ab p@ss/w p%40ss%2Fw p@ss%2Fw nopassword\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "ab **** **** **** nopassword\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestTestStreams: test streams are a terminal of 120 columns or a pipe.
func TestTestStreams(t *testing.T) {
	s, _, out, _ := Test(true)
	s.Out.Write([]byte("x"))
	if !s.OutTTY || !s.ErrTTY || s.Width != 120 || !s.Color() || out.String() != "x" {
		t.Errorf("tty streams: %+v", s)
	}
	if p, _, _, _ := Test(false); p.OutTTY || p.Width != 0 || p.Color() {
		t.Errorf("pipe streams: %+v", p)
	}
}
