package tui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// t0 is a fixed time far from today, so every rendered time carries its
// date and goldens do not depend on the day they run.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestModel(t *testing.T, w, h int) *Model {
	t.Helper()
	m := New(context.Background(), Options{Backend: &Backend{Context: "test", Contexts: []string{"prod", "test"}},
		Local: time.UTC, Clock: func() time.Time { return t0 }, SaveDir: t.TempDir(), Buffer: 100})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// press sends one key, as bubbletea decodes it, and runs the command it
// returns (one level: navigation messages come back to Update).
func press(m *Model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		run(m, cmd)
	}
}

// run executes cmd and feeds its message back, as the program would; ticks
// and reads that would block are not run (the tests send those messages).
func run(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			run(m, c)
		}
	case openTailMsg, openEventMsg, openTraceMsg, flashMsg, backendMsg, refilterMsg, openPartitionMsg:
		_, next := m.Update(msg)
		// Opening a tail or a trace starts reads: not run here.
		_ = next
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("keyMsg: unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// typeText types s into whatever has the keyboard.
func typeText(m *Model, s string) {
	for _, r := range s {
		if r == ' ' {
			press(m, "space")
			continue
		}
		press(m, string(r))
	}
}

func testSources() sourcesMsg {
	return sourcesMsg{at: t0, rows: []sourceRow{
		{addr: bus.Address{Transport: "kafka", Name: "orders"}, partitions: 6, messages: 1200, rate: -1},
		{addr: bus.Address{Transport: "kafka", Name: "payments"}, partitions: 6, messages: 1100, rate: -1},
		{addr: bus.Address{Transport: "kafka", Name: "payments.DLT"}, partitions: 1, messages: 37, dlq: true, rate: -1},
		{addr: bus.Address{Transport: "amqp", Name: "shop.payments.dlq"}, messages: 4, consumers: 0, dlq: true, rate: 0.5},
		{addr: bus.Address{Transport: "kafka", Name: "evil\x1b[2Jtopic"}, partitions: 1, messages: 1, rate: -1},
	}}
}

// orderEvent is a demo-like event: JSON with CloudEvents headers.
func orderEvent(i int, topic, typ string) event.Event {
	id := fmt.Sprintf("evt-%04d", i)
	v := fmt.Sprintf(`{"event_id":%q,"type":%q,"correlation_id":"ord-%d","payload":{"total":%d.5,"items":[{"sku":"sku-1","qty":2}],"note":"fine"}}`, id, typ, i%7, i)
	return event.Event{Transport: event.Kafka, Topic: topic, Partition: int32(i % 3), Offset: int64(i), Timestamp: t0.Add(time.Duration(i) * time.Second),
		Key: []byte(fmt.Sprintf("ord-%d", i%7)), Value: []byte(v),
		Headers: []event.Header{{Key: "ce_type", Value: []byte(typ)}, {Key: "ce_id", Value: []byte(id)}}}
}

// hostileEvents carry what a producer could use to drive a terminal:
// colour and clear-screen sequences, an OSC 52 clipboard write, a raw C1
// CSI byte, a bidi override, a bell, and line breaks.
func hostileEvents() []event.Event {
	return []event.Event{
		{Transport: event.Kafka, Topic: "orders", Partition: 0, Offset: 100, Timestamp: t0, Key: []byte("k\x1b[31mred"),
			Value: []byte("plain \x1b[2J\x1b[Hcleared? \x1b]52;c;ZXZpbA==\x07 \x9b31m c1 \u202egnp.exe\nsecond line\x07")},
		{Transport: event.Kafka, Topic: "orders", Partition: 1, Offset: 101, Timestamp: t0.Add(time.Second),
			Value:   []byte(`{"type":"Evil\u001b[31m","customer":{"name":"Robert\u001b]0;pwned\u0007"},"note":"tab\there"}`),
			Headers: []event.Header{{Key: "x-evil\x1b[1m", Value: []byte("v\x1b]8;;http://x\x1b\\link")}}},
		{Transport: event.AMQP, Queue: "shop.payments.dlq", Exchange: "shop.dlx", RoutingKey: "rk\x1b[0m", Offset: -1, Timestamp: t0.Add(2 * time.Second),
			Value: []byte{0x00, 0x01, 0xff, 0xfe, 'a', 0x1b, '[', 'm'}},
	}
}

func TestQuitAndInterruptExitCodes(t *testing.T) {
	m := newTestModel(t, 80, 24)
	_, cmd := m.Update(keyMsg("q"))
	if cmd == nil || m.ExitCode() != ExitQuit || !m.quitting {
		t.Fatalf("q: code %d quitting %v", m.ExitCode(), m.quitting)
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q did not quit")
	}
	m = newTestModel(t, 80, 24)
	_, cmd = m.Update(keyMsg("ctrl+c"))
	if m.ExitCode() != ExitInterrupted {
		t.Fatalf("ctrl+c: code %d, want 130", m.ExitCode())
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c did not quit")
	}
}

// TestHelpAndQuitQuestion: q and esc close the help (q used to quit from
// it); under --demo (QuitWarning) and while a redrive runs, q asks first and
// only q or y then quits; ctrl+c never asks.
func TestHelpAndQuitQuestion(t *testing.T) {
	for _, k := range []string{"q", "esc", "x"} {
		m := newTestModel(t, 80, 24)
		press(m, "?")
		if !m.showHelp || !strings.Contains(m.render(), "any key closes this help (q and esc too)") {
			t.Fatalf("?: help %v", m.showHelp)
		}
		_, cmd := m.Update(keyMsg(k))
		if m.showHelp || m.quitting || cmd != nil {
			t.Fatalf("%s on the help: help %v, quitting %v", k, m.showHelp, m.quitting)
		}
	}

	m := New(context.Background(), Options{Backend: &Backend{Context: "demo"}, Local: time.UTC, Clock: func() time.Time { return t0 },
		SaveDir: t.TempDir(), Buffer: 100, QuitWarning: "the demo stops with it"})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_, cmd := m.Update(keyMsg("q"))
	if cmd != nil || m.quitting || !strings.Contains(m.render(), "quit? the demo stops with it · q/y quits") {
		t.Fatalf("q under --demo did not ask:\n%s", m.render())
	}
	press(m, "j")
	if m.quitting || m.askQuit != "" {
		t.Fatal("another key did not cancel the question")
	}
	for _, yes := range []string{"q", "y"} {
		m.askQuit, m.quitting = "", false
		press(m, "q")
		_, cmd = m.Update(keyMsg(yes))
		if !m.quitting || m.ExitCode() != ExitQuit || cmd == nil {
			t.Fatalf("q then %s did not quit", yes)
		}
	}

	// A redrive running: q asks, without QuitWarning too.
	m = newTestModel(t, 80, 24)
	press(m, "4")
	m.dlq.stage = stageRunning
	press(m, "q")
	if m.quitting || !strings.Contains(m.render(), "quit? the redrive stops where it is") {
		t.Fatalf("q during a redrive:\n%s", m.render())
	}
	// ctrl+c interrupts at once.
	_, cmd = m.Update(keyMsg("ctrl+c"))
	if !m.quitting || m.ExitCode() != ExitInterrupted || cmd == nil {
		t.Fatal("ctrl+c asked")
	}
}

func TestGlobalNavigationKeys(t *testing.T) {
	m := newTestModel(t, 80, 24)
	for _, c := range []struct {
		key  string
		want viewID
	}{{"2", viewTail}, {"3", viewLag}, {"4", viewDLQ}, {"5", viewContexts}, {"1", viewSources}} {
		press(m, c.key)
		if m.current() != c.want {
			t.Fatalf("key %s: view %d, want %d", c.key, m.current(), c.want)
		}
	}
	press(m, "3", "esc")
	if m.current() != viewSources {
		t.Fatalf("esc from Lag: view %d, want Sources", m.current())
	}
	press(m, "?")
	if !m.showHelp || !strings.Contains(m.render(), "interrupt (exit 130)") {
		t.Fatal("? did not show the keys")
	}
	press(m, "j")
	if m.showHelp {
		t.Fatal("a key did not close the help")
	}
}

func TestSourcesKeys(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(testSources())
	v := m.sources
	if len(v.shown) != 5 {
		t.Fatalf("shown %d, want 5", len(v.shown))
	}
	// / filters the list; q typed into the filter does not quit.
	press(m, "/")
	typeText(m, "kafka:payq")
	if m.quitting {
		t.Fatal("q in the filter quit")
	}
	press(m, "backspace")
	if got := len(v.shown); got != 2 {
		t.Fatalf("filter kafka:pay: %d shown, want 2", got)
	}
	press(m, "enter")
	if v.filter.active || v.filter.value != "kafka:pay" {
		t.Fatalf("enter: filter %+v", v.filter)
	}
	// space selects and moves on; enter tails the selection.
	press(m, "space", "space")
	if len(v.selected) != 2 || !v.selected["kafka:payments"] || !v.selected["kafka:payments.DLT"] {
		t.Fatalf("selected %v", v.selected)
	}
	press(m, "esc") // clears the filter first
	if v.filter.value != "" || len(v.shown) != 5 || m.current() != viewSources {
		t.Fatalf("esc: filter %q, %d shown, view %d", v.filter.value, len(v.shown), m.current())
	}
	_, cmd := m.Update(keyMsg("enter"))
	msg, ok := cmd().(openTailMsg)
	if !ok || len(msg.addrs) != 2 || msg.addrs[0].Name != "payments" || msg.addrs[1].Name != "payments.DLT" {
		t.Fatalf("enter: %#v", cmd())
	}
	m.Update(msg)
	if m.current() != viewTail || m.tail.title() != "Tail kafka:payments kafka:payments.DLT" {
		t.Fatalf("tail not opened: view %d %q", m.current(), m.tail.title())
	}
	// a selects all shown; a rate history makes a sparkline.
	press(m, "1", "a")
	if len(v.selected) != 5 {
		t.Fatalf("a: %d selected", len(v.selected))
	}
	second := testSources()
	second.at = t0.Add(2 * time.Second)
	second.rows[0].messages = 1240
	m.Update(second)
	if r := v.rows[0]; r.rate != 20 {
		t.Fatalf("rate %v, want 20/s", r.rate)
	}
}

func openTestTail(t *testing.T, m *Model, evs []event.Event) {
	t.Helper()
	m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
	m.tail.opening = false
	m.tail.ingest(evs, t0)
}

func TestTailKeys(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, orderEvent(i, "orders", []string{"OrderPlaced", "PaymentFailed"}[i%2]))
	}
	openTestTail(t, m, evs)
	v := m.tail
	if !v.follow || v.cur.pos != 39 {
		t.Fatalf("follow %v pos %d", v.follow, v.cur.pos)
	}
	press(m, "k", "k")
	if v.follow || v.cur.pos != 37 {
		t.Fatalf("k k: follow %v pos %d", v.follow, v.cur.pos)
	}
	press(m, "F")
	if !v.follow || v.cur.pos != 39 {
		t.Fatal("F did not follow")
	}
	// The filter is edited in place; a bad one shows its error inline and
	// stays in the editor.
	press(m, "f")
	typeText(m, `type == "PaymentFailed" &&`)
	press(m, "enter")
	if !v.filterIn.active || v.filterErr == "" {
		t.Fatalf("bad filter accepted: err %q", v.filterErr)
	}
	if !strings.Contains(m.render(), v.filterErr[:20]) {
		t.Fatal("filter error not shown")
	}
	press(m, "backspace", "backspace", "backspace")
	press(m, "enter")
	if v.filterIn.active || v.filter == nil || v.shown.len() != 20 {
		t.Fatalf("filter: active %v shown %d err %q", v.filterIn.active, v.shown.len(), v.filterErr)
	}
	press(m, "f", "ctrl+u", "enter")
	if v.filter != nil || v.shown.len() != 40 {
		t.Fatal("an empty filter did not show everything")
	}
	// Search moves to matches.
	press(m, "/")
	typeText(m, "evt-0007")
	press(m, "enter")
	if v.cur.pos != 7 || v.follow {
		t.Fatalf("search: pos %d", v.cur.pos)
	}
	press(m, "/", "ctrl+u")
	typeText(m, "ord-3")
	press(m, "enter", "n")
	if e := v.selected(); e == nil || string(e.Key) != "ord-3" || v.cur.pos <= 7 {
		t.Fatalf("n: pos %d", v.cur.pos)
	}
	p := v.cur.pos
	press(m, "N")
	if v.cur.pos >= p {
		t.Fatalf("N: pos %d after %d", v.cur.pos, p)
	}
	// Jump to a time inside the buffer.
	press(m, "@")
	typeText(m, t0.Add(30*time.Second).Format(time.RFC3339))
	press(m, "enter")
	if v.cur.pos != 30 {
		t.Fatalf("@: pos %d, want 30", v.cur.pos)
	}
	press(m, "@")
	typeText(m, "yesterday")
	press(m, "enter")
	if !v.jumpIn.active || !strings.Contains(v.filterErr, "yesterday") {
		t.Fatalf("bad jump: %q", v.filterErr)
	}
	press(m, "esc")
	// Pause: no new read is asked for while paused; resume asks again.
	press(m, "p")
	if !v.paused || !strings.Contains(v.status(), "PAUSED") {
		t.Fatal("p did not pause")
	}
	press(m, "p")
	if v.paused {
		t.Fatal("p did not resume")
	}
	// enter opens the event, t its trace.
	press(m, "enter")
	if m.current() != viewEvent || m.event.e == nil || m.event.e.Offset != 30 {
		t.Fatalf("enter: view %d", m.current())
	}
	press(m, "esc", "c")
	if v.shown.len() != 0 {
		t.Fatal("c did not clear")
	}
}

func TestTailRingDropsAreCounted(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var evs []event.Event
	for i := range 250 {
		evs = append(evs, orderEvent(i, "orders", "OrderPlaced"))
	}
	openTestTail(t, m, evs[:50])
	press(m, "g") // scroll back: the cursor stays on its event
	first := m.tail.selected().Offset
	m.tail.ingest(evs[50:], t0)
	v := m.tail
	if v.ring.len() != 100 || v.ring.dropped != 150 || v.shown.len() != 100 {
		t.Fatalf("ring %d dropped %d shown %d", v.ring.len(), v.ring.dropped, v.shown.len())
	}
	if first != 0 || v.selected().Offset != 150 {
		t.Fatalf("cursor on %d after drops", v.selected().Offset)
	}
	if !strings.Contains(v.status(), "dropped 150") {
		t.Fatalf("status %q", v.status())
	}
}

func TestEventViewKeys(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := orderEvent(3, "orders", "OrderPlaced")
	m.Update(openEventMsg{&e})
	v := m.event
	n := len(v.lines)
	// Down to the "payload" object line, fold it, unfold it.
	idx := -1
	for i, l := range v.lines {
		if l.node != nil && strings.Contains(l.text, `"payload"`) {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatal("no payload object line")
	}
	for v.cur.pos < idx {
		press(m, "j")
	}
	press(m, "left")
	if !v.lines[idx].node.folded || len(v.lines) >= n {
		t.Fatal("left did not fold")
	}
	press(m, "right")
	if len(v.lines) != n {
		t.Fatal("right did not unfold")
	}
	press(m, "enter")
	if !v.lines[idx].node.folded {
		t.Fatal("enter did not toggle")
	}
	press(m, "Z")
	if len(v.lines) != n {
		t.Fatal("Z did not unfold all")
	}
	press(m, "z")
	if len(v.lines) >= n-5 {
		t.Fatalf("z: %d lines of %d", len(v.lines), n)
	}
	// w writes the envelope, which decodes back to the event.
	press(m, "w")
	if m.flashErr || !strings.HasPrefix(m.flash, "wrote ") {
		t.Fatalf("w: %q", m.flash)
	}
	b, err := os.ReadFile(strings.TrimPrefix(m.flash, "wrote "))
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.DecodeEnvelope(b)
	if err != nil || !event.Equal(got, &e) {
		t.Fatalf("saved envelope: %v", err)
	}
	if filepath.Dir(strings.TrimPrefix(m.flash, "wrote ")) != m.o.SaveDir {
		t.Fatalf("saved in %q", m.flash)
	}
	// y sets the clipboard with OSC 52.
	_, cmd := m.Update(keyMsg("y"))
	found := false
	for _, c := range cmd().(tea.BatchMsg) {
		if fmt.Sprintf("%T", c()) == "tea.setClipboardMsg" {
			found = true
		}
	}
	if !found {
		t.Fatal("y did not set the clipboard")
	}
	// t asks for the trace.
	_, cmd = m.Update(keyMsg("t"))
	if _, ok := cmd().(openTraceMsg); !ok {
		t.Fatal("t did not open the trace")
	}
}

func TestResizeRelaysOut(t *testing.T) {
	m := newTestModel(t, 80, 24)
	openTestTail(t, m, []event.Event{orderEvent(1, "orders", "OrderPlaced")})
	for _, size := range [][2]int{{80, 24}, {120, 40}, {60, 10}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		out := m.render()
		lines := strings.Split(out, "\n")
		if len(lines) != size[1] {
			t.Fatalf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for i, l := range lines {
			if w := cellWidth(l); w > size[0] {
				t.Fatalf("%dx%d: line %d is %d cells: %q", size[0], size[1], i, w, l)
			}
		}
	}
}

func testDLQs() dlqMsg {
	return dlqMsg{sums: []dlq.Summary{
		{Transport: "kafka", Name: "payments.DLT", Count: 37, Oldest: t0, Errors: []dlq.Count{{Value: "card declined", Count: 30}},
			Groups: []dlq.Group{
				{Error: "card declined", Pattern: "card declined", Class: "com.example.CardDeclined", Origin: "orders", Count: 30},
				{Error: "timeout \x1b[31mcalling bank 7", Pattern: dlq.MaskError("timeout \x1b[31mcalling bank 7"), Class: "java.net.SocketTimeoutException", Origin: "orders", Count: 7,
					IDs:        []string{"evt-7", "payments.DLT/0@8", "evt-\x1b]0;x\x07"},
					Identities: []string{"kafka:payments.DLT/0@7", "kafka:payments.DLT/0@8", "kafka:payments.DLT/0@9"}},
			}},
		{Transport: "amqp", Name: "shop.payments.dlq", Count: 4, Errors: []dlq.Count{{Value: "rejected", Count: 4}},
			Groups: []dlq.Group{{Error: "rejected", Pattern: "rejected", Origin: "shop.payments.inbox", Count: 4}}},
	}}
}

// TestDLQKeys walks the DLQ view's stages: list, groups (space selects),
// P plans (a dry run of the selection), Y runs, the result, back.
func TestDLQKeys(t *testing.T) {
	m := newTestModel(t, 100, 30)
	var reqs []RedriveRequest
	m.be.Redrive = func(_ context.Context, req RedriveRequest, progress func(replay.Summary)) (dlq.Report, error) {
		reqs = append(reqs, req)
		return dlq.Report{}, nil
	}
	press(m, "4")
	v := m.dlq
	m.Update(dlqResult{v.gen, testDLQs()})
	press(m, "enter")
	if v.stage != stageGroups || v.opened().Name != "payments.DLT" {
		t.Fatalf("enter: stage %d", v.stage)
	}
	press(m, "j", "space")
	if !v.picked[groupKey(&v.opened().Groups[1])] || len(v.picked) != 1 {
		t.Fatalf("space: %v", v.picked)
	}
	_, cmd := m.Update(keyMsg("P"))
	if v.stage != stagePlan {
		t.Fatalf("P: stage %d", v.stage)
	}
	cmd()
	if len(reqs) != 1 || !reqs[0].DryRun || reqs[0].DLQ != "payments.DLT" || reqs[0].Error != "" ||
		len(reqs[0].Patterns) != 1 || reqs[0].Patterns[0] != "timeout \x1b[<id> bank <n>" {
		t.Fatalf("plan request %+v", reqs)
	}
	// Y does nothing until there is a plan with something to move.
	press(m, "Y")
	if v.stage != stagePlan {
		t.Fatal("Y ran without a plan")
	}
	plan := dlq.Report{Summary: replay.Summary{Read: 37}, Redriven: 7, Unselected: 30, Targets: []replay.TargetCount{{Target: "kafka:orders", Count: 7}}}
	plan.Pin = dlq.Pins("kafka:payments.DLT/0@1")
	m.Update(redrivePlanMsg{v.runGen, plan, nil})
	t.Run("plan", func(t *testing.T) { requireScreen(t, m) })
	_, cmd = m.Update(keyMsg("Y"))
	if v.stage != stageRunning {
		t.Fatalf("Y: stage %d", v.stage)
	}
	done := cmd().(redriveDoneMsg)
	if len(reqs) != 2 || reqs[1].DryRun || !slices.Equal(reqs[1].Patterns, reqs[0].Patterns) || reqs[1].Pin != plan.Pin {
		t.Fatalf("run request %+v: not pinned to the plan", reqs)
	}
	m.Update(redriveProgressMsg{v.runGen, replay.Summary{Read: 20, Moved: 4}})
	t.Run("progress", func(t *testing.T) { requireScreen(t, m) })
	done.rep = dlq.Report{Summary: replay.Summary{Read: 40, Moved: 7}, Redriven: 6, Parked: 1, Already: 0, Unselected: 33, Arrived: 3,
		Targets: []replay.TargetCount{{Target: "kafka:orders", Count: 6}, {Target: "kafka:payments.DLT.parked", Count: 1}}}
	m.Update(done)
	if v.stage != stageResult {
		t.Fatalf("done: stage %d", v.stage)
	}
	t.Run("result", func(t *testing.T) { requireScreen(t, m) })
	g := v.gen
	press(m, "esc")
	if v.stage != stageList || m.current() != viewDLQ {
		t.Fatal("esc from the result")
	}
	// The result says "enter or esc: back to the DLQs, counts re-read":
	// esc reads them again too (it did not).
	if !v.loading || v.gen == g {
		t.Fatal("esc from the result did not read the counts again")
	}
	m.Update(dlqResult{v.gen, testDLQs()})
	// P with nothing selected says, before Y, that it means the whole DLQ.
	press(m, "enter", "P")
	if sc := m.render(); v.stage != stagePlan || reqs[len(reqs)-1].Patterns != nil || !strings.Contains(sc, "nothing selected, so the WHOLE DLQ") {
		t.Fatalf("P with nothing selected: %+v\n%s", reqs[len(reqs)-1], sc)
	}
	press(m, "esc", "esc")
	// enter on a group lists its messages; space picks some; P plans
	// exactly those: by identity (an event id may name several letters).
	press(m, "enter", "j", "enter")
	if v.stage != stageMessages || v.group != 1 {
		t.Fatalf("enter on a group: stage %d group %d", v.stage, v.group)
	}
	press(m, "j", "space")
	if len(v.pickedIDs) != 1 || !v.pickedIDs["kafka:payments.DLT/0@8"] {
		t.Fatalf("picked %v", v.pickedIDs)
	}
	t.Run("messages", func(t *testing.T) { requireScreen(t, m) })
	_, cmd = m.Update(keyMsg("P"))
	cmd()
	if last := reqs[len(reqs)-1]; !last.DryRun || len(last.IDs) != 0 || last.Pin == nil || len(last.Pin.Write) != 1 || !last.Pin.Write["kafka:payments.DLT/0@8"] || last.Error != "" {
		t.Fatalf("plan of picked messages: %+v", last)
	}
	// A plan the backend could not pin is not run: Y would evaluate the
	// selection again.
	n := len(reqs)
	m.Update(redrivePlanMsg{v.runGen, dlq.Report{Redriven: 1}, nil})
	press(m, "Y")
	if v.stage != stagePlan || len(reqs) != n {
		t.Fatalf("Y ran a plan without a pin: stage %d, %d requests", v.stage, len(reqs))
	}
	press(m, "esc", "esc", "esc")
	if v.stage != stageList {
		t.Fatalf("esc: stage %d", v.stage)
	}
	// An AMQP DLQ is redriven the same way, asking for its transport.
	press(m, "j", "enter")
	_, cmd = m.Update(keyMsg("P"))
	cmd()
	if last := reqs[len(reqs)-1]; v.stage != stagePlan || last.Transport != "amqp" || !last.DryRun {
		t.Fatalf("P on amqp: stage %d, request %+v", v.stage, last)
	}
	if !strings.Contains(m.render(), "redrive amqp:") {
		t.Fatalf("the plan of an AMQP DLQ:\n%s", m.render())
	}
}

// TestCursorsFollowTheirItems: when a list is read again and re-sorted (the
// DLQs by count after a redrive, lag groups by status and lag, sources when
// a topic appears), or filtered, the cursor stays on the item it was on, so
// the next enter opens that item, not whatever took its row. Before, the
// cursor kept its row number: after a redrive the next "enter P" planned
// another DLQ.
func TestCursorsFollowTheirItems(t *testing.T) {
	t.Run("dlq", func(t *testing.T) {
		m := newTestModel(t, 100, 30)
		press(m, "4")
		v := m.dlq
		m.Update(dlqResult{v.gen, testDLQs()})
		press(m, "j") // amqp:shop.payments.dlq, row 1
		// Read again: the AMQP DLQ now has the most messages, row 0.
		res := testDLQs()
		res.sums[1].Count = 99
		res.sums[0], res.sums[1] = res.sums[1], res.sums[0]
		press(m, "r")
		m.Update(dlqResult{v.gen, res})
		press(m, "enter")
		if s := v.opened(); s == nil || s.Name != "shop.payments.dlq" {
			t.Fatalf("enter after a re-sort opened %v, want shop.payments.dlq", s != nil && s.Name == "payments.DLT")
		}
		// A re-read while a DLQ's groups are open keeps that DLQ and
		// group (and the selection) even when the list moved under them.
		press(m, "esc", "j", "enter", "j", "space", "k")
		if s := v.opened(); s.Name != "payments.DLT" || len(v.picked) != 1 {
			t.Fatalf("opened %s, picked %v", s.Name, v.picked)
		}
		late := testDLQs()
		late.sums[0].Groups[0], late.sums[0].Groups[1] = late.sums[0].Groups[1], late.sums[0].Groups[0]
		v.loading = true
		v.gen++
		m.Update(dlqResult{v.gen, late})
		s := v.opened()
		if g := v.gat(v.gcur.pos); s == nil || s.Name != "payments.DLT" || g == nil || g.Error != "card declined" {
			t.Fatalf("after a late read: opened %v, cursor on group %d", s != nil, v.gcur.pos)
		}
		if !v.picked[groupKey(&s.Groups[0])] || len(v.picked) != 1 {
			t.Fatalf("the selection did not follow its group: %v", v.picked)
		}
	})
	t.Run("lag", func(t *testing.T) {
		m := newTestModel(t, 100, 30)
		press(m, "3")
		m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
		press(m, "j", "j")
		want := m.lag.rowKey(m.lag.cur.pos)
		s := testLag()
		slices.Reverse(s.Groups)
		m.Update(lagResult{m.lag.gen, lagMsg{snap: s}})
		if got := m.lag.rowKey(m.lag.cur.pos); got != want {
			t.Fatalf("after a re-sort the cursor is on %q, want %q", got, want)
		}
	})
	t.Run("sources", func(t *testing.T) {
		m := newTestModel(t, 100, 30)
		m.Update(testSources())
		press(m, "j", "j", "j") // by name: amqp:shop…, kafka:evil…, kafka:orders, kafka:payments
		if r := m.sources.at(m.sources.cur.pos); r == nil || r.addr.Name != "payments" {
			t.Fatalf("the cursor is on %+v", r)
		}
		s := testSources()
		s.rows = append([]sourceRow{{addr: bus.Address{Transport: "kafka", Name: "aaa"}, rate: -1}}, s.rows...)
		m.Update(s)
		if r := m.sources.at(m.sources.cur.pos); r == nil || r.addr.Name != "payments" {
			t.Fatalf("after a topic appeared above, the cursor is on %+v", r)
		}
		// A filter that keeps the row keeps the cursor on it.
		press(m, "/")
		typeText(m, "pay")
		if r := m.sources.at(m.sources.cur.pos); r == nil || r.addr.Name != "payments" {
			t.Fatalf("after a filter, the cursor is on %+v", r)
		}
	})
}

// TestContextsSwitch: enter on a context asks the Backend to connect to it;
// the TUI then starts over on the new one (and closes the old); an error
// stays on the status bar.
func TestContextsSwitch(t *testing.T) {
	m := newTestModel(t, 80, 24)
	closed := false
	m.be.Close = func() { closed = true }
	m.be.Switch = func(name string) (*Backend, error) {
		if name == "prod" {
			return nil, errors.New("kafka: cannot connect to prod:9092")
		}
		return &Backend{Context: name, Contexts: []string{"prod", "test"}}, nil
	}
	press(m, "5")
	if m.contexts.cur.pos != 1 {
		t.Fatalf("cursor on %d, want the current context", m.contexts.cur.pos)
	}
	press(m, "k", "enter")
	if !m.flashErr || !strings.Contains(m.render(), "cannot connect to prod") || m.be.Context != "test" {
		t.Fatalf("failed switch: %q", m.flash)
	}
	press(m, "5", "j", "enter")
	if !closed || m.be.Context != "test" || m.current() != viewSources || m.flash != "switched to context test" {
		t.Fatalf("switch: closed %v context %q view %d flash %q", closed, m.be.Context, m.current(), m.flash)
	}
}

// TestNoColor: with colour off (NO_COLOR) no SGR sequence is drawn; with it
// on the same screen is styled.
func TestNoColor(t *testing.T) {
	for _, colour := range []bool{false, true} {
		m := New(context.Background(), Options{Backend: &Backend{}, Color: colour, Local: time.UTC})
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		m.Update(testSources())
		got := strings.Contains(m.render(), "\x1b[")
		m.Close()
		if got != colour {
			t.Fatalf("colour %v: SGR on screen %v", colour, got)
		}
	}
}

// TestTailJumpHoldsTheTarget: @ beginning with more history than the buffer
// landed on the target and then dropped it as the rest came in. Now a tail
// opened at a past position stays in SCROLL on the target, stops reading
// once the buffer is full (what did not fit is held, nothing dropped) and
// says so; p reads on, dropping the oldest.
func TestTailJumpHoldsTheTarget(t *testing.T) {
	for _, at := range []string{"beginning", "-30s"} {
		m := newTestModel(t, 80, 24) // a buffer of 100
		openTestTail(t, m, nil)
		v := m.tail
		press(m, "@")
		typeText(m, at)
		press(m, "enter")
		if !v.hold || v.follow {
			t.Fatalf("@ %s: hold %v follow %v", at, v.hold, v.follow)
		}
		v.opening = false
		v.stream = &stream{id: v.nextID}
		batch := func(from, n int) tea.Cmd {
			var evs []event.Event
			for i := from; i < from+n; i++ {
				evs = append(evs, orderEvent(i, "orders", "OrderPlaced"))
			}
			_, cmd := m.Update(eventsMsg{stream: v.stream.id, evs: evs})
			return cmd
		}
		if cmd := batch(0, 60); cmd == nil || v.selected().Offset != 0 {
			t.Fatalf("@ %s: the first batch: read on %v, cursor on %d", at, cmd != nil, v.selected().Offset)
		}
		if cmd := batch(60, 60); cmd != nil {
			t.Fatalf("@ %s: reading went on with a full buffer", at)
		}
		if v.ring.dropped != 0 || v.ring.len() != 100 || v.selected().Offset != 0 || !strings.Contains(v.status(), "FULL 100: stopped at the target") {
			t.Fatalf("@ %s: dropped %d, held %d, cursor on %d, status %q", at, v.ring.dropped, v.ring.len(), v.selected().Offset, v.status())
		}
		_, cmd := m.Update(keyMsg("p"))
		if cmd == nil || v.hold || v.full || v.ring.dropped != 20 || v.ring.get(v.ring.next-1).Offset != 119 {
			t.Fatalf("@ %s: p: read on %v, hold %v, dropped %d", at, cmd != nil, v.hold, v.ring.dropped)
		}
		v.stream = nil // no reader behind it to stop
	}
}

// TestTailSearchCounts: / starts empty (it was filled with the last term),
// the term stays on the status line with "n/m", or "no match".
func TestTailSearchCounts(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, orderEvent(i, "orders", []string{"OrderPlaced", "PaymentFailed"}[i%2]))
	}
	openTestTail(t, m, evs)
	v := m.tail
	press(m, "/")
	typeText(m, "PaymentFailed")
	press(m, "enter")
	if !strings.Contains(v.status(), "/PaymentFailed 20/20") {
		t.Fatalf("status %q", v.status())
	}
	press(m, "n")
	if !strings.Contains(v.status(), "/PaymentFailed 1/20") || v.selected().Offset != 1 {
		t.Fatalf("n: status %q", v.status())
	}
	press(m, "/")
	if v.searchIn.value != "" || !strings.Contains(v.status(), "/PaymentFailed") {
		t.Fatalf("/ again: input %q, status %q", v.searchIn.value, v.status())
	}
	typeText(m, "nothing-like-it")
	press(m, "enter")
	if !strings.Contains(v.status(), "/nothing-like-it: no match") {
		t.Fatalf("no match: status %q", v.status())
	}
}

// TestStatusBarKeepsBackground: a marker on the status bar (PAUSED, an
// error) ended with a reset that took the bar's background away for the rest
// of the line. The drop counter is a quiet number now, not a warning.
func TestStatusBarKeepsBackground(t *testing.T) {
	m := New(context.Background(), Options{Backend: &Backend{}, Color: true, Local: time.UTC, Buffer: 100, Clock: func() time.Time { return t0 }})
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 24})
	var evs []event.Event
	for i := range 150 {
		evs = append(evs, orderEvent(i, "orders", "OrderPlaced"))
	}
	openTestTail(t, m, evs)
	press(m, "p")
	lines := strings.Split(m.render(), "\n")
	bar := lines[len(lines)-1]
	open := m.c.Styles.Status.Render("x")
	prefix := open[:strings.IndexByte(open, 'x')]
	parts := strings.Split(bar, "\x1b[m")
	for i, p := range parts[1 : len(parts)-1] {
		if !strings.HasPrefix(p, prefix) {
			t.Fatalf("after reset %d the bar lost its background: %q", i+1, bar)
		}
	}
	if !strings.Contains(ansi.Strip(bar), "dropped 50") || strings.Contains(bar, m.c.Styles.StatusWarn.Render("dropped 50")) {
		t.Fatalf("the drop counter: %q", bar)
	}
}

// TestThemeFollowsTheBackground: the colours were for a dark terminal only
// (white input text, bright yellow and cyan vanish on white). With colour on,
// the TUI asks the terminal for its background and takes light colours on a
// light one; Theme forces one.
func TestThemeFollowsTheBackground(t *testing.T) {
	fg := func(st lipgloss.Style) string { return fmt.Sprint(st.GetForeground()) }
	m := New(context.Background(), Options{Backend: &Backend{}, Color: true, Local: time.UTC})
	defer m.Close()
	dark := fg(m.c.Styles.Input)
	m.Update(tea.BackgroundColorMsg{Color: color.White})
	if light := fg(m.c.Styles.Input); light == dark {
		t.Fatalf("a light background kept the input colour %s", light)
	}
	m.Update(tea.BackgroundColorMsg{Color: color.Black})
	if fg(m.c.Styles.Input) != dark {
		t.Fatal("a dark background did not bring the dark colours back")
	}
	forced := New(context.Background(), Options{Backend: &Backend{}, Color: true, Theme: "light", Local: time.UTC})
	defer forced.Close()
	forced.Update(tea.BackgroundColorMsg{Color: color.Black})
	if fg(forced.c.Styles.Input) == dark {
		t.Fatal("Theme light did not hold against the terminal's answer")
	}
}

// TestSparklinesShareAScale: each row's sparkline was scaled to its own
// maximum, so a topic at 1/s drew as tall as one at 100/s; a column shares
// one scale now.
func TestSparklinesShareAScale(t *testing.T) {
	m := newTestModel(t, 100, 24)
	m.Update(testSources())
	v := m.sources
	v.history["kafka:orders"] = []float64{1, 1, 1}
	v.history["kafka:payments"] = []float64{100, 100, 100}
	out := m.render()
	for _, c := range []struct{ name, want string }{{"kafka:orders ", "▁▁▁"}, {"kafka:payments ", "███"}} {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, c.name) && !strings.Contains(l, c.want) {
				t.Fatalf("%s: %q, want %s", c.name, l, c.want)
			}
		}
	}
}

// TestTailSearchSeesWhatTheColumnsShow: the search matched the pretty line
// cut at the screen's width, with the event id in it even while the id
// column was hidden: a row could be marked for text it did not show, and a
// term past the cut (in a payload that scrolls) was never found.
func TestTailSearchSeesWhatTheColumnsShow(t *testing.T) {
	m := newTestModel(t, 80, 24)
	long := strings.Repeat("x", 200) + "needle"
	evs := []event.Event{
		{Transport: event.Kafka, Topic: "orders", Offset: 0, Timestamp: t0, Value: []byte(`{"type":"A"}`),
			Headers: []event.Header{{Key: "ce_id", Value: []byte("hdr-only-id-77")}}},
		{Transport: event.Kafka, Topic: "orders", Offset: 1, Timestamp: t0.Add(time.Second), Value: []byte(`{"type":"B","pad":"` + long + `"}`)},
	}
	openTestTail(t, m, evs)
	v := m.tail
	search := func(term string) string {
		press(m, "/")
		typeText(m, term)
		press(m, "enter")
		return v.status()
	}
	if s := search("hdr-only-id"); !strings.Contains(s, "/hdr-only-id: no match") {
		t.Fatalf("the hidden id matched: %q", s)
	}
	press(m, "i") // show the id: the same search now finds it
	if s := v.status(); !strings.Contains(s, "/hdr-only-id") || strings.Contains(s, "no match") {
		t.Fatalf("with the id shown: %q", s)
	}
	if s := search("needle"); strings.Contains(s, "no match") || v.selected().Offset != 1 {
		t.Fatalf("a term past the screen's width in a payload: %q", s)
	}
}
