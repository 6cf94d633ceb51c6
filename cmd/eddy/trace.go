package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/config"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/trace"
)

// shopFlow is the demo shop's happy path, what `--flow shop` names.
var shopFlow = strings.Join([]string{demo.OrderPlaced, demo.PaymentAuthorized, demo.StockReserved, demo.OrderShipped, demo.EmailSent}, " -> ")

// TraceOptions are `eddy trace`'s and `eddy trace flows`'s flags and arguments.
type TraceOptions struct {
	// ID is what `eddy trace ID` looks for; empty for `trace flows`.
	ID      string
	Sources []string
	// Since bounds trace ID: read from that long ago to the end. SinceSet
	// says it was given, which makes it filter captures too.
	Since    string
	SinceSet bool
	// From and Until bound trace flows (like tail's).
	From, Until string
	Output      string
	Flows       []string
	FlowTimeout time.Duration
	OTLP        string
	SkipBad     bool
	// Backlog is --backlog: peek at what RabbitMQ classic queues hold.
	Backlog bool
	// Refresh is how often trace flows redraws on a terminal.
	Refresh time.Duration
}

func newCmdTrace(f *Factory, runF func(context.Context, *TraceOptions) error) *cobra.Command {
	o := &TraceOptions{}
	cmd := &cobra.Command{
		Use:   "trace ID [SOURCE...]",
		Short: "Follow one event or business flow across topics, with hop latencies",
		Long: helptext.Trace + traceConceptsHelp + `

` + backlogHelp + `

` + traceJSONHelp,
		Example: `  # an order's journey in the last hour, across every topic
  eddy trace o-0042
  # from a capture, as JSON
  eddy trace evt-00017 file:capture.jsonl -o json
  # the last day, two topics, with the step it is missing
  eddy trace o-0042 kafka:orders kafka:/payments.*/ --since 24h --flow shop`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("trace needs an ID (an event, correlation or trace id), e.g. eddy trace o-0042 (or eddy trace flows SOURCE...)")
			}
			if strings.TrimSpace(args[0]) == "" {
				// An empty id would match every event without one.
				return usagef("trace: the ID is empty; give an event, correlation or trace id, e.g. eddy trace o-0042")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID, o.Sources = args[0], args[1:]
			o.SinceSet = cmd.Flags().Changed("since")
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return traceRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Since, "since", "1h", "how far back to look: a duration (1h, 30m) or an RFC3339 time")
	bindTraceFlags(fl, o, &f.Schemas)
	cmd.AddCommand(newCmdTraceFlows(f, runF))
	return cmd
}

func bindTraceFlags(fl *pflag.FlagSet, o *TraceOptions, schemas *config.SchemaOptions) {
	traceOutput.bind(fl, &o.Output)
	fl.StringArrayVar(&o.Flows, "flow", nil, "a flow definition 'A -> B -> C' (repeatable); 'shop' is the demo's")
	fl.DurationVar(&o.FlowTimeout, "flow-timeout", trace.DefaultTimeout, "finalise a flow after it had no event for this long")
	fl.StringVar(&o.OTLP, "otlp", "", "export every flow as an OpenTelemetry trace to this OTLP endpoint (http://HOST:4318, grpc://HOST:4317)")
	fl.BoolVar(&o.SkipBad, "skip-bad", false, "captures: skip malformed lines and report how many, instead of stopping")
	fl.BoolVar(&o.Backlog, "backlog", false, backlogFlag)
	bindSchemaFlags(fl, schemas)
}

func newCmdTraceFlows(f *Factory, runF func(context.Context, *TraceOptions) error) *cobra.Command {
	o := &TraceOptions{}
	cmd := &cobra.Command{
		Use:   "flows SOURCE...",
		Short: "Correlate all events into flows: counts, and hop latency percentiles per edge",
		Long: helptext.TraceFlows + traceConceptsHelp + `

` + backlogHelp + `

` + flowsJSONHelp,
		Example: `  # live, on the demo
  eddy trace flows kafka:/.*/ --flow shop
  # everything in the topics so far, as JSON
  eddy trace flows kafka:orders kafka:payments --from beginning --until end -o json
  # a capture
  eddy trace flows file:capture.jsonl -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("trace flows needs at least one SOURCE, e.g. kafka:/.*/ or file:capture.jsonl")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Sources = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return traceFlowsRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	bindPositions(fl, &o.From, &o.Until, "", "")
	fl.DurationVar(&o.Refresh, "refresh", time.Second, "on a terminal, redraw the report this often")
	bindTraceFlags(fl, o, &f.Schemas)
	return cmd
}

func traceRun(ctx context.Context, f *Factory, o *TraceOptions) error {
	p, err := planTrace(f, o.Output, o.FlowTimeout, o.Flows)
	if err != nil {
		return err
	}
	since, err := parseSince(o.Since, f.Now())
	if err != nil {
		return err
	}
	read, fileRead := traceReads(since, bus.Position{Kind: bus.PosEnd}, o.SinceSet, o.SkipBad, o.Backlog)
	x, closeOTLP, err := startOTLP(ctx, f, o.OTLP)
	if err != nil {
		return err
	}
	in, err := openTraceInput(ctx, f, o.Sources, read, fileRead)
	if err != nil {
		return endOTLP(ctx, f, err, closeOTLP())
	}
	defer in.Close()
	found, _, err := trace.Find(ctx, in.Input, trace.Config{Schema: p.schema, Timeout: o.FlowTimeout, KeepKeys: x != nil}, o.ID)
	if err != nil {
		return endOTLP(ctx, f, err, closeOTLP())
	}
	in.reportSkipped(f)
	for _, fl := range found {
		if x != nil {
			x.Export(fl)
		}
	}
	// Exported before the timeline is printed; a failure is reported after.
	oerr := closeOTLP()
	tl := trace.Timeline{V: 1, Query: o.ID, Flows: []trace.FlowJSON{}}
	for _, fl := range found {
		tl.Flows = append(tl.Flows, fl.JSON(p.defs))
	}
	if p.json {
		err = writeJSON(f.IO.Out, tl)
	} else {
		err = inspect.WriteTimeline(f.IO.Out, tl.Flows, f.IO.Color())
	}
	if err != nil {
		return endOTLP(ctx, f, err, oerr)
	}
	if len(found) == 0 {
		return endOTLP(ctx, f, &exitError{code: ExitError, err: inspect.TraceNotFound(o.ID)}, oerr)
	}
	return endOTLP(ctx, f, nil, oerr)
}

func traceFlowsRun(ctx context.Context, f *Factory, o *TraceOptions) (err error) {
	p, err := planTrace(f, o.Output, o.FlowTimeout, o.Flows)
	if err != nil {
		return err
	}
	now := f.Now()
	var read bus.ReadOptions
	if read.From, read.Until, err = bus.ParseRange(o.From, o.Until, now); err != nil {
		return asUsage(err)
	}
	read.SkipBad, read.Backlog = o.SkipBad, o.Backlog
	if o.Refresh <= 0 {
		return usagef("--refresh %s: want a positive duration", o.Refresh)
	}
	x, closeOTLP, err := startOTLP(ctx, f, o.OTLP)
	if err != nil {
		return err
	}
	defer func() { err = endOTLP(ctx, f, err, closeOTLP()) }()
	in, err := openTraceInput(ctx, f, o.Sources, read, read)
	if err != nil {
		return err
	}
	defer in.Close()
	stop, err := logMemStats(f.Getenv("EDDY_TRACE_MEMSTATS"), 5*time.Second)
	if err != nil {
		return err
	}
	defer stop()
	stats := trace.NewStats(p.defs)
	// Stats keeps nothing of a flow: without an exporter (which keeps its
	// strings) the flows are borrowed.
	c := trace.NewCorrelator(trace.Config{Schema: p.schema, Timeout: o.FlowTimeout, KeepKeys: x != nil, Borrow: x == nil, OnFlow: func(fl *trace.Flow) {
		stats.Add(fl)
		if x != nil {
			x.Export(fl)
		}
	}})
	var every time.Duration
	live := f.IO.OutTTY && !p.json
	if live {
		every = o.Refresh
	}
	_, rerr := in.correlate(ctx, f, c, every, func() {
		inspect.WriteFlowsReport(f.IO.Out, stats.Report(c.Open()), p.defs, true, true)
	})
	c.Flush()
	r := stats.Report(nil)
	inspect.WarnUnseenTypes(f.IO.ErrOut, p.defs, c.Types())
	if p.json {
		err = writeJSON(f.IO.Out, r)
	} else {
		err = inspect.WriteFlowsReport(f.IO.Out, r, p.defs, false, live)
	}
	if err != nil {
		return err
	}
	return rerr
}
