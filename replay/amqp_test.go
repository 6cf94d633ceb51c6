package replay_test

import (
	"errors"
	"fmt"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// TestUnroutableIsNotSuccess, on the real RabbitMQ: events whose routing key
// matches no binding are returned (mandatory), so they are not Completed in
// the ledger, the run ends with a RejectedError naming them, and a rerun
// after the binding exists moves exactly them.
func TestUnroutableIsNotSuccess(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	var evs []event.Event
	for i := range 6 {
		key := tp.Key
		if i%2 == 1 {
			key = "nowhere"
		}
		evs = append(evs, event.Event{Transport: event.AMQP, Queue: "dlq", Offset: -1, RoutingKey: key,
			Properties: &event.Properties{MessageID: fmt.Sprintf("m%d", i)}, Value: fmt.Appendf(nil, "m%d", i)})
	}
	path := writeCapture(t, evs)
	l, _ := openLedger(t)
	c, err := amqp.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sink := func() bus.Sink {
		s, err := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	sum, err := replay.Run(ctxT(t), openCapture(t, path), sink(), replay.Options{Job: "u", Ledger: l})
	var re *replay.RejectedError
	if !errors.As(err, &re) || len(re.Rejected) != 3 || !re.Rejected[0].Unroutable || sum.Moved != 3 || sum.Failed != 3 {
		t.Fatalf("run: %+v, %v; want 3 moved and 3 unroutable", sum, err)
	}
	if re.Rejected[0].ID != "amqp:dlq/m1" {
		t.Fatalf("first rejected: %+v", re.Rejected[0])
	}
	if n := amqptest.Depth(t, url, tp.Queue); n != 3 {
		t.Fatalf("queue holds %d, want 3", n)
	}
	counts, _ := l.Counts("u")
	if counts[replay.Completed] != 3 || counts[replay.InProgress] != 3 {
		t.Fatalf("ledger: %v", counts)
	}

	// Bind the missing key; the rerun moves exactly the three.
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(tp.Queue, "nowhere", tp.Exchange, false, amqp091.Table{}); err != nil {
		t.Fatal(err)
	}
	sum, err = replay.Run(ctxT(t), openCapture(t, path), sink(), replay.Options{Job: "u", Ledger: l})
	if err != nil || sum.Moved != 3 || sum.Skipped != 3 || sum.Retried != 3 {
		t.Fatalf("rerun: %+v, %v", sum, err)
	}
	amqptest.Eventually(t, 10e9, "6 messages in the queue", func() bool { return amqptest.Depth(t, url, tp.Queue) == 6 })
}
