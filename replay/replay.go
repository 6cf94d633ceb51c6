// Package replay moves events from a bus.Source to a bus.Sink: selectively (a
// filter), at a bounded rate, as a dry run, with progress, and rerun-safe.
//
// # Losing nothing, duplicating nothing
//
// Where no transaction spans source and target, a Ledger keyed by the identity
// of each source record (DefaultIdentity) makes a run safe to repeat. For each
// chunk of events Run
//
//  1. records every identity not yet Completed as InProgress (write-ahead),
//  2. writes the events to the sink, which returns once the broker confirmed
//     them (bus.Sink's contract),
//  3. records the confirmed ones as Completed,
//  4. and only then acknowledges them at the source: sources implementing
//     Acker are acked; a Kafka group source commits a batch once Next is
//     called again, which Run does only after step 3.
//
// A rerun skips Completed identities. A crash between steps 2 and 3 leaves
// identities InProgress: the rerun moves them again and they may land twice —
// the only duplicates possible, and detectable, because every moved event
// carries an eddy-redrive-id header (RedriveID) that is the same for every
// attempt.
//
// # Writes in flight
//
// From a source acked explicitly (a RabbitMQ queue consumed) to a sink that
// can publish before the previous batch is confirmed (Pipeliner: RabbitMQ),
// Run keeps several writes in flight without giving up any of the above:
// one goroutine reads, Begins (step 1) and publishes chunks of at most 1,000
// events; another waits for each chunk's confirms in publishing order,
// records the confirmed Completed — every chunk settled meanwhile in one
// ledger transaction, so one fsync for many (group commit) — and only then
// acks them. So the publisher never pauses for the last confirm of a batch,
// a ledger fsync or an ack; an event is still acked only after its copy was
// confirmed and its Completed is durable, and a crash anywhere leaves each
// event either in the source (InProgress or absent in the ledger) or moved
// and Completed. A Limit runs one write at a time.
//
// # Dry run
//
// A dry run is the same Run with a DryRun sink (which records a Plan instead
// of writing) and a ReadOnly ledger (which reports what would be skipped
// without recording anything).
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
)

// Matcher selects events; *inspect.Filter is one. A match error is counted
// and the event is not moved.
type Matcher interface {
	Match(e *event.Event) (bool, error)
}

// Acker is implemented by sources whose messages are removed or committed
// explicitly. Run calls Ack with the events that landed and are Completed in
// the ledger (or were skipped as already Completed), never with others.
type Acker interface {
	Ack(ctx context.Context, evs []event.Event) error
}

// Options configure Run. The zero value moves every event as fast as the
// sink takes them, without a ledger.
type Options struct {
	// Job names the job in the ledger and in each event's eddy-redrive-id:
	// rerunning the same job skips what it moved. Required with a Ledger.
	Job string
	// Ledger, when set, makes the run rerun-safe (see the package doc).
	Ledger Ledger
	// Identity names each source record; nil is DefaultIdentity.
	Identity IdentityFunc
	// Filter, when set, moves only the events it matches.
	Filter Matcher
	// Rate, when positive, limits the run to that many events per second.
	Rate float64
	// Limit, when positive, stops after that many events were moved.
	Limit int64
	// Progress, when set, is called after every chunk with the counts so
	// far; in a pipelined run (see the package doc) after every group of
	// writes settled, from a goroutine of the run's own, never two at once.
	Progress func(Summary)
	// StopGrace bounds how long a write in flight may still take once ctx is
	// done, so that a stop leaves it confirmed or failed rather than unknown.
	// The default is 1.5s.
	StopGrace time.Duration
	// OnRedeliver, when set, is called whenever the source will deliver
	// again what was left unacknowledged: a RabbitMQ consumer that
	// reconnected on its own (its Generation changed), or RunConsuming
	// retrying after a lost connection. A caller counting those events
	// forgets its counts, as the run forgets Filtered, FilterErr and Held.
	OnRedeliver func()
}

// Summary counts what a run did.
type Summary struct {
	Read      int64 // events read from the source
	Filtered  int64 // events the filter did not match (or failed on)
	Skipped   int64 // events already Completed in the ledger (or repeated in one batch)
	Retried   int64 // events found InProgress: moved again, possibly a duplicate
	Held      int64 // events another live run holds InProgress: left to it, not acked
	Moved     int64 // events the sink confirmed
	Failed    int64 // events a failed write left unconfirmed (InProgress in the ledger)
	FilterErr int64 // events on which the filter failed
	Elapsed   time.Duration
	// Stopped is set when the run ended because ctx was done.
	Stopped bool
	// Done is set when the source was read to its end.
	Done bool
	// JobTotal, when positive, is how many source positions the whole job
	// passes (Kafka's transactional path: to the end as of this run's
	// start), and JobDone how many of them the job's group committed, all
	// its workers together.
	JobDone, JobTotal int64
}

// Run moves events from src to dst until src ends (io.EOF), ctx is done,
// Limit is reached or a write fails. It returns the summary in every case;
// the error is nil at the end of the source and at the Limit, ctx.Err() when
// stopped, and the failure otherwise. Run closes neither src nor dst.
func Run(ctx context.Context, src bus.Source, dst bus.Sink, opts Options) (Summary, error) {
	if opts.Ledger != nil && opts.Job == "" {
		return Summary{}, errors.New("replay: a ledger needs a job name")
	}
	if opts.Identity == nil {
		opts.Identity = DefaultIdentity
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 1500 * time.Millisecond
	}
	r := &runner{opts: opts, src: src, dst: dst, start: time.Now()}
	if opts.Rate > 0 {
		// Chunks of a tenth of a second keep the rate smooth.
		burst := max(1, int(math.Ceil(opts.Rate/10)))
		r.lim = rate.NewLimiter(rate.Limit(opts.Rate), burst)
	}
	var err error
	if dst, a, ok := r.pipelined(); ok {
		err = r.runPipelined(ctx, dst, a)
	} else {
		err = r.run(ctx)
	}
	r.sum.Elapsed = time.Since(r.start)
	if err == nil && len(r.rejected) > 0 {
		err = &RejectedError{Rejected: r.rejected}
	}
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err())) {
		r.sum.Stopped = true
		return r.sum, ctx.Err()
	}
	return r.sum, err
}

type runner struct {
	opts  Options
	src   bus.Source
	dst   bus.Sink
	lim   *rate.Limiter
	start time.Time
	ids   []string

	// mu guards sum and rejected: a pipelined run settles writes in a
	// goroutine of its own.
	mu       sync.Mutex
	sum      Summary
	rejected []Rejection
	// gen is the source's generation at the last batch (genSeen: there was
	// one); see newGeneration.
	gen     uint64
	genSeen bool
}

// Rejection is one event the target refused, or another run held.
type Rejection struct {
	ID         string // its identity (see IdentityFunc)
	Unroutable bool   // returned: no queue matched; else nacked
	Held       bool   // not tried: another live run holds it (State Held)
	Reason     string
}

// RejectedError ends a run that moved what it could but whose target refused
// some events (RabbitMQ: returned as unroutable, or nacked), or some of whose
// events another run sharing the ledger was moving (Held). Those were not
// acknowledged at the source, and stay in progress in the ledger, so a rerun
// tries them again.
type RejectedError struct {
	Rejected []Rejection
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	held := 0
	for _, r := range e.Rejected {
		if r.Held {
			held++
		}
	}
	switch held {
	case 0:
		fmt.Fprintf(&b, "replay: the target refused %d event(s):", len(e.Rejected))
	case len(e.Rejected):
		fmt.Fprintf(&b, "replay: %d event(s) were in progress in another run sharing the ledger, and were left to it:", held)
	default:
		fmt.Fprintf(&b, "replay: %d event(s) not moved (refused by the target, or in progress in another run):", len(e.Rejected))
	}
	for i, r := range e.Rejected {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(e.Rejected)-10)
			break
		}
		what := "nacked"
		switch {
		case r.Held:
			what = "held by another run"
		case r.Unroutable:
			what = "unroutable"
		}
		fmt.Fprintf(&b, " %s (%s)", r.ID, what)
	}
	return b.String()
}

var errLimit = errors.New("limit reached")

func (r *runner) run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		evs, err := r.src.Next(ctx)
		if errors.Is(err, io.EOF) {
			r.sum.Done = true
			return nil
		}
		if err != nil {
			return err
		}
		r.sum.Read += int64(len(evs))
		r.newGeneration()
		if err := r.batch(ctx, evs); err != nil {
			if errors.Is(err, errLimit) {
				return nil
			}
			return err
		}
	}
}

// generational is a Source that redelivers what was left unacknowledged
// when it reconnects (amqp.Consumer): Generation changes then.
type generational interface{ Generation() uint64 }

// newGeneration forgets the counts of events left unacknowledged (filtered
// out, held elsewhere) when the source reconnected since the last batch: the
// broker delivers them again, and they are counted again.
func (r *runner) newGeneration() {
	g, ok := r.src.(generational)
	if !ok {
		return
	}
	gen := g.Generation()
	if r.genSeen && gen != r.gen {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.sum.Filtered, r.sum.FilterErr, r.sum.Held = 0, 0, 0
		r.rejected = slices.DeleteFunc(r.rejected, func(x Rejection) bool { return x.Held })
		if r.opts.OnRedeliver != nil {
			r.opts.OnRedeliver()
		}
	}
	r.gen, r.genSeen = gen, true
}

// batch moves one batch from the source, in chunks of at most the rate
// limiter's burst.
func (r *runner) batch(ctx context.Context, evs []event.Event) error {
	keep := r.selected(evs)
	var acked []event.Event
	for len(keep) > 0 {
		if err := ctx.Err(); err != nil {
			return r.ack(ctx, acked, err)
		}
		n := len(keep)
		if r.lim != nil {
			n = min(n, r.lim.Burst())
		}
		if r.opts.Limit > 0 {
			n = int(min(int64(n), r.opts.Limit-r.sum.Moved))
		}
		chunk := keep[:n]
		keep = keep[n:]
		if r.lim != nil {
			if err := r.lim.WaitN(ctx, n); err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				return r.ack(ctx, acked, err)
			}
		}
		done, err := r.chunk(ctx, chunk)
		acked = append(acked, done...)
		if r.opts.Progress != nil {
			r.opts.Progress(r.snapshot())
		}
		if err != nil {
			return r.ack(ctx, acked, err)
		}
		if r.opts.Limit > 0 && r.sum.Moved >= r.opts.Limit {
			return r.ack(ctx, acked, errLimit)
		}
	}
	return r.ack(ctx, acked, nil)
}

// selected returns the events of evs that the filter matches, and counts
// the others.
func (r *runner) selected(evs []event.Event) []event.Event {
	keep := evs[:0:0]
	var filtered, ferr int64
	for i := range evs {
		ok, err := match(r.opts.Filter, &evs[i])
		if err != nil {
			ferr++
		}
		if !ok {
			filtered++
			continue
		}
		keep = append(keep, evs[i])
	}
	r.mu.Lock()
	r.sum.Filtered += filtered
	r.sum.FilterErr += ferr
	r.mu.Unlock()
	return keep
}

func (r *runner) snapshot() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Elapsed = time.Since(r.start)
	return s
}

// ack acknowledges evs at the source when it can be acked, and returns cause
// (or the ack's failure when there is no cause).
func (r *runner) ack(ctx context.Context, evs []event.Event, cause error) error {
	a, ok := r.src.(Acker)
	if !ok || len(evs) == 0 {
		return cause
	}
	if err := a.Ack(context.WithoutCancel(ctx), evs); err != nil && cause == nil {
		return fmt.Errorf("replay: acknowledging at the source: %w", err)
	}
	return cause
}

// chunk moves evs through the ledger and the sink, and returns the events
// that may be acked at the source.
func (r *runner) chunk(ctx context.Context, evs []event.Event) ([]event.Event, error) {
	p, err := r.prepare(evs, nil)
	if err != nil {
		return nil, err
	}
	if len(p.out) == 0 {
		return p.acks, nil
	}

	// A stop should not cut a write in half: give it StopGrace to finish.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(r.opts.StopGrace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	err = r.dst.Write(wctx, p.out)
	stop()
	cancel()
	return r.finish(ctx, []*flight{{prepared: p, err: err}})
}

// prepared is a chunk ready to be written.
type prepared struct {
	out  []event.Event // the events to write, with their eddy-redrive-id
	ids  []string      // ids[j] is the identity of out[j]
	srcs []event.Event // srcs[j] is the source event out[j] was made from
	acks []event.Event // skipped: Completed before, safe to ack
}

// prepare records the identities of evs InProgress (Begin) and returns what
// is to be written: not the Completed, the Held, or repeats. before, when
// set, is called with the identities before Begin.
func (r *runner) prepare(evs []event.Event, before func(ids []string)) (prepared, error) {
	r.ids = r.ids[:0]
	for i := range evs {
		r.ids = append(r.ids, r.opts.Identity(&evs[i]))
	}
	if before != nil {
		before(r.ids)
	}
	var states []State
	if r.opts.Ledger != nil {
		var err error
		if states, err = r.opts.Ledger.Begin(r.opts.Job, r.ids); err != nil {
			return prepared{}, err
		}
	}
	p := prepared{out: make([]event.Event, 0, len(evs)), ids: make([]string, 0, len(evs)), srcs: make([]event.Event, 0, len(evs))}
	seen := make(map[string]bool, len(evs))
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range evs {
		id := r.ids[i]
		if seen[id] || (states != nil && states[i] == Completed) {
			r.sum.Skipped++
			p.acks = append(p.acks, evs[i])
			continue
		}
		if states != nil && states[i] == Held {
			// Another run is moving it: neither move nor ack it here.
			r.sum.Held++
			r.rejected = append(r.rejected, Rejection{ID: id, Held: true, Reason: "in progress in another run"})
			continue
		}
		seen[id] = true
		if states != nil && states[i] == InProgress {
			r.sum.Retried++
		}
		e := evs[i]
		e.Headers = withHeader(e.Headers, HeaderRedriveID, RedriveID(r.opts.Job, id))
		p.out = append(p.out, e)
		p.ids = append(p.ids, id)
		p.srcs = append(p.srcs, evs[i])
	}
	return p, nil
}

// finish settles written chunks (each with its write's error): it records
// the confirmed events Completed, in one ledger call for them all, and
// returns the events that may be acked — the skipped and the confirmed —
// and the first write error that is not a refusal one by one.
func (r *runner) finish(ctx context.Context, fs []*flight) ([]event.Event, error) {
	var acks, landed []event.Event
	var done []string
	var first error
	written := 0
	for _, f := range fs {
		acks = append(acks, f.acks...)
		written += len(f.out)
		err := f.err
		confirmed, rejected := confirmations(err, len(f.out))
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = ctx.Err()
		}
		n := 0
		for j, ok := range confirmed {
			if ok {
				done = append(done, f.ids[j])
				landed = append(landed, f.srcs[j])
				n++
			}
		}
		if len(rejected) > 0 && len(rejected) == len(f.out)-n {
			// Refused one by one, not lost in flight: the run goes on, the
			// refused stay unacked, and Run ends with a *RejectedError.
			r.mu.Lock()
			for _, x := range rejected {
				r.rejected = append(r.rejected, Rejection{ID: f.ids[x.Index], Unroutable: x.Unroutable, Reason: x.Reason})
			}
			r.mu.Unlock()
			err = nil
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if len(done) > 0 && r.opts.Ledger != nil {
		if cerr := r.opts.Ledger.Complete(r.opts.Job, done); cerr != nil {
			// Landed but not recorded: they stay InProgress and none of
			// them may be acked away.
			r.mu.Lock()
			r.sum.Failed += int64(written)
			r.mu.Unlock()
			return acks, cerr
		}
	}
	r.mu.Lock()
	r.sum.Moved += int64(len(done))
	r.sum.Failed += int64(written - len(done))
	r.mu.Unlock()
	return append(acks, landed...), first
}

// confirmations says which of the n events of a Write landed, from its
// error: all when it is nil; a *bus.WriteError says how many leading events
// did; an AMQP *PublishError names exactly which did not (returned as
// unroutable, or nacked), and those are returned as rejected.
func confirmations(err error, n int) (confirmed []bool, rejected []amqp.Failure) {
	confirmed = make([]bool, n)
	var pe *amqp.PublishError
	var we *bus.WriteError
	switch {
	case err == nil:
		for j := range confirmed {
			confirmed[j] = true
		}
	case errors.As(err, &pe):
		for j := range confirmed {
			confirmed[j] = true
		}
		for _, f := range pe.Failed {
			if f.Index >= 0 && f.Index < n {
				confirmed[f.Index] = false
				rejected = append(rejected, f)
			}
		}
	case errors.As(err, &we):
		for j := range min(max(we.Written, 0), n) {
			confirmed[j] = true
		}
	}
	return confirmed, rejected
}

// withHeader returns hs with key set to value: an existing header of that
// name is replaced, else one is appended. hs itself is never modified (it may
// alias the source's buffers).
func withHeader(hs []event.Header, key, value string) []event.Header {
	out := make([]event.Header, 0, len(hs)+1)
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	return append(out, event.Header{Key: key, Value: []byte(value)})
}

// match reports whether m matches e; a nil m matches every event.
func match(m Matcher, e *event.Event) (bool, error) {
	if m == nil {
		return true, nil
	}
	return m.Match(e)
}
