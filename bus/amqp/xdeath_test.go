package amqp_test

import (
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/event"
)

// TestXDeath: a message the broker really dead-lettered carries x-death as a
// typed array of tables, which survives the envelope and a publish back
// through the sink without a bit changed.
func TestXDeath(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	tp.Publish(t, amqp091.Publishing{Body: []byte(`{"order":1}`), MessageId: "o-1", Headers: amqp091.Table{"tenant": "acme"}})

	tp.Reject(t, 1)

	c := newClient(t, url)
	got := readAll(t, open(t, c, tp.DLQ, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}}))
	if len(got) != 1 {
		t.Fatalf("%d events in the DLQ", len(got))
	}
	dead := got[0]
	if dead.Queue != tp.DLQ || dead.Exchange != tp.DLX || dead.RoutingKey != tp.Key {
		t.Fatalf("dead-lettered event origin: queue %q exchange %q key %q", dead.Queue, dead.Exchange, dead.RoutingKey)
	}
	var xdeath *event.Header
	for i := range dead.Headers {
		if dead.Headers[i].Key == "x-death" {
			xdeath = &dead.Headers[i]
		}
	}
	if xdeath == nil {
		t.Fatalf("no x-death header: %+v", dead.Headers)
	}
	arr, ok := xdeath.Typed.([]any)
	if !ok || len(arr) != 1 {
		t.Fatalf("x-death is %T %#v, want an array of one table", xdeath.Typed, xdeath.Typed)
	}
	death, ok := arr[0].(map[string]any)
	if !ok {
		t.Fatalf("x-death[0] is %T", arr[0])
	}
	keys, _ := death["routing-keys"].([]any)
	when, _ := death["time"].(time.Time)
	if death["count"] != int64(1) || death["reason"] != "rejected" || death["queue"] != tp.Queue || death["exchange"] != tp.Exchange ||
		len(keys) != 1 || keys[0] != tp.Key || when.Before(before) || when.After(time.Now().Add(time.Second)) {
		t.Fatalf("x-death[0] = %#v", death)
	}
	for _, k := range []string{"x-first-death-queue", "x-first-death-reason", "x-first-death-exchange"} {
		if v, ok := dead.Header(k); !ok || len(v) == 0 {
			t.Errorf("no %s header", k)
		}
	}

	// Through the envelope: identical.
	line := event.AppendEnvelope(nil, &dead)
	back, err := event.DecodeEnvelope(line)
	if err != nil {
		t.Fatal(err)
	}
	if !event.Equal(&dead, back) {
		t.Fatalf("the envelope changed the event\nin:  %#v\nout: %#v\n%s", dead, *back, line)
	}

	// Published back (as a redrive would) and read again: identical headers.
	again := amqptest.Topology(t, url)
	sink, err := c.Sink(bus.Address{Transport: "amqp", Exchange: again.Exchange, RoutingKey: again.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.Write(ctxT(t), []event.Event{*back}); err != nil {
		t.Fatal(err)
	}
	got = readAll(t, open(t, c, again.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}}))
	if len(got) != 1 {
		t.Fatalf("%d events after the publish", len(got))
	}
	if !event.HeadersEqual(dead.Headers, got[0].Headers) || string(got[0].Value) != string(dead.Value) ||
		*got[0].Properties != *dead.Properties {
		t.Fatalf("publishing changed the message\nbefore %#v\nafter  %#v", dead.Headers, got[0].Headers)
	}
}
