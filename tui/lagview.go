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

// lagTick asks for the next sample; gen drops ticks of an earlier
// activation.
type lagTick struct{ gen int }

// lagResult carries a sample to the activation that asked for it.
type lagResult struct {
	gen int
	lagMsg
}

// lagView samples consumer groups and queues with inspect's LagMonitor (eddy
// lag's), while it is open, and keeps each one's lag history for a
// sparkline. enter drills into a group's partitions.
type lagView struct {
	c       *Common
	ctx     context.Context
	be      *Backend
	refresh time.Duration

	mon     *lag.LagMonitor
	snap    *inspect.LagSnapshot
	err     error
	history map[string][]float64
	gen     int
	active  bool
	cur     cursor
	drill   string // the group whose partitions are shown, "" for the list
	pcur    cursor
	// shown are the indexes of the groups listed: eddy's own jobs (redrive
	// and replay groups) only when jobs is set (J).
	shown []int
	jobs  bool
	// sampledAt is when the snapshot shown was taken: a failed sample
	// keeps the last good one, said to be old.
	sampledAt time.Time
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

// reshow lists the groups (without eddy's jobs unless J showed them).
func (v *lagView) reshow() {
	v.shown = v.shown[:0]
	if v.snap == nil {
		return
	}
	for i := range v.snap.Groups {
		if v.jobs || eddyJob(v.snap.Groups[i].Group) == "" {
			v.shown = append(v.shown, i)
		}
	}
}

// hiddenJobs counts eddy's jobs not listed.
func (v *lagView) hiddenJobs() int {
	if v.snap == nil {
		return 0
	}
	return len(v.snap.Groups) - len(v.shown)
}

func newLagView(c *Common, ctx context.Context, be *Backend, refresh time.Duration) *lagView {
	return &lagView{c: c, ctx: ctx, be: be, refresh: refresh, history: map[string][]float64{}}
}

func (v *lagView) title() string {
	if v.drill != "" {
		return "Lag " + safe(v.drill)
	}
	return "Lag"
}

func (v *lagView) editing() bool { return false }

func (v *lagView) help() []key.Binding {
	k := v.c.Keys
	return append(k.moveHelp(), k.Open, k.Refresh, k.Jobs)
}

func (v *lagView) activate() tea.Cmd {
	v.active = true
	v.gen++
	if v.mon == nil {
		v.mon = v.be.newLagMonitor()
	}
	return v.sample()
}

func (v *lagView) deactivate() { v.active = false }

func (v *lagView) sample() tea.Cmd {
	gen, mon, ctx := v.gen, v.mon, v.ctx
	return func() tea.Msg {
		s, err := mon.Sample(ctx)
		return lagResult{gen, lagMsg{s, err}}
	}
}

// esc leaves a drill-down before the root goes back.
func (v *lagView) esc() bool {
	if v.drill != "" {
		v.drill = ""
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
	s := fmt.Sprintf("%d groups · %d queues · sample %d/%d · every %s", len(v.shown), len(v.snap.Queues), v.snap.Samples, v.snap.Window, v.refresh)

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
			if g := v.group(v.drill); g != nil {
				v.pcur.follow(pk, len(g.Partitions), v.partKey)
			}
		}
		if !v.active {
			return nil
		}
		gen := v.gen
		return tea.Tick(v.refresh, func(time.Time) tea.Msg { return lagTick{gen} })
	case lagTick:
		if v.active && msg.gen == v.gen {
			return v.sample()
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
		return "q:" + v.snap.Queues[i-len(v.shown)].Queue
	}
	return ""
}

// partKey names row i of the drilled-into group's partitions.
func (v *lagView) partKey(i int) string {
	g := v.group(v.drill)
	if g == nil || i < 0 || i >= len(g.Partitions) {
		return ""
	}
	return g.Partitions[i].Topic + "\x00" + strconv.Itoa(int(g.Partitions[i].Partition))
}

func (v *lagView) rows() int {
	if v.snap == nil {
		return 0
	}
	return len(v.shown) + len(v.snap.Queues)
}

func (v *lagView) key(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	h := v.c.bodyHeight() - 1
	if v.drill != "" {
		if g := v.group(v.drill); g != nil {
			v.pcur.move(k, msg, len(g.Partitions), h)
		}
		return nil
	}
	if v.cur.move(k, msg, v.rows(), h) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Refresh):
		return v.sample()
	case key.Matches(msg, k.Jobs):
		k := v.rowKey(v.cur.pos)
		v.jobs = !v.jobs
		v.reshow()
		v.cur.follow(k, v.rows(), v.rowKey)
	case key.Matches(msg, k.Open):
		if v.snap != nil && v.cur.pos < len(v.shown) {
			v.drill = v.snap.Groups[v.shown[v.cur.pos]].Group
			v.pcur = cursor{}
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
	lines := []string{st.Header.Render(fmt.Sprintf("  %-*s %-13s %9s %10s %8s  %s", nameW, "GROUP / QUEUE", "STATUS", "LAG", "OFFSETLAG", "TIMELAG", "HISTORY"))}
	v.cur.clamp(v.rows(), h-1)
	hists := make([][]float64, 0, v.rows())
	for i := range v.rows() {
		hists = append(hists, v.history[v.rowKey(i)])
	}
	hi := sparkMax(sparkLen, hists...)
	for i := v.cur.top; i < v.rows() && len(lines) < h; i++ {
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
			q := &v.snap.Queues[i-len(v.shown)]
			line = fmt.Sprintf("  %-*s %-13s %9d %10s %8s  %s", nameW, fitName("amqp:"+safe(q.Queue), nameW), "ready",
				q.Ready, fmt.Sprintf("unack %d", q.Unacked), inspect.FormatLagDuration(q.HeadAge), sparkline(v.history["q:"+q.Queue], sparkLen, hi))
		}
		if i == v.cur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	if n := v.hiddenJobs(); n > 0 && len(lines) < h {
		lines = append(lines, st.Dim.Render(fmt.Sprintf("  %d of eddy's own jobs hidden (redrive and replay groups; J shows them)", n)))
	}
	return body(lines, c.Width, h)
}

func (v *lagView) partitions(h int) string {
	c, st := v.c, v.c.Styles
	g := v.group(v.drill)
	if g == nil {
		return body([]string{"  group " + safe(v.drill) + " is gone (esc goes back)"}, c.Width, h)
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
	lines := []string{st.Header.Render(head)}
	v.pcur.clamp(len(g.Partitions), h-1)
	for i := v.pcur.top; i < len(g.Partitions) && len(lines) < h; i++ {
		p := &g.Partitions[i]
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
	return body(lines, c.Width, h)
}

// dash is n, or "-" when unknown (-1), as eddy lag's tables show it.
func dash(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}
