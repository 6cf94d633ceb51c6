package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/replay"
)

// RedriveOptions are `eddy dlq redrive`'s flags and argument.
type RedriveOptions struct {
	DLQ           string
	To            string
	Filter        string
	IDs           []string
	Error         string
	DryRun        bool
	Rate          float64
	MaxRedrives   int
	Park          string
	KeepPartition bool
	Job           string
	Worker        string
	Ledger        string
	LedgerTTL     time.Duration
	Output        string
	Suffixes      []string
	Prefixes      []string
	Contains      []string
	OTLP          string
}

func newCmdRedrive(f *Factory, runF func(context.Context, *RedriveOptions) error) *cobra.Command {
	o := &RedriveOptions{}
	cmd := &cobra.Command{
		Use:     "redrive DLQ",
		Short:   "Put dead letters back where they failed, exactly once, selectively",
		Long:    helptext.Redrive(dryRunPeekHelp),
		Example: helptext.RedriveExample,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("dlq redrive needs one DLQ, e.g. kafka:orders.DLT (see 'eddy dlq redrive --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.DLQ = args[0]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return redriveRun(c.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "send every selected message here (kafka:TOPIC; amqp:exchange/EX/KEY or amqp:QUEUE) instead of its origin")
	fl.StringVar(&o.Filter, "filter", "", "only messages matching this expression (as in tail)")
	fl.StringSliceVar(&o.IDs, "ids", nil, "only these messages: ids or positions TOPIC/P@OFFSET, or @FILE (one a line); a list that comes out empty is exit 2")
	fl.StringVar(&o.Error, "error", "", "only messages whose recorded error or exception class matches this regular expression")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the plan; write nothing (a RabbitMQ queue's messages are peeked: requeued at once, marked redelivered; see DRY RUN)")
	fl.Float64Var(&o.Rate, "rate", 0, "at most this many messages per second (default: no limit)")
	fl.IntVar(&o.MaxRedrives, "max-redrives", dlq.DefaultMaxRedrives, "park a message redriven this many times already instead of redriving it")
	fl.StringVar(&o.Park, "park", "", "the parking topic or queue (default: the DLQ's name + "+dlq.ParkSuffix+")")
	fl.BoolVar(&o.KeepPartition, "keep-partition", false, "write each message to its original partition (as recorded by Spring or Connect)")
	fl.StringVar(&o.Job, "job", "", "the job's name, 1 to 200 letters, digits, '.', '_' and '-': its consumer group is eddy-redrive-JOB (default: derived from the DLQ and the selection)")
	bindWorkerFlag(fl, &o.Worker)
	bindLedgerFlags(fl, &o.Ledger, &o.LedgerTTL)
	summaryOutput.bind(fl, &o.Output)
	bindNamingFlags(fl, &o.Suffixes, &o.Prefixes, &o.Contains)
	fl.StringVar(&o.OTLP, "otlp", "", "trace the run and each message written to this OTLP endpoint (http://HOST:4318, grpc://HOST:4317)")
	return cmd
}

// redrivePlan is what redrive validated before touching a broker: the
// plan (route and job) and where the Kafka job log lives.
type redrivePlan struct {
	*dlq.Plan
	logDir string
	worker string
}

// redriveLogDir is where Kafka redrive job logs live: next to the bbolt
// ledger, or in the default state directory when the ledger is a Redis.
func redriveLogDir(f *Factory, flag string) (string, error) {
	spec, err := f.LedgerSpec(flag)
	if err != nil {
		return "", err
	}
	if isRedisLedger(spec) {
		if spec, err = replay.DefaultLedgerPath(); err != nil {
			return "", err
		}
	}
	return dlq.JobLogDir(spec), nil
}

// planRedrive checks redrive's flags and plans the run (dlq.NewPlan, as the
// TUI's redrive does).
func planRedrive(f *Factory, o *RedriveOptions) (*redrivePlan, error) {
	name := o.DLQ
	if !strings.Contains(name, ":") {
		name = "kafka:" + name
	}
	a, err := bus.ParseAddress(name)
	if err != nil {
		return nil, asUsage(err)
	}
	if (a.Transport != "kafka" && a.Transport != "amqp") || a.Name == "" {
		return nil, usagef("dlq redrive reads a Kafka topic (kafka:TOPIC) or a RabbitMQ queue (amqp:QUEUE), not %s", o.DLQ)
	}
	if err := checkJobFlag(o.Job); err != nil {
		return nil, err
	}
	worker, err := resolveWorker(o.Worker)
	if err != nil {
		return nil, err
	}
	if a.Transport == "amqp" && o.KeepPartition {
		return nil, usagef("--keep-partition applies to Kafka DLQs")
	}
	po := dlq.PlanOptions{DLQ: a, Naming: resolveNaming(o.Suffixes, o.Prefixes, o.Contains), KeepPartition: o.KeepPartition,
		MaxRedrives: o.MaxRedrives, ToText: o.To, ParkText: o.Park, FilterText: o.Filter, Error: o.Error, Job: o.Job}
	if o.MaxRedrives < 1 {
		return nil, usagef("--max-redrives wants a number >= 1")
	}
	if o.To != "" {
		to, err := bus.ParseAddress(o.To)
		if err != nil {
			return nil, asUsage(fmt.Errorf("--to: %w", err))
		}
		switch {
		case a.Transport == "kafka" && (to.Transport != "kafka" || to.Name == ""):
			// A Kafka letter counts as removed when the write and the job's
			// group position commit in one transaction, which a write to
			// RabbitMQ cannot join (README: eddy dlq redrive).
			return nil, safeUsagef("--to %s: a Kafka DLQ is redriven to a Kafka topic of the same cluster (kafka:TOPIC) only, in one transaction with the job's position; to copy its records elsewhere, use 'eddy replay kafka:%s --to %s' (ledger; the records stay counted in the DLQ)",
				o.To, a.Name, o.To)
		case a.Transport == "amqp" && (to.Transport != "amqp" || (to.Name == "" && to.Exchange == "")):
			return nil, usagef("--to %s: a RabbitMQ DLQ is redriven to a RabbitMQ exchange or queue (amqp:exchange/EX/KEY, amqp:QUEUE)", o.To)
		}
		if to.Transport == a.Transport && (to.Name == a.Name || sameQueue(to, a.Name)) {
			return nil, safeUsagef("--to %s is the DLQ itself: its messages would be dead letters again; name the topic or queue they go back to", o.To)
		}
		po.To = &to
	}
	if o.Park != "" {
		pk := o.Park
		if !strings.Contains(pk, ":") {
			pk = a.Transport + ":" + pk
		}
		park, err := bus.ParseAddress(pk)
		if err != nil {
			return nil, asUsage(fmt.Errorf("--park: %w", err))
		}
		if park.Transport != a.Transport || park.Name == "" || park.Regex != nil {
			return nil, usagef("--park %s: want a %s like the DLQ's", o.Park, map[string]string{"kafka": "Kafka topic (kafka:TOPIC)", "amqp": "RabbitMQ queue (amqp:QUEUE)"}[a.Transport])
		}
		if park.Name == a.Name {
			return nil, safeUsagef("--park %s is the DLQ itself: name another topic or queue to park messages in", o.Park)
		}
		po.Park = &park
	}
	if o.Rate < 0 {
		return nil, usagef("--rate wants a number >= 0")
	}
	schema, err := f.Schema()
	if err != nil {
		return nil, err
	}
	po.ID = func(e *event.Event) string { return schema.Extract(e).ID }
	if o.Filter != "" {
		flt, err := inspect.CompileFilter(o.Filter, schema)
		if err != nil {
			return nil, asUsage(err)
		}
		po.Filter = flt
	}
	if po.IDs, err = readIDs(o.IDs); err != nil {
		return nil, err
	}
	if o.IDs != nil && len(po.IDs) == 0 {
		// --ids '', --ids , or an @FILE of blank lines: a selection that
		// came out empty selects nothing, and nothing is a usage error —
		// never the whole DLQ.
		return nil, safeUsagef("--ids %q selects no message: give ids or positions, or leave --ids out to redrive every message", strings.Join(o.IDs, ","))
	}
	p := &redrivePlan{worker: worker}
	if p.Plan, err = dlq.NewPlan(po); err != nil {
		return nil, asUsage(err)
	}
	if p.logDir, err = redriveLogDir(f, o.Ledger); err != nil {
		return nil, err
	}
	return p, nil
}

// readIDs expands --ids (dlq.ReadIDs); its error is the user's.
func readIDs(args []string) ([]string, error) {
	ids, err := dlq.ReadIDs(args)
	return ids, asUsage(err)
}

func redriveRun(ctx context.Context, f *Factory, o *RedriveOptions) error {
	p, err := planRedrive(f, o)
	if err != nil {
		return err
	}
	return withRunTracing(ctx, f, o.OTLP, func(tr *runTracing) error {
		if p.DLQ.Transport == "amqp" {
			return redriveAMQP(ctx, f, o, p, tr)
		}
		return redriveKafka(ctx, f, o, p, tr)
	})
}

// redriveKafka is the Kafka branch: transactional, through replay/eos.
func redriveKafka(ctx context.Context, f *Factory, o *RedriveOptions, p *redrivePlan, tr *runTracing) error {
	kc, err := f.Kafka()
	if err != nil {
		return err
	}
	defer kc.Close()
	// An unreachable broker is exit 4, as for every command.
	if err := kc.Ping(ctx); err != nil {
		return err
	}
	// What the real run checks before it writes, a dry run checks too: the
	// --to topic exists, the job log's directory can be made.
	if err := redrivePreflight(ctx, f, p); err != nil {
		return err
	}
	prog := inspect.NewProgress(f.IO.ErrOut, f.IO.ErrTTY, "redrive")
	ctx, endSpan := p.StartRun(ctx, tr.tracer)
	rep, runErr := dlq.RedriveKafka(ctx, dlq.KafkaRedrive{
		// An outage is retried for --timeout (each request, and the wait
		// for a transaction's records: KafkaRedrive.Timeout), then the run
		// fails with nothing committed for the open transaction.
		Job: p.Job, Worker: p.worker, LogDir: p.logDir, Route: p.Route,
		Rate: o.Rate, Progress: prog.Update, DryRun: o.DryRun, Client: kc, Tracer: tr.tracer,
		Timeout: f.Global.Timeout,
	})
	endSpan(rep.Summary, runErr)
	prog.Done()
	return redriveEnd(f, o, p, runMode(o.DryRun, "transactional"), rep, concurrentRun(runErr))
}

// runMode is a run's mode in its report: "dry-run", else mode.
func runMode(dryRun bool, mode string) string {
	if dryRun {
		return "dry-run"
	}
	return mode
}

// redriveAMQP is the RabbitMQ branch: consumed, routed by x-death, through
// the ledger.
func redriveAMQP(ctx context.Context, f *Factory, o *RedriveOptions, p *redrivePlan, tr *runTracing) error {
	c, err := f.AMQP()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Ping(ctx); err != nil {
		return err
	}
	if err := redrivePreflight(ctx, f, p); err != nil {
		return err
	}
	led, err := f.openRunLedger(ctx, o.Ledger, o.LedgerTTL, o.DryRun)
	if err != nil {
		return err
	}
	if led != nil {
		defer led.Close()
	}
	prog := inspect.NewProgress(f.IO.ErrOut, f.IO.ErrTTY, "redrive")
	ctx, endSpan := p.StartRun(ctx, tr.tracer)
	rep, runErr := dlq.RedriveAMQP(ctx, dlq.AMQPRedrive{Client: c, Job: p.Job, Ledger: led, Route: p.Route,
		Rate: o.Rate, Progress: prog.Update, DryRun: o.DryRun, Tracer: tr.tracer,
		Outage: replay.Outage{Timeout: f.Global.Timeout, Debug: f.debugWriter()}})
	endSpan(rep.Summary, runErr)
	prog.Done()
	return redriveEnd(f, o, p, runMode(o.DryRun, "ledger"), rep, runErr)
}

// redrivePreflight checks, for a run and its dry run alike, what the run
// needs before it writes: the --to target exists, and (Kafka) the job log's
// directory can be made.
func redrivePreflight(ctx context.Context, f *Factory, p *redrivePlan) error {
	if p.Route.To != nil {
		if err := preflightTarget(ctx, f, *p.Route.To); err != nil {
			return err
		}
	}
	if p.DLQ.Transport == "kafka" {
		if err := checkCreatable(p.logDir); err != nil {
			return fmt.Errorf("job log: %w", err)
		}
	}
	return nil
}

// redriveEnd reports a run and maps it to an exit code.
func redriveEnd(f *Factory, o *RedriveOptions, p *redrivePlan, mode string, rep dlq.Report, runErr error) error {
	if runErr != nil && !rep.Stopped && rep.Read == 0 && rep.Moved == 0 {
		return runErr // nothing happened: the error alone says it
	}
	group := ""
	if p.DLQ.Transport == "kafka" {
		group = dlq.RedriveGroup(p.Job)
	}
	out := inspect.NewRedriveReport(p.Job, group, mode, rep, runErr)
	if err := inspect.WriteRedriveReport(f.IO.Out, f.IO.ErrOut, out, o.Output == "json"); err != nil {
		return err
	}
	inspect.WriteNotes(f.IO.ErrOut, rep.Notes)
	if rep.FilterErr > 0 {
		fmt.Fprintf(f.IO.ErrOut, "eddy: --filter failed on %d message(s), which were not redriven\n", rep.FilterErr)
	}
	if rep.Stopped {
		fmt.Fprintln(f.IO.ErrOut, "eddy: redrive stopped; run the same command to resume")
		return &silentError{code: ExitInterrupted}
	}
	if runErr != nil {
		return runErr
	}
	if err := rep.Incomplete(p.DLQ); err != nil {
		return &exitError{code: ExitPartial, err: err}
	}
	return nil
}
