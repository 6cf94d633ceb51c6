package monitoring

import (
	"context"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/internal/promtest"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// labelValue is the value the fake exporter gives each label.
var labelValue = map[string]string{
	"cluster": "test", "flow": "orders", "from": "OrderPlaced", "to": "OrderShipped",
	"from_topic": "orders", "to_topic": "shipments", "rule": "placed-shipped",
	"transport": "kafka", "dlq": "orders.dlq", "reason": "timeout",
	"group": "billing", "topic": "orders", "partition": "0", "vhost": "/", "queue": "emails",
}

// contractExporter serves every metric of the contract, with one series
// each, on a loopback port: what eddy serve's /metrics will hold. feed adds
// to every counter and histogram and sets every gauge.
type contractExporter struct {
	addr string
	feed func()
}

func startContractExporter(t *testing.T) *contractExporter {
	t.Helper()
	reg := prometheus.NewRegistry()
	var feeds []func()
	for _, m := range contract(t) {
		values := make([]string, len(m.labels))
		for i, l := range m.labels {
			v, ok := labelValue[l]
			if !ok {
				t.Fatalf("no test value for label %s of %s", l, m.name)
			}
			values[i] = v
		}
		switch m.kind {
		case counter:
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.name, Help: m.name}, m.labels)
			reg.MustRegister(vec)
			// The series exists from the first scrape on, at 0: a rate then
			// sees the counts feed adds.
			c := vec.WithLabelValues(values...)
			feeds = append(feeds, func() { c.Add(10) })
		case gauge:
			vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: m.name, Help: m.name}, m.labels)
			reg.MustRegister(vec)
			g := vec.WithLabelValues(values...)
			// A Unix time for the sample timestamp, 1 (seen, OK, exact) for the rest.
			v := 1.0
			if m.name == "eddy_lag_sample_timestamp_seconds" {
				v = float64(time.Now().Unix())
			}
			feeds = append(feeds, func() { g.Set(v) })
		case histogram:
			h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name: m.name, Help: m.name, Buckets: prometheus.DefBuckets,
				NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: 1e-6,
			}, m.labels)
			reg.MustRegister(h)
			o := h.WithLabelValues(values...)
			feeds = append(feeds, func() {
				for range 10 {
					o.Observe(0.040)
				}
			})
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &contractExporter{addr: l.Addr().String(), feed: func() {
		for _, f := range feeds {
			f()
		}
	}}
}

var legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// TestDashboardAgainstPrometheus: every query of the dashboard (panels and
// variables) answers with finite values against a real Prometheus scraping
// the contract's metrics, with native histograms on and with them off (the
// latency panels fall back to the classic buckets), and the labels its
// legend names are on its series. The rules file loads, and every rule
// evaluates without error.
func TestDashboardAgainstPrometheus(t *testing.T) {
	t.Parallel()
	e := startContractExporter(t)
	rulesFile, err := filepath.Abs(filepath.Join("prometheus", "eddy-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*promtest.Server{
		"native histograms":  promtest.Start(t, promtest.Config{Targets: []string{e.addr}, ScrapeInterval: 100 * time.Millisecond, RuleFiles: []string{rulesFile}}),
		"classic histograms": promtest.Start(t, promtest.Config{Targets: []string{e.addr}, ScrapeInterval: 100 * time.Millisecond, ClassicHistograms: true}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range servers {
		if err := s.WaitUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// From after a first scrape on, and all along the queries, so that rates
	// and increases over any of their windows see counts grow.
	e.feed()
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				e.feed()
			}
		}
	}()
	defer func() { close(stop); <-fed }()
	for _, s := range servers {
		if _, err := s.WaitForFloat(ctx, `eddy_serve_events_total`, func(f float64) bool { return f >= 10 }); err != nil {
			t.Fatal(err)
		}
	}

	d, qs := dashboardQueries(t)
	legends := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			legends[queryWhere(p.Title, i)] = tg.LegendFormat
		}
	}
	for mode, s := range servers {
		for _, q := range qs {
			expr := grafanaVars.Replace(q.expr)
			qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
			vec, err := s.WaitFor(qctx, expr, func(v model.Vector) bool {
				for _, smp := range v {
					if smp.Histogram != nil || math.IsNaN(float64(smp.Value)) || math.IsInf(float64(smp.Value), 0) {
						return false
					}
				}
				return len(v) > 0
			})
			qcancel()
			if err != nil {
				t.Errorf("%s, %s: %v", mode, q.where, err)
				continue
			}
			for _, m := range legendLabel.FindAllStringSubmatch(legends[q.where], -1) {
				for _, smp := range vec {
					if _, ok := smp.Metric[model.LabelName(m[1])]; !ok {
						t.Errorf("%s, %s: its legend names {{%s}}, which its series %v lack", mode, q.where, m[1], smp.Metric)
					}
				}
			}
		}
	}

	// The rules, loaded by the native server, all evaluate without error once
	// each has been evaluated (health "unknown" until then).
	s := servers["native histograms"]
	if _, err := s.WaitFor(ctx, `vector(1)`, func(model.Vector) bool {
		res, err := s.API().Rules(ctx, nil)
		if err != nil {
			return false
		}
		n := 0
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				n++
				var health v1.RuleHealth
				var name, lastErr string
				switch r := r.(type) {
				case v1.AlertingRule:
					health, name, lastErr = r.Health, r.Name, r.LastError
				case v1.RecordingRule:
					health, name, lastErr = r.Health, r.Name, r.LastError
				}
				if health == v1.RuleHealthBad {
					t.Fatalf("rule %s fails on a real Prometheus: %s", name, lastErr)
				}
				if health != v1.RuleHealthGood {
					return false
				}
			}
		}
		return n >= 20
	}); err != nil {
		t.Fatalf("the rules of %s did not all load and evaluate: %v", rulesFile, err)
	}
}
