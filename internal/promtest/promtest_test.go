package promtest

import (
	"context"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// The hops the trace tests inject: 100 events each at 25, 40 and 100 ms.
var hops = []float64{0.025, 0.040, 0.100}

// Classic buckets with bounds on each injected latency, so each value sits at
// the top of its own bucket.
var classicBuckets = []float64{0.005, 0.02, 0.025, 0.035, 0.04, 0.09, 0.1, 0.5}

// nativeFactor is the bucket growth of the native histogram: 1.1 rounds to
// schema 3, buckets (2^((k-1)/8), 2^(k/8)], each about 9% wide.
const (
	nativeFactor = 1.1
	nativeSchema = 3
)

// exporter serves a registry with a classic-only and a native (plus classic)
// histogram on a loopback port, like eddy serve's /metrics.
type exporter struct {
	addr            string
	classic, native prometheus.Histogram
	events          prometheus.Counter
}

func startExporter(t *testing.T) *exporter {
	t.Helper()
	reg := prometheus.NewRegistry()
	e := &exporter{
		classic: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "promtest_classic_hop_seconds", Help: "classic buckets only", Buckets: classicBuckets,
		}),
		native: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "promtest_native_hop_seconds", Help: "native buckets and classic ones", Buckets: classicBuckets,
			NativeHistogramBucketFactor: nativeFactor, NativeHistogramZeroThreshold: 1e-6,
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "promtest_events_total", Help: "events"}),
	}
	reg.MustRegister(e.classic, e.native, e.events)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	e.addr = l.Addr().String()
	return e
}

func (e *exporter) observeHops() {
	for _, v := range hops {
		for range 100 {
			e.classic.Observe(v)
			e.native.Observe(v)
			e.events.Inc()
		}
	}
}

// nativeBucket is the native histogram bucket (lower, upper] that holds v.
func nativeBucket(v float64) (lower, upper float64) {
	k := math.Ceil(math.Log2(v) * (1 << nativeSchema))
	return math.Exp2((k - 1) / (1 << nativeSchema)), math.Exp2(k / (1 << nativeSchema))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func notNaN(f float64) bool { return !math.IsNaN(f) }

// TestQuantilesNative: Prometheus with native histograms on answers
// histogram_quantile over the native histogram within the bucket of each
// injected latency, over its raw value and over a rate, and over the
// classic-only histogram with classic interpolation; counts are exact.
func TestQuantilesNative(t *testing.T) {
	t.Parallel()
	e := startExporter(t)
	s := Start(t, Config{Targets: []string{e.addr}, ScrapeInterval: 100 * time.Millisecond})
	c := ctx(t)
	if err := s.WaitUp(c); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Targets(c)
	if err != nil || len(ts) != 1 || ts[0].Health != "up" || !strings.Contains(ts[0].ScrapeURL, e.addr) {
		t.Fatalf("targets = %+v, %v; want one, up, scraping %s", ts, err, e.addr)
	}
	// After the first scrape, so that a rate over the window sees them arrive.
	e.observeHops()
	if _, err := s.WaitForFloat(c, `promtest_events_total`, func(f float64) bool { return f == 300 }); err != nil {
		t.Fatal(err)
	}

	for _, q := range []struct {
		phi  float64
		want float64 // the injected latency the quantile falls on
	}{{0.10, 0.025}, {0.50, 0.040}, {0.99, 0.100}} {
		lo, hi := nativeBucket(q.want)
		for _, expr := range []string{
			`histogram_quantile(` + ftoa(q.phi) + `, promtest_native_hop_seconds)`,
			`histogram_quantile(` + ftoa(q.phi) + `, sum(rate(promtest_native_hop_seconds[30s])))`,
		} {
			got, err := s.WaitForFloat(c, expr, notNaN)
			if err != nil {
				t.Fatal(err)
			}
			if got <= lo || got > hi {
				t.Errorf("%s = %g, want within the native bucket (%g, %g] of %g", expr, got, lo, hi, q.want)
			}
		}
	}

	// Classic interpolation, linear within the bucket: p10 is rank 30 of the
	// 100 in (0.02, 0.025]; p50 rank 150, 50 into the 100 of (0.035, 0.04];
	// p99 rank 297, 97 into the 100 of (0.09, 0.1].
	for _, q := range []struct{ phi, want float64 }{{0.10, 0.0215}, {0.50, 0.0375}, {0.99, 0.0997}} {
		for _, expr := range []string{
			`histogram_quantile(` + ftoa(q.phi) + `, promtest_classic_hop_seconds_bucket)`,
			`histogram_quantile(` + ftoa(q.phi) + `, sum by (le) (rate(promtest_classic_hop_seconds_bucket[30s])))`,
		} {
			got, err := s.WaitForFloat(c, expr, notNaN)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-q.want) > 1e-9 {
				t.Errorf("%s = %g, want %g", expr, got, q.want)
			}
		}
	}

	// Prometheus 2.x stores a histogram that has native buckets as the native
	// histogram only (no scrape_classic_histograms before 2.45): its classic
	// series are absent, which is why eddy's dashboard queries fall back from
	// the native form to the _bucket form with `or`.
	if vec, err := s.Query(c, `promtest_native_hop_seconds_bucket`); err != nil || len(vec) != 0 {
		t.Errorf("classic buckets of the native histogram = %v, %v; want none with the feature on", vec, err)
	}

	// Count and sum of the native histogram are exact.
	if got, err := s.QueryFloat(c, `histogram_count(promtest_native_hop_seconds)`); err != nil || got != 300 {
		t.Errorf("histogram_count = %g, %v; want 300", got, err)
	}
	if got, err := s.QueryFloat(c, `histogram_sum(promtest_native_hop_seconds)`); err != nil || math.Abs(got-16.5) > 1e-9 {
		t.Errorf("histogram_sum = %g, %v; want 16.5 (100 × (0.025+0.04+0.1))", got, err)
	}
}

// TestQuantilesClassic: without the native-histograms feature the histogram
// that has both is stored as its classic buckets, and histogram_quantile
// over them interpolates as over any classic histogram.
func TestQuantilesClassic(t *testing.T) {
	t.Parallel()
	e := startExporter(t)
	s := Start(t, Config{Targets: []string{e.addr}, ScrapeInterval: 100 * time.Millisecond, ClassicHistograms: true})
	c := ctx(t)
	e.observeHops()
	if _, err := s.WaitForFloat(c, `promtest_native_hop_seconds_count`, func(f float64) bool { return f == 300 }); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueryFloat(c, `histogram_quantile(0.5, promtest_native_hop_seconds_bucket)`)
	if err != nil || math.Abs(got-0.0375) > 1e-9 {
		t.Errorf("classic p50 = %g, %v; want 0.0375", got, err)
	}
	// No native sample: the float query is what a classic-only server has.
	if vec, err := s.Query(c, `promtest_native_hop_seconds`); err != nil || len(vec) != 0 {
		t.Errorf("native series without the feature = %v, %v; want none", vec, err)
	}
}

// TestWaitForTimesOut: a condition that never holds ends at the deadline
// with an error naming the query, the last result and the targets.
func TestWaitForTimesOut(t *testing.T) {
	t.Parallel()
	e := startExporter(t)
	s := Start(t, Config{Targets: []string{e.addr}})
	if err := s.WaitUp(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.WaitFor(c, `promtest_events_total`, func(model.Vector) bool { return false })
	if err == nil {
		t.Fatal("WaitFor with a condition that never holds returned no error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("WaitFor took %v past a 2s deadline", d)
	}
	for _, want := range []string{"promtest_events_total", "deadline exceeded", e.addr} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := s.Query(c, `this is not promql`); err == nil {
		t.Error("a malformed query returned no error")
	}
}

// TestTargetDown: a target nothing serves is reported down with its error.
func TestTargetDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := Start(t, Config{Targets: []string{addr}})
	c := ctx(t)
	if _, err := s.WaitForFloat(c, `up`, func(f float64) bool { return f == 0 }); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Targets(c)
	if err != nil || len(ts) != 1 || ts[0].Health != "down" || ts[0].LastError == "" {
		t.Errorf("targets = %+v, %v; want one, down, with its error", ts, err)
	}
}

func ftoa(f float64) string { return model.SampleValue(f).String() }
