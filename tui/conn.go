package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddy-sh/eddy/bus"
)

// connState is what the TUI knows of one transport's connection.
type connState int

const (
	connUnknown  connState = iota // not checked yet
	connUp                        // the last check was answered
	connRetrying                  // failing for less than --timeout: the clients retry
	connDown                      // failing for --timeout or longer (still retried)
)

// connInfo is one transport's record: the last word of a check or a read.
type connInfo struct {
	heard   bool      // a check or a read said something
	ok      bool      // ... and it was an answer
	since   time.Time // the outage's start (zero when none)
	err     string    // its latest failure, terminal-safe
	checked time.Time // when the last word came
	refused bool      // that failure was a refused login (bus.ErrAuth): down at once
}

// connBook is the connection state of each transport, shared by every view
// through Common: the root's periodic check (connTick: a Ping per client)
// and every read's failure write to it, and the open tail's source writes
// what it says through bus.ReadOptions.OnHealth (from its own goroutine:
// hence the lock). The header's marker and the views' bodies read it.
type connBook struct {
	mu      sync.Mutex
	timeout time.Duration
	info    map[string]*connInfo
	// src is what the open tail's source said (Down reports only), for
	// the tail numbered srcID.
	src   map[string]bus.Health
	srcID int
	// back is the source's word that its broker answers again, when it
	// says what the outage cost (a RabbitMQ tap missed what was published
	// meanwhile): the tail keeps saying it.
	back map[string]bus.Health
}

func newConnBook(timeout time.Duration) *connBook {
	return &connBook{timeout: timeout, info: map[string]*connInfo{}, src: map[string]bus.Health{}, back: map[string]bus.Health{}}
}

func (b *connBook) get(t string) *connInfo {
	ci := b.info[t]
	if ci == nil {
		ci = &connInfo{}
		b.info[t] = ci
	}
	return ci
}

// failed records a failed check or read of transport t that began at
// start.
func (b *connBook) failed(t string, start, at time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ci := b.get(t)
	if ci.since.IsZero() {
		ci.since = start
	}
	ci.heard, ci.ok, ci.err, ci.checked = true, false, safe(err.Error()), at
	ci.refused = errors.Is(err, bus.ErrAuth)
}

// answered records an answer from t; it reports whether that ended an
// outage (the views then read again at once).
func (b *connBook) answered(t string, at time.Time) (restored bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ci := b.get(t)
	restored = ci.heard && !ci.ok
	ci.heard, ci.ok, ci.since, ci.err, ci.checked = true, true, time.Time{}, "", at
	ci.refused = false
	return restored
}

// sourceSaid records what the source of tail id said about its broker.
func (b *connBook) sourceSaid(id int, h bus.Health) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id != b.srcID {
		return
	}
	if h.Down {
		b.src[h.Transport] = h
		return
	}
	delete(b.src, h.Transport)
	if h.Note != "" {
		b.back[h.Transport] = h
	}
}

// backNotes are the open tail's sources' words that they read again
// after an outage that cost something.
func (b *connBook) backNotes() []bus.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []bus.Health
	for _, t := range []string{"kafka", "amqp"} {
		if h, ok := b.back[t]; ok {
			out = append(out, h)
		}
	}
	return out
}

// sourceOpened forgets what earlier tails' sources said: tail id is the
// one listened to now.
func (b *connBook) sourceOpened(id int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srcID = id
	clear(b.src)
	clear(b.back)
}

// connView is one transport's state as shown.
type connView struct {
	transport string
	state     connState
	since     time.Time
	err       string
	checked   time.Time
}

// state is transport t's state at now: the worse of the checks' word and
// the tail source's.
func (b *connBook) state(t string, now time.Time) connView {
	b.mu.Lock()
	defer b.mu.Unlock()
	cv := connView{transport: t}
	if h, ok := b.src[t]; ok {
		// Kafka's source says so after --timeout, RabbitMQ's at once.
		cv.state, cv.since = connRetrying, h.Since
		if now.Sub(h.Since) >= b.timeout {
			cv.state = connDown
		}
		if h.Err != nil {
			cv.err = safe(h.Err.Error())
		}
	}
	ci := b.info[t]
	if ci == nil {
		return cv
	}
	cv.checked = ci.checked
	if cv.state != connUnknown {
		return cv
	}
	switch {
	case !ci.heard:
	case ci.ok:
		cv.state = connUp
	default:
		cv.state, cv.since, cv.err = connRetrying, ci.since, ci.err
		if now.Sub(ci.since) >= b.timeout || ci.refused {
			// A refused login will be refused again: no grace.
			cv.state = connDown
		}
	}
	return cv
}

// transports are the transports of the backend, in a fixed order, plus any
// a report named.
func (b *connBook) transports(be *Backend) []string {
	var ts []string
	if be.Kafka != nil {
		ts = append(ts, "kafka")
	}
	if be.AMQP != nil {
		ts = append(ts, "amqp")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range []string{"kafka", "amqp"} {
		_, heard := b.info[t]
		_, said := b.src[t]
		if (heard || said) && !strings.Contains(strings.Join(ts, " "), t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// trouble is every transport not connected, as shown (connecting ones
// left out).
func (b *connBook) trouble(be *Backend, now time.Time) []connView {
	var out []connView
	for _, t := range b.transports(be) {
		if cv := b.state(t, now); cv.state == connRetrying || cv.state == connDown {
			out = append(out, cv)
		}
	}
	return out
}

// word is the state in words: "connected", "reconnecting since 15:04:05",
// "down since 15:04:05" (short drops "since").
func (cv connView) word(short bool) string {
	at := cv.since.Format("15:04:05")
	if !short {
		at = "since " + at
	}
	switch cv.state {
	case connUp:
		if short {
			return "ok"
		}
		return "connected"
	case connRetrying:
		if short {
			return "retry " + at
		}
		return "reconnecting " + at
	case connDown:
		return "DOWN " + at
	}
	return "connecting…"
}

// line is the state as a body line: what failed and that it is retried.
func (cv connView) line() string {
	s := cv.transport + " " + cv.word(false)
	if cv.err != "" {
		s += ": " + cv.err
	}
	return s + " · retried on its own"
}

// Messages of the connection checks.
type (
	// connTick asks for the next round of checks; gen drops ticks of a
	// backend switched away from.
	connTick struct{ gen int }
	// connProbeMsg is one check's result.
	connProbeMsg struct {
		gen        int
		transport  string
		start, end time.Time
		err        error
	}
	// connRestoredMsg tells every view that transport answers again after
	// an outage: what failed is read again at once.
	connRestoredMsg struct{ transport string }
)

// connChecks starts a check of every transport that has none in flight.
func (m *Model) connChecks() tea.Cmd {
	var cmds []tea.Cmd
	gen, ctx, be, clock := m.connGen, m.ctx, m.be, m.o.Clock
	bound := 2 * m.o.Timeout // the clients bound a Ping by --timeout themselves; this is a backstop
	probe := func(t string, ping func(context.Context) error) {
		if m.probing[t] {
			return
		}
		m.probing[t] = true
		cmds = append(cmds, func() tea.Msg {
			start := clock()
			cctx, cancel := context.WithTimeout(ctx, bound)
			defer cancel()
			err := ping(cctx)
			return connProbeMsg{gen: gen, transport: t, start: start, end: clock(), err: err}
		})
	}
	if be.Kafka != nil {
		probe("kafka", be.Kafka.Ping)
	}
	if be.AMQP != nil {
		probe("amqp", be.AMQP.Ping)
	}
	return tea.Batch(cmds...)
}

// connUpdate handles the checks' messages, and notes the failures of the
// views' reads; handled says msg was the checks' own.
func (m *Model) connUpdate(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	switch msg := msg.(type) {
	case connTick:
		if msg.gen != m.connGen {
			return nil, true
		}
		gen := m.connGen
		return tea.Batch(m.connChecks(), tea.Tick(m.o.Refresh, func(time.Time) tea.Msg { return connTick{gen} })), true
	case connProbeMsg:
		if msg.gen != m.connGen {
			return nil, true
		}
		m.probing[msg.transport] = false
		return m.connResult(msg.transport, msg.start, msg.end, msg.err), true
	}
	now := m.o.Clock()
	for _, err := range readErrs(msg) {
		var ce *bus.ConnectError
		if errors.As(err, &ce) && ce.Transport != "" {
			m.c.Conn.failed(ce.Transport, now, now, err)
		}
	}
	return nil, false
}

// connResult records a check; an answer after an outage makes every view
// read again, a failure right after a switch says so on the status line.
func (m *Model) connResult(t string, start, end time.Time, err error) tea.Cmd {
	if err != nil && errors.Is(err, context.Canceled) {
		return nil // the TUI closed the check (a switch, the end)
	}
	if err != nil {
		m.c.Conn.failed(t, start, end, err)
		if m.switched {
			m.switched = false
			m.flash, m.flashErr = fmt.Sprintf("context %s: %s", safe(m.be.Context), safe(err.Error())), true
		}
		return nil
	}
	restored := m.c.Conn.answered(t, end)
	if m.switched && m.allAnswered() {
		m.switched = false
		m.flash, m.flashErr = "context "+safe(m.be.Context)+": its brokers answer", false
	}
	if restored {
		return func() tea.Msg { return connRestoredMsg{t} }
	}
	return nil
}

// allAnswered says whether every transport of the backend answered its
// latest check.
func (m *Model) allAnswered() bool {
	now := m.o.Clock()
	for _, t := range m.c.Conn.transports(m.be) {
		if m.c.Conn.state(t, now).state != connUp {
			return false
		}
	}
	return true
}

// readErrs are the errors a view's read result carries (nil for other
// messages): they say a transport failed as well as a check does.
func readErrs(msg tea.Msg) []error {
	switch msg := msg.(type) {
	case sourcesMsg:
		return msg.errs
	case dlqResult:
		return msg.errs
	case lagResult:
		return []error{msg.err}
	case tailOpenedMsg:
		return []error{msg.err}
	case eventsMsg:
		return []error{msg.err}
	case traceResult:
		return []error{msg.err}
	}
	return nil
}

// connMarker is the header's marker: each transport's state, in words or
// (short) in brief.
func (m *Model) connMarker(now time.Time, short bool) string {
	ts := m.c.Conn.transports(m.be)
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t + " " + m.c.Conn.state(t, now).word(short)
	}
	return strings.Join(parts, " · ")
}

// withConn puts the connection marker at the right of the top bar: in
// words when the bar's left part still fits whole, else in brief, and the
// left part is cut rather than the marker.
func (m *Model) withConn(w int) string {
	now := m.o.Clock()
	mark := m.connMarker(now, false)
	if mark == "" {
		return pad(m.topBar(w), w)
	}
	if ansi.StringWidth(m.topBar(w))+ansi.StringWidth(mark)+2 > w {
		mark = m.connMarker(now, true)
	}
	st := m.c.Styles
	style := st.Title
	for _, t := range m.c.Conn.transports(m.be) {
		if s := m.c.Conn.state(t, now).state; s == connRetrying || s == connDown {
			style = st.Error
		}
	}
	if ansi.StringWidth(mark)+2 > w {
		return pad(style.Render(" "+mark), w)
	}
	right := style.Render(" " + mark + " ")
	// The breadcrumb trail gives way (its oldest views become …) before
	// the marker does.
	lw := w - ansi.StringWidth(mark) - 2
	return pad(m.topBar(lw), lw) + right
}

// readAt words when a view last read its data successfully.
func readAt(at time.Time) string {
	if at.IsZero() {
		return "never read"
	}
	return "last read " + at.Format("15:04:05")
}

// connTick starts a round of checks now and the next ones every Refresh.
func (m *Model) connTick() tea.Cmd {
	m.connGen++
	gen := m.connGen
	return func() tea.Msg { return connTick{gen} }
}

// errorLines words an error (terminal-safe text) for a view's body:
// wrapped to the width, indented, at most three lines (the last cut), so
// that its cause is read rather than cut at the screen's edge.
func errorLines(st Styles, text string, w int) []string {
	return wrapped(st.Error, text, w)
}

// wrapped is text wrapped to the width, indented, in style, at most three
// lines.
func wrapped(style lipgloss.Style, text string, w int) []string {
	const most = 3
	lines := strings.Split(ansi.Wrap(text, max(10, w-4), " "), "\n")
	if len(lines) > most {
		lines = append(lines[:most-1], lines[most-1]+"…")
	}
	for i, l := range lines {
		lines[i] = style.Render("  " + l)
	}
	return lines
}
