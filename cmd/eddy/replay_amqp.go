package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// openConsumer consumes a RabbitMQ queue for replay. It reconnects for as
// long as --timeout allows. A dry run consumes without acknowledging
// anything: Close gives every message back (marked redelivered).
func openConsumer(ctx context.Context, f *Factory, queue string, dryRun bool, prefetch int) (bus.Source, func(), error) {
	c, err := f.AMQP()
	if err != nil {
		return nil, nil, err
	}
	k, err := c.Consume(ctx, queue, amqp.ConsumeOptions{Prefetch: prefetch, Reconnect: f.Global.Timeout})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	closeAll := func() { k.Close(); c.Close() }
	if dryRun {
		return readOnlySource{k}, closeAll, nil
	}
	return k, closeAll, nil
}

// readOnlySource hides a source's Ack, so a dry run acknowledges nothing.
type readOnlySource struct{ bus.Source }

// runConsuming is replay.Run from a RabbitMQ queue. When the target's
// connection is lost (a broker restart, an operator closing it), the events
// in flight stay in progress in the ledger and unacknowledged at the source:
// they are given back to the queue and the run goes on on a new connection
// (the consumer reconnects by itself), retrying for --timeout from the
// start of the outage. If the outage lasts longer, the run fails with the
// identities whose outcome is unknown in rep.Unknown; the ledger makes the
// same command resume.
func runConsuming(ctx context.Context, f *Factory, k *amqp.Consumer, dst bus.Sink, opts replay.Options, rep *replayReport) (replay.Summary, error) {
	rec := &recordingSink{Sink: dst, identity: opts.Identity}
	if rec.identity == nil {
		rec.identity = replay.DefaultIdentity
	}
	var total replay.Summary
	var outage time.Time
	backoff := 100 * time.Millisecond
	for {
		sum, err := replay.Run(ctx, k, rec, opts)
		total = addSummary(total, sum)
		if sum.Moved > 0 || sum.Skipped > 0 {
			outage, backoff = time.Time{}, 100*time.Millisecond
		}
		lost := errors.Is(err, amqp.ErrConnectionLost) || errors.Is(err, bus.ErrConnect)
		if !lost || ctx.Err() != nil {
			if err != nil && lost {
				rep.Unknown = rec.unknownIDs()
			}
			return total, err
		}
		if outage.IsZero() {
			outage = time.Now()
		}
		if time.Since(outage) > f.Global.Timeout {
			rep.Unknown = rec.unknownIDs()
			return total, fmt.Errorf("%w (gave up after --timeout %s)", err, f.Global.Timeout)
		}
		// Their write's outcome is unknown: in progress in the ledger, so
		// the retry moves them again, flagged as possible duplicates.
		n, _ := k.Requeue()
		if f.debugWriter() != nil {
			fmt.Fprintf(f.debugWriter(), "replay: %v; retrying (%d events requeued)\n", err, n)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			total.Stopped = true
			return total, ctx.Err()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// addSummary adds the counts of one run (of several after reconnects) to a
// total. Failed is the last run's: earlier failures were retried.
func addSummary(t, s replay.Summary) replay.Summary {
	t.Read += s.Read
	t.Filtered += s.Filtered
	t.Skipped += s.Skipped
	t.Retried += s.Retried
	t.Held += s.Held
	t.Moved += s.Moved
	t.Failed = s.Failed
	t.FilterErr += s.FilterErr
	t.Elapsed += s.Elapsed
	t.Stopped, t.Done = s.Stopped, s.Done
	return t
}

// recordingSink remembers the events of the last write that failed without
// saying which landed: their outcome is unknown.
type recordingSink struct {
	bus.Sink
	identity replay.IdentityFunc

	mu      sync.Mutex
	unknown []string
}

func (r *recordingSink) Write(ctx context.Context, evs []event.Event) error {
	err := r.Sink.Write(ctx, evs)
	var pe *amqp.PublishError
	if err == nil || errors.As(err, &pe) {
		return err // confirmed, or refused one by one: both known
	}
	from := 0
	var we *bus.WriteError
	if errors.As(err, &we) {
		from = min(max(we.Written, 0), len(evs))
	}
	ids := make([]string, 0, len(evs)-from)
	for i := from; i < len(evs); i++ {
		ids = append(ids, r.identity(&evs[i]))
	}
	r.mu.Lock()
	r.unknown = ids
	r.mu.Unlock()
	return err
}

func (r *recordingSink) unknownIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unknown
}
