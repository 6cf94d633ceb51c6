package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// contextsView lists the configured contexts (eddy config list's) and
// switches to one.
type contextsView struct {
	c   *Common
	be  *Backend
	cur cursor
}

func newContextsView(c *Common, be *Backend) *contextsView {
	v := &contextsView{c: c, be: be}
	for i, n := range be.Contexts {
		if n == be.Context {
			v.cur.pos = i
		}
	}
	return v
}

func (v *contextsView) title() string { return "Contexts" }

func (v *contextsView) editing() bool { return false }

func (v *contextsView) help() []key.Binding {
	return append(v.c.Keys.moveHelp(), v.c.Keys.Open)
}

func (v *contextsView) status() string {
	if len(v.be.Contexts) == 0 {
		return "no contexts configured (eddy config set-context NAME …)"
	}
	if v.be.Switch == nil {
		return "switching is not available here"
	}
	return shortHelp(v.c.Keys.Open) + " switches"
}

func (v *contextsView) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := v.c.Keys
	if v.cur.move(k, km, len(v.be.Contexts), v.c.bodyHeight()) {
		return nil
	}
	if key.Matches(km, k.Open) && v.be.Switch != nil && v.cur.pos < len(v.be.Contexts) {
		name, sw := v.be.Contexts[v.cur.pos], v.be.Switch
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
	for i, n := range v.be.Contexts {
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
	if len(lines) == 0 {
		lines = append(lines, "  no contexts: eddy config set-context NAME --brokers HOST:PORT")
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
