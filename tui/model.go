package tui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// Exit codes the TUI ends with (cmd/eddy's contract): q is success, ctrl+c
// an interruption.
const (
	ExitQuit        = 0
	ExitInterrupted = 130
)

// Options configure the TUI. The zero value of every field but Backend has a
// working default.
type Options struct {
	Backend *Backend
	// Color turns colour on (the caller checks NO_COLOR and TERM=dumb).
	Color bool
	// Tail, when set, opens the Tail view on these at once.
	Tail []bus.Address
	// BatchMax and Flush batch a stream into messages: up to BatchMax
	// events, or what came within Flush (default 1/60 s), per message.
	BatchMax int
	Flush    time.Duration
	// Buffer is how many events the tail keeps (default 10,000); older ones
	// are dropped and counted.
	Buffer int
	// TraceWindow is how far before an event the Trace view reads to find
	// its flow (default 5 minutes).
	TraceWindow time.Duration
	// Refresh is how often the Sources and Lag views sample (default 2 s).
	Refresh time.Duration
	// SaveDir is where w writes an event as JSON (default: the current
	// directory).
	SaveDir string
	// Local is the time zone times are shown in (default time.Local).
	Local *time.Location
	// Clock is the time source for rates and relative times (default
	// time.Now); tests fix it.
	Clock func() time.Time
	// Theme is "dark" or "light" for the terminal's background; "" asks
	// the terminal (and keeps the dark colours when it does not answer).
	Theme string
	// QuitWarning, when set, makes q ask before quitting, saying what
	// quitting ends besides the TUI (eddy tui --demo: the demo's cluster).
	// q always asks while a redrive runs.
	QuitWarning string
	// Timeout is eddy's --timeout (default 10 s): a transport failing for
	// that long is shown down rather than reconnecting, and a check of a
	// context switched to says within it whether the brokers answer.
	Timeout time.Duration
}

func (o *Options) defaults() {
	if o.Buffer <= 0 {
		o.Buffer = 10000
	}
	if o.TraceWindow <= 0 {
		o.TraceWindow = 5 * time.Minute
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.Flush <= 0 {
		o.Flush = DefaultFlush
	}
	if o.BatchMax <= 0 {
		o.BatchMax = DefaultBatchMax
	}
	if o.Local == nil {
		o.Local = time.Local
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.SaveDir == "" {
		o.SaveDir = "."
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
}

type viewID int

const (
	viewSources viewID = iota
	viewTail
	viewEvent
	viewTrace
	viewLag
	viewDLQ
	viewContexts
)

// Messages views send to the root to navigate.
type (
	openTailMsg  struct{ addrs []bus.Address }
	openEventMsg struct{ e *event.Event }
	openTraceMsg struct{ e *event.Event }
	flashMsg     struct {
		text string
		err  bool
	}
	backendMsg struct {
		be  *Backend
		err error
	}
)

func flash(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return flashMsg{text, isErr} }
}

// activator is implemented by views that start work (sampling) when shown
// and stop it when left.
type activator interface {
	activate() tea.Cmd
	deactivate()
}

// Model is the TUI: the one tea.Model, holding the views and the navigation
// between them.
type Model struct {
	c      *Common
	o      Options
	be     *Backend
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc

	sources  *sourcesView
	tail     *tailView
	event    *eventView
	trace    *traceView
	lag      *lagView
	dlq      *dlqView
	contexts *contextsView

	stack    []viewID
	showHelp bool
	cmd      cmdLine
	dlqWant  string // the DLQ :dlq named, opened once the DLQs are listed
	askQuit  string // the question q asked, waiting for q or y
	flash    string
	flashErr bool
	code     int
	quitting bool

	// The connection checks (conn.go): connGen drops the checks of a
	// backend switched away from, probing says which are in flight, and
	// switched says the first check after a switch is awaited (its
	// failure is said on the status line at once).
	connGen  int
	probing  map[string]bool
	switched bool
}

// New returns the TUI's model. ctx bounds every read it starts.
func New(ctx context.Context, o Options) *Model {
	o.defaults()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	c := &Common{Width: 80, Height: 24, Styles: newStylesFor(o.Color, o.Theme != "light"), Keys: DefaultKeyMap(), Conn: newConnBook(o.Timeout), Now: o.Clock}
	m := &Model{c: c, o: o, be: o.Backend, parent: parent, ctx: ctx, cancel: cancel, stack: []viewID{viewSources}, probing: map[string]bool{}}
	if m.be.Naming.IsZero() {
		m.be.Naming = defaultNaming()
	}
	m.be.schema().Compile()
	m.build()
	return m
}

// build makes the views for the current backend.
func (m *Model) build() {
	m.sources = newSourcesView(m.c, m.ctx, m.be, m.o.Refresh)
	m.tail = newTailView(m.c, m.ctx, m.be, m.o)
	m.event = newEventView(m.c, m.be, m.o)
	m.trace = newTraceView(m.c, m.ctx, m.be, m.o)
	m.lag = newLagView(m.c, m.ctx, m.be, m.o.Refresh)
	m.dlq = newDLQView(m.c, m.ctx, m.be)
	m.dlq.every = 15 * m.o.Refresh // a DLQ is read whole: less often than a listing
	m.contexts = newContextsView(m.c, m.be)
}

// Backend is the backend in force: the one New was given, or the one a
// context switch connected (the TUI closed the ones it switched away from).
func (m *Model) Backend() *Backend { return m.be }

// ExitCode is what eddy exits with once the program ended: 0 after q, 130
// after ctrl+c.
func (m *Model) ExitCode() int { return m.code }

// Close stops every stream the TUI started.
func (m *Model) Close() {
	m.tail.stop()
	m.cancel()
}

func (m *Model) current() viewID { return m.stack[len(m.stack)-1] }

func (m *Model) comp(id viewID) component {
	switch id {
	case viewTail:
		return m.tail
	case viewEvent:
		return m.event
	case viewTrace:
		return m.trace
	case viewLag:
		return m.lag
	case viewDLQ:
		return m.dlq
	case viewContexts:
		return m.contexts
	}
	return m.sources
}

// Init starts the first listing (and the tail when Options.Tail is set).
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.startSampling(), m.connTick()}
	if m.o.Color && m.o.Theme == "" {
		// The colours suit the background: the terminal says which.
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	if len(m.o.Tail) > 0 {
		cmds = append(cmds, m.push(viewTail), m.tail.open(m.o.Tail))
	}
	return tea.Batch(cmds...)
}

// startSampling starts the Sources and Lag views' samplers: they run from
// the start, shown or not, so that their sparklines (and the lag window
// Burrow's rules judge) have no gap for the time spent in another view.
func (m *Model) startSampling() tea.Cmd {
	return tea.Batch(m.sources.activate(), m.lag.activate())
}

// push shows a view on top of the current one (the same view again is
// not stacked twice).
func (m *Model) push(id viewID) tea.Cmd {
	cur := m.current()
	if cur == id {
		return nil
	}
	if a, ok := m.comp(cur).(activator); ok {
		a.deactivate()
	}
	// A view already in the stack is brought back rather than stacked twice.
	for i, v := range m.stack {
		if v == id {
			m.stack = m.stack[:i+1]
			return m.activate(id)
		}
	}
	m.stack = append(m.stack, id)
	return m.activate(id)
}

// jump shows a top-level view: the stack becomes Sources and that view.
func (m *Model) jump(id viewID) tea.Cmd {
	if a, ok := m.comp(m.current()).(activator); ok && m.current() != id {
		a.deactivate()
	}
	if id == viewSources {
		m.stack = []viewID{viewSources}
	} else {
		m.stack = []viewID{viewSources, id}
	}
	return m.activate(id)
}

func (m *Model) back() tea.Cmd {
	if len(m.stack) == 1 {
		return nil
	}
	if a, ok := m.comp(m.current()).(activator); ok {
		a.deactivate()
	}
	m.stack = m.stack[:len(m.stack)-1]
	return m.activate(m.current())
}

func (m *Model) activate(id viewID) tea.Cmd {
	if a, ok := m.comp(id).(activator); ok {
		return a.activate()
	}
	return nil
}

// Update is bubbletea's: it routes keys to the view on top and data to the
// view it is for.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if cmd, handled := m.connUpdate(msg); handled {
		return m, cmd
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = max(20, msg.Width), max(5, msg.Height)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.PasteMsg:
		if m.cmd.in.active {
			m.cmd.in.paste(msg.Content)
			return m, nil
		}
		return m, m.comp(m.current()).update(msg)
	case flashMsg:
		m.flash, m.flashErr = msg.text, msg.err
		return m, nil
	case tea.BackgroundColorMsg:
		if m.o.Color && m.o.Theme == "" {
			m.c.Styles = newStylesFor(true, msg.IsDark())
		}
		return m, nil
	case openTailMsg:
		return m, tea.Batch(m.push(viewTail), m.tail.open(msg.addrs))
	case openEventMsg:
		m.navMsg(msg)
		m.event.show(msg.e)
		return m, m.push(viewEvent)
	case openPartitionMsg:
		cmd, _ := m.navMsg(msg)
		return m, cmd
	case openTraceMsg:
		return m, tea.Batch(m.push(viewTrace), m.trace.open(msg.e))
	case backendMsg:
		if msg.err != nil {
			m.flash, m.flashErr = safe(msg.err.Error()), true
			return m, nil
		}
		m.Close()
		if m.be.Close != nil {
			m.be.Close()
		}
		m.ctx, m.cancel = context.WithCancel(m.parent)
		m.be = msg.be
		if m.be.Naming.IsZero() {
			m.be.Naming = defaultNaming()
		}
		m.build()
		m.stack = []viewID{viewSources}
		m.flash, m.flashErr = "switched to context "+safe(m.be.Context), false
		// A new book: the old context's outages are not this one's. Its
		// brokers are checked at once; a failure is said within --timeout.
		m.c.Conn, m.probing = newConnBook(m.o.Timeout), map[string]bool{}
		if m.switched = len(m.c.Conn.transports(m.be)) > 0; m.switched {
			m.flash += " · checking its brokers…"
		}
		return m, tea.Batch(m.startSampling(), m.connTick())
	}
	// Data and ticks: every view ignores what is not its own.
	var cmds []tea.Cmd
	for _, v := range []component{m.sources, m.tail, m.event, m.trace, m.lag, m.dlq, m.contexts} {
		cmds = append(cmds, v.update(msg))
	}
	if r, ok := msg.(dlqResult); ok && r.gen == m.dlq.gen && m.dlqWant != "" {
		cmds = append(cmds, m.openWantedDLQ())
	}
	return m, tea.Batch(cmds...)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if key.Matches(msg, k.Interrupt) {
		m.code, m.quitting = ExitInterrupted, true
		return tea.Quit
	}
	if m.showHelp {
		// Any key closes the help, q and esc too: q there means "close
		// this", not "end the session".
		m.showHelp = false
		return nil
	}
	if m.askQuit != "" {
		m.askQuit = ""
		if key.Matches(msg, k.Quit) || msg.String() == "y" {
			m.code, m.quitting = ExitQuit, true
			return tea.Quit
		}
		m.flash, m.flashErr = "not quitting", false
		return nil
	}
	if m.cmd.in.active {
		return m.cmdKey(msg)
	}
	v := m.comp(m.current())
	if v.editing() {
		return v.update(msg)
	}
	m.flash = ""
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Command):
		m.cmd = cmdLine{}
		m.cmd.in.start(":", "")
		return nil
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return nil
	case key.Matches(msg, k.GoSources):
		return m.jump(viewSources)
	case key.Matches(msg, k.GoTail):
		return m.jump(viewTail)
	case key.Matches(msg, k.GoLag):
		return m.jump(viewLag)
	case key.Matches(msg, k.GoDLQ):
		return m.jump(viewDLQ)
	case key.Matches(msg, k.GoContexts):
		return m.jump(viewContexts)
	}
	// The view may use esc itself (leave a drill-down); otherwise it goes
	// back.
	if cmd, handled := m.viewKey(v, msg); handled {
		return cmd
	}
	if key.Matches(msg, k.Back) {
		return m.back()
	}
	return nil
}

// quitQuestion is what q asks before quitting, "" when it quits at once:
// a running redrive would stop, and QuitWarning says what else ends.
func (m *Model) quitQuestion() string {
	var what []string
	if m.dlq.stage == stageRunning {
		what = append(what, "the redrive stops where it is (what it moved stays moved)")
	}
	if m.o.QuitWarning != "" {
		what = append(what, m.o.QuitWarning)
	}
	if len(what) == 0 {
		return ""
	}
	return "quit? " + strings.Join(what, "; ") + " · q/y quits, any other key stays"
}

// escHandler is implemented by views with a level of their own to leave on
// esc before the root goes back.
type escHandler interface{ esc() bool }

// escCmder is an escHandler whose esc may start work (the DLQ view reads
// the counts again when esc leaves a redrive's result).
type escCmder interface{ escCmd() (tea.Cmd, bool) }

func (m *Model) viewKey(v component, msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if h, ok := v.(escCmder); ok && key.Matches(msg, m.c.Keys.Back) {
		if cmd, handled := h.escCmd(); handled {
			return cmd, true
		}
		return nil, false
	}
	if key.Matches(msg, m.c.Keys.Back) {
		if h, ok := v.(escHandler); ok && h.esc() {
			return nil, true
		}
		return nil, false
	}
	return v.update(msg), true
}

// View draws the top bar, the view on top (or the help) and the status bar.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "eddy tui"
	return v
}

func (m *Model) render() string {
	if m.quitting {
		return ""
	}
	c := m.c
	cur := m.comp(m.current())
	var b strings.Builder
	b.WriteString(m.withConn(c.Width))
	b.WriteByte('\n')
	if m.showHelp {
		b.WriteString(m.helpView())
	} else {
		b.WriteString(cur.view())
	}
	b.WriteByte('\n')
	b.WriteString(m.statusBar(cur))
	return b.String()
}

func (m *Model) statusBar(cur component) string {
	st := m.c.Styles
	var left string
	switch {
	case m.askQuit != "":
		// The question takes the whole line.
		return pad(st.Warn.Render(fit(m.askQuit, m.c.Width)), m.c.Width)
	case m.cmd.in.active:
		return pad(fit(m.cmdLineView(), m.c.Width), m.c.Width)
	case m.flash != "" && m.flashErr:
		left = st.Error.Render(m.flash)
	case m.flash != "":
		left = m.flash
	default:
		left = cur.status()
	}
	right := "? help  q quit"
	w := m.c.Width
	lw := w - len(right) - 1
	if lw < 10 {
		return pad(st.Status.Render(keepBackground(fit(left, w), st.Status)), w)
	}
	return st.Status.Render(keepBackground(pad(fit(left, lw), lw), st.Status) + " " + right)
}

// keepBackground puts style back on after every reset inside s: a marker
// (PAUSED, an error) ends with a reset, which ended the bar's background for
// the rest of the line.
func keepBackground(s string, style lipgloss.Style) string {
	open := style.Render("x")
	i := strings.IndexByte(open, 'x')
	if i <= 0 {
		return s // no colour
	}
	return strings.ReplaceAll(s, "\x1b[m", "\x1b[m"+open[:i])
}

// helpView lists the keys that work here: the global ones, then the
// view's as it is now (each view's help() says which of its bindings its
// current stage answers to).
func (m *Model) helpView() string {
	st := m.c.Styles
	cur := m.comp(m.current())
	sections := []helpSection{m.c.Keys.globalHelp(), {cur.title(), cur.help()}}
	var lines []string
	for _, s := range sections {
		lines = append(lines, st.Header.Render(s.title))
		if len(s.keys) == 0 {
			lines = append(lines, st.Dim.Render("  none here yet"))
		}
		for _, b := range s.keys {
			h := b.Help()
			lines = append(lines, "  "+st.Key.Render(pad(h.Key, 14))+st.Desc.Render(h.Desc))
		}
		lines = append(lines, "")
	}
	lines = append(lines, st.Dim.Render("any key closes this help (q and esc too)"))
	return m.columns(lines)
}

// columns lays lines out in as many columns as the height needs.
func (m *Model) columns(lines []string) string {
	h := m.c.bodyHeight()
	if len(lines) <= h {
		return body(lines, m.c.Width, h)
	}
	colW := m.c.Width / 2
	out := make([]string, h)
	for i, l := range lines {
		col, row := i/h, i%h
		if col > 1 {
			break
		}
		if col == 0 {
			out[row] = pad(l, colW)
		} else {
			out[row] += l
		}
	}
	return body(out, m.c.Width, h)
}

// shortHelp renders a few bindings for a status line.
func shortHelp(bs ...key.Binding) string {
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		h := b.Help()
		parts = append(parts, h.Key+" "+h.Desc)
	}
	return strings.Join(parts, " · ")
}
