package lag

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/eddy-sh/eddy/inspect"
)

// TestScrapeEncodedAtUpdate: a format a scrape asked for is encoded at the
// next updates (compressed too when the scrape took gzip), before any
// scrape; one nobody asked for again within askedFor updates is not.
func TestScrapeEncodedAtUpdate(t *testing.T) {
	m, err := NewLagMetrics(context.Background(), LagMetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap := &inspect.LagSnapshot{Time: time.Unix(1700000000, 0), Groups: []inspect.GroupLag{{Group: "g",
		Partitions: []inspect.PartitionLag{{Topic: "t", Committed: 1, End: 2, HighWatermark: 2, Lag: 1, OffsetLag: 1, TimeLag: time.Second}}}}}
	m.Update(snap, time.Millisecond)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, req)
	format := expfmt.Format(w.Header().Get("Content-Type"))
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || format.FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	encoded := func() (raw, z bool) {
		g := m.cur.Load()
		g.mu.Lock()
		defer g.mu.Unlock()
		e := g.encs[format]
		return e != nil, e != nil && e.z != nil
	}
	for n := range askedFor + 2 {
		m.Update(snap, time.Millisecond)
		raw, z := encoded()
		if want := n < askedFor; raw != want || z != want {
			t.Fatalf("update %d after the scrape: encoded %v, compressed %v; want %v", n+1, raw, z, want)
		}
	}
}
