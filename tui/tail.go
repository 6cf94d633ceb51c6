package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// tailOpenedMsg says a tail's source is open (or why it is not).
type tailOpenedMsg struct {
	id  int
	src bus.Source
	err error
}

// tailView is the live tail: the same sources, filter language and
// terminal-safe line as eddy tail, over a bounded ring buffer.
type tailView struct {
	c   *Common
	ctx context.Context
	be  *Backend
	o   Options

	addrs   []bus.Address
	from    bus.Position
	parts   []int32 // the partitions read (nil: all): a lag partition's tail
	ring    *ring
	shown   seqList
	stream  *stream
	nextID  int
	waiting bool // a next() command is outstanding
	opening bool
	endErr  error
	// healthWake wakes a waiting read when the open source's word on its
	// broker (bus.Health, kept in Common.Conn from the source's goroutine)
	// changed, so the header, the status and the body say it at once.
	healthWake chan struct{}
	// A source that ended with an error (its broker gone for good, its
	// topic or queue deleted) is opened again by itself after a backoff
	// (tailconn.go): reopens counts the attempts since the last events
	// came, reopenAt is when the next is due (zero: none), and reopened
	// when the last one was opened.
	reopens  int
	reopenAt time.Time
	reopened time.Time
	// reopenedNew: its topics were gone, so it was reopened from the
	// beginning of the ones created since.
	reopenedNew bool

	filter    *inspect.Filter
	filterIn  input
	filterErr string
	search    string
	searchIn  input
	jumpIn    input

	paused bool
	follow bool
	cur    cursor

	// hold: the tail was opened at a past position (@ beginning, @ -30s):
	// the cursor stays on the target, and reading stops once the buffer is
	// full rather than drop the target (held keeps the rest of the batch
	// that filled it; p or F read on). full says it stopped.
	hold bool
	full bool
	held *eventsMsg

	// searchHits and searchAt: how many shown events the search matched,
	// and which of them is under the cursor (1-based; 0: none), as of the
	// last search step.
	searchHits, searchAt int
	matchFields          inspect.LineFields // lineMatches' buffers, reused

	// refilterGen numbers ring re-matches (a filter edited): a result
	// of an older one, or of a ring since cleared, is dropped. refiltering
	// says one is under way (its matches are not shown yet).
	refilterGen int
	refiltering bool

	total        uint64
	filterFails  uint64
	firstFailure string
	rate         rateMeter

	render      *inspect.Renderer
	renderWidth int

	// The columns (tailcols.go): showID shows the event id (i), hoff is
	// how many cells of the payload are scrolled off (←/→), rowFields the
	// fields of the rows on screen (reused from frame to frame).
	showID    bool
	hoff      int
	rowFields []inspect.LineFields
}

func newTailView(c *Common, ctx context.Context, be *Backend, o Options) *tailView {
	return &tailView{c: c, ctx: ctx, be: be, o: o, ring: newRing(o.Buffer), follow: true}
}

func (v *tailView) title() string {
	if len(v.addrs) == 0 {
		return "Tail"
	}
	names := make([]string, len(v.addrs))
	for i, a := range v.addrs {
		names[i] = safe(a.String()) + partsLabel(v.parts)
	}
	return "Tail " + strings.Join(names, " ")
}

func (v *tailView) editing() bool { return v.filterIn.active || v.searchIn.active || v.jumpIn.active }

func (v *tailView) help() []key.Binding {
	k := v.c.Keys
	if len(v.addrs) == 0 {
		return nil // nothing tailed: nothing here works yet
	}
	bs := append(k.moveHelp(), k.Open, k.Trace, k.Pause, k.Follow, k.EditFilter, k.Search)
	if v.search != "" {
		bs = append(bs, k.NextMatch, k.PrevMatch)
	}
	bs = append(bs, k.JumpTime, k.Clear, k.ToggleID)
	if v.hoff > 0 {
		bs = append(bs, k.ScrollLeft) // only once scrolled right
	}
	return append(bs, k.ScrollRight)
}

// open starts tailing addrs from the end (live), as eddy tail does.
func (v *tailView) open(addrs []bus.Address) tea.Cmd {
	v.parts = nil
	return v.openAt(addrs, bus.Position{})
}

func (v *tailView) openAt(addrs []bus.Address, from bus.Position) tea.Cmd {
	v.stop()
	v.addrs, v.from = addrs, from
	v.ring = newRing(v.o.Buffer)
	v.shown.clear()
	v.refilterGen, v.refiltering = nextGen(), false
	v.total, v.filterFails, v.firstFailure = 0, 0, ""
	v.rate = rateMeter{}
	v.endErr, v.follow, v.paused, v.opening = nil, true, false, true
	// From a past position the target is what was asked for: it stays
	// under the cursor (SCROLL), and is not dropped by what follows it.
	v.hold = from.IsSet() && from.Kind != bus.PosEnd
	v.follow, v.full, v.held = !v.hold, false, nil
	v.cur = cursor{}
	v.reopens, v.reopenAt, v.reopened = 0, time.Time{}, time.Time{}
	return v.start(from)
}

// start opens the source of v.addrs at from; the buffer and the counters
// are left as they are.
func (v *tailView) start(from bus.Position) tea.Cmd {
	v.nextID = nextGen()
	id, be, ctx, addrs := v.nextID, v.be, v.ctx, v.addrs
	read := bus.ReadOptions{From: from, Partitions: v.parts}
	wake := make(chan struct{}, 1)
	book := v.c.Conn
	if book != nil {
		book.sourceOpened(id)
	}
	read.OnHealth = func(h bus.Health) {
		if book != nil {
			book.sourceSaid(id, h)
		}
		select { // redraw; never block the source
		case wake <- struct{}{}:
		default:
		}
	}
	v.healthWake = wake
	return func() tea.Msg {
		src, err := be.openTail(ctx, addrs, read)
		return tailOpenedMsg{id: id, src: src, err: err}
	}
}

func (v *tailView) stop() {
	if v.stream != nil {
		v.stream.stop()
		v.stream = nil
	}
	v.waiting = false
}

func (v *tailView) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tailOpenedMsg:
		if msg.id != v.nextID {
			if msg.src != nil {
				msg.src.Close()
			}
			return nil
		}
		v.opening = false
		if msg.err == nil && !v.reopened.IsZero() {
			v.endErr = nil // reopened: the end it had is over
		}
		if msg.err != nil {
			v.endErr = msg.err
			if reopenable(msg.err) {
				return v.scheduleReopen()
			}
			return nil
		}
		v.stream = startStream(v.ctx, msg.id, msg.src, v.o.BatchMax, v.o.Flush, v.filter)
		v.waiting = true
		v.stream.wake = v.healthWake
		return v.stream.next()
	case eventsMsg:
		if v.stream == nil || msg.stream != v.stream.id {
			return nil
		}
		if v.filter != nil && len(msg.evs) > 0 && (msg.match == nil || msg.flt != v.filter) {
			// Read before the reader took up the filter in force: it is
			// matched again off the UI goroutine and comes back as a batch
			// of this filter. No next batch is asked for meanwhile, so the
			// order of events holds.
			return rematch(msg, v.filter)
		}
		v.waiting = false
		if v.hold && len(msg.evs) > v.ring.free() {
			// The rest waits: ingested it would drop the target.
			n := v.ring.free()
			rest := msg
			rest.evs, rest.err = msg.evs[n:], nil
			if msg.match != nil {
				rest.match = msg.match[n:]
				msg.match = msg.match[:n]
			}
			msg.evs, v.held = msg.evs[:n], &rest
		}
		if len(msg.evs) > 0 {
			v.reopens = 0 // reading again: the next outage backs off from the start
		}
		v.ingestMsg(msg)
		if v.hold && v.ring.free() == 0 && msg.err == nil {
			v.full = true
			return nil
		}
		if msg.err != nil {
			if !ended(msg.err) || v.endErr == nil {
				v.endErr = msg.err
			}
			v.stream.finished = true
			if !ended(msg.err) {
				return v.scheduleReopen()
			}
			return nil
		}
		if v.paused {
			return nil
		}
		v.waiting = true
		return v.stream.next()
	case tailReopenTick, connRestoredMsg:
		return v.reopenOn(msg)
	case refilterMsg:
		if msg.gen == v.refilterGen {
			v.refiltered(msg)
		}
	case tea.PasteMsg:
		for _, in := range []*input{&v.filterIn, &v.searchIn, &v.jumpIn} {
			if in.active {
				in.paste(msg.Content)
			}
		}
	case tea.KeyPressMsg:
		return v.key(msg)
	}
	return nil
}

// ingestMsg adds a batch, matched by the reader or not.
func (v *tailView) ingestMsg(msg eventsMsg) {
	if msg.match != nil && msg.flt == v.filter {
		v.ingestMatched(msg.evs, msg.match, msg.fails, v.o.Clock())
	} else {
		v.ingest(msg.evs, v.o.Clock())
	}
}

// readOn ends a hold: what was held back is ingested (the oldest events
// now make room), and reading goes on.
func (v *tailView) readOn() tea.Cmd {
	v.hold, v.full = false, false
	if v.held != nil {
		held := *v.held
		v.held = nil
		v.ingestMsg(held)
	}
	if v.paused || v.stream == nil || v.waiting || v.stream.finished {
		return nil
	}
	v.waiting = true
	return v.stream.next()
}

// ingest adds a batch to the ring and to the shown list, matching each
// event against the filter here.
func (v *tailView) ingest(evs []event.Event, now time.Time) {
	for i := range evs {
		seq := v.ring.push(evs[i])
		v.total++
		if v.match(v.ring.get(seq)) {
			v.shown.add(seq)
		}
	}
	v.after(len(evs), now)
}

// ingestMatched adds a batch whose events the reader already matched
// against the current filter.
func (v *tailView) ingestMatched(evs []event.Event, match []bool, fails matchFailures, now time.Time) {
	for i := range evs {
		seq := v.ring.push(evs[i])
		v.total++
		if match[i] {
			v.shown.add(seq)
		}
	}
	v.filterFails += fails.n
	if v.firstFailure == "" {
		v.firstFailure = fails.first
	}
	v.after(len(evs), now)
}

// after keeps the shown list and the cursor in step with the ring.
func (v *tailView) after(n int, now time.Time) {
	v.rate.add(now, n)
	gone := v.shown.trim(v.ring.oldest())
	if !v.follow {
		// Keep the cursor on the same event while older ones fall off.
		v.cur.pos -= gone
		v.cur.top -= gone
	}
	v.settle()
}

// setStreamFilter hands the current filter to the reader.
func (v *tailView) setStreamFilter() {
	if v.stream != nil {
		v.stream.filter.Store(v.filter)
	}
}

func (v *tailView) match(e *event.Event) bool {
	if v.filter == nil {
		return true
	}
	ok, err := v.filter.Match(e)
	if err != nil {
		v.filterFails++
		if v.firstFailure == "" {
			v.firstFailure = err.Error()
		}
		return false
	}
	return ok
}

// rematch matches a batch's events against f off the UI goroutine and
// delivers the batch again, matched.
func rematch(msg eventsMsg, f *inspect.Filter) tea.Cmd {
	return func() tea.Msg {
		msg.flt = f
		msg.match, msg.fails = matchBatch(f, msg.evs)
		return msg
	}
}

// refilterMsg is the ring's events from seq from on, matched against the
// filter of re-match gen.
type refilterMsg struct {
	gen   int
	from  uint64
	match []bool
	fails matchFailures
}

// refilter rebuilds the shown list from the ring under the current filter.
// Matching the whole ring (up to --buffer events) on the UI goroutine would
// stall a frame or more, so the events held are copied (the structs; their
// bytes are never written again) and matched by a command; batches that
// arrive meanwhile are matched with the new filter and shown at once, and
// the ring's matches go in front of them when the result comes
// (refiltered).
func (v *tailView) refilter() tea.Cmd {
	v.refilterGen = nextGen()
	v.shown.clear()
	v.filterFails, v.firstFailure = 0, ""
	from, to := v.ring.oldest(), v.ring.next
	if v.filter == nil || from == to {
		for seq := from; seq < to; seq++ {
			v.shown.add(seq)
		}
		v.refiltering = false
		v.settle()
		return nil
	}
	evs := make([]event.Event, 0, to-from)
	for seq := from; seq < to; seq++ {
		evs = append(evs, *v.ring.get(seq))
	}
	v.refiltering = true
	v.settle()
	gen, f := v.refilterGen, v.filter
	return func() tea.Msg {
		match, fails := matchBatch(f, evs)
		return refilterMsg{gen: gen, from: from, match: match, fails: fails}
	}
}

// refiltered puts the ring's matches in front of those of the batches that
// came since; the ones the ring dropped meanwhile are left out.
func (v *tailView) refiltered(msg refilterMsg) {
	oldest := v.ring.oldest()
	var seqs []uint64
	for i, ok := range msg.match {
		if seq := msg.from + uint64(i); ok && seq >= oldest {
			seqs = append(seqs, seq)
		}
	}
	v.shown.prepend(seqs)
	v.refiltering = false
	v.filterFails += msg.fails.n
	if msg.fails.first != "" {
		v.firstFailure = msg.fails.first
	}
	if !v.follow {
		// The cursor stays on the event it was on.
		v.cur.pos += len(seqs)
		v.cur.top += len(seqs)
	}
	v.settle()
}

func (v *tailView) listHeight() int {
	h := v.c.bodyHeight() - 2 // the filter line, the columns' header
	if v.filterErr != "" {
		h--
	}
	if v.searchIn.active || v.jumpIn.active {
		h--
	}
	h -= len(v.connLines())
	return max(1, h)
}

// settle puts the cursor at the end when following, and in range.
func (v *tailView) settle() {
	n := v.shown.len()
	if v.follow {
		v.cur.pos = n - 1
	}
	v.cur.clamp(n, v.listHeight())
}

func (v *tailView) selected() *event.Event {
	if v.cur.pos < 0 || v.cur.pos >= v.shown.len() {
		return nil
	}
	return v.ring.get(v.shown.at(v.cur.pos))
}

func (v *tailView) key(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	switch {
	case v.filterIn.active:
		return v.editFilter(msg)
	case v.searchIn.active:
		switch {
		case key.Matches(msg, k.Accept):
			v.searchIn.active = false
			v.search = v.searchIn.value
			v.searchHits, v.searchAt = 0, 0
			v.findMatch(true, true)
		case key.Matches(msg, k.Cancel):
			v.searchIn.active = false
		default:
			v.searchIn.edit(msg)
		}
		return nil
	case v.jumpIn.active:
		switch {
		case key.Matches(msg, k.Accept):
			return v.jump()
		case key.Matches(msg, k.Cancel):
			v.jumpIn.active = false
			v.filterErr = ""
		default:
			v.jumpIn.edit(msg)
		}
		return nil
	}
	n := v.shown.len()
	if v.cur.move(k, msg, n, v.listHeight()) {
		v.follow = v.cur.pos >= n-1
		return nil
	}
	if v.colKey(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Pause):
		if v.full {
			// Stopped at a full buffer: p reads on.
			v.paused = false
			return v.readOn()
		}
		v.paused = !v.paused
		if !v.paused && v.stream != nil && !v.waiting && !v.stream.finished {
			v.waiting = true
			return v.stream.next()
		}
	case key.Matches(msg, k.Follow):
		v.follow = true
		v.settle()
		if v.hold {
			return v.readOn()
		}
	case key.Matches(msg, k.EditFilter):
		src := ""
		if v.filter != nil {
			src = v.filter.String()
		}
		v.filterIn.start("filter> ", src)
	case key.Matches(msg, k.Search):
		// A new search starts empty; the last term stays on the status
		// line (n and N go on with it).
		v.searchIn.start("search> ", "")
	case key.Matches(msg, k.NextMatch):
		v.findMatch(true, false)
	case key.Matches(msg, k.PrevMatch):
		v.findMatch(false, false)
	case key.Matches(msg, k.JumpTime):
		v.jumpIn.start("jump to (time, -15m, beginning, -N, offset)> ", "")
	case key.Matches(msg, k.Clear):
		v.ring = newRing(v.o.Buffer)
		v.shown.clear()
		v.refilterGen, v.refiltering = nextGen(), false
		v.settle()
	case key.Matches(msg, k.Open):
		if e := v.selected(); e != nil {
			cp := *e
			return func() tea.Msg { return openEventMsg{&cp} }
		}
	case key.Matches(msg, k.Trace):
		if e := v.selected(); e != nil {
			cp := *e
			return func() tea.Msg { return openTraceMsg{&cp} }
		}
	}
	return nil
}

// editFilter edits the filter in place; a filter that does not compile
// stays in the editor with its error shown under it, as eddy tail --filter
// would word it.
func (v *tailView) editFilter(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	switch {
	case key.Matches(msg, k.Accept):
		src := strings.TrimSpace(v.filterIn.value)
		if src == "" {
			v.filter, v.filterErr, v.filterIn.active = nil, "", false
			v.setStreamFilter()
			return v.refilter()
		}
		f, err := inspect.CompileFilter(src, v.be.schema())
		if err != nil {
			v.filterErr = safe(err.Error())
			return nil
		}
		v.filter, v.filterErr, v.filterIn.active = f, "", false
		v.setStreamFilter()
		return v.refilter()
	case key.Matches(msg, k.Cancel):
		v.filterIn.active, v.filterErr = false, ""
	default:
		v.filterIn.edit(msg)
	}
	return nil
}

// jump reopens the tail at a --from position, or moves within the buffer
// when it holds that time.
func (v *tailView) jump() tea.Cmd {
	pos, err := bus.ParseFrom(strings.TrimSpace(v.jumpIn.value), v.o.Clock())
	if err != nil {
		v.filterErr = safe(err.Error())
		return nil
	}
	v.jumpIn.active, v.filterErr = false, ""
	if pos.Kind == bus.PosTime && v.shown.len() > 0 {
		first := v.ring.get(v.shown.at(0))
		if first != nil && !pos.Time.Before(first.Timestamp) {
			for i, seq := range v.shown.items() {
				if e := v.ring.get(seq); e != nil && !e.Timestamp.Before(pos.Time) {
					v.follow = false
					v.cur.pos = i
					v.cur.top = i
					v.cur.clamp(v.shown.len(), v.listHeight())
					return nil
				}
			}
		}
	}
	return v.openAt(v.addrs, pos)
}

// findMatch moves the cursor to the next (or previous) event whose line
// contains the search text; from the cursor itself when here is set.
func (v *tailView) findMatch(forward, here bool) {
	if v.search == "" {
		return
	}
	defer v.countMatches()
	n := v.shown.len()
	step := 1
	if !forward {
		step = -1
	}
	start := v.cur.pos + step
	if here {
		start = v.cur.pos
	}
	for i, c := start, 0; c < n; i, c = i+step, c+1 {
		i = (i%n + n) % n
		if e := v.ring.get(v.shown.at(i)); e != nil && v.lineMatches(e) {
			v.follow = false
			v.cur.pos = i
			v.cur.clamp(n, v.listHeight())
			return
		}
	}
}

// countMatches counts the shown events the search matches, and which of
// them is under the cursor, for the status line's "n/m".
func (v *tailView) countMatches() {
	v.searchHits, v.searchAt = 0, 0
	for i, seq := range v.shown.items() {
		if e := v.ring.get(seq); e != nil && v.lineMatches(e) {
			v.searchHits++
			if i == v.cur.pos {
				v.searchAt = v.searchHits
			}
		}
	}
}

// lineMatches: the search looks at the columns' text — time, source,
// route, key, type and the whole payload (it scrolls) — and at the event id
// only while `i` shows it, so a row is never marked for text the user hid.
func (v *tailView) lineMatches(e *event.Event) bool {
	f := &v.matchFields
	v.renderer().Fields(e, f)
	for _, b := range [][]byte{f.Time, f.Origin, f.Route, f.Key, f.Type, f.Payload} {
		if containsFold(string(b), v.search) {
			return true
		}
	}
	return v.showID && containsFold(string(f.ID), v.search)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// renderer is inspect's pretty line renderer at the current width, without
// colour: the view adds its own styles around the safe text.
func (v *tailView) renderer() *inspect.Renderer {
	w := max(10, v.c.Width-2)
	if v.render == nil || v.renderWidth != w {
		r, err := inspect.NewRenderer(inspect.PrinterOptions{Width: w, Schema: v.be.schema(), Local: v.o.Local})
		if err != nil {
			// Only a schema with a bad time location fails; the default
			// schema then renders the line.
			r, _ = inspect.NewRenderer(inspect.PrinterOptions{Width: w, Local: v.o.Local})
		}
		v.render, v.renderWidth = r, w
	}
	return v.render
}

func (v *tailView) status() string {
	st := v.c.Styles
	if len(v.addrs) == 0 {
		return "no source: pick topics or queues in Sources (1), enter opens them here"
	}
	var parts []string
	trouble := v.trouble()
	switch {
	case !v.reopenAt.IsZero():
		parts = append(parts, st.StatusWarn.Render("ENDED · reopening "+v.reopenIn()))
	case v.opening:
		parts = append(parts, "opening…")
	case len(trouble) > 0:
		// Not FOLLOW: nothing comes while the broker is away.
		parts = append(parts, st.StatusWarn.Render(strings.ToUpper(trouble[0].word(true))))
	case v.full:
		parts = append(parts, st.StatusWarn.Render(fmt.Sprintf("FULL %d: stopped at the target · p reads on", v.ring.len())))
	case v.paused:
		parts = append(parts, st.StatusWarn.Render("PAUSED"))
	case v.follow:
		parts = append(parts, "FOLLOW")
	default:
		parts = append(parts, "SCROLL")
	}
	parts = append(parts, fmt.Sprintf("%d events", v.total), fmt.Sprintf("%.0f/s", v.rate.perSecond(v.o.Clock())))
	if v.filter != nil {
		parts = append(parts, fmt.Sprintf("%d shown", v.shown.len()))
	}
	switch {
	case v.search == "":
	case v.searchHits == 0:
		parts = append(parts, st.StatusWarn.Render("/"+safe(v.search)+": no match"))
	default:
		parts = append(parts, fmt.Sprintf("/%s %d/%d", safe(v.search), v.searchAt, v.searchHits))
	}
	if v.refiltering {
		parts = append(parts, "re-filtering the buffer…")
	}
	// Dropping the oldest is what a bounded buffer does: a quiet counter,
	// not a warning that never goes away.
	parts = append(parts, fmt.Sprintf("dropped %d", v.ring.dropped))
	if v.filterFails > 0 {
		parts = append(parts, st.Error.Render(fmt.Sprintf("filter failed on %d: %s", v.filterFails, safe(v.firstFailure))))
	}
	if v.endErr != nil {
		if ended(v.endErr) {
			parts = append(parts, "ended")
		} else {
			parts = append(parts, st.Error.Render(safe(v.endErr.Error())))
		}
	}
	return strings.Join(parts, " · ")
}

func (v *tailView) view() string {
	c, st := v.c, v.c.Styles
	var lines []string
	switch {
	case v.filterIn.active:
		lines = append(lines, v.filterIn.render(st, c.Width))
	case v.filter != nil:
		lines = append(lines, st.Dim.Render("filter: ")+safe(v.filter.String()))
	default:
		lines = append(lines, st.Dim.Render("filter: none (f edits; the language of eddy tail --filter)"))
	}
	if v.filterErr != "" {
		lines = append(lines, st.Error.Render(v.filterErr))
	}
	if v.searchIn.active {
		lines = append(lines, v.searchIn.render(st, c.Width))
	}
	if v.jumpIn.active {
		lines = append(lines, v.jumpIn.render(st, c.Width))
	}
	h := v.listHeight()
	lines = append(lines, v.connLines()...)
	if len(v.addrs) == 0 {
		lines = append(lines, "", "  Nothing tailed yet: choose sources in the Sources view (1) and press enter.")
	} else if v.shown.len() == 0 && !v.opening {
		lines = append(lines, st.Dim.Render("  waiting for events…"))
	}
	lines = append(lines, v.tailRows(h)...)
	return body(lines, c.Width, c.bodyHeight())
}

// highlight styles every case-insensitive occurrence of sub in s (s is
// already terminal-safe text).
func highlight(s, sub string, st Styles) string {
	if sub == "" || !st.Color {
		return s
	}
	low, lsub := strings.ToLower(s), strings.ToLower(sub)
	if len(low) != len(s) {
		return s // case mapping changed lengths: leave it unmarked
	}
	var b strings.Builder
	for {
		i := strings.Index(low, lsub)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(st.Match.Render(s[i : i+len(sub)]))
		s, low = s[i+len(sub):], low[i+len(sub):]
	}
}

// rateMeter measures events per second over the last two seconds.
type rateMeter struct {
	marks []rateMark
}

type rateMark struct {
	at time.Time
	n  int
}

func (r *rateMeter) add(now time.Time, n int) {
	r.marks = append(r.marks, rateMark{now, n})
	r.expire(now)
}

func (r *rateMeter) expire(now time.Time) {
	i := 0
	for i < len(r.marks) && now.Sub(r.marks[i].at) > 2*time.Second {
		i++
	}
	r.marks = r.marks[i:]
}

func (r *rateMeter) perSecond(now time.Time) float64 {
	r.expire(now)
	n := 0
	for _, m := range r.marks {
		n += m.n
	}
	return float64(n) / 2
}
