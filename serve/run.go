package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	promb "go.opentelemetry.io/contrib/bridges/prometheus"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/trace"
)

// Cluster is what eddy serve watches in one cluster (a context): its live
// flows, its lag and its DLQs. Each part is optional.
type Cluster struct {
	// Name is the cluster label.
	Name string
	// Sources opens the live flow sources (from --from, the end by
	// default); nil: no flows.
	Sources func(ctx context.Context) (bus.Source, error)
	Schema  *event.Schema
	// Lag opens the lag monitor; nil: no lag.
	Lag func() (*lag.LagMonitor, func(), error)
	// DLQs are watched: depth and oldest age by Kafka and AMQP (the
	// clients), inflow and reasons from Letters, a live source of them.
	DLQs    []bus.Address
	Letters func(ctx context.Context) (bus.Source, error)
	Kafka   func() (*kafka.Client, error)
	AMQP    func() (*amqp.Client, error)
	// Group, when set, is the consumer group the flow sources read Kafka
	// as (Sources applies it): instances of one group share the
	// partitions. KafkaAddrs and EveryTopic are the flow sources' Kafka
	// topics, checked for co-partitioning at start.
	Group      string
	KafkaAddrs []bus.Address
	EveryTopic bool
}

// Options configure Run.
type Options struct {
	Clusters    []Cluster
	Flows       []FlowDef
	Rules       []Rule
	FlowTimeout time.Duration
	// Interval is how often lag and DLQ depths are sampled and OTLP pushed.
	Interval   time.Duration
	MaxEdges   int
	MaxReasons int
	// OTLP: the endpoint (with lag's options: timeout, OnPush); the push
	// carries the lag metrics and, through the Prometheus bridge, the rest.
	OTLP   lag.LagMetricsOptions
	ErrOut io.Writer
	// Clock is the flows' idleness clock (tests); nil: time.Now.
	Clock func() time.Time
	// Ready, when set, is called with the address served once listening.
	Ready func(addr string)
	// OnEndpoint is told the OTLP endpoint as messages show it.
	OnEndpoint func(string)
	// CloseTimeout bounds the last push and the end of scrapes in flight;
	// OnFinal is told the last push's error.
	CloseTimeout time.Duration
	OnFinal      func(error)
	// Spans, when set, receives each finalised flow (or the part of it
	// this instance saw) as spans under the flow's own trace id
	// (trace.Exporter.ExportShared) from the clusters whose flows may be
	// split across instances: with a Group, when the co-partitioning check
	// says the topics are not co-partitioned or cannot tell; from every
	// cluster when SpansAlways. The caller closes it after Run.
	Spans       *trace.Exporter
	SpansAlways bool
}

// readiness is what /readyz reports: every part of every cluster answered
// once.
type readiness struct {
	mu      sync.Mutex
	pending map[string]string // "cluster part" -> why not yet
	order   []string
}

func (r *readiness) want(part string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[part] = "not answered yet"
	r.order = append(r.order, part)
}

func (r *readiness) set(part string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pending[part]; !ok {
		return // answered once: ready stays
	}
	if err == nil {
		delete(r.pending, part)
		return
	}
	r.pending[part] = oneLine(err.Error())
}

// why is "" when ready, else the first part not ready and why.
func (r *readiness) why() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.order {
		if w, ok := r.pending[p]; ok {
			return p + ": " + w
		}
	}
	return ""
}

func oneLine(s string) string {
	s = inspect.SafeString(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Run serves the metrics of o's clusters on ln (/metrics, /healthz,
// /readyz) until ctx ends, then shuts down: ingest stops, the last OTLP push
// is made and scrapes in flight finish. It returns nil after an orderly
// shutdown, or the server's error; a bad OTLP endpoint is a usage error.
func Run(ctx context.Context, ln net.Listener, o Options) error {
	if o.FlowTimeout <= 0 {
		o.FlowTimeout = trace.DefaultTimeout
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 10 * time.Second
	}
	m := NewMetrics(o.MaxEdges, o.MaxReasons)
	lo := o.OTLP
	lo.PushInterval, lo.ClusterLabel = o.Interval, true
	lo.Producer = promb.NewMetricProducer(promb.WithGatherer(m.Registry))
	lm, err := lag.NewLagMetrics(ctx, lo)
	if err != nil {
		return cmdutil.AsUsage(fmt.Errorf("--otlp: %w", err))
	}
	if o.OnEndpoint != nil {
		o.OnEndpoint(lm.OTLPEndpoint())
	}
	ready := &readiness{pending: map[string]string{}}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(lm, m))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := ready.why(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "eddy serve: metrics at /metrics, /healthz, /readyz")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range o.Clusters {
		if c.Sources != nil {
			part := "cluster " + c.Name + " flows"
			ready.want(part)
			rec := m.NewRecorder(c.Name, o.Flows, o.Rules)
			wg.Go(func() { runFlows(wctx, c, rec, o, func(err error) { ready.set(part, err) }) })
		}
		if c.Lag != nil {
			part := "cluster " + c.Name + " lag"
			ready.want(part)
			wg.Go(func() {
				runLag(wctx, c, lm, o, func(err error) { ready.set(part, err) })
			})
		}
		if len(c.DLQs) > 0 {
			part := "cluster " + c.Name + " DLQs"
			ready.want(part)
			wg.Go(func() { runDLQs(wctx, c, m, o, func(err error) { ready.set(part, err) }) })
		}
	}
	fmt.Fprintf(o.ErrOut, "eddy: serving on http://%s/metrics (%d cluster(s), every %v)\n", ln.Addr(), len(o.Clusters), o.Interval)
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = err
		}
	}
	stop()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), o.CloseTimeout)
	defer cancel()
	// The last push, with the figures as ingest left them; then the
	// scrapes in flight finish (Shutdown waits for them).
	if err := lm.Shutdown(sctx); err != nil && o.OTLP.OTLPEndpoint != "" && o.OnFinal != nil {
		o.OnFinal(err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return runErr
}

// metricsHandler serves /metrics: the lag metrics as gathered and encoded
// once per sample, the flow metrics gathered at each scrape (they move with
// every event), in the exposition format asked for — what
// promhttp.HandlerFor(prometheus.Gatherers{lm.Registry(), m.Registry},
// ContinueOnError) writes, at a fraction of its cost with thousands of
// partitions.
func metricsHandler(lm *lag.LagMetrics, m *Metrics) http.Handler {
	return lm.HandlerWith(lag.ScrapeOptions{Live: m.Registry})
}

// retry waits d or until ctx ends (false).
func retry(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// runFlows correlates the cluster's live events into rec until ctx ends;
// a source that fails is reopened after an interval, the open flows kept.
func runFlows(ctx context.Context, c Cluster, rec *Recorder, o Options, answered func(error)) {
	split := false
	if c.Group != "" && (len(c.KafkaAddrs) > 0 || c.EveryTopic) {
		split = !checkCoPartitioning(ctx, c, o)
	}
	cfg := rec.Config(c.Schema, o.FlowTimeout, o.Clock)
	if x := o.Spans; x != nil {
		if split || o.SpansAlways {
			why := "--spans always"
			if !o.SpansAlways {
				why = "flows may be split across the group's instances"
			}
			fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: exporting each flow's spans under a trace id derived from its correlation id (%s)\n", c.Name, why)
			// The exporter keeps the flow's strings until its batch is
			// sent: flows are owned, not lent.
			cfg.Borrow = false
			count := cfg.OnFlow
			cfg.OnFlow = func(f *trace.Flow) {
				count(f)
				x.ExportShared(f)
			}
		} else {
			fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: no spans exported: each flow is seen whole by one instance (--spans always to export them anyway)\n", c.Name)
		}
	}
	cor := trace.NewCorrelator(cfg)
	rec.Attach(cor)
	for ctx.Err() == nil {
		src, err := c.Sources(ctx)
		answered(err)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: flows: %s (again in %v)\n", c.Name, oneLine(err.Error()), o.Interval)
			}
			if !retry(ctx, o.Interval) {
				return
			}
			continue
		}
		// The tick brings eddy_serve_events_total up to date: every 100 ms,
		// so a scrape (and bench/serve.sh's clock) sees what was ingested
		// within a tenth of a second. Expire on each tick is cheap: it
		// looks at the least recently active flows only.
		_, err = cor.Drive(ctx, trace.Input{Source: src}, 100*time.Millisecond, func() { rec.Tick(cor) })
		src.Close()
		rec.Tick(cor)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the sources ended")
		}
		fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: flows: %s (reopened in %v)\n", c.Name, oneLine(err.Error()), o.Interval)
		if !retry(ctx, o.Interval) {
			return
		}
	}
}

// runLag samples the cluster's lag every interval into lm.
func runLag(ctx context.Context, c Cluster, lm *lag.LagMetrics, o Options, answered func(error)) {
	var mon *lag.LagMonitor
	closeFn := func() {}
	defer func() { closeFn() }()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		if mon == nil {
			var err error
			if mon, closeFn, err = c.Lag(); err != nil {
				mon, closeFn = nil, func() {}
				answered(err)
				fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: lag: %s\n", c.Name, oneLine(err.Error()))
			}
		}
		if mon != nil {
			start := time.Now()
			s, err := mon.Sample(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil && len(s.Errors) > 0 && len(s.Groups) == 0 && len(s.Queues) == 0 {
				err = errors.New(s.Errors[0])
			}
			answered(err)
			if err != nil {
				fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: lag: %s\n", c.Name, oneLine(err.Error()))
			} else {
				lm.UpdateCluster(c.Name, s, time.Since(start))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// runDLQs reads the letters arriving in the cluster's DLQs and samples
// their depth every interval.
func runDLQs(ctx context.Context, c Cluster, m *Metrics, o Options, answered func(error)) {
	d := &depths{m: m, cluster: c.Name, now: time.Now}
	var kc *kafka.Client
	var ac *amqp.Client
	defer func() {
		if kc != nil {
			kc.Close()
		}
		if ac != nil {
			ac.Close()
		}
	}()
	d.kc = func() (*kafka.Client, error) {
		if kc == nil {
			var err error
			if kc, err = c.Kafka(); err != nil {
				return nil, err
			}
		}
		return kc, nil
	}
	d.ac = func() (*amqp.Client, error) {
		if ac == nil {
			var err error
			if ac, err = c.AMQP(); err != nil {
				return nil, err
			}
		}
		return ac, nil
	}
	for _, a := range c.DLQs {
		if a.Transport == "amqp" {
			d.amqp = append(d.amqp, a.Name)
		} else {
			d.kafka = append(d.kafka, a.Name)
		}
	}
	sort.Strings(d.kafka)
	sort.Strings(d.amqp)
	l := newLetters(m, c.Name, c.DLQs)
	var wg sync.WaitGroup
	defer wg.Wait()
	if c.Letters != nil {
		wg.Go(func() {
			for ctx.Err() == nil {
				src, err := c.Letters(ctx)
				if err == nil {
					err = l.read(ctx, src)
					src.Close()
				}
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					err = errors.New("the DLQ sources ended")
				}
				fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: DLQ letters: %s (again in %v)\n", c.Name, oneLine(err.Error()), o.Interval)
				if !retry(ctx, o.Interval) {
					return
				}
			}
		})
	}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		err := d.sample(ctx)
		if ctx.Err() != nil {
			return
		}
		answered(err)
		if err != nil {
			fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: %s\n", c.Name, oneLine(err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkCoPartitioning says on ErrOut, once at start, when the topics an
// instance of a --group shares are not co-partitioned (false), or that it
// cannot tell (false too: flows may be split).
func checkCoPartitioning(ctx context.Context, c Cluster, o Options) bool {
	kc, err := c.Kafka()
	if err == nil {
		defer kc.Close()
		var why string
		if why, err = CoPartitioning(ctx, kc, c.KafkaAddrs, c.EveryTopic); err == nil {
			if why != "" {
				fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: %s\n", c.Name, oneLine(why))
			}
			return why == ""
		}
	}
	fmt.Fprintf(o.ErrOut, "eddy: serve: cluster %s: --group: cannot check co-partitioning: %s\n", c.Name, oneLine(err.Error()))
	return false
}
