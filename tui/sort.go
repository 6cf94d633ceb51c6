package tui

import (
	"cmp"
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// sortCol is one column a list sorts by: its header name, how two rows
// compare on it (ascending), and the way it sorts when chosen (counts and
// lags biggest first, names A to Z: what one looks for first).
type sortCol struct {
	name string
	cmp  func(a, b int) int
	desc bool
}

// listSort is a list's sort: the column (an index into the list's sortCols)
// and whether it is the column's default way or the reverse. s cycles the
// column, S reverses it; the header marks the column ▲ (A→Z, small first)
// or ▼.
type listSort struct {
	col     int
	reverse bool
}

// key handles s and S; it reports whether msg was one of them.
func (s *listSort) key(k KeyMap, msg tea.KeyPressMsg, cols []sortCol) bool {
	switch {
	case key.Matches(msg, k.Sort):
		s.col, s.reverse = (s.col+1)%len(cols), false
	case key.Matches(msg, k.SortReverse):
		s.reverse = !s.reverse
	default:
		return false
	}
	return true
}

func (s listSort) desc(cols []sortCol) bool { return cols[s.col].desc != s.reverse }

// apply sorts idx (indexes of rows) by the column; rows equal on it keep
// the order they had (the source's order), so the sort is stable from one
// refresh to the next.
func (s listSort) apply(idx []int, cols []sortCol) {
	c, desc := cols[s.col].cmp, s.desc(cols)
	slices.SortStableFunc(idx, func(a, b int) int {
		if desc {
			return c(b, a)
		}
		return c(a, b)
	})
}

// head is a column's header: its name, marked when the list sorts by it.
func (s listSort) head(cols []sortCol, i int) string {
	if i != s.col {
		return cols[i].name
	}
	if s.desc(cols) {
		return cols[i].name + "▼"
	}
	return cols[i].name + "▲"
}

// byName, byInt and byFloat make comparators over rows by index.
func byName(name func(i int) string) func(a, b int) int {
	return func(a, b int) int { return cmp.Compare(name(a), name(b)) }
}

func byInt(n func(i int) int64) func(a, b int) int {
	return func(a, b int) int { return cmp.Compare(n(a), n(b)) }
}

func byFloat(n func(i int) float64) func(a, b int) int {
	return func(a, b int) int { return cmp.Compare(n(a), n(b)) }
}
