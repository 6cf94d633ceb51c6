package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// tailColumnEvents is a multi-topic tail: two topics that differ only at
// the end of a long name, keys, types and ids, and the hostile payloads.
func tailColumnEvents() []event.Event {
	var evs []event.Event
	for i := range 6 {
		topic := []string{"orders", "inventory-reservations", "inventory-reservations-dlq"}[i%3]
		evs = append(evs, orderEvent(i, topic, []string{"OrderPlaced", "StockReserved", "StockReservationFailed"}[i%3]))
	}
	return append(evs, hostileEvents()...)
}

// TestGoldenTailColumns: the tail is a table (TIME, SOURCE, KEY, TYPE,
// PAYLOAD; the id hidden until i) that fits the terminal: columns go by
// priority as it narrows, the payload takes the rest, and a source name is
// never cut at all while it fits its column's cap (inventory-reservations
// and inventory-reservations-dlq stay apart at 60 columns). Hostile
// payloads are shown escaped at every width, scrolled or not.
func TestGoldenTailColumns(t *testing.T) {
	for _, size := range [][2]int{{60, 20}, {80, 24}, {120, 35}, {200, 60}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, size[0], size[1])
			openTestTail(t, m, tailColumnEvents())
			out := m.render()
			for _, name := range []string{"inventory-reservations[1]@1", "inventory-reservations-dlq[2]@2", "orders[0]@0"} {
				if !strings.Contains(out, name+" ") {
					t.Errorf("%s is not whole:\n%s", name, out)
				}
			}
			if strings.Contains(out, "evt-0001 ") || strings.Contains(out, " ID ") {
				t.Errorf("the id column is shown by default:\n%s", out)
			}
			requireScreen(t, m)
			// The cursor on the hostile text payload, scrolled right: still
			// escaped, the header says how far.
			press(m, "k", "k", "l")
			if m.tail.hoff == 0 || !strings.Contains(m.render(), "PAYLOAD (from cell") {
				t.Fatalf("→ did not scroll: hoff %d\n%s", m.tail.hoff, m.render())
			}
			t.Run("scrolled", func(t *testing.T) { requireScreen(t, m) })
			press(m, "h", "h", "h", "i")
			if m.tail.hoff != 0 {
				t.Fatalf("← did not scroll back: hoff %d", m.tail.hoff)
			}
			if out := m.render(); !strings.Contains(out, "evt-0001 ") && !(size[0] == 60 && strings.Contains(out, "no room for ID")) {
				t.Fatalf("i did not show the ids:\n%s", m.render())
			}
			t.Run("ids", func(t *testing.T) { requireScreen(t, m) })
		})
	}
}

// TestTailColumnsDropByPriority: as the width falls, the key goes first,
// then the type, the time, the id (shown by i) and the source; the payload
// never, and keeps at least minPayload cells while a column can go.
func TestTailColumnsDropByPriority(t *testing.T) {
	r, err := inspect.NewRenderer(inspect.PrinterOptions{Local: t0.Location()})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]inspect.LineFields, 3)
	for i := range rows {
		e := orderEvent(i, "inventory-reservations", "StockReserved")
		r.Fields(&e, &rows[i])
	}
	shown := func(l tailLayout) string {
		var out []string
		for c := colTime; c <= colPayload; c++ {
			if l.w[c] > 0 {
				out = append(out, tailColName[c])
			}
		}
		return strings.Join(out, " ")
	}
	want := []string{
		"TIME SOURCE KEY TYPE ID PAYLOAD",
		"TIME SOURCE TYPE ID PAYLOAD",
		"TIME SOURCE ID PAYLOAD",
		"SOURCE ID PAYLOAD",
		"SOURCE PAYLOAD",
		"PAYLOAD",
	}
	seen := map[string]int{}
	prev := 0
	for w := 200; w >= 20; w-- {
		l := layoutTail(rows, true, w)
		s := shown(l)
		i := -1
		for k, x := range want {
			if x == s {
				i = k
			}
		}
		if i < prev {
			t.Fatalf("width %d: %q after %q", w, s, want[prev])
		}
		prev = i
		seen[s] = w
		if l.w[colPayload] < minPayload && s != "PAYLOAD" {
			t.Fatalf("width %d: the payload has %d cells while %s could go", w, l.w[colPayload], s)
		}
		total := 2
		for _, cw := range l.w {
			if cw > 0 {
				total += cw + 1
			}
		}
		if total-1 > w && s != "PAYLOAD" {
			t.Fatalf("width %d: the columns take %d", w, total-1)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("layouts seen: %v", seen)
	}
	if l := layoutTail(rows, false, 200); l.w[colID] != 0 {
		t.Fatal("the id is laid out while hidden")
	}
}

// TestTraceDeadLetterLabelAtAnyWidth: under about 34 columns an edge into
// a dead letter was cut at the screen's edge, its "(dead letter)" with it.
func TestTraceDeadLetterLabelAtAnyWidth(t *testing.T) {
	for w := 20; w <= 120; w++ {
		m := newTestModel(t, w, 200)
		e := orderEvent(1, "orders", "OrderPlaced")
		m.Update(openTraceMsg{&e})
		m.Update(traceResult{m.trace.gen, testFlow()})
		out := m.render()
		if !strings.Contains(out, "(dead letter)") {
			t.Fatalf("width %d: no whole (dead letter):\n%s", w, out)
		}
		for i, l := range strings.Split(out, "\n") {
			if cellWidth(l) > w {
				t.Fatalf("width %d: line %d is %d cells", w, i, cellWidth(l))
			}
		}
	}
}
