package serve

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
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
