package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// contextsView lists the configured contexts (eddy config list's) and
// switches to one.
type contextsView struct {
	c      *Common
	be     *Backend
	cur    cursor
	filter input // / keeps the contexts whose name holds it
	shown  []int // the indexes of the contexts listed
}

func newContextsView(c *Common, be *Backend) *contextsView {
	v := &contextsView{c: c, be: be}
	v.reshow()
	for i, n := range be.Contexts {
		if n == be.Context {
			v.cur.pos = i
		}
	}
	return v
}

func (v *contextsView) title() string { return "Contexts" }

func (v *contextsView) editing() bool { return v.filter.active }

func (v *contextsView) help() []key.Binding {
	k := v.c.Keys
	if v.be.Switch == nil {
		return append(k.moveHelp(), k.ListFilter)
	}
	return append(k.moveHelp(), relabel(k.Open, "switch to it"), k.ListFilter)
}

func (v *contextsView) status() string {
	if len(v.be.Contexts) == 0 {
		return "no contexts configured (eddy config set-context NAME …)"
	}
	if v.be.Switch == nil {
		return "switching is not available here"
	}
	return shortHelp(v.c.Keys.Open) + " switches · " + shortHelp(v.c.Keys.ListFilter)
}

// reshow lists the contexts the filter matches; the cursor stays on its
// context.
func (v *contextsView) reshow() {
	k := ""
	if v.cur.pos < len(v.shown) {
		k = v.be.Contexts[v.shown[v.cur.pos]]
	}
	v.shown = v.shown[:0]
	q := strings.ToLower(v.filter.value)
	for i, n := range v.be.Contexts {
		if strings.Contains(strings.ToLower(n), q) {
			v.shown = append(v.shown, i)
		}
	}
	v.cur.follow(k, len(v.shown), func(i int) string { return v.be.Contexts[v.shown[i]] })
}

// esc clears the filter before it goes back.
func (v *contextsView) esc() bool {
	if v.filter.value == "" {
		return false
	}
	v.filter.value = ""
	v.reshow()
	return true
}

func (v *contextsView) listHeight() int {
	if v.filter.active || v.filter.value != "" {
		return v.c.bodyHeight() - 1
	}
	return v.c.bodyHeight()
}

func (v *contextsView) update(msg tea.Msg) tea.Cmd {
	if pm, ok := msg.(tea.PasteMsg); ok && v.filter.active {
		v.filter.paste(pm.Content)
		v.reshow()
		return nil
	}
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := v.c.Keys
	if v.filter.active {
		v.filter.filterKey(k, km)
		v.reshow()
		return nil
	}
	if v.cur.move(k, km, len(v.shown), v.listHeight()) {
		return nil
	}
	switch {
	case key.Matches(km, k.ListFilter):
		v.filter.start("filter: ", v.filter.value)
	case key.Matches(km, k.Open) && v.be.Switch != nil && v.cur.pos < len(v.shown):
		name, sw := v.be.Contexts[v.shown[v.cur.pos]], v.be.Switch
		return func() tea.Msg {
			be, err := sw(name)
			return backendMsg{be, err}
		}
	}
	return nil
}

func (v *contextsView) view() string {
	c, st := v.c, v.c.Styles
	var lines []string
	if v.filter.active || v.filter.value != "" {
		lines = append(lines, v.filter.render(st, c.Width))
	}
	h := v.listHeight()
	v.cur.clamp(len(v.shown), h)
	for i := v.cur.top; i < len(v.shown) && i < v.cur.top+h; i++ {
		n := v.be.Contexts[v.shown[i]]
		mark := "  "
		if n == v.be.Context {
			mark = "● "
		}
		line := "  " + mark + safe(n)
		if i == v.cur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	switch {
	case len(v.be.Contexts) == 0:
		lines = append(lines, "  no contexts: eddy config set-context NAME --brokers HOST:PORT")
	case len(v.shown) == 0:
		lines = append(lines, st.Dim.Render("  no context matches the filter"))
	}
	if conn := v.connLines(); len(conn) > 0 {
		h := c.bodyHeight()
		// The state of the context in force stays on screen under a long list.
		lines = append(lines[:min(len(lines), max(0, h-len(conn)-1))], "")
		lines = append(lines, conn...)
	}
	return body(lines, c.Width, c.bodyHeight())
}

// connLines say how the brokers of the context in force answer, and when
// they were last checked (the checks run on their own).
func (v *contextsView) connLines() []string {
	c, st := v.c, v.c.Styles
	if c.Conn == nil {
		return nil
	}
	ts := c.Conn.transports(v.be)
	if len(ts) == 0 {
		return nil
	}
	name := "the brokers given"
	if v.be.Context != "" {
		name = "context " + safe(v.be.Context)
	}
	lines := []string{st.Header.Render("  " + name)}
	now := c.Now()
	for _, t := range ts {
		cv := c.Conn.state(t, now)
		checked := ""
		if !cv.checked.IsZero() {
			checked = " · checked " + cv.checked.Format("15:04:05")
		}
		switch cv.state {
		case connUp, connUnknown:
			lines = append(lines, "  "+t+" "+cv.word(false)+st.Dim.Render(checked))
		default:
			lines = append(lines, errorLines(st, cv.line()+checked, c.Width)...)
		}
	}
	return lines
}
