package inspect

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// avroEvent is a record whose bytes are Confluent-framed Avro (binary,
// with a C1 byte among them) and whose decoded JSON holds the ids, one
// nested, and a string with a hostile escape in it.
func avroEvent() *event.Event {
	return &event.Event{Transport: event.Kafka, Topic: "orders", Partition: 1, Offset: 9, Timestamp: testNow,
		Key:        []byte{0, 0, 0, 0, 1, 6, 'o', '-', '1'},
		KeyDecoded: &event.Decoded{JSON: []byte(`"o-1"`), Schema: event.SchemaRef{Format: "avro", ID: 1, Subject: "orders-key", Version: 1}},
		Value:      []byte{0, 0, 0, 0, 3, 0x9b, 0x1b, 'e'},
		ValueDecoded: &event.Decoded{JSON: []byte(`{"type":"OrderPlaced","event_id":"e-1","total":120.5,"meta":{"correlation_id":"c-1"},"note":"a\u001b[2Jb\u009b"}`),
			Schema: event.SchemaRef{Format: "avro", ID: 3, Subject: "orders-value", Version: 3, Message: "shop.Order"}},
	}
}

func failedEvent(reason string) *event.Event {
	e := avroEvent()
	e.KeyDecoded = &event.Decoded{Fail: reason}
	e.ValueDecoded = &event.Decoded{Fail: reason, Schema: event.SchemaRef{ID: 77}}
	return e
}

func TestSchemaMarker(t *testing.T) {
	for _, tc := range []struct {
		d    *event.Decoded
		want string
	}{
		{nil, ""},
		{&event.Decoded{Schema: event.SchemaRef{Format: "avro", ID: 3, Subject: "orders-value", Version: 3, Message: "shop.Order"}}, "avro orders-value v3"},
		{&event.Decoded{Schema: event.SchemaRef{Format: "protobuf", ID: 4, Subject: "orders-value", Version: 2, Message: "shop.Order.Line"}}, "protobuf orders-value v2 shop.Order.Line"},
		{&event.Decoded{Schema: event.SchemaRef{Format: "protobuf", File: "orders.proto", Message: "shop.Order"}}, "protobuf orders.proto shop.Order"},
		{&event.Decoded{Schema: event.SchemaRef{Format: "avro", File: "order.avsc", Message: "shop.Order"}}, "avro order.avsc shop.Order"},
		{&event.Decoded{Schema: event.SchemaRef{Format: "json", ID: 42}}, "json id 42"},
		{&event.Decoded{Fail: event.FailUnknownSchema, Schema: event.SchemaRef{ID: 42}}, "unknown-schema"},
		{&event.Decoded{Fail: event.FailInvalid, JSON: []byte(`{}`)}, "invalid"},
	} {
		if got := SchemaMarker(tc.d); got != tc.want {
			t.Errorf("SchemaMarker(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestFilterDecoded: value means the decoded JSON (paths, the gjson fast
// path and whole-value decoding alike), raw the bytes, key the decoded key.
func TestFilterDecoded(t *testing.T) {
	e := avroEvent()
	failed := failedEvent(event.FailUnknownSchema)
	for _, tc := range []struct {
		expr string
		e    *event.Event
		want bool
	}{
		{`value.total > 100 && value.meta.correlation_id == "c-1"`, e, true},
		{`value.total > 200`, e, false},
		{`value["meta"]["correlation_id"] == "c-1"`, e, true},
		{`value != nil && len(value) == 5`, e, true},
		{`type == "OrderPlaced" && id == "e-1"`, e, true},
		{`key == "o-1"`, e, true},
		{`raw startsWith "\x00\x00\x00\x00\x03"`, e, true},
		{`raw contains "event_id"`, e, false},
		// Not decoded: the bytes are all there is, and they are not JSON.
		{`value.total == nil && id == ""`, failed, true},
		{`value startsWith "\x00"`, failed, true},
	} {
		f, err := CompileFilter(tc.expr, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		got, err := f.Match(tc.e)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}

func TestPrettyDecoded(t *testing.T) {
	got := render(t, PrinterOptions{Format: Pretty, Local: time.UTC}, avroEvent(), failedEvent(event.FailUnknownSchema))
	want := `12:00:00.000 orders[1]@9 key=o-1 OrderPlaced id=e-1 [avro orders-value v3] {"type":"OrderPlaced","event_id":"e-1","total":120.5,"meta":{"correlation_id":"c-1"},"note":"a\u001b[2Jb\u009b"}
12:00:00.000 orders[1]@9 key=[unknown-schema]\x00\x00\x00\x00\x01\x06o-1 [unknown-schema] \x00\x00\x00\x00\x03\x9b\x1be
`
	if got != want {
		t.Errorf("pretty:\n got %s\nwant %s", got, want)
	}
	// A decoded string with raw controls (a decoder need not escape
	// U+009B) is escaped like any payload.
	e := avroEvent()
	e.ValueDecoded.JSON = []byte("{\"s\":\"\u009b\x1b\u202e\"}")
	got = render(t, PrinterOptions{Format: Pretty, Local: time.UTC, Color: true}, e)
	for _, s := range sgrSequences {
		got = strings.ReplaceAll(got, s, "")
	}
	if strings.ContainsAny(got, "\x1b\u009b\u202e") {
		t.Errorf("a control reached the line: %q", got)
	}
	// Protobuf from a local file, a JSON Schema record that did not validate.
	e.ValueDecoded = &event.Decoded{JSON: []byte(`{"a":1}`), Schema: event.SchemaRef{Format: "protobuf", File: "orders.proto", Message: "shop.Order"}}
	inv := avroEvent()
	inv.ValueDecoded = &event.Decoded{JSON: []byte(`{"a":"x"}`), Fail: event.FailInvalid, Schema: event.SchemaRef{Format: "json", Subject: "s", Version: 1}}
	got = render(t, PrinterOptions{Format: Pretty, Local: time.UTC}, e, inv)
	want = "12:00:00.000 orders[1]@9 key=o-1 [protobuf orders.proto shop.Order] {\"a\":1}\n" +
		"12:00:00.000 orders[1]@9 key=o-1 [invalid] {\"a\":\"x\"}\n"
	if got != want {
		t.Errorf("pretty:\n got %s\nwant %s", got, want)
	}
}

func TestTemplateDecoded(t *testing.T) {
	e := avroEvent()
	for _, tc := range []struct {
		e          *event.Event
		tmpl, want string
	}{
		{e, `{{.Key}} {{.KeySchema}} | {{.ValueSchema}} | {{.Get "meta.correlation_id"}} {{.ID}}`, "o-1 avro orders-key v1 | avro orders-value v3 | c-1 e-1\n"},
		{e, `{{.ValueB64}} {{.Size}}`, "AAAAAAObG2U= 8\n"},
		{e, `{{.Value}}`, `{"type":"OrderPlaced","event_id":"e-1","total":120.5,"meta":{"correlation_id":"c-1"},"note":"a\u001b[2Jb\u009b"}` + "\n"},
		{failedEvent(event.FailTruncated), `{{.ValueSchema}} {{.Value}}`, `truncated \x00\x00\x00\x00\x03\x9b\x1be` + "\n"},
		{e, `{{.Raw}}`, `\x00\x00\x00\x00\x03\x9b\x1be` + "\n"},
		{kafkaEvent(), `[{{.ValueSchema}}]`, "[]\n"},
	} {
		if got := render(t, PrinterOptions{Format: Template, Template: tc.tmpl}, tc.e); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.tmpl, got, tc.want)
		}
	}
}

// TestRawAndJSONLKeepBytes: -o raw writes the bytes a schema decoded, not
// its JSON; -o jsonl writes both.
func TestRawAndJSONLKeepBytes(t *testing.T) {
	e := avroEvent()
	if got := render(t, PrinterOptions{Format: Raw}, e); got != string(e.Value)+"\n" {
		t.Errorf("raw = %q", got)
	}
	got := render(t, PrinterOptions{Format: JSONL}, e)
	if !strings.Contains(got, `"value_b64":"AAAAAAObG2U="`) || !strings.Contains(got, `"value_decoded":{"type":"OrderPlaced"`) ||
		!strings.Contains(got, `"value_schema":{"format":"avro","id":3,"subject":"orders-value","version":3,"message":"shop.Order"}`) {
		t.Errorf("jsonl = %s", got)
	}
}
