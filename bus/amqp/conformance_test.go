package amqp_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/bustest"
	"github.com/eddy-sh/eddy/event"
)

func newClient(t *testing.T, url string, opts ...amqp.Option) *amqp.Client {
	t.Helper()
	c, err := amqp.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expect is what RabbitMQ gives back for a written event: no key (AMQP has
// none), an empty body for a nil value, and the headers sorted by key (AMQP
// tables are unordered).
func expect(w event.Event) event.Event {
	w.Key = nil
	if w.Value == nil {
		w.Value = []byte{}
	}
	w.Headers = slices.Clone(w.Headers)
	slices.SortStableFunc(w.Headers, func(a, b event.Header) int { return strings.Compare(a.Key, b.Key) })
	return w
}

// harness runs the conformance suite on queues fed by a topic exchange: the
// sink publishes to the exchange, the source reads the queue.
func harness(t *testing.T, opts ...amqptest.Option) bustest.Harness {
	url := amqptest.URL(t)
	c := newClient(t, url)
	var mu sync.Mutex
	topos := map[string]*amqptest.Topo{}
	return bustest.Harness{
		NewDest: func(t *testing.T) string {
			tp := amqptest.Topology(t, url, opts...)
			mu.Lock()
			topos[tp.Queue] = tp
			mu.Unlock()
			return tp.Queue
		},
		NewSink: func(t *testing.T, dest string) bus.Sink {
			mu.Lock()
			tp := topos[dest]
			mu.Unlock()
			s, err := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange, RoutingKey: tp.Key})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NewSource: func(t *testing.T, dest string, opts bus.ReadOptions) bus.Source {
			s, err := c.Source(ctxT(t), []bus.Address{{Transport: "amqp", Name: dest}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Expect:   expect,
		Live:     true,
		Snapshot: true,
	}
}

func TestConformanceClassic(t *testing.T) {
	h := harness(t)
	url := amqptest.URL(t)
	h.Depth = func(t *testing.T, dest string) int { return amqptest.Depth(t, url, dest) }
	bustest.Run(t, h)
}

func TestConformanceQuorum(t *testing.T) {
	h := harness(t, amqptest.Quorum())
	url := amqptest.URL(t)
	h.Depth = func(t *testing.T, dest string) int { return amqptest.Depth(t, url, dest) }
	open := h.NewSource
	h.NewSource = func(t *testing.T, dest string, opts bus.ReadOptions) bus.Source {
		return dropHeader{open(t, dest, opts), "x-delivery-count"}
	}
	bustest.Run(t, h)
}

// dropHeader hides a header the broker adds on delivery (a quorum queue's
// x-delivery-count, which a peek raises: TestPeekQuorum checks it), so the
// suite can compare what was written with what was read.
type dropHeader struct {
	bus.Source
	key string
}

func (d dropHeader) Next(ctx context.Context) ([]event.Event, error) {
	evs, err := d.Source.Next(ctx)
	for i := range evs {
		evs[i].Headers = slices.DeleteFunc(evs[i].Headers, func(h event.Header) bool { return h.Key == d.key })
	}
	return evs, err
}

func TestConformanceStream(t *testing.T) {
	h := harness(t, amqptest.Stream())
	h.Offsets = true
	bustest.Run(t, h)
}
