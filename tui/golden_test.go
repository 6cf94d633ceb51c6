package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/trace"
)

func cellWidth(s string) int { return ansi.StringWidth(s) }

// requireScreen checks a no-colour screen against its golden file: no
// escape byte at all may reach it (untrusted ones are shown escaped), and
// it is exactly the terminal's size.
func requireScreen(t *testing.T, m *Model) {
	t.Helper()
	out := m.render()
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8 reached the screen:\n%q", out)
	}
	for _, r := range out {
		if r < 0x20 && r != '\n' || r >= 0x7f && r < 0xa0 {
			t.Fatalf("control character %U reached the screen:\n%q", r, out)
		}
	}
	lines := strings.Split(out, "\n")
	if len(lines) != m.c.Height {
		t.Fatalf("%d lines, want %d", len(lines), m.c.Height)
	}
	for i, l := range lines {
		if w := cellWidth(l); w > m.c.Width {
			t.Fatalf("line %d is %d cells wide (> %d): %q", i, w, m.c.Width, l)
		}
	}
	golden.RequireEqual(t, []byte(out))
}

func TestGoldenSources80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(testSources())
	press(m, "j", "j", "space")
	requireScreen(t, m)
}

func TestGoldenTailHostile80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	evs := []event.Event{orderEvent(1, "orders", "OrderPlaced"), orderEvent(2, "orders", "PaymentFailed")}
	evs = append(evs, hostileEvents()...)
	openTestTail(t, m, evs)
	press(m, "/")
	typeText(m, "evil")
	press(m, "enter")
	requireScreen(t, m)
}

func TestGoldenTailResized120x30(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, orderEvent(i, "orders", "OrderPlaced"))
	}
	openTestTail(t, m, evs)
	press(m, "f")
	typeText(m, `value.payload.total > 30`)
	press(m, "enter")
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	requireScreen(t, m)
}

func TestGoldenEventHostile80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := hostileEvents()[1]
	m.Update(openEventMsg{&e})
	requireScreen(t, m)
}

func TestGoldenEventBinary80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := hostileEvents()[0]
	m.Update(openEventMsg{&e})
	requireScreen(t, m)
}

func TestGoldenEventFolded80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	e := orderEvent(5, "orders", "OrderPlaced")
	m.Update(openEventMsg{&e})
	press(m, "z")
	requireScreen(t, m)
}

// testFlow correlates a demo-like order whose payment failed and was
// dead-lettered (Spring's headers), with the edge statistics of it and of
// 60 complete ones whose hops spread over a few milliseconds to seconds.
func testFlow() traceMsg {
	mkFor := func(corr, topic, typ, id, cause string, at time.Duration, hs ...event.Header) event.Event {
		v := `{"event_id":"` + id + `","type":"` + typ + `","correlation_id":"` + corr + `","causation_id":"` + cause + `","occurred_at":"` + t0.Add(at).Format(time.RFC3339Nano) + `"}`
		return event.Event{Transport: event.Kafka, Topic: topic, Offset: 1, Timestamp: t0.Add(at), Value: []byte(v), Headers: hs}
	}
	mk := func(topic, typ, id, cause string, at time.Duration, hs ...event.Header) event.Event {
		return mkFor("ord-1", topic, typ, id, cause, at, hs...)
	}
	var evs []event.Event
	for i := range 60 {
		corr, id := fmt.Sprintf("ord-x%d", i), fmt.Sprintf("x%d-", i)
		// Payments mostly 20–50 ms with a slow tail; stock 2–5 ms.
		pay := time.Duration(20+i/2) * time.Millisecond
		if i%10 == 9 {
			pay = time.Duration(i*25) * time.Millisecond
		}
		stock := time.Duration(2000+i*50) * time.Microsecond
		evs = append(evs,
			mkFor(corr, "orders", "OrderPlaced", id+"1", "", 0),
			mkFor(corr, "payments", "PaymentAuthorized", id+"2", id+"1", pay),
			mkFor(corr, "inventory", "StockReserved", id+"3", id+"2", pay+stock))
	}
	evs = append(evs,
		mk("orders", "OrderPlaced", "e1", "", 0),
		mk("payments", "PaymentAuthorized", "e2", "e1", 80*time.Millisecond),
		mk("inventory", "StockReserved", "e3", "e2", 110*time.Millisecond),
		mk("inventory-dlq", "StockReserved", "e3", "e2", 400*time.Millisecond,
			event.Header{Key: "__connect.errors.exception.message", Value: []byte("cannot reserve sku-1\x1b[31m")},
			event.Header{Key: "__connect.errors.exception.class.name", Value: []byte("org.example.DataException")},
			event.Header{Key: "__connect.errors.topic", Value: []byte("payments")}))
	var flows []*trace.Flow
	stats := trace.NewStats(nil)
	c := trace.NewCorrelator(trace.Config{OnFlow: func(f *trace.Flow) {
		if f.Matches("ord-1") {
			flows = append(flows, f)
		}
		stats.Add(f)
	}})
	for i := range evs {
		c.Add(&evs[i])
	}
	c.Flush()
	rep := stats.Report(nil)
	return traceMsg{query: "ord-1", flows: flows, report: rep, hists: edgeHists(stats, rep.Edges)}
}

// goldenTrace is the Trace view of orders' event 1 at w×h.
func goldenTrace(t *testing.T, w, h int) {
	t.Helper()
	m := newTestModel(t, w, h)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	m.Update(traceResult{m.trace.gen, testFlow()})
	requireScreen(t, m)
}

func TestGoldenTrace100x30(t *testing.T) { goldenTrace(t, 100, 30) }

func testLag() *inspect.LagSnapshot {
	return &inspect.LagSnapshot{Time: t0, Samples: 3, Window: 10, Groups: []inspect.GroupLag{
		{Group: "payments", Status: inspect.StatusErr, Worst: inspect.StatusStall, Lag: 5400, OffsetLag: 5410, TimeLag: 95 * time.Second,
			Partitions: []inspect.PartitionLag{
				{Topic: "orders", Partition: 0, Committed: 100, End: 2800, Lag: 2700, TimeLag: 95 * time.Second, Status: inspect.StatusStall, ClientID: "shop-payments-0"},
				{Topic: "orders", Partition: 1, Committed: 90, End: 2790, Lag: 2700, TimeLag: 90 * time.Second, Status: inspect.StatusStall, ClientID: "shop-payments-1"},
			}},
		{Group: "shipping", Status: inspect.StatusOK, Lag: 2, OffsetLag: 2, TimeLag: 40 * time.Millisecond},
		{Group: "new\x1b[5mgroup", Status: inspect.StatusUnknown, Lag: -1, OffsetLag: -1, TimeLag: -1},
	}, Queues: []inspect.QueueLag{{Queue: "shop.payments.inbox", Ready: 12, Unacked: 3, Consumers: 2, HeadAge: 2 * time.Second}}}
}

func TestGoldenLag80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "3")
	for i, lag := range []int64{100, 900, 5400} {
		s := testLag()
		s.Groups[0].Lag = lag
		s.Samples = i + 1
		m.Update(lagResult{m.lag.gen, lagMsg{snap: s}})
	}
	requireScreen(t, m)
	press(m, "enter")
	if m.lag.drill != "payments" {
		t.Fatalf("enter: drill %q", m.lag.drill)
	}
	t.Run("partitions", func(t *testing.T) { requireScreen(t, m) })
	press(m, "esc")
	if m.lag.drill != "" || m.current() != viewLag {
		t.Fatal("esc did not leave the partitions")
	}
	press(m, "esc")
	if m.current() != viewSources {
		t.Fatal("esc did not go back")
	}
}

func TestGoldenHelp80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "2", "?")
	requireScreen(t, m)
}

func TestGoldenContexts80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "5")
	requireScreen(t, m)
}

func TestGoldenTrace80x24(t *testing.T) { goldenTrace(t, 80, 24) }

func TestGoldenDLQ80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "4")
	m.Update(dlqResult{m.dlq.gen, testDLQs()})
	requireScreen(t, m)
	press(m, "enter")
	t.Run("groups", func(t *testing.T) { requireScreen(t, m) })
	// / filters the groups (by error, class or origin); the cursor stays
	// on its group, esc clears the filter before it leaves the DLQ.
	press(m, "j", "/")
	typeText(m, "Timeout")
	press(m, "enter")
	if g := m.dlq.gat(m.dlq.gcur.pos); len(m.dlq.gshown) != 1 || g == nil || g.Class != "java.net.SocketTimeoutException" {
		t.Fatalf("filter: %d shown, cursor on %+v", len(m.dlq.gshown), g)
	}
	t.Run("filtered", func(t *testing.T) { requireScreen(t, m) })
	press(m, "esc")
	if m.dlq.stage != stageGroups || len(m.dlq.gshown) != 2 {
		t.Fatalf("esc: stage %d, %d shown", m.dlq.stage, len(m.dlq.gshown))
	}
}

// TestLagEddyJobs: eddy's own redrive and replay groups are not consumers: a
// finished job (no member) whose DLQ got new letters since was shown as a red
// ERR (STOP) with growing lag forever. They are hidden by default (the
// status bar counts them), and J lists them as eddy's jobs, done or
// running, without Burrow's verdict.
func TestLagEddyJobs(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "3")
	s := testLag()
	s.Groups = append(s.Groups,
		inspect.GroupLag{Group: "eddy-redrive-payments.DLT-1a2b3c4d", Status: inspect.StatusErr, Worst: inspect.StatusStop, Lag: 40, OffsetLag: 40, TimeLag: time.Hour},
		inspect.GroupLag{Group: "eddy-replay-nightly", Status: inspect.StatusOK, Lag: 5, OffsetLag: 5, TimeLag: time.Second,
			Members: []inspect.MemberLag{{ID: "m1"}}})
	m.Update(lagResult{m.lag.gen, lagMsg{snap: s}})
	out := m.render()
	if strings.Contains(out, "eddy-re") || !strings.Contains(out, "2 of eddy's own jobs hidden (redrive and replay groups; J shows them)") {
		t.Fatalf("eddy's jobs by default:\n%s", out)
	}
	press(m, "J")
	out = m.render()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "eddy redri") && (strings.Contains(l, "ERR") || !strings.Contains(l, "job done")) {
			t.Fatalf("a finished redrive job: %q", l)
		}
	}
	if !strings.Contains(out, "eddy replay nightly") || !strings.Contains(out, "job running") {
		t.Fatalf("a running replay job:\n%s", out)
	}
	requireScreen(t, m)
	press(m, "J")
	if strings.Contains(m.render(), "eddy redrive") {
		t.Fatal("J did not hide the jobs again")
	}
}

// TestGoldenEventLongHeaders80x24: a dead letter's exception message and
// stack trace were cut at the screen's edge with no way to read them. A long
// header is marked +; enter (or →) shows it whole, wrapped at the width and
// broken where the value breaks its lines, still escaped; enter (or ←) folds
// it again.
func TestGoldenEventLongHeaders80x24(t *testing.T) {
	m := newTestModel(t, 80, 24)
	msg := "Listener method 'public void com.example.payments.PaymentListener.onOrder(com.example.Order)' threw exception; nested exception is java.lang.IllegalStateException: acme-pay: no answer within 2000 ms for order ord-7f3a after 3 attempts"
	stack := "java.lang.IllegalStateException: acme-pay timeout\n\tat com.example.payments.AcmePay.authorize(AcmePay.java:42)\n\tat com.example.payments.PaymentListener.onOrder(PaymentListener.java:17)\x1b[2J"
	e := event.Event{Transport: event.Kafka, Topic: "payments.DLT", Partition: 0, Offset: 7, Timestamp: t0, Value: []byte(`{"order":"ord-7f3a"}`),
		Headers: []event.Header{
			{Key: "kafka_dlt-exception-message", Value: []byte(msg)},
			{Key: "kafka_dlt-exception-stacktrace", Value: []byte(stack)},
			{Key: "kafka_dlt-original-topic", Value: []byte("payments")},
		}}
	m.Update(openEventMsg{&e})
	requireScreen(t, m)
	v := m.event
	row := slices.IndexFunc(v.lines, func(l jline) bool { return l.hdr == 2 })
	for range row {
		press(m, "j")
	}
	press(m, "enter")
	if !v.openHdr[1] || v.lines[v.cur.pos].hdr != 2 {
		t.Fatalf("enter on the stack trace: open %v, cursor on %+v", v.openHdr, v.lines[v.cur.pos])
	}
	out := m.render()
	for _, want := range []string{"      java.lang.IllegalStateException: acme-pay timeout", "          at com.example.payments.AcmePay.authorize(AcmePay.java:42)", `PaymentListener.java:17)\x`} {
		if !strings.Contains(out, want) {
			t.Fatalf("the open stack trace lacks %q:\n%s", want, out)
		}
	}
	t.Run("stacktrace", func(t *testing.T) { requireScreen(t, m) })
	press(m, "k", "enter")
	t.Run("message", func(t *testing.T) { requireScreen(t, m) })
	press(m, "h")
	if v.openHdr[0] || !v.openHdr[1] {
		t.Fatalf("← on the message: open %v", v.openHdr)
	}
	// A short header has nothing more to show.
	row = slices.IndexFunc(v.lines, func(l jline) bool { return l.hdr == 3 })
	v.cur.pos = row
	press(m, "enter")
	if v.openHdr[2] {
		t.Fatal("enter opened a short header")
	}
}

// TestNamesAt60Columns: at 60 columns a name cut at its end made
// kafka:inventory and kafka:inventory-dlq both "kafka:inven…"; names are cut
// in the middle now, so two stay apart, and a trace edge keeps its
// "(dead letter)". A lag group's partitions keep LAG and TIMELAG (COMMITTED
// and END go first).
func TestNamesAt60Columns(t *testing.T) {
	m := newTestModel(t, 60, 20)
	s := testSources()
	s.rows = append(s.rows,
		sourceRow{addr: bus.Address{Transport: "kafka", Name: "inventory-reservations"}, partitions: 6, rate: -1},
		sourceRow{addr: bus.Address{Transport: "kafka", Name: "inventory-reservations-dlq"}, partitions: 1, dlq: true, rate: -1})
	m.Update(s)
	out := m.render()
	var labels []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(strings.TrimLeft(l, "▸ ")); len(f) > 0 && strings.HasPrefix(f[0], "kafka:inv") {
			labels = append(labels, f[0])
		}
	}
	if len(labels) != 2 || labels[0] == labels[1] {
		t.Fatalf("two inventory topics at 60 columns: %q\n%s", labels, out)
	}

	press(m, "3")
	m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
	press(m, "enter")
	out = m.render()
	if !strings.Contains(out, "LAG") || !strings.Contains(out, "TIMELAG") {
		t.Fatalf("partitions at 60 columns:\n%s", out)
	}
	requireScreen(t, m)

	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	m.Update(traceResult{m.trace.gen, testFlow()})
	out = m.render()
	for range 80 {
		if strings.Contains(out, "(dead letter)") {
			break
		}
		press(m, "j")
		out = m.render()
	}
	if !strings.Contains(out, "(dead letter)") {
		t.Fatalf("the trace's dead-letter edge at 60 columns:\n%s", out)
	}
}
