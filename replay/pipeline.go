package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
)

// Pipeliner is a bus.Sink that can have several writes in flight: Publish
// sends a batch and returns before the target confirmed it, and the
// Pending's Wait returns what Write would have returned for that batch.
// Publish is called from one goroutine; Wait from one other, on the Pendings
// in the order they were published. A RabbitMQ sink (*amqp.Sink) is one;
// Router, Traced and the sink RunConsuming wraps are one whatever they wrap
// (a sink that is not one is written synchronously by Publish).
type Pipeliner interface {
	bus.Sink
	Publish(ctx context.Context, evs []event.Event) Pending
}

// Pending is a write in flight (see Pipeliner).
type Pending interface {
	Wait(ctx context.Context) error
}

// asPipeliner returns s as a Pipeliner, when it is one. A sink that wraps
// another only to add to its Close says so with Unwrap() bus.Sink, and the
// sink it wraps is looked at.
func asPipeliner(s bus.Sink) (Pipeliner, bool) {
	switch s := s.(type) {
	case Pipeliner:
		return s, true
	case *amqp.Sink:
		return amqpPipe{s}, true
	case interface{ Unwrap() bus.Sink }:
		return asPipeliner(s.Unwrap())
	}
	return nil, false
}

type amqpPipe struct{ *amqp.Sink }

func (a amqpPipe) Publish(ctx context.Context, evs []event.Event) Pending {
	return a.Sink.Publish(ctx, evs)
}

// publish starts writing evs to s: in flight when s is a Pipeliner, else
// written (synchronously) at once.
func publish(ctx context.Context, s bus.Sink, evs []event.Event) Pending {
	if p, ok := asPipeliner(s); ok {
		return p.Publish(ctx, evs)
	}
	return donePending{s.Write(ctx, evs)}
}

// donePending is a write already settled.
type donePending struct{ err error }

func (d donePending) Wait(context.Context) error { return d.err }

const (
	// pipeChunk bounds the events of one write in flight: acks (and the
	// broker's next deliveries) flow at least this often.
	pipeChunk = 1000
	// pipeDepth bounds the writes in flight, and how many are settled with
	// one ledger transaction (group commit).
	pipeDepth = 8
)

// flight is one write in flight, with what it needs to be settled.
type flight struct {
	prepared
	seq     int64 // numbers the flights in the order they were sent
	pending Pending
	err     error
}

// inFlight tracks the identities written and not yet settled. An identity
// that comes again (two messages of one identity, close together) waits
// for its write in flight to settle before Begin, so that the ledger says
// Completed (skipped) or InProgress (moved again) as in a run one write at
// a time, rather than InProgress while the first copy is still in flight.
type inFlight struct {
	last map[string]int64 // identity -> seq of the last flight writing it (feed only)
	sent int64            // feed only

	mu      sync.Mutex
	cond    sync.Cond
	settled int64 // every flight up to this seq is settled
}

func newInFlight() *inFlight {
	q := &inFlight{last: map[string]int64{}}
	q.cond.L = &q.mu
	return q
}

// waitFor returns once no identity of ids is in flight.
func (q *inFlight) waitFor(ids []string) {
	var need int64
	for _, id := range ids {
		need = max(need, q.last[id])
	}
	q.mu.Lock()
	for q.settled < need {
		q.cond.Wait()
	}
	settled := q.settled
	q.mu.Unlock()
	if len(q.last) > 4*pipeChunk*pipeDepth {
		for id, seq := range q.last {
			if seq <= settled {
				delete(q.last, id)
			}
		}
	}
}

// send numbers f and notes its identities in flight.
func (q *inFlight) send(f *flight) {
	q.sent++
	f.seq = q.sent
	for _, id := range f.ids {
		q.last[id] = f.seq
	}
}

// done notes every flight up to seq settled.
func (q *inFlight) done(seq int64) {
	q.mu.Lock()
	q.settled = seq
	q.cond.Broadcast()
	q.mu.Unlock()
}

// pipelined returns the sink and the source's Acker when the run can keep
// several writes in flight: a source acked explicitly (a RabbitMQ consumer:
// nothing is acked before it is Completed, whatever the order of the
// writes) and a sink that pipelines. A Limit needs each write's outcome
// before the next: it runs one write at a time.
func (r *runner) pipelined() (Pipeliner, Acker, bool) {
	if r.opts.Limit > 0 {
		return nil, nil, false
	}
	a, ok := r.src.(Acker)
	if !ok {
		return nil, nil, false
	}
	p, ok := asPipeliner(r.dst)
	if !ok {
		return nil, nil, false
	}
	return p, a, true
}

var errSettleFailed = errors.New("replay: settling a write failed")

// runPipelined is run with writes in flight while earlier ones are settled:
// this goroutine reads, records InProgress (Begin) and publishes; another
// waits for each write's confirms in order, records the confirmed events
// Completed — the writes settled meanwhile in one ledger transaction — and
// only then acks them. The guarantees are run's: an event is acked only once
// its copy is confirmed and Completed.
func (r *runner) runPipelined(ctx context.Context, dst Pipeliner, a Acker) error {
	// A stop should not cut a write in half: what is in flight gets
	// StopGrace to settle.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(r.opts.StopGrace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	defer stop()

	flights := make(chan *flight, pipeDepth)
	failed := make(chan struct{})
	settled := make(chan error, 1)
	q := newInFlight()
	go func() { settled <- r.settleAll(ctx, wctx, flights, a, failed, q) }()
	err := r.feed(ctx, wctx, dst, flights, failed, q)
	close(flights)
	if serr := <-settled; serr != nil {
		return serr
	}
	if errors.Is(err, errSettleFailed) {
		err = nil // cannot happen: the settler reported it
	}
	return err
}

// feed reads, selects, Begins and publishes until the source ends, ctx is
// done, or the settler failed.
func (r *runner) feed(ctx, wctx context.Context, dst Pipeliner, flights chan<- *flight, failed <-chan struct{}, q *inFlight) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-failed:
			return errSettleFailed
		default:
		}
		evs, err := r.src.Next(ctx)
		if errors.Is(err, io.EOF) {
			r.mu.Lock()
			r.sum.Done = true
			r.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.sum.Read += int64(len(evs))
		r.mu.Unlock()
		r.newGeneration()
		keep := r.selected(evs)
		for len(keep) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := len(keep)
			if r.lim != nil {
				n = min(n, r.lim.Burst())
			}
			chunk := keep[:n]
			keep = keep[n:]
			if r.lim != nil {
				if err := r.lim.WaitN(ctx, n); err != nil {
					if ctx.Err() != nil {
						err = ctx.Err()
					}
					return err
				}
			}
			p, err := r.prepare(chunk, q.waitFor)
			if err != nil {
				return err
			}
			if len(p.out) == 0 {
				// Only skipped events: acked in turn, nothing to write.
				f := &flight{prepared: p, pending: donePending{}}
				q.send(f)
				flights <- f
			}
			for start := 0; start < len(p.out); start += pipeChunk {
				end := min(start+pipeChunk, len(p.out))
				f := &flight{prepared: prepared{out: p.out[start:end], ids: p.ids[start:end], srcs: p.srcs[start:end]}}
				if end == len(p.out) {
					// A repeat of an identity in this chunk is acked with
					// the chunk's last write, after its first copy is
					// settled, as in a run one write at a time.
					f.acks = p.acks
				}
				select {
				case <-failed:
					// Left InProgress and unacked: the rerun moves them.
					return errSettleFailed
				default:
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				f.pending = dst.Publish(wctx, f.out)
				q.send(f)
				flights <- f
			}
		}
	}
}

// settleAll settles the writes in flight in order: it waits for their
// confirms, records the confirmed Completed (the writes at hand in one
// ledger call) and acks them. It goes on after a failure — every write it
// settles keeps the guarantees — and closes failed at the first, so that
// feed stops.
func (r *runner) settleAll(ctx, wctx context.Context, flights <-chan *flight, a Acker, failed chan struct{}, q *inFlight) error {
	var first error
	for f := range flights {
		group := []*flight{f}
	gather:
		for len(group) < pipeDepth/2 {
			select {
			case g, ok := <-flights:
				if !ok {
					break gather
				}
				group = append(group, g)
			default:
				break gather
			}
		}
		for _, g := range group {
			g.err = g.pending.Wait(wctx)
		}
		acks, err := r.finish(ctx, group)
		if len(acks) > 0 {
			if aerr := a.Ack(context.WithoutCancel(ctx), acks); aerr != nil && err == nil {
				err = fmt.Errorf("replay: acknowledging at the source: %w", aerr)
			}
		}
		q.done(group[len(group)-1].seq)
		if r.opts.Progress != nil {
			// From this goroutine alone: Moved counts what it settled.
			r.opts.Progress(r.snapshot())
		}
		if err != nil && first == nil {
			first = err
			close(failed)
		}
	}
	return first
}
