package trace

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeyKind says which identity a flow is keyed by.
type KeyKind string

// The identities a flow can be keyed by, in the order they are preferred.
const (
	ByCorrelation KeyKind = "correlation_id"
	ByTrace       KeyKind = "trace_id"
	ByEvent       KeyKind = "event_id"
	ByOrigin      KeyKind = "origin" // an event with no id at all
)

// HopBasis says how a hop's cause was found.
type HopBasis string

// How a hop's cause is found, in order of preference.
const (
	// FromCausation: the event's causation id names the cause.
	FromCausation HopBasis = "causation"
	// FromSpan: the event carries the span context of an earlier event
	// unchanged (its traceparent's parent span is that event's).
	FromSpan HopBasis = "span"
	// FromDeadLetter: a dead-letter copy, from the original event.
	FromDeadLetter HopBasis = "dead_letter"
	// FromPrevious: no cause is known; the hop is from the previous event in
	// time order.
	FromPrevious HopBasis = "previous"
)

// Hop is the step from one event of a flow to the next it caused.
type Hop struct {
	// From and To index Flow.Steps.
	From, To int
	// Latency is To's event time minus From's. It is negative when the
	// producers' clocks disagree (Skew).
	Latency time.Duration
	Skew    bool
	// Coarse: To's time is whole seconds, so the hop is known only to a
	// second; a negative latency within that second is not skew (the
	// event may have happened up to a second after its time says).
	Coarse bool
	Basis  HopBasis
}

// Flow is a finalised (or, from Correlator.Open, a still open) set of
// correlated events.
type Flow struct {
	Key     string
	KeyKind KeyKind
	// Steps are in event-time order; among equal times, causes before
	// their effects, then by source, partition and offset (never by
	// arrival order).
	Steps []Step
	// Hops has one entry per step that has a cause or a previous step, in
	// the order of Steps (the hop into that step).
	Hops []Hop
	// Open is set for a flow reported before it was idle for the timeout.
	Open bool
	// Label is Config.Label of the event that opened the flow (0 without).
	Label uint16
}

// Start is the event time of the first step.
func (f *Flow) Start() time.Time { return f.Steps[0].At }

// End is the latest event time of any step.
func (f *Flow) End() time.Time {
	var t time.Time
	for i := range f.Steps {
		if f.Steps[i].At.After(t) {
			t = f.Steps[i].At
		}
	}
	return t
}

// DeadLettered reports whether any step is a dead-letter copy.
func (f *Flow) DeadLettered() bool {
	for i := range f.Steps {
		if f.Steps[i].DeadLetter != nil {
			return true
		}
	}
	return false
}

// LastStep returns the last step reached: the latest step in time order that
// is not a dead-letter copy; nil when there is none.
func (f *Flow) LastStep() *Step {
	for i := len(f.Steps) - 1; i >= 0; i-- {
		if f.Steps[i].DeadLetter == nil {
			return &f.Steps[i]
		}
	}
	return nil
}

// Has reports whether the flow has a step of this type that is not a dead
// letter.
func (f *Flow) Has(typ string) bool { return f.first(typ) >= 0 }

func (f *Flow) first(typ string) int {
	for i := range f.Steps {
		if f.Steps[i].Type == typ && f.Steps[i].DeadLetter == nil {
			return i
		}
	}
	return -1
}

// Definition is a known flow: the event types a flow passes through, in
// order, e.g. OrderPlaced -> PaymentAuthorized -> StockReserved.
type Definition struct {
	Steps []string
}

func (d Definition) String() string { return strings.Join(d.Steps, " -> ") }

// ParseDefinition parses "A -> B -> C" (at least two types; "→" works too).
func ParseDefinition(s string) (Definition, error) {
	s = strings.ReplaceAll(s, "→", "->")
	var d Definition
	for _, p := range strings.Split(s, "->") {
		p = strings.TrimSpace(p)
		if p == "" {
			return Definition{}, fmt.Errorf("flow %q: an empty step (want TYPE -> TYPE -> ...)", s)
		}
		if strings.ContainsAny(p, " \t") {
			return Definition{}, fmt.Errorf("flow %q: step %q has a space; separate steps with ->", s, p)
		}
		d.Steps = append(d.Steps, p)
	}
	if len(d.Steps) < 2 {
		return Definition{}, fmt.Errorf("flow %q: want at least two steps, e.g. OrderPlaced -> PaymentAuthorized", s)
	}
	return d, nil
}

// Match returns the first definition whose first step the flow has, or nil.
func Match(f *Flow, defs []Definition) *Definition {
	for i := range defs {
		if f.Has(defs[i].Steps[0]) {
			return &defs[i]
		}
	}
	return nil
}

// Missing returns the first step of d the flow has not reached, or "".
func (f *Flow) Missing(d *Definition) string {
	if d == nil {
		return ""
	}
	for _, t := range d.Steps {
		if !f.Has(t) {
			return t
		}
	}
	return ""
}

// Complete reports whether the flow passed through every step of a definition
// whose first step it has.
func (f *Flow) Complete(defs []Definition) bool {
	for i := range defs {
		if f.Has(defs[i].Steps[0]) && f.Missing(&defs[i]) == "" {
			return true
		}
	}
	return false
}

// Matches reports whether id names this flow: its key, or the id, trace id or
// causation id of one of its steps. An empty id matches nothing.
func (f *Flow) Matches(id string) bool {
	if id == "" {
		return false // not "every step without an id"
	}
	if f.Key == id {
		return true
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.ID == id || s.TraceID == id || s.Causation == id {
			return true
		}
	}
	return false
}

// buildFlow orders f.Steps by event time and finds each step's cause into
// f.Hops (appended to f.Hops[:0]); from and basis are scratch of
// len(f.Steps).
func buildFlow(f *Flow, from []int, basis []HopBasis) {
	steps := f.Steps
	slices.SortStableFunc(steps, func(a, b Step) int { return a.At.Compare(b.At) })
	for i := 1; i < len(steps); i++ {
		if steps[i].At.Equal(steps[i-1].At) {
			orderTies(steps)
			break
		}
	}
	f.Hops = f.Hops[:0]
	// Flows are small: a scan finds a cause faster than building maps, which
	// only pay off for long flows.
	var byID, bySpan map[string]int
	if len(steps) > 16 {
		byID = make(map[string]int, len(steps))
		bySpan = make(map[string]int, len(steps))
		for i := range steps {
			s := &steps[i]
			if s.DeadLetter != nil {
				continue
			}
			if s.ID != "" {
				if _, dup := byID[s.ID]; !dup {
					byID[s.ID] = i
				}
			}
			if s.SpanID != "" {
				if _, dup := bySpan[s.SpanID]; !dup {
					bySpan[s.SpanID] = i
				}
			}
		}
	}
	lookup := func(m map[string]int, v string, span bool) (int, bool) {
		if v == "" {
			return 0, false
		}
		if m != nil {
			j, ok := m[v]
			return j, ok
		}
		for j := range steps {
			if steps[j].DeadLetter != nil {
				continue
			}
			if !span && steps[j].ID == v || span && steps[j].SpanID == v {
				return j, true
			}
		}
		return 0, false
	}
	for i := range steps {
		s := &steps[i]
		from[i] = -1
		if j, ok := lookup(byID, s.ID, false); ok && s.DeadLetter != nil {
			from[i], basis[i] = j, FromDeadLetter
		} else if j, ok := lookup(byID, s.Causation, false); ok && j != i {
			from[i], basis[i] = j, FromCausation
		} else if j, ok := lookup(bySpan, s.SpanID, true); ok && j < i {
			from[i], basis[i] = j, FromSpan
		}
	}
	// A step with no known cause hops from the previous step, unless that
	// step was caused by this one (clock skew put the effect first): the
	// hop would then run backwards along a causal one.
	for i := range steps {
		if from[i] >= 0 {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			if !causedBy(from, j, i) {
				from[i], basis[i] = j, FromPrevious
				break
			}
		}
	}
	for i := range steps {
		if from[i] < 0 {
			continue
		}
		lat := steps[i].At.Sub(steps[from[i]].At)
		coarse := steps[i].TimeCoarse
		f.Hops = append(f.Hops, Hop{From: from[i], To: i, Latency: lat, Skew: lat < 0 && !(coarse && lat > -time.Second), Basis: basis[i], Coarse: coarse})
	}
}

// orderTies orders steps of equal event time (sorted by it) whatever order
// they arrived in: a cause before its effects (by causation depth within
// the flow, a dead-letter copy after its original), then by source,
// partition and offset. Events stamped in the same millisecond are common;
// arrival order would otherwise decide which is the flow's last step.
func orderTies(steps []Step) {
	n := len(steps)
	byID := make(map[string]int, n)
	for i := range steps {
		if s := &steps[i]; s.ID != "" && s.DeadLetter == nil {
			if _, dup := byID[s.ID]; !dup {
				byID[s.ID] = i
			}
		}
	}
	depth := make([]int, n)
	for i := range steps {
		d, j := 0, i
		// Up the causes in the flow; n bounds a cycle.
		for k := 0; k < n; k++ {
			s := &steps[j]
			next, ok := byID[s.Causation]
			if s.DeadLetter != nil {
				next, ok = byID[s.ID]
			}
			if !ok || next == j {
				break
			}
			d, j = d+1, next
		}
		depth[i] = d
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := &steps[a], &steps[b]
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		if c := cmp.Compare(depth[a], depth[b]); c != 0 {
			return c
		}
		if c := strings.Compare(x.Source, y.Source); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Partition, y.Partition); c != 0 {
			return c
		}
		return cmp.Compare(x.Offset, y.Offset)
	})
	sorted := make([]Step, n)
	for i, j := range idx {
		sorted[i] = steps[j]
	}
	copy(steps, sorted)
}

// causedBy reports whether step j descends from step i through the causal
// hops found so far.
func causedBy(from []int, j, i int) bool {
	for n := 0; j >= 0 && n < len(from); n++ {
		if from[j] == i {
			return true
		}
		j = from[j]
	}
	return false
}
