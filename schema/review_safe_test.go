package schema

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/event"
)

// safeForTerminal says s holds nothing a terminal acts on: valid UTF-8,
// no C0 control, DEL, C1 control, bidirectional control or line separator.
func safeForTerminal(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			return false
		}
	}
	return true
}

// TestNothingUnsafeOrSecretShown: what a Decoder hands out (SchemaRef,
// Stats.Summary, New's errors) never holds the registry's password nor a
// byte a terminal acts on, even when the registry's subjects and a JSON
// Schema's title are written to attack the terminal.
func TestNothingUnsafeOrSecretShown(t *testing.T) {
	const pass = "s3cret-pa55"
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+pass))
	r := newRegistry(t, srfake.WithAuth(auth))
	evil := "orders\x1b]52;c;cHduZWQ=\x07\x9b2J\u202e-value"
	avroID := r.register(t, evil, sr.Schema{Schema: userSchema})
	title := "User\x1b[2J\r\x00" + strings.Repeat("t", 1<<20)
	jsonID := r.register(t, "j-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"title":` + string(must(json.Marshal(title))) + `}`})
	u := strings.Replace(r.URL(), "http://", "http://user:"+pass+"@", 1)
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: u}})

	check := func(what, s string) {
		t.Helper()
		if strings.Contains(s, pass) {
			t.Errorf("%s shows the password: %.200q", what, s)
		}
		if !safeForTerminal(s) {
			t.Errorf("%s is not terminal-safe: %.200q", what, s)
		}
	}
	got := decodeValue(t, d, "orders", frame(avroID, userBody(t, "a", 1)))
	if got.Fail != "" || string(got.JSON) != `{"name":"a","n":1}` {
		t.Fatalf("credentials from the URL: %+v", got)
	}
	check("subject", got.Schema.Subject)
	if !strings.HasPrefix(got.Schema.Subject, "orders") {
		t.Errorf("subject %q", got.Schema.Subject)
	}
	got = decodeValue(t, d, "j", frame(jsonID, []byte(`{}`)))
	check("message", got.Schema.Message)
	if !strings.HasPrefix(got.Schema.Message, "User") || len(got.Schema.Message) > 1024 {
		t.Errorf("message %.80q (%d bytes)", got.Schema.Message, len(got.Schema.Message))
	}
	check("client URL", d.client.URL())

	// Down, denied, unknown: reasons only.
	bad := newDecoder(t, Config{Registry: &RegistryConfig{URL: strings.Replace(u, pass, "wrong", 1)}})
	got = decodeValue(t, bad, "orders", frame(avroID, nil))
	if got.Fail != event.FailDenied {
		t.Errorf("wrong password: %+v", got)
	}
	decodeValue(t, d, "orders", frame(424242, nil))
	decodeValue(t, d, "orders", []byte{0, 1})
	for _, dd := range []*Decoder{d, bad} {
		check("summary", dd.Stats().Summary())
	}
	for _, url := range []string{"http://user:" + pass + "@[::1", "ftp://user:" + pass + "@127.0.0.1/x\x1b[2J", "http://user:" + pass + "@\x1b]0;x\x07/"} {
		_, err := New(Config{Registry: &RegistryConfig{URL: url}})
		if err == nil {
			t.Errorf("%q: no error", url)
			continue
		}
		check("New error", err.Error())
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"orders-value":           "orders-value",
		"café-ü-値":               "café-ü-値",
		"a\x1b[2Jb":              `a\x1b[2Jb`,
		"tab\there\r\n\x00\x7f":  `tab\x09here\x0d\x0a\x00\x7f`,
		"c1\u009b2J":             `c1\u009b2J`,
		"raw\x9b":                `raw\x9b`,
		"bidi\u202eevil\u2066x":  `bidi\u202eevil\u2066x`,
		"sep\u2028":              `sep\u2028`,
		strings.Repeat("é", 300): strings.Repeat("é", maxNameLen/2) + "...",
	} {
		got := safeName(in)
		if got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
		if !safeForTerminal(got) {
			t.Errorf("safeName(%q) = %q: not safe", in, got)
		}
	}
	if s := "plain"; testing.AllocsPerRun(10, func() { _ = safeName(s) }) != 0 {
		t.Error("a safe name is copied")
	}
}

// TestNewErrorsTerminalSafe: New's errors quote local files — their names,
// and compilers' messages that quote their text — and are safe to print.
func TestNewErrorsTerminalSafe(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"imp.proto":         "syntax = \"proto3\";\nimport \"x\x1b]0;owned\x07.proto\";\nmessage B { string a = 1; }\n",
		"name\x1b[2J.avsc":  "{",
		"bidi\u202e.json":   "{",
		"ok.proto":          "syntax = \"proto3\";\nmessage \x9b { }\n",
		"enum\x00sym.avsc":  `{"type":"enum","name":"E","symbols":[]}`,
		"plain-broken.avsc": `{"type":"record"}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			if strings.Contains(name, "\x00") {
				continue // no such file name on this system
			}
			t.Fatal(err)
		}
		_, err := New(Config{Local: []Mapping{{Topic: "t", Value: &LocalSchema{Path: p}}}})
		if err == nil {
			t.Errorf("%q: no error", name)
			continue
		}
		if !safeForTerminal(err.Error()) {
			t.Errorf("%q: %q", name, err)
		}
	}
}
