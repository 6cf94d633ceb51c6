package amqp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/event"
)

// everyType is one header of each AMQP field type amqp091 decodes, nested too.
func everyType() amqp091.Table {
	when := time.Unix(1700000000, 0)
	return amqp091.Table{
		"str": "text", "bytes": []byte{0, 1, 0xff}, "bool": true,
		"i8": int8(-8), "u8": uint8(200), "i16": int16(-1600), "u16": uint16(65000),
		"i32": int32(-320000), "u32": uint32(4000000000), "i64": int64(-1) << 40,
		"f32": float32(1.5), "f64": math.Pi, "dec": amqp091.Decimal{Scale: 2, Value: -12345},
		"time": when, "void": nil,
		"x-death": []any{amqp091.Table{
			"count": int64(2), "reason": "rejected", "queue": "orders", "exchange": "shop",
			"routing-keys": []any{"order.placed"}, "time": when,
		}},
		"nested": amqp091.Table{"t": amqp091.Table{"a": []any{int32(1), "two", nil, []byte("b")}}},
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	in := everyType()
	hs := headersFrom(in)
	for i := 1; i < len(hs); i++ {
		if hs[i-1].Key >= hs[i].Key {
			t.Fatalf("headers not sorted by key: %q before %q", hs[i-1].Key, hs[i].Key)
		}
	}
	byKey := map[string]event.Header{}
	for _, h := range hs {
		byKey[h.Key] = h
	}
	if h := byKey["str"]; h.Typed != nil || string(h.Value) != "text" {
		t.Errorf("string header = %+v, want plain bytes", h)
	}
	if h := byKey["bytes"]; string(h.Typed.([]byte)) != "\x00\x01\xff" || string(h.Value) != "\x00\x01\xff" {
		t.Errorf("bytes header = %+v", h)
	}
	if h := byKey["void"]; h.Typed != (event.Void{}) {
		t.Errorf("void header = %+v", h)
	}
	if h := byKey["dec"]; h.Typed != (event.Decimal{Scale: 2, Value: -12345}) || string(h.Value) != "-123.45" {
		t.Errorf("decimal header = %+v", h)
	}
	if h := byKey["time"]; h.Typed.(time.Time).Location() != time.UTC {
		t.Errorf("timestamp not UTC: %v", h.Typed)
	}
	death, ok := byKey["x-death"].Typed.([]any)
	if !ok || len(death) != 1 {
		t.Fatalf("x-death = %#v, want []any of one table", byKey["x-death"].Typed)
	}
	if m, ok := death[0].(map[string]any); !ok || m["count"] != int64(2) || m["routing-keys"].([]any)[0] != "order.placed" {
		t.Fatalf("x-death[0] = %#v", death[0])
	}
	if !strings.Contains(string(byKey["x-death"].Value), `"reason":"rejected"`) {
		t.Errorf("x-death text = %s", byKey["x-death"].Value)
	}

	// Back to a table, and through the envelope: nothing changes.
	back := headersFrom(tableFrom(hs))
	if !event.HeadersEqual(hs, back) {
		t.Fatalf("table round trip changed headers\nin:  %#v\nout: %#v", hs, back)
	}
	e := &event.Event{Transport: event.AMQP, Queue: "q", Offset: -1, Headers: hs, Value: []byte{}}
	got, err := event.DecodeEnvelope(event.AppendEnvelope(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	if !event.HeadersEqual(hs, got.Headers) {
		t.Fatalf("envelope changed headers\nin:  %#v\nout: %#v", hs, got.Headers)
	}
	if err := tableFrom(got.Headers).Validate(); err != nil {
		t.Fatalf("decoded headers are not publishable: %v", err)
	}
}

func TestTableFromPlainHeaders(t *testing.T) {
	tb := tableFrom([]event.Header{
		{Key: "a", Value: []byte("1")}, {Key: "bin", Value: []byte{0xff, 0}}, {Key: "null", Value: nil},
		{Key: "dup", Value: []byte("first")}, {Key: "dup", Value: []byte("last")},
	})
	want := amqp091.Table{"a": "1", "bin": "\xff\x00", "null": nil, "dup": "last"}
	if len(tb) != len(want) {
		t.Fatalf("table = %#v", tb)
	}
	for k, v := range want {
		if tb[k] != v {
			t.Errorf("%s = %#v, want %#v", k, tb[k], v)
		}
	}
}

func TestPublishingMapping(t *testing.T) {
	ts := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	k := &event.Event{Transport: event.Kafka, Timestamp: ts, Key: []byte("k"), Value: nil}
	p := publishing(k, "guest")
	if p.DeliveryMode != amqp091.Persistent || !p.Timestamp.Equal(ts) || p.Body == nil || len(p.Body) != 0 {
		t.Errorf("from Kafka: %+v", p)
	}
	a := &event.Event{Transport: event.AMQP, Timestamp: ts, Value: []byte("v"),
		Properties: &event.Properties{MessageID: "m", UserID: "someone-else", DeliveryMode: 1}}
	p = publishing(a, "guest")
	if !p.Timestamp.IsZero() || p.UserId != "" || p.MessageId != "m" || p.DeliveryMode != 1 {
		t.Errorf("from AMQP: %+v (receive time must not become a timestamp property; a foreign user_id is dropped)", p)
	}
	a.Properties.UserID = "guest"
	if p = publishing(a, "guest"); p.UserId != "guest" {
		t.Errorf("own user_id dropped: %+v", p)
	}
}

func TestFromDeliveryStreamOffset(t *testing.T) {
	d := &amqp091.Delivery{Headers: amqp091.Table{"x-stream-offset": int64(42), "h": "v"}, Body: nil}
	e := fromDelivery(d, "s", time.Now())
	if e.Offset != 42 || len(e.Headers) != 1 || e.Headers[0].Key != "h" || e.Value == nil || e.Properties != nil {
		t.Fatalf("event = %+v", e)
	}
	if _, ok := d.Headers["x-stream-offset"]; !ok {
		t.Fatal("fromDelivery modified the delivery's table")
	}
}

func TestFromTrace(t *testing.T) {
	d := &amqp091.Delivery{
		Headers: amqp091.Table{
			"exchange_name": "", "routing_keys": []any{"orders"}, "routed_queues": []any{"orders", "audit"},
			"properties": amqp091.Table{"message_id": "m1", "delivery_mode": int32(2), "timestamp": int32(1700000000),
				"headers": amqp091.Table{"tenant": "acme", "n": int32(5)}},
		},
		Body: []byte("body"),
	}
	if !tracedTo(d, "orders") || !tracedTo(d, "audit") || tracedTo(d, "other") {
		t.Fatal("tracedTo does not follow routed_queues")
	}
	e := fromTrace(d, "orders", time.Now())
	if e.Queue != "orders" || e.Exchange != "" || e.RoutingKey != "orders" || string(e.Value) != "body" ||
		e.Properties == nil || e.Properties.MessageID != "m1" || e.Properties.DeliveryMode != 2 ||
		!e.Timestamp.Equal(time.Unix(1700000000, 0)) || len(e.Headers) != 2 || e.Headers[0].Typed != int32(5) {
		t.Fatalf("event = %+v, props %+v", e, e.Properties)
	}
	old := &amqp091.Delivery{Headers: amqp091.Table{"exchange_name": "", "routing_keys": []any{"orders"}}}
	if !tracedTo(old, "orders") || tracedTo(old, "x") {
		t.Fatal("without routed_queues, default-exchange publishes should be recognised by routing key")
	}
}

func TestTableFromJSON(t *testing.T) {
	var args jsonObject
	if err := json.Unmarshal([]byte(`{"x-match":"all","n":5,"big":1099511627776,"f":1.5,"ok":true,"l":[1,"a"]}`), &args); err != nil {
		t.Fatal(err)
	}
	tb := tableFromJSON(args)
	if tb["x-match"] != "all" || tb["n"] != int64(5) || tb["big"] != int64(1)<<40 || tb["f"] != 1.5 || tb["ok"] != true {
		t.Fatalf("table = %#v", tb)
	}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	var empty jsonObject
	if err := json.Unmarshal([]byte(`[]`), &empty); err != nil || empty != nil {
		t.Fatalf("[] = %v, %v", empty, err)
	}
}
