package trace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// nestedSchema finds the ids where an Avro or Protobuf envelope record
// keeps them: under meta.
func nestedSchema() *event.Schema {
	return &event.Schema{ID: []string{"json:meta.event_id"}, Type: []string{"json:meta.type"},
		Correlation: []string{"json:meta.correlation_id"}, Causation: []string{"json:meta.causation_id"},
		OccurredAt: []string{"json:meta.occurred_at"}}
}

// decodedEv is ev with its ids only in the decoded JSON: the bytes are
// binary (as Confluent-framed Avro is), the JSON nested under meta when
// nested, else at the top as the default schema looks for them.
func decodedEv(topic string, off int64, id, typ, corr, cause string, at time.Duration, nested bool) event.Event {
	fields := fmt.Sprintf(`"event_id":%q,"type":%q,"correlation_id":%q,"causation_id":%q,"occurred_at":%q`,
		id, typ, corr, cause, t0.Add(at).Format(time.RFC3339Nano))
	js := "{" + fields + `,"total":1}`
	if nested {
		js = `{"meta":{` + fields + `},"total":1}`
	}
	return event.Event{Transport: event.Kafka, Topic: topic, Offset: off, Timestamp: t0.Add(at + time.Hour),
		Key:   []byte{0, 0, 0, 0, 1, 0xff},
		Value: []byte{0, 0, 0, 0, 3, 0x80, 0xff, byte(off)},
		ValueDecoded: &event.Decoded{JSON: []byte(js),
			Schema: event.SchemaRef{Format: "avro", ID: 3, Subject: topic + "-value", Version: 1}}}
}

func decodedFlowEvents(nested bool) []event.Event {
	var evs []event.Event
	for i := range 20 {
		corr := fmt.Sprintf("o-%d", i)
		evs = append(evs,
			decodedEv("orders", int64(3*i), "p-"+corr, "OrderPlaced", corr, "", time.Duration(i)*time.Second, nested),
			decodedEv("payments", int64(3*i+1), "a-"+corr, "PaymentAuthorized", corr, "p-"+corr, time.Duration(i)*time.Second+50*time.Millisecond, nested),
			decodedEv("shipping", int64(3*i+2), "s-"+corr, "Shipped", corr, "a-"+corr, time.Duration(i)*time.Second+120*time.Millisecond, nested))
	}
	return evs
}

// checkDecodedFlows: each order is one flow keyed by its correlation id,
// its steps' ids, types, causes and event times from the decoded JSON.
func checkDecodedFlows(t *testing.T, flows []*Flow) {
	t.Helper()
	if len(flows) != 20 {
		t.Fatalf("%d flows, want 20:\n%s", len(flows), flowsDigest(flows))
	}
	for _, f := range flows {
		if f.KeyKind != ByCorrelation || len(f.Steps) != 3 {
			t.Fatalf("flow %s (%v) with %d steps:\n%s", f.Key, f.KeyKind, len(f.Steps), flowsDigest([]*Flow{f}))
		}
		s := f.Steps
		if s[0].ID != "p-"+f.Key || s[1].Causation != s[0].ID || s[2].Type != "Shipped" || s[2].Causation != s[1].ID {
			t.Fatalf("flow %s:\n%s", f.Key, flowsDigest([]*Flow{f}))
		}
		if s[0].TimeSource != "json:occurred_at" && s[0].TimeSource != "json:meta.occurred_at" || s[0].At.Equal(s[0].Timestamp) {
			t.Fatalf("flow %s: event time from %q (%v), want the decoded occurred_at", f.Key, s[0].TimeSource, s[0].At)
		}
	}
}

// TestCorrelatorDecoded: events whose ids are only in their decoded JSON
// (top level or nested) correlate as JSON events do.
func TestCorrelatorDecoded(t *testing.T) {
	for _, nested := range []bool{false, true} {
		cfg := Config{Clock: func() time.Time { return t0 }}
		if nested {
			cfg.Schema = nestedSchema()
		}
		var got []*Flow
		cfg.OnFlow = collect(&got)
		c := NewCorrelator(cfg)
		for _, e := range decodedFlowEvents(nested) {
			c.Add(&e)
		}
		c.Flush()
		checkDecodedFlows(t, got)
	}
}

// TestReadCaptureDecoded: a capture of decoded events (value_b64 and
// value_decoded) gives, through the parallel fast path, the flows Add
// gives on the events it holds; and eddy trace (Find) finds an order in it.
func TestReadCaptureDecoded(t *testing.T) {
	for _, nested := range []bool{false, true} {
		var schema *event.Schema
		if nested {
			schema = nestedSchema()
		}
		var data []byte
		for _, e := range decodedFlowEvents(nested) {
			data = append(event.AppendEnvelope(data, &e), '\n')
		}
		if !bytes.Contains(data, []byte(`"value_b64":`)) || !bytes.Contains(data, []byte(`"value_decoded":{`)) {
			t.Fatalf("capture %s", data[:300])
		}
		clock := func() time.Time { return t0 }
		for _, workers := range []int{1, 3} {
			var got []*Flow
			c := NewCorrelator(Config{Schema: schema, Clock: clock, OnFlow: collect(&got)})
			if _, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{Workers: workers}); err != nil {
				t.Fatal(err)
			}
			c.Flush()
			checkDecodedFlows(t, got)
		}

		path := filepath.Join(t.TempDir(), "capture.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		flows, _, err := Find(context.Background(), Input{Captures: []*os.File{f}}, Config{Schema: schema, Clock: clock}, "a-o-7")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) != 1 || flows[0].Key != "o-7" || len(flows[0].Steps) != 3 {
			t.Fatalf("Find(a-o-7) in a decoded capture: %s", flowsDigest(flows))
		}
	}
}
