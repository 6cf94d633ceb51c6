package tui

import (
	"context"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// tailOf40 is a model on the Tail view with 40 events, the cursor in the
// middle.
func tailOf40(t *testing.T) *Model {
	m := newTestModel(t, 80, 24)
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, orderEvent(i, "orders", []string{"OrderPlaced", "PaymentFailed"}[i%2]))
	}
	openTestTail(t, m, evs)
	press(m, "k", "k", "k", "k", "k")
	return m
}

// onLag is a state: the Lag view with testLag's sample, after keys.
func onLag(keys ...string) func(t *testing.T) *Model {
	return func(t *testing.T) *Model {
		m := newTestModel(t, 80, 24)
		press(m, "3")
		m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
		press(m, keys...)
		return m
	}
}

// onDLQ is a state: the DLQ view with testDLQs and redrive wired, after
// keys.
func onDLQ(keys ...string) func(t *testing.T) *Model {
	return func(t *testing.T) *Model {
		m := newTestModel(t, 80, 24)
		m.be.Redrive = func(context.Context, RedriveRequest, func(replay.Summary)) (dlq.Report, error) {
			return dlq.Report{}, nil
		}
		press(m, "4")
		m.Update(dlqResult{m.dlq.gen, testDLQs()})
		press(m, keys...)
		return m
	}
}

// TestHelpListsOnlyWorkingKeys: ? listed keys that did nothing where it
// was shown (enter on a lag partition or a trace step, r in the Trace
// view, P and Y outside a plan, every Tail key with nothing tailed). Each
// view's help is its current stage's keys now: every key it lists, pressed
// in that state, does something (a command, or a change on the screen).
func TestHelpListsOnlyWorkingKeys(t *testing.T) {
	states := map[string]func(t *testing.T) *Model{
		"tail with a search": func(t *testing.T) *Model {
			m := tailOf40(t)
			press(m, "/")
			typeText(m, "PaymentFailed")
			press(m, "enter")
			return m
		},
		"sources": func(t *testing.T) *Model {
			m := newTestModel(t, 80, 24)
			m.Update(testSources())
			press(m, "j", "j")
			return m
		},
		"tail empty": func(t *testing.T) *Model { m := newTestModel(t, 80, 24); press(m, "2"); return m },
		"tail":       tailOf40,
		"event from the tail": func(t *testing.T) *Model {
			m := tailOf40(t)
			press(m, "enter", "j", "j", "j")
			return m
		},
		// The cursor on the payload, folded whole (z), and on it unfolded.
		"event folded": func(t *testing.T) *Model {
			m := tailOf40(t)
			press(m, "enter", "z", "G", "k")
			return m
		},
		"event unfolded": func(t *testing.T) *Model {
			m := tailOf40(t)
			press(m, "enter", "z", "G", "k", "l")
			return m
		},
		"trace": func(t *testing.T) *Model {
			m := newTestModel(t, 80, 24)
			e := orderEvent(1, "orders", "OrderPlaced")
			m.Update(openTraceMsg{&e})
			m.Update(traceResult{m.trace.gen, testFlow()})
			press(m, "j", "j", "j")
			return m
		},
		// Every step filtered out: / (edit the filter) is all that works.
		"trace filtered to nothing": func(t *testing.T) *Model {
			m := newTestModel(t, 80, 24)
			e := orderEvent(1, "orders", "OrderPlaced")
			m.Update(openTraceMsg{&e})
			m.Update(traceResult{m.trace.gen, testFlow()})
			press(m, "/")
			typeText(m, "nothing")
			press(m, "enter")
			return m
		},
		"lag":                                onLag("j", "j"),
		"lag partitions":                     onLag("enter", "j"),
		"lag partitions at the end":          onLag("enter", "k"),
		"lag partitions filtered":            onLag("enter", "/", "o", "r", "d", "enter"),
		"lag partitions filtered at the end": onLag("enter", "/", "o", "r", "d", "enter", "G"),
		"dlq at the end":                     onDLQ("G"),
		"dlq":                                onDLQ(),
		"dlq groups":                         onDLQ("enter"),
		"dlq groups at the end":              onDLQ("enter", "G"),
		"dlq messages":                       onDLQ("enter", "j", "enter", "j"),
		"dlq plan": func(t *testing.T) *Model {
			m := onDLQ("enter", "P")(t)
			plan := dlq.Report{Summary: replay.Summary{Read: 37}, Redriven: 7, Pin: dlq.Pins("kafka:payments.DLT/0@1")}
			m.Update(redrivePlanMsg{m.dlq.runGen, plan, nil})
			return m
		},
		"dlq messages filtered":            onDLQ("enter", "j", "enter", "/", "e", "v", "t", "enter"),
		"dlq messages filtered at the end": onDLQ("enter", "j", "enter", "/", "e", "v", "t", "enter", "G"),
		"contexts": func(t *testing.T) *Model {
			m := newTestModel(t, 80, 24)
			m.be.Contexts = []string{"dev", "prod", "staging", "test"}
			m.be.Switch = func(name string) (*Backend, error) { return &Backend{Context: name}, nil }
			m.contexts = newContextsView(m.c, m.be)
			press(m, "5", "k")
			return m
		},
	}
	// A key at an edge (up on the first row) or a toggle already in its
	// state (z with everything folded) is fine: it works in a sibling
	// state, listed here.
	siblings := map[string][]string{
		"lag partitions": {"lag partitions at the end"}, "lag partitions at the end": {"lag partitions"},
		"lag partitions filtered": {"lag partitions filtered at the end"}, "lag partitions filtered at the end": {"lag partitions filtered"},
		"dlq": {"dlq at the end"}, "dlq at the end": {"dlq"},
		"dlq groups": {"dlq groups at the end"}, "dlq groups at the end": {"dlq groups"},
		"dlq messages filtered": {"dlq messages filtered at the end"}, "dlq messages filtered at the end": {"dlq messages filtered"},
		"event folded": {"event unfolded", "event from the tail"}, "event unfolded": {"event folded", "event from the tail"},
		"event from the tail": {"event folded", "event unfolded"},
	}
	reacts := func(t *testing.T, state string, b key.Binding) bool {
		m := states[state](t)
		before := m.render()
		_, cmd := m.Update(keyMsg(pressable(b)))
		return cmd != nil || m.render() != before
	}
	for name, setup := range states {
		t.Run(name, func(t *testing.T) {
			m := setup(t)
			for _, b := range m.comp(m.current()).help() {
				ok := reacts(t, name, b)
				for _, sib := range siblings[name] {
					ok = ok || reacts(t, sib, b)
				}
				if !ok {
					t.Errorf("%s (%s) is in the help and does nothing", b.Help().Key, b.Help().Desc)
				}
			}
		})
	}
}

// pressable is a key of b the tests can send.
func pressable(b key.Binding) string {
	for _, k := range b.Keys() {
		switch k {
		case "ctrl+b", "ctrl+f", "backspace":
			continue
		}
		return k
	}
	return b.Keys()[0]
}

// TestEnterOnLagPartition: enter on a group's partition tails that
// partition from the group's committed offset (held on it, as a jump back
// is); with no commit it says so.
func TestEnterOnLagPartition(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "3")
	s := testLag()
	s.Groups[0].Partitions = append(s.Groups[0].Partitions, s.Groups[0].Partitions[1])
	s.Groups[0].Partitions[2].Partition, s.Groups[0].Partitions[2].Committed = 2, -1
	m.Update(lagResult{m.lag.gen, lagMsg{snap: s}})
	press(m, "enter", "j")
	_, cmd := m.Update(keyMsg("enter"))
	run(m, cmd)
	if m.current() != viewTail || m.tail.title() != "Tail kafka:orders[1]" {
		t.Fatalf("enter on orders[1]: view %d title %q", m.current(), m.tail.title())
	}
	if m.tail.from != (bus.Position{Kind: bus.PosOffset, Offset: 90}) || len(m.tail.parts) != 1 || m.tail.parts[0] != 1 || !m.tail.hold {
		t.Fatalf("the tail reads from %+v partitions %v hold %v", m.tail.from, m.tail.parts, m.tail.hold)
	}
	if top := strings.SplitN(m.render(), "\n", 2)[0]; !strings.Contains(top, "Lag payments › Tail kafka:orders[1]") {
		t.Fatalf("breadcrumb: %q", top)
	}
	press(m, "esc")
	if m.current() != viewLag || m.lag.drill != "payments" {
		t.Fatalf("esc: view %d drill %q", m.current(), m.lag.drill)
	}
	press(m, "j", "enter")
	if m.current() != viewLag || !m.flashErr || !strings.Contains(m.flash, "payments has no committed offset on orders[2]") {
		t.Fatalf("no commit: view %d flash %q", m.current(), m.flash)
	}
	// A queue's row tails the queue.
	press(m, "esc", "G", "enter")
	if m.current() != viewTail || m.tail.title() != "Tail amqp:shop.payments.inbox" || m.tail.parts != nil {
		t.Fatalf("enter on a queue: view %d title %q", m.current(), m.tail.title())
	}
}

// TestEventNextPrevious: ] and [ in the Event view show the next and the
// previous event of the tail it was opened from (the tail's cursor moves
// with them, so esc lands on the last one shown); at either end they say
// so.
func TestEventNextPrevious(t *testing.T) {
	m := tailOf40(t)
	press(m, "enter")
	first := m.event.e.Offset
	press(m, "]")
	if m.current() != viewEvent || m.event.e.Offset != first+1 || m.tail.cur.pos != 35 {
		t.Fatalf("]: offset %d (from %d), tail cursor %d", m.event.e.Offset, first, m.tail.cur.pos)
	}
	press(m, "[", "[")
	if m.event.e.Offset != first-1 {
		t.Fatalf("[ [: offset %d", m.event.e.Offset)
	}
	if !strings.Contains(m.render(), "next event") && !strings.Contains(m.helpView(), "next event") {
		t.Fatal("] is not in the help")
	}
	press(m, "esc")
	if m.current() != viewTail || m.tail.selected().Offset != first-1 {
		t.Fatalf("esc: view %d on %d", m.current(), m.tail.selected().Offset)
	}
	press(m, "G", "enter", "]")
	if m.flash != "the last event of the tail" {
		t.Fatalf("] at the end: %q", m.flash)
	}
	// An event with no list behind it: ] is not offered.
	e := orderEvent(1, "orders", "OrderPlaced")
	press(m, "1")
	m.Update(openEventMsg{&e})
	for _, b := range m.event.help() {
		if b.Help().Key == "]" {
			t.Fatal("] offered for an event opened from no list")
		}
	}
}

// TestTraceStepCursor: the Trace view's cursor is on a step (the first
// when the flow arrives); enter on a step asks for its event, enter
// elsewhere says where to go.
func TestTraceStepCursor(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	m.Update(traceResult{m.trace.gen, testFlow()})
	v := m.trace
	if len(v.steps) != 4 || v.cur.pos != v.steps[0].line {
		t.Fatalf("cursor %d, steps %+v", v.cur.pos, v.steps)
	}
	if _, cmd := m.Update(keyMsg("enter")); cmd == nil {
		t.Fatal("enter on a step did nothing")
	}
	press(m, "g")
	press(m, "enter")
	if !strings.Contains(m.flash, "enter opens a step's event") {
		t.Fatalf("enter on the flow's title: %q", m.flash)
	}
}

// TestListFilters: / filters the lists that had no filter (Lag, Contexts,
// the DLQs); the cursor stays on its row, esc clears the filter first.
func TestListFilters(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "3")
	m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
	press(m, "j", "/")
	typeText(m, "ship")
	press(m, "enter")
	if m.lag.rows() != 1 || m.lag.rowKey(m.lag.cur.pos) != "g:shipping" || !strings.Contains(m.render(), "filter: ship") {
		t.Fatalf("lag filter: %d rows, cursor on %q", m.lag.rows(), m.lag.rowKey(m.lag.cur.pos))
	}
	press(m, "/", "ctrl+u")
	typeText(m, "inbox")
	press(m, "enter")
	if m.lag.rows() != 1 || m.lag.rowKey(0) != "q:shop.payments.inbox" {
		t.Fatalf("lag filter on a queue: %d rows", m.lag.rows())
	}
	press(m, "esc")
	if m.current() != viewLag || m.lag.rows() != 4 || m.lag.rowKey(m.lag.cur.pos) != "q:shop.payments.inbox" {
		t.Fatalf("esc: view %d, %d rows, cursor on %q", m.current(), m.lag.rows(), m.lag.rowKey(m.lag.cur.pos))
	}

	press(m, "5", "/")
	typeText(m, "pr")
	press(m, "enter")
	if len(m.contexts.shown) != 1 || m.be.Contexts[m.contexts.shown[0]] != "prod" || strings.Contains(m.contexts.view(), "test") {
		t.Fatalf("contexts filter: %v\n%s", m.contexts.shown, m.render())
	}
	press(m, "esc")
	if m.current() != viewContexts || len(m.contexts.shown) != 2 {
		t.Fatalf("esc: view %d shown %v", m.current(), m.contexts.shown)
	}

	press(m, "4")
	m.Update(dlqResult{m.dlq.gen, testDLQs()})
	press(m, "/")
	typeText(m, "amqp")
	press(m, "enter")
	if len(m.dlq.lshown) != 1 || !strings.Contains(m.render(), "1 of 2 DLQs") {
		t.Fatalf("dlq filter: %v\n%s", m.dlq.lshown, m.render())
	}
	press(m, "enter")
	if s := m.dlq.opened(); s == nil || s.Name != "shop.payments.dlq" {
		t.Fatalf("enter on the filtered DLQ: %+v", s)
	}
	press(m, "esc", "esc")
	if m.current() != viewDLQ || len(m.dlq.lshown) != 2 || m.dlq.res.sums[m.dlq.lshown[m.dlq.cur.pos]].Name != "shop.payments.dlq" {
		t.Fatalf("esc esc: view %d shown %v cursor %d", m.current(), m.dlq.lshown, m.dlq.cur.pos)
	}
}

// TestGoldenHelpEvent80x24: ? on an event opened from the tail lists the
// Event view's keys with ] and [ (the list it came from).
func TestGoldenHelpEvent80x24(t *testing.T) {
	m := tailOf40(t)
	press(m, "enter", "?")
	if out := m.render(); !strings.Contains(out, "next event") || !strings.Contains(out, "previous event") {
		t.Fatalf("] and [ not in the help:\n%s", out)
	}
	requireScreen(t, m)
}
