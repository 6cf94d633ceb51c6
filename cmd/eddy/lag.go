package main

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/lag"
)

// LagOptions are `eddy lag`'s flags and arguments.
type LagOptions struct {
	Targets         []string
	Output          string
	Watch           time.Duration
	Samples         int
	Window          int
	FailOn          []string
	Partitions      bool
	ReadUncommitted bool
	// Jobs lists eddy's own redrive and replay job groups too.
	Jobs bool
}

// LagServeOptions are `eddy lag serve`'s.
type LagServeOptions struct {
	Targets         []string
	Listen          string
	Interval        time.Duration
	Window          int
	OTLP            string
	ReadUncommitted bool
	Jobs            bool

	// ready, when set, is called with the address the server listens on.
	ready func(addr string)
}

func newCmdLag(f *Factory, runF func(context.Context, *LagOptions) error) *cobra.Command {
	o := &LagOptions{}
	cmd := &cobra.Command{
		Use:   "lag [GROUP... | kafka: | amqp: | amqp:QUEUE...]",
		Short: "Consumer lag in records and seconds, health status and CI gates",
		Long:  helptext.Lag + lag.ColumnsHelp + "\n\n" + lag.StatusHelp + "\n\n" + lag.GatesHelp + "\n\n" + lag.OutputHelp,
		Example: `  eddy lag
  eddy lag payments shipping --per-partition
  eddy lag --watch 5s
  eddy lag -o json | jq '.groups[] | {group, lag, time_lag_seconds}'
  # CI: fail when any group is more than 30 s behind or payments is unhealthy
  eddy lag --watch 5s --samples 6 --fail-on 'time_lag>30s' --fail-on 'payments:status>=WARN'
  eddy lag amqp:orders.q --fail-on 'lag>1000'`,
		// Groups are arguments next to the serve subcommand; a group named
		// serve is kafka:serve.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			if cmd.Flags().Changed("partitions") {
				// On stderr: cobra's own deprecation notice goes to stdout,
				// into the table a script reads.
				notef(f.IO.ErrOut, "warning: lag --partitions is deprecated: use --per-partition (-P); --partitions names partitions, as in eddy tail -p 0,2")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return lagRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	lagOutput.bind(fl, &o.Output)
	fl.DurationVarP(&o.Watch, "watch", "w", 0, "sample every INTERVAL until interrupted (status needs at least two samples)")
	fl.IntVar(&o.Samples, "samples", 0, "with --watch: stop after N samples (the gates judge the last)")
	fl.IntVar(&o.Window, "window", lag.DefaultWindow, "samples the status rules look at")
	fl.StringArrayVar(&o.FailOn, "fail-on", nil, "exit 3 when a threshold is crossed: [TARGET:]lag|offset_lag|time_lag|status OP VALUE (repeatable)")
	fl.BoolVarP(&o.Partitions, "per-partition", "P", false, "table: a row per partition, with its owner")
	// --partitions means a list of partitions everywhere (tail -p 0,2);
	// lag's old boolean spelling still works, with a deprecation notice.
	fl.BoolVar(&o.Partitions, "partitions", false, "deprecated: --per-partition")
	_ = fl.MarkHidden("partitions")
	fl.BoolVar(&o.ReadUncommitted, "read-uncommitted", false, "Kafka: lag up to the high watermark, counting open and aborted transactions (default: read_committed, the last stable offset)")
	fl.BoolVar(&o.Jobs, "jobs", false, "also list eddy's own redrive and replay job groups (eddy-redrive-*, eddy-replay-*), left out by default")
	cmd.AddCommand(newCmdLagServe(f, nil))
	return cmd
}

func newCmdLagServe(f *Factory, runF func(context.Context, *LagServeOptions) error) *cobra.Command {
	o := &LagServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve [GROUP... | kafka: | amqp: | amqp:QUEUE...]",
		Short: "Export lag as Prometheus metrics (and OTLP)",
		Long: helptext.LagServe + lag.LagMetricNames + `

` + lag.StatusHelp,
		Example: `  eddy lag serve --listen 127.0.0.1:9308
  eddy lag serve payments --interval 10s --otlp http://otel-collector:4318`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return lagServeRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:9308", "address of the metrics endpoint")
	fl.DurationVar(&o.Interval, "interval", 15*time.Second, "how often to sample")
	fl.IntVar(&o.Window, "window", lag.DefaultWindow, "samples the status rules look at")
	fl.StringVar(&o.OTLP, "otlp", "", "also push metrics with OTLP/HTTP to this endpoint (host:port, or http(s):// URL)")
	fl.BoolVar(&o.ReadUncommitted, "read-uncommitted", false, "Kafka: lag up to the high watermark (default: the last stable offset)")
	fl.BoolVar(&o.Jobs, "jobs", false, "also export eddy's own redrive and replay job groups, left out by default")
	return cmd
}

// lagMonitor sorts arguments into groups and queues and opens the
// transports to ask: those named, or else the configured ones.
func lagMonitor(f *Factory, targets []string, window int, uncommitted bool) (m *lag.LagMonitor, closeFn func(), err error) {
	t, err := lag.ParseTargets(targets)
	if err != nil {
		return nil, nil, asUsage(err)
	}
	if window < 2 {
		return nil, nil, usagef("--window %d: want at least 2 samples", window)
	}
	return lag.Open(t, lag.OpenOptions{Window: window, Now: f.Now, ReadUncommitted: uncommitted, Kafka: f.Kafka, AMQP: f.AMQP,
		Configured: func() (bool, bool, error) { return configuredTransports(f) }})
}

func lagRun(ctx context.Context, f *Factory, o *LagOptions) error {
	format := lagOutput.resolve(o.Output, f.IO)
	if o.Output == "" && !f.IO.OutTTY && o.Watch > 0 {
		format = "jsonl" // a line per sample
	}
	if err := lag.CheckWatch(o.Watch, o.Samples); err != nil {
		return err
	}
	checks, err := lag.ParseLagChecks(o.FailOn)
	if err != nil {
		return asUsage(err)
	}
	m, closeFn, err := lagMonitor(f, o.Targets, o.Window, o.ReadUncommitted)
	if err != nil {
		return err
	}
	defer closeFn()
	if !o.Jobs {
		m.Skip = lag.IsJobGroup
	}
	err = lag.Watch(ctx, m, lag.WatchOptions{Out: f.IO.Out, ErrOut: f.IO.ErrOut, Every: o.Watch, Samples: o.Samples,
		Redraw: format == "table" && o.Watch > 0 && f.IO.OutTTY, Checks: checks, NoteUnjudged: !f.IO.OutTTY && format != "table",
		Write: inspect.LagWriteOptions{Format: format, Partitions: o.Partitions, Color: f.IO.Color(), Width: f.IO.Width}})
	if errors.Is(err, lag.ErrPartial) {
		return &silentError{code: ExitPartial}
	}
	return err
}

func lagServeRun(ctx context.Context, f *Factory, o *LagServeOptions) error {
	if o.Interval <= 0 {
		return usagef("--interval %v: want a positive interval", o.Interval)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return usagef("--listen %s: %v", o.Listen, err)
	}
	defer ln.Close()
	m, closeFn, err := lagMonitor(f, o.Targets, o.Window, o.ReadUncommitted)
	if err != nil {
		return err
	}
	defer closeFn()
	if !o.Jobs {
		m.Skip = lag.IsJobGroup
	}
	pushes := &pushWatch{f: f, timeout: otlpTimeout(f)}
	return lag.Serve(ctx, m, ln, lag.ServeOptions{ErrOut: f.IO.ErrOut, Interval: o.Interval, Ready: o.ready,
		Metrics:    lag.LagMetricsOptions{OTLPEndpoint: o.OTLP, OTLPTimeout: pushes.timeout, OnPush: pushes.report},
		OnEndpoint: pushes.setEndpoint, CloseTimeout: pushes.timeout + otlpCloseMargin, OnFinal: pushes.final})
}
