package dlq

import (
	"context"
	"errors"
	"fmt"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// AMQPRedrive configures RedriveAMQP.
type AMQPRedrive struct {
	Client *amqp.Client
	// Job names the job in the ledger and in eddy-redrive-id.
	Job    string
	Ledger replay.Ledger
	Route  RouterOptions
	Rate   float64
	// Progress, when set, is called after every chunk.
	Progress func(replay.Summary)
	// DryRun peeks at the queue instead of consuming it — the messages it
	// holds at the start are got and given back at once (requeued: marked
	// redelivered) before the plan is made, none acked; a stream is read by
	// offset — writes nothing and records nothing in the ledger.
	DryRun bool
	// RecordPin makes a dry run return its plan as Report.Pin. A run with
	// it as Route.Select.Pin writes exactly the messages the plan counted,
	// and leaves the letters that arrived since (Report.Arrived).
	RecordPin bool
	// Consume tunes the consumer (tests shorten its waits).
	Consume amqp.ConsumeOptions
	// Tracer, when set, traces each message published (replay.Traced) in
	// the run span found in the context.
	Tracer oteltrace.Tracer
	// Outage bounds how long a lost connection is retried (eddy's
	// --timeout), as eddy replay does: replay.RunConsuming.
	Outage replay.Outage
}

// RedriveAMQP redrives the RabbitMQ DLQ r.Route.DLQ: each message consumed
// goes to the exchange and routing key its x-death records (or --to, or the
// parking queue), published persistent with confirms and the mandatory flag,
// through the ledger: InProgress before publishing, Completed once
// confirmed, and only then acked. A returned (unroutable) or nacked message
// is not acked; messages not selected or of unknown origin are not acked
// either, and the broker gives them back to the queue when the consumer
// closes. Report.Left lists the unknown ones, and those another live run
// sharing the ledger holds in progress (Outcome Held, counted in
// Report.Held): left to that run, neither moved nor acked here.
func RedriveAMQP(ctx context.Context, r AMQPRedrive) (Report, error) {
	if err := replay.CheckJobName(r.Job); err != nil {
		return Report{}, fmt.Errorf("redrive: job %q: %w", r.Job, err)
	}
	router := NewRouter(r.Route)
	t := &tally{}
	notes := parkingNotes(ctx, r, router)
	var pin *pinRecorder
	if r.DryRun && r.RecordPin {
		pin = newPinRecorder(true)
	}
	src, err := openAMQPRedrive(ctx, r)
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	sink, dry, routes := amqpRedriveSink(r, router.Decide)
	defer sink.Close()
	led := r.Ledger
	if r.DryRun && led != nil {
		led = replay.ReadOnly(led)
	}
	ropts := replay.Options{Job: r.Job, Ledger: led, Filter: amqpSelect(router.Decide, pin, t), Rate: r.Rate, Progress: r.Progress}
	var sum replay.Summary
	var runErr error
	var unknown []string
	if k, ok := src.(*amqp.Consumer); ok {
		// What was left (not selected, unknown origin) comes back after a
		// reconnect and is counted again.
		ropts.OnRedeliver = t.forgetLeft
		sum, unknown, runErr = replay.RunConsuming(ctx, k, sink, ropts, r.Outage)
	} else {
		sum, runErr = replay.Run(ctx, src, sink, ropts)
	}
	rep := t.report()
	rep.Summary = sum
	rep.OutcomeUnknown = unknown
	rep.Notes = notes
	rep.Pin = pin.result()
	// The source's notes: a dry run's peek cut at its limit (the plan
	// covers only what it read), deliveries released at the hold deadline.
	if n, ok := src.(interface{ Notes() []string }); ok {
		rep.Notes = append(rep.Notes, n.Notes()...)
	}
	if dry != nil {
		pl := dry.Plan()
		rep.Targets, rep.First = pl.Targets, pl.FirstIDs
	} else {
		rep.Targets = routes.Counts()
	}
	rep.countTargets(router.ParkTarget().String())
	runErr = rep.foldRejected(runErr)
	if c, ok := src.(*amqp.Consumer); ok && runErr != nil {
		if n := len(c.OutcomeUnknown()); n > 0 {
			runErr = fmt.Errorf("%w (%d message(s) of unknown outcome: the ledger recognises them on the rerun)", runErr, n)
		}
	}
	return rep, runErr
}

// parkingNotes says up front that the parking queue is missing: declaring a
// queue is the topology owner's business, and a missing one would
// otherwise be discovered as a returned message.
func parkingNotes(ctx context.Context, r AMQPRedrive, router *Router) []string {
	if park := router.ParkTarget(); park.Name != "" {
		if _, err := r.Client.Queues(ctx, []string{park.Name}); errors.Is(err, bus.ErrNotFound) {
			return []string{fmt.Sprintf("the parking queue %s does not exist: a message past --max-redrives will come back unroutable and stay in the DLQ (declare the queue, or name another with --park)", park.Name)}
		}
	}
	return nil
}

// amqpSelect is the run's filter: a message redriven or parked passes (and
// is pinned); one left (not selected, unknown origin) is counted in t.
func amqpSelect(decide func(*event.Event) (Decision, error), pin *pinRecorder, t *tally) replay.Matcher {
	return matchFunc(func(e *event.Event) (bool, error) {
		pin.read(e)
		d, err := decide(e)
		if err != nil {
			return false, err
		}
		switch d.Outcome {
		case Redrive, Park:
			pin.write(e)
			return true, nil
		case Unknown:
			t.add(d, "", &LeftRecord{Partition: -1, Offset: -1, Outcome: d.Outcome, ID: Position(e), Reason: d.Reason})
		default:
			t.add(d, "", nil)
		}
		t.end(true)
		return false, nil
	})
}

// openAMQPRedrive opens the DLQ: consumed, or for a dry run peeked up to
// what the queue held at the start.
func openAMQPRedrive(ctx context.Context, r AMQPRedrive) (bus.Source, error) {
	if r.DryRun {
		return r.Client.Source(ctx, []bus.Address{r.Route.DLQ}, replay.DryRunRead)
	}
	opts := r.Consume
	if opts.Reconnect <= 0 {
		opts.Reconnect = r.Outage.Timeout
	}
	return r.Client.Consume(ctx, r.Route.DLQ.Name, opts)
}

// amqpRedriveSink is where the run writes: a sink per target, each message
// rewritten for its target (Rewrite); a dry run's plan instead.
func amqpRedriveSink(r AMQPRedrive, decide func(*event.Event) (Decision, error)) (bus.Sink, *replay.DryRun, *replay.Router) {
	if r.DryRun {
		dry := replay.NewDryRun(func(e *event.Event) string {
			d, _ := decide(e)
			return d.Target.String()
		}, Position, 10)
		return dry, dry, nil
	}
	route := func(e *event.Event) (string, event.Event, error) {
		d, err := decide(e)
		if err != nil {
			return "", event.Event{}, err
		}
		if d.Outcome != Redrive && d.Outcome != Park {
			// Decided otherwise by the filter a moment ago: it cannot
			// change (same headers), so this is a bug, not a message.
			return "", event.Event{}, errors.New("redrive: a message changed its outcome")
		}
		return d.Target.String(), Rewrite(e, d), nil
	}
	routes := replay.NewRouter(route, func(target string) (bus.Sink, error) {
		a, err := bus.ParseAddress(target)
		if err != nil {
			return nil, err
		}
		s, err := r.Client.Sink(a)
		if err != nil || r.Tracer == nil {
			return s, err
		}
		return replay.Traced(s, r.Tracer, a), nil
	})
	return routes, nil, routes
}

// countTargets splits the messages written into parked (to park) and
// redriven.
func (rep *Report) countTargets(park string) {
	for _, c := range rep.Targets {
		if c.Target == park {
			rep.Parked += c.Count
		} else {
			rep.Redriven += c.Count
		}
	}
}

// foldRejected turns the messages the run could not move (nacked,
// unroutable, held by another run) into what is left in the DLQ: they are
// listed, and the run's error is then nil.
func (rep *Report) foldRejected(runErr error) error {
	var rej *replay.RejectedError
	if !errors.As(runErr, &rej) {
		return runErr
	}
	for _, x := range rej.Rejected {
		l := LeftRecord{Partition: -1, Offset: -1, Outcome: Unknown, ID: x.ID, Reason: "nacked"}
		switch {
		case x.Held:
			// Not refused: another run is moving it (Summary.Held
			// counts it). It stays in the DLQ until that run acks it.
			l.Outcome, l.Reason = Held, "held: in progress in another run sharing the ledger"
		case x.Unroutable:
			l.Reason = "unroutable: no queue bound for it"
		}
		if !x.Held {
			rep.Unknown++
		}
		if len(rep.Left) < maxLeft {
			rep.Left = append(rep.Left, l)
		}
	}
	return nil
}
