package trace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// benchEvents builds n shop-like events (five per flow, flows interleaved in
// groups of 16, CloudEvents type header and a traceparent), ~330 B of payload.
func benchEvents(n int) []event.Event {
	types := []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped", "EmailSent"}
	topics := []string{"orders", "payments", "inventory", "shipping", "notifications"}
	evs := make([]event.Event, 0, n)
	for base := 0; len(evs) < n; base += 16 {
		for step := 0; step < 5 && len(evs) < n; step++ {
			for k := 0; k < 16 && len(evs) < n; k++ {
				flow := base + k
				corr := fmt.Sprintf("o-%07d", flow)
				at := t0.Add(time.Duration(flow)*2*time.Millisecond + time.Duration(step*37)*time.Millisecond)
				v := fmt.Sprintf(`{"event_id":"evt-%d-%d","type":%q,"occurred_at":%q,"correlation_id":%q`, flow, step, types[step], at.Format(time.RFC3339Nano), corr)
				if step > 0 {
					v += fmt.Sprintf(`,"causation_id":"evt-%d-%d"`, flow, step-1)
				}
				v += `,"payload":{"order_id":"` + corr + `","customer":{"id":"c-1234","name":"Customer 1234"},"amount":123.45,"currency":"EUR"}}`
				evs = append(evs, event.Event{Transport: event.Kafka, Topic: topics[step], Partition: int32(flow % 6), Offset: int64(flow),
					Timestamp: at, Key: []byte(corr), Value: []byte(v), Headers: []event.Header{
						{Key: "ce_type", Value: []byte(types[step])},
						{Key: "traceparent", Value: []byte(fmt.Sprintf("00-%032x-%016x-01", flow+1, flow*5+step+1))},
					}})
			}
		}
	}
	return evs
}

// BenchmarkCorrelate: the cost of correlating one event (ns/op and allocs/op
// are per event), flows finalised into Stats at the end of each pass.
func BenchmarkCorrelate(b *testing.B) {
	evs := benchEvents(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	var c *Correlator
	var st *Stats
	for i := 0; i < b.N; i++ {
		if i%len(evs) == 0 {
			if c != nil {
				c.Flush()
			}
			st = NewStats(nil)
			s := st
			c = NewCorrelator(Config{OnFlow: s.Add})
		}
		c.Add(&evs[i%len(evs)])
	}
	c.Flush()
}

// BenchmarkRetained measures the memory a Correlator keeps per open event
// beyond the event itself (the payloads are not retained): heap in use after
// correlating 200,000 events, minus before, divided by the events. Run it
// with -benchtime 1x: each iteration is the whole measurement.
func BenchmarkRetained(b *testing.B) {
	const n = 200_000
	evs := benchEvents(n)
	var perEvent float64
	for i := 0; i < b.N; i++ {
		perEvent = retainedPerEvent(evs)
	}
	runtime.KeepAlive(evs)
	b.ReportMetric(perEvent, "retained-B/event")
}

// retainedPerEvent correlates evs in a new Correlator and returns the heap
// it keeps, per event: in use after, minus before, divided by the events.
func retainedPerEvent(evs []event.Event) float64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c := NewCorrelator(Config{})
	for j := range evs {
		c.Add(&evs[j])
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(len(evs))
	runtime.KeepAlive(c)
	return per
}

// TestRetainedBound keeps the memory per open event within the budget (250 B
// beyond the payload, which is not retained at all).
func TestRetainedBound(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k events")
	}
	const n = 100_000
	evs := benchEvents(n)
	per := retainedPerEvent(evs)
	runtime.KeepAlive(evs)
	t.Logf("%.0f bytes retained per open event", per)
	if per > 250 {
		t.Errorf("%.0f bytes retained per event, budget 250", per)
	}
}

// BenchmarkReadCapture: the whole of trace flows over a capture, per event:
// the parallel reader (decoding, field extraction), correlation, and the
// flows finalised into Stats (borrowed). One op is one event.
func BenchmarkReadCapture(b *testing.B) {
	evs := benchEvents(100_000)
	var data []byte
	for i := range evs {
		data = event.AppendEnvelope(data, &evs[i])
		data = append(data, '\n')
	}
	b.SetBytes(int64(len(data) / len(evs)))
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for done := 0; done < b.N; done += len(evs) {
		st := NewStats(nil)
		c := NewCorrelator(Config{Borrow: true, OnFlow: st.Add})
		if _, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{}); err != nil {
			b.Fatal(err)
		}
		c.Flush()
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	// allocs/op rounds down to whole allocations; this is the fraction.
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/event")
}

// BenchmarkCorrelateCausation: as BenchmarkCorrelate, for flows joined only
// by causation ids (no correlation or trace id: every event id and cause is
// an alias), the events of each flow arriving in reverse order, so that
// every flow is merged as its events come.
func BenchmarkCorrelateCausation(b *testing.B) {
	src := benchEvents(100_000)
	evs := make([]event.Event, len(src))
	for i := range src {
		e := src[i]
		e.Headers = e.Headers[:1] // no traceparent
		e.Value = bytes.Replace(e.Value, []byte(`"correlation_id"`), []byte(`"correlation_idx"`), 1)
		evs[len(src)-1-i] = e
	}
	b.ReportAllocs()
	b.ResetTimer()
	var c *Correlator
	for i := 0; i < b.N; i++ {
		if i%len(evs) == 0 {
			if c != nil {
				c.Flush()
			}
			st := NewStats(nil)
			c = NewCorrelator(Config{OnFlow: st.Add})
		}
		c.Add(&evs[i%len(evs)])
	}
	c.Flush()
}

// BenchmarkReadCaptureFile is trace flows over the capture file named by
// EDDY_BENCH_CAPTURE (bench/gencapture writes one; skipped without it): the
// file read on every core, the flows flushed into Stats and the report
// made, per event. It is what a CPU profile of `eddy trace flows
// file:CAPTURE` sees, without the process around it.
func BenchmarkReadCaptureFile(b *testing.B) {
	path := os.Getenv("EDDY_BENCH_CAPTURE")
	if path == "" {
		b.Skip("EDDY_BENCH_CAPTURE names no capture")
	}
	var events int64
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st := NewStats(nil)
		c := NewCorrelator(Config{Borrow: true, OnFlow: st.Add})
		if _, err := c.ReadCapture(context.Background(), f, CaptureOptions{Name: path}); err != nil {
			b.Fatal(err)
		}
		c.Flush()
		_ = st.Report(nil)
		f.Close()
		events = c.Events()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*events), "ns/event")
}
