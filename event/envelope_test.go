package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func roundTrip(t *testing.T, e *Event) *Event {
	t.Helper()
	line := AppendEnvelope(nil, e)
	if !json.Valid(line) {
		t.Fatalf("not valid JSON: %s", line)
	}
	got, err := DecodeEnvelope(line)
	if err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	if !Equal(e, got) {
		t.Fatalf("round trip changed the event\nin:  %#v\nout: %#v\nline: %s", e, got, line)
	}
	return got
}

// TestEnvelopeLosslessRandom is the capture format's core promise: any bytes in
// key, value and headers come back exactly, nil distinct from empty.
func TestEnvelopeLosslessRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		e := &Event{Transport: Kafka, Topic: "t", Partition: int32(r.IntN(8)), Offset: r.Int64N(1 << 40),
			Timestamp: time.UnixMilli(r.Int64N(1 << 42)).UTC()}
		switch i % 4 {
		case 0:
			e.Key, e.Value = nil, nil
		case 1:
			e.Key, e.Value = []byte{}, []byte{}
		default:
			e.Key, e.Value = randBytes(r, r.IntN(40)), randBytes(r, r.IntN(300))
		}
		for range r.IntN(4) {
			h := Header{Key: string(randBytes(r, r.IntN(6))), Value: randBytes(r, r.IntN(20))}
			if r.IntN(5) == 0 {
				h.Value = nil
			}
			if !utf8Valid(h.Key) {
				h.Key = "k"
			}
			e.Headers = append(e.Headers, h)
		}
		roundTrip(t, e)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestEnvelopeKeepsHeaderOrderAndDuplicates(t *testing.T) {
	e := &Event{Transport: Kafka, Topic: "t", Headers: []Header{{Key: "b", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "b", Value: []byte("3")}}}
	got := roundTrip(t, e)
	if v, _ := got.Header("b"); string(v) != "3" {
		t.Fatalf("Header(b) = %q, want the last one", v)
	}
}

func TestEnvelopeExactFormat(t *testing.T) {
	e := &Event{Transport: Kafka, Topic: "orders", Partition: 0, Offset: 42,
		Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC), Key: []byte("o-1"),
		Headers: []Header{{Key: "traceparent", Value: []byte("00-x")}}, Value: []byte(`{"order_id":"o-1"}`)}
	want := `{"v":1,"transport":"kafka","topic":"orders","partition":0,"offset":42,"timestamp":"2026-11-23T10:00:00.123Z","key":"o-1","headers":[{"key":"traceparent","value":"00-x"}],"value":"{\"order_id\":\"o-1\"}"}`
	if got := string(AppendEnvelope(nil, e)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	bin := &Event{Transport: Kafka, Topic: "t", Key: []byte{0xff}, Value: []byte{0, 0xfe}}
	if got := string(AppendEnvelope(nil, bin)); !strings.Contains(got, `"key_b64":"/w=="`) || !strings.Contains(got, `"value_b64":"AP4="`) {
		t.Fatalf("binary fields not base64: %s", got)
	}
}

func TestEnvelopeAMQPTypedHeaders(t *testing.T) {
	death := []any{map[string]any{
		"count": int64(2), "reason": "rejected", "queue": "orders", "exchange": "shop",
		"routing-keys": []any{"order.placed"}, "time": time.Unix(1700000000, 0).UTC(),
	}}
	e := &Event{Transport: AMQP, Queue: "orders.dlq", Exchange: "dlx", RoutingKey: "order.placed", Offset: -1, Redelivered: true,
		Timestamp: time.Unix(1700000001, 5).UTC(),
		Headers: []Header{
			{Key: "s", Value: []byte("text")},
			{Key: "x-death", Typed: death, Value: TypedText(death)},
			{Key: "i8", Typed: int8(-3), Value: TypedText(int8(-3))},
			{Key: "u16", Typed: uint16(65000), Value: TypedText(uint16(65000))},
			{Key: "f", Typed: 1.5, Value: TypedText(1.5)},
			{Key: "d", Typed: Decimal{Scale: 2, Value: -12345}, Value: TypedText(Decimal{Scale: 2, Value: -12345})},
			{Key: "bin", Typed: []byte{0, 1, 0xff}, Value: []byte{0, 1, 0xff}},
			{Key: "v", Typed: Void{}, Value: []byte{}},
			{Key: "b", Typed: true, Value: []byte("true")},
		},
		Properties: &Properties{MessageID: "m-1", CorrelationID: "c-1", Type: "OrderPlaced", DeliveryMode: 2, Timestamp: time.Unix(1700000000, 0).UTC()},
		Value:      []byte("{}"),
	}
	got := roundTrip(t, e)
	if v, _ := got.Header("d"); string(v) != "-123.45" {
		t.Fatalf("decimal text = %q", v)
	}
	if v, _ := got.Header("x-death"); !strings.Contains(string(v), `"reason":"rejected"`) {
		t.Fatalf("x-death text = %s", v)
	}
}

// TestEnvelopeTerminalSafe: JSON escapes C0 by itself; C1, bidi and separators are
// escaped by eddy so that printing a capture cannot drive the terminal.
func TestEnvelopeTerminalSafe(t *testing.T) {
	hostile := "a\x1b[31mred\x1b]0;title\x07\u009b31m\u009d8;;x\u202e\u2028z\x7f"
	e := &Event{Transport: Kafka, Topic: hostile, Key: []byte(hostile), Value: []byte(hostile), Headers: []Header{{Key: hostile, Value: []byte(hostile)}}}
	line := AppendEnvelope(nil, e)
	for _, bad := range []byte{0x1b, 0x07, 0x9b, 0x9d, 0x7f} {
		if bytes.IndexByte(line, bad) >= 0 {
			t.Fatalf("byte %#x in output: %q", bad, line)
		}
	}
	for _, r := range []string{"\u202e", "\u2028"} {
		if bytes.Contains(line, []byte(r)) {
			t.Fatalf("%q in output", r)
		}
	}
	roundTrip(t, e)
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`not json`, "not JSON"},
		{`{"transport":"kafka"}`, `no "v"`},
		{`{"v":2,"transport":"kafka"}`, "version 2"},
		{`{"v":1,"transport":"mqtt"}`, "transport"},
		{`{"v":1,"transport":"kafka","timestamp":"yesterday"}`, "timestamp"},
		{`{"v":1,"transport":"kafka","value_b64":"!!"}`, "base64"},
		{`{"v":1,"transport":"kafka","value":"a","value_b64":"AA=="}`, "both"},
		{`{"v":1,"transport":"kafka","key":5}`, "key"},
		{`{"v":1,"transport":"kafka"} {}`, "more than one"},
	} {
		_, err := DecodeEnvelope([]byte(tc.line))
		if err == nil || !errors.Is(err, ErrEnvelope) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeEnvelope(%s) = %v, want error containing %q", tc.line, err, tc.want)
		}
	}
}

func FuzzEnvelope(f *testing.F) {
	f.Add([]byte("k"), []byte("v"), "h", []byte("hv"))
	f.Add([]byte{0xff}, []byte{}, "\x1b", []byte(nil))
	f.Fuzz(func(t *testing.T, k, v []byte, hk string, hv []byte) {
		if !utf8Valid(hk) {
			return
		}
		roundTrip(t, &Event{Transport: Kafka, Topic: "t", Key: k, Value: v, Headers: []Header{{Key: hk, Value: hv}}})
	})
}

func BenchmarkAppendEnvelope(b *testing.B) {
	e := &Event{Transport: Kafka, Topic: "orders", Partition: 3, Offset: 123456, Timestamp: time.Now(), Key: []byte("order-123"),
		Value: bytes.Repeat([]byte(`{"a":"b"}`), 20)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEnvelope(buf[:0], e)
	}
}

// Names (topic, header keys) are strings that may hold invalid UTF-8; they must
// still make valid, terminal-safe JSON.
func TestEnvelopeInvalidUTF8Names(t *testing.T) {
	e := &Event{Transport: Kafka, Topic: "t\x9b31m", Headers: []Header{{Key: "k\xff\x9d", Value: []byte("v")}}}
	line := AppendEnvelope(nil, e)
	if !json.Valid(line) || bytes.IndexByte(line, 0x9b) >= 0 || bytes.IndexByte(line, 0x9d) >= 0 || bytes.IndexByte(line, 0xff) >= 0 {
		t.Fatalf("unsafe or invalid: %q", line)
	}
	got, err := DecodeEnvelope(line)
	if err != nil || got.Topic != "t\uFFFD31m" {
		t.Fatalf("decode: %v %q", err, got.Topic)
	}
}

func TestFormatTimeMatchesLayout(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.FixedZone("x", 3600)),
		time.UnixMilli(1700000000007),
	} {
		want := tm.UTC().Format(timeLayoutMilli)
		if got := FormatTime(tm); got != want {
			t.Errorf("FormatTime(%v) = %s, want %s", tm, got, want)
		}
	}
	if got := FormatTime(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)); got != "2026-01-02T03:04:05.000000006Z" {
		t.Errorf("sub-millisecond time = %s", got)
	}
}

// The fast decoder and the encoding/json one agree on every line the fast one
// accepts.
func TestDecodeFastAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		e := &Event{Transport: Kafka, Topic: "t", Partition: int32(i % 3), Offset: int64(i), Timestamp: time.UnixMilli(int64(i) * 7919).UTC(),
			Key: randBytes(r, r.IntN(10)), Value: randBytes(r, r.IntN(100)), Headers: []Header{{Key: "h", Value: randBytes(r, 5)}, {Key: "n"}}}
		if i%7 == 0 {
			e.Key, e.Value = nil, nil
		}
		line := AppendEnvelope(nil, e)
		fast, ok := decodeFast(line)
		if !ok {
			t.Fatalf("fast path refused %s", line)
		}
		slow, err := decodeEnvelopeJSON(line)
		if err != nil || !Equal(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v (%v)", fast, slow, err)
		}
	}
}

func BenchmarkDecodeEnvelope(b *testing.B) {
	e := &Event{Transport: Kafka, Topic: "orders", Partition: 3, Offset: 123456, Timestamp: time.Now(), Key: []byte("order-123"),
		Headers: []Header{{Key: "ce_id", Value: []byte("evt-1")}, {Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}},
		Value:   []byte(`{"event_id":"evt-00001","type":"OrderPlaced","occurred_at":"2026-11-23T10:00:00.714Z","correlation_id":"o-0001","data":{"order_id":"o-0001","total":12.5}}`)}
	line := AppendEnvelope(nil, e)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeEnvelope(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeEnvelopeJSON(line); err != nil {
				b.Fatal(err)
			}
		}
	})
}
