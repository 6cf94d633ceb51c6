package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// hopEvents writes one two-step flow per latency (OrderPlaced on orders,
// PaymentAuthorized on payments, correlation id o-N), shuffled.
func hopEvents(lats []time.Duration, seed uint64) []event.Event {
	var evs []event.Event
	for i, lat := range lats {
		corr := fmt.Sprintf("o-%d", i)
		start := time.Duration(i) * time.Second
		evs = append(evs,
			ev("orders", 0, int64(i), "a"+corr, "OrderPlaced", corr, "", start),
			ev("payments", 0, int64(i), "b"+corr, "PaymentAuthorized", corr, "a"+corr, start+lat))
	}
	rand.New(rand.NewPCG(seed, 7)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// wantPercentile is the percentile as eddy documents it (HdrHistogram's rank,
// rounded half up, at least 1), computed over the sorted latencies in ms.
func wantPercentile(sorted []time.Duration, q float64) float64 {
	rank := max(1, int(q/100*float64(len(sorted))+0.5))
	return float64(sorted[rank-1]) / float64(time.Millisecond)
}

// close3 reports whether got is want to HdrHistogram's 3 significant digits
// (a bucket is under 1/1024 of its values wide, and reports its top) as eddy
// prints it, rounded to 3 significant digits (half a unit of the third).
func close3(got, want float64) bool {
	half := 0.5 * math.Pow(10, math.Floor(math.Log10(got))-2)
	return math.Abs(got-want) <= want/1024+half
}

// TestMultiDayHops: 20,000 hops of 1 to 72 hours; the percentiles and max are
// those of the latencies (computed here, by sorting), not clamped at a day.
func TestMultiDayHops(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lats := make([]time.Duration, 20_000)
	for i := range lats {
		lats[i] = time.Hour + time.Duration(r.Int64N(int64(71*time.Hour/time.Millisecond)))*time.Millisecond
	}
	st := NewStats(nil)
	for _, f := range correlate(hopEvents(lats, 1)) {
		st.Add(f)
	}
	rep := st.Report(nil)
	if len(rep.Edges) != 1 {
		t.Fatalf("edges %+v", rep.Edges)
	}
	e := rep.Edges[0]
	sorted := slices.Clone(lats)
	slices.Sort(sorted)
	for _, c := range []struct {
		name string
		got  float64
		q    float64
	}{{"p50", e.P50MS, 50}, {"p90", e.P90MS, 90}, {"p99", e.P99MS, 99}, {"max", e.MaxMS, 100}} {
		if want := wantPercentile(sorted, c.q); !close3(c.got, want) {
			t.Errorf("%s = %v ms, want %v ms (3 significant digits)", c.name, c.got, want)
		}
	}
	if e.Count != int64(len(lats)) || e.OverRange != 0 {
		t.Errorf("count %d over_range %d, want %d and 0", e.Count, e.OverRange, len(lats))
	}
}

// TestOverRangeCounted: a hop longer than the histogram's year is counted,
// in max (exact), and said (over_range), never clamped into the percentiles.
func TestOverRangeCounted(t *testing.T) {
	lats := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 400 * 24 * time.Hour}
	st := NewStats(nil)
	for _, f := range correlate(hopEvents(lats, 2)) {
		st.Add(f)
	}
	e := st.Report(nil).Edges[0]
	if e.Count != 3 || e.OverRange != 1 {
		t.Fatalf("count %d over_range %d, want 3 and 1", e.Count, e.OverRange)
	}
	if want := float64(400*24*time.Hour) / float64(time.Millisecond); e.MaxMS != want {
		t.Errorf("max %v ms, want %v", e.MaxMS, want)
	}
	if e.P99MS != 20 || e.P50MS != 10 {
		t.Errorf("p50 %v p99 %v, want 10 and 20 (over the hops in range)", e.P50MS, e.P99MS)
	}
	// A year is in range, at 3 significant digits.
	year := 365 * 24 * time.Hour
	st = NewStats(nil)
	for _, f := range correlate(hopEvents([]time.Duration{year}, 3)) {
		st.Add(f)
	}
	if e := st.Report(nil).Edges[0]; e.OverRange != 0 || !close3(e.P50MS, float64(year/time.Millisecond)) {
		t.Errorf("a 365-day hop: %+v", e)
	}
}

// TestPercentileDefinition holds the documented definition (flows' JSON help,
// EdgeReport): the rank int(q·n + 0.5), at least 1, not nearest-rank.
func TestPercentileDefinition(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	cases := [][]time.Duration{
		ms(10, 20, 30, 40, 50, 60), // p90 = 50 (nearest-rank would say 60)
		ms(7),
		ms(5, 1),
		ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
	}
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 20; n++ {
		var c []time.Duration
		for k := 0; k < 1+r.IntN(300); k++ {
			c = append(c, time.Duration(1+r.IntN(5000))*time.Millisecond)
		}
		cases = append(cases, c)
	}
	for i, lats := range cases {
		st := NewStats(nil)
		for _, f := range correlate(hopEvents(lats, uint64(i))) {
			st.Add(f)
		}
		e := st.Report(nil).Edges[0]
		sorted := slices.Clone(lats)
		slices.Sort(sorted)
		for _, c := range []struct {
			got, q float64
		}{{e.P50MS, 50}, {e.P90MS, 90}, {e.P99MS, 99}} {
			if want := wantPercentile(sorted, c.q); !close3(c.got, want) {
				t.Errorf("case %d (%d hops): p%v = %v ms, want %v", i, len(lats), c.q, c.got, want)
			}
		}
	}
	st := NewStats(nil)
	for _, f := range correlate(hopEvents(cases[0], 9)) {
		st.Add(f)
	}
	if e := st.Report(nil).Edges[0]; e.P50MS != 30 || e.P90MS != 50 || e.P99MS != 60 {
		t.Errorf("10..60 ms: p50 %v p90 %v p99 %v, want 30, 50, 60 as documented", e.P50MS, e.P90MS, e.P99MS)
	}
}
