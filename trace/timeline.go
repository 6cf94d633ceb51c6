package trace

import "time"

// Timeline is `eddy trace ID -o json` (schema version 1): every flow that
// matched the ID, oldest first.
type Timeline struct {
	V     int        `json:"v"`
	Query string     `json:"query"`
	Flows []FlowJSON `json:"flows"`
}

// FlowJSON is one flow of a Timeline.
type FlowJSON struct {
	Key     string  `json:"key"`
	KeyKind KeyKind `json:"key_kind"`
	// Open: the flow had events within the idle timeout when input ended.
	Open         bool        `json:"open"`
	Start        time.Time   `json:"start"`
	End          time.Time   `json:"end"`
	DurationMS   float64     `json:"duration_ms"`
	DeadLettered bool        `json:"dead_lettered"`
	LastStep     string      `json:"last_step,omitempty"`
	Definition   string      `json:"definition,omitempty"`
	Missing      string      `json:"missing,omitempty"`
	Events       []EventJSON `json:"events"`
}

// EventJSON is one step of a flow.
type EventJSON struct {
	At time.Time `json:"at"`
	// TimeSource says where At came from (Step.TimeSource); TimeCoarse that
	// it is whole seconds.
	TimeSource string    `json:"time_source"`
	TimeCoarse bool      `json:"time_coarse,omitempty"`
	Timestamp  time.Time `json:"timestamp,omitzero"`
	Transport  string    `json:"transport"`
	Source     string    `json:"source"`
	Partition  *int32    `json:"partition,omitempty"`
	Offset     int64     `json:"offset"`
	Origin     string    `json:"origin"`
	ID         string    `json:"id,omitempty"`
	Type       string    `json:"type,omitempty"`
	Causation  string    `json:"causation_id,omitempty"`
	TraceID    string    `json:"trace_id,omitempty"`
	SpanID     string    `json:"span_id,omitempty"`
	// Duplicates counts further copies of the event on the same source.
	Duplicates int         `json:"duplicates"`
	Hop        *HopJSON    `json:"hop,omitempty"`
	DeadLetter *DeadLetter `json:"dead_letter,omitempty"`
}

// HopJSON is the hop into an event: from which event (index into events),
// how long after it, and how the cause was found.
type HopJSON struct {
	From      int      `json:"from"`
	LatencyMS float64  `json:"latency_ms"`
	Skew      bool     `json:"skew"`
	Basis     HopBasis `json:"basis"`
	// Coarse: the event's time is whole seconds, the latency known to a
	// second (Hop.Coarse).
	Coarse bool `json:"coarse,omitempty"`
}

// JSON returns the flow in the Timeline schema; defs name the missing step
// when one matches.
func (f *Flow) JSON(defs []Definition) FlowJSON {
	out := FlowJSON{Key: f.Key, KeyKind: f.KeyKind, Open: f.Open, Start: f.Start(), End: f.End(), DeadLettered: f.DeadLettered()}
	out.DurationMS = durMS(out.End.Sub(out.Start))
	if l := f.LastStep(); l != nil {
		out.LastStep = l.Type
	}
	if d := Match(f, defs); d != nil {
		out.Definition, out.Missing = d.String(), f.Missing(d)
	}
	hops := make(map[int]Hop, len(f.Hops))
	for _, h := range f.Hops {
		hops[h.To] = h
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		e := EventJSON{At: s.At, TimeSource: s.TimeSource, TimeCoarse: s.TimeCoarse, Timestamp: s.Timestamp, Transport: string(s.Transport), Source: s.Source, Offset: s.Offset,
			Origin: s.Origin(), ID: s.ID, Type: s.Type, Causation: s.Causation, TraceID: s.TraceID, SpanID: s.SpanID,
			Duplicates: s.Duplicates, DeadLetter: s.DeadLetter}
		if s.Transport == "kafka" {
			p := s.Partition
			e.Partition = &p
		}
		if h, ok := hops[i]; ok {
			e.Hop = &HopJSON{From: h.From, LatencyMS: durMS(h.Latency), Skew: h.Skew, Basis: h.Basis, Coarse: h.Coarse}
		}
		out.Events = append(out.Events, e)
	}
	return out
}

func durMS(d time.Duration) float64 { return float64(d/time.Microsecond) / 1000 }
