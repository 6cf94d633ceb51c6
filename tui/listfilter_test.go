package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/trace"
)

// twoFlows is a trace of two flows: ord-1 (an order paid, the payment keyed
// cust-9) and ord-2 (an order whose payment failed).
func twoFlows() traceMsg {
	mk := func(corr, topic, typ, id, cause, key string, off int64, at time.Duration) event.Event {
		v := `{"event_id":"` + id + `","type":"` + typ + `","correlation_id":"` + corr + `","causation_id":"` + cause + `","occurred_at":"` + t0.Add(at).Format(time.RFC3339Nano) + `"}`
		return event.Event{Transport: event.Kafka, Topic: topic, Offset: off, Timestamp: t0.Add(at), Key: []byte(key), Value: []byte(v)}
	}
	evs := []event.Event{
		mk("ord-1", "orders", "OrderPlaced", "a1", "", "", 1, 0),
		mk("ord-1", "payments", "PaymentAuthorized", "a2", "a1", "cust-9", 1, 40*time.Millisecond),
		mk("ord-2", "orders", "OrderPlaced", "b1", "", "", 2, time.Second),
		mk("ord-2", "payments", "PaymentFailed", "b2", "b1", "", 2, time.Second+90*time.Millisecond),
	}
	var flows []*trace.Flow
	stats := trace.NewStats(nil)
	// KeepKeys, as the Backend's findFlows reads: the filter matches keys.
	c := trace.NewCorrelator(trace.Config{KeepKeys: true, OnFlow: func(f *trace.Flow) {
		flows = append(flows, f)
		stats.Add(f)
	}})
	for i := range evs {
		c.Add(&evs[i])
	}
	c.Flush()
	rep := stats.Report(nil)
	return traceMsg{query: "ord", flows: flows, report: rep, hists: edgeHists(stats, rep.Edges)}
}

// traceCursor is the step under the Trace view's cursor (nil for none).
func traceCursor(m *Model) *trace.Step {
	m.trace.lines()
	for _, r := range m.trace.steps {
		if r.line == m.trace.cur.pos {
			return r.step
		}
	}
	return nil
}

// TestTraceFilter: the Trace view's timeline had no / filter. / filters the
// steps by topic, type, event id or key as typed; a flow with no step left
// is hidden; the cursor stays on its step (on the first step shown when
// the filter hid it); enter keeps the filter, esc clears it before going
// back.
func TestTraceFilter(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	m.Update(traceResult{m.trace.gen, twoFlows()})
	if len(m.trace.res.flows) != 2 {
		t.Fatalf("%d flows, want 2", len(m.trace.res.flows))
	}
	press(m, "j") // ord-1's payment
	if s := traceCursor(m); s == nil || s.ID != "a2" {
		t.Fatalf("cursor on %+v, want a2", s)
	}

	press(m, "/")
	typeText(m, "pay")
	if !m.trace.filter.active || !strings.Contains(m.render(), "filter steps: pay") {
		t.Fatalf("/ pay:\n%s", m.render())
	}
	if s := traceCursor(m); s == nil || s.ID != "a2" {
		t.Fatalf("after a filter that keeps it, the cursor is on %+v, want a2", s)
	}
	if out := m.render(); strings.Contains(out, "orders[0]@") || !strings.Contains(out, "2 of 4 steps") {
		t.Fatalf("filter pay:\n%s", out)
	}

	// q and digits typed into the filter are text, not keys.
	press(m, "ctrl+u")
	typeText(m, "failed")
	out := m.render()
	if m.current() != viewTrace || strings.Contains(out, "flow ord-1") || !strings.Contains(out, "flow ord-2") || !strings.Contains(out, "1 of 4 steps") {
		t.Fatalf("filter failed: the flow without a match is shown:\n%s", out)
	}
	if s := traceCursor(m); s == nil || s.ID != "b2" {
		t.Fatalf("the filter hid the cursor's step: cursor on %+v, want the first shown (b2)", s)
	}

	// By key, and enter keeps the filter.
	press(m, "ctrl+u")
	typeText(m, "CUST-9")
	press(m, "enter")
	if m.trace.filter.active || m.trace.filter.value != "CUST-9" {
		t.Fatalf("enter: filter %+v", m.trace.filter)
	}
	if s := traceCursor(m); s == nil || s.ID != "a2" {
		t.Fatalf("filter by key: cursor on %+v, want a2", s)
	}
	if _, cmd := m.Update(keyMsg("enter")); cmd == nil {
		t.Fatal("enter on the filtered step did nothing")
	}

	// By event id; a paste goes into the filter.
	press(m, "/", "ctrl+u")
	m.Update(tea.PasteMsg{Content: "b1"})
	press(m, "enter")
	if s := traceCursor(m); s == nil || s.ID != "b1" || len(m.trace.steps) != 1 {
		t.Fatalf("pasted b1: cursor on %+v, %d steps", s, len(m.trace.steps))
	}

	press(m, "/", "ctrl+u")
	typeText(m, "nothing")
	press(m, "enter")
	if out := m.render(); !strings.Contains(out, "no step matches the filter") || !strings.Contains(out, "0 of 4 steps") {
		t.Fatalf("a filter matching nothing:\n%s", out)
	}
	if h := m.trace.help(); len(h) != 1 || h[0].Help().Key != "/" {
		t.Fatalf("help with every step filtered out: %v", h)
	}

	press(m, "esc")
	if m.current() != viewTrace || m.trace.filter.value != "" || len(m.trace.steps) != 4 {
		t.Fatalf("esc: view %d, filter %q, %d steps", m.current(), m.trace.filter.value, len(m.trace.steps))
	}
	press(m, "esc")
	if m.current() == viewTrace {
		t.Fatal("esc with no filter did not go back")
	}
}

// TestGoldenTraceFiltered80x24: the timeline filtered to the inventory
// steps (the dead letter among them), the filter's line above it.
func TestGoldenTraceFiltered80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	m.Update(traceResult{m.trace.gen, testFlow()})
	press(m, "/")
	typeText(m, "inventory")
	press(m, "enter")
	if len(m.trace.steps) != 2 {
		t.Fatalf("%d steps, want 2", len(m.trace.steps))
	}
	requireScreen(t, m)
}

// msgCursor is the identity of the DLQ message under the cursor.
func msgCursor(m *Model) string {
	v := m.dlq
	if i := v.mat(v.mcur.pos); i >= 0 {
		return v.opened().Groups[v.group].Identities[i]
	}
	return ""
}

// TestDLQMessageFilter: a DLQ group's messages had no / filter. / filters
// them by id or identity; enter, space and P act on the rows shown; the
// cursor stays on its message through a filter and a re-read; esc clears
// the filter before it leaves the group.
func TestDLQMessageFilter(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var reqs []RedriveRequest
	m.be.Redrive = func(_ context.Context, req RedriveRequest, _ func(replay.Summary)) (dlq.Report, error) {
		reqs = append(reqs, req)
		return dlq.Report{}, nil
	}
	press(m, "4")
	m.Update(dlqResult{m.dlq.gen, testDLQs()})
	press(m, "enter", "j", "enter", "j")
	if m.dlq.stage != stageMessages || msgCursor(m) != "kafka:payments.DLT/0@8" {
		t.Fatalf("stage %d, cursor on %q", m.dlq.stage, msgCursor(m))
	}
	press(m, "/")
	typeText(m, "0@8")
	if msgCursor(m) != "kafka:payments.DLT/0@8" || len(m.dlq.mshown) != 1 || !strings.Contains(m.render(), "filter messages: 0@8") {
		t.Fatalf("filter 0@8: %v, cursor on %q", m.dlq.mshown, msgCursor(m))
	}
	press(m, "ctrl+u")
	typeText(m, "evt-")
	// The filter hid the cursor's message: it keeps its row number.
	if msgCursor(m) != "kafka:payments.DLT/0@9" || len(m.dlq.mshown) != 2 {
		t.Fatalf("filter evt-: %v, cursor on %q", m.dlq.mshown, msgCursor(m))
	}
	press(m, "j", "enter") // j is text while the filter is edited
	if m.dlq.mfilter.active || m.dlq.mfilter.value != "evt-j" || len(m.dlq.mshown) != 0 {
		t.Fatalf("enter: filter %+v, %v shown", m.dlq.mfilter, m.dlq.mshown)
	}
	if out := m.render(); !strings.Contains(out, "no message matches the filter") || !strings.Contains(out, "0 of 3 listed messages (of 7)") {
		t.Fatalf("a filter matching nothing:\n%s", out)
	}
	press(m, "/", "backspace", "enter", "j")
	if msgCursor(m) != "kafka:payments.DLT/0@9" {
		t.Fatalf("j in the filtered list: cursor on %q", msgCursor(m))
	}
	// A re-read keeps the cursor on its message and the filter.
	m.Update(dlqResult{m.dlq.gen, testDLQs()})
	if msgCursor(m) != "kafka:payments.DLT/0@9" || len(m.dlq.mshown) != 2 {
		t.Fatalf("re-read: %v, cursor on %q", m.dlq.mshown, msgCursor(m))
	}
	// space selects the message shown, P plans exactly it.
	press(m, "space", "P")
	if len(reqs) != 1 || reqs[0].Pin == nil || len(reqs[0].Pin.Write) != 1 || !reqs[0].Pin.Write["kafka:payments.DLT/0@9"] {
		t.Fatalf("P after selecting the filtered row: %+v", reqs)
	}
	press(m, "esc")
	if m.dlq.stage != stageMessages || m.dlq.mfilter.value != "evt-" {
		t.Fatalf("esc from the plan: stage %d, filter %q", m.dlq.stage, m.dlq.mfilter.value)
	}
	press(m, "esc")
	if m.dlq.stage != stageMessages || len(m.dlq.mshown) != 3 || msgCursor(m) != "kafka:payments.DLT/0@9" {
		t.Fatalf("esc: stage %d, %v shown, cursor on %q", m.dlq.stage, m.dlq.mshown, msgCursor(m))
	}
	press(m, "esc")
	if m.dlq.stage != stageGroups {
		t.Fatalf("esc with no filter: stage %d", m.dlq.stage)
	}
}

// TestGoldenDLQMessagesFiltered80x24: a group's messages filtered.
func TestGoldenDLQMessagesFiltered80x24(t *testing.T) {
	m := onDLQ("enter", "j", "enter", "/")(t)
	typeText(m, "evt-")
	press(m, "enter")
	requireScreen(t, m)
}

// lagPartitions is testLag with payments reading orders[0..1] and
// refunds[0..1], its members named after each.
func lagPartitions() *inspect.LagSnapshot {
	s := testLag()
	ps := s.Groups[0].Partitions
	for i := range 2 {
		p := ps[i]
		p.Topic, p.ClientID = "refunds", fmt.Sprintf("shop-refunds-%d", i)
		ps = append(ps, p)
	}
	s.Groups[0].Partitions = ps
	return s
}

// TestLagPartitionsFilter: a Lag group's partitions had no / filter. /
// filters them by topic, topic[partition] or member as typed; the cursor
// stays on its partition; enter keeps the filter and on a filtered row
// tails that partition; esc clears the filter before it goes back.
func TestLagPartitionsFilter(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "3")
	m.Update(lagResult{m.lag.gen, lagMsg{snap: lagPartitions()}})
	press(m, "enter", "j", "j", "j") // on refunds[1]
	press(m, "/")
	typeText(m, "refunds")
	if k := m.lag.partKey(m.lag.pcur.pos); k != "refunds\x001" || len(m.lag.pshown) != 2 || !strings.Contains(m.render(), "filter partitions: refunds") {
		t.Fatalf("filter refunds: %v, cursor on %q", m.lag.pshown, k)
	}
	press(m, "ctrl+u")
	typeText(m, "s[0]")
	if len(m.lag.pshown) != 2 || m.lag.pcur.pos != 1 {
		t.Fatalf("filter s[0]: %v, cursor at %d", m.lag.pshown, m.lag.pcur.pos)
	}
	press(m, "ctrl+u")
	typeText(m, "REFUNDS-")
	press(m, "enter")
	if m.lag.pfilter.active || len(m.lag.pshown) != 2 {
		t.Fatalf("enter: filter %+v, %v shown", m.lag.pfilter, m.lag.pshown)
	}
	if out := m.render(); !strings.Contains(out, "2 of 4 partitions") {
		t.Fatalf("status:\n%s", out)
	}
	// A new sample keeps the filter and the cursor on its partition.
	press(m, "k")
	m.Update(lagResult{m.lag.gen, lagMsg{snap: lagPartitions()}})
	if k := m.lag.partKey(m.lag.pcur.pos); k != "refunds\x000" || len(m.lag.pshown) != 2 {
		t.Fatalf("new sample: %v, cursor on %q", m.lag.pshown, k)
	}
	_, cmd := m.Update(keyMsg("enter"))
	run(m, cmd)
	if m.current() != viewTail || m.tail.title() != "Tail kafka:refunds[0]" || m.tail.from != (bus.Position{Kind: bus.PosOffset, Offset: 100}) {
		t.Fatalf("enter on refunds[0]: view %d title %q from %+v", m.current(), m.tail.title(), m.tail.from)
	}
	press(m, "esc")
	if m.current() != viewLag || m.lag.pfilter.value != "REFUNDS-" {
		t.Fatalf("esc from the tail: view %d filter %q", m.current(), m.lag.pfilter.value)
	}
	press(m, "/")
	typeText(m, "x")
	press(m, "enter")
	if out := m.render(); !strings.Contains(out, "no partition matches the filter (esc clears it)") || !strings.Contains(out, "0 of 4 partitions") {
		t.Fatalf("a filter matching nothing:\n%s", out)
	}
	press(m, "esc")
	if m.lag.drill != "payments" || m.lag.pfilter.value != "" || len(m.lag.pshown) != 4 {
		t.Fatalf("esc: drill %q filter %q, %v shown", m.lag.drill, m.lag.pfilter.value, m.lag.pshown)
	}
	press(m, "esc")
	if m.lag.drill != "" || m.current() != viewLag {
		t.Fatalf("esc with no filter: drill %q view %d", m.lag.drill, m.current())
	}
}

// TestGoldenLagPartitionsFiltered80x24: a Lag group's partitions filtered.
func TestGoldenLagPartitionsFiltered80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "3")
	m.Update(lagResult{m.lag.gen, lagMsg{snap: lagPartitions()}})
	press(m, "enter", "/")
	typeText(m, "refunds")
	press(m, "enter")
	requireScreen(t, m)
}
