package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/serve"
	"github.com/eddy-sh/eddy/trace"
)

// ServeOptions are `eddy serve`'s flags and arguments.
type ServeOptions struct {
	Sources     []string
	Config      string
	Listen      string
	Interval    time.Duration
	FlowTimeout time.Duration
	From        string
	Flows       []string
	Expect      []string
	DLQs        []string
	Lag         []string
	NoLag       bool
	NoFlows     bool
	OTLP        string
	MaxEdges    int
	MaxReasons  int
	Group       string
	// SessionTimeout is the --group's session timeout (0: the client's
	// default).
	SessionTimeout time.Duration
	OTLPSpans      string
	Spans          string
	// set holds the flags given on the command line (they win over
	// --config).
	set map[string]bool

	// ready, when set, is called with the address the server listens on;
	// clock is the flows' idleness clock (tests).
	ready func(addr string)
	clock func() time.Time
}

const serveHelp = `Run eddy as a long-lived exporter beside one cluster or several: the latency
of live business flows (hop by hop, by event type and by topic), flows
started, completed, incomplete and dead-lettered, the rules of eddy expect as
SLO counters (good/total), the lag of eddy lag serve and the depth, inflow and
error reasons of DLQs, as Prometheus metrics on http://LISTEN/metrics (native
histograms beside classic buckets, in Prometheus's protobuf exposition) and,
with --otlp, pushed with OTLP/HTTP (exponential histograms). /healthz answers
while the process runs; /readyz once every cluster's flows, lag and DLQs
answered once (503 and the reason before).

Flows are read live from the end (--from), correlated as eddy trace flows
does, and counted when they finalise: after --flow-timeout without an event,
which also bounds memory. A flow is labelled by the definition (--flow)
whose first step it reaches (in any order of arrival), else "default"; the
SLO rules (--expect) judge each finalised flow that reached their first
step. On SIGINT or SIGTERM ingest stops, the last OTLP push is made and
scrapes in flight finish; flows still open then are not counted.

Several instances share the flow work with --group: Kafka assigns each the
partitions of the flow topics by number (the range assignor: partition p of
every topic to one instance) and moves them when one leaves (when one dies,
after --session-timeout). A flow stays
whole on one instance when the topics are co-partitioned by the correlation
key (one partition count, every event keyed by its correlation id); the
partition counts are checked at start, and a line says when they differ.
Then, with --otlp-spans, each instance exports every flow it finalises (or
the part of it that it saw) as spans over OTLP under a trace id derived
from the correlation id: the first 16 bytes of SHA-256 of "eddy-flow:" +
correlation id, the same in every instance, so a trace store behind an
OpenTelemetry Collector assembles each flow from all of them (one "flow ID"
root span per instance's part, one "receive TOPIC" span per event, a "hop
A -> B" span per hop seen within one part; a hop whose two events went to
different instances is in no part's figures). --spans always exports them
from every cluster, co-partitioned, grouped or not.

Label cardinality is bounded: no id, key or payload value is ever a label;
event types and topics form at most --max-edges edges per histogram (a
cluster's flow's, a cluster's topics'), the rest as from="other",
to="other"; a DLQ's error reasons (ids and numbers masked) at most
--max-reasons, the rest as reason="other". eddy lag serve is the lag part of
this command alone.

METRICS

`

func newCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	o := &ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve [SOURCE...]",
		Short: "Export live flow latency, SLOs, lag and DLQs as Prometheus metrics (and OTLP)",
		Long:  serveHelp + serve.MetricNames + "\n" + lag.LagMetricNames + "\n  (each with a cluster label)\n\n" + serve.ConfigHelp,
		Example: `  # the demo's flows, lag and DLQ beside it
  eddy serve kafka:/.*/ --flow 'checkout=OrderPlaced -> PaymentAuthorized -> OrderShipped' \
    --expect 'ships=OrderPlaced -> OrderShipped within 5s' --dlq kafka:payments.DLT
  # several clusters from a file, pushed to a collector too
  eddy serve --config serve.yaml --otlp http://otel-collector:4318`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Sources = args
			o.set = map[string]bool{}
			cmd.Flags().Visit(func(fl *pflag.Flag) { o.set[fl.Name] = true })
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return serveRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Config, "config", "", "a YAML file of clusters, flows, rules and DLQs (see CONFIG FILE)")
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:9309", "address of the metrics endpoint")
	fl.DurationVar(&o.Interval, "interval", 15*time.Second, "how often lag and DLQ depths are sampled (and OTLP pushed)")
	fl.DurationVar(&o.FlowTimeout, "flow-timeout", trace.DefaultTimeout, "finalise a flow after it had no event for this long (bounds memory)")
	fl.StringVar(&o.From, "from", "end", fromHelp+" (where live ingest starts)")
	fl.StringArrayVar(&o.Flows, "flow", nil, "a flow definition '[NAME=]A -> B -> C' (repeatable); 'shop' is the demo's")
	fl.StringArrayVar(&o.Expect, "expect", nil, "an SLO rule '[NAME=]A -> B within 5s', eddy expect's syntax (repeatable)")
	fl.StringArrayVar(&o.DLQs, "dlq", nil, "a DLQ to watch: kafka:TOPIC or amqp:QUEUE (repeatable)")
	fl.StringArrayVar(&o.Lag, "lag", nil, "lag targets, as eddy lag's arguments (repeatable; default every group and queue configured)")
	fl.BoolVar(&o.NoLag, "no-lag", false, "export no lag")
	fl.BoolVar(&o.NoFlows, "no-flows", false, "read no flows (lag and DLQs only)")
	fl.StringVar(&o.OTLP, "otlp", "", "also push every metric with OTLP/HTTP to this endpoint (host:port, or http(s):// URL)")
	fl.IntVar(&o.MaxEdges, "max-edges", 50, "distinct edges per hop histogram; more fold into from/to=\"other\"")
	fl.StringVar(&o.Group, "group", "", "read Kafka flows as this consumer group: instances of one group share the partitions (the topics must be co-partitioned by correlation id; checked at start)")
	fl.DurationVar(&o.SessionTimeout, "session-timeout", 0, "with --group: how long the group waits for an instance that stopped answering (kill -9, a lost host) before its partitions move; within the brokers' group.min/max.session.timeout.ms (default 45s)")
	fl.StringVar(&o.OTLPSpans, "otlp-spans", "", "export flows as spans to this OTLP endpoint (grpc://HOST:PORT, HOST:PORT for gRPC, or http(s)://HOST:PORT) when they may be split across --group instances")
	fl.StringVar(&o.Spans, "spans", "auto", "with --otlp-spans: auto (only when the topics of a --group are not co-partitioned) or always")
	fl.IntVar(&o.MaxReasons, "max-reasons", 10, "distinct error reasons per DLQ; more fold into reason=\"other\"")
	return cmd
}

// merge applies the --config file under the flags given.
func (o *ServeOptions) merge(c *serve.FileConfig) {
	str := func(flag string, dst *string, v string) {
		if !o.set[flag] && v != "" {
			*dst = v
		}
	}
	str("listen", &o.Listen, c.Listen)
	str("from", &o.From, c.From)
	str("otlp", &o.OTLP, c.OTLP)
	str("otlp-spans", &o.OTLPSpans, c.OTLPSpans)
	str("spans", &o.Spans, c.Spans)
	if !o.set["interval"] && c.Interval > 0 {
		o.Interval = c.Interval
	}
	if !o.set["flow-timeout"] && c.FlowTimeout > 0 {
		o.FlowTimeout = c.FlowTimeout
	}
	if !o.set["max-edges"] && c.MaxEdges > 0 {
		o.MaxEdges = c.MaxEdges
	}
	if !o.set["max-reasons"] && c.MaxReasons > 0 {
		o.MaxReasons = c.MaxReasons
	}
}

func serveRun(ctx context.Context, f *Factory, o *ServeOptions) error {
	var file *serve.FileConfig
	if o.Config != "" {
		var err error
		if file, err = serve.LoadConfig(o.Config); err != nil {
			return asUsage(err)
		}
		o.merge(file)
	}
	if o.Interval <= 0 {
		return usagef("--interval %v: want a positive interval", o.Interval)
	}
	if o.FlowTimeout <= 0 {
		return usagef("--flow-timeout %v: want a positive duration", o.FlowTimeout)
	}
	if o.SessionTimeout < 0 {
		return usagef("--session-timeout %v: want a positive duration", o.SessionTimeout)
	}
	if o.SessionTimeout > 0 && o.Group == "" {
		return usagef("--session-timeout %v: it is a consumer group's: give --group too", o.SessionTimeout)
	}
	if o.MaxEdges < 1 || o.MaxReasons < 1 {
		return usagef("--max-edges %d, --max-reasons %d: want at least 1", o.MaxEdges, o.MaxReasons)
	}
	switch o.Spans {
	case "", "auto":
	case "always":
		if o.OTLPSpans == "" {
			return usagef("--spans always: give --otlp-spans ENDPOINT too")
		}
	default:
		return usagef("--spans %q: want auto or always", o.Spans)
	}
	from, err := bus.ParseFrom(o.From, f.Now())
	if err != nil {
		return usagef("--from: %v", err)
	}
	var defs []serve.FlowDef
	var rules []serve.Rule
	if file != nil {
		if defs, err = file.FlowDefs(o.Config); err != nil {
			return asUsage(err)
		}
		if rules, err = file.Rules(o.Config); err != nil {
			return asUsage(err)
		}
	}
	for _, s := range o.Flows {
		if s == "shop" || s == "demo" {
			s = "shop=" + shopFlow
		}
		d, err := serve.ParseFlowDef(s)
		if err != nil {
			return usagef("--flow: %v", err)
		}
		defs = append(defs, d)
	}
	for _, s := range o.Expect {
		r, err := serve.ParseRule(s)
		if err != nil {
			return usagef("--expect: %v", err)
		}
		rules = append(rules, r)
	}
	clusters := []serve.ClusterConfig{{Sources: o.Sources, Lag: o.Lag, NoLag: o.NoLag, NoFlows: o.NoFlows, DLQs: o.DLQs, Group: o.Group, SessionTimeout: o.SessionTimeout}}
	if file != nil && len(file.Clusters) > 0 {
		if len(o.Sources) > 0 || len(o.DLQs) > 0 || len(o.Lag) > 0 || o.Group != "" {
			return usagef("--config names clusters: give their sources, lag, DLQs and group there, not as arguments or flags")
		}
		clusters = file.Clusters
	}
	var cs []serve.Cluster
	for _, cc := range clusters {
		c, err := serveCluster(f, cc, from)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return usagef("--listen %s: %v", o.Listen, err)
	}
	defer ln.Close()
	pushes := &pushWatch{f: f, timeout: otlpTimeout(f)}
	var spans *trace.Exporter
	if o.OTLPSpans != "" {
		host, _ := os.Hostname()
		spans, err = trace.NewExporter(ctx, o.OTLPSpans, trace.WithTimeout(pushes.timeout),
			trace.WithInstance(fmt.Sprintf("%s-%d", host, os.Getpid())))
		if err != nil {
			// trace's errors name the flag its own commands have.
			return usagef("%s", strings.Replace(err.Error(), "--otlp", "--otlp-spans", 1))
		}
	}
	// The Go heap beside the RSS for bench/serve-soak.sh, as for a live
	// trace (bench/soak.sh): EDDY_TRACE_MEMSTATS=FILE.
	stopMem, err := logMemStats(f.Getenv("EDDY_TRACE_MEMSTATS"), 5*time.Second)
	if err != nil {
		return err
	}
	defer stopMem()
	err = serve.Run(ctx, ln, serve.Options{Spans: spans, SpansAlways: o.Spans == "always", Clusters: cs, Flows: defs, Rules: rules, FlowTimeout: o.FlowTimeout,
		Interval: o.Interval, MaxEdges: o.MaxEdges, MaxReasons: o.MaxReasons, ErrOut: f.IO.ErrOut, Clock: o.clock,
		OTLP:  lag.LagMetricsOptions{OTLPEndpoint: o.OTLP, OTLPTimeout: pushes.timeout, OnPush: pushes.report},
		Ready: o.ready, OnEndpoint: pushes.setEndpoint, CloseTimeout: pushes.timeout + otlpCloseMargin, OnFinal: pushes.final})
	if spans != nil {
		cctx, cancel := context.WithTimeout(context.Background(), pushes.timeout+otlpCloseMargin)
		if cerr := spans.Close(cctx); cerr != nil {
			fmt.Fprintf(f.IO.ErrOut, "eddy: serve: --otlp-spans: %s\n", cerr)
		}
		cancel()
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// serveCluster resolves one cluster: its context's settings (a copy of the
// factory, as the TUI's context switch makes), sources, lag and DLQs.
func serveCluster(first *Factory, cc serve.ClusterConfig, from bus.Position) (serve.Cluster, error) {
	f := first
	if cc.Context != "" {
		g := *f
		g.Global.Context, g.Global.Brokers, g.Global.AMQPURL, g.Global.AMQPMgmtURL = cc.Context, nil, "", ""
		g.Schemas.Registry, g.dec = "", &decoderState{}
		f = &g
	}
	name := cc.Name
	if name == "" {
		_, ctxName, err := f.CurrentContext()
		if err != nil {
			return serve.Cluster{}, err
		}
		if name = ctxName; name == "" {
			name = "default"
		}
	}
	c := serve.Cluster{Name: name, Kafka: func() (*kafka.Client, error) { return f.Kafka() }, AMQP: func() (*amqp.Client, error) { return f.AMQP() }}
	if !cc.NoFlows {
		a, err := all.Split(cc.Sources, "serve")
		if err != nil {
			return serve.Cluster{}, usagef("cluster %s: %v", name, err)
		}
		if len(a.Files) > 0 {
			return serve.Cluster{}, usagef("cluster %s: serve reads live brokers, not captures (file:)", name)
		}
		a.EveryTopic = len(cc.Sources) == 0
		c.Group, c.KafkaAddrs, c.EveryTopic = cc.Group, a.Kafka, a.EveryTopic
		// In a group the instances share the partitions: several members
		// are the point (Force), and each partition starts where the
		// group committed (From only for those without a commit).
		// Co-partitioned topics keep a flow on one instance only if
		// partition p of each goes to one member: the range assignor.
		read := bus.ReadOptions{From: from, Group: cc.Group, Force: cc.Group != "", CoPartitioned: cc.Group != "", SessionTimeout: cc.SessionTimeout}
		if c.Schema, err = f.Schema(); err != nil {
			return serve.Cluster{}, err
		}
		if err := c.Schema.Compile(); err != nil {
			return serve.Cluster{}, err
		}
		c.Sources = func(ctx context.Context) (bus.Source, error) {
			clients, err := decodingClients(f, nil, nil)
			if err != nil {
				return nil, err
			}
			return all.Sources(ctx, clients, a, all.Read{Brokers: read})
		}
	}
	if !cc.NoLag {
		if _, err := lag.ParseTargets(cc.Lag); err != nil {
			return serve.Cluster{}, usagef("cluster %s: --lag: %v", name, err)
		}
		c.Lag = func() (*lag.LagMonitor, func(), error) {
			m, closeFn, err := lagMonitor(f, cc.Lag, lag.DefaultWindow, false)
			if err == nil {
				m.Skip = lag.IsJobGroup
			}
			return m, closeFn, err
		}
	}
	if len(cc.DLQs) > 0 {
		a, err := all.Split(cc.DLQs, "serve --dlq")
		if err != nil {
			return serve.Cluster{}, usagef("cluster %s: --dlq: %v", name, err)
		}
		if len(a.Files) > 0 {
			return serve.Cluster{}, usagef("cluster %s: --dlq: kafka:TOPIC or amqp:QUEUE, not a capture", name)
		}
		c.DLQs = append(append(c.DLQs, a.Kafka...), a.AMQP...)
		c.Letters = func(ctx context.Context) (bus.Source, error) {
			return all.Sources(ctx, sourceClients(f, nil, nil), a, all.Read{Brokers: bus.ReadOptions{From: bus.Position{Kind: bus.PosEnd}}})
		}
	}
	return c, nil
}
