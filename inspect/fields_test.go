package inspect

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// TestFieldsAreTheLinesParts: the TUI lays Fields out as columns; they must
// be exactly what the pretty line (eddy tail's) shows, hostile bytes
// escaped the same way.
func TestFieldsAreTheLinesParts(t *testing.T) {
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := []event.Event{
		{Transport: event.Kafka, Topic: "orders", Partition: 2, Offset: 42, Timestamp: at, Key: []byte("k\x1b[31mred"),
			Value: []byte(`{"type":"Evil\u001b[31m","event_id":"e-1","note":"tab\there"}`)},
		{Transport: event.Kafka, Topic: "orders", Offset: 1, Timestamp: at, Key: []byte{}, Value: []byte("plain \x1b[2J\x9b31m\nline")},
		{Transport: event.AMQP, Queue: "q", Exchange: "x", RoutingKey: "rk\x1b[0m", Offset: -1, Redelivered: true, Timestamp: at, Value: nil},
		{Transport: event.Kafka, Topic: "t\x1b]0;x\x07", Value: []byte(strings.Repeat("x", 5000))},
		{Transport: event.AMQP, Queue: "q", Offset: 5, Redelivered: true, Timestamp: at, Value: []byte("x")},
		{Transport: event.AMQP, Exchange: "x", RoutingKey: "rk", Offset: -1, Timestamp: at, Value: []byte("x")},
		{Transport: event.AMQP, Queue: "q", Offset: -1, Timestamp: at, Value: []byte("x")},
		// Schema-decoded: the marker and the JSON; a failure's reason and bytes.
		{Transport: event.Kafka, Topic: "orders", Timestamp: at, Key: []byte{0, 0, 0, 0, 1, 2}, Value: []byte{0, 0, 0, 0, 3, 0x9b},
			KeyDecoded:   &event.Decoded{JSON: []byte(`"o-\u001b1"`), Schema: event.SchemaRef{Format: "avro", Subject: "orders-key", Version: 1}},
			ValueDecoded: &event.Decoded{JSON: []byte("{\"event_id\":\"e-9\",\"s\":\"\\u009b\u202e\"}"), Schema: event.SchemaRef{Format: "avro", Subject: "orders-value", Version: 3}}},
		{Transport: event.Kafka, Topic: "orders", Timestamp: at, Key: []byte{0, 9, 0x1b}, Value: []byte{0, 0, 0, 0, 3, 0x9b},
			KeyDecoded:   &event.Decoded{Fail: event.FailTruncated},
			ValueDecoded: &event.Decoded{Fail: event.FailUnknownSchema, Schema: event.SchemaRef{ID: 3}}},
	}
	for _, color := range []bool{false, true} {
		r, err := NewRenderer(PrinterOptions{Local: time.UTC, Color: color})
		if err != nil {
			t.Fatal(err)
		}
		var f LineFields
		for i := range evs {
			r.Fields(&evs[i], &f)
			parts := []string{string(f.Time), string(f.Origin)}
			if len(f.Route) > 0 {
				parts = append(parts, string(f.Route))
			}
			if len(f.Key) > 0 {
				key := "key=" + string(f.Key)
				if color {
					key = sgrDim + "key=" + sgrReset + sgrYellow + string(f.Key) + sgrReset
				}
				parts = append(parts, key)
			}
			if len(f.Type) > 0 {
				typ := string(f.Type)
				if color {
					typ = sgrMagenta + typ + sgrReset
				}
				parts = append(parts, typ)
			}
			if len(f.ID) > 0 {
				id := "id=" + string(f.ID)
				if color {
					id = sgrDim + "id=" + sgrReset + sgrGreen + string(f.ID) + sgrReset
				}
				parts = append(parts, id)
			}
			parts = append(parts, string(f.Payload))
			if got, want := strings.Join(parts, " "), string(r.AppendLine(nil, &evs[i])); got != want {
				t.Errorf("event %d (colour %v): fields\n%q\nline\n%q", i, color, got, want)
			}
			if !color && strings.IndexFunc(strings.Join(parts, ""), func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0xfffd }) >= 0 {
				t.Errorf("event %d: a control byte in the fields: %q", i, parts)
			}
		}
	}
}
