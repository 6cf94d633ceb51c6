package trace

import (
	"slices"
	"testing"
	"time"
)

// TestEdgeCounts: an edge's hops bucketed by latency, skewed hops left out,
// an edge never seen nil.
func TestEdgeCounts(t *testing.T) {
	s := NewStats(nil)
	for _, lat := range []time.Duration{300 * time.Microsecond, 4 * time.Millisecond, 5 * time.Millisecond, 7 * time.Millisecond, 2 * time.Second} {
		s.Add(&Flow{Steps: []Step{{Type: "A", Source: "a"}, {Type: "B", Source: "b"}}, Hops: []Hop{{From: 0, To: 1, Latency: lat}}})
	}
	s.Add(&Flow{Steps: []Step{{Type: "A", Source: "a"}, {Type: "B", Source: "b"}}, Hops: []Hop{{From: 0, To: 1, Latency: -time.Millisecond, Skew: true}}})
	bounds := []time.Duration{time.Millisecond, 5 * time.Millisecond, time.Second}
	if got, want := s.EdgeCounts("A", "B", bounds), []int64{1, 1, 2, 1}; !slices.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	if got := s.EdgeCounts("B", "A", bounds); got != nil {
		t.Fatalf("an edge never seen: %v", got)
	}
}
