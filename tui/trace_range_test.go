package tui

import (
	"strings"
	"testing"
)

// TestTraceOverRangeSaid: hops longer than the histograms' 366 days are said
// under their edge, as trace flows says them, not hidden.
func TestTraceOverRangeSaid(t *testing.T) {
	m := newTestModel(t, 120, 60)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	msg := testFlow()
	msg.report.Edges[0].OverRange = 2
	m.Update(traceResult{m.trace.gen, msg})
	if s := screenOf(t, m); !strings.Contains(s, "2 hop(s) longer than 366 days") {
		t.Fatalf("over-range hops not said:\n%s", s)
	}
}
