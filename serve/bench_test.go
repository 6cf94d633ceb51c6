package serve

import (
	"context"
	"fmt"
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
// observations across its range.
func BenchmarkScrape(b *testing.B) {
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
	m := NewMetrics(50, 10)
	for e := range 50 {
		h := m.hop.WithLabelValues("bench", "checkout", fmt.Sprintf("Type%d", e), fmt.Sprintf("Type%d", e+1))
		for i := range 1000 {
			h.Observe(float64(i%200+1) * 0.001 * float64(e+1))
		}
	}
	var gs prometheus.Gatherers
	switch os.Getenv("EDDY_BENCH_SCRAPE") {
	case "lag":
		gs = prometheus.Gatherers{lm.Registry()}
	case "flows":
		gs = prometheus.Gatherers{m.Registry}
	default:
		gs = prometheus.Gatherers{lm.Registry(), m.Registry}
	}
	h := promhttp.HandlerFor(gs, promhttp.HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scrape")
	// The process's CPU time per scrape: on a loaded machine the wall time
	// is mostly waiting for a core.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/scrape")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
