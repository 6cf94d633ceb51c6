package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq/convention"
)

func defaultNaming() convention.Naming { return convention.DefaultNaming() }

// sparkLen is how many samples a sparkline keeps.
const sparkLen = 20

// sourcesTick asks for the next listing; gen drops ticks of an earlier
// chain (one restarted by r, or of a context switched away from).
type sourcesTick struct{ gen int }

// sourcesResult carries a listing to the chain that asked for it.
type sourcesResult struct {
	gen int
	sourcesMsg
}

// sourcesView lists the context's topics and queues.
type sourcesView struct {
	c       *Common
	ctx     context.Context
	be      *Backend
	refresh time.Duration

	rows     []sourceRow
	shown    []int // indexes into rows that the list filter keeps
	selected map[string]bool
	history  map[string][]float64 // rate samples per source, for sparklines
	prev     map[string]int64     // previous message count (Kafka rates)
	prevAt   time.Time
	errs     []error
	loaded   bool
	// readAt is when the rows shown were read; stale says the latest
	// read failed and they are the last good ones.
	readAt time.Time
	stale  bool
	cur    cursor
	filter input
	sort   listSort // s and S: by name (the default), parts, messages or rate
	// gen is the one sampling chain in force: a listing, then a tick
	// Refresh later, then the next listing. It runs whether the view is
	// shown or not, so the rate sparklines have no gap for the time spent
	// in another view.
	gen int
}

func newSourcesView(c *Common, ctx context.Context, be *Backend, refresh time.Duration) *sourcesView {
	return &sourcesView{c: c, ctx: ctx, be: be, refresh: refresh, selected: map[string]bool{},
		history: map[string][]float64{}, prev: map[string]int64{}}
}

func (v *sourcesView) title() string { return "Sources" }

func (v *sourcesView) editing() bool { return v.filter.active }

func (v *sourcesView) help() []key.Binding {
	k := v.c.Keys
	return append(k.moveHelp(), k.ListFilter, k.Select, k.SelectAll, k.Open, k.Sort, k.SortReverse, k.Refresh)
}

// activate starts the sampling chain the first time; after that it runs
// in the background and showing the view changes nothing.
func (v *sourcesView) activate() tea.Cmd {
	if v.gen != 0 {
		return nil
	}
	return v.load()
}

func (v *sourcesView) deactivate() {}

// load lists the sources now and starts a new chain from that listing (the
// previous chain's tick is dropped when it comes: one chain, whatever r
// is pressed).
func (v *sourcesView) load() tea.Cmd {
	v.gen = nextGen()
	gen, be, ctx := v.gen, v.be, v.ctx
	return func() tea.Msg { return sourcesResult{gen, be.listSources(ctx)} }
}

func (v *sourcesView) status() string {
	if !v.loaded {
		return "listing topics and queues…"
	}
	s := fmt.Sprintf("%d sources", len(v.rows))
	if len(v.shown) != len(v.rows) {
		s = fmt.Sprintf("%d of %d sources", len(v.shown), len(v.rows))
	}
	if n := len(v.selected); n > 0 {
		s += fmt.Sprintf(" · %d selected", n)
	}
	if len(v.errs) > 0 {
		s += " · " + v.c.Styles.Error.Render("read failed ("+readAt(v.readAt)+")")
	}
	return s + " · " + shortHelp(v.c.Keys.Open, v.c.Keys.Select, v.c.Keys.ListFilter)
}

func (v *sourcesView) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case sourcesMsg:
		// A listing handed in whole (tests): shown, no chain.
		v.apply(msg)
	case sourcesResult:
		if msg.gen != v.gen {
			// Of a chain since replaced, maybe of another context.
			return nil
		}
		v.apply(msg.sourcesMsg)
		gen := v.gen
		return tea.Tick(v.refresh, func(time.Time) tea.Msg { return sourcesTick{gen} })
	case sourcesTick:
		if msg.gen == v.gen {
			return v.load()
		}
	case tea.PasteMsg:
		if v.filter.active {
			v.filter.paste(msg.Content)
			v.refilter()
		}
	case tea.KeyPressMsg:
		return v.key(msg)
	}
	return nil
}

func (v *sourcesView) apply(m sourcesMsg) {
	dt := m.at.Sub(v.prevAt).Seconds()
	for i := range m.rows {
		r := &m.rows[i]
		name := r.addr.String()
		if r.addr.Transport == "kafka" {
			if p, ok := v.prev[name]; ok && dt > 0 && r.messages >= p {
				r.rate = float64(r.messages-p) / dt
			}
			v.prev[name] = r.messages
		}
		if r.rate >= 0 {
			h := append(v.history[name], r.rate)
			if len(h) > sparkLen {
				h = h[len(h)-sparkLen:]
			}
			v.history[name] = h
		}
	}
	v.prevAt = m.at
	k := v.curKey()
	stale := false
	if len(m.errs) > 0 {
		// A transport that failed listed nothing: its last rows stay, said
		// to be old, rather than vanish as if it had no topics or queues.
		listed := map[string]bool{}
		for _, r := range m.rows {
			listed[r.addr.Transport] = true
		}
		for _, r := range v.rows {
			if !listed[r.addr.Transport] {
				m.rows, stale = append(m.rows, r), true
			}
		}
	}
	v.rows, v.errs, v.loaded, v.stale = m.rows, m.errs, true, stale
	if !stale {
		v.readAt = m.at
	}
	v.reshow(k)
}

// curKey names the row under the cursor ("" for none).
func (v *sourcesView) curKey() string {
	if r := v.at(v.cur.pos); r != nil {
		return r.addr.String()
	}
	return ""
}

func (v *sourcesView) refilter() { v.reshow(v.curKey()) }

// sortCols are the columns s cycles through, over v.rows' indexes.
func (v *sourcesView) sortCols() []sortCol {
	r := func(i int) *sourceRow { return &v.rows[i] }
	return []sortCol{
		{"SOURCE", byName(func(i int) string { return r(i).addr.String() }), false},
		{"PARTS", byInt(func(i int) int64 { return int64(r(i).partitions) }), true},
		{"MESSAGES", byInt(func(i int) int64 { return r(i).messages }), true},
		{"RATE/S", byFloat(func(i int) float64 { return r(i).rate }), true},
	}
}

// reshow lists the rows the filter matches, in the sort's order, the
// cursor on the row named k.
func (v *sourcesView) reshow(k string) {
	v.shown = v.shown[:0]
	q := strings.ToLower(v.filter.value)
	for i, r := range v.rows {
		if q == "" || strings.Contains(strings.ToLower(r.addr.String()), q) {
			v.shown = append(v.shown, i)
		}
	}
	v.sort.apply(v.shown, v.sortCols())
	v.cur.follow(k, len(v.shown), func(i int) string { return v.rows[v.shown[i]].addr.String() })
	v.cur.clamp(len(v.shown), v.listHeight())
}

func (v *sourcesView) listHeight() int { return v.c.bodyHeight() - 1 - len(v.errLines()) }

// errLines say in the body why the listing failed (each transport's error)
// and, when rows are shown anyway, that they are the last good ones.
func (v *sourcesView) errLines() []string {
	st := v.c.Styles
	var out []string
	for _, err := range v.errs {
		out = append(out, errorLines(st, safe(err.Error()), v.c.Width)...)
	}
	if len(out) > 0 {
		what := "nothing listed; read again every " + v.refresh.String()
		if v.stale {
			what = "showing the listing " + readAt(v.readAt) + "; read again every " + v.refresh.String()
		}
		out = append(out, wrapped(st.Dim, what, v.c.Width)...)
	}
	return out
}

func (v *sourcesView) key(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	if v.filter.active {
		v.filter.filterKey(k, msg)
		v.refilter()
		return nil
	}
	if v.cur.move(k, msg, len(v.shown), v.listHeight()) {
		return nil
	}
	if cur := v.curKey(); v.sort.key(k, msg, v.sortCols()) {
		v.reshow(cur)
		return nil
	}
	switch {
	case key.Matches(msg, k.ListFilter):
		v.filter.start("filter: ", v.filter.value)
	case key.Matches(msg, k.Select):
		if r := v.at(v.cur.pos); r != nil {
			name := r.addr.String()
			if v.selected[name] {
				delete(v.selected, name)
			} else {
				v.selected[name] = true
			}
			v.cur.pos++
			v.cur.clamp(len(v.shown), v.listHeight())
		}
	case key.Matches(msg, k.SelectAll):
		for _, i := range v.shown {
			v.selected[v.rows[i].addr.String()] = true
		}
	case key.Matches(msg, k.Refresh):
		return v.load()
	case key.Matches(msg, k.Open):
		addrs := v.selection()
		if len(addrs) == 0 {
			return nil
		}
		return func() tea.Msg { return openTailMsg{addrs} }
	}
	return nil
}

// esc clears the list filter before it goes back.
func (v *sourcesView) esc() bool {
	if v.filter.value != "" {
		v.filter.value = ""
		v.refilter()
		return true
	}
	return false
}

func (v *sourcesView) at(i int) *sourceRow {
	if i < 0 || i >= len(v.shown) {
		return nil
	}
	return &v.rows[v.shown[i]]
}

// selection is the selected sources, or the one under the cursor.
func (v *sourcesView) selection() []bus.Address {
	var out []bus.Address
	for _, r := range v.rows {
		if v.selected[r.addr.String()] {
			out = append(out, r.addr)
		}
	}
	if len(out) == 0 {
		if r := v.at(v.cur.pos); r != nil {
			out = append(out, r.addr)
		}
	}
	return out
}

func (v *sourcesView) view() string {
	c, st := v.c, v.c.Styles
	h := c.bodyHeight()
	var lines []string
	if v.filter.active || v.filter.value != "" {
		lines = append(lines, v.filter.render(st, c.Width))
		h--
	}
	errs := v.errLines()
	lines = append(lines, errs...)
	h -= len(errs)
	// Narrow, the rate's sparkline goes first: the name is what tells two
	// sources apart.
	spark := c.Width >= 80
	nameW := max(12, min(40, c.Width-50))
	sparkHead := "RATE"
	if !spark {
		nameW, sparkHead = max(12, min(40, c.Width-38)), ""
	}
	cols := v.sortCols()
	lines = append(lines, st.Header.Render(fmt.Sprintf("  %-*s %5s %10s %9s  %s", nameW, v.sort.head(cols, 0), v.sort.head(cols, 1), v.sort.head(cols, 2), v.sort.head(cols, 3), sparkHead)))
	if !v.loaded {
		lines = append(lines, "  listing…")
	} else if len(v.shown) == 0 && (len(v.rows) > 0 || len(v.errs) == 0) {
		lines = append(lines, st.Dim.Render("  no topics or queues"+map[bool]string{true: " match the filter", false: ""}[v.filter.value != ""]))
	}
	v.cur.clamp(len(v.shown), h-1)
	var hists [][]float64
	for _, i := range v.shown {
		hists = append(hists, v.history[v.rows[i].addr.String()])
	}
	hi := sparkMax(sparkLen, hists...)
	for i := v.cur.top; i < len(v.shown) && len(lines) < c.bodyHeight(); i++ {
		r := &v.rows[v.shown[i]]
		name := r.addr.String()
		mark := " "
		if v.selected[name] {
			mark = st.Selected.Render("*")
		}
		parts := "-"
		if r.addr.Transport == "kafka" {
			parts = strconv.Itoa(r.partitions)
		}
		rate := "-"
		if r.rate >= 0 {
			rate = strconv.FormatFloat(r.rate, 'f', 1, 64)
		}
		label := pad(fitName(safe(name), nameW), nameW)
		if r.dlq {
			label = st.DLQ.Render(label)
		}
		line := fmt.Sprintf("%s %s %5s %10d %9s", mark, label, parts, r.messages, rate)
		if spark {
			line += "  " + sparkline(v.history[name], sparkLen, hi)
		}
		if r.dlq {
			line += st.DLQ.Render(fmt.Sprintf(" DLQ %d", r.messages))
		}
		if i == v.cur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	return body(lines, c.Width, c.bodyHeight())
}

// sparkMax is the largest of the last n values of each history: the one
// scale of a column of sparklines, so that rows compare (each row scaled to
// its own maximum drew a trickle as tall as a flood).
func sparkMax(n int, hists ...[]float64) float64 {
	hi := 0.0
	for _, vals := range hists {
		if len(vals) > n {
			vals = vals[len(vals)-n:]
		}
		for _, x := range vals {
			hi = max(hi, x)
		}
	}
	return hi
}

// sparkline draws values as block characters scaled to hi (the column's
// sparkMax), the newest on the right, in n cells.
func sparkline(vals []float64, n int, hi float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	if len(vals) == 0 {
		return ""
	}
	if len(vals) > n {
		vals = vals[len(vals)-n:]
	}
	r := []rune(blocks)
	var b strings.Builder
	for _, x := range vals {
		i := 0
		if hi > 0 {
			i = int(x / hi * float64(len(r)-1))
		}
		b.WriteRune(r[max(0, min(i, len(r)-1))])
	}
	return b.String()
}
