package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/trace"
)

// The / filters of the Trace view's timeline and of a DLQ group's
// messages: the same live filter as the other lists (input.filterKey):
// enter keeps it, esc clears it before going back, and the cursor stays on
// its step or message.

// stepKey names a step: the cursor follows it when the filter changes.
func stepKey(s *trace.Step) string { return s.Origin() + "\x00" + s.ID }

// keeps says whether the trace filter keeps step s: its topic (and
// where it was read), type, event id or key holds the filter's text,
// ignoring case.
func (v *traceView) keeps(s *trace.Step) bool {
	q := strings.ToLower(v.filter.value)
	if q == "" {
		return true
	}
	return strings.Contains(strings.ToLower(s.Origin()+"\x00"+s.Type+"\x00"+s.ID+"\x00"+string(s.Key)), q)
}

// shownFlows is the flows with a step the filter keeps: a flow whose steps
// are all filtered out is hidden.
func (v *traceView) shownFlows() []*trace.Flow {
	if v.filter.value == "" {
		return v.res.flows
	}
	var out []*trace.Flow
	for _, f := range v.res.flows {
		for i := range f.Steps {
			if v.keeps(&f.Steps[i]) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// filterCount is the status's "n of m steps · " while a filter is set.
func (v *traceView) filterCount() string {
	if v.filter.value == "" {
		return ""
	}
	n, m := 0, 0
	for _, f := range v.res.flows {
		for i := range f.Steps {
			m++
			if v.keeps(&f.Steps[i]) {
				n++
			}
		}
	}
	return fmt.Sprintf("%d of %d steps · ", n, m)
}

// filterLine is the filter's line above the timeline, while it is shown.
func (v *traceView) filterLine() []string {
	if v.filter.active || v.filter.value != "" {
		return []string{v.filter.render(v.c.Styles, v.c.Width)}
	}
	return nil
}

// listHeight is the rows the timeline has under the filter's line.
func (v *traceView) listHeight() int { return v.c.bodyHeight() - len(v.filterLine()) }

// filterUpdate handles / and the keys and pastes of the filter being
// edited; it reports whether msg was one.
func (v *traceView) filterUpdate(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		if v.filter.active {
			v.refilter(func() { v.filter.paste(msg.Content) })
			return true
		}
	case tea.KeyPressMsg:
		if v.filter.active {
			v.refilter(func() { v.filter.filterKey(v.c.Keys, msg) })
			return true
		}
		if key.Matches(msg, v.c.Keys.ListFilter) && !v.loading && v.res.err == nil && len(v.res.flows) > 0 {
			v.filter.start("filter steps: ", v.filter.value)
			return true
		}
	}
	return false
}

// refilter applies change to the filter with the cursor on the step it was
// on, or on the first step shown when the filter hid that one.
func (v *traceView) refilter(change func()) {
	var k string
	v.lines()
	for _, r := range v.steps {
		if r.line == v.cur.pos {
			k = stepKey(r.step)
		}
	}
	change()
	lines := v.lines()
	at := map[int]string{}
	for _, r := range v.steps {
		at[r.line] = stepKey(r.step)
	}
	v.cur.follow(k, len(lines), func(i int) string { return at[i] })
	if _, on := at[v.cur.pos]; !on && len(v.steps) > 0 {
		v.cur.pos = v.steps[0].line
	}
	v.cur.clamp(len(lines), v.listHeight())
}

// esc clears the trace filter before it goes back.
func (v *traceView) esc() bool {
	if v.filter.value == "" {
		return false
	}
	v.refilter(func() { v.filter.value = "" })
	return true
}

// remsg lists the open group's messages the filter matches (in their id
// or identity, ignoring case); the cursor stays on its message.
func (v *dlqView) remsg() {
	var k string
	if i := v.mat(v.mcur.pos); i >= 0 {
		k = v.opened().Groups[v.group].Identities[i]
	}
	v.remsgAt(k)
}

// remsgAt lists the messages the filter matches, the cursor on the message
// whose identity is k.
func (v *dlqView) remsgAt(k string) {
	s := v.opened()
	v.mshown = v.mshown[:0]
	if s == nil || v.group < 0 || v.group >= len(s.Groups) {
		return
	}
	g := &s.Groups[v.group]
	q := strings.ToLower(v.mfilter.value)
	for i := range g.IDs {
		text := g.IDs[i]
		if i < len(g.Identities) {
			text += "\x00" + g.Identities[i]
		}
		if q == "" || strings.Contains(strings.ToLower(text), q) {
			v.mshown = append(v.mshown, i)
		}
	}
	v.mcur.follow(k, len(v.mshown), func(i int) string {
		if j := v.mshown[i]; j < len(g.Identities) {
			return g.Identities[j]
		}
		return ""
	})
	v.mcur.clamp(len(v.mshown), v.msgHeight())
}

// mat is the index in the open group of the message at row i of the
// messages shown (-1 for none, or for a row with no identity to read).
func (v *dlqView) mat(i int) int {
	s := v.opened()
	if s == nil || v.group < 0 || v.group >= len(s.Groups) || i < 0 || i >= len(v.mshown) {
		return -1
	}
	if j := v.mshown[i]; j < len(s.Groups[v.group].Identities) {
		return j
	}
	return -1
}

// mfilterLines is the line the messages' filter takes while it is shown.
func (v *dlqView) mfilterLines() int {
	if v.mfilter.active || v.mfilter.value != "" {
		return 1
	}
	return 0
}

// msgHeight is the rows a group's messages have under its title lines.
func (v *dlqView) msgHeight() int {
	h := v.c.bodyHeight() - 2 - v.mfilterLines()
	if v.staleLine() != "" {
		h--
	}
	return h
}

// openGroup shows the messages of group i (an index of the open DLQ's
// groups), unfiltered and none selected.
func (v *dlqView) openGroup(i int) {
	v.group, v.mcur, v.pickedIDs, v.stage = i, cursor{}, map[string]bool{}, stageMessages
	v.mfilter = input{}
	v.remsg()
}

// msgFilterUpdate handles / and the keys and pastes of the messages' filter
// being edited; it reports whether msg was one.
func (v *dlqView) msgFilterUpdate(msg tea.Msg) bool {
	if v.stage != stageMessages {
		return false
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		if v.mfilter.active {
			v.mfilter.paste(msg.Content)
			v.remsg()
			return true
		}
	case tea.KeyPressMsg:
		if v.mfilter.active {
			v.mfilter.filterKey(v.c.Keys, msg)
			v.remsg()
			return true
		}
		if key.Matches(msg, v.c.Keys.ListFilter) {
			v.mfilter.start("filter messages: ", v.mfilter.value)
			return true
		}
	}
	return false
}

// repartAt lists the drilled-into group's partitions the filter matches (in
// their topic, topic[partition] or member, ignoring case), the cursor on
// the partition k names.
func (v *lagView) repartAt(k string) {
	v.pshown = v.pshown[:0]
	g := v.group(v.drill)
	if g == nil {
		return
	}
	q := strings.ToLower(v.pfilter.value)
	for i := range g.Partitions {
		p := &g.Partitions[i]
		text := fmt.Sprintf("%s\x00%s[%d]\x00%s", p.Topic, p.Topic, p.Partition, p.ClientID)
		if strings.Contains(strings.ToLower(text), q) {
			v.pshown = append(v.pshown, i)
		}
	}
	v.pcur.follow(k, len(v.pshown), v.partKey)
	v.pcur.clamp(len(v.pshown), v.c.bodyHeight()-1-len(v.pfilterLine()))
}

// repart applies change to the partitions' filter with the cursor on the
// partition it was on.
func (v *lagView) repart(change func()) {
	k := v.partKey(v.pcur.pos)
	change()
	v.repartAt(k)
}

// pfilterLine is the partitions' filter line, while it is shown.
func (v *lagView) pfilterLine() []string {
	if v.pfilter.active || v.pfilter.value != "" {
		return []string{v.pfilter.render(v.c.Styles, v.c.Width)}
	}
	return nil
}

// partCount is the status's "n of m partitions · " while the partitions'
// filter is set.
func (v *lagView) partCount() string {
	g := v.group(v.drill)
	if g == nil || v.pfilter.value == "" {
		return ""
	}
	return fmt.Sprintf("%d of %d partitions · ", len(v.pshown), len(g.Partitions))
}
