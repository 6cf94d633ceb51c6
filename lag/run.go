package lag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/replay/eos"
)

// Targets are eddy lag's arguments sorted by transport.
type Targets struct {
	// Kafka and AMQP say which transports the arguments name; neither
	// means "the configured transports", the caller's decision.
	Kafka, AMQP bool
	// Groups and Queues are the names given, nil for every one.
	Groups, Queues []string
}

// ParseTargets sorts arguments into groups and queues: kafka: is every
// group, amqp: every queue, amqp:QUEUE a queue, kafka:GROUP or a bare name a
// group. Its error is the user's (a usage error).
func ParseTargets(targets []string) (Targets, error) {
	var t Targets
	for _, s := range targets {
		switch {
		case s == "kafka:" || s == "kafka":
			t.Kafka = true
		case s == "amqp:" || s == "amqp":
			t.AMQP = true
		case strings.HasPrefix(s, "amqp:"):
			t.AMQP = true
			t.Queues = append(t.Queues, strings.TrimPrefix(s, "amqp:"))
		case strings.HasPrefix(s, "kafka:"):
			t.Kafka = true
			t.Groups = append(t.Groups, strings.TrimPrefix(s, "kafka:"))
		case s == "":
			return Targets{}, errors.New("lag: empty group name")
		default:
			t.Kafka = true
			t.Groups = append(t.Groups, s)
		}
	}
	return t, nil
}

// OpenOptions are how Open reaches the brokers.
type OpenOptions struct {
	Window          int
	Now             func() time.Time
	ReadUncommitted bool
	Kafka           func(...kafka.Option) (*kafka.Client, error)
	AMQP            func(...amqp.Option) (*amqp.Client, error)
	// Configured, when the targets name no transport, says which the
	// connection settings name; when they name neither, both are asked.
	Configured func() (kafka, amqp bool, err error)
}

// Open builds a LagMonitor of t's transports, opening their clients;
// closeFn closes them.
func Open(t Targets, o OpenOptions) (m *LagMonitor, closeFn func(), err error) {
	if !t.Kafka && !t.AMQP && o.Configured != nil {
		if t.Kafka, t.AMQP, err = o.Configured(); err != nil {
			return nil, nil, err
		}
		if !t.Kafka && !t.AMQP {
			t.Kafka, t.AMQP = true, true
		}
	}
	m = &LagMonitor{Groups: t.Groups, Queues: t.Queues, Window: o.Window, Now: o.Now, Isolation: "read_committed"}
	var closers []func()
	closeFn = func() {
		for _, c := range closers {
			c()
		}
	}
	if t.Kafka {
		var opts []kafka.Option
		if o.ReadUncommitted {
			opts = append(opts, kafka.WithReadUncommitted())
			m.Isolation = "read_uncommitted"
		}
		c, err := o.Kafka(opts...)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, c.Close)
		m.Kafka = c.LagReader()
	}
	if t.AMQP {
		c, err := o.AMQP()
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		closers = append(closers, func() { c.Close() })
		m.AMQP = c
	}
	return m, closeFn, nil
}

// ErrPartial is Watch's error when it reported a crossed gate or a target
// that could not be read: everything is said, the exit status is partial.
var ErrPartial = errors.New("lag: partial result or a gate crossed")

// ParseLagChecks parses --fail-on expressions.
func ParseLagChecks(specs []string) ([]LagCheck, error) {
	var checks []LagCheck
	for _, s := range specs {
		c, err := ParseLagCheck(s)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// IsJobGroup reports whether group is one of eddy's own jobs: a redrive's
// or a replay's consumer group, which the lag commands leave out unless asked.
func IsJobGroup(group string) bool {
	return strings.HasPrefix(group, dlq.RedriveGroup("")) || strings.HasPrefix(group, eos.GroupName(""))
}

// CheckWatch checks --watch and --samples; its error is a usage error.
func CheckWatch(every time.Duration, samples int) error {
	if every < 0 {
		return cmdutil.Usagef("--watch %v: want a positive interval", every)
	}
	if samples < 0 || samples > 0 && every == 0 {
		return cmdutil.Usagef("--samples goes with --watch and wants a count >= 1")
	}
	return nil
}

// WatchOptions are eddy lag's sampling loop.
type WatchOptions struct {
	Out, ErrOut io.Writer
	// Every is the --watch interval; 0 takes one sample.
	Every time.Duration
	// Samples stops a watch after that many samples; 0 watches until ctx ends.
	Samples int
	// Redraw clears the terminal and writes a header before each sample.
	Redraw bool
	Write  inspect.LagWriteOptions
	Checks []LagCheck
	// NoteUnjudged says on ErrOut, after a single sample, that a status
	// UNKNOWN needs --watch.
	NoteUnjudged bool
}

// Watch samples m, writes each sample and judges the last by the gates.
func Watch(ctx context.Context, m *LagMonitor, o WatchOptions) error {
	saidHidden := false
	var tick *time.Ticker
	if o.Every > 0 {
		tick = time.NewTicker(o.Every)
		defer tick.Stop()
	}
	for n := 1; ; n++ {
		s, err := m.Sample(ctx)
		if err != nil {
			return err
		}
		if o.Redraw {
			fmt.Fprint(o.Out, "\x1b[H\x1b[2J") // home and clear: a live table
			fmt.Fprintf(o.Out, "eddy lag  every %v  %s  sample %d (window %d/%d)\n\n", o.Every, s.Time.Format("15:04:05"), n, s.Samples, s.Window)
		}
		if err := inspect.WriteLag(o.Out, s, o.Write); err != nil {
			return err
		}
		for _, e := range s.Errors {
			fmt.Fprintf(o.ErrOut, "eddy: %s\n", inspect.SafeString(e))
		}
		if s.Hidden > 0 && !saidHidden {
			saidHidden = true
			fmt.Fprintf(o.ErrOut, "eddy: lag: %d of eddy's own redrive or replay job groups not listed (--jobs lists them)\n", s.Hidden)
		}
		last := o.Every == 0 || o.Samples > 0 && n >= o.Samples
		if last {
			if o.Every == 0 && o.NoteUnjudged && hasUnjudged(s) {
				fmt.Fprintln(o.ErrOut, "eddy: status UNKNOWN: one sample tells only lag 0 = OK; WARN, STALL, STOP and REWIND need --watch (two samples or more)")
			}
			if v := CheckLag(s, o.Checks); len(v) > 0 {
				for _, x := range v {
					fmt.Fprintf(o.ErrOut, "eddy: --fail-on %s\n", x)
				}
				return ErrPartial
			}
			if len(s.Errors) > 0 {
				return ErrPartial
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

// ServeOptions are eddy lag serve's loop.
type ServeOptions struct {
	ErrOut   io.Writer
	Interval time.Duration
	// Metrics configure the metrics; their PushInterval is Interval.
	Metrics LagMetricsOptions
	// OnEndpoint, when set, is told the OTLP endpoint as messages show it.
	OnEndpoint func(string)
	// CloseTimeout bounds the last push when Serve returns; OnFinal, when
	// set and there is an OTLP endpoint, is told that push's error.
	CloseTimeout time.Duration
	OnFinal      func(error)
	// Ready, when set, is called with the address the server listens on.
	Ready func(addr string)
}

// Serve samples m every o.Interval into o.Metrics and serves them on ln at
// /metrics until ctx ends (its error) or the server fails; a bad OTLP
// endpoint is a usage error.
func Serve(ctx context.Context, m *LagMonitor, ln net.Listener, o ServeOptions) error {
	mo := o.Metrics
	mo.PushInterval = o.Interval
	metrics, err := NewLagMetrics(ctx, mo)
	if err != nil {
		return cmdutil.AsUsage(fmt.Errorf("--otlp: %w", err))
	}
	if o.OnEndpoint != nil {
		o.OnEndpoint(metrics.OTLPEndpoint())
	}
	defer func() {
		// The last push, bounded like every push.
		sctx, cancel := context.WithTimeout(context.Background(), o.CloseTimeout)
		defer cancel()
		if err := metrics.Shutdown(sctx); err != nil && mo.OTLPEndpoint != "" && o.OnFinal != nil {
			o.OnFinal(err)
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
				fmt.Fprintf(o.ErrOut, "eddy: lag sample failed: %s\n", inspect.SafeString(err.Error()))
			}
			return
		}
		for _, e := range s.Errors {
			fmt.Fprintf(o.ErrOut, "eddy: %s\n", inspect.SafeString(e))
		}
		metrics.Update(s, time.Since(start))
	}
	sample()
	fmt.Fprintf(o.ErrOut, "eddy: serving lag metrics on http://%s/metrics every %v\n", ln.Addr(), o.Interval)
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
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
