package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/replay/eos"
)

// lagTick asks for the next sample; gen drops ticks of an earlier chain
// (one restarted by r, or of a context switched away from).
type lagTick struct{ gen int }

// lagResult carries a sample to the activation that asked for it.
type lagResult struct {
	gen int
	lagMsg
}

// lagView samples consumer groups and queues with inspect's LagMonitor (eddy
// lag's), from the TUI's start and whether it is shown or not, and keeps
// each one's lag history for a sparkline (and the monitor its window for
// Burrow's rules). enter drills into a group's partitions.
type lagView struct {
	c       *Common
	ctx     context.Context
	be      *Backend
	refresh time.Duration

	mon     *lag.LagMonitor
	snap    *inspect.LagSnapshot
	err     error
	history map[string][]float64
	gen     int // the one sampling chain in force (see sourcesView)
	cur     cursor
	drill   string // the group whose partitions are shown, "" for the list
	pcur    cursor
	// pfilter (/) keeps the drilled-into group's partitions it matches;
	// pshown are their indexes.
	pfilter input
	pshown  []int
	// shown are the indexes of the groups listed: eddy's own jobs (redrive
	// and replay groups) only when jobs is set (J).
	shown []int
	jobs  bool
	// sampledAt is when the snapshot shown was taken: a failed sample
	// keeps the last good one, said to be old.
	sampledAt time.Time
	// filter (/) keeps the groups and queues whose name holds it; qshown
	// are the indexes of the queues listed.
	filter input
	qshown []int
	// sort: s and S; by status (worst first, then by lag) until s moves it.
	sort listSort
	// inflight: a sample is being read. The monitor is not safe for
	// concurrent use (its evaluator keeps the window), so r meanwhile
	// only asks for the next sample to follow at once (soon).
	inflight, soon bool
}

// eddyJob names the job when group is one of eddy's: a redrive's or a
// replay's group ("redrive orders.DLT-1a2b3c4d"), else "".
func eddyJob(group string) string {
	if j, ok := strings.CutPrefix(group, dlq.RedriveGroup("")); ok {
		return "eddy redrive " + j
	}
	if j, ok := strings.CutPrefix(group, eos.GroupName("")); ok {
		return "eddy replay " + j
	}
	return ""
}

// jobStatus judges one of eddy's jobs by its own rules: a job reads its
// source to the end as of its start and ends, so with no member it is done
// (what arrived since is not its lag), and with members it runs; an error
// reading the group is still one.
func jobStatus(g *inspect.GroupLag) string {
	if len(g.Members) > 0 {
		return "job running"
	}
	return "job done"
}

// reshow lists the groups (without eddy's jobs unless J showed them) and
// then the queues, each in the sort's order.
func (v *lagView) reshow() {
	v.shown, v.qshown = v.shown[:0], v.qshown[:0]
	if v.snap == nil {
		return
	}
	q := strings.ToLower(v.filter.value)
	for i := range v.snap.Groups {
		g := v.snap.Groups[i].Group
		if (v.jobs || eddyJob(g) == "") && strings.Contains(strings.ToLower(g+"\x00"+eddyJob(g)), q) {
			v.shown = append(v.shown, i)
		}
	}
	for i := range v.snap.Queues {
		if strings.Contains(strings.ToLower("amqp:"+v.snap.Queues[i].Queue), q) {
			v.qshown = append(v.qshown, i)
		}
	}
	gcols, qcols := v.sortCols()
	v.sort.apply(v.shown, gcols)
	v.sort.apply(v.qshown, qcols)
}

// sortCols are the columns s cycles through: over the groups' indexes,
// and the same columns over the queues' (ready for LAG, unacked for
// OFFSETLAG, the head message's age for TIMELAG; queues have no status).
func (v *lagView) sortCols() (groups, queues []sortCol) {
	g := func(i int) *inspect.GroupLag { return &v.snap.Groups[i] }
	q := func(i int) *inspect.QueueLag { return &v.snap.Queues[i] }
	// By the status shown: eddy's jobs are not judged by Burrow's rules
	// (their ERR is not shown), so they sort after every consumer.
	status := func(i int) int64 {
		if eddyJob(g(i).Group) != "" && g(i).Err == "" {
			return -1
		}
		return int64(g(i).Status)
	}
	byStatus := func(a, b int) int {
		if c := byInt(status)(a, b); c != 0 {
			return c
		}
		return byInt(func(i int) int64 { return g(i).Lag })(a, b)
	}
	groups = []sortCol{
		{"GROUP / QUEUE", byName(func(i int) string { return g(i).Group }), false},
		{"STATUS", byStatus, true},
		{"LAG", byInt(func(i int) int64 { return g(i).Lag }), true},
		{"OFFSETLAG", byInt(func(i int) int64 { return g(i).OffsetLag }), true},
		{"TIMELAG", byInt(func(i int) int64 { return int64(g(i).TimeLag) }), true},
	}
	queues = []sortCol{
		{"GROUP / QUEUE", byName(func(i int) string { return q(i).Queue }), false},
		{"STATUS", func(int, int) int { return 0 }, true},
		{"LAG", byInt(func(i int) int64 { return q(i).Ready }), true},
		{"OFFSETLAG", byInt(func(i int) int64 { return q(i).Unacked }), true},
		{"TIMELAG", byInt(func(i int) int64 { return int64(q(i).HeadAge) }), true},
	}
	return groups, queues
}

// hiddenJobs counts eddy's jobs not listed (J shows them).
func (v *lagView) hiddenJobs() int {
	if v.snap == nil || v.jobs {
		return 0
	}
	n := 0
	for _, g := range v.snap.Groups {
		if eddyJob(g.Group) != "" {
			n++
		}
	}
	return n
}

func newLagView(c *Common, ctx context.Context, be *Backend, refresh time.Duration) *lagView {
	return &lagView{c: c, ctx: ctx, be: be, refresh: refresh, history: map[string][]float64{}, sort: listSort{col: 1}}
}

func (v *lagView) title() string {
	if v.drill != "" {
		return "Lag " + safe(v.drill)
	}
	return "Lag"
}

func (v *lagView) editing() bool { return v.filter.active || v.pfilter.active }

func (v *lagView) help() []key.Binding {
	k := v.c.Keys
	if v.drill != "" {
		return append(k.moveHelp(), relabel(k.Open, "tail from its commit"), k.ListFilter)
	}
	bs := append(k.moveHelp(), relabel(k.Open, "partitions; queue: tail"), k.ListFilter, k.Sort, k.SortReverse, k.Refresh)
	if v.jobs || v.hiddenJobs() > 0 {
		bs = append(bs, k.Jobs)
	}
	return bs
}

// activate starts the sampling chain if it is not running yet (the root
// starts it with the TUI); it then runs in the background.
func (v *lagView) activate() tea.Cmd {
	if v.gen != 0 {
		return nil
	}
	return v.sample()
}

func (v *lagView) deactivate() {}

// sample reads now and starts a new chain from that sample; while one is
// read, the next follows it at once.
func (v *lagView) sample() tea.Cmd {
	if v.inflight {
		v.soon = true
		return nil
	}
	if v.mon == nil {
		v.mon = v.be.newLagMonitor()
	}
	v.inflight = true
	v.gen = nextGen()
	gen, mon, ctx := v.gen, v.mon, v.ctx
	return func() tea.Msg {
		s, err := mon.Sample(ctx)
		return lagResult{gen, lagMsg{s, err}}
	}
}

// esc leaves a drill-down before the root goes back.
func (v *lagView) esc() bool {
	if v.drill != "" {
		if v.pfilter.value != "" {
			v.repart(func() { v.pfilter.value = "" })
			return true
		}
		v.drill = ""
		return true
	}
	if v.filter.value != "" {
		k := v.rowKey(v.cur.pos)
		v.filter.value = ""
		v.reshow()
		v.cur.follow(k, v.rows(), v.rowKey)
		return true
	}
	return false
}

func (v *lagView) status() string {
	switch {
	case v.err != nil && v.snap == nil:
		return v.c.Styles.Error.Render(safe(v.err.Error()))
	case v.err != nil:
		return v.c.Styles.Error.Render("sample failed (" + readAt(v.sampledAt) + ")")
	case v.snap == nil:
		return "sampling lag…"
	}
	s := v.partCount() + fmt.Sprintf("%d groups · %d queues · sample %d/%d · every %s", len(v.shown), len(v.snap.Queues), v.snap.Samples, v.snap.Window, v.refresh)

	for _, e := range v.snap.Errors {
		s += " · " + v.c.Styles.Error.Render(safe(e))
	}
	return s
}

func (v *lagView) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case lagResult:
		if msg.gen != v.gen {
			return nil
		}
		v.inflight = false
		k, pk := v.rowKey(v.cur.pos), v.partKey(v.pcur.pos)
		v.err = msg.err
		if msg.snap != nil || v.snap == nil {
			v.snap, v.sampledAt = msg.snap, v.c.Now()
		}
		v.reshow()
		if v.snap != nil {
			v.record(v.snap)
			// The groups are sorted by status and lag, which change from
			// sample to sample: the cursor stays on its group.
			v.cur.follow(k, v.rows(), v.rowKey)
			v.repartAt(pk)
		}
		if v.soon {
			v.soon = false
			return v.sample()
		}
		gen := v.gen
		return tea.Tick(v.refresh, func(time.Time) tea.Msg { return lagTick{gen} })
	case lagTick:
		if msg.gen == v.gen {
			return v.sample()
		}
	case tea.PasteMsg:
		if v.pfilter.active {
			v.repart(func() { v.pfilter.paste(msg.Content) })
		} else if v.filter.active {
			v.filter.paste(msg.Content)
			v.reshow()
		}
	case tea.KeyPressMsg:
		return v.key(msg)
	}
	return nil
}

func (v *lagView) record(s *inspect.LagSnapshot) {
	push := func(name string, x float64) {
		h := append(v.history[name], x)
		if len(h) > sparkLen {
			h = h[len(h)-sparkLen:]
		}
		v.history[name] = h
	}
	for _, g := range s.Groups {
		push("g:"+g.Group, float64(g.Lag))
	}
	for _, q := range s.Queues {
		push("q:"+q.Queue, float64(q.Ready))
	}
}

// rowKey names row i of the list ("" for none): a group or a queue.
func (v *lagView) rowKey(i int) string {
	switch {
	case v.snap == nil || i < 0:
		return ""
	case i < len(v.shown):
		return "g:" + v.snap.Groups[v.shown[i]].Group
	case i < v.rows():
		return "q:" + v.snap.Queues[v.qshown[i-len(v.shown)]].Queue
	}
	return ""
}

// partKey names row i of the drilled-into group's partitions shown.
func (v *lagView) partKey(i int) string {
	g := v.group(v.drill)
	if g == nil || i < 0 || i >= len(v.pshown) || v.pshown[i] >= len(g.Partitions) {
		return ""
	}
	p := &g.Partitions[v.pshown[i]]
	return p.Topic + "\x00" + strconv.Itoa(int(p.Partition))
}

func (v *lagView) rows() int {
	if v.snap == nil {
		return 0
	}
	return len(v.shown) + len(v.qshown)
}

func (v *lagView) key(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	h := v.c.bodyHeight() - 1
	if v.drill != "" {
		g := v.group(v.drill)
		switch {
		case v.pfilter.active:
			v.repart(func() { v.pfilter.filterKey(k, msg) })
		case g == nil:
		case v.pcur.move(k, msg, len(v.pshown), h-len(v.pfilterLine())):
		case key.Matches(msg, k.Open):
			return v.tailPartition(g)
		case key.Matches(msg, k.ListFilter):
			v.pfilter.start("filter partitions: ", v.pfilter.value)
		}
		return nil
	}
	if v.filter.active {
		rk := v.rowKey(v.cur.pos)
		v.filter.filterKey(k, msg)
		v.reshow()
		v.cur.follow(rk, v.rows(), v.rowKey)
		return nil
	}
	if v.filter.value != "" {
		h--
	}
	if v.cur.move(k, msg, v.rows(), h) {
		return nil
	}
	switch {
	case key.Matches(msg, k.ListFilter):
		v.filter.start("filter: ", v.filter.value)
	case key.Matches(msg, k.Refresh):
		return v.sample()
	case key.Matches(msg, k.Jobs):
		k := v.rowKey(v.cur.pos)
		v.jobs = !v.jobs
		v.reshow()
		v.cur.follow(k, v.rows(), v.rowKey)
	case key.Matches(msg, k.Sort), key.Matches(msg, k.SortReverse):
		if v.snap != nil {
			gcols, _ := v.sortCols()
			k := v.rowKey(v.cur.pos)
			v.sort.key(v.c.Keys, msg, gcols)
			v.reshow()
			v.cur.follow(k, v.rows(), v.rowKey)
		}
	case key.Matches(msg, k.Open):
		if v.snap != nil && v.cur.pos < len(v.shown) {
			v.drill = v.snap.Groups[v.shown[v.cur.pos]].Group
			v.pcur, v.pfilter = cursor{}, input{}
			v.repartAt("")
		} else if v.snap != nil && v.cur.pos < v.rows() {
			return v.tailQueue(v.snap.Queues[v.qshown[v.cur.pos-len(v.shown)]].Queue)
		}
	}
	return nil
}

func (v *lagView) group(name string) *inspect.GroupLag {
	if v.snap == nil {
		return nil
	}
	for i := range v.snap.Groups {
		if v.snap.Groups[i].Group == name {
			return &v.snap.Groups[i]
		}
	}
	return nil
}

func (v *lagView) statusStyle(s inspect.Status) lipgloss.Style {
	st := v.c.Styles
	switch {
	case s == inspect.StatusOK:
		return st.OK
	case s == inspect.StatusWarn:
		return st.Warn
	case s >= inspect.StatusErr:
		return st.Err
	}
	return st.Dim
}

func statusLabel(g *inspect.GroupLag) string {
	if g.Worst > inspect.StatusErr {
		return g.Status.String() + "(" + g.Worst.String() + ")"
	}
	return g.Status.String()
}

func (v *lagView) view() string {
	c, st := v.c, v.c.Styles
	h := c.bodyHeight()
	if v.snap == nil {
		lines := []string{"  sampling…"}
		if v.err != nil {
			lines = append(errorLines(st, safe(v.err.Error()), c.Width), st.Dim.Render("  sampled again every "+v.refresh.String()))
		}
		return body(lines, c.Width, h)
	}
	if v.err != nil {
		// The last good sample stays, under why the latest failed.
		lines := append(errorLines(st, safe(v.err.Error()), c.Width),
			st.Dim.Render("  showing the sample "+readAt(v.sampledAt)+"; sampled again every "+v.refresh.String()))
		rest := strings.Split(v.viewSnap(h-len(lines)), "\n")
		return body(append(lines, rest...), c.Width, h)
	}
	return v.viewSnap(h)
}

// viewSnap draws the snapshot in h lines.
func (v *lagView) viewSnap(h int) string {
	c, st := v.c, v.c.Styles
	if v.drill != "" {
		return v.partitions(h)
	}
	nameW := max(12, min(32, c.Width-58))
	var lines []string
	if v.filter.active || v.filter.value != "" {
		lines = append(lines, v.filter.render(st, c.Width))
		h--
	}
	cols, _ := v.sortCols()
	hd := func(i int) string { return v.sort.head(cols, i) }
	lines = append(lines, st.Header.Render(fmt.Sprintf("  %-*s %-13s %9s %10s %8s  %s", nameW, hd(0), hd(1), hd(2), hd(3), hd(4), "HISTORY")))
	v.cur.clamp(v.rows(), h-1)
	hists := make([][]float64, 0, v.rows())
	for i := range v.rows() {
		hists = append(hists, v.history[v.rowKey(i)])
	}
	hi := sparkMax(sparkLen, hists...)
	top := len(lines) - 1
	for i := v.cur.top; i < v.rows() && len(lines)-top < h; i++ {
		var line string
		if i < len(v.shown) {
			g := &v.snap.Groups[v.shown[i]]
			name, status, style := g.Group, pad(statusLabel(g), 13), v.statusStyle(g.Status)
			if job := eddyJob(g.Group); job != "" && g.Err == "" {
				// Not a consumer: Burrow's rules (a stopped group
				// with lag is ERR) do not apply.
				name, status, style = job, pad(jobStatus(g), 13), st.Dim
			}
			line = fmt.Sprintf("  %-*s %s %9s %10s %8s  %s", nameW, fitName(safe(name), nameW), style.Render(status),
				inspect.FormatLagCount(g.Lag, g.LagInexact), dash(g.OffsetLag), inspect.FormatTimeLag(g.TimeLag, g.TimeLagInexact), sparkline(v.history["g:"+g.Group], sparkLen, hi))
		} else {
			q := &v.snap.Queues[v.qshown[i-len(v.shown)]]
			line = fmt.Sprintf("  %-*s %-13s %9d %10s %8s  %s", nameW, fitName("amqp:"+safe(q.Queue), nameW), "ready",
				q.Ready, fmt.Sprintf("unack %d", q.Unacked), inspect.FormatLagDuration(q.HeadAge), sparkline(v.history["q:"+q.Queue], sparkLen, hi))
		}
		if i == v.cur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	if v.rows() == 0 && v.filter.value != "" {
		lines = append(lines, st.Dim.Render("  no group or queue matches the filter"))
	}
	if n := v.hiddenJobs(); n > 0 && len(lines)-top < h {
		lines = append(lines, st.Dim.Render(fmt.Sprintf("  %d of eddy's own jobs hidden (redrive and replay groups; J shows them)", n)))
	}
	return body(lines, c.Width, c.bodyHeight())
}

func (v *lagView) partitions(h int) string {
	c, st := v.c, v.c.Styles
	g := v.group(v.drill)
	if g == nil {
		return body([]string{"  no group " + safe(v.drill) + " in the last sample (esc goes back)"}, c.Width, h)
	}
	// Narrow, COMMITTED and END go first: LAG and TIMELAG are what the
	// view is for.
	wide := c.Width >= 74
	tpW := 22
	if !wide {
		tpW = max(12, min(22, c.Width-30))
	}
	head := fmt.Sprintf("  %-*s %-7s %10s %10s %8s %8s  %s", tpW, "TOPIC[PARTITION]", "STATUS", "COMMITTED", "END", "LAG", "TIMELAG", "MEMBER")
	if !wide {
		head = fmt.Sprintf("  %-*s %-7s %8s %8s  %s", tpW, "TOPIC[PARTITION]", "STATUS", "LAG", "TIMELAG", "MEMBER")
	}
	lines := append(v.pfilterLine(), st.Header.Render(head))
	v.pcur.clamp(len(v.pshown), h-len(lines))
	for i := v.pcur.top; i < len(v.pshown) && len(lines) < h; i++ {
		p := &g.Partitions[v.pshown[i]]
		tp := fitName(fmt.Sprintf("%s[%d]", safe(p.Topic), p.Partition), tpW)
		status := v.statusStyle(p.Status).Render(pad(p.Status.String(), 7))
		line := fmt.Sprintf("  %-*s %s %10s %10s %8s %8s  %s", tpW, tp, status,
			dash(p.Committed), dash(p.End), inspect.FormatLagCount(p.Lag, p.LagInexact), inspect.FormatLagDuration(p.TimeLag), safe(p.ClientID))
		if !wide {
			line = fmt.Sprintf("  %-*s %s %8s %8s  %s", tpW, tp, status, inspect.FormatLagCount(p.Lag, p.LagInexact), inspect.FormatLagDuration(p.TimeLag), safe(p.ClientID))
		}
		if i == v.pcur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	if len(v.pshown) == 0 && v.pfilter.value != "" {
		lines = append(lines, st.Dim.Render("  no partition matches the filter (esc clears it)"))
	}
	return body(lines, c.Width, h)
}

// dash is n, or "-" when unknown (-1), as eddy lag's tables show it.
func dash(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}
