package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/eos"
)

// ReplayOptions are `eddy replay`'s flags and arguments.
type ReplayOptions struct {
	Sources       []string
	To            string
	From          string
	Until         string
	Filter        string
	Rate          float64
	Limit         int64
	DryRun        bool
	KeepPartition bool
	NewTimestamps bool
	Job           string
	Worker        string
	Ledger        string
	LedgerTTL     time.Duration
	OTLP          string
	Output        string
	Prefetch      int
	// AllowSameTarget lets --to name a Kafka topic the replay reads.
	AllowSameTarget bool
}

func newCmdReplay(f *Factory, runF func(context.Context, *ReplayOptions) error) *cobra.Command {
	o := &ReplayOptions{}
	cmd := &cobra.Command{
		Use:     "replay SOURCE... --to TARGET",
		Short:   "Copy events from topics or captures to a topic, exactly once and resumable",
		Long:    helptext.Replay(dryRunPeekHelp),
		Example: helptext.ReplayExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("replay needs at least one SOURCE, e.g. kafka:orders.DLT (see 'eddy replay --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Sources = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return replayRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "where to write: kafka:TOPIC, amqp:exchange/EX/KEY, amqp:QUEUE or file:PATH (required)")
	bindPositions(fl, &o.From, &o.Until, "beginning", "end")
	fl.StringVar(&o.Filter, "filter", "", "only events matching this expression (as in tail)")
	fl.Float64Var(&o.Rate, "rate", 0, "at most this many events per second (default: no limit)")
	fl.Int64VarP(&o.Limit, "limit", "n", 0, "stop after writing N events (not with the Kafka to Kafka transactional path)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print what would be written; write nothing (a RabbitMQ queue's messages are peeked: requeued at once, marked redelivered; see DRY RUN)")
	fl.BoolVar(&o.KeepPartition, "keep-partition", false, "Kafka target: write each event to the partition number it came from")
	fl.BoolVar(&o.NewTimestamps, "new-timestamps", false, "Kafka target: stamp events with the time of writing instead of keeping theirs")
	fl.StringVar(&o.Job, "job", "", "the job's name in the ledger and its consumer group, 1 to 200 letters, digits, '.', '_' and '-' (default: derived from sources and target)")
	bindWorkerFlag(fl, &o.Worker)
	bindLedgerFlags(fl, &o.Ledger, &o.LedgerTTL)
	fl.StringVar(&o.OTLP, "otlp", "", "trace the run and each moved event to this OTLP endpoint (http://HOST:4318, grpc://HOST:4317)")
	summaryOutput.bind(fl, &o.Output)
	fl.BoolVar(&o.AllowSameTarget, "allow-same-target", false, "let --to be a Kafka topic this replay reads: each record of the range is appended to it once more")
	fl.IntVar(&o.Prefetch, "prefetch", 0, "RabbitMQ source: deliveries held unacknowledged at once; memory holds that many messages (default 10000)")
	return cmd
}

// replayPlan is everything replay validated before touching a broker.
type replayPlan struct {
	src    all.Addrs // its RabbitMQ queue (src.AMQP) is consumed
	to     bus.Address
	read   bus.ReadOptions
	filter *inspect.Filter
	schema *event.Schema
	job    string
	worker string
	eos    bool
}

func planReplay(f *Factory, o *ReplayOptions) (*replayPlan, error) {
	p := &replayPlan{}
	if err := checkJobFlag(o.Job); err != nil {
		return nil, err
	}
	var err error
	if p.worker, err = resolveWorker(o.Worker); err != nil {
		return nil, err
	}
	var names []string
	var addrs []bus.Address
	for _, s := range o.Sources {
		a, err := bus.ParseAddress(s)
		if err != nil {
			return nil, asUsage(err)
		}
		if a.Transport == "amqp" && a.Name == "" {
			return nil, usagef("%s: replay consumes a RabbitMQ queue (amqp:QUEUE), not an exchange", s)
		}
		addrs, names = append(addrs, a), append(names, a.String())
	}
	p.src = all.Sort(addrs)
	if len(slices.DeleteFunc([]int{len(p.src.Kafka), len(p.src.Files), len(p.src.AMQP)}, func(n int) bool { return n == 0 })) > 1 {
		return nil, usagef("replay reads Kafka topics, a RabbitMQ queue or a capture, one kind at a time")
	}
	if len(p.src.AMQP) > 1 {
		return nil, usagef("replay consumes one RabbitMQ queue at a time")
	}
	if len(p.src.AMQP) > 0 && (o.From != "beginning" || o.Until != "end") {
		return nil, usagef("--from and --until are for Kafka: a RabbitMQ queue is consumed until it is drained")
	}
	if len(p.src.Files) > 1 {
		return nil, usagef("replay reads one capture at a time")
	}
	if o.To == "" {
		return nil, usagef("replay needs --to TARGET, e.g. --to kafka:orders")
	}
	to, err := bus.ParseAddress(o.To)
	if err != nil {
		return nil, asUsage(fmt.Errorf("--to: %w", err))
	}
	switch {
	case to.Transport == "kafka" && to.Name != "":
	case to.Transport == "file" && to.Name != "-":
	case to.Transport == "amqp" && (to.Name != "" || to.Exchange != ""):
	default:
		return nil, usagef("--to %s: replay writes to a Kafka topic (kafka:TOPIC), a RabbitMQ exchange or queue (amqp:exchange/EX/KEY, amqp:QUEUE) or a capture (file:PATH)", o.To)
	}
	p.to = to
	if err := checkNotOwnSource(p, o.AllowSameTarget); err != nil {
		return nil, err
	}
	now := f.Now()
	if p.read.From, p.read.Until, err = bus.ParseRange(o.From, o.Until, now); err != nil {
		return nil, asUsage(err)
	}
	if len(p.src.Kafka) > 0 && !p.read.Until.IsSet() {
		return nil, usagef("--until: a replay stops somewhere (end, an offset or a time)")
	}
	if o.Rate < 0 || o.Limit < 0 {
		return nil, usagef("--rate and --limit want numbers >= 0")
	}
	if (o.KeepPartition || o.NewTimestamps) && to.Transport != "kafka" {
		return nil, usagef("--keep-partition and --new-timestamps apply to Kafka targets")
	}
	if p.schema, err = f.Schema(); err != nil {
		return nil, err
	}
	if o.Filter != "" {
		if p.filter, err = inspect.CompileFilter(o.Filter, p.schema); err != nil {
			return nil, asUsage(err)
		}
	}
	p.job = o.Job
	if p.job == "" {
		p.job = replay.DefaultJobName(names, to.String())
	}
	p.eos = len(p.src.Kafka) > 0 && to.Transport == "kafka" && p.read.Until.Kind == bus.PosEnd && !o.DryRun
	if p.eos && o.Limit > 0 {
		return nil, usagef("--limit does not combine with the transactional Kafka to Kafka path; use --until OFFSET or a time")
	}
	for _, a := range p.src.Kafka {
		if a.Regex != nil && p.eos {
			return nil, usagef("%s: the transactional path reads named topics; name them, or use --until with an offset or a time", a)
		}
	}
	return p, nil
}

// runOutcome is what a run did: its counts and the error it ended with.
type runOutcome struct {
	sum replay.Summary
	err error
}

func replayRun(ctx context.Context, f *Factory, o *ReplayOptions) error {
	p, err := planReplay(f, o)
	if err != nil {
		return err
	}
	return withRunTracing(ctx, f, o.OTLP, func(tr *runTracing) error { return replayTraced(ctx, f, o, p, tr) })
}

// replayTraced runs the replay p, its run a span of tr.
func replayTraced(ctx context.Context, f *Factory, o *ReplayOptions, p *replayPlan, tr *runTracing) (err error) {
	ctx, endSpan := tr.run(ctx, "replay", p.job, p.to)
	var run runOutcome
	spanEnded := false
	defer func() {
		if !spanEnded { // an early return: the run never started
			endSpan(run.sum, errors.New("replay did not start"))
		}
	}()
	// The target exists and takes writes: checked before anything is read,
	// in a dry run as in the real run.
	if err := preflightTarget(ctx, f, p.to); err != nil {
		return err
	}
	prog := inspect.NewProgress(f.IO.ErrOut, f.IO.ErrTTY, "replay")
	rep := &inspect.ReplayReport{V: 1, Job: p.job}
	if p.eos {
		rep.Mode = "transactional"
		run, err = replayEOS(ctx, f, o, p, tr, prog)
	} else {
		rep.Mode = runMode(o.DryRun, "ledger")
		run, err = replayLedger(ctx, f, o, p, tr, prog, rep)
	}
	if err != nil {
		return err
	}
	endSpan(run.sum, run.err)
	spanEnded = true
	prog.Done()
	return replayEnd(f, o, p, rep, run)
}

// replayEOS is the Kafka to Kafka transactional run (replay/eos).
func replayEOS(ctx context.Context, f *Factory, o *ReplayOptions, p *replayPlan, tr *runTracing, prog *inspect.Progress) (runOutcome, error) {
	topics := make([]string, len(p.src.Kafka))
	for i, a := range p.src.Kafka {
		topics[i] = a.Name
	}
	// An unreachable broker is exit 4, as for every command.
	kc, err := f.Kafka()
	if err != nil {
		return runOutcome{}, err
	}
	defer kc.Close()
	if err := kc.Ping(ctx); err != nil {
		return runOutcome{}, err
	}
	sum, runErr := eos.Run(ctx, eos.Options{
		Client: kc, Job: p.job, Worker: p.worker, Topics: topics, Target: p.to.Name, From: p.read.From,
		KeepPartition: o.KeepPartition, NewTimestamps: o.NewTimestamps,
		Filter: matcher(p.filter), Rate: o.Rate, Progress: prog.Update, Tracer: tr.tracer,
		Timeout: f.Global.Timeout,
	})
	return runOutcome{sum, concurrentRun(runErr)}, nil
}

// replayLedger is every other run: through the ledger, or a dry run (which
// reads the ledger the real run would use, and fails as it would, without
// creating or changing it) whose plan goes in rep.
func replayLedger(ctx context.Context, f *Factory, o *ReplayOptions, p *replayPlan, tr *runTracing, prog *inspect.Progress, rep *inspect.ReplayReport) (runOutcome, error) {
	src, closeSrc, err := openReplaySource(ctx, f, p, o)
	if err != nil {
		return runOutcome{}, err
	}
	defer closeSrc()
	led, err := f.openRunLedger(ctx, o.Ledger, o.LedgerTTL, o.DryRun)
	if err != nil {
		return runOutcome{}, err
	}
	if led != nil {
		defer led.Close()
	}
	var dst bus.Sink
	var dry *replay.DryRun
	if o.DryRun {
		dry = replay.NewDryRunTo(p.to.String(), p.schema, 10)
		dst = dry
		if led != nil {
			led = replay.ReadOnly(led)
		}
	} else if dst, err = openReplaySink(f, p, o); err != nil {
		return runOutcome{}, err
	} else {
		dst = tr.sink(dst, p.to)
	}
	defer dst.Close()
	ropts := replay.Options{
		Job: p.job, Ledger: led, Filter: matcher(p.filter), Rate: o.Rate, Limit: o.Limit, Progress: prog.Update,
	}
	var run runOutcome
	if k, ok := src.(*amqp.Consumer); ok {
		run.sum, rep.Unknown, run.err = replay.RunConsuming(ctx, k, dst, ropts, replay.Outage{Timeout: f.Global.Timeout, Debug: f.debugWriter()})
	} else {
		run.sum, run.err = replay.Run(ctx, src, dst, ropts)
	}
	// A RabbitMQ source's notes: a dry run's peek cut at its limit (the
	// plan covers only what it read), deliveries released at the hold
	// deadline.
	if n, ok := src.(interface{ Notes() []string }); ok {
		inspect.WriteNotes(f.IO.ErrOut, n.Notes())
	}
	if dry != nil {
		rep.SetPlan(dry.Plan())
	}
	return run, nil
}

// replayEnd reports a run and maps it to an exit code.
func replayEnd(f *Factory, o *ReplayOptions, p *replayPlan, rep *inspect.ReplayReport, run runOutcome) error {
	sum, runErr := run.sum, run.err
	rep.SetSummary(sum, runErr)
	if runErr != nil && !sum.Stopped && sum.Read == 0 && sum.Moved == 0 {
		// Nothing happened (a missing topic, a refused connection): the
		// error alone says it.
		return runErr
	}
	if err := inspect.WriteReplayReport(f.IO.Out, f.IO.ErrOut, rep, o.Output == "json"); err != nil {
		return err
	}
	if o.DryRun && len(p.src.Kafka) > 0 && p.to.Transport == "kafka" && p.read.Until.Kind == bus.PosEnd {
		fmt.Fprintf(f.IO.ErrOut, "eddy: note: the real run is transactional and moves only what group %s has not committed yet; this plan covers the whole range\n",
			eos.GroupName(p.job))
	}
	if sum.FilterErr > 0 {
		fmt.Fprintf(f.IO.ErrOut, "eddy: --filter failed on %d event(s), which were not replayed\n", sum.FilterErr)
	}
	if sum.Stopped {
		fmt.Fprintln(f.IO.ErrOut, "eddy: replay stopped; run the same command to resume")
		return &silentError{code: ExitInterrupted}
	}
	var rejected *replay.RejectedError
	if errors.As(runErr, &rejected) {
		return partialErr(runErr)
	}
	return runErr
}

func matcher(f *inspect.Filter) replay.Matcher {
	if f == nil {
		return nil
	}
	return f
}

// openReplaySource opens what p reads (all.Sources): a RabbitMQ queue is
// consumed (all.Consume), reconnecting for as long as --timeout allows. A
// dry run does not consume: it peeks, as --backlog does (see
// dryRunPeekHelp) — the messages are got and given back at once, before the
// first is planned, so none is held for the rest of the run; a stream queue
// is read by offset.
func openReplaySource(ctx context.Context, f *Factory, p *replayPlan, o *ReplayOptions) (bus.Source, func(), error) {
	c := runClients(f)
	read := all.Read{Brokers: p.read, Files: p.read}
	if len(p.src.AMQP) > 0 {
		if !o.DryRun {
			return all.Consume(ctx, c, p.src.AMQP[0].Name, amqp.ConsumeOptions{Prefetch: o.Prefetch, Reconnect: f.Global.Timeout})
		}
		read.Brokers = replay.DryRunRead
	}
	set, err := all.Sources(ctx, c, p.src, read)
	if err != nil {
		return nil, nil, err
	}
	return set, func() { set.Close() }, nil
}

// openReplaySink opens p's target (all.Sink).
func openReplaySink(f *Factory, p *replayPlan, o *ReplayOptions) (bus.Sink, error) {
	var opts []kafka.SinkOption
	if o.KeepPartition {
		opts = append(opts, kafka.WithKeepPartition())
	}
	if o.NewTimestamps {
		opts = append(opts, kafka.WithNewTimestamps())
	}
	return all.Sink(runClients(f), p.to, f.IO.Out, opts...)
}

// runClients are the clients a run opens its source and target with: no
// health notices (a run's outages are its Outage's).
func runClients(f *Factory) all.Clients {
	c := sourceClients(f, nil, nil)
	c.OnHealth = nil
	return c
}
