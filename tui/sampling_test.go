package tui

import (
	"testing"

	"github.com/eddy-sh/eddy/bus"
)

// TestSparklinesSampleInTheBackground: the Sources and Lag views sampled
// only while shown, so their sparklines had a hole for every minute spent in
// another view. Their chains now run from the start, shown or not.
func TestSparklinesSampleInTheBackground(t *testing.T) {
	m := newTestModel(t, 100, 30)
	run(m, m.Init())
	src, lag := m.sources.gen, m.lag.gen
	if src == 0 || lag == 0 {
		t.Fatalf("Init started no sampler: sources %d, lag %d", src, lag)
	}
	press(m, "4") // the DLQ view: Sources and Lag are not shown
	for i, want := range []int64{100, 900, 5400} {
		if m.current() != viewDLQ {
			t.Fatal("left the DLQ view")
		}
		s := testLag()
		s.Groups[0].Lag = want
		if m.lag.update(lagResult{m.lag.gen, lagMsg{snap: s}}) == nil {
			t.Fatalf("sample %d: no next tick while Lag was not shown", i)
		}
		if m.lag.update(lagTick{m.lag.gen}) == nil {
			t.Fatalf("sample %d: the lag tick asked for no sample while Lag was not shown", i)
		}
		if m.sources.update(sourcesTick{m.sources.gen}) == nil {
			t.Fatalf("listing %d: the sources tick asked for no listing while Sources was not shown", i)
		}
		l := testSources()
		l.rows[3].rate = float64(i)
		if m.sources.update(sourcesResult{m.sources.gen, l}) == nil {
			t.Fatalf("listing %d: no next tick while Sources was not shown", i)
		}
	}
	if h := m.lag.history["g:payments"]; len(h) != 3 || h[2] != 5400 {
		t.Fatalf("lag history sampled in the background: %v", h)
	}
	if h := m.sources.history["amqp:shop.payments.dlq"]; len(h) != 3 || h[2] != 2 {
		t.Fatalf("rate history sampled in the background: %v", h)
	}
	// Showing the views starts no second chain: their ticks stay the ones
	// in force.
	g := m.lag.gen
	press(m, "3", "1")
	if m.lag.gen != g {
		t.Fatal("showing Lag started a second sampler")
	}
	// r samples now and restarts the chain: the tick already on its way is
	// dropped, or every r would add a sampler.
	before := m.sources.gen
	press(m, "r")
	if m.sources.gen == before || m.sources.update(sourcesTick{before}) != nil {
		t.Fatal("a tick of the chain r replaced still sampled")
	}
}

// TestTickOfOldContextDropped: views are built anew on a context switch and
// numbered their requests from 0 again, so a tick or a listing of the
// context left (gen 1) was taken by the new view as its own: a second
// sampler ran on, and the old cluster's topics and lag were shown under the
// new context's name.
func TestTickOfOldContextDropped(t *testing.T) {
	m := newTestModel(t, 100, 30)
	run(m, m.Init())
	oldSrc, oldLag := m.sources.gen, m.lag.gen
	press(m, "4")
	oldDLQ := m.dlq.gen
	m.Update(backendMsg{be: &Backend{Context: "prod", Contexts: []string{"prod", "test"}}})
	if m.be.Context != "prod" {
		t.Fatal("no switch")
	}
	press(m, "4")
	if cmd := m.sources.update(sourcesTick{oldSrc}); cmd != nil {
		t.Fatal("a sources tick of the old context asked the new one for a listing")
	}
	if cmd := m.lag.update(lagTick{oldLag}); cmd != nil {
		t.Fatal("a lag tick of the old context asked the new one for a sample")
	}
	m.Update(sourcesResult{oldSrc, testSources()})
	if m.sources.loaded || len(m.sources.rows) != 0 {
		t.Fatal("a listing of the old context was shown under the new one")
	}
	m.Update(lagResult{oldLag, lagMsg{snap: testLag()}})
	if m.lag.snap != nil || len(m.lag.history) != 0 {
		t.Fatal("a lag sample of the old context was shown under the new one")
	}
	m.Update(dlqResult{oldDLQ, testDLQs()})
	if m.dlq.res != nil {
		t.Fatal("DLQ summaries of the old context were shown under the new one")
	}
	// The new context's own still count.
	m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
	if m.lag.snap == nil {
		t.Fatal("the new context's sample was dropped")
	}
}

// TestLagRefreshWhileSampling: r while a sample was being read started a
// second Sample on the same LagMonitor, which is not safe for concurrent
// use (a data race on its evaluator's window). r now asks for the next
// sample to follow the one being read, at once.
func TestLagRefreshWhileSampling(t *testing.T) {
	m := newTestModel(t, 100, 30)
	press(m, "3") // the first sample: being read (the test does not answer it)
	v := m.lag
	if !v.inflight {
		t.Fatal("no sample in flight")
	}
	g := v.gen
	if cmd := v.update(keyMsg("r")); cmd != nil || v.gen != g {
		t.Fatal("r started a second sample while one was being read")
	}
	v.update(lagResult{g, lagMsg{snap: testLag()}})
	if !v.inflight || v.gen == g {
		t.Fatal("the sample r asked for did not follow at once")
	}
	// Answered, the chain goes on at its pace.
	v.update(lagResult{v.gen, lagMsg{snap: testLag()}})
	if v.inflight || v.soon {
		t.Fatalf("after the answer: inflight %v, soon %v", v.inflight, v.soon)
	}
}

// TestTailOpenOfOldContextDropped: a tail opened just before a context
// switch answered with id 1, and the new context's first tail was id 1
// too: the old cluster's source was taken as the new tail's.
func TestTailOpenOfOldContextDropped(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
	old := m.tail.nextID
	m.Update(backendMsg{be: &Backend{Context: "prod"}})
	m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
	if m.tail.nextID == old {
		t.Fatalf("the new context's tail has the old one's id %d", old)
	}
	m.Update(tailOpenedMsg{id: old, src: captureSource(t, 5)})
	if m.tail.stream != nil || !m.tail.opening {
		t.Fatal("the old context's source was taken by the new context's tail")
	}
}
