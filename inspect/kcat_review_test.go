package inspect

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/event"
)

// TestKcatReviewAsKcat: what kcat 1.7 prints for the same format (checked
// against /usr/bin/kcat on the test broker): a header without a value is
// NULL (an empty one is empty), and an escape kcat does not know is refused
// (as the doc of ParseKcatFormat says) rather than printed as a backslash
// and a letter kcat would not print.
func TestKcatReviewAsKcat(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	p, err := newKcatPrinter(w, PrinterOptions{Template: `%h\n`})
	if err != nil {
		t.Fatal(err)
	}
	e := &event.Event{Headers: []event.Header{{Key: "h1", Value: []byte("a")}, {Key: "h2"}, {Key: "h3", Value: []byte{}}}}
	if err := p.Print(e); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	if got, want := out.String(), "h1=a,h2=NULL,h3=\n"; got != want {
		t.Errorf("%%h = %q, want %q", got, want)
	}
	if err := ParseKcatFormat(`%s\q`); err == nil || !strings.Contains(err.Error(), `\q`) {
		t.Errorf(`-f '%%s\q': err %v, want one naming \q`, err)
	}
}
