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

// Outage bounds how RunConsuming rides out a lost connection.
type Outage struct {
	// Timeout is how long an outage may last, from its first failed
	// attempt, before the run gives up (eddy's --timeout).
	Timeout time.Duration
	// Debug, when set, is told about each retry.
	Debug io.Writer
}

// RunConsuming is Run from a RabbitMQ queue, riding out a lost connection
// (a broker restart, an operator closing it, a network cut). The events in
// flight stay in progress in the ledger and unacknowledged at the source:
// they are given back to the queue (Requeue) and the run goes on on a new
// connection (the consumer and the AMQP sinks reconnect by themselves),
// retrying for o.Timeout from the start of the outage. If the outage lasts
// longer, the run fails and unknown lists the identities whose write was in
// flight; the ledger makes the same job resume, moving them again flagged
// as possible duplicates (same eddy-redrive-id). eddy replay and eddy dlq
// redrive both use it, so both behave alike on an outage.
func RunConsuming(ctx context.Context, k *amqp.Consumer, dst bus.Sink, opts Options, o Outage) (total Summary, unknown []string, err error) {
	rec := &recordingSink{Sink: dst, identity: opts.Identity}
	if rec.identity == nil {
		rec.identity = DefaultIdentity
	}
	var outage time.Time
	backoff := 100 * time.Millisecond
	for {
		rec.newRun()
		sum, err := Run(ctx, k, rec, opts)
		total = addSummary(total, sum)
		if sum.Moved > 0 || sum.Skipped > 0 {
			outage, backoff = time.Time{}, 100*time.Millisecond
		}
		lost := errors.Is(err, amqp.ErrConnectionLost) || errors.Is(err, bus.ErrConnect)
		if !lost || ctx.Err() != nil {
			if err != nil && lost {
				unknown = rec.unknownIDs()
			}
			return total, unknown, err
		}
		if outage.IsZero() {
			outage = time.Now()
		}
		if time.Since(outage) > o.Timeout {
			return total, rec.unknownIDs(), fmt.Errorf("%w (gave up after --timeout %s)", err, o.Timeout)
		}
		// Their write's outcome is unknown: in progress in the ledger, so
		// the retry moves them again, flagged as possible duplicates.
		n, _ := k.Requeue()
		// What the last attempt left unacked (not selected, say) comes back
		// as well, and is counted again.
		if opts.OnRedeliver != nil {
			opts.OnRedeliver()
		}
		if o.Debug != nil {
			fmt.Fprintf(o.Debug, "replay: %v; retrying (%d events requeued)\n", err, n)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			total.Stopped = true
			return total, nil, ctx.Err()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// addSummary adds the counts of one run (of several after reconnects) to a
// total. Failed is the last run's: earlier failures were retried. So are
// Filtered, FilterErr and Held: those events are not acked, so the broker
// delivers them again after a reconnect and the next run counts them again.
func addSummary(t, s Summary) Summary {
	t.Read += s.Read
	t.Filtered = s.Filtered
	t.Skipped += s.Skipped
	t.Retried += s.Retried
	t.Held = s.Held
	t.Moved += s.Moved
	t.Failed = s.Failed
	t.FilterErr = s.FilterErr
	t.Elapsed += s.Elapsed
	t.Stopped, t.Done = s.Stopped, s.Done
	return t
}

// recordingSink remembers the events of the last writes that failed without
// saying which landed: their outcome is unknown. With writes in flight
// (Pipeliner), a lost connection fails several in one run: all of them are
// kept, until a write of a later run fails.
type recordingSink struct {
	bus.Sink
	identity IdentityFunc

	mu         sync.Mutex
	run        int // numbers RunConsuming's runs
	unknownRun int // the run that unknown is of
	unknown    []string
}

func (r *recordingSink) Write(ctx context.Context, evs []event.Event) error {
	err := r.Sink.Write(ctx, evs)
	r.record(evs, err)
	return err
}

// Publish implements Pipeliner.
func (r *recordingSink) Publish(ctx context.Context, evs []event.Event) Pending {
	return thenPending{p: publish(ctx, r.Sink, evs), then: func(err error) { r.record(evs, err) }}
}

// thenPending is a Pending that, once its write settles, hands the outcome
// to then (a decorating sink's bookkeeping: recording, ending spans).
type thenPending struct {
	p    Pending
	then func(error)
}

func (p thenPending) Wait(ctx context.Context) error {
	err := p.p.Wait(ctx)
	p.then(err)
	return err
}

func (r *recordingSink) record(evs []event.Event, err error) {
	var pe *amqp.PublishError
	if err == nil || errors.As(err, &pe) {
		return // confirmed, or refused one by one: both known
	}
	from := 0
	var we *bus.WriteError
	if errors.As(err, &we) {
		from = min(max(we.Written, 0), len(evs))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unknownRun != r.run {
		r.unknown, r.unknownRun = nil, r.run
	}
	for i := from; i < len(evs); i++ {
		r.unknown = append(r.unknown, r.identity(&evs[i]))
	}
}

// newRun starts the next run: a write of it that fails replaces what the
// earlier runs left unknown.
func (r *recordingSink) newRun() {
	r.mu.Lock()
	r.run++
	r.mu.Unlock()
}

func (r *recordingSink) unknownIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unknown
}
