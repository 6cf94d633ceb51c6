package inspect

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/eddy-sh/eddy/trace"
)

// WriteTimeline writes flows as `eddy trace ID` shows them to a person,
// colour (bold keys, yellow skew, red dead letters) when color is set.
func WriteTimeline(w io.Writer, flows []trace.FlowJSON, color bool) error {
	tw := &timelineWriter{color: color}
	for _, fl := range flows {
		tw.flow(fl)
	}
	_, err := w.Write(tw.b)
	return err
}

// TraceNotFound is `eddy trace ID`'s error when no flow matches id.
func TraceNotFound(id string) error {
	return fmt.Errorf("trace: no event matches %s (by id, correlation id, trace id or causation id) in what was read", SafeString(id))
}

// timelineWriter renders timelines for a person; every string that came from
// an event goes through the terminal-safe rendering.
type timelineWriter struct {
	b     []byte
	color bool
}

func (w *timelineWriter) safe(s string) { w.b = AppendSafe(w.b, []byte(s)) }
func (w *timelineWriter) str(s string)  { w.b = append(w.b, s...) }
func (w *timelineWriter) pad(s string, n int) {
	w.safe(s)
	for i := CellWidth(SafeString(s)); i < n; i++ {
		w.b = append(w.b, ' ')
	}
}
func (w *timelineWriter) style(code, s string) {
	if w.color {
		w.str("\x1b[" + code + "m")
		w.safe(s)
		w.str("\x1b[0m")
		return
	}
	w.safe(s)
}

func (w *timelineWriter) flow(fl trace.FlowJSON) {
	w.str("flow ")
	w.style("1", fl.Key)
	w.str(fmt.Sprintf(" (%s) · %d event(s) · %s · %s", fl.KeyKind, len(fl.Events), fl.Start.UTC().Format("2006-01-02 15:04:05.000Z"), fmtMS(fl.DurationMS)))
	if fl.Open {
		w.str(" · open")
	}
	w.str("\n")
	for _, e := range fl.Events {
		w.str("  ")
		w.str(e.At.UTC().Format("15:04:05.000"))
		w.str("  ")
		w.pad(e.Origin, 24)
		w.str(" ")
		w.pad(e.Type, 20)
		w.str(" ")
		id := e.ID
		if id == "" {
			id = "(no id)"
		}
		w.pad(id, 14)
		if h := e.Hop; h != nil {
			lat := fmtMS(h.LatencyMS)
			if h.LatencyMS >= 0 {
				lat = "+" + lat
			}
			w.str(" ")
			if h.Skew {
				w.style("33", lat+" skew")
			} else {
				w.str(lat)
			}
			w.str(" after ")
			from := fl.Events[h.From].Type
			if from == "" {
				from = "#" + fmt.Sprint(h.From)
			}
			w.safe(from)
			if h.Basis == trace.FromPrevious {
				w.str(" (previous)")
			}
		}
		if e.Duplicates > 0 {
			w.str(fmt.Sprintf(" ×%d duplicate(s)", e.Duplicates))
		}
		// Where the time came from: schema locations are the user's
		// configuration, but pass through the safe writer all the same.
		w.str("  [time: ")
		w.safe(e.TimeSource)
		if e.TimeCoarse {
			w.str(", whole second")
		}
		w.str("]\n")
		if d := e.DeadLetter; d != nil {
			w.str("      ")
			w.style("31", "✗ "+cut(DeadLetterText(d), 300))
			w.str("\n")
		}
	}
	w.str("  last step: ")
	w.safe(fl.LastStep)
	if fl.Missing != "" {
		w.str(" · missing: ")
		w.style("31", fl.Missing)
		w.str(" (")
		w.safe(fl.Definition)
		w.str(")")
	} else if fl.Definition != "" {
		w.str(" · complete (")
		w.safe(fl.Definition)
		w.str(")")
	}
	if fl.DeadLettered {
		w.str(" · ")
		w.style("31", "dead-lettered")
	}
	w.str("\n\n")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// fmtMS writes a latency of eddy's JSON (milliseconds) as the trace reports do.
func fmtMS(ms float64) string { return FormatLatency(MS(ms), LatencyTrace) }

// AppendFlowsReport appends `eddy trace flows`' report for a person: the
// counts, the definitions, the events per type and each edge's latency
// percentiles; live adds the flows still open.
func AppendFlowsReport(b []byte, r trace.Report, defs []trace.Definition, live bool) []byte {
	w := &timelineWriter{b: b}
	w.str(fmt.Sprintf("flows  %d total  %d complete  %d incomplete  %d dead-lettered", r.Flows.Total, r.Flows.Complete, r.Flows.Incomplete, r.Flows.DeadLettered))
	if live {
		w.str(fmt.Sprintf("  (%d open)", r.Flows.Open))
	}
	w.str(fmt.Sprintf("\nevents %d  duplicates %d\n", r.Events.Total, r.Events.Duplicates))
	for _, d := range defs {
		w.str("flow   ")
		w.safe(d.String())
		w.str("\n")
	}
	if len(r.Types) > 0 {
		w.str("\ntypes\n")
		names := make([]string, 0, len(r.Types))
		for t := range r.Types {
			names = append(names, t)
		}
		slices.Sort(names)
		for _, t := range names {
			w.str("  ")
			if t == "" {
				w.pad("(no type)", 28)
			} else {
				w.pad(t, 28)
			}
			w.str(fmt.Sprintf(" %d\n", r.Types[t]))
		}
	}
	for _, sec := range []struct {
		title string
		edges []trace.EdgeReport
	}{{"edges (event type)", r.Edges}, {"edges (source)", r.SourceEdges}} {
		if len(sec.edges) == 0 {
			continue
		}
		w.str("\n" + sec.title + "\n")
		w.str(fmt.Sprintf("  %-46s %8s %9s %9s %9s %9s %6s\n", "from -> to", "count", "p50", "p90", "p99", "max", "skew"))
		for _, e := range sec.edges {
			w.str("  ")
			w.pad(e.From+" -> "+e.To, 46)
			w.str(fmt.Sprintf(" %8d %9s %9s %9s %9s %6d\n", e.Count, fmtMS(e.P50MS), fmtMS(e.P90MS), fmtMS(e.P99MS), fmtMS(e.MaxMS), e.Skew))
			if e.OverRange > 0 {
				w.str(fmt.Sprintf("    %d hop(s) longer than %s: counted and in max, not in the percentiles\n", e.OverRange, "366 days"))
			}
		}
	}
	return w.b
}

// WriteFlowsReport writes AppendFlowsReport's report to w; redraw first
// clears a terminal's screen (a live report, drawn again in place).
func WriteFlowsReport(w io.Writer, r trace.Report, defs []trace.Definition, live, redraw bool) error {
	var b []byte
	if redraw {
		b = append(b, "\x1b[H\x1b[2J"...)
	}
	_, err := w.Write(AppendFlowsReport(b, r, defs, live))
	return err
}

// WarnUnseenTypes says on w, one line per definition, which of a --flow
// definition's step types no event read had: a typo there would otherwise
// make every flow silently incomplete.
func WarnUnseenTypes(w io.Writer, defs []trace.Definition, types []string) {
	seen := map[string]bool{}
	for _, t := range types {
		seen[t] = true
	}
	for _, d := range defs {
		var missing, said []string
		for _, t := range d.Steps {
			if !seen[t] && !slices.Contains(said, t) {
				said, missing = append(said, t), append(missing, t+TypeHint(t, types))
			}
		}
		if len(missing) > 0 {
			WriteNote(w, fmt.Sprintf("warning: --flow %q: no event of type %s was read", d.String(), strings.Join(missing, ", ")))
		}
	}
}

// WriteExpect writes `eddy expect`'s results for a person: a line per
// expectation, then its violations and the step types never seen (with the
// closest of types, the types read); allowEmpty says --allow-empty was given.
func WriteExpect(w io.Writer, chk *trace.Checker, types []string, allowEmpty bool) error {
	tw := &timelineWriter{}
	for i, r := range chk.Results {
		mark := "✓"
		if chk.ResultFailed(i) {
			mark = "✗"
		}
		tw.str(mark + " ")
		tw.safe(r.Expectation)
		tw.str(fmt.Sprintf(": %d flow(s), %d passed, %d failed, %d pending\n", r.Flows, r.Passed, r.Failed, r.Pending))
		for _, v := range r.Violations {
			status := "failed "
			if v.Pending {
				status = "pending"
			}
			tw.str("  " + status + " ")
			tw.pad(v.Flow, 14)
			tw.str(" ")
			tw.pad(string(v.Kind), 14)
			tw.str(" ")
			tw.safe(cut(v.Detail, 400))
			tw.str("\n")
		}
		for _, t := range r.NeverSeen {
			tw.str("  never seen: ")
			tw.safe(t)
			tw.safe(TypeHint(t, types))
			if allowEmpty {
				tw.str(" (allowed: --allow-empty)")
			}
			tw.str("\n")
		}
	}
	_, err := w.Write(tw.b)
	return err
}

// ExpectFailed is `eddy expect`'s one line on stderr when an expectation
// failed: which, and how.
func ExpectFailed(w io.Writer, results []trace.Result, allowEmpty bool, types []string) {
	var parts []string
	for _, x := range results {
		if x.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%q: %d of %d flow(s) failed", x.Expectation, x.Failed, x.Flows))
		}
		if len(x.NeverSeen) > 0 && !allowEmpty {
			var ts []string
			for _, t := range x.NeverSeen {
				ts = append(ts, t+TypeHint(t, types))
			}
			parts = append(parts, fmt.Sprintf("%q: no event of type %s in what was read (--allow-empty allows it)", x.Expectation, strings.Join(ts, ", ")))
		}
	}
	WriteNote(w, "expect: "+strings.Join(parts, "; "))
}

// TypeHint suggests the type seen closest to one never seen: the same but
// for case, or within 2 edits (1 for short names); "" when none is.
func TypeHint(typ string, seen []string) string {
	limit := 1
	if len(typ) > 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, s := range seen {
		if s == "" {
			continue
		}
		d := EditDistance(typ, s)
		if strings.EqualFold(typ, s) {
			d = 0
		}
		if d < bestD {
			best, bestD = s, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}
