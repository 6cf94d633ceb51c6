package trace

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// TestFindFinalisesIdleFlows: Find (eddy trace ID, and the TUI's Trace view
// since it calls Find too) finalises a flow that went idle for the timeout
// while the read went on, as the CLI always did; the TUI's own loop never
// called Expire, so it showed that flow as still open.
func TestFindFinalisesIdleFlows(t *testing.T) {
	pr, pw := io.Pipe()
	src, err := file.Open("-", pr, bus.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var now atomic.Int64
	now.Store(t0.UnixNano())
	added := make(chan struct{})
	var once atomic.Bool
	clock := func() time.Time {
		if once.CompareAndSwap(false, true) {
			close(added)
		}
		return time.Unix(0, now.Load())
	}
	write := func(e event.Event) {
		if _, err := pw.Write(append(event.AppendEnvelope(nil, &e), '\n')); err != nil {
			t.Error(err)
		}
	}
	type result struct {
		flows []*Flow
		err   error
	}
	done := make(chan result, 1)
	go func() {
		flows, _, err := Find(context.Background(), Input{Source: src}, Config{Clock: clock, Timeout: 5 * time.Minute}, "o-1")
		done <- result{flows, err}
	}()
	write(ev("orders", 0, 1, "e-1", "OrderPlaced", "o-1", "", 0))
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("the first event was never added")
	}
	start := time.Now()
	// Drive looks for idle flows at most once a second of wall time: the
	// next batch must come after that.
	<-time.After(time.Until(start.Add(1100 * time.Millisecond)))
	now.Store(t0.Add(10 * time.Minute).UnixNano())
	write(ev("orders", 0, 2, "e-2", "OrderPlaced", "o-2", "", 10*time.Minute))
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.flows) != 1 || r.flows[0].Key != "o-1" || r.flows[0].Open {
		for _, f := range r.flows {
			t.Logf("flow %s open=%v", f.Key, f.Open)
		}
		t.Fatalf("want o-1 found finalised (idle for 10m, timeout 5m), got %d flow(s)", len(r.flows))
	}
}
