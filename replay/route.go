package replay

import (
	"context"
	"errors"
	"sync"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
)

// RouteFunc names the target of one event and returns the event as it is
// written there (a redrive rewrites headers, topic, exchange or routing key).
type RouteFunc func(e *event.Event) (target string, out event.Event, err error)

// Router is a bus.Sink that sends each event to its own target, through a
// sink per target opened on first use. Write keeps bus.Sink's contract for
// Run: the events are written in order, run by run of one target, so a failed
// write confirms exactly the events before it (*bus.WriteError), and events a
// RabbitMQ target refused one by one are named by their index in the whole
// batch (*amqp.PublishError), the others going on.
type Router struct {
	route RouteFunc
	open  func(target string) (bus.Sink, error)

	mu    sync.Mutex
	sinks map[string]bus.Sink
	order []string
	count map[string]int64
}

// NewRouter returns a routing sink: route names each event's target, open
// opens the sink of a target.
func NewRouter(route RouteFunc, open func(target string) (bus.Sink, error)) *Router {
	return &Router{route: route, open: open, sinks: map[string]bus.Sink{}, count: map[string]int64{}}
}

// Write implements bus.Sink.
func (r *Router) Write(ctx context.Context, evs []event.Event) error {
	targets := make([]string, len(evs))
	outs := make([]event.Event, len(evs))
	for i := range evs {
		t, out, err := r.route(&evs[i])
		if err != nil {
			return &bus.WriteError{Written: i, Err: err}
		}
		targets[i], outs[i] = t, out
	}
	var refused *amqp.PublishError
	for start := 0; start < len(evs); {
		end := start + 1
		for end < len(evs) && targets[end] == targets[start] {
			end++
		}
		s, err := r.sink(targets[start])
		if err != nil {
			return &bus.WriteError{Written: start, Err: err}
		}
		err = s.Write(ctx, outs[start:end])
		var pe *amqp.PublishError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			// Refused one by one: the rest of the run is written.
			if refused == nil {
				refused = &amqp.PublishError{Exchange: pe.Exchange, Total: len(evs)}
			}
			for _, f := range pe.Failed {
				f.Index += start
				refused.Failed = append(refused.Failed, f)
			}
		default:
			var we *bus.WriteError
			n := 0
			if errors.As(err, &we) {
				n = max(we.Written, 0)
			}
			r.add(targets[start], int64(n))
			return &bus.WriteError{Written: start + n, Err: err}
		}
		ok := int64(end - start)
		if pe != nil {
			ok -= int64(len(pe.Failed))
		}
		r.add(targets[start], ok)
		start = end
	}
	if refused != nil {
		return refused
	}
	return nil
}

// Publish implements Pipeliner: each run of one target is published to its
// sink (in flight when that sink pipelines), and the Pending's Wait settles
// them in order as Write does.
func (r *Router) Publish(ctx context.Context, evs []event.Event) Pending {
	targets := make([]string, len(evs))
	outs := make([]event.Event, len(evs))
	for i := range evs {
		t, out, err := r.route(&evs[i])
		if err != nil {
			return donePending{&bus.WriteError{Written: i, Err: err}}
		}
		targets[i], outs[i] = t, out
	}
	rp := &routerPending{r: r, n: len(evs)}
	for start := 0; start < len(evs); {
		end := start + 1
		for end < len(evs) && targets[end] == targets[start] {
			end++
		}
		pt := routerPart{start: start, end: end, target: targets[start]}
		s, err := r.sink(targets[start])
		if err != nil {
			pt.pending = donePending{err}
			pt.open = true
			rp.parts = append(rp.parts, pt)
			break
		}
		pt.pending = publish(ctx, s, outs[start:end])
		rp.parts = append(rp.parts, pt)
		var pe *amqp.PublishError
		if d, ok := pt.pending.(donePending); ok && d.err != nil && !errors.As(d.err, &pe) {
			break // written at once, and failed: as Write, nothing after it
		}
		start = end
	}
	return rp
}

type routerPart struct {
	start, end int
	target     string
	pending    Pending
	open       bool // the sink failed to open: nothing was written
}

type routerPending struct {
	r     *Router
	n     int
	parts []routerPart
}

func (rp *routerPending) Wait(ctx context.Context) error {
	var refused *amqp.PublishError
	for _, pt := range rp.parts {
		err := pt.pending.Wait(ctx)
		if pt.open {
			return &bus.WriteError{Written: pt.start, Err: err}
		}
		var pe *amqp.PublishError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			if refused == nil {
				refused = &amqp.PublishError{Exchange: pe.Exchange, Total: rp.n}
			}
			for _, f := range pe.Failed {
				f.Index += pt.start
				refused.Failed = append(refused.Failed, f)
			}
		default:
			var we *bus.WriteError
			n := 0
			if errors.As(err, &we) {
				n = max(we.Written, 0)
			}
			rp.r.add(pt.target, int64(n))
			return &bus.WriteError{Written: pt.start + n, Err: err}
		}
		ok := int64(pt.end - pt.start)
		if pe != nil {
			ok -= int64(len(pe.Failed))
		}
		rp.r.add(pt.target, ok)
	}
	if refused != nil {
		return refused
	}
	return nil
}

func (r *Router) add(target string, n int64) {
	r.mu.Lock()
	r.count[target] += n
	r.mu.Unlock()
}

func (r *Router) sink(target string) (bus.Sink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sinks[target]; ok {
		return s, nil
	}
	s, err := r.open(target)
	if err != nil {
		return nil, err
	}
	r.sinks[target] = s
	r.order = append(r.order, target)
	return s, nil
}

// Counts returns how many events each target confirmed, in the order the
// targets were first written to.
func (r *Router) Counts() []TargetCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TargetCount, 0, len(r.order))
	for _, t := range r.order {
		out = append(out, TargetCount{Target: t, Count: r.count[t]})
	}
	return out
}

// Close closes every sink opened, and returns the first error.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for _, t := range r.order {
		if err := r.sinks[t].Close(); err != nil && first == nil {
			first = err
		}
	}
	r.sinks = map[string]bus.Sink{}
	return first
}
