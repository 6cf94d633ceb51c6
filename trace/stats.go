package trace

import (
	"math"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range and precision: 1 µs to 366 days, 3 significant digits.
// Business flows take days (a payment settled the next day, a shipment); a
// longer hop is counted apart (edge.over), never clamped into the range. The
// year costs about 295 KB per edge (a day cost 229 KB).
const (
	histMin    = 1
	histMax    = int64(HistogramMax / time.Microsecond)
	histDigits = 3
)

// HistogramMax is the longest hop latency the percentiles cover; longer hops
// are counted in EdgeReport.OverRange.
const HistogramMax = 366 * 24 * time.Hour

// Stats aggregates finalised flows: counts and per-edge hop latency
// histograms. It is not safe for concurrent use.
type Stats struct {
	// Definitions decide which flows are complete; without any, a flow is
	// complete when its last step is of a terminal type (one that never
	// caused another type in the data seen).
	Definitions []Definition

	flows, deadLettered, complete int64
	lastTypes                     counter // flows by last step type (no definitions)
	types                         counter
	edges, sourceEdges            map[edgeKey]*edge
	// hot holds the first edges of edges and sourceEdges, found by
	// comparing their (interned) names before hashing them.
	hot                [2][]hotEdge
	events, duplicates int64
}

type edgeKey struct{ from, to string }

type edge struct {
	h    *hdr.Histogram
	skew int64
	// minSkew is the most negative hop seen.
	minSkew time.Duration
	// over counts the hops longer than HistogramMax, which the histogram
	// cannot hold; max is the longest hop, exact.
	over int64
	max  time.Duration
}

// NewStats returns empty statistics.
func NewStats(defs []Definition) *Stats {
	return &Stats{Definitions: defs, edges: map[edgeKey]*edge{}, sourceEdges: map[edgeKey]*edge{}}
}

// Add records a finalised flow.
func (s *Stats) Add(f *Flow) {
	s.flows++
	if f.DeadLettered() {
		s.deadLettered++
	}
	if len(s.Definitions) > 0 {
		if f.Complete(s.Definitions) {
			s.complete++
		}
	} else if l := f.LastStep(); l != nil && !f.DeadLettered() {
		s.lastTypes.add(l.Type, 1)
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		s.events += 1 + int64(st.Duplicates)
		s.duplicates += int64(st.Duplicates)
		if st.DeadLetter == nil {
			s.types.add(st.Type, 1)
		}
	}
	for _, h := range f.Hops {
		a, b := &f.Steps[h.From], &f.Steps[h.To]
		to := b.Type
		if b.DeadLetter != nil {
			to = b.Type + " (dead letter)"
		}
		s.edge(0, edgeKey{a.Type, to}).record(h)
		s.edge(1, edgeKey{a.Source, b.Source}).record(h)
	}
}

type hotEdge struct {
	k edgeKey
	e *edge
}

// edge returns the edge k of edges (which 0) or sourceEdges (1), created
// when new.
func (s *Stats) edge(which int, k edgeKey) *edge {
	for _, h := range s.hot[which] {
		if h.k == k {
			return h.e
		}
	}
	m := s.edges
	if which == 1 {
		m = s.sourceEdges
	}
	e := m[k]
	if e == nil {
		e = &edge{h: hdr.New(histMin, histMax, histDigits)}
		m[k] = e
	}
	if len(s.hot[which]) < internScan {
		s.hot[which] = append(s.hot[which], hotEdge{k, e})
	}
	return e
}

// counter counts by name, the first names found by comparing them.
type counter struct {
	names  []string
	counts []int64
	idx    map[string]int
}

func (c *counter) add(name string, n int64) {
	if len(c.names) <= internScan {
		for i := range c.names {
			if c.names[i] == name {
				c.counts[i] += n
				return
			}
		}
	} else if i, ok := c.idx[name]; ok {
		c.counts[i] += n
		return
	}
	if c.idx == nil {
		c.idx = map[string]int{}
	}
	c.idx[name] = len(c.names)
	c.names = append(c.names, name)
	c.counts = append(c.counts, n)
}

// m returns the counts as a map.
func (c *counter) m() map[string]int64 {
	out := make(map[string]int64, len(c.names))
	for i, n := range c.names {
		out[n] = c.counts[i]
	}
	return out
}

func (e *edge) record(h Hop) {
	if h.Skew {
		e.skew++
		e.minSkew = min(e.minSkew, h.Latency)
		return
	}
	e.max = max(e.max, h.Latency)
	us := int64(h.Latency / time.Microsecond)
	if us > histMax {
		e.over++
		return
	}
	// A hop shorter than the histogram's resolution is recorded as its lowest
	// value rather than dropped.
	_ = e.h.RecordValue(max(us, 0))
}

// Report is the statistics as `eddy trace flows -o json` writes them
// (schema version 1).
type Report struct {
	V      int         `json:"v"`
	Flows  FlowCounts  `json:"flows"`
	Events EventCounts `json:"events"`
	// Types counts the (deduplicated) steps per event type.
	Types map[string]int64 `json:"types"`
	// Edges are hops between event types, SourceEdges between topics or
	// queues; both sorted by count, descending.
	Edges       []EdgeReport `json:"edges"`
	SourceEdges []EdgeReport `json:"source_edges"`
}

// FlowCounts counts flows. Complete + Incomplete = Total; DeadLettered counts
// the flows with a dead-letter hop (which are incomplete unless a definition
// says otherwise). Open counts flows not yet idle for the timeout (included in
// the others, judged as they are now).
type FlowCounts struct {
	Total        int64 `json:"total"`
	Complete     int64 `json:"complete"`
	Incomplete   int64 `json:"incomplete"`
	DeadLettered int64 `json:"dead_lettered"`
	Open         int64 `json:"open"`
}

// EventCounts counts events read, and the duplicates among them (the same
// event id again on the same source).
type EventCounts struct {
	Total      int64 `json:"total"`
	Duplicates int64 `json:"duplicates"`
}

// EdgeReport is the latency of one kind of hop. Percentiles are in
// milliseconds, to HdrHistogram's 3 significant digits, over the hops with a
// latency from 0 to HistogramMax (366 days); OverRange counts the longer
// ones, which MaxMS includes. Skew counts the hops whose effect was stamped
// before its cause (producer clock skew), with MinSkewMS the most negative.
// Count counts every hop.
//
// The percentile pN is HdrHistogram's: with n hops in the percentiles, the
// smallest latency v such that at least max(1, int(N/100·n + 0.5)) hops
// are ≤ v (rounding the rank half up, not nearest-rank's ceil(N/100·n): 6
// hops of 10, 20, …, 60 ms give p90 = 50 ms).
type EdgeReport struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Count     int64   `json:"count"`
	P50MS     float64 `json:"p50_ms"`
	P90MS     float64 `json:"p90_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
	Skew      int64   `json:"skew"`
	MinSkewMS float64 `json:"min_skew_ms,omitempty"`
	OverRange int64   `json:"over_range,omitempty"`
}

// Report returns the statistics of every flow added plus the open ones given
// (each judged as it is now).
func (s *Stats) Report(open []*Flow) Report {
	all := s
	if len(open) > 0 {
		all = s.clone()
		for _, f := range open {
			all.Add(f)
		}
	}
	r := Report{V: 1, Types: all.types.m(), Edges: edgeReports(all.edges), SourceEdges: edgeReports(all.sourceEdges)}
	r.Flows = FlowCounts{Total: all.flows, DeadLettered: all.deadLettered, Open: int64(len(open))}
	if len(s.Definitions) > 0 {
		r.Flows.Complete = all.complete
	} else {
		causes := map[string]bool{}
		for k := range all.edges {
			if k.from != k.to {
				causes[k.from] = true
			}
		}
		for i, t := range all.lastTypes.names {
			if !causes[t] {
				r.Flows.Complete += all.lastTypes.counts[i]
			}
		}
	}
	r.Flows.Incomplete = r.Flows.Total - r.Flows.Complete
	r.Events = EventCounts{Total: all.events, Duplicates: all.duplicates}
	return r
}

func (s *Stats) clone() *Stats {
	c := NewStats(s.Definitions)
	c.flows, c.deadLettered, c.complete, c.events, c.duplicates = s.flows, s.deadLettered, s.complete, s.events, s.duplicates
	for i, n := range s.lastTypes.names {
		c.lastTypes.add(n, s.lastTypes.counts[i])
	}
	for i, n := range s.types.names {
		c.types.add(n, s.types.counts[i])
	}
	for _, p := range [][2]map[edgeKey]*edge{{s.edges, c.edges}, {s.sourceEdges, c.sourceEdges}} {
		for k, e := range p[0] {
			p[1][k] = &edge{h: e.h.Clone(), skew: e.skew, minSkew: e.minSkew, over: e.over, max: e.max}
		}
	}
	return c
}

func edgeReports(m map[edgeKey]*edge) []EdgeReport {
	out := make([]EdgeReport, 0, len(m))
	for k, e := range m {
		r := EdgeReport{From: k.from, To: k.to, Count: e.h.TotalCount(), Skew: e.skew}
		if r.Count > 0 {
			r.P50MS = ms(e.h.ValueAtQuantile(50))
			r.P90MS = ms(e.h.ValueAtQuantile(90))
			r.P99MS = ms(e.h.ValueAtQuantile(99))
			r.MaxMS = ms(e.h.Max())
		}
		if e.over > 0 {
			// Past the histogram: the longest hop, exact.
			r.MaxMS, r.OverRange = float64(e.max/time.Microsecond)/1000, e.over
		}
		if e.skew > 0 {
			r.MinSkewMS = float64(e.minSkew/time.Microsecond) / 1000
		}
		r.Count += e.skew + e.over
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// ms converts a histogram value in microseconds to milliseconds rounded to
// the histogram's 3 significant digits: the value HdrHistogram reports is the
// top of its bucket, which would otherwise show as 50.031 for a 50 ms hop.
func ms(us int64) float64 {
	if us <= 0 {
		return 0
	}
	v := float64(us) / 1000
	mag := math.Pow(10, float64(histDigits)-math.Ceil(math.Log10(v)))
	return math.Round(v*mag) / mag
}

// EdgeCounts is the histogram of the hops between event types from and to
// (as Report.Edges names them) bucketed by bounds, which ascend: counts[0]
// counts the hops shorter than bounds[0], counts[i] those from bounds[i-1]
// up to bounds[i], and counts[len(bounds)] the rest. Hops with a skewed
// (negative) latency are not in it, as in the percentiles. It is nil when
// the edge was not seen. It reads the same HdrHistogram the percentiles come
// from (to its 3 significant digits) and changes nothing.
func (s *Stats) EdgeCounts(from, to string, bounds []time.Duration) []int64 {
	e := s.edges[edgeKey{from, to}]
	if e == nil {
		return nil
	}
	counts := make([]int64, len(bounds)+1)
	for _, b := range e.h.Distribution() {
		if b.Count == 0 {
			continue
		}
		d := time.Duration(b.From) * time.Microsecond
		counts[sort.Search(len(bounds), func(i int) bool { return d < bounds[i] })] += b.Count
	}
	return counts
}
