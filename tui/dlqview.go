package tui

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/replay"
)

// dlqResult carries summaries to the activation that asked for them.
type dlqResult struct {
	gen int
	dlqMsg
}

// Messages of a redrive in progress.
type (
	redriveProgressMsg struct {
		gen int
		sum replay.Summary
	}
	redriveDoneMsg struct {
		gen int
		rep dlq.Report
		err error
	}
)

// redrive stages of the DLQ view.
type dlqStage int

const (
	stageList     dlqStage = iota // the DLQs
	stageGroups                   // one DLQ's error groups
	stageMessages                 // one group's messages
	stagePlan                     // the dry run of the selection, waiting for Y
	stageRunning                  // the redrive, with progress
	stageResult                   // what it did
)

// dlqView lists the dead-letter topics and queues with their counts and
// errors, as eddy dlq ls and eddy dlq show summarize them; enter shows a
// DLQ's messages grouped by error, class and origin. P plans a redrive of
// the selected groups (or of the whole DLQ) — the dry run of eddy dlq
// redrive --error, on a Kafka topic or a RabbitMQ queue — and Y, explicitly,
// runs it.
type dlqView struct {
	c   *Common
	ctx context.Context
	be  *Backend

	res       *dlqMsg
	loading   bool
	gen       int
	cur       cursor
	open      int // the DLQ whose groups are shown
	gcur      cursor
	gfilter   input           // / filters the open DLQ's groups
	gshown    []int           // the indexes of the groups the filter matches
	picked    map[string]bool // selected groups of the open DLQ, by groupKey
	group     int             // the group whose messages are shown
	mcur      cursor
	pickedIDs map[string]bool // selected messages of the open group, by identity
	mfilter   input           // / filters the open group's messages
	mshown    []int           // the indexes of the messages the filter matches
	stage     dlqStage
	lfilter   input // / filters the list of DLQs
	lshown    []int // the indexes of the DLQs the filter matches
	// sort and gsort: s and S in the list (by count until s moves it) and
	// in a DLQ's groups (by count).
	sort, gsort listSort

	req      RedriveRequest
	sel      string // the selection, in words
	fromMsgs bool   // the plan was made in a group's messages
	plan     dlq.Report
	planErr  error
	progress replay.Summary
	result   dlq.Report
	runErr   error
	runGen   int
	prog     chan replay.Summary
	done     chan redriveDoneMsg

	// The list reads itself again every `every` while shown (dlqTick), and
	// at once when a broker answers again; readAt is when the summaries
	// shown were read, stale says the latest read failed and kept them.
	every   time.Duration
	active  bool
	tickGen int
	readAt  time.Time
	stale   bool
}

// dlqTick asks for the next reading of the DLQs; gen drops ticks of an
// earlier activation.
type dlqTick struct{ gen int }

func newDLQView(c *Common, ctx context.Context, be *Backend) *dlqView {
	return &dlqView{c: c, ctx: ctx, be: be, open: -1, picked: map[string]bool{}, sort: listSort{col: 1}}
}

func (v *dlqView) title() string {
	if s := v.opened(); s != nil {
		return "DLQ " + safe(s.Name)
	}
	return "DLQ"
}

func (v *dlqView) editing() bool { return v.gfilter.active || v.lfilter.active || v.mfilter.active }

// help is the keys of the stage shown: each works there.
func (v *dlqView) help() []key.Binding {
	k := v.c.Keys
	var plan []key.Binding
	if v.canRedrive() {
		plan = []key.Binding{k.Plan}
	}
	switch v.stage {
	case stageGroups:
		return append(append(k.moveHelp(), relabel(k.Open, "the group's messages"), k.Select, k.ListFilter, k.Sort, k.SortReverse), plan...)
	case stageMessages:
		return append(append(k.moveHelp(), relabel(k.Open, "open the message"), k.Select, k.ListFilter), plan...)
	case stagePlan:
		if v.planErr == nil && v.plan.Redriven+v.plan.Parked > 0 {
			return []key.Binding{k.Confirm}
		}
		return nil
	case stageRunning:
		return nil
	case stageResult:
		return []key.Binding{relabel(k.Open, "back, counts re-read")}
	}
	return append(k.moveHelp(), relabel(k.Open, "the DLQ's error groups"), k.ListFilter, k.Sort, k.SortReverse, k.Refresh)
}

func (v *dlqView) activate() tea.Cmd {
	v.active = true
	v.tickGen = nextGen()
	switch {
	case v.loading:
		return nil
	case v.res == nil, len(v.res.errs) > 0:
		return v.load()
	}
	return v.tick()
}

func (v *dlqView) deactivate() { v.active = false }

// peeks says whether a reading peeks at RabbitMQ DLQs (eddy tui
// --backlog: each message fetched, requeued and marked redelivered).
// Asked for by name, a peek is what the user wanted once per r, not every
// `every`: such a list is read again only by r, or when the broker
// answers again after a failed read.
func (v *dlqView) peeks() bool { return v.be.Backlog && v.be.AMQP != nil }

// tick schedules the next reading (none while the view is not shown).
func (v *dlqView) tick() tea.Cmd {
	if !v.active || v.every <= 0 || v.peeks() {
		return nil
	}
	gen := v.tickGen
	return tea.Tick(v.every, func(time.Time) tea.Msg { return dlqTick{gen} })
}

// rereads says whether a reading may replace what is shown now: not while
// a redrive is planned, runs or shows its result (its counts are what
// the plan was made from).
func (v *dlqView) rereads() bool {
	return !v.loading && (v.stage == stageList || v.stage == stageGroups || v.stage == stageMessages)
}

func (v *dlqView) load() tea.Cmd {
	v.gen = nextGen()
	v.loading = true
	gen, be, ctx := v.gen, v.be, v.ctx
	return func() tea.Msg { return dlqResult{gen, be.summarizeDLQs(ctx)} }
}

func (v *dlqView) opened() *dlq.Summary {
	if v.res == nil || v.stage == stageList || v.open < 0 || v.open >= len(v.res.sums) {
		return nil
	}
	return &v.res.sums[v.open]
}

// escCmd is esc, and from a redrive's result it reads the counts again, as
// the result says (they changed).
func (v *dlqView) escCmd() (tea.Cmd, bool) {
	if v.stage == stageResult {
		v.esc()
		return v.load(), true
	}
	return nil, v.esc()
}

// esc goes one stage back; a running redrive is not left (ctrl+c stops it).
func (v *dlqView) esc() bool {
	switch v.stage {
	case stageList:
		if v.lfilter.value != "" {
			rk := v.listKey(v.cur.pos)
			v.lfilter.value = ""
			v.relist()
			v.cur.follow(rk, len(v.lshown), v.listKey)
			return true
		}
		return false
	case stageGroups:
		if v.gfilter.value != "" {
			v.gfilter.value = ""
			v.regroup()
			return true
		}
		v.stage, v.picked = stageList, map[string]bool{}
	case stageMessages:
		if v.mfilter.value != "" {
			v.mfilter.value = ""
			v.remsg()
			return true
		}
		v.stage, v.pickedIDs = stageGroups, nil
	case stagePlan:
		v.stage = stageGroups
		if v.fromMsgs {
			v.stage = stageMessages
		}
	case stageRunning:
	case stageResult:
		v.stage = stageList
	}
	return true
}

func (v *dlqView) status() string {
	st := v.c.Styles
	switch {
	case v.loading:
		return "reading dead-letter topics and queues…"
	case v.res == nil:
		return ""
	}
	switch v.stage {
	case stageGroups:
		s := fmt.Sprintf("%d groups · %d selected", len(v.opened().Groups), len(v.picked))
		if v.gfilter.value != "" {
			s = fmt.Sprintf("%d of %d groups · %d selected", len(v.gshown), len(v.opened().Groups), len(v.picked))
		}
		if v.canRedrive() {
			return s + " · " + shortHelp(v.c.Keys.Select, v.c.Keys.Plan)
		}
		return s
	case stageMessages:
		g := &v.opened().Groups[v.group]
		s := fmt.Sprintf("%d of %d messages listed · %d selected", len(g.IDs), g.Count, len(v.pickedIDs))
		if v.mfilter.value != "" {
			s = fmt.Sprintf("%d of %d listed messages (of %d) · %d selected", len(v.mshown), len(g.IDs), g.Count, len(v.pickedIDs))
		}
		if v.canRedrive() {
			return s + " · " + shortHelp(v.c.Keys.Select, v.c.Keys.Plan)
		}
		return s
	case stagePlan:
		if v.planErr != nil {
			return st.Error.Render(safe(v.planErr.Error()))
		}
		if v.plan.Read == 0 && v.plan.Redriven == 0 {
			return "planning (dry run)…"
		}
		return "Y redrives as planned · esc cancels"
	case stageRunning:
		return fmt.Sprintf("redriving… read %d · moved %d", v.progress.Read, v.progress.Moved)
	case stageResult:
		if v.runErr != nil {
			return st.Error.Render(safe(v.runErr.Error()))
		}
		return "done · enter: back to the DLQs, counts re-read"
	}
	var total int64
	for _, s := range v.res.sums {
		total += s.Count
	}
	s := fmt.Sprintf("%d DLQs · %d messages", len(v.res.sums), total)
	if v.lfilter.value != "" {
		s = fmt.Sprintf("%d of %d DLQs · %d messages", len(v.lshown), len(v.res.sums), total)
	}
	s += " · " + readAt(v.readAt)
	if len(v.res.errs) > 0 {
		s += " · " + st.Error.Render("read failed")
	}
	return s
}

// dlqKey names a DLQ of the list, groupKey a group of a DLQ: the cursors and
// the selection follow them, not row numbers, when the lists are read again
// (they are sorted by count).
func dlqKey(s *dlq.Summary) string { return s.Transport + ":" + s.Name }
func groupKey(g *dlq.Group) string { return g.Pattern + "\x00" + g.Class + "\x00" + g.Origin }

// reload takes newly read summaries: every cursor stays on its DLQ, group
// and message; a DLQ or group that is gone goes back a stage.
func (v *dlqView) reload(res *dlqMsg) {
	var k, ok, gk, mk, mid string
	if v.res != nil {
		k = v.listKey(v.cur.pos)
		if s := v.opened(); s != nil {
			ok = dlqKey(s)
			if g := v.gat(v.gcur.pos); g != nil {
				gk = groupKey(g)
			}
			if v.stage == stageMessages && v.group < len(s.Groups) {
				mk = groupKey(&s.Groups[v.group])
				if i := v.mat(v.mcur.pos); i >= 0 {
					mid = s.Groups[v.group].Identities[i]
				}
			}
		}
	}
	v.res = res
	v.resort()
	v.relist()
	v.cur.follow(k, len(v.lshown), v.listKey)
	if ok == "" {
		return
	}
	v.open = slices.IndexFunc(res.sums, func(s dlq.Summary) bool { return dlqKey(&s) == ok })
	if v.open < 0 {
		// The DLQ is gone: nothing of it can be redriven.
		if v.stage == stageGroups || v.stage == stageMessages {
			v.stage, v.picked, v.pickedIDs = stageList, map[string]bool{}, nil
		}
		return
	}
	gs := res.sums[v.open].Groups
	v.regroup()
	v.gcur.follow(gk, len(v.gshown), func(i int) string { return groupKey(&gs[v.gshown[i]]) })
	if mk != "" {
		if v.group = slices.IndexFunc(gs, func(g dlq.Group) bool { return groupKey(&g) == mk }); v.group < 0 {
			v.stage, v.pickedIDs = stageGroups, nil
		} else {
			v.remsgAt(mid)
		}
	}
}

// sortCols are the DLQ list's columns s cycles through, over v.res.sums.
func (v *dlqView) sortCols() []sortCol {
	s := func(i int) *dlq.Summary { return &v.res.sums[i] }
	return []sortCol{
		{"DLQ", byName(func(i int) string { return dlqKey(s(i)) }), false},
		{"COUNT", byInt(func(i int) int64 { return s(i).Count }), true},
		{"OLDEST", byInt(func(i int) int64 {
			if s(i).Oldest.IsZero() {
				return math.MaxInt64 // unknown: after every known time
			}
			return s(i).Oldest.UnixNano()
		}), false},
	}
}

// groupCols are a DLQ's groups' columns, over its Groups.
func (v *dlqView) groupCols(s *dlq.Summary) []sortCol {
	g := func(i int) *dlq.Group { return &s.Groups[i] }
	return []sortCol{
		{"COUNT", byInt(func(i int) int64 { return int64(g(i).Count) }), true},
		{"ERROR", byName(func(i int) string { return g(i).Pattern }), false},
		{"ORIGIN", byName(func(i int) string { return g(i).Origin }), false},
		{"CLASS", byName(func(i int) string { return g(i).Class }), false},
	}
}

// resort puts the DLQs in the sort's order (callers keep the cursor on its
// DLQ).
func (v *dlqView) resort() {
	idx := make([]int, len(v.res.sums))
	for i := range idx {
		idx[i] = i
	}
	v.sort.apply(idx, v.sortCols())
	sums := make([]dlq.Summary, len(idx))
	for i, j := range idx {
		sums[i] = v.res.sums[j]
	}
	v.res.sums = sums
}

// canRedrive: eddy dlq redrive reads Kafka topics and RabbitMQ queues.
func (v *dlqView) canRedrive() bool {
	s := v.opened()
	return s != nil && (s.Transport == "kafka" || s.Transport == "amqp") && v.be.Redrive != nil
}

func (v *dlqView) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dlqResult:
		if msg.gen == v.gen {
			v.loading = false
			res := &msg.dlqMsg
			if len(res.errs) > 0 && len(res.sums) == 0 && v.res != nil && len(v.res.sums) > 0 {
				// The read failed: the last summaries stay, said to be old.
				kept := *v.res
				kept.errs = res.errs
				res, v.stale = &kept, true
			} else {
				v.readAt, v.stale = v.c.Now(), false
			}
			v.reload(res)
			return v.tick()
		}
	case dlqTick:
		if msg.gen == v.tickGen && v.active {
			if v.rereads() {
				return v.load()
			}
			return v.tick()
		}
	case connRestoredMsg:
		if v.res != nil && len(v.res.errs) > 0 && v.rereads() {
			return v.load()
		}
	case redrivePlanMsg:
		if msg.gen == v.runGen && v.stage == stagePlan {
			v.plan, v.planErr = msg.rep, msg.err
		}
	case redriveProgressMsg:
		if msg.gen == v.runGen && v.stage == stageRunning {
			v.progress = msg.sum
			return v.wait()
		}
	case redriveDoneMsg:
		if msg.gen == v.runGen {
			v.stage, v.result, v.runErr = stageResult, msg.rep, msg.err
		}
	case tea.PasteMsg:
		if v.gfilter.active {
			v.gfilter.paste(msg.Content)
			v.regroup()
		}
		if v.lfilter.active {
			v.lfilter.paste(msg.Content)
			v.relist()
		}
		v.msgFilterUpdate(msg)
	case tea.KeyPressMsg:
		return v.key(msg)
	}
	return nil
}

// redrivePlanMsg is the dry run's report.
type redrivePlanMsg struct {
	gen int
	rep dlq.Report
	err error
}

// key handles a key in the stage on top: the list of DLQs, a DLQ's
// groups, a group's messages, a redrive's plan, run or result.
func (v *dlqView) key(msg tea.KeyPressMsg) tea.Cmd {
	switch v.stage {
	case stageGroups:
		return v.groupsKey(msg)
	case stageMessages:
		return v.messagesKey(msg)
	case stagePlan:
		k := v.c.Keys
		if key.Matches(msg, k.Confirm) && v.planErr == nil && v.plan.Redriven+v.plan.Parked > 0 {
			if v.plan.Pin == nil {
				// Run unpinned, the selection would be read again at run
				// time: not what the plan showed.
				return flash("this backend returned no plan to pin; nothing was run (eddy dlq redrive)", true)
			}
			return v.run()
		}
		return nil
	case stageRunning:
		return nil
	case stageResult:
		if key.Matches(msg, v.c.Keys.Open) {
			v.esc()
			return v.load()
		}
		return nil
	}
	return v.dlqsKey(msg)
}

// groupsKey handles a key in a DLQ's error groups: filter, move, sort,
// select, open a group, P plan a redrive of the picked ones.
func (v *dlqView) groupsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	h := v.c.bodyHeight() - 1
	s := v.opened()
	if v.gfilter.active {
		v.gfilter.filterKey(k, msg)
		v.regroup()
		return nil
	}
	h -= v.filterLines()
	if v.gcur.move(k, msg, len(v.gshown), h) {
		return nil
	}
	if v.gsort.key(k, msg, v.groupCols(s)) {
		v.regroup() // the cursor stays on its group
		return nil
	}
	switch {
	case key.Matches(msg, k.ListFilter):
		v.gfilter.start("filter groups: ", v.gfilter.value)
	case key.Matches(msg, k.Select):
		if g := v.gat(v.gcur.pos); g != nil {
			gk := groupKey(g)
			if v.picked[gk] {
				delete(v.picked, gk)
			} else {
				v.picked[gk] = true
			}
			v.gcur.pos++
			v.gcur.clamp(len(v.gshown), h)
		}
	case key.Matches(msg, k.Open):
		if v.gcur.pos < len(v.gshown) {
			v.openGroup(v.gshown[v.gcur.pos])
		}
	case key.Matches(msg, k.Plan):
		if v.canRedrive() {
			return v.planGroups(s)
		}
		return flash("redrive is not wired in this TUI (eddy dlq redrive)", true)
	}
	return nil
}

// planGroups plans a redrive of the picked groups (filtered out or not),
// by their masked error; none picked is the whole DLQ.
func (v *dlqView) planGroups(s *dlq.Summary) tea.Cmd {
	req := RedriveRequest{Transport: s.Transport, DLQ: s.Name}
	var errs []string
	for i := range s.Groups {
		if g := &s.Groups[i]; v.picked[groupKey(g)] && !slices.Contains(req.Patterns, g.Pattern) {
			req.Patterns = append(req.Patterns, g.Pattern)
			errs = append(errs, fmt.Sprintf("%q", g.Pattern))
		}
	}
	v.sel = fmt.Sprintf("%d group(s): the messages whose error is like %s", len(errs), strings.Join(errs, " or "))
	if len(req.Patterns) == 0 {
		v.sel = "nothing selected, so the WHOLE DLQ: every message in it as this plan reads it"
	}
	v.fromMsgs = false
	return v.planRedrive(s, req)
}

// messagesKey handles a key in a group's messages: filter, move, open one,
// select, P plan a redrive of the picked ones.
func (v *dlqView) messagesKey(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	s := v.opened()
	ids := s.Groups[v.group].Identities
	if v.msgFilterUpdate(msg) {
		return nil
	}
	if v.mcur.move(k, msg, len(v.mshown), v.msgHeight()) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Open):
		if i := v.mat(v.mcur.pos); i >= 0 {
			return v.openMessage(s, ids[i])
		}
	case key.Matches(msg, k.Select):
		if i := v.mat(v.mcur.pos); i >= 0 {
			id := ids[i]
			if v.pickedIDs[id] {
				delete(v.pickedIDs, id)
			} else {
				v.pickedIDs[id] = true
			}
			v.mcur.pos++
			v.mcur.clamp(len(v.mshown), v.msgHeight())
		}
	case key.Matches(msg, k.Plan):
		if !v.canRedrive() {
			return flash("redrive is not wired in this TUI (eddy dlq redrive)", true)
		}
		return v.planMessages(s, &s.Groups[v.group])
	}
	return nil
}

// planMessages plans a redrive of the picked messages of group g; none
// picked is the whole group.
func (v *dlqView) planMessages(s *dlq.Summary, g *dlq.Group) tea.Cmd {
	req := RedriveRequest{Transport: s.Transport, DLQ: s.Name}
	var picked, labels []string
	for i, id := range g.Identities {
		if v.pickedIDs[id] {
			picked = append(picked, id)
			labels = append(labels, g.IDs[i])
		}
	}
	v.fromMsgs = true
	if len(picked) == 0 {
		// None picked: the whole group, as P in the groups does.
		req.Patterns = []string{g.Pattern}
		v.sel = fmt.Sprintf("nothing selected, so the whole group: every message whose error is like %q", g.Pattern)
	} else {
		// These messages, by identity: an event id may name several
		// (a letter dead-lettered again).
		req.Pin = dlq.Pins(picked...)
		v.sel = fmt.Sprintf("%d message(s): %s", len(picked), strings.Join(labels, " "))
	}
	return v.planRedrive(s, req)
}

// dlqsKey handles a key in the list of DLQs: filter, move, sort, r reread,
// open one.
func (v *dlqView) dlqsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := v.c.Keys
	h := v.c.bodyHeight() - 1
	if v.lfilter.active {
		rk := v.listKey(v.cur.pos)
		v.lfilter.filterKey(k, msg)
		v.relist()
		v.cur.follow(rk, len(v.lshown), v.listKey)
		return nil
	}
	if v.lfilter.value != "" {
		h--
	}
	n := len(v.lshown)
	if v.cur.move(k, msg, n, h) {
		return nil
	}
	if n > 0 && v.sort.key(k, msg, v.sortCols()) {
		cur := v.listKey(min(v.cur.pos, n-1))
		v.resort()
		v.relist()
		v.cur.follow(cur, len(v.lshown), v.listKey)
		return nil
	}
	switch {
	case key.Matches(msg, k.ListFilter) && v.res != nil:
		v.lfilter.start("filter: ", v.lfilter.value)
	case key.Matches(msg, k.Refresh):
		return v.load()
	case key.Matches(msg, k.Open):
		if v.cur.pos < n {
			v.openDLQ(v.lshown[v.cur.pos])
		}
	}
	return nil
}

// listKey names row i of the list of DLQs ("" for none).
func (v *dlqView) listKey(i int) string {
	if v.res == nil || i < 0 || i >= len(v.lshown) {
		return ""
	}
	return dlqKey(&v.res.sums[v.lshown[i]])
}

// relist lists the DLQs whose name holds the list filter.
func (v *dlqView) relist() {
	v.lshown = v.lshown[:0]
	if v.res == nil {
		return
	}
	q := strings.ToLower(v.lfilter.value)
	for i := range v.res.sums {
		if strings.Contains(strings.ToLower(dlqKey(&v.res.sums[i])), q) {
			v.lshown = append(v.lshown, i)
		}
	}
}

// openDLQ shows the error groups of DLQ i (an index of the summaries),
// the list's cursor on it (the list filter cleared when it hid it).
func (v *dlqView) openDLQ(i int) {
	if !slices.Contains(v.lshown, i) {
		v.lfilter.value = ""
		v.relist()
	}
	v.cur.pos = slices.Index(v.lshown, i)
	v.open, v.gcur, v.picked, v.stage = i, cursor{}, map[string]bool{}, stageGroups
	v.gfilter = input{}
	v.regroup()
}

// regroup lists the open DLQ's groups the filter matches (in their error,
// class or origin, ignoring case); the cursor stays on its group.
func (v *dlqView) regroup() {
	s := v.opened()
	if s == nil {
		v.gshown = v.gshown[:0]
		return
	}
	var k string
	if g := v.gat(v.gcur.pos); g != nil {
		k = groupKey(g)
	}
	v.gshown = v.gshown[:0]
	q := strings.ToLower(v.gfilter.value)
	for i := range s.Groups {
		g := &s.Groups[i]
		if q == "" || strings.Contains(strings.ToLower(g.Pattern+"\x00"+g.Class+"\x00"+g.Origin), q) {
			v.gshown = append(v.gshown, i)
		}
	}
	v.gsort.apply(v.gshown, v.groupCols(s))
	v.gcur.follow(k, len(v.gshown), func(i int) string { return groupKey(&s.Groups[v.gshown[i]]) })
	v.gcur.clamp(len(v.gshown), v.c.bodyHeight()-1-v.filterLines())
}

// gat is the group at row i of the groups shown (nil for none).
func (v *dlqView) gat(i int) *dlq.Group {
	s := v.opened()
	if s == nil || i < 0 || i >= len(v.gshown) || v.gshown[i] >= len(s.Groups) {
		return nil
	}
	return &s.Groups[v.gshown[i]]
}

// filterLines is the line the groups' filter takes while it is shown.
func (v *dlqView) filterLines() int {
	if v.gfilter.active || v.gfilter.value != "" {
		return 1
	}
	return 0
}

// openMessage reads one message of the DLQ and opens it in the Event view.
func (v *dlqView) openMessage(s *dlq.Summary, identity string) tea.Cmd {
	be, ctx, transport, name := v.be, v.ctx, s.Transport, s.Name
	return func() tea.Msg {
		e, err := be.dlqMessage(ctx, transport, name, identity)
		if err != nil {
			return flashMsg{safe(err.Error()), true}
		}
		return openEventMsg{e}
	}
}

func (v *dlqView) planRedrive(s *dlq.Summary, req RedriveRequest) tea.Cmd {
	v.runGen = nextGen()
	v.stage, v.plan, v.planErr = stagePlan, dlq.Report{}, nil
	req.DryRun = true
	v.req = req
	gen, req, ctx, be := v.runGen, v.req, v.ctx, v.be
	return func() tea.Msg {
		rep, err := be.Redrive(ctx, req, nil)
		return redrivePlanMsg{gen, rep, err}
	}
}

// run starts the redrive that was planned; progress arrives as messages.
func (v *dlqView) run() tea.Cmd {
	v.runGen = nextGen()
	v.stage, v.progress = stageRunning, replay.Summary{}
	req := v.req
	req.DryRun = false
	// Exactly what the plan counted: letters that arrived since are left.
	req.Pin = v.plan.Pin
	gen, ctx, be := v.runGen, v.ctx, v.be
	v.prog, v.done = make(chan replay.Summary, 1), make(chan redriveDoneMsg, 1)
	prog, done := v.prog, v.done
	go func() {
		rep, err := be.Redrive(ctx, req, func(s replay.Summary) {
			// The latest counts win: a slow screen never holds up the run.
			select {
			case <-prog:
			default:
			}
			prog <- s
		})
		done <- redriveDoneMsg{gen, rep, err}
	}()
	return v.wait()
}

func (v *dlqView) wait() tea.Cmd {
	gen, prog, done := v.runGen, v.prog, v.done
	return func() tea.Msg {
		select {
		case s := <-prog:
			return redriveProgressMsg{gen, s}
		case d := <-done:
			return d
		}
	}
}

func (v *dlqView) view() string {
	c, st := v.c, v.c.Styles
	h := c.bodyHeight()
	if v.res == nil {
		return body([]string{"  reading…"}, c.Width, h)
	}
	switch v.stage {
	case stageGroups:
		return v.groupsView(h)
	case stageMessages:
		return v.messagesView(h)
	case stagePlan, stageRunning, stageResult:
		return body(v.redriveLines(), c.Width, h)
	}
	var lines []string
	for _, err := range v.res.errs {
		lines = append(lines, errorLines(st, safe(err.Error()), c.Width)...)
	}
	if len(v.res.errs) > 0 {
		what := "nothing read"
		if v.stale {
			what = "showing the counts " + readAt(v.readAt)
		}
		again := fmt.Sprintf("read again every %s and when the broker answers again (r: now)", v.every)
		if v.peeks() {
			again = "read again when the broker answers again (r: now)"
		}
		lines = append(lines, wrapped(st.Dim, what+"; "+again, c.Width)...)
	}
	if v.lfilter.active || v.lfilter.value != "" {
		lines = append(lines, v.lfilter.render(st, c.Width))
	}
	cols := v.sortCols()
	lines = append(lines, st.Header.Render(fmt.Sprintf("  %-28s %8s  %-12s %s", v.sort.head(cols, 0), v.sort.head(cols, 1), v.sort.head(cols, 2), "TOP ERROR")))
	switch {
	case len(v.res.sums) == 0 && len(v.res.errs) == 0:
		lines = append(lines, st.Dim.Render("  no dead-letter topics or queues (names ending .DLT, -dlq, … )"))
	case len(v.res.sums) > 0 && len(v.lshown) == 0:
		lines = append(lines, st.Dim.Render("  no DLQ matches the filter"))
	}
	v.cur.clamp(len(v.lshown), h-len(lines))
	for i := v.cur.top; i < len(v.lshown) && len(lines) < h; i++ {
		s := &v.res.sums[v.lshown[i]]
		top := ""
		if len(s.Errors) > 0 {
			top = fmt.Sprintf("%s (%d)", safe(s.Errors[0].Value), s.Errors[0].Count)
		}
		oldest := "-"
		if !s.Oldest.IsZero() {
			oldest = s.Oldest.Format("01-02 15:04")
		}
		line := fmt.Sprintf("  %-28s %8d  %-12s %s", fitName(safe(s.Transport+":"+s.Name), 28), s.Count, oldest, top)
		if i == v.cur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	return body(lines, c.Width, c.bodyHeight())
}

func (v *dlqView) groupsView(h int) string {
	c, st := v.c, v.c.Styles
	var lines []string
	full := h
	if l := v.staleLine(); l != "" {
		lines = append(lines, l)
		h--
	}
	if v.filterLines() > 0 {
		lines = append(lines, v.gfilter.render(st, c.Width))
		h--
	}
	// The error takes the width the other columns leave; the class shows
	// its last part (the exception's simple name) when space is short.
	originW := max(8, min(20, c.Width/6))
	classW := max(10, min(36, c.Width/5))
	errW := max(16, c.Width-2-6-2-1-originW-1-classW)
	cols := v.groupCols(v.opened())
	hd := func(i int) string { return v.gsort.head(cols, i) }
	lines = append(lines, st.Header.Render(fmt.Sprintf("  %6s  %-*s %-*s %s", hd(0), errW, fit(hd(1)+" (ids, numbers, quoted masked)", errW), originW, hd(2), hd(3))))
	v.gcur.clamp(len(v.gshown), h-1)
	if len(v.gshown) == 0 && v.gfilter.value != "" {
		lines = append(lines, st.Dim.Render("  no group matches the filter (esc clears it)"))
	}
	for i := v.gcur.top; i < len(v.gshown) && len(lines) < full; i++ {
		g := v.gat(i)
		mark := " "
		if v.picked[groupKey(g)] {
			mark = st.Selected.Render("*")
		}
		class := g.Class
		if len(class) > classW {
			class = class[strings.LastIndexByte(class, '.')+1:]
		}
		line := fmt.Sprintf("%s %6d  %-*s %-*s %s", mark, g.Count, errW, fit(safe(g.Pattern), errW), originW, fitName(safe(g.Origin), originW), fit(safe(class), classW))
		if i == v.gcur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	return body(lines, c.Width, full)
}

// staleLine says, in a DLQ's groups and messages, that the latest reading
// failed and what is shown is older ("" when it did not).
func (v *dlqView) staleLine() string {
	if v.res == nil || len(v.res.errs) == 0 {
		return ""
	}
	return v.c.Styles.Error.Render(fit("  read failed ("+readAt(v.readAt)+"): "+safe(v.res.errs[0].Error()), v.c.Width))
}

func (v *dlqView) messagesView(h int) string {
	c, st := v.c, v.c.Styles
	g := &v.opened().Groups[v.group]
	var lines []string
	if l := v.staleLine(); l != "" {
		lines = append(lines, l)
		h--
	}
	lines = append(lines, []string{
		st.Header.Render(fit(fmt.Sprintf("  %d × %s · %s · from %s", g.Count, safe(g.Pattern), safe(g.Class), safe(g.Origin)), c.Width)),
		st.Dim.Render(fit("  first: "+safe(g.Error), c.Width)),
	}...)
	full := len(lines) - 2 + h
	if v.mfilterLines() > 0 {
		lines = append(lines, v.mfilter.render(st, c.Width))
	}
	if len(v.mshown) == 0 && v.mfilter.value != "" {
		lines = append(lines, st.Dim.Render("  no message matches the filter (esc clears it)"))
	}
	v.mcur.clamp(len(v.mshown), v.msgHeight())
	for i := v.mcur.top; i < len(v.mshown) && len(lines) < full; i++ {
		j := v.mshown[i]
		mark := " "
		if j < len(g.Identities) && v.pickedIDs[g.Identities[j]] {
			mark = st.Selected.Render("*")
		}
		line := mark + " " + safe(g.IDs[j])
		if j < len(g.Identities) && !strings.HasSuffix(g.Identities[j], g.IDs[j]) {
			// An event id may name several letters: the position tells.
			line += st.Dim.Render("  " + safe(g.Identities[j]))
		}
		if i == v.mcur.pos {
			line = cursorRow(st, line, c.Width)
		}
		lines = append(lines, line)
	}
	return body(lines, c.Width, full)
}

// redriveLines draws the plan, the progress or the result.
func (v *dlqView) redriveLines() []string {
	st := v.c.Styles
	lines := []string{st.Header.Render("redrive " + safe(v.req.Transport+":"+v.req.DLQ)), "  selection: " + safe(v.sel), ""}
	switch v.stage {
	case stagePlan:
		if v.planErr != nil {
			return append(lines, "  "+st.Error.Render(safe(v.planErr.Error())))
		}
		if v.plan.Read == 0 && v.plan.Redriven == 0 && v.plan.Unselected == 0 {
			return append(lines, "  planning (the dry run of eddy dlq redrive --dry-run)…")
		}
		lines = append(lines, st.Header.Render("plan (dry run: nothing was written)"))
		lines = append(lines, v.counts(v.plan)...)
		if v.plan.Redriven+v.plan.Parked == 0 {
			return append(lines, "", "  nothing to redrive (esc goes back)")
		}
		how := "a Kafka transaction per batch"
		if v.req.Transport == "amqp" {
			how = "each acked once confirmed and in the ledger"
		}
		return append(lines, "", st.Warn.Render(fmt.Sprintf("  Y redrives exactly these %d message(s), once (%s);", v.plan.Redriven+v.plan.Parked, how)),
			st.Warn.Render("  letters that arrive after this plan are left in the DLQ · esc cancels"))
	case stageRunning:
		total := max(v.plan.Read, 1)
		w := max(10, v.c.Width-30)
		done := int(float64(w) * float64(min(v.progress.Read, total)) / float64(total))
		return append(lines, st.Header.Render("redriving"),
			fmt.Sprintf("  [%s%s] %d/%d read · %d moved", st.Bar.Render(strings.Repeat("█", done)), strings.Repeat("░", w-done), v.progress.Read, v.plan.Read, v.progress.Moved))
	}
	lines = append(lines, st.Header.Render("result"))
	lines = append(lines, v.counts(v.result)...)
	if v.result.Arrived > 0 {
		lines = append(lines, "", fmt.Sprintf("  %d new letter(s) arrived since the plan and were left in the DLQ", v.result.Arrived))
	}
	if v.runErr != nil {
		lines = append(lines, "  "+st.Error.Render(safe(v.runErr.Error())))
	}
	return append(lines, "", "  enter or esc: back to the DLQs, counts re-read")
}

func (v *dlqView) counts(r dlq.Report) []string {
	out := []string{
		fmt.Sprintf("  read            %8d", r.Read),
		fmt.Sprintf("  redriven        %8d", r.Redriven),
		fmt.Sprintf("  skipped (ledger)%8d", r.Already+r.Skipped),
		fmt.Sprintf("  parked          %8d", r.Parked),
		fmt.Sprintf("  unknown origin  %8d  (left in the DLQ)", r.Unknown),
		fmt.Sprintf("  not selected    %8d", r.Unselected),
		fmt.Sprintf("  failed          %8d", r.Failed),
	}
	for _, t := range r.Targets {
		out = append(out, fmt.Sprintf("    → %-30s %8d", safe(t.Target), t.Count))
	}
	return out
}
