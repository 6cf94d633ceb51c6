package tui

import (
	"context"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/dlq"
)

// dlqResult carries summaries to the activation that asked for them.
type dlqResult struct {
	gen int
	dlqMsg
}

// dlqView lists the dead-letter topics and queues with their counts and
// errors, as eddy dlq ls and eddy dlq show summarize them; enter shows a
// DLQ's messages grouped by error, class and origin.
type dlqView struct {
	c   *Common
	ctx context.Context
	be  *Backend

	res     *dlqMsg
	loading bool
	gen     int
	cur     cursor
	open    int // the DLQ whose groups are shown, -1 for the list
	gcur    cursor
}

func newDLQView(c *Common, ctx context.Context, be *Backend) *dlqView {
	return &dlqView{c: c, ctx: ctx, be: be, open: -1}
}

func (v *dlqView) title() string {
	if s := v.opened(); s != nil {
		return "DLQ " + safe(s.Name)
	}
	return "DLQ"
}

func (v *dlqView) editing() bool { return false }

func (v *dlqView) help() []key.Binding {
	k := v.c.Keys
	return append(k.moveHelp(), k.Open, k.Refresh)
}

func (v *dlqView) activate() tea.Cmd {
	if v.res != nil || v.loading {
		return nil
	}
	return v.load()
}

func (v *dlqView) deactivate() {}

func (v *dlqView) load() tea.Cmd {
	v.gen++
	v.loading = true
	gen, be, ctx := v.gen, v.be, v.ctx
	return func() tea.Msg { return dlqResult{gen, be.summarizeDLQs(ctx)} }
}

func (v *dlqView) opened() *dlq.Summary {
	if v.res == nil || v.open < 0 || v.open >= len(v.res.sums) {
		return nil
	}
	return &v.res.sums[v.open]
}

func (v *dlqView) esc() bool {
	if v.open >= 0 {
		v.open = -1
		return true
	}
	return false
}

func (v *dlqView) status() string {
	switch {
	case v.loading:
		return "reading dead-letter topics and queues…"
	case v.res == nil:
		return ""
	}
	var total int64
	for _, s := range v.res.sums {
		total += s.Count
	}
	s := fmt.Sprintf("%d DLQs · %d messages", len(v.res.sums), total)
	if len(v.res.errs) > 0 {
		s += " · " + v.c.Styles.Error.Render(safe(v.res.errs[0].Error()))
	}
	return s + " · redrive: eddy dlq redrive (not yet in the TUI)"
}

func (v *dlqView) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dlqResult:
		if msg.gen == v.gen {
			v.loading = false
			v.res = &msg.dlqMsg
		}
	case tea.KeyPressMsg:
		k := v.c.Keys
		h := v.c.bodyHeight() - 1
		if s := v.opened(); s != nil {
			v.gcur.move(k, msg, len(s.Groups), h)
			return nil
		}
		n := 0
		if v.res != nil {
			n = len(v.res.sums)
		}
		if v.cur.move(k, msg, n, h) {
			return nil
		}
		switch {
		case key.Matches(msg, k.Refresh):
			return v.load()
		case key.Matches(msg, k.Open):
			if v.cur.pos < n {
				v.open, v.gcur = v.cur.pos, cursor{}
			}
		}
	}
	return nil
}

func (v *dlqView) view() string {
	c, st := v.c, v.c.Styles
	h := c.bodyHeight()
	if v.res == nil {
		return body([]string{"  reading…"}, c.Width, h)
	}
	if s := v.opened(); s != nil {
		lines := []string{st.Header.Render(fmt.Sprintf("  %6s  %-30s %-20s %s", "COUNT", "ERROR", "ORIGIN", "CLASS"))}
		v.gcur.clamp(len(s.Groups), h-1)
		for i := v.gcur.top; i < len(s.Groups) && len(lines) < h; i++ {
			g := &s.Groups[i]
			line := fmt.Sprintf("  %6d  %-30s %-20s %s", g.Count, fit(safe(g.Error), 30), fit(safe(g.Origin), 20), safe(g.Class))
			if i == v.gcur.pos {
				line = cursorRow(st, line, c.Width)
			}
			lines = append(lines, line)
		}
		return body(lines, c.Width, h)
	}
	lines := []string{st.Header.Render(fmt.Sprintf("  %-28s %8s  %-12s %s", "DLQ", "COUNT", "OLDEST", "TOP ERROR"))}
	if len(v.res.sums) == 0 {
		lines = append(lines, st.Dim.Render("  no dead-letter topics or queues (names ending .DLT, -dlq, … )"))
	}
	v.cur.clamp(len(v.res.sums), h-1)
	for i := v.cur.top; i < len(v.res.sums) && len(lines) < h; i++ {
		s := &v.res.sums[i]
		top := ""
		if len(s.Errors) > 0 {
			top = fmt.Sprintf("%s (%d)", safe(s.Errors[0].Value), s.Errors[0].Count)
		}
		oldest := "-"
		if !s.Oldest.IsZero() {
			oldest = s.Oldest.Format("01-02 15:04")
		}
		line := fmt.Sprintf("  %-28s %8d  %-12s %s", fit(safe(s.Transport+":"+s.Name), 28), s.Count, oldest, top)
		if i == v.cur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	return body(lines, c.Width, h)
}
