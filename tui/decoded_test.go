package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// avroOrder is an order whose bytes are Confluent-framed Avro and whose
// ids are only in the decoded JSON, one of them nested.
func avroOrder(i int) event.Event {
	return event.Event{Transport: event.Kafka, Topic: "orders", Partition: 0, Offset: int64(i), Timestamp: t0.Add(time.Duration(i) * time.Second),
		Key:        []byte{0, 0, 0, 0, 1, 6, 'o', '-', '1'},
		KeyDecoded: &event.Decoded{JSON: []byte(`"ord-1"`), Schema: event.SchemaRef{Format: "avro", ID: 1, Subject: "orders-key", Version: 1}},
		Value:      []byte{0, 0, 0, 0, 3, 0x0e, 'e', 'v', 't', 0x9b, 0x1b},
		ValueDecoded: &event.Decoded{
			JSON:   []byte(`{"event_id":"evt-0007","type":"OrderPlaced","meta":{"correlation_id":"ord-1"},"total":42.5,"note":"a\u001b[2Jb"}`),
			Schema: event.SchemaRef{Format: "avro", ID: 3, Subject: "orders-value", Version: 3, Message: "shop.Order"}},
	}
}

func undecodedOrder(i int) event.Event {
	e := avroOrder(i)
	e.KeyDecoded = nil
	e.ValueDecoded = &event.Decoded{Fail: event.FailUnknownSchema, Schema: event.SchemaRef{ID: 77}}
	return e
}

// TestGoldenEventDecoded80x24: the decoded tree under its schema marker,
// the key decoded beside its own.
func TestGoldenEventDecoded80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := avroOrder(7)
	m.Update(openEventMsg{&e})
	out := m.render()
	for _, want := range []string{"key         ord-1  [avro orders-key v1]", "id          evt-0007",
		"payload [avro orders-value v3] (11 bytes, decoded to JSON)", `"correlation_id": "ord-1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q on the screen:\n%s", want, out)
		}
	}
	requireScreen(t, m)
}

// TestGoldenEventUndecoded80x24: a payload that did not decode shows its
// bytes, escaped, and why.
func TestGoldenEventUndecoded80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := undecodedOrder(8)
	m.Update(openEventMsg{&e})
	out := m.render()
	if !strings.Contains(out, "payload [unknown-schema: schema id 77] (11 bytes, not decoded; shown escaped)") ||
		!strings.Contains(out, `\x00\x00\x00\x00\x03\x0eevt\x9b\x1b`) {
		t.Errorf("screen:\n%s", out)
	}
	requireScreen(t, m)
}

// TestGoldenTailDecoded80x24: the tail's columns show the decoded payload
// after its marker, as tail's pretty lines do, and the failed one's reason.
func TestGoldenTailDecoded140x12(t *testing.T) {
	m := newTestModel(t, 140, 12)
	openTestTail(t, m, []event.Event{avroOrder(1), undecodedOrder(2), orderEvent(3, "orders", "OrderPlaced")})
	out := m.render()
	for _, want := range []string{`[avro orders-value v3] {"event_id":"evt-0007"`, `[unknown-schema] \x00`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q on the screen:\n%s", want, out)
		}
	}
	requireScreen(t, m)
}
