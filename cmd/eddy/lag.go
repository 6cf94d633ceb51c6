package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/replay/eos"
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

const lagStatusHelp = `STATUS (Burrow's rules, over a window of samples of each partition)
  1. lag 0 now or at any sample in the window              OK
  2. the committed offset went backwards                   REWIND
  3. no commit for longer than the window's commits span   STOP
  4. committed offset unchanged over the window            STALL
  5. offset moves but lag never decreases                  WARN  (too slow)
  otherwise                                                OK
  A group is its worst partition, with STOP, STALL and REWIND counted as ERR
  (the table shows "ERR (STALL)"). Not Burrow's: a partition whose committed
  offset is beyond the log end is ERR at once ("ERR (commit beyond end)"). Burrow sees every commit; eddy samples, so
  it takes a partition owned by a live member as committing at each sample and
  an unowned one as last committed when its offset last moved: a consumer that
  hangs in its group is STALL, one that left it is STOP.
  One sample can only say OK (lag 0); a lagging partition shows "?" (UNKNOWN)
  until --watch has taken two samples. The window is --window samples (10).`

func newCmdLag(f *Factory, runF func(context.Context, *LagOptions) error) *cobra.Command {
	o := &LagOptions{}
	cmd := &cobra.Command{
		Use:   "lag [GROUP... | kafka: | amqp: | amqp:QUEUE...]",
		Short: "Consumer lag in records and seconds, health status and CI gates",
		Long: `Consumer lag of Kafka consumer groups and RabbitMQ queues, in records and in
seconds, with a health status for each group.

With no arguments eddy reports every consumer group and every queue of the
configured transports. GROUP names Kafka groups; kafka: means every group;
amqp: every queue of the vhost; amqp:QUEUE names queues (kafka:GROUP names a
group called like a subcommand, e.g. kafka:serve). eddy's own job groups
(eddy-redrive-JOB, eddy-replay-JOB) are not consumers: a finished job has no
member and counts what arrived since as lag, which Burrow's rules would call
ERR (STOP). They are left out of "every group" (stderr says how many; JSON
hidden_jobs) and so out of gates and metrics; --jobs lists them, and naming one
shows it.

KAFKA, per group, topic and partition
  COMMITTED  the group's committed offset ("-": it committed nothing there)
  END        the last stable offset (the end a read_committed consumer sees;
             --read-uncommitted: the high watermark)
  LAG        records still to read before END: eddy reads the partition from
             the committed offset (read_committed) and counts the records, so
             transaction markers, aborted records and offsets compaction
             removed are not lag. Exact within a read budget of 1 MiB of
             record batches past the first unread record, and --timeout for
             the whole sample; beyond it the lag is a range, shown "≤N" (at
             most N: the records counted plus every offset not read; -o json:
             lag_exact false, lag_min the least, a note). -o json also has
             offset_lag, the high watermark minus COMMITTED: what
             kafka-consumer-groups shows (it counts markers, aborted records
             and open transactions).
  TIME LAG   now minus the timestamp of the first unread record, found however
             far past the committed offset it is (within --timeout). 0 when
             the group is at the end. Unknown ("-", with a reason) when that
             record has no timestamp (-1) or one more than 1 s in the future;
             a group's time lag with such a partition is a lower bound, "≥".
             Reads are cached: a --watch refresh reads only where a committed
             offset or the end moved.
  Totals per group and topic; --partitions shows each partition and the
  client that owns it. A committed offset below the log start (retention,
  compaction, DeleteRecords) counts from the log start and says how many
  records were lost; a committed offset beyond the log end (a truncated or
  recreated topic: the consumer will reset by its auto.offset.reset) is
  status ERR ("commit beyond end") with lag unknown; a deleted topic shows
  "-" with a note. KIP-848 groups
  (group.protocol=consumer) are described with the new protocol.
  Reading changes nothing: eddy joins no group and commits nothing.

RABBITMQ, per queue
  READY, UNACKED, CONSUMERS and publish/deliver/ack rates from the management
  API; HEAD AGE is now minus the timestamp property of the oldest ready
  message, which the management API reports for classic queues (nothing is
  consumed). Unknown ("-", null in JSON): without the management API (unacked,
  rates, head age), for quorum and stream queues and for messages without a
  timestamp property (head age).

` + lagStatusHelp + `

GATES
  --fail-on '[TARGET:]METRIC OP VALUE' (repeatable) exits 3 and lists the
  violations when a group or queue crosses it. METRIC: lag, offset_lag,
  time_lag (30s, 5m), status (OK < WARN < ERR < STOP < STALL < REWIND, so
  status>=ERR also catches STOP, STALL and REWIND). OP: > >= < <= == !=.
  TARGET: a group or queue name or glob; none means all. Unknown values never
  violate; a named target that does not exist does. A figure known only as a
  range (a lag "≤N", a time lag "≥D") violates unless every value of the
  range passes: a gate never passes on a count eddy could not finish.

OUTPUT
  -o table (terminal), tsv (pipe), json (schema in the README; null is
  unknown), jsonl (one JSON object per sample: the default of --watch in a
  pipe). --watch INTERVAL samples until Ctrl-C (or --samples N), redrawing the
  table on a terminal.`,
		Example: `  eddy lag
  eddy lag payments shipping --partitions
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
	fl.BoolVarP(&o.Partitions, "partitions", "P", false, "table: a row per partition, with its owner")
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
		Long: `Sample lag every --interval and serve the figures as Prometheus metrics on
http://LISTEN/metrics; with --otlp, also push them with OTLP/HTTP. Targets are
those of eddy lag. Unknown values are left out rather than made up.

Each push, and the last one when serve stops, is bounded by --timeout. A push
that fails is one line on stderr when a run of failures starts (not one per
--interval), and one line says when pushes arrive again; serving goes on, and
the exit status is not changed by it (130 on the interrupt that stops serve).

METRICS
` + lag.LagMetricNames + `

` + lagStatusHelp,
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

// lagTargets sorts arguments into groups and queues and decides which
// transports to ask.
func lagMonitor(f *Factory, targets []string, window int, uncommitted bool) (m *lag.LagMonitor, closeFn func(), err error) {
	var wantKafka, wantAMQP bool
	var groups, queues []string
	for _, t := range targets {
		switch {
		case t == "kafka:" || t == "kafka":
			wantKafka = true
		case t == "amqp:" || t == "amqp":
			wantAMQP = true
		case strings.HasPrefix(t, "amqp:"):
			wantAMQP = true
			queues = append(queues, strings.TrimPrefix(t, "amqp:"))
		case strings.HasPrefix(t, "kafka:"):
			wantKafka = true
			groups = append(groups, strings.TrimPrefix(t, "kafka:"))
		case t == "":
			return nil, nil, usagef("lag: empty group name")
		default:
			wantKafka = true
			groups = append(groups, t)
		}
	}
	if window < 2 {
		return nil, nil, usagef("--window %d: want at least 2 samples", window)
	}
	if !wantKafka && !wantAMQP {
		if wantKafka, wantAMQP, err = configuredTransports(f); err != nil {
			return nil, nil, err
		}
		if !wantKafka && !wantAMQP {
			wantKafka, wantAMQP = true, true
		}
	}
	m = &lag.LagMonitor{Groups: groups, Queues: queues, Window: window, Now: f.Now, Isolation: "read_committed"}
	var closers []func()
	closeFn = func() {
		for _, c := range closers {
			c()
		}
	}
	if wantKafka {
		var opts []kafka.Option
		if uncommitted {
			opts = append(opts, kafka.WithReadUncommitted())
			m.Isolation = "read_uncommitted"
		}
		c, err := f.Kafka(opts...)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, c.Close)
		m.Kafka = c.LagReader()
	}
	if wantAMQP {
		c, err := f.AMQP()
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		closers = append(closers, func() { c.Close() })
		m.AMQP = c
	}
	return m, closeFn, nil
}

func lagRun(ctx context.Context, f *Factory, o *LagOptions) error {
	format := lagOutput.resolve(o.Output, f.IO)
	if o.Output == "" && !f.IO.OutTTY && o.Watch > 0 {
		format = "jsonl" // a line per sample
	}
	if o.Watch < 0 {
		return usagef("--watch %v: want a positive interval", o.Watch)
	}
	if o.Samples < 0 || o.Samples > 0 && o.Watch == 0 {
		return usagef("--samples goes with --watch and wants a count >= 1")
	}
	var checks []lag.LagCheck
	for _, s := range o.FailOn {
		c, err := lag.ParseLagCheck(s)
		if err != nil {
			return asUsage(err)
		}
		checks = append(checks, c)
	}
	m, closeFn, err := lagMonitor(f, o.Targets, o.Window, o.ReadUncommitted)
	if err != nil {
		return err
	}
	defer closeFn()
	if !o.Jobs {
		m.Skip = isEddyJobGroup
	}
	saidHidden := false
	redraw := format == "table" && o.Watch > 0 && f.IO.OutTTY
	wo := inspect.LagWriteOptions{Format: format, Partitions: o.Partitions, Color: f.IO.Color(), Width: f.IO.Width}
	var tick *time.Ticker
	if o.Watch > 0 {
		tick = time.NewTicker(o.Watch)
		defer tick.Stop()
	}
	for n := 1; ; n++ {
		s, err := m.Sample(ctx)
		if err != nil {
			return err
		}
		if redraw {
			fmt.Fprint(f.IO.Out, "\x1b[H\x1b[2J") // home and clear: a live table
			fmt.Fprintf(f.IO.Out, "eddy lag  every %v  %s  sample %d (window %d/%d)\n\n", o.Watch, s.Time.Format("15:04:05"), n, s.Samples, s.Window)
		}
		if err := inspect.WriteLag(f.IO.Out, s, wo); err != nil {
			return err
		}
		for _, e := range s.Errors {
			fmt.Fprintf(f.IO.ErrOut, "eddy: %s\n", inspect.SafeString(e))
		}
		if s.Hidden > 0 && !saidHidden {
			saidHidden = true
			fmt.Fprintf(f.IO.ErrOut, "eddy: lag: %d of eddy's own redrive or replay job groups not listed (--jobs lists them)\n", s.Hidden)
		}
		last := o.Watch == 0 || o.Samples > 0 && n >= o.Samples
		if last {
			if o.Watch == 0 && !f.IO.OutTTY && hasUnjudged(s) && format != "table" {
				fmt.Fprintln(f.IO.ErrOut, "eddy: status UNKNOWN: one sample tells only lag 0 = OK; WARN, STALL, STOP and REWIND need --watch (two samples or more)")
			}
			if v := lag.CheckLag(s, checks); len(v) > 0 {
				for _, x := range v {
					fmt.Fprintf(f.IO.ErrOut, "eddy: --fail-on %s\n", x)
				}
				return &silentError{code: ExitPartial}
			}
			if len(s.Errors) > 0 {
				return &silentError{code: ExitPartial}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func hasUnjudged(s *inspect.LagSnapshot) bool {
	for _, g := range s.Groups {
		if g.Status == inspect.StatusUnknown && g.Err == "" {
			return true
		}
	}
	return false
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
		m.Skip = isEddyJobGroup
	}
	pushes := &pushWatch{f: f, timeout: otlpTimeout(f)}
	metrics, err := lag.NewLagMetrics(ctx, lag.LagMetricsOptions{OTLPEndpoint: o.OTLP, PushInterval: o.Interval,
		OTLPTimeout: pushes.timeout, OnPush: pushes.report})
	if err != nil {
		return asUsage(fmt.Errorf("--otlp: %w", err))
	}
	pushes.setEndpoint(metrics.OTLPEndpoint())
	defer func() {
		// The last push, bounded like every push.
		sctx, cancel := context.WithTimeout(context.Background(), pushes.timeout+otlpCloseMargin)
		defer cancel()
		if err := metrics.Shutdown(sctx); err != nil && o.OTLP != "" {
			pushes.final(err)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "eddy lag serve: metrics at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer srv.Close()

	sample := func() {
		start := time.Now()
		s, err := m.Sample(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(f.IO.ErrOut, "eddy: lag sample failed: %s\n", inspect.SafeString(err.Error()))
			}
			return
		}
		for _, e := range s.Errors {
			fmt.Fprintf(f.IO.ErrOut, "eddy: %s\n", inspect.SafeString(e))
		}
		metrics.Update(s, time.Since(start))
	}
	sample()
	fmt.Fprintf(f.IO.ErrOut, "eddy: serving lag metrics on http://%s/metrics every %v\n", ln.Addr(), o.Interval)
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-tick.C:
			sample()
		}
	}
}

// isEddyJobGroup reports whether group is one of eddy's own jobs: a redrive's
// or a replay's consumer group, which the lag commands leave out unless asked.
func isEddyJobGroup(group string) bool {
	return strings.HasPrefix(group, dlq.RedriveGroup("")) || strings.HasPrefix(group, eos.GroupName(""))
}
