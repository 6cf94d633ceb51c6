package trace

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// chain writes a causation chain of n events (id s-i caused by s-(i-1), no
// correlation or trace id) on two topics alternately, with the event times
// it returns.
func chain(n int) ([]event.Event, []time.Duration) {
	var evs []event.Event
	var at []time.Duration
	var t time.Duration
	for i := 0; i < n; i++ {
		cause := ""
		if i > 0 {
			cause = fmt.Sprintf("s-%d", i-1)
			t += time.Duration(1+i%7) * time.Millisecond
		}
		topic := []string{"a", "b"}[i%2]
		evs = append(evs, ev(topic, 0, int64(i), fmt.Sprintf("s-%d", i), fmt.Sprintf("T%d", i%3), "", cause, t))
		at = append(at, t)
	}
	return evs, at
}

// checkChain: one flow of every event, each hop from its cause with the
// latency the fixture wrote.
func checkChain(t *testing.T, fs []*Flow, at []time.Duration) {
	t.Helper()
	if len(fs) != 1 {
		t.Fatalf("%d flows, want 1", len(fs))
	}
	f := fs[0]
	if len(f.Steps) != len(at) || len(f.Hops) != len(at)-1 || f.Key != "s-0" || f.KeyKind != ByEvent {
		t.Fatalf("flow %s (%s): %d steps, %d hops; want s-0, %d and %d", f.Key, f.KeyKind, len(f.Steps), len(f.Hops), len(at), len(at)-1)
	}
	for _, h := range f.Hops {
		var from, to int
		fmt.Sscanf(f.Steps[h.From].ID, "s-%d", &from)
		fmt.Sscanf(f.Steps[h.To].ID, "s-%d", &to)
		if h.Basis != FromCausation || from != to-1 || h.Latency != at[to]-at[from] {
			t.Fatalf("hop %s -> %s %s %v, want from s-%d by causation, %v", f.Steps[h.From].ID, f.Steps[h.To].ID, h.Basis, h.Latency, to-1, at[to]-at[to-1])
		}
	}
}

func reversed(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i := range evs {
		out[len(evs)-1-i] = evs[i]
	}
	return out
}

// TestCausationAnyOrder: a causation chain is one flow, with each hop from
// its cause, whatever order its events arrive in: reversed, shuffled, or one
// topic read before the other.
func TestCausationAnyOrder(t *testing.T) {
	evs, at := chain(2)
	checkChain(t, correlate(evs), at)
	checkChain(t, correlate(reversed(evs)), at)

	evs, at = chain(1000)
	checkChain(t, correlate(reversed(evs)), at)
	for seed := uint64(0); seed < 5; seed++ {
		s := append([]event.Event(nil), evs...)
		rand.New(rand.NewPCG(seed, 11)).Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		checkChain(t, correlate(s), at)
	}
	// Topic b's events, then topic a's.
	var ba []event.Event
	for _, topic := range []string{"b", "a"} {
		for _, e := range evs {
			if e.Topic == topic {
				ba = append(ba, e)
			}
		}
	}
	checkChain(t, correlate(ba), at)
}

// TestCausationJoinsCorrelated: an event with only a causation id joins the
// flow of its cause when the cause has a correlation id (as the README
// says), and so does its own effect, in every order of arrival; a flow of
// another correlation id is never merged in.
func TestCausationJoinsCorrelated(t *testing.T) {
	base := []event.Event{
		ev("orders", 0, 1, "a", "OrderPlaced", "o-1", "", 0),
		ev("payments", 0, 1, "b", "PaymentAuthorized", "", "a", 40*time.Millisecond),
		ev("stock", 0, 1, "c", "StockReserved", "", "b", 100*time.Millisecond),
		ev("orders", 0, 2, "x", "OrderPlaced", "o-2", "b", 5*time.Millisecond),
	}
	perms := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, p := range perms {
		for xAt := 0; xAt <= 3; xAt++ {
			var evs []event.Event
			for k, i := range p {
				if k == xAt {
					evs = append(evs, base[3])
				}
				evs = append(evs, base[i])
			}
			if xAt == 3 {
				evs = append(evs, base[3])
			}
			fs := correlate(evs)
			byKey := map[string]*Flow{}
			for _, f := range fs {
				byKey[f.Key] = f
			}
			f := byKey["o-1"]
			if len(fs) != 2 || f == nil || f.KeyKind != ByCorrelation || types(f) != "OrderPlaced,PaymentAuthorized,StockReserved" ||
				f.Hops[0].Latency != 40*time.Millisecond || f.Hops[1].Latency != 60*time.Millisecond || f.Hops[1].Basis != FromCausation {
				t.Fatalf("order %v (o-2 at %d): %d flows, o-1 = %+v", p, xAt, len(fs), f)
			}
			if g := byKey["o-2"]; g == nil || len(g.Steps) != 1 {
				t.Fatalf("order %v (o-2 at %d): o-2 = %+v", p, xAt, g)
			}
		}
	}
}

// TestMergedFlowsEvicted: merged flows leave nothing behind once finalised,
// so memory stays bounded by the flow timeout.
func TestMergedFlowsEvicted(t *testing.T) {
	clk := newClock()
	var out []*Flow
	c := NewCorrelator(Config{Clock: clk.Now, Timeout: time.Minute, OnFlow: collect(&out)})
	evs, at := chain(300)
	evs = reversed(evs)
	evs = append(evs, ev("orders", 0, 9, "k", "OrderPlaced", "o-9", "", 0), ev("pay", 0, 9, "k2", "PaymentAuthorized", "", "k", time.Millisecond))
	for i := range evs {
		c.Add(&evs[i])
	}
	if c.Len() != 2 {
		t.Fatalf("%d open flows, want 2", c.Len())
	}
	clk.Add(2 * time.Minute)
	if n := c.Expire(); n != 2 || c.Len() != 0 || len(c.alias) != 0 || c.head != nil {
		t.Fatalf("expired %d, %d open, %d aliases left", n, c.Len(), len(c.alias))
	}
	var chainFlows []*Flow
	for _, f := range out {
		if f.Key == "s-0" {
			chainFlows = append(chainFlows, f)
		}
	}
	checkChain(t, chainFlows, at)
}

// TestCauseOfCorrelatedStaysApart: an event with neither correlation nor
// trace id joins the flow of its cause, not of its effect: the cause of a
// correlated event is its own flow, in either order.
func TestCauseOfCorrelatedStaysApart(t *testing.T) {
	evs := []event.Event{
		ev("requests", 0, 1, "r", "Requested", "", "", 0),
		ev("orders", 0, 1, "a", "OrderPlaced", "o-1", "r", 10*time.Millisecond),
		ev("payments", 0, 1, "b", "PaymentAuthorized", "", "a", 30*time.Millisecond),
	}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}} {
		var in []event.Event
		for _, i := range order {
			in = append(in, evs[i])
		}
		got := map[string]string{}
		for _, f := range correlate(in) {
			got[f.Key] = types(f)
		}
		if len(got) != 2 || got["o-1"] != "OrderPlaced,PaymentAuthorized" || got["r"] != "Requested" {
			t.Errorf("order %v: %v", order, got)
		}
	}
}

// TestEqualTimesAnyOrder: events stamped in the same millisecond are ordered
// cause first (then by source, partition, offset), not by arrival: the last
// step, the completeness of the flow and its edges are the same in every
// order of arrival.
func TestEqualTimesAnyOrder(t *testing.T) {
	evs := []event.Event{
		ev("z-first", 0, 1, "a", "A", "", "", 0),
		ev("m", 0, 1, "b", "B", "", "a", 0),
		ev("a-last", 0, 1, "c", "C", "", "b", 0),
		ev("m", 1, 7, "x", "X", "", "a", 0), // a sibling of b
	}
	var want string
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}} {
		var in []event.Event
		for _, i := range order {
			in = append(in, evs[i])
		}
		fs := correlate(in)
		st := NewStats(nil)
		for _, f := range fs {
			st.Add(f)
		}
		r := st.Report(nil)
		got := fmt.Sprintf("%d flows %s last %s complete %d edges %v", len(fs), types(fs[0]), fs[0].LastStep().Type, r.Flows.Complete, r.Edges)
		if want == "" {
			want = got
			if types(fs[0]) != "A,B,X,C" || fs[0].Key != "a" {
				t.Fatalf("order %v: %s (key %s), want A,B,X,C (cause first, then by source)", order, got, fs[0].Key)
			}
		} else if got != want {
			t.Errorf("order %v: %s\nwant %s", order, got, want)
		}
	}
}
