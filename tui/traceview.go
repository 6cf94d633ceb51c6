package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/trace"
)

// traceView shows the flow of one event as eddy trace ID finds it: a
// timeline across topics with each hop's latency drawn to scale, the
// dead-lettered step marked, and the latency histogram per edge of every
// flow read.
type traceView struct {
	c   *Common
	ctx context.Context
	be  *Backend
	o   Options

	query   string
	loading bool
	gen     int
	res     traceMsg
	cur     cursor
	since   time.Time // where the read starts (read again after an outage)
	steps   []stepRef // the rows of lines() that are steps
	filter  input     // / filters the steps (listfilter.go)
}

// traceResult carries a traceMsg to the request it answers.
type traceResult struct {
	gen int
	traceMsg
}

func newTraceView(c *Common, ctx context.Context, be *Backend, o Options) *traceView {
	return &traceView{c: c, ctx: ctx, be: be, o: o}
}

func (v *traceView) title() string {
	if v.query == "" {
		return "Trace"
	}
	return "Trace " + safe(v.query)
}

func (v *traceView) editing() bool { return v.filter.active }

func (v *traceView) help() []key.Binding {
	k := v.c.Keys
	if v.lines(); len(v.steps) == 0 {
		if v.filter.value != "" {
			return []key.Binding{k.ListFilter}
		}
		return nil
	}
	return append(k.moveHelp(), relabel(k.Open, "open the step's event"), k.ListFilter)
}

// open looks for the flow of e: every topic from TraceWindow before it to
// the end.
func (v *traceView) open(e *event.Event) tea.Cmd {
	return v.openID(traceQuery(v.be.schema(), e), e.Timestamp)
}

// openID looks for the flows of id (a correlation, trace or event id, as
// eddy trace ID takes it): every topic from TraceWindow before at to the
// end.
func (v *traceView) openID(id string, at time.Time) tea.Cmd {
	v.query = id
	v.gen = nextGen()
	v.loading, v.res, v.cur, v.filter = true, traceMsg{}, cursor{}, input{}
	if v.query == "" {
		v.loading = false
		v.res.err = fmt.Errorf("trace: the event has no correlation, trace or event id (see the schema in eddy config)")
		return nil
	}
	v.since = at.Add(-v.o.TraceWindow)
	return v.load(v.since)
}

func (v *traceView) load(since time.Time) tea.Cmd {
	gen, be, ctx, q := v.gen, v.be, v.ctx, v.query
	return func() tea.Msg { return traceResult{gen, be.findFlows(ctx, q, since)} }
}

func (v *traceView) status() string {
	switch {
	case v.query == "":
		return "no trace: press t on an event (Tail or Event view), or :trace ID"
	case v.loading:
		return "reading every topic for " + safe(v.query) + "…"
	case v.res.err != nil:
		return v.c.Styles.Error.Render(safe(v.res.err.Error()))
	}
	r := v.res.report
	return v.filterCount() + fmt.Sprintf("%d flow(s) match · %d flows read (%d dead-lettered) · %d events", len(v.res.flows), r.Flows.Total, r.Flows.DeadLettered, r.Events.Total)
}

func (v *traceView) update(msg tea.Msg) tea.Cmd {
	if v.filterUpdate(msg) {
		return nil
	}
	switch msg := msg.(type) {
	case traceResult:
		if msg.gen == v.gen {
			v.loading, v.res = false, msg.traceMsg
			// The cursor starts on the first step: enter opens its event.
			if v.lines(); len(v.steps) > 0 {
				v.cur = cursor{pos: v.steps[0].line}
			}
		}
	case connRestoredMsg:
		if !v.loading && errors.Is(v.res.err, bus.ErrConnect) && v.query != "" {
			// The read failed for want of the broker: read again now it answers.
			v.gen = nextGen()
			v.loading, v.res = true, traceMsg{}
			return v.load(v.since)
		}
	case tea.KeyPressMsg:
		n, h := len(v.lines()), v.listHeight()
		if v.cur.move(v.c.Keys, msg, n, h) {
			return nil
		}
		if key.Matches(msg, v.c.Keys.Open) {
			return v.openStep()
		}
	}
	return nil
}

// columns are the widths of the origin, the type and the longest hop's bar,
// fitted to the screen with room for the "← stuck here" mark.
func (v *traceView) columns() (ow, tw, bw int) {
	w := v.c.Width
	ow = max(14, min(22, w/4-3))
	tw = max(12, min(18, w/5))
	bw = max(4, min(30, w-(2+10+ow+1+tw+1+10)-14))
	return ow, tw, bw
}

// lines renders the timelines, then the edge table.
func (v *traceView) lines() []string {
	st := v.c.Styles
	var out []string
	v.steps = v.steps[:0]
	if v.loading {
		return []string{"  reading…"}
	}
	if v.res.err != nil {
		lines := errorLines(st, safe(v.res.err.Error()), v.c.Width)
		if errors.Is(v.res.err, bus.ErrConnect) {
			lines = append(lines, st.Dim.Render("  read again when the broker answers"))
		}
		return lines
	}
	if len(v.res.flows) == 0 {
		out = append(out, "  no flow matches "+safe(v.query)+" in what was read")
	}
	flows := v.shownFlows()
	if len(flows) == 0 && len(v.res.flows) > 0 {
		out = append(out, v.c.Styles.Dim.Render("  no step matches the filter (esc clears it)"))
	}
	ow, tw, bw := v.columns()
	for _, f := range flows {
		var longest time.Duration
		for _, h := range f.Hops {
			longest = max(longest, h.Latency)
		}
		state := "complete"
		if f.Open {
			state = "open"
		}
		if f.DeadLettered() {
			state = st.DLQ.Render("DEAD-LETTERED")
		}
		out = append(out, st.Header.Render(fmt.Sprintf("flow %s (%s) · %d steps · %s · %s", safe(f.Key), f.KeyKind, len(f.Steps),
			inspect.FormatLagDuration(f.End().Sub(f.Start())), "")+state))
		hopInto := map[int]trace.Hop{}
		for _, h := range f.Hops {
			hopInto[h.To] = h
		}
		last := f.LastStep()
		for i := range f.Steps {
			s := &f.Steps[i]
			if !v.keeps(s) {
				continue
			}
			off := s.At.Sub(f.Start())
			lat, bar := "", ""
			if h, ok := hopInto[i]; ok {
				lat = fmtLatency(h.Latency)
				if h.Skew {
					lat += " skew"
				}
				if longest > 0 && h.Latency > 0 {
					bar = strings.Repeat("█", max(1, int(float64(bw)*float64(h.Latency)/float64(longest))))
				}
			}
			typ := s.Type
			if typ == "" {
				typ = "?"
			}
			v.steps = append(v.steps, stepRef{len(out), s})
			line := fmt.Sprintf("  +%-8s %-*s %-*s %9s %s", fmtLatency(off), ow, fitName(safe(s.Origin()), ow), tw, fit(safe(typ), tw), lat, st.Bar.Render(pad(bar, bw)))
			switch {
			case s.DeadLetter != nil:
				line = st.DLQ.Render(fmt.Sprintf("✗ +%-8s %-*s %-*s %9s ", fmtLatency(off), ow, fitName(safe(s.Origin()), ow), tw, fit(safe(typ), tw), lat)) + st.Bar.Render(pad(bar, bw))
				out = append(out, line, st.DLQ.Render("    "+safe(inspect.DeadLetterText(s.DeadLetter))))
				continue
			case last == s && f.DeadLettered():
				line += st.Warn.Render(" ← stuck here")
			case last == s:
				line += st.Dim.Render(" ← last step")
			}
			out = append(out, line)
		}
		out = append(out, "")
	}
	if len(v.res.report.Edges) > 0 {
		out = append(out, st.Header.Render(fmt.Sprintf("edges of the %d flows read: hop latency, histogram on a log scale", v.res.report.Flows.Total)))
		// Narrow, an edge's name takes a line of its own, so that it and
		// its "(dead letter)" are not cut to nothing.
		narrow := v.c.Width < 80
		nw := max(16, min(40, v.c.Width-38))
		if narrow {
			nw = max(16, v.c.Width-2)
			out = append(out, st.Dim.Render("  FROM -> TO"), st.Dim.Render(fmt.Sprintf("    %6s %8s %8s %8s", "COUNT", "P50", "P99", "MAX")))
		} else {
			out = append(out, st.Dim.Render(fmt.Sprintf("  %-*s %6s %8s %8s %8s", nw, "FROM -> TO", "COUNT", "P50", "P99", "MAX")))
		}
		out = append(out, st.Dim.Render("    "+histAxis()))
		for i, e := range v.res.report.Edges {
			to, label := e.To, ""
			if t, ok := strings.CutSuffix(to, deadLetterLabel); ok {
				to, label = t, deadLetterLabel
			}
			name := safe(e.From) + " -> " + safe(to) + label
			if ansi.StringWidth(name) > nw {
				// Each end keeps its share, and the arrow and the label
				// stay whole.
				avail := max(10, nw-len(label)-4)
				name = fitName(safe(e.From), avail/2) + " -> " + fitName(safe(to), avail-avail/2) + label
			}
			if narrow && label != "" && ansi.StringWidth(name) > v.c.Width-2 {
				// Too narrow for the ends and the label on one line (under
				// about 34 columns): the label takes a line of its own.
				out = append(out, "  "+fitName(safe(e.From)+" -> "+safe(to), v.c.Width-2), "  "+strings.TrimSpace(label))
			} else if narrow {
				out = append(out, "  "+name)
			}
			if narrow {
				out = append(out, fmt.Sprintf("    %6d %8s %8s %8s", e.Count, fmtMS(e.P50MS), fmtMS(e.P99MS), fmtMS(e.MaxMS)))
			} else {
				out = append(out, fmt.Sprintf("  %-*s %6d %8s %8s %8s", nw, name, e.Count, fmtMS(e.P50MS), fmtMS(e.P99MS), fmtMS(e.MaxMS)))
			}
			if i < len(v.res.hists) && v.res.hists[i] != nil {
				out = append(out, "    "+v.histRow(v.res.hists[i]))
			}
			if e.OverRange > 0 {
				// As trace flows says it: never clamped into the percentiles.
				out = append(out, st.Warn.Render(fmt.Sprintf("    %d hop(s) longer than 366 days: in count and max, not in P50/P99", e.OverRange)))
			}
		}
	}
	return out
}

// deadLetterLabel ends the name of an edge into a dead letter
// (trace.Stats), which a cut must not take away.
const deadLetterLabel = " (dead letter)"

// histCell is how wide one bucket of a histogram row is drawn.
const histCell = 2

// histRow draws one edge's bucketed latencies as bars whose heights are
// the counts (scaled to the fullest bucket), an empty bucket as a dot, then
// the fullest bucket and its count.
func (v *traceView) histRow(counts []int64) string {
	st := v.c.Styles
	levels := []rune("▁▂▃▄▅▆▇█")
	var top int64
	peak := 0
	for i, c := range counts {
		if c > top {
			top, peak = c, i
		}
	}
	var b strings.Builder
	for _, c := range counts {
		if c == 0 {
			b.WriteString(st.Dim.Render(strings.Repeat("·", histCell)))
			continue
		}
		l := int((c*int64(len(levels)) + top - 1) / top) // ceil: any count shows
		b.WriteString(st.Bar.Render(strings.Repeat(string(levels[l-1]), histCell)))
	}
	if top == 0 {
		return b.String()
	}
	return b.String() + st.Dim.Render(fmt.Sprintf("  most %s (%d)", bucketName(peak), top))
}

// histAxis labels a histogram row's buckets at each power of ten.
func histAxis() string {
	line := []rune(strings.Repeat(" ", histCell*(len(latencyBounds)+1)+4))
	for i, b := range latencyBounds {
		if b != time.Millisecond && b != 10*time.Millisecond && b != 100*time.Millisecond && b != time.Second && b != 10*time.Second {
			continue
		}
		// Bucket i+1 starts at bound i.
		copy(line[histCell*(i+1):], []rune("╵"+shortDur(b)))
	}
	return strings.TrimRight(string(line), " ")
}

// bucketName is bucket i's range: "<1ms", "20ms–50ms", "≥10s".
func bucketName(i int) string {
	switch {
	case i == 0:
		return "<" + shortDur(latencyBounds[0])
	case i >= len(latencyBounds):
		return "≥" + shortDur(latencyBounds[len(latencyBounds)-1])
	}
	return shortDur(latencyBounds[i-1]) + "–" + shortDur(latencyBounds[i])
}

// shortDur writes a bucket bound: whole milliseconds or seconds.
func shortDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

func fmtLatency(d time.Duration) string { return inspect.FormatLatency(d, inspect.LatencyCompact) }

func fmtMS(ms float64) string { return fmtLatency(time.Duration(ms * float64(time.Millisecond))) }

func (v *traceView) view() string {
	lines := v.lines()
	h := v.listHeight()
	v.cur.clamp(len(lines), h)
	if v.cur.pos < len(lines) && len(v.steps) > 0 {
		lines[v.cur.pos] = cursorRow(v.c.Styles, lines[v.cur.pos], v.c.Width)
	}
	return body(append(v.filterLine(), lines[v.cur.top:]...), v.c.Width, v.c.bodyHeight())
}
