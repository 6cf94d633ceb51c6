package inspect

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"charm.land/lipgloss/v2"

	"github.com/eddy-sh/eddy/event"
)

// hostile is the matrix of payloads a producer could use to attack the
// terminal of whoever tails the topic.
var hostile = map[string]string{
	"CSI colour":          "\x1b[31mred\x1b[0m",
	"CSI clear":           "\x1b[2J\x1b[H",
	"OSC 0 title":         "\x1b]0;pwned\x07",
	"OSC 8 link":          "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
	"OSC 52 clipboard":    "\x1b]52;c;cm0gLXJmIH4K\x07",
	"DCS":                 "\x1bP1$r0m\x1b\\",
	"bare CR":             "all good\rEVIL",
	"BEL":                 "ding\x07",
	"8-bit CSI raw":       "\x9b31mred",
	"8-bit OSC raw":       "\x9d0;title\x9c",
	"8-bit CSI UTF-8":     "\xc2\x9b31mred",
	"8-bit OSC UTF-8":     "\xc2\x9d0;title\xc2\x9c",
	"RLO":                 "user\u202etxt.exe",
	"bidi isolates":       "\u2066a\u2069\u2067b\u2068c\u200e\u200f\u061c",
	"line separators":     "one\u2028two\u2029three",
	"unterminated ESC [":  "tail\x1b[",
	"unterminated ESC":    "tail\x1b",
	"unterminated OSC":    "\x1b]0;no end",
	"NUL":                 "a\x00b",
	"DEL":                 "a\x7fb",
	"newline and tab":     "a\nb\tc",
	"invalid UTF-8":       "\xff\xfe\xc3",
	"mixed with unicode":  "héllo 日本語 😀 \x1b[1mbold\x9b 한국어",
	"JSON with C1 inside": "{\"a\":\"x\xc2\x9by\",\"b\":\"\u202e\"}",
	"JSON with DEL":       "{\"a\":\"\x7f\"}",
}

// assertSafe checks the terminal-safety contract on out. With color, every
// escape sequence must be one of eddy's own SGR sequences: they are stripped
// first, and then no ESC may remain.
func assertSafe(t *testing.T, name string, out []byte, color bool) {
	t.Helper()
	s := string(out)
	if color {
		for _, sgr := range sgrSequences {
			s = strings.ReplaceAll(s, sgr, "")
		}
	}
	if !utf8.ValidString(s) {
		t.Errorf("%s: output is not valid UTF-8: %q", name, s)
	}
	// The legitimate multi-byte text in the matrix has no 0x9b or 0x9d
	// continuation byte, so a plain byte scan is exact here.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0x1b || c == 0x9b || c == 0x9d {
			t.Errorf("%s: raw escape byte %#x at %d: %q", name, c, i, s)
			break
		}
	}
	for i, r := range s {
		switch {
		case r == '\n' && i == len(s)-1:
		case r < 0x20 || r == 0x7f:
			t.Errorf("%s: C0 control %U at %d: %q", name, r, i, s)
		case event.UnsafeRune(r):
			t.Errorf("%s: unsafe rune %U at %d: %q", name, r, i, s)
		}
	}
}

func TestAppendSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"\x1b[31m", `\x1b[31m`},
		{"a\rb", `a\rb`},
		{"a\nb\tc", `a\nb\tc`},
		{"\x00\x07\x7f", `\x00\x07\x7f`},
		{"\x9b", `\x9b`},
		{"\xc2\x9b", `\u009b`},
		{"\xc2\x85", `\u0085`},
		{"\u202e", `\u202e`},
		{"\u2028", `\u2028`},
		{"\xff", `\xff`},
		{"\xe6\x97", `\xe6\x97`}, // a cut CJK character
		{"héllo 日本語 😀", "héllo 日本語 😀"},
		{"\ufffd", "\ufffd"}, // a real U+FFFD is text, not an invalid byte
		{`C:\path`, `C:\path`},
	} {
		if got := string(AppendSafe(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("AppendSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := SafeString(tc.in); got != tc.want {
			t.Errorf("SafeString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for name, in := range hostile {
		assertSafe(t, name, AppendSafe(nil, []byte(in)), false)
	}
}

func TestSafeStringNoAlloc(t *testing.T) {
	s := "orders.v1 日本語"
	if n := testing.AllocsPerRun(100, func() { _ = SafeString(s) }); n != 0 {
		t.Errorf("SafeString of safe text allocates %v times", n)
	}
}

func hostileEvent(s string) *event.Event {
	return &event.Event{
		Transport: event.Kafka,
		Topic:     "orders" + s,
		Partition: 1,
		Offset:    42,
		Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC),
		Key:       []byte("k" + s),
		Value:     []byte(s),
		Headers: []event.Header{
			{Key: "ce_type", Value: []byte("Type" + s)},
			{Key: "ce_id", Value: []byte("id" + s)},
			{Key: "h" + s, Value: []byte("v" + s)},
		},
	}
}

func hostileAMQP(s string) *event.Event {
	return &event.Event{
		Transport:  event.AMQP,
		Queue:      "q" + s,
		Exchange:   "x" + s,
		RoutingKey: "rk" + s,
		Offset:     -1,
		Value:      []byte(s),
		Headers:    []event.Header{{Key: "h" + s, Value: []byte(s), Typed: s}},
		Properties: &event.Properties{MessageID: "m" + s, Type: "T" + s},
	}
}

// TestTerminalSafeOutputs is the contract: for every hostile input in every
// place an event carries untrusted bytes, no terminal-safe format emits a raw
// escape, control, C1 or bidi character.
func TestTerminalSafeOutputs(t *testing.T) {
	const tmpl = `{{.Topic}} {{.Queue}} {{.Exchange}} {{.RoutingKey}} {{.Source}} {{.Key}} {{.Value}} {{.Type}} {{.ID}}` +
		` {{range .HeaderList}}{{.Key}}={{.Value}};{{end}} {{.Headers}} {{json .Headers}} {{json .Value}}` +
		` {{.Get "a"}} {{.Get "@this"}} {{printf "%s|%v|%q" .Value .Key .Value}} {{.Envelope}}`
	opts := []PrinterOptions{
		{Format: Pretty},
		{Format: Pretty, Color: true},
		{Format: Pretty, Color: true, Width: 40},
		{Format: Pretty, Width: 17, MaxValue: 5},
		{Format: JSONL},
		{Format: Template, Template: tmpl},
	}
	for name, s := range hostile {
		for _, e := range []*event.Event{hostileEvent(s), hostileAMQP(s)} {
			for _, o := range opts {
				var out bytes.Buffer
				p, err := NewPrinter(&out, o)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Print(e); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := p.Flush(); err != nil {
					t.Fatal(err)
				}
				label := name + " " + string(e.Transport) + " " + o.Format.String()
				if o.Format == Template {
					// The template's own layout may only have its final newline here.
					assertSafe(t, label, out.Bytes(), false)
				} else {
					assertSafe(t, label, out.Bytes(), o.Color)
				}
				if bytes.Count(out.Bytes(), []byte("\n")) != 1 {
					t.Errorf("%s: want exactly one line, got %q", label, out.String())
				}
			}
		}
	}
}

func TestTerminalSafeLists(t *testing.T) {
	for name, s := range hostile {
		topics := []TopicRow{{Name: "t" + s, Partitions: 1, EndOffsets: []int64{3}}}
		queues := []QueueRow{{Name: "q" + s, Vhost: "/" + s, Type: "classic" + s, Via: s, DeadLetterExchange: "dlx" + s}}
		for _, o := range []ListOptions{{Format: "table"}, {Format: "table", Color: true, Width: 30}, {Format: "tsv"}, {Format: "json"}} {
			var out bytes.Buffer
			if err := WriteList(&out, topics, queues, o); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.SplitAfter(out.String(), "\n") {
				if strings.HasSuffix(line, "\n") {
					// tsv's tabs are its own separators; check the fields.
					for _, f := range strings.Split(line, "\t") {
						assertSafe(t, name+" list "+o.Format, []byte(f), o.Color)
					}
				}
			}
		}
	}
}

func TestTerminalSafeErrors(t *testing.T) {
	for name, s := range hostile {
		_, _, err := ParseFormat(s)
		assertSafe(t, name+" ParseFormat", []byte(err.Error()), false)
		_, err = CompileFilter(`topic == "a" && `+s, nil)
		if fe, ok := err.(*FilterError); ok {
			assertSafe(t, name+" filter", []byte(fe.Error()), false)
			for _, line := range strings.Split(fe.Snippet(), "\n") {
				assertSafe(t, name+" snippet", []byte(line), false)
			}
		}
		_, err = NewPrinter(&bytes.Buffer{}, PrinterOptions{Format: Template, Template: "{{" + s})
		if err != nil {
			assertSafe(t, name+" template error", []byte(err.Error()), false)
		}
	}
}

func TestCellWidthAndClip(t *testing.T) {
	for _, tc := range []struct {
		s string
		w int
	}{
		{"abc", 3},
		{"日本語", 6},
		{"😀x", 3},
		{"e\u0301", 1}, // e + combining acute
		{sgrCyan + "ab" + sgrReset, 2},
	} {
		if got := CellWidth(tc.s); got != tc.w {
			t.Errorf("CellWidth(%q) = %d, want %d", tc.s, got, tc.w)
		}
	}
	for _, tc := range []struct {
		s     string
		width int
		color bool
		want  string
	}{
		{"abcdef", 10, false, "abcdef"},
		{"abcdef", 6, false, "abcdef"},
		{"abcdef", 5, false, "abcd…"},
		{"日本語x", 4, false, "日…"}, // a wide character never straddles the edge
		{sgrCyan + "abcdef" + sgrReset, 4, true, sgrCyan + "abc…" + sgrReset},
		{"ab" + sgrCyan + "cdef", 3, true, "ab" + sgrCyan + "…" + sgrReset},
	} {
		got := string(appendClipped(nil, tc.s, tc.width, tc.color))
		if got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
		if CellWidth(got) > tc.width {
			t.Errorf("clip(%q, %d) is %d cells wide", tc.s, tc.width, CellWidth(got))
		}
	}
}

// TestCellWidthGraphemes: a joined emoji (ZWJ sequence), a flag (two regional
// indicators) and a keycap are one grapheme cluster each, measured as the TUI
// measures them (lipgloss.Width), and never cut in half by a clip.
func TestCellWidthGraphemes(t *testing.T) {
	const (
		family = "\U0001F468\u200D\U0001F469\u200D\U0001F467" // man ZWJ woman ZWJ girl
		flag   = "\U0001F1EB\U0001F1F7"                       // FR
		keycap = "1\uFE0F\u20E3"
	)
	for _, tc := range []struct {
		s string
		w int
	}{
		{family, 2},
		{flag, 2},
		{family + "x" + flag, 5},
		{sgrCyan + family + sgrReset, 2},
		{keycap, lipgloss.Width(keycap)},
		{"e\u0301" + "日本" + "\u00e9", 6},
	} {
		got := CellWidth(tc.s)
		if got != tc.w {
			t.Errorf("CellWidth(%q) = %d, want %d", tc.s, got, tc.w)
		}
		if tui := lipgloss.Width(tc.s); got != tui {
			t.Errorf("CellWidth(%q) = %d, lipgloss.Width = %d", tc.s, got, tui)
		}
	}
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{flag + "x", 2, "…"},
		{flag + flag, 3, flag + "…"},
		{"ab" + family + "cd", 4, "ab…"},
		{"ab" + family + "cd", 5, "ab" + family + "…"},
	} {
		got := string(appendClipped(nil, tc.s, tc.width, false))
		if got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
		if w := lipgloss.Width(got); w > tc.width {
			t.Errorf("clip(%q, %d) is %d cells wide for the TUI", tc.s, tc.width, w)
		}
	}
}
