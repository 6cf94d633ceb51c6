package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
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

const traceJSONHelp = `JSON (-o json, schema version 1; fields are only ever added)
  {"v":1,"query":ID,"flows":[{
     "key":"o-0001","key_kind":"correlation_id|trace_id|event_id|origin",
     "open":false,"start":RFC3339,"end":RFC3339,"duration_ms":N,
     "dead_lettered":false,"last_step":"EmailSent",
     "definition":"A -> B -> C","missing":"B",            (with --flow)
     "events":[{"at":RFC3339,"timestamp":RFC3339,"transport":"kafka",
        "source":"orders","partition":1,"offset":42,"origin":"orders[1]@42",
        "id":"evt-1","type":"OrderPlaced","causation_id":"…","trace_id":"…",
        "span_id":"…","duplicates":0,
        "time_source":"json:occurred_at","time_coarse":false,
        "hop":{"from":0,"latency_ms":79.0,"skew":false,"coarse":false,
               "basis":"causation|span|dead_letter|previous"},
        "dead_letter":{"convention":"spring|connect|x-death|name",
                       "error":"…","class":"…","origin":"orders"}}]}]}`

const flowsJSONHelp = `JSON (-o json, schema version 1; fields are only ever added)
  {"v":1,
   "flows":{"total":N,"complete":N,"incomplete":N,"dead_lettered":N,"open":N},
   "events":{"total":N,"duplicates":N},
   "types":{"OrderPlaced":N,…},
   "edges":[{"from":"OrderPlaced","to":"PaymentAuthorized","count":N,
             "p50_ms":N,"p90_ms":N,"p99_ms":N,"max_ms":N,
             "skew":N,"min_skew_ms":N,"over_range":N}],
   "source_edges":[… the same, from topic/queue to topic/queue …]}
  complete + incomplete = total. A flow is complete when it passed every step
  of a --flow definition whose first step it has; without --flow, when its
  last step is of a terminal type (one that never caused another type in the
  data). dead_lettered counts flows with a dead-letter hop. open counts flows
  still active (within --flow-timeout) when the report was made. A hop into a
  dead-letter copy is the edge "T -> T (dead letter)". Percentiles are over the
  hops with a latency from 0 to 366 days, in ms to 3 significant digits
  (HdrHistogram); skew counts hops whose effect was stamped before its cause
  (producer clock skew), min_skew_ms the most negative; over_range counts hops
  longer than 366 days (max_ms includes them, exact); count includes both.
  PERCENTILES: pN is HdrHistogram's, not nearest-rank: of the n hops in the
  percentiles, the smallest latency v with at least max(1, int(N/100*n + 0.5))
  hops <= v (the rank rounded half up; nearest-rank takes ceil(N/100*n)). So 6
  hops of 10, 20, 30, 40, 50, 60 ms give p50 = 30, p90 = 50, p99 = 60.`

const traceConceptsHelp = `FLOWS
  Events are grouped by correlation id, else the trace id of their W3C
  traceparent, else their event id (an event with neither joins the flow of its
  cause, and of the other events naming that cause). The grouping does not
  depend on the order events are read in, nor on the order of SOURCEs: when a
  cause arrives after its effects, their flows are merged. An event never joins
  its effect's flow (an uncorrelated cause of a correlated event is its own
  flow), and flows of two correlation ids are never merged. Where ids live is the context's schema (eddy config; README). Events
  are ordered by event time: the occurred-at time, else the broker timestamp.
  Of the schema's occurred-at locations the first with a fraction of a second
  wins over a whole-second one (an AMQP timestamp property is whole seconds);
  a whole second with no finer time is refined by the Kafka record timestamp
  when that falls within it. Each event says where its time came from
  (time_source: the schema location, "timestamp" for the Kafka record
  timestamp, "received" for an AMQP message without a timestamp property);
  time_coarse marks one known only to the second, and a hop into such an
  event is "coarse": up to a second before its cause is not skew. Each hop's
  latency is from the event's cause — its causation id, or an event carrying
  the same span context — else from the previous event. A negative hop is
  producer clock skew: shown, flagged "skew", never clamped. The same event id
  seen again on the same source (a retry, a redrive) is one event with a
  duplicate count; a copy on a dead-letter topic or queue is a dead-letter hop
  marked with the error its framework recorded (Spring's kafka_dlt-exception-*,
  Connect's __connect.errors.exception.*, RabbitMQ's x-death reason).
  A flow idle for --flow-timeout is finalised and forgotten, so memory stays
  bounded however long eddy runs.

FLOW DEFINITIONS
  --flow 'OrderPlaced -> PaymentAuthorized -> StockReserved' (repeatable) says
  what a complete flow is; --flow shop is the demo shop's
  '` + "OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped -> EmailSent" + `'.
  trace flows warns on stderr of a step type no event read had (a typo).

EXPORT
  --otlp ENDPOINT sends every flow as an OpenTelemetry trace: http://HOST:4318
  or https://… (OTLP/HTTP), grpc://HOST:4317 or grpcs://… (OTLP/gRPC; HOST:PORT
  alone means grpc://). One span per event (a child of the producer's span when
  the event carries a traceparent, so it joins the services' traces; linked to
  that creation context) and one per hop, with messaging.* attributes. Each
  export, connecting and retries included, and the flush at the end are
  bounded by --timeout; spans that did not arrive are one line on stderr
  ("eddy: otlp: could not export N span(s) to ENDPOINT: reason") and exit 3
  (also for eddy replay and eddy dlq redrive --otlp).`

func newCmdTrace(f *Factory, runF func(context.Context, *TraceOptions) error) *cobra.Command {
	o := &TraceOptions{}
	cmd := &cobra.Command{
		Use:   "trace ID [SOURCE...]",
		Short: "Follow one event or business flow across topics, with hop latencies",
		Long: `Show every event whose id, correlation id, trace id (traceparent) or causation
id is ID — the whole flow it belongs to — across the sources, as a timeline:
time order, each event with source, partition/offset, type, id and the
latency from its cause; dead-letter hops with their error; the last step
reached and, with --flow, the step that is missing.

SOURCES default to every non-internal Kafka topic of the context (dead-letter
topics included). Kafka is read from the offsets of --since ago (the broker's
time index, not from the beginning) to the end as of starting. Captures
(file:…) are read whole unless --since is given.

` + traceConceptsHelp + `

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
	bindTraceFlags(fl, o)
	cmd.AddCommand(newCmdTraceFlows(f, runF))
	return cmd
}

type flagSet interface {
	StringVarP(p *string, name, shorthand, value, usage string)
	StringArrayVar(p *[]string, name string, value []string, usage string)
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}

func bindTraceFlags(fl flagSet, o *TraceOptions) {
	fl.StringVarP(&o.Output, "output", "o", "", "text or json (default text)")
	fl.StringArrayVar(&o.Flows, "flow", nil, "a flow definition 'A -> B -> C' (repeatable); 'shop' is the demo's")
	fl.DurationVar(&o.FlowTimeout, "flow-timeout", trace.DefaultTimeout, "finalise a flow after it had no event for this long")
	fl.StringVar(&o.OTLP, "otlp", "", "export every flow as an OpenTelemetry trace to this OTLP endpoint (http://HOST:4318, grpc://HOST:4317)")
	fl.BoolVar(&o.SkipBad, "skip-bad", false, "captures: skip malformed lines and report how many, instead of stopping")
	fl.BoolVar(&o.Backlog, "backlog", false, backlogFlag)
}

func newCmdTraceFlows(f *Factory, runF func(context.Context, *TraceOptions) error) *cobra.Command {
	o := &TraceOptions{}
	cmd := &cobra.Command{
		Use:   "flows SOURCE...",
		Short: "Correlate all events into flows: counts, and hop latency percentiles per edge",
		Long: `Correlate every event of the sources into flows and report how many flows were
seen, complete, incomplete and dead-lettered, the events per type, and for each
edge (event type A -> event type B, and topic -> topic) the hop latency
p50/p90/p99/max.

Live by default (Kafka from the end, like tail): on a terminal the report is
redrawn every --refresh; in a pipe the final report is printed when eddy stops
(Ctrl-C, --until, or the end of a capture). --until end reads what is there
and exits.

` + traceConceptsHelp + `

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
	fl.StringVar(&o.From, "from", "", "where to start: beginning, end, OFFSET, -N, RFC3339 time or -DURATION (default end)")
	fl.StringVar(&o.Until, "until", "", "where to stop: end, OFFSET, RFC3339 time or -DURATION (default: follow)")
	fl.DurationVar(&o.Refresh, "refresh", time.Second, "on a terminal, redraw the report this often")
	bindTraceFlags(fl, o)
	return cmd
}

// tracePlan is what trace, trace flows and expect validated before reading.
type tracePlan struct {
	schema *event.Schema
	defs   []trace.Definition
	json   bool
}

func planTraceCommon(f *Factory, o *TraceOptions) (*tracePlan, error) {
	p := &tracePlan{}
	switch o.Output {
	case "", "text", "pretty":
	case "json":
		p.json = true
	default:
		return nil, usagef("-o %q: want text or json", o.Output)
	}
	if o.FlowTimeout <= 0 {
		return nil, usagef("--flow-timeout %s: want a positive duration", o.FlowTimeout)
	}
	for _, s := range o.Flows {
		if s == "shop" || s == "demo" {
			s = shopFlow
		}
		d, err := trace.ParseDefinition(s)
		if err != nil {
			return nil, asUsage(err)
		}
		p.defs = append(p.defs, d)
	}
	var err error
	if p.schema, err = f.Schema(); err != nil {
		return nil, err
	}
	return p, p.schema.Compile()
}

// parseSince reads --since: a duration back from now, or a time.
func parseSince(s string, now time.Time) (bus.Position, error) {
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil && d > 0 {
		return bus.Position{Kind: bus.PosTime, Time: now.Add(-d)}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return bus.Position{Kind: bus.PosTime, Time: t}, nil
	}
	return bus.Position{}, usagef("--since %q: want a duration like 1h or 30m, or an RFC 3339 time", s)
}

// sourceSet is the sources a trace command reads, opened.
type sourceSet struct {
	src   bus.Source
	files []*file.Source
	close []func()
}

func (s *sourceSet) Close() {
	if s.src != nil {
		s.src.Close()
	}
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
}

// openTraceSources opens addrs; with none, every non-internal Kafka topic.
// fileRead applies to captures, read to Kafka and RabbitMQ.
func openTraceSources(ctx context.Context, f *Factory, addrs []string, read, fileRead bus.ReadOptions) (*sourceSet, error) {
	var kafkaAddrs, amqpAddrs, fileAddrs []bus.Address
	for _, s := range addrs {
		a, err := bus.ParseAddress(s)
		if err != nil {
			return nil, asUsage(err)
		}
		switch a.Transport {
		case "kafka":
			kafkaAddrs = append(kafkaAddrs, a)
		case "amqp":
			if a.Name == "" {
				return nil, usagef("address %q: trace reads queues (amqp:QUEUE), not exchanges", s)
			}
			amqpAddrs = append(amqpAddrs, a)
		case "file":
			fileAddrs = append(fileAddrs, a)
		}
	}
	set := &sourceSet{}
	var srcs []bus.Source
	fail := func(err error) (*sourceSet, error) {
		for _, s := range srcs {
			s.Close()
		}
		set.Close()
		return nil, err
	}
	for _, a := range fileAddrs {
		s, err := file.Open(a.Name, f.IO.In, fileRead)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, s)
		set.files = append(set.files, s)
	}
	if len(kafkaAddrs) > 0 || len(addrs) == 0 {
		c, err := f.Kafka()
		if err != nil {
			return fail(err)
		}
		set.close = append(set.close, c.Close)
		if len(addrs) == 0 {
			topics, err := c.Topics(ctx, false)
			if err != nil {
				return fail(err)
			}
			for _, t := range topics {
				kafkaAddrs = append(kafkaAddrs, bus.Address{Transport: "kafka", Name: t.Name})
			}
			if len(kafkaAddrs) == 0 {
				return fail(fmt.Errorf("kafka: no topics to trace (name SOURCEs, e.g. kafka:orders or file:capture.jsonl)"))
			}
		}
		kr := read
		kr.OnHealth = healthNotice(f)
		s, err := c.Source(ctx, kafkaAddrs, kr)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, s)
	}
	if len(amqpAddrs) > 0 {
		c, err := f.AMQP()
		if err != nil {
			return fail(err)
		}
		set.close = append(set.close, func() { c.Close() })
		ar := read
		ar.OnHealth = healthNotice(f)
		s, err := c.Source(ctx, amqpAddrs, ar)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, s)
	}
	set.src = bus.Merge(srcs...)
	return set, nil
}

func (s *sourceSet) reportSkipped(w io.Writer) {
	for _, fs := range s.files {
		if n := fs.Skipped(); n > 0 {
			fmt.Fprintf(w, "eddy: skipped %d malformed line(s) in %s\n", n, fs.Name())
		}
	}
}

// traceInput is what trace, trace flows and expect read, opened: captures
// alone (regular files, the way a large capture is traced) go through the
// Correlator's parallel capture reader, anything else through the sources,
// merged.
type traceInput struct {
	set   *sourceSet
	files []*os.File
	opts  bus.ReadOptions // the captures'
	// gcPercent is the GOGC to restore on Close, when gcSet.
	gcPercent int
	gcSet     bool
}

func openTraceInput(ctx context.Context, f *Factory, addrs []string, read, fileRead bus.ReadOptions) (*traceInput, error) {
	paths, ok := capturePaths(addrs)
	if !ok {
		set, err := openTraceSources(ctx, f, addrs, read, fileRead)
		if err != nil {
			return nil, err
		}
		return &traceInput{set: set}, nil
	}
	in := &traceInput{opts: fileRead}
	for _, p := range paths {
		r, err := os.Open(p)
		if err != nil {
			in.Close()
			if errors.Is(err, os.ErrNotExist) {
				return nil, &bus.NotFoundError{Transport: "file", Kind: "file", Name: p}
			}
			return nil, fmt.Errorf("file: %w", err)
		}
		in.files = append(in.files, r)
	}
	// A capture's flows stay open to its end: the correlator's state is live
	// data that grows all along, which the collector would mark again at
	// every doubling. Collecting less often, until the report is out (Close),
	// saves about a fifth of the CPU, and the peak memory is the live data
	// either way. GOGC, when set, wins.
	if f.Getenv("GOGC") == "" {
		in.gcPercent, in.gcSet = debug.SetGCPercent(400), true
	}
	return in, nil
}

func (in *traceInput) Close() {
	if in.gcSet {
		debug.SetGCPercent(in.gcPercent)
		in.gcSet = false
	}
	if in.set != nil {
		in.set.Close()
	}
	for _, r := range in.files {
		r.Close()
	}
}

// capturePaths returns the files addrs name when every one is a capture in a
// regular file (not stdin, not a pipe, which must be read line by line as
// they come).
func capturePaths(addrs []string) ([]string, bool) {
	var paths []string
	for _, s := range addrs {
		a, err := bus.ParseAddress(s)
		if err != nil || a.Transport != "file" || a.Name == "-" {
			return nil, false
		}
		if st, err := os.Stat(a.Name); err != nil || !st.Mode().IsRegular() {
			return nil, false
		}
		paths = append(paths, a.Name)
	}
	return paths, len(paths) > 0
}

// correlate feeds the input into the correlator until its end or ctx,
// calling tick every interval (when > 0) and expiring idle flows, and reports
// skipped malformed lines. It returns the latest broker timestamp seen.
func (in *traceInput) correlate(ctx context.Context, f *Factory, c *trace.Correlator, every time.Duration, tick func()) (time.Time, error) {
	if in.set != nil {
		latest, err := correlate(ctx, in.set.src, c, every, tick)
		if err == nil {
			in.set.reportSkipped(f.IO.ErrOut)
		}
		return latest, err
	}
	var latest time.Time
	for _, r := range in.files {
		res, err := c.ReadCapture(ctx, r, trace.CaptureOptions{Name: r.Name(), Keep: file.Keep(in.opts), SkipBad: in.opts.SkipBad, Every: every, Tick: tick})
		if res.Latest.After(latest) {
			latest = res.Latest
		}
		if err != nil {
			return latest, err
		}
		if res.Skipped > 0 {
			fmt.Fprintf(f.IO.ErrOut, "eddy: skipped %d malformed line(s) in %s\n", res.Skipped, r.Name())
		}
	}
	return latest, nil
}

// correlate feeds the source into the correlator until the end of input or
// ctx, calling tick every interval (when > 0) and expiring idle flows. It
// returns the latest broker timestamp seen.
func correlate(ctx context.Context, src bus.Source, c *trace.Correlator, every time.Duration, tick func()) (time.Time, error) {
	type batch struct {
		evs []event.Event
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan batch, 4)
	go func() {
		defer close(ch)
		for {
			evs, err := src.Next(ctx)
			select {
			case ch <- batch{evs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var latest time.Time
	var tc <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tc = t.C
	}
	// Idle flows are looked for at most every second of wall time: Expire is
	// cheap but need not run per batch.
	lastExpire := time.Now()
	for {
		select {
		case <-ctx.Done():
			return latest, ctx.Err()
		case <-tc:
			c.Expire()
			tick()
		case b := <-ch:
			for i := range b.evs {
				c.Add(&b.evs[i])
				if t := b.evs[i].Timestamp; t.After(latest) {
					latest = t
				}
			}
			if time.Since(lastExpire) > time.Second {
				c.Expire()
				lastExpire = time.Now()
			}
			if errors.Is(b.err, io.EOF) {
				return latest, nil
			}
			if b.err != nil {
				return latest, b.err
			}
		}
	}
}

// startOTLP connects to an --otlp endpoint ("" for none; a bad one is a
// usage error) and returns the function that ends the export: it flushes
// within --timeout (every export is bounded by it too) and returns the
// spans lost, a *trace.ExportError, for endOTLP.
func startOTLP(ctx context.Context, f *Factory, endpoint string) (*trace.Exporter, func() error, error) {
	if endpoint == "" {
		return nil, func() error { return nil }, nil
	}
	timeout := otlpTimeout(f)
	x, err := trace.NewExporter(ctx, endpoint, trace.WithTimeout(timeout))
	if err != nil {
		return nil, nil, asUsage(err)
	}
	return x, func() error {
		// A little past the exporter's own bound, so that its error (what
		// failed) arrives before this deadline's.
		ctx, cancel := context.WithTimeout(context.Background(), timeout+otlpCloseMargin)
		defer cancel()
		return x.Close(ctx)
	}, nil
}

func traceRun(ctx context.Context, f *Factory, o *TraceOptions) error {
	p, err := planTraceCommon(f, o)
	if err != nil {
		return err
	}
	since, err := parseSince(o.Since, f.Now())
	if err != nil {
		return err
	}
	read := bus.ReadOptions{From: since, Until: bus.Position{Kind: bus.PosEnd}, SkipBad: o.SkipBad, Backlog: o.Backlog}
	fileRead := bus.ReadOptions{SkipBad: o.SkipBad}
	if o.SinceSet {
		fileRead.From = since
	}
	x, closeOTLP, err := startOTLP(ctx, f, o.OTLP)
	if err != nil {
		return err
	}
	in, err := openTraceInput(ctx, f, o.Sources, read, fileRead)
	if err != nil {
		return endOTLP(ctx, f, err, closeOTLP())
	}
	defer in.Close()
	var found []*trace.Flow
	c := trace.NewCorrelator(trace.Config{Schema: p.schema, Timeout: o.FlowTimeout, KeepKeys: x != nil, OnFlow: func(fl *trace.Flow) {
		if fl.Matches(o.ID) {
			found = append(found, fl)
		}
	}})
	if _, err = in.correlate(ctx, f, c, 0, nil); err != nil {
		return endOTLP(ctx, f, err, closeOTLP())
	}
	found = append(found, c.OpenMatching(o.ID)...)
	for _, fl := range found {
		if x != nil {
			x.Export(fl)
		}
	}
	// Exported before the timeline is printed; a failure is reported after.
	oerr := closeOTLP()
	if p.json {
		tl := trace.Timeline{V: 1, Query: o.ID, Flows: []trace.FlowJSON{}}
		for _, fl := range found {
			tl.Flows = append(tl.Flows, fl.JSON(p.defs))
		}
		if err := writeJSON(f.IO.Out, tl); err != nil {
			return endOTLP(ctx, f, err, oerr)
		}
	} else {
		w := &timelineWriter{color: f.IO.Color()}
		for _, fl := range found {
			w.flow(fl.JSON(p.defs))
		}
		if _, err := f.IO.Out.Write(w.b); err != nil {
			return endOTLP(ctx, f, err, oerr)
		}
	}
	if len(found) == 0 {
		return endOTLP(ctx, f, &exitError{code: ExitError, err: fmt.Errorf("trace: no event matches %s (by id, correlation id, trace id or causation id) in what was read", inspect.SafeString(o.ID))}, oerr)
	}
	return endOTLP(ctx, f, nil, oerr)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// timelineWriter renders timelines for a person; every string that came from
// an event goes through inspect's terminal-safe rendering.
type timelineWriter struct {
	b     []byte
	color bool
}

func (w *timelineWriter) safe(s string) { w.b = inspect.AppendSafe(w.b, []byte(s)) }
func (w *timelineWriter) str(s string)  { w.b = append(w.b, s...) }
func (w *timelineWriter) pad(s string, n int) {
	w.safe(s)
	for i := inspect.CellWidth(inspect.SafeString(s)); i < n; i++ {
		w.b = append(w.b, ' ')
	}
}
func (w *timelineWriter) style(code, s string) {
	if w.color {
		w.str("\x1b[" + code + "m")
		w.safe(s)
		w.str("\x1b[0m")
		return
	}
	w.safe(s)
}

func (w *timelineWriter) flow(fl trace.FlowJSON) {
	w.str("flow ")
	w.style("1", fl.Key)
	w.str(fmt.Sprintf(" (%s) · %d event(s) · %s · %s", fl.KeyKind, len(fl.Events), fl.Start.UTC().Format("2006-01-02 15:04:05.000Z"), fmtMS(fl.DurationMS)))
	if fl.Open {
		w.str(" · open")
	}
	w.str("\n")
	for _, e := range fl.Events {
		w.str("  ")
		w.str(e.At.UTC().Format("15:04:05.000"))
		w.str("  ")
		w.pad(e.Origin, 24)
		w.str(" ")
		w.pad(e.Type, 20)
		w.str(" ")
		id := e.ID
		if id == "" {
			id = "(no id)"
		}
		w.pad(id, 14)
		if h := e.Hop; h != nil {
			lat := fmtMS(h.LatencyMS)
			if h.LatencyMS >= 0 {
				lat = "+" + lat
			}
			w.str(" ")
			if h.Skew {
				w.style("33", lat+" skew")
			} else {
				w.str(lat)
			}
			w.str(" after ")
			from := fl.Events[h.From].Type
			if from == "" {
				from = "#" + fmt.Sprint(h.From)
			}
			w.safe(from)
			if h.Basis == trace.FromPrevious {
				w.str(" (previous)")
			}
		}
		if e.Duplicates > 0 {
			w.str(fmt.Sprintf(" ×%d duplicate(s)", e.Duplicates))
		}
		// Where the time came from: schema locations are the user's
		// configuration, but pass through the safe writer all the same.
		w.str("  [time: ")
		w.safe(e.TimeSource)
		if e.TimeCoarse {
			w.str(", whole second")
		}
		w.str("]\n")
		if d := e.DeadLetter; d != nil {
			w.str("      ")
			w.style("31", "✗ "+cut(inspect.DeadLetterText(d), 300))
			w.str("\n")
		}
	}
	w.str("  last step: ")
	w.safe(fl.LastStep)
	if fl.Missing != "" {
		w.str(" · missing: ")
		w.style("31", fl.Missing)
		w.str(" (")
		w.safe(fl.Definition)
		w.str(")")
	} else if fl.Definition != "" {
		w.str(" · complete (")
		w.safe(fl.Definition)
		w.str(")")
	}
	if fl.DeadLettered {
		w.str(" · ")
		w.style("31", "dead-lettered")
	}
	w.str("\n\n")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func fmtMS(ms float64) string {
	a := ms
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 60000:
		return (time.Duration(ms * float64(time.Millisecond))).Round(time.Second).String()
	case a >= 1000:
		return fmt.Sprintf("%.2fs", ms/1000)
	case a >= 10:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.3gms", ms)
}

func traceFlowsRun(ctx context.Context, f *Factory, o *TraceOptions) (err error) {
	p, err := planTraceCommon(f, o)
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
	if path := f.Getenv("EDDY_TRACE_MEMSTATS"); path != "" {
		stop, err := logMemStats(path, 5*time.Second)
		if err != nil {
			return err
		}
		defer stop()
	}
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
		var b []byte
		b = append(b, "\x1b[H\x1b[2J"...)
		b = appendFlowsReport(b, stats.Report(c.Open()), p.defs, true)
		f.IO.Out.Write(b)
	})
	c.Flush()
	r := stats.Report(nil)
	warnUnseenTypes(f.IO.ErrOut, p.defs, c.Types())
	if p.json {
		if err := writeJSON(f.IO.Out, r); err != nil {
			return err
		}
	} else {
		var b []byte
		if live {
			b = append(b, "\x1b[H\x1b[2J"...)
		}
		if _, err := f.IO.Out.Write(appendFlowsReport(b, r, p.defs, false)); err != nil {
			return err
		}
	}
	return rerr
}

// logMemStats appends the Go heap to path every interval, as CSV
// (unix_seconds,heap_alloc,heap_inuse,heap_objects,num_gc), until stop: the
// soak test's view of a long live trace (bench/soak.sh), enabled by
// EDDY_TRACE_MEMSTATS=FILE. It costs one ReadMemStats per interval.
func logMemStats(path string, every time.Duration) (stop func(), err error) {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("EDDY_TRACE_MEMSTATS: %w", err)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Fprintf(w, "%d,%d,%d,%d,%d\n", time.Now().Unix(), m.HeapAlloc, m.HeapInuse, m.HeapObjects, m.NumGC)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		w.Close()
	}, nil
}

// warnUnseenTypes says, one line per definition, which of a --flow
// definition's step types no event read had: a typo there would otherwise
// make every flow silently incomplete.
func warnUnseenTypes(w io.Writer, defs []trace.Definition, types []string) {
	seen := map[string]bool{}
	for _, t := range types {
		seen[t] = true
	}
	for _, d := range defs {
		var missing, said []string
		for _, t := range d.Steps {
			if !seen[t] && !slices.Contains(said, t) {
				said, missing = append(said, t), append(missing, t+typeHint(t, types))
			}
		}
		if len(missing) > 0 {
			fmt.Fprintln(w, "eddy: warning: "+inspect.SafeString(fmt.Sprintf("--flow %q: no event of type %s was read", d.String(), strings.Join(missing, ", "))))
		}
	}
}

func appendFlowsReport(b []byte, r trace.Report, defs []trace.Definition, live bool) []byte {
	w := &timelineWriter{b: b}
	w.str(fmt.Sprintf("flows  %d total  %d complete  %d incomplete  %d dead-lettered", r.Flows.Total, r.Flows.Complete, r.Flows.Incomplete, r.Flows.DeadLettered))
	if live {
		w.str(fmt.Sprintf("  (%d open)", r.Flows.Open))
	}
	w.str(fmt.Sprintf("\nevents %d  duplicates %d\n", r.Events.Total, r.Events.Duplicates))
	for _, d := range defs {
		w.str("flow   ")
		w.safe(d.String())
		w.str("\n")
	}
	if len(r.Types) > 0 {
		w.str("\ntypes\n")
		names := make([]string, 0, len(r.Types))
		for t := range r.Types {
			names = append(names, t)
		}
		sortStrings(names)
		for _, t := range names {
			w.str("  ")
			if t == "" {
				w.pad("(no type)", 28)
			} else {
				w.pad(t, 28)
			}
			w.str(fmt.Sprintf(" %d\n", r.Types[t]))
		}
	}
	for _, sec := range []struct {
		title string
		edges []trace.EdgeReport
	}{{"edges (event type)", r.Edges}, {"edges (source)", r.SourceEdges}} {
		if len(sec.edges) == 0 {
			continue
		}
		w.str("\n" + sec.title + "\n")
		w.str(fmt.Sprintf("  %-46s %8s %9s %9s %9s %9s %6s\n", "from -> to", "count", "p50", "p90", "p99", "max", "skew"))
		for _, e := range sec.edges {
			w.str("  ")
			w.pad(e.From+" -> "+e.To, 46)
			w.str(fmt.Sprintf(" %8d %9s %9s %9s %9s %6d\n", e.Count, fmtMS(e.P50MS), fmtMS(e.P90MS), fmtMS(e.P99MS), fmtMS(e.MaxMS), e.Skew))
			if e.OverRange > 0 {
				w.str(fmt.Sprintf("    %d hop(s) longer than %s: counted and in max, not in the percentiles\n", e.OverRange, "366 days"))
			}
		}
	}
	return w.b
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
