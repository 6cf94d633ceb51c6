package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddy-sh/eddy/inspect"
)

// The tail's columns: the parts of eddy tail's pretty line
// (inspect.Renderer.Fields), laid out as a table that fits the terminal.
type tailCol int

const (
	colTime tailCol = iota
	colSource
	colKey
	colType
	colID
	colPayload
	numTailCols
)

var tailColName = [numTailCols]string{"TIME", "SOURCE", "KEY", "TYPE", "ID", "PAYLOAD"}

// tailColMax caps a column's width (0: none); a longer value is cut in the
// middle (fitName), so two that share a start and differ at the end stay
// apart. An id is 36 (a UUID); keys and types are meant to be short.
var tailColMax = [numTailCols]int{colSource: 48, colKey: 24, colType: 24, colID: 36}

// tailDropOrder is the order in which columns go as the terminal narrows
// (k9s drops columns by priority too), so that the payload keeps at least
// minPayload cells. The payload never goes: it is the event, and ←/→ scroll
// it. SOURCE (topic[partition]@offset, or the queue) goes last: it is what
// tells the events of a multi-topic tail apart and where each one is.
// TIME goes before it: the Event view (enter) has it, and @ jumps by it
// without it on screen. The key and the type go first, as the payload
// usually carries both. The id is hidden until i shows it; asked for, it
// stays longer than the key, the type and the time (else i would show
// nothing at 80 columns).
var tailDropOrder = []tailCol{colKey, colType, colTime, colID, colSource}

// minPayload is the least width the payload keeps while a column can go.
const minPayload = 24

// tailLayout is the widths of one frame's columns (0: not shown).
type tailLayout struct {
	w    [numTailCols]int
	name [numTailCols]string
}

// layoutTail fits the columns of rows to width: each as wide as its widest
// value on screen (at least its name, at most its cap), a column empty on
// the whole screen left out, then columns dropped in tailDropOrder until
// the payload has minPayload cells; the payload takes the rest.
func layoutTail(rows []inspect.LineFields, showID bool, width int) tailLayout {
	var l tailLayout
	l.name = tailColName
	keys, routes := false, false
	for i := range rows {
		keys = keys || len(rows[i].Key) > 0
		routes = routes || len(rows[i].Key) == 0 && len(rows[i].Route) > 0
	}
	switch {
	case keys && routes:
		l.name[colKey] = "KEY/ROUTE"
	case routes:
		l.name[colKey] = "ROUTE"
	}
	total := 2 // the gutter
	for c := colTime; c < colPayload; c++ {
		if c == colID && !showID {
			continue
		}
		w := 0
		for i := range rows {
			w = max(w, ansi.StringWidth(string(rowField(&rows[i], c))))
		}
		if w == 0 {
			continue
		}
		w = max(w, ansi.StringWidth(l.name[c]))
		if m := tailColMax[c]; m > 0 {
			w = min(w, m)
		}
		l.w[c] = w
		total += w + 1
	}
	for _, c := range tailDropOrder {
		if width-total >= minPayload {
			break
		}
		if l.w[c] > 0 {
			total -= l.w[c] + 1
			l.w[c] = 0
		}
	}
	l.w[colPayload] = max(1, width-total)
	return l
}

func rowField(f *inspect.LineFields, c tailCol) []byte {
	switch c {
	case colTime:
		return f.Time
	case colSource:
		return f.Origin
	case colKey:
		// A RabbitMQ message has no key: its route (exchange→routing
		// key) is what it has in that place.
		if len(f.Key) == 0 {
			return f.Route
		}
		return f.Key
	case colType:
		return f.Type
	case colID:
		return f.ID
	}
	return f.Payload
}

// header is the columns' names, the payload's saying how far it is
// scrolled, and whether the id, asked for (i), had no room.
func (l *tailLayout) header(hoff int, showID bool) string {
	var b strings.Builder
	b.WriteString("  ")
	for c := colTime; c < colPayload; c++ {
		if l.w[c] > 0 {
			b.WriteString(pad(l.name[c], l.w[c]))
			b.WriteByte(' ')
		}
	}
	b.WriteString("PAYLOAD")
	if hoff > 0 {
		fmt.Fprintf(&b, " (from cell %d; ← scrolls back)", hoff+1)
	}
	if showID && l.w[colID] == 0 {
		b.WriteString(" · no room for ID (enter shows the event)")
	}
	return b.String()
}

// row lays one event's fields out; hoff cells of the payload are scrolled
// off (the row then starts its payload with …).
func (l *tailLayout) row(f *inspect.LineFields, hoff int) string {
	var b strings.Builder
	for c := colTime; c < colPayload; c++ {
		if w := l.w[c]; w > 0 {
			b.WriteString(pad(fitName(string(rowField(f, c)), w), w))
			b.WriteByte(' ')
		}
	}
	p, w := string(f.Payload), l.w[colPayload]
	if hoff > 0 {
		p = "…" + ansi.TruncateLeft(p, hoff+1, "")
	}
	b.WriteString(fit(p, w))
	return b.String()
}

// tailRows draws h rows from the cursor's window, under the columns'
// header.
func (v *tailView) tailRows(h int) []string {
	st := v.c.Styles
	n := v.shown.len()
	if n == 0 {
		return nil
	}
	v.cur.clamp(n, h)
	r := v.renderer()
	v.rowFields = v.rowFields[:0]
	var events []int
	for i := v.cur.top; i < n && i < v.cur.top+h; i++ {
		e := v.ring.get(v.shown.at(i))
		if e == nil {
			continue
		}
		if len(v.rowFields) < cap(v.rowFields) {
			v.rowFields = v.rowFields[:len(v.rowFields)+1]
		} else {
			v.rowFields = append(v.rowFields, inspect.LineFields{})
		}
		r.Fields(e, &v.rowFields[len(v.rowFields)-1])
		events = append(events, i)
	}
	l := layoutTail(v.rowFields, v.showID, v.c.Width)
	// Scrolled no further than the longest payload on screen needs.
	longest := 0
	for i := range v.rowFields {
		longest = max(longest, ansi.StringWidth(string(v.rowFields[i].Payload)))
	}
	v.hoff = max(0, min(v.hoff, longest-l.w[colPayload]))
	lines := []string{st.Header.Render(fit(l.header(v.hoff, v.showID), v.c.Width))}
	for k, i := range events {
		text := l.row(&v.rowFields[k], v.hoff)
		if i == v.cur.pos {
			lines = append(lines, cursorRow(st, "  "+text, v.c.Width))
			continue
		}
		gutter := "  "
		if v.search != "" && v.lineMatches(v.ring.get(v.shown.at(i))) {
			gutter = "• "
			text = highlight(text, v.search, st)
		}
		lines = append(lines, gutter+text)
	}
	return lines
}

// colKey handles the columns' keys: i shows or hides the id, ←/→ scroll
// the payload. It reports whether msg was one of them.
func (v *tailView) colKey(msg tea.KeyPressMsg) bool {
	k := v.c.Keys
	step := max(8, (v.c.Width-2)/3)
	switch {
	case key.Matches(msg, k.ToggleID):
		v.showID = !v.showID
		if v.search != "" {
			v.countMatches() // the id is searched only while shown
		}
	case key.Matches(msg, k.ScrollLeft):
		v.hoff = max(0, v.hoff-step)
	case key.Matches(msg, k.ScrollRight):
		v.hoff += step
	default:
		return false
	}
	return true
}
