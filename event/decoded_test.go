package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// avroBytes stands for a Confluent-framed Avro record: binary, so the
// envelope carries it as value_b64.
var avroBytes = []byte{0, 0, 0, 0, 3, 0x0a, 'e', '-', '1', 0xff, 0x80}

func decodedEvent() *Event {
	return &Event{Transport: Kafka, Topic: "orders", Partition: 1, Offset: 7,
		Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 5e6, time.UTC),
		Key:       []byte{0, 0, 0, 0, 1, 6, 'o', '-', '1'},
		KeyDecoded: &Decoded{JSON: []byte(`"o-1"`),
			Schema: SchemaRef{Format: "avro", ID: 1, Subject: "orders-key", Version: 1}},
		Headers: []Header{{Key: "h", Value: []byte("v")}},
		Value:   avroBytes,
		ValueDecoded: &Decoded{JSON: []byte(`{"meta":{"event_id":"e-1","correlation_id":"o-1","occurred_at":"2026-11-23T10:00:00.250Z"},"total":12.5}`),
			Schema: SchemaRef{Format: "avro", ID: 3, Subject: "orders-value", Version: 3, Message: "shop.Order"}},
	}
}

func TestEnvelopeDecodedExactFormat(t *testing.T) {
	e := decodedEvent()
	e.ValueDecoded.JSON = []byte("{ \"a\" : [1, 2],\n \"s\": \"x y\" }")
	e.KeyDecoded = &Decoded{Schema: SchemaRef{Format: "protobuf", File: "keys.proto", Message: "shop.Key"}, Fail: FailUndecodable}
	got := string(AppendEnvelope(nil, e))
	want := `{"v":1,"transport":"kafka","topic":"orders","partition":1,"offset":7,"timestamp":"2026-11-23T10:00:00.005Z",` +
		`"key":"\u0000\u0000\u0000\u0000\u0001\u0006o-1","key_schema":{"format":"protobuf","message":"shop.Key","file":"keys.proto","error":"undecodable"},` +
		`"headers":[{"key":"h","value":"v"}],"value_b64":"AAAAAAMKZS0x/4A=",` +
		`"value_decoded":{"a":[1,2],"s":"x y"},"value_schema":{"format":"avro","id":3,"subject":"orders-value","version":3,"message":"shop.Order"}}`
	if got != want {
		t.Fatalf("envelope\n%s\nwant\n%s", got, want)
	}
	roundTrip(t, e)
}

// TestEnvelopeDecodedRoundTrip: the raw bytes come back exactly, and the
// decoded JSON, schema and failure beside them, through every decoder.
func TestEnvelopeDecodedRoundTrip(t *testing.T) {
	for _, mod := range []func(e *Event){
		func(e *Event) {},
		func(e *Event) { e.KeyDecoded = nil },
		func(e *Event) { e.ValueDecoded = &Decoded{Fail: FailUnknownSchema, Schema: SchemaRef{ID: 99}} },
		func(e *Event) { e.ValueDecoded = &Decoded{} },
		func(e *Event) { e.ValueDecoded.Fail = FailInvalid; e.ValueDecoded.Schema.Format = "json" },
		func(e *Event) { e.ValueDecoded.JSON = []byte(`"just a string"`) },
		func(e *Event) { e.ValueDecoded.JSON = []byte(`[{"x":"a,b}"},"\"}"]`) },
		func(e *Event) { e.Value = []byte(`{"plain":"text"}`) },
		func(e *Event) { e.Value = nil },
	} {
		e := decodedEvent()
		mod(e)
		line := AppendEnvelope(nil, e)
		got := roundTrip(t, e)
		if !bytes.Equal(got.Value, e.Value) || !bytes.Equal(got.Key, e.Key) {
			t.Fatalf("bytes changed: %q", line)
		}
		if !checkScan(t, line) {
			t.Fatalf("the fast path refused eddy's own line %q", line)
		}
		var d Decoder
		de, err := d.Decode(line)
		if err != nil || !Equal(de, e) {
			t.Fatalf("Decoder.Decode(%q) = %#v, %v", line, de, err)
		}
	}
}

// TestEnvelopeDecodedTerminalSafe: decoded strings can hold anything the
// producer wrote; the envelope escapes them as it does the bytes.
func TestEnvelopeDecodedTerminalSafe(t *testing.T) {
	hostile := "a\x1b[31m\u009b31m\u202e\u2028z\x7f"
	js, _ := json.Marshal(map[string]string{"s": hostile})
	e := decodedEvent()
	e.ValueDecoded.JSON = js
	e.ValueDecoded.Schema.Subject = hostile
	line := AppendEnvelope(nil, e)
	for _, bad := range []byte{0x1b, 0x9b, 0x7f} {
		if bytes.IndexByte(line, bad) >= 0 {
			t.Fatalf("byte %#x in output: %q", bad, line)
		}
	}
	for _, r := range []string{"\u202e", "\u2028", "\u009b"} {
		if bytes.Contains(line, []byte(r)) {
			t.Fatalf("%q in output", r)
		}
	}
	got, err := DecodeEnvelope(line)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(got.ValueDecoded.JSON, &m); err != nil || m["s"] != hostile {
		t.Fatalf("decoded string %q (%v), want %q", m["s"], err, hostile)
	}
}

func TestEnvelopeDecodedInvalidJSONLeftOut(t *testing.T) {
	e := decodedEvent()
	e.ValueDecoded.JSON = []byte(`{"cut":`)
	line := AppendEnvelope(nil, e)
	if !json.Valid(line) || bytes.Contains(line, []byte("value_decoded")) {
		t.Fatalf("line %s", line)
	}
}

func TestDecodeEnvelopeDecodedErrors(t *testing.T) {
	for _, line := range []string{
		`{"v":1,"transport":"kafka","value":"x","value_schema":"avro"}`,
		`{"v":1,"transport":"kafka","value":"x","value_schema":{"id":"3"}}`,
		`{"v":1,"transport":"kafka","value":"x","value_schema":{"version":1.5}}`,
		`{"v":1,"transport":"kafka","value":"x","value_decoded":{"a":}}`,
	} {
		if _, err := DecodeEnvelope([]byte(line)); err == nil {
			t.Errorf("DecodeEnvelope(%s) accepted it", line)
		}
		var d Decoder
		if _, err := d.Decode([]byte(line)); err == nil {
			t.Errorf("Decoder.Decode(%s) accepted it", line)
		}
	}
}

// TestExtractReadsDecoded: the ids of an Avro record are in its decoded
// JSON, nested too; the bytes are never looked at when there is JSON.
func TestExtractReadsDecoded(t *testing.T) {
	s := &Schema{ID: []string{"json:meta.event_id"}, Correlation: []string{"json:meta.correlation_id"},
		OccurredAt: []string{"json:meta.occurred_at"}}
	e := decodedEvent()
	want := Fields{ID: "e-1", Correlation: "o-1", OccurredAt: time.Date(2026, 11, 23, 10, 0, 0, 250e6, time.UTC), OccurredAtFrom: "json:meta.occurred_at"}
	if f := s.Extract(e); f != want {
		t.Fatalf("Extract %+v, want %+v", f, want)
	}
	if f := s.ExtractAliased(e); f != want {
		t.Fatalf("ExtractAliased %+v, want %+v", f, want)
	}
	// Top level, through the one-pass scan of the default schema.
	e.ValueDecoded.JSON = []byte(`{"event_id":"e-2","correlationId":"o-2","type":"OrderPlaced"}`)
	if f := DefaultSchema().Extract(e); f.ID != "e-2" || f.Correlation != "o-2" || f.Type != "OrderPlaced" {
		t.Fatalf("default schema: %+v", f)
	}
	// A failure without JSON: the bytes are what there is.
	e.Value = []byte(`{"event_id":"raw"}`)
	e.ValueDecoded = &Decoded{Fail: FailTruncated}
	if f := DefaultSchema().Extract(e); f.ID != "raw" {
		t.Fatalf("failed decoding: %+v", f)
	}
}

// TestDecodeFieldsReadsDecoded: the trace's fast capture path finds the ids
// in value_decoded, for canonical lines and the general scan alike.
func TestDecodeFieldsReadsDecoded(t *testing.T) {
	s := &Schema{ID: []string{"json:meta.event_id"}, Correlation: []string{"json:meta.correlation_id"}}
	for _, e := range []*Event{decodedEvent(), func() *Event {
		e := decodedEvent()
		e.Value = []byte(`{"meta":{"event_id":"wrong","correlation_id":"wrong"}}`) // JSON bytes: the lazy path
		return e
	}()} {
		line := AppendEnvelope(nil, e)
		var d Decoder
		if !d.canonical(line, true) {
			t.Fatalf("canonical refused %s", line)
		}
		for _, canon := range []bool{true, false} {
			noCanonical = !canon
			_, f, err := d.DecodeFields(line, s)
			noCanonical = false
			if err != nil || f.ID != "e-1" || f.Correlation != "o-1" {
				t.Fatalf("DecodeFields(%s) = %+v, %v", line, f, err)
			}
		}
		compareFields(t, line)
	}
}

// TestDecoderAgreesDecodedRandom: lines with decoded members, hostile
// JSON strings among them, decode alike on every path.
func TestDecoderAgreesDecodedRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	parts := []string{"a", " ", `"`, `\`, "\n", "\x1b", "é", "\u2028", "\u202e", "\u0085", "{", "}", ",", "]"}
	text := func() string {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		return b.String()
	}
	var d Decoder
	for i := range 2000 {
		e := randomEvent(r, i)
		v := map[string]any{"event_id": text(), "n": r.IntN(1000), "nested": map[string]any{"l": []any{text(), nil, true}}}
		js, _ := json.MarshalIndent(v, "", " ")
		e.ValueDecoded = &Decoded{JSON: js, Schema: SchemaRef{Format: "avro", ID: r.IntN(5), Subject: text(), Version: r.IntN(3)}}
		if i%3 == 0 {
			e.KeyDecoded = &Decoded{JSON: []byte(`"` + "k" + `"`), Fail: []string{"", FailInvalid}[r.IntN(2)]}
		}
		if i%4 == 1 {
			e.ValueDecoded = &Decoded{Fail: FailRegistry}
		}
		line := AppendEnvelope(nil, e)
		if !checkScan(t, line) && e.Transport == Kafka {
			t.Fatalf("fast path refused eddy's own line %q", line)
		}
		got, err := d.Decode(line)
		if err != nil || !Equal(got, e) {
			t.Fatalf("Decode(%q) = %#v, %v; want %#v", line, got, err, e)
		}
	}
}

// FuzzEnvelopeDecoded: any valid JSON a decoder gives comes back through
// the envelope (up to whitespace), the line valid JSON without a byte a
// terminal acts on.
func FuzzEnvelopeDecoded(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x\u001b"],"b":null}`), "orders-value")
	f.Add([]byte("{ \"s\" : \"\u009b\u202e\" }"), "\x1b")
	f.Add([]byte(`"str"`), "")
	f.Fuzz(func(t *testing.T, js []byte, subject string) {
		if !json.Valid(js) || !utf8Valid(subject) {
			return
		}
		e := decodedEvent()
		e.ValueDecoded = &Decoded{JSON: js, Schema: SchemaRef{Format: "json", Subject: subject}}
		line := AppendEnvelope(nil, e)
		if bytes.ContainsAny(line, "\x1b\x7f\u009b\u202e\u2028\n") {
			t.Fatalf("unsafe line %q", line)
		}
		roundTrip(t, e)
		checkScan(t, line)
	})
}
