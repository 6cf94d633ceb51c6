package tui

import (
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
)

// tailReopenTick is due when a tail whose source ended is to be opened
// again; id drops ticks of a tail opened since.
type tailReopenTick struct{ id int }

// Backoff of a tail's reopens: 1 s, doubled per failed attempt, at most
// 30 s.
const (
	reopenFirst = time.Second
	reopenMax   = 30 * time.Second
)

// reopenable says whether a tail that could not be opened is tried again:
// when its broker could not be reached or its topic or queue is not there
// (yet). A refused login is not: the same credentials would be refused again,
// and a broker (or the directory behind it) may lock an account that keeps
// failing. A source that ended after it opened is always tried again.
func reopenable(err error) bool {
	if errors.Is(err, bus.ErrAuth) {
		return false
	}
	return errors.Is(err, bus.ErrConnect) || errors.Is(err, bus.ErrNotFound)
}

// scheduleReopen sets the next reopen after the backoff.
func (v *tailView) scheduleReopen() tea.Cmd {
	d := reopenFirst << min(v.reopens, 5)
	d = min(d, reopenMax)
	v.reopens++
	v.reopenAt = v.o.Clock().Add(d)
	id := v.nextID
	return tea.Tick(d, func(time.Time) tea.Msg { return tailReopenTick{id} })
}

// reopenOn reopens the tail when its reopen is due, or at once when the
// broker of one of its sources answers again.
func (v *tailView) reopenOn(msg tea.Msg) tea.Cmd {
	if v.reopenAt.IsZero() {
		return nil
	}
	switch msg := msg.(type) {
	case tailReopenTick:
		if msg.id != v.nextID {
			return nil
		}
	case connRestoredMsg:
		if !v.reads(msg.transport) {
			return nil
		}
	}
	return v.reopen()
}

// reopen opens the tail's sources again, keeping what the buffer holds:
// from the end (what was published while it was closed is not read, and
// the body says so), or, when its Kafka topics were deleted, from the
// beginning of the ones created since (nothing of them is missed).
func (v *tailView) reopen() tea.Cmd {
	v.stop()
	v.reopenAt, v.reopened = time.Time{}, v.o.Clock()
	v.opening, v.hold, v.full, v.held = true, false, false, nil
	v.reopenedNew = errors.Is(v.endErr, bus.ErrNotFound) && !v.reads("amqp")
	if v.reopenedNew {
		return v.start(bus.Position{Kind: bus.PosBeginning})
	}
	return v.start(bus.Position{})
}

// reads says whether the tail reads from transport t.
func (v *tailView) reads(t string) bool {
	for _, a := range v.addrs {
		if a.Transport == t {
			return true
		}
	}
	return false
}

// trouble is the connection state of the tail's transports that are not
// connected.
func (v *tailView) trouble() []connView {
	if v.c.Conn == nil || len(v.addrs) == 0 {
		return nil
	}
	var out []connView
	for _, cv := range v.c.Conn.trouble(v.be, v.o.Clock()) {
		if v.reads(cv.transport) {
			out = append(out, cv)
		}
	}
	return out
}

// reopenIn words when the next reopen is due.
func (v *tailView) reopenIn() string {
	d := max(0, v.reopenAt.Sub(v.o.Clock())).Round(time.Second)
	return fmt.Sprintf("in %s (attempt %d)", d, v.reopens)
}

// connLines are the body's lines on the tail's connection: its
// transports' outages, why its source ended and when it is reopened, and
// that a reopened tail did not read what came while it was closed.
func (v *tailView) connLines() []string {
	st := v.c.Styles
	var lines []string
	for _, cv := range v.trouble() {
		lines = append(lines, errorLines(st, cv.line(), v.c.Width)...)
	}
	if v.c.Conn != nil {
		for _, h := range v.c.Conn.backNotes() {
			lines = append(lines, wrapped(st.Warn, safe(h.String()), v.c.Width)...)
		}
	}
	switch {
	case !v.reopenAt.IsZero() && v.endErr != nil:
		lines = append(lines, errorLines(st, "source ended: "+safe(v.endErr.Error()), v.c.Width)...)
		lines = append(lines, st.Warn.Render("  reopening "+v.reopenIn()))
	case v.opening && !v.reopened.IsZero():
		lines = append(lines, st.Warn.Render(fmt.Sprintf("  reopening (attempt %d)…", v.reopens)))
	case v.endErr != nil && !ended(v.endErr):
		// Not retried (no such address, a filter the broker refused, …):
		// said where the events would be.
		lines = append(lines, errorLines(st, "source ended: "+safe(v.endErr.Error())+" · not reopened (reopening would not cure it)", v.c.Width)...)
	case !v.reopened.IsZero():
		how := " from the end: what was published while it was closed is not shown"
		if v.reopenedNew {
			how = " from the beginning: the topic was deleted and created again"
		}
		lines = append(lines, st.Dim.Render("  reopened "+v.reopened.Format("15:04:05")+how))
	}
	return lines
}
