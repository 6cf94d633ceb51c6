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
	var notes []string
	if park := router.ParkTarget(); park.Name != "" {
		// Declaring a queue is the topology owner's business; a missing
		// parking queue is said up front rather than discovered as a
		// returned message.
		if _, err := r.Client.Queues(ctx, []string{park.Name}); errors.Is(err, bus.ErrNotFound) {
			notes = append(notes, fmt.Sprintf("the parking queue %s does not exist: a message past --max-redrives will come back unroutable and stay in the DLQ (declare the queue, or name another with --park)", park.Name))
		}
	}
	decide := router.Decide
	var pin *pinRecorder
	if r.DryRun && r.RecordPin {
		pin = newPinRecorder(true)
	}
	filter := matchFunc(func(e *event.Event) (bool, error) {
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
	var src bus.Source
	var err error
	if r.DryRun {
		src, err = r.Client.Source(ctx, []bus.Address{r.Route.DLQ}, bus.ReadOptions{Backlog: true,
			From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	} else {
		opts := r.Consume
		if opts.Reconnect <= 0 {
			opts.Reconnect = r.Outage.Timeout
		}
		src, err = r.Client.Consume(ctx, r.Route.DLQ.Name, opts)
	}
	if err != nil {
		return Report{}, err
	}
	defer src.Close()

	var sink bus.Sink
	var dry *replay.DryRun
	var routes *replay.Router
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
	if r.DryRun {
		dry = replay.NewDryRun(func(e *event.Event) string {
			d, _ := decide(e)
			return d.Target.String()
		}, Position, 10)
		sink = dry
	} else {
		routes = replay.NewRouter(route, func(target string) (bus.Sink, error) {
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
		sink = routes
	}
	defer sink.Close()
	led := r.Ledger
	if r.DryRun && led != nil {
		led = replay.ReadOnly(led)
	}
	ropts := replay.Options{Job: r.Job, Ledger: led, Filter: filter, Rate: r.Rate, Progress: r.Progress}
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
	park := router.ParkTarget().String()
	for _, c := range rep.Targets {
		if c.Target == park {
			rep.Parked += c.Count
		} else {
			rep.Redriven += c.Count
		}
	}
	var rej *replay.RejectedError
	if errors.As(runErr, &rej) {
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
		runErr = nil
	}
	if c, ok := src.(*amqp.Consumer); ok && runErr != nil {
		if n := len(c.OutcomeUnknown()); n > 0 {
			runErr = fmt.Errorf("%w (%d message(s) of unknown outcome: the ledger recognises them on the rerun)", runErr, n)
		}
	}
	return rep, runErr
}
