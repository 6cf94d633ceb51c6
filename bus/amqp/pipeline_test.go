package amqp_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/event"
)

// TestSinkPublishInFlight: batches published back to back, each larger than
// the in-flight window, are settled in order from another goroutine; each
// Wait names exactly its own unroutable messages (returns of one batch
// arrive while the next is published), and every routable message lands.
func TestSinkPublishInFlight(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	s, err := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sink := s.(*amqp.Sink)
	ctx := ctxT(t)
	const batches, size = 3, 1500
	lost := map[int]int{0: 700, 2: 10} // batch -> the index routed nowhere
	var pending []*amqp.Pending
	for b := range batches {
		evs := make([]event.Event, size)
		for i := range evs {
			// Bodies repeat across batches: a return must be matched to
			// the message it is a copy of, in the batch it came from.
			evs[i] = event.Event{Transport: event.AMQP, RoutingKey: tp.Key, Value: []byte(strconv.Itoa(i % 50))}
		}
		if i, ok := lost[b]; ok {
			evs[i].RoutingKey = "nowhere"
		}
		pending = append(pending, sink.Publish(ctx, evs))
	}
	errs := make(chan error, batches)
	go func() {
		for _, p := range pending {
			errs <- p.Wait(ctx)
		}
	}()
	for b := range batches {
		err := <-errs
		i, bad := lost[b]
		if !bad {
			if err != nil {
				t.Fatalf("batch %d: %v", b, err)
			}
			continue
		}
		var we *bus.WriteError
		var pe *amqp.PublishError
		if !errors.As(err, &we) || !errors.As(err, &pe) || we.Written != i || len(pe.Failed) != 1 || pe.Failed[0].Index != i || !pe.Failed[0].Unroutable {
			t.Fatalf("batch %d: %v, want event %d alone unroutable", b, err, i)
		}
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != batches*size-len(lost) {
		t.Fatalf("depth %d, want %d", d, batches*size-len(lost))
	}
}
