package serve

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/trace"
)

// BenchmarkIngest is eddy serve's ingest path without a broker: events of
// 4-step flows (the shop's) through the Correlator, each flow finalised
// after its timeout into the metrics (hop histograms, counters, one SLO
// rule). It reports events/s; a figure taken on a loaded machine says so.
func BenchmarkIngest(b *testing.B) {
	types := []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped"}
	topics := []string{"orders", "payments", "stock", "shipping"}
	const flows = 4096
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]event.Event, 0, flows*4)
	for n := range flows {
		o := fmt.Sprintf("o-%d", n)
		for k, typ := range types {
			at := base.Add(time.Duration(n)*time.Millisecond + time.Duration(k)*40*time.Millisecond)
			v := fmt.Sprintf(`{"event_id":"%s-%d","type":%q,"occurred_at":%q,"correlation_id":%q}`, o, k, typ, at.Format(time.RFC3339Nano), o)
			evs = append(evs, event.Event{Transport: event.Kafka, Topic: topics[k], Offset: int64(n), Timestamp: at, Value: []byte(v), Key: []byte(o)})
		}
	}
	m := NewMetrics(50, 10)
	def, _ := ParseFlowDef("checkout=OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped")
	rule, _ := ParseRule("OrderPlaced -> OrderShipped within 1s")
	rec := m.NewRecorder("bench", []FlowDef{def}, []Rule{rule})
	now := base
	c := trace.NewCorrelator(rec.Config(nil, time.Second, func() time.Time { return now }))
	rec.Attach(c)
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		for j := range evs {
			c.Add(&evs[j])
		}
		events += len(evs)
		// Every flow of the round goes quiet and is finalised.
		now = now.Add(2 * time.Second)
		c.Expire()
		rec.Tick(c)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkScrape is one scrape of /metrics (the protobuf exposition a
// Prometheus with native histograms asks for) with 1,000 partitions of lag
// (10 groups of 100) and 50 edges of hop histograms, each with
// observations across its range, through eddy serve's handler.
// EDDY_BENCH_SCRAPE=lag serves the lag metrics alone, =flows the flow
// metrics alone, =promhttp both the way eddy served them before
// (promhttp over prometheus.Gatherers, the lag gauges made at each scrape).
func BenchmarkScrape(b *testing.B) {
	benchScrape(b, "")
}

// BenchmarkScrapeGzip is BenchmarkScrape compressed, as Prometheus asks
// (Accept-Encoding: gzip).
func BenchmarkScrapeGzip(b *testing.B) {
	benchScrape(b, "gzip")
}

// BenchmarkLagUpdate is what a scrape no longer does, done once per lag
// sample instead: the 1,000 partitions' gauges gathered and encoded (in
// the protobuf exposition, compressed too, as a scrape asked before).
func BenchmarkLagUpdate(b *testing.B) {
	lm, snap := benchLag(b)
	h := lm.Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, scrapeRequest("gzip"))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lm.UpdateCluster("bench", snap, time.Millisecond)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/update")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/update")
}

// benchLag is lag metrics of 1,000 partitions (10 groups of 100).
func benchLag(b *testing.B) (*lag.LagMetrics, *inspect.LagSnapshot) {
	lm, err := lag.NewLagMetrics(context.Background(), lag.LagMetricsOptions{ClusterLabel: true})
	if err != nil {
		b.Fatal(err)
	}
	snap := &inspect.LagSnapshot{Time: time.Now()}
	for g := range 10 {
		gl := inspect.GroupLag{Group: fmt.Sprintf("group-%d", g), TimeLag: time.Second}
		for p := range 100 {
			gl.Partitions = append(gl.Partitions, inspect.PartitionLag{Topic: fmt.Sprintf("topic-%d", g), Partition: int32(p),
				Committed: 10, End: 20, HighWatermark: 20, Lag: 10, LagMin: 10, OffsetLag: 10, TimeLag: time.Second, Status: inspect.StatusOK})
		}
		snap.Groups = append(snap.Groups, gl)
	}
	lm.UpdateCluster("bench", snap, time.Millisecond)
	return lm, snap
}

// scrapeRequest is a scrape for the protobuf exposition, compressed with
// encoding unless "".
func scrapeRequest(encoding string) *http.Request {
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	return req
}

func benchScrape(b *testing.B, encoding string) {
	lm, _ := benchLag(b)
	m := NewMetrics(50, 10)
	for e := range 50 {
		h := m.hop.WithLabelValues("bench", "checkout", fmt.Sprintf("Type%d", e), fmt.Sprintf("Type%d", e+1))
		for i := range 1000 {
			h.Observe(float64(i%200+1) * 0.001 * float64(e+1))
		}
	}
	var h http.Handler
	switch os.Getenv("EDDY_BENCH_SCRAPE") {
	case "lag":
		h = lm.Handler()
	case "flows":
		none, err := lag.NewLagMetrics(context.Background(), lag.LagMetricsOptions{ClusterLabel: true})
		if err != nil {
			b.Fatal(err)
		}
		h = metricsHandler(none, m)
	case "promhttp":
		h = promhttp.HandlerFor(prometheus.Gatherers{lm.Registry(), m.Registry}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	default:
		h = metricsHandler(lm, m)
	}
	req := scrapeRequest(encoding)
	// The first scrape in a format encodes the lag metrics in it; the
	// next ones (and the next updates) find them made.
	h.ServeHTTP(httptest.NewRecorder(), req)
	var n int
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
		n = w.Body.Len()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scrape")
	// The process's CPU time per scrape: on a loaded machine the wall time
	// is mostly waiting for a core.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/scrape")
	b.ReportMetric(float64(n), "bytes/scrape")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
