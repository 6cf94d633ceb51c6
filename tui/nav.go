package tui

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/trace"
)

// openPartitionMsg opens the tail on one partition of a topic from an
// offset: enter on a lag partition, from the group's committed offset.
type openPartitionMsg struct {
	addr bus.Address
	part int32
	from int64
}

// navMsg handles the navigation messages of item 8 (a partition's tail);
// it reports whether msg was one.
func (m *Model) navMsg(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case openPartitionMsg:
		return tea.Batch(m.push(viewTail), m.tail.openPartition(msg.addr, msg.part, msg.from)), true
	case openEventMsg:
		// ] and [ step through the list the event was opened from; a step
		// from the Event view itself keeps the list it had.
		switch m.current() {
		case viewTail:
			m.event.nav = m.tail.step
		case viewTrace:
			m.event.nav = m.trace.step
		case viewDLQ:
			m.event.nav = m.dlq.step
		case viewEvent:
		default:
			m.event.nav = nil
		}
	}
	return nil, false
}

// partsLabel is "[0]" or "[0,3]" for a tail of some partitions, "" for all.
func partsLabel(parts []int32) string {
	if len(parts) == 0 {
		return ""
	}
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = strconv.Itoa(int(p))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// openPartition tails one partition of a topic from an offset, held on it
// as @ holds a jump back (the first event shown is that offset).
func (v *tailView) openPartition(a bus.Address, p int32, off int64) tea.Cmd {
	v.parts = []int32{p}
	return v.openAt([]bus.Address{a}, bus.Position{Kind: bus.PosOffset, Offset: off})
}

// step moves the tail's cursor d events on and shows that event (] and [
// in the Event view).
func (v *tailView) step(d int) tea.Cmd {
	i := v.cur.pos + d
	if i < 0 || i >= v.shown.len() {
		return flash(endOfList(d, "the tail"), false)
	}
	v.follow = false
	v.cur.pos = i
	v.cur.clamp(v.shown.len(), v.listHeight())
	e := v.selected()
	if e == nil {
		return nil
	}
	cp := *e
	return func() tea.Msg { return openEventMsg{&cp} }
}

func endOfList(d int, what string) string {
	if d > 0 {
		return "the last event of " + what
	}
	return "the first event of " + what
}

// tailPartition is enter on a lag partition: the tail of that partition
// from the group's committed offset, so the first event shown is the next
// one the group will read.
func (v *lagView) tailPartition(g *inspect.GroupLag) tea.Cmd {
	if v.pcur.pos < 0 || v.pcur.pos >= len(v.pshown) || v.pshown[v.pcur.pos] >= len(g.Partitions) {
		return nil
	}
	p := g.Partitions[v.pshown[v.pcur.pos]]
	if p.Committed < 0 {
		return flash(fmt.Sprintf("%s has no committed offset on %s[%d]: nothing to start the tail from", safe(g.Group), safe(p.Topic), p.Partition), true)
	}
	msg := openPartitionMsg{addr: bus.Address{Transport: "kafka", Name: p.Topic}, part: p.Partition, from: p.Committed}
	return func() tea.Msg { return msg }
}

// tailQueue is enter on a queue's row: its live tail.
func (v *lagView) tailQueue(q string) tea.Cmd {
	addrs := []bus.Address{{Transport: "amqp", Name: q}}
	return func() tea.Msg { return openTailMsg{addrs} }
}

// stepRef is a timeline row that is a flow's step.
type stepRef struct {
	line int
	step *trace.Step
}

// openStep reads the event of the step under the cursor (the timeline's
// steps are Kafka records, read back by their position).
func (v *traceView) openStep() tea.Cmd {
	v.lines() // the steps' rows, for the cursor
	var s *trace.Step
	for _, r := range v.steps {
		if r.line == v.cur.pos {
			s = r.step
		}
	}
	if s == nil {
		if len(v.steps) == 0 {
			return nil
		}
		return flash("enter opens a step's event: move the cursor to a step (a +time row)", false)
	}
	if s.Transport == event.AMQP || s.Offset < 0 {
		return flash("this step's event cannot be read back (no offset)", true)
	}
	be, ctx := v.be, v.ctx
	id := "kafka:" + s.Source + "/" + strconv.Itoa(int(s.Partition)) + "@" + strconv.FormatInt(s.Offset, 10)
	topic := s.Source
	return func() tea.Msg {
		e, err := be.dlqMessage(ctx, "kafka", topic, id)
		if err != nil {
			return flashMsg{safe(err.Error()), true}
		}
		return openEventMsg{e}
	}
}

// step moves the cursor d steps on and opens that step's event (] and [
// in the Event view).
func (v *traceView) step(d int) tea.Cmd {
	v.lines()
	at := -1
	for i, r := range v.steps {
		if r.line == v.cur.pos {
			at = i
		}
	}
	i := at + d
	if at < 0 || i < 0 || i >= len(v.steps) {
		return flash(endOfList(d, "the trace"), false)
	}
	v.cur.pos = v.steps[i].line
	v.cur.clamp(len(v.lines()), v.listHeight())
	return v.openStep()
}

// step moves the cursor d messages on in the open group and opens that
// message (] and [ in the Event view).
func (v *dlqView) step(d int) tea.Cmd {
	s := v.opened()
	if s == nil || v.stage != stageMessages || v.group >= len(s.Groups) {
		return nil
	}
	ids := s.Groups[v.group].Identities
	i := v.mat(v.mcur.pos + d)
	if i < 0 {
		return flash(endOfList(d, "the group"), false)
	}
	v.mcur.pos += d
	v.mcur.clamp(len(v.mshown), v.msgHeight())
	return v.openMessage(s, ids[i])
}
