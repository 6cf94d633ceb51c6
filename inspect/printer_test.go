package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func kafkaEvent() *event.Event {
	return &event.Event{
		Transport: event.Kafka,
		Topic:     "orders",
		Partition: 0,
		Offset:    42,
		Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC),
		Key:       []byte("o-1"),
		Value:     []byte("{\n  \"order_id\": \"o-1\",\n  \"type\": \"OrderPlaced\",\n  \"event_id\": \"e-1\",\n  \"total\": 120,\n  \"note\": \"two  spaces\"\n}"),
		Headers:   []event.Header{{Key: "tenant", Value: []byte("acme")}, {Key: "tenant", Value: []byte("globex")}},
	}
}

func render(t *testing.T, o PrinterOptions, evs ...*event.Event) string {
	t.Helper()
	var out bytes.Buffer
	p, err := NewPrinter(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	if pp, ok := p.(*prettyPrinter); ok {
		pp.r.now = func() time.Time { return testNow }
	}
	for _, e := range evs {
		if err := p.Print(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestPretty(t *testing.T) {
	utc := PrinterOptions{Format: Pretty, Local: time.UTC}
	yesterday := kafkaEvent()
	yesterday.Timestamp = yesterday.Timestamp.Add(-24 * time.Hour)
	tomb := &event.Event{Transport: event.Kafka, Topic: "orders", Partition: 2, Offset: 7, Key: []byte{}}
	amqp := &event.Event{Transport: event.AMQP, Queue: "orders.q", Exchange: "shop", RoutingKey: "order.placed", Offset: -1,
		Redelivered: true, Timestamp: testNow, Value: []byte("hello world"),
		Properties: &event.Properties{MessageID: "m-1", Type: "OrderPlaced"}}
	stream := &event.Event{Transport: event.AMQP, Queue: "events", RoutingKey: "events", Offset: 17, Timestamp: testNow, Value: []byte{0, 1, 0xfe, 'a'}}

	got := render(t, utc, kafkaEvent(), yesterday, tomb, amqp, stream)
	want := `10:00:00.123 orders[0]@42 key=o-1 OrderPlaced id=e-1 {"order_id":"o-1","type":"OrderPlaced","event_id":"e-1","total":120,"note":"two  spaces"}
2026-11-22 10:00:00.123 orders[0]@42 key=o-1 OrderPlaced id=e-1 {"order_id":"o-1","type":"OrderPlaced","event_id":"e-1","total":120,"note":"two  spaces"}
--:--:--.--- orders[2]@7 key="" <null>
12:00:00.000 orders.q shop→order.placed redelivered OrderPlaced id=m-1 hello world
12:00:00.000 events@17 (default)→events \x00\x01\xfea
`
	if got != want {
		t.Errorf("pretty:\n got %s\nwant %s", got, want)
	}

	colored := render(t, PrinterOptions{Format: Pretty, Local: time.UTC, Color: true}, kafkaEvent())
	if !strings.Contains(colored, sgrMagenta+"OrderPlaced"+sgrReset) {
		t.Errorf("no colour for the type: %q", colored)
	}
	plain := colored
	for _, s := range sgrSequences {
		plain = strings.ReplaceAll(plain, s, "")
	}
	if plain != strings.SplitAfter(want, "\n")[0] {
		t.Errorf("colour changes the text:\n%q\n%q", plain, strings.SplitAfter(want, "\n")[0])
	}
}

func TestPrettyTruncatesLargePayload(t *testing.T) {
	big := bytes.Repeat([]byte(`{"k":"vvvvvvvvvv"},`), 10<<20/19)
	big = append(append([]byte("["), big...), `{}]`...)
	e := &event.Event{Transport: event.Kafka, Topic: "t", Timestamp: testNow, Value: big}
	got := render(t, PrinterOptions{Format: Pretty, Local: time.UTC}, e)
	if len(got) > 2200 {
		t.Fatalf("10 MB payload rendered as %d bytes", len(got))
	}
	if !strings.HasSuffix(got, "… (+10.0 MiB)\n") || !strings.Contains(got, ` [{"k":"vvvvvvvvvv"},{"k"`) {
		t.Errorf("got %q", got[len(got)-60:])
	}

	// Cutting keeps whole characters and says exactly how much is left.
	e.Value = []byte("ab日本")
	if got := render(t, PrinterOptions{Format: Pretty, Local: time.UTC, MaxValue: 4}, e); !strings.HasSuffix(got, " ab… (+6 B)\n") {
		t.Errorf("got %q", got)
	}
	if got := render(t, PrinterOptions{Format: Pretty, Local: time.UTC, MaxValue: -1}, e); !strings.HasSuffix(got, " ab日本\n") {
		t.Errorf("no limit: got %q", got)
	}

	// A huge key is capped too, so the payload stays on the line.
	e.Key = bytes.Repeat([]byte("k"), 1<<20)
	if got := render(t, PrinterOptions{Format: Pretty, Local: time.UTC}, e); len(got) > 400 || !strings.Contains(got, "kkk… ab日本") {
		t.Errorf("huge key: %d bytes, %q", len(got), got[len(got)-30:])
	}
}

func TestPrettyWidth(t *testing.T) {
	e := kafkaEvent()
	e.Value = []byte(`{"name":"日本語日本語日本語日本語日本語日本語"}`)
	for _, color := range []bool{false, true} {
		got := render(t, PrinterOptions{Format: Pretty, Local: time.UTC, Width: 50, Color: color}, e)
		line := strings.TrimSuffix(got, "\n")
		if w := CellWidth(line); w != 50 && w != 49 {
			t.Errorf("color=%v: width %d, want 50 (49 when a wide character did not fit): %q", color, w, line)
		}
		if !strings.Contains(line, "…") {
			t.Errorf("color=%v: no clip marker: %q", color, line)
		}
		if color && !strings.HasSuffix(line, "…"+sgrReset) {
			t.Errorf("colour not reset after the clip: %q", line)
		}
	}
}

func TestJSONLAndRaw(t *testing.T) {
	evs := []*event.Event{kafkaEvent(), hostileEvent("\x1b]52;c;AAAA\x07\xc2\x9b"), hostileAMQP("x")}
	var want, wantRaw []byte
	for _, e := range evs {
		want = append(event.AppendEnvelope(want, e), '\n')
		wantRaw = append(append(wantRaw, e.Value...), '\n')
	}
	if got := render(t, PrinterOptions{Format: JSONL}, evs...); got != string(want) {
		t.Errorf("jsonl:\n got %q\nwant %q", got, want)
	}
	if got := render(t, PrinterOptions{Format: Raw}, evs...); got != string(wantRaw) {
		t.Errorf("raw:\n got %q\nwant %q", got, wantRaw)
	}

	// Names are not base64-able in the envelope; invalid UTF-8 in one becomes
	// U+FFFD instead of a raw byte, and the line stays JSON.
	bad := hostileAMQP("\x9b\xff")
	got := render(t, PrinterOptions{Format: JSONL}, bad)
	if !json.Valid([]byte(got)) || !strings.Contains(got, `"queue":"q\ufffd\ufffd"`) {
		t.Errorf("jsonl of invalid names = %q", got)
	}
	back, err := event.DecodeEnvelope([]byte(strings.TrimSuffix(got, "\n")))
	if err != nil || !bytes.Equal(back.Value, bad.Value) {
		t.Errorf("decode: %v, value %q", err, back.Value)
	}

	if Raw.SafeForTerminal() || !JSONL.SafeForTerminal() || !Pretty.SafeForTerminal() || !Template.SafeForTerminal() {
		t.Error("SafeForTerminal: only raw is unsafe")
	}
}

func TestPrinterNoAllocs(t *testing.T) {
	e := kafkaEvent()
	for _, f := range []Format{Raw, JSONL} {
		p, err := NewPrinter(discard{}, PrinterOptions{Format: f})
		if err != nil {
			t.Fatal(err)
		}
		p.Print(e)
		if n := testing.AllocsPerRun(1000, func() { p.Print(e) }); n != 0 {
			t.Errorf("%v: %v allocations per event, want 0", f, n)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("broken pipe") }

func TestPrinterWriteError(t *testing.T) {
	for _, f := range []Format{Raw, JSONL, Pretty} {
		p, _ := NewPrinter(failWriter{}, PrinterOptions{Format: f})
		p.Print(kafkaEvent())
		if err := p.Flush(); err == nil || !strings.Contains(err.Error(), "broken pipe") {
			t.Errorf("%v: Flush = %v, want the writer's error", f, err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		f    Format
		text string
	}{
		{"pretty", Pretty, ""},
		{"jsonl", JSONL, ""},
		{"json", JSONL, ""},
		{"JSONL", JSONL, ""},
		{"raw", Raw, ""},
		{"template", Template, ""},
		{"template={{.Topic}} {{.Value}}", Template, "{{.Topic}} {{.Value}}"},
		{"template=a=b", Template, "a=b"},
	} {
		f, text, err := ParseFormat(tc.in)
		if err != nil || f != tc.f || text != tc.text {
			t.Errorf("ParseFormat(%q) = %v, %q, %v; want %v, %q", tc.in, f, text, err, tc.f, tc.text)
		}
	}
	for _, in := range []string{"", "xml", "raw=x", "pretty=1"} {
		_, _, err := ParseFormat(in)
		if err == nil || !strings.Contains(err.Error(), "valid: pretty, jsonl, json, raw, template=TEXT") {
			t.Errorf("ParseFormat(%q) error = %v", in, err)
		}
	}
}

func TestTemplate(t *testing.T) {
	e := kafkaEvent()
	e.Headers = append(e.Headers, event.Header{Key: "x-count", Value: []byte("3"), Typed: int32(3)})
	for _, tc := range []struct{ tmpl, want string }{
		{`{{.Topic}} {{.Partition}} {{.Offset}} {{.Key}}`, "orders 0 42 o-1\n"},
		{`{{.Type}} {{.ID}} {{index .Headers "tenant"}} {{index .Headers "absent"}}|`, "OrderPlaced e-1 globex |\n"},
		{`{{range .HeaderList}}{{.Key}}={{.Value}}{{with .Type}}:{{.}}{{end}} {{end}}`, "tenant=acme tenant=globex x-count=3:int32 \n"},
		{`{{.Get "total"}} {{.Get "order_id"}} {{.Get "missing"}}|`, "120 o-1 |\n"},
		{`{{.Timestamp.Format "15:04"}} {{.Size}} {{b64 .Key}} {{.KeyB64}}`, "10:00 " + strconv.Itoa(len(e.Value)) + " by0x by0x\n"},
		{"{{.Topic}}\n", "orders\n"},
		{"{{.Topic}}\n\t{{.Key}}", "orders\n\to-1\n"},
		{`{{json .Key}}`, "\"o-1\"\n"},
	} {
		got := render(t, PrinterOptions{Format: Template, Template: tc.tmpl}, e)
		if got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.tmpl, got, tc.want)
		}
	}

	// A hostile payload through {{.Value}} prints escaped.
	got := render(t, PrinterOptions{Format: Template, Template: `{{.Value}}`}, hostileEvent("\x1b]0;pwned\x07\x9b\u202e"))
	if got != `\x1b]0;pwned\x07\x9b\u202e`+"\n" {
		t.Errorf("hostile {{.Value}} = %q", got)
	}
	// Even a template that builds an escape itself cannot emit it.
	got = render(t, PrinterOptions{Format: Template, Template: `{{printf "%c[2J" 27}}x`}, e)
	if got != `\x1b[2Jx`+"\n" {
		t.Errorf("printf ESC = %q", got)
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		line int
		msg  string
	}{
		{"", 0, "empty template"},
		{"{{.Topic}", 1, `bad character`},
		{"{{if}}", 1, `missing value for if`},
		{"{{.Topic}}\n{{nosuch}}", 2, `function "nosuch" not defined`},
		{"{{.Topc}}", 1, "can't evaluate field Topc"},
	} {
		_, err := NewPrinter(&bytes.Buffer{}, PrinterOptions{Format: Template, Template: tc.tmpl})
		var te *TemplateError
		if !errors.As(err, &te) || te.Line != tc.line || !strings.Contains(te.Error(), tc.msg) {
			t.Errorf("%q: err = %v (line %v), want line %d %q", tc.tmpl, err, te, tc.line, tc.msg)
			continue
		}
		if !strings.HasPrefix(te.Error(), "-o template: ") || strings.Contains(te.Error(), "\n") {
			t.Errorf("%q: not one line: %q", tc.tmpl, te.Error())
		}
	}
	// Data-dependent failures surface at Print, naming the event.
	p, err := NewPrinter(&bytes.Buffer{}, PrinterOptions{Format: Template, Template: `{{index .HeaderList 5}}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(kafkaEvent()); err == nil || !strings.Contains(err.Error(), "orders[0]@42") {
		t.Errorf("Print = %v", err)
	}
}

func TestPrettyHeadersDecodesSpring(t *testing.T) {
	var b strings.Builder
	p, err := NewPrinter(&b, PrinterOptions{Format: Pretty, Headers: true, Local: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	e := &event.Event{Transport: event.Kafka, Topic: "payments.DLT", Value: []byte("{}"), Headers: []event.Header{
		{Key: "kafka_dlt-original-topic", Value: []byte("orders")},
		{Key: "kafka_dlt-original-partition", Value: []byte{0, 0, 0, 3}},
		{Key: "kafka_dlt-original-offset", Value: []byte{0, 0, 0, 0, 0, 0, 0x01, 0x00}},
		{Key: "kafka_dlt-original-timestamp", Value: []byte{0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}},
		{Key: "evil", Value: []byte("\x1b]0;x\x07")},
		{Key: "nil"},
	}}
	if err := p.Print(e); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	out := b.String()
	for _, want := range []string{"    kafka_dlt-original-topic: orders\n", "kafka_dlt-original-partition: 3 (decoded)", "kafka_dlt-original-offset: 256 (decoded)",
		"kafka_dlt-original-timestamp: 1700000000000 = 2023-11-14T22:13:20.000Z (decoded)", "    nil: <null>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("raw escape in header output: %q", out)
	}
}
