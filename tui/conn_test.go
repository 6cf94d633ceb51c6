package tui

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
)

// clockModel is newTestModel with a clock the test moves.
func clockModel(t *testing.T, w, h int) (*Model, *time.Time) {
	t.Helper()
	m := newTestModel(t, w, h)
	now := t0
	clock := func() time.Time { return now }
	m.o.Clock, m.c.Now, m.tail.o.Clock = clock, clock, clock
	return m, &now
}

var errKafkaDown = &bus.ConnectError{Transport: "kafka", Addr: "127.0.0.1:9092", Err: errors.New("connection refused")}

// probeResult sends the result of a check of t, as the check command
// returns it.
func probeResult(m *Model, t string, start, end time.Time, err error) tea.Cmd {
	_, cmd := m.Update(connProbeMsg{gen: m.connGen, transport: t, start: start, end: end, err: err})
	return cmd
}

// topLine is the screen's header.
func topLine(m *Model) string { return strings.SplitN(m.render(), "\n", 2)[0] }

// TestConnMarker: the header says each transport's state: connected after
// an answer, reconnecting from the first failure, down once it has lasted
// --timeout, and connected again after an answer, which makes the views
// read again (connRestoredMsg).
func TestConnMarker(t *testing.T) {
	m, now := clockModel(t, 120, 24)
	if strings.Contains(topLine(m), "kafka") {
		t.Fatalf("a backend without clients shows no marker: %q", topLine(m))
	}
	probeResult(m, "kafka", *now, *now, nil)
	if top := topLine(m); !strings.Contains(top, "kafka connected") {
		t.Fatalf("after an answer: %q", top)
	}
	*now = now.Add(2 * time.Second)
	if cmd := probeResult(m, "kafka", *now, now.Add(time.Second), errKafkaDown); cmd != nil {
		t.Fatal("a failure asked for something")
	}
	if top := topLine(m); !strings.Contains(top, "kafka reconnecting since 12:00:02") {
		t.Fatalf("after a failure: %q", top)
	}
	*now = now.Add(10 * time.Second) // the default --timeout
	if top := topLine(m); !strings.Contains(top, "kafka DOWN since 12:00:02") {
		t.Fatalf("after --timeout: %q", top)
	}
	cmd := probeResult(m, "kafka", *now, *now, nil)
	if cmd == nil {
		t.Fatal("an answer after an outage did not tell the views")
	}
	if msg, ok := cmd().(connRestoredMsg); !ok || msg.transport != "kafka" {
		t.Fatalf("restored: %#v", cmd())
	}
	if top := topLine(m); !strings.Contains(top, "kafka connected") {
		t.Fatalf("after the outage: %q", top)
	}
	// At 60 columns the words are short, and the marker stays whole.
	m.Update(tea.WindowSizeMsg{Width: 60, Height: 20})
	probeResult(m, "kafka", *now, *now, errKafkaDown)
	if top := topLine(m); !strings.Contains(top, "kafka retry 12:00:12") {
		t.Fatalf("at 60 columns: %q", top)
	}
}

// TestConnFromReads: a view's read that failed to connect marks its
// transport as a check does; a check of an old backend is dropped.
func TestConnFromReads(t *testing.T) {
	m, _ := clockModel(t, 120, 24)
	m.Update(sourcesMsg{at: t0, errs: []error{errKafkaDown}})
	if top := topLine(m); !strings.Contains(top, "kafka reconnecting since 12:00:00") {
		t.Fatalf("after a failed listing: %q", top)
	}
	m.Update(connProbeMsg{gen: m.connGen - 1, transport: "kafka", start: t0, end: t0})
	if top := topLine(m); strings.Contains(top, "connected") {
		t.Fatalf("a stale check counted: %q", top)
	}
}

// TestConnTailSource: what the tail's source says (bus.Health) is shown
// at once — the status bar's mode is DOWN, not FOLLOW — and only for the
// tail that is open.
func TestConnTailSource(t *testing.T) {
	m, _ := clockModel(t, 100, 24)
	openTestTail(t, m, testEvents(5))
	id := m.tail.nextID
	m.c.Conn.sourceSaid(id, bus.Health{Transport: "kafka", Addr: "127.0.0.1:9092", Down: true, Since: t0.Add(-15 * time.Second), Err: errors.New("connection refused")})
	s := m.render()
	if strings.Contains(s, "FOLLOW") || !strings.Contains(s, "DOWN 11:59:45 ·") {
		t.Fatalf("tail of a lost broker:\n%s", s)
	}
	if !strings.Contains(s, "kafka DOWN since 11:59:45: connection refused · retried on its own") {
		t.Fatalf("the body does not say it:\n%s", s)
	}
	m.c.Conn.sourceSaid(id-1, bus.Health{Transport: "kafka"}) // an old tail's word
	if !strings.Contains(m.render(), "DOWN 11:59:45") {
		t.Fatal("an old source's word counted")
	}
	m.c.Conn.sourceSaid(id, bus.Health{Transport: "kafka", Since: t0.Add(-15 * time.Second)})
	if s := m.render(); !strings.Contains(s, "FOLLOW") || strings.Contains(s, "DOWN") {
		t.Fatalf("back:\n%s", s)
	}
	// A RabbitMQ tap says at once that it lost its broker (reconnecting
	// until --timeout), and, back, what it missed: the body keeps saying it.
	m.c.Conn.sourceSaid(id, bus.Health{Transport: "amqp", Addr: "localhost:5672", Down: true, Since: t0.Add(-time.Second), Err: errors.New("connection reset")})
	m.tail.addrs = append(m.tail.addrs, bus.Address{Transport: "amqp", Name: "shop.q"})
	if s := m.render(); !strings.Contains(s, "amqp reconnecting since 11:59:59: connection reset") || !strings.Contains(s, "RETRY 11:59:59") {
		t.Fatalf("a tap that lost its broker:\n%s", s)
	}
	m.c.Conn.sourceSaid(id, bus.Health{Transport: "amqp", Addr: "localhost:5672", Since: t0.Add(-time.Second), Note: "messages published meanwhile were not seen"})
	if s := m.render(); !strings.Contains(s, "amqp: localhost:5672 is reachable again (down since 11:59:59); reading on; messages published") || !strings.Contains(s, "FOLLOW") {
		t.Fatalf("a tap back:\n%s", s)
	}
}

// endTestTail gives the test tail a stream (reading nothing) and ends it
// with err, as the reader would.
func endTestTail(m *Model, err error) tea.Cmd {
	v := m.tail
	v.stream = &stream{id: v.nextID, cancel: func() {}, src: bus.Merge()}
	_, cmd := m.Update(eventsMsg{stream: v.nextID, err: err})
	return cmd
}

// TestTailReopens: a tail whose source ended with an error (its topic
// deleted, its broker gone) says so in its body and its status — not
// FOLLOW — and opens itself again after a backoff that doubles, or at once
// when its broker answers again; events that come then reset the backoff.
func TestTailReopens(t *testing.T) {
	m, now := clockModel(t, 100, 24)
	openTestTail(t, m, testEvents(5))
	gone := &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: "orders", Hint: "deleted while reading"}
	if cmd := endTestTail(m, gone); cmd == nil {
		t.Fatal("no reopen scheduled")
	}
	s := m.render()
	for _, want := range []string{"ENDED · reopening in 1s (attempt 1)", "source ended: " + gone.Error(), "  reopening in 1s (attempt 1)"} {
		if !strings.Contains(s, want) {
			t.Fatalf("missing %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FOLLOW") {
		t.Fatalf("an ended tail says FOLLOW:\n%s", s)
	}
	id := m.tail.nextID
	m.Update(tailReopenTick{id - 1}) // an older tail's
	if m.tail.opening {
		t.Fatal("a stale tick reopened")
	}
	*now = now.Add(time.Second)
	m.Update(tailReopenTick{id})
	if !m.tail.opening || m.tail.nextID != id+1 || m.tail.total != 5 {
		t.Fatalf("reopen: opening %v id %d total %d (the buffer stays)", m.tail.opening, m.tail.nextID, m.tail.total)
	}
	if s := m.render(); !strings.Contains(s, "reopening (attempt 1)…") || strings.Contains(s, "not reopened") {
		t.Fatalf("while reopening:\n%s", s)
	}
	// Opening fails (the topic is not back): the backoff doubles.
	m.Update(tailOpenedMsg{id: m.tail.nextID, err: gone})
	if s := m.render(); !strings.Contains(s, "reopening in 2s (attempt 2)") {
		t.Fatalf("second attempt:\n%s", s)
	}
	// The broker answers again: reopened at once.
	id = m.tail.nextID
	m.Update(connRestoredMsg{"amqp"})
	if m.tail.opening {
		t.Fatal("another transport's return reopened a Kafka tail")
	}
	m.Update(connRestoredMsg{"kafka"})
	if !m.tail.opening || m.tail.nextID != id+1 {
		t.Fatal("not reopened when the broker answered")
	}
	v := m.tail
	m.Update(tailOpenedMsg{id: v.nextID, src: bus.Merge()})
	m.Update(eventsMsg{stream: v.nextID, evs: testEvents(2)})
	s = m.render()
	// Its topic was deleted: the one there now is read from its beginning.
	if !strings.Contains(s, "FOLLOW") || strings.Contains(s, "source ended") || !strings.Contains(s, "reopened 12:00:01 from the beginning: the topic was deleted and created again") {
		t.Fatalf("reading again:\n%s", s)
	}
	if v.reopens != 0 {
		t.Fatalf("backoff not reset: %d", v.reopens)
	}
	// A source that lost its broker is reopened from the end, and says
	// what that misses.
	endTestTail(m, errKafkaDown)
	*now = now.Add(time.Second)
	m.Update(tailReopenTick{v.nextID})
	m.Update(tailOpenedMsg{id: v.nextID, src: bus.Merge()})
	if s := m.render(); !strings.Contains(s, "reopened 12:00:02 from the end: what was published while it was closed is not shown") {
		t.Fatalf("reopened after a lost broker:\n%s", s)
	}
	// An error that reopening cannot cure is not retried.
	m.Update(tailOpenedMsg{id: v.nextID, err: errors.New("tui: kafka:x: only Kafka topics and RabbitMQ queues can be tailed here")})
	if !v.reopenAt.IsZero() {
		t.Fatal("a hopeless open is retried")
	}
	if s := m.render(); !strings.Contains(s, "source ended: tui: kafka:x: only Kafka topics") || !strings.Contains(s, "reopening would not cure it") {
		t.Fatalf("a hopeless end is not said in the body:\n%s", s)
	}
}

func testEvents(n int) []event.Event {
	var evs []event.Event
	for i := range n {
		evs = append(evs, orderEvent(i, "orders", "OrderPlaced"))
	}
	return evs
}

// TestSourcesKeepRowsOnError: a listing that fails after a good one keeps
// the rows, under the error and when they were read; one that fails first
// says the error in the body, not "no topics or queues".
func TestSourcesKeepRowsOnError(t *testing.T) {
	m, _ := clockModel(t, 100, 24)
	m.Update(sourcesMsg{at: t0, errs: []error{errKafkaDown}})
	s := m.render()
	if strings.Contains(s, "no topics or queues") || !strings.Contains(s, errKafkaDown.Error()) || !strings.Contains(s, "nothing listed; read again every 2s") {
		t.Fatalf("first listing failed:\n%s", s)
	}
	m.Update(testSources())
	for i := 0; i < 10 && m.sources.curKey() != "kafka:payments"; i++ {
		press(m, "j") // the rows are sorted by name: walk to payments
	}
	m.Update(sourcesMsg{at: t0.Add(4 * time.Second), errs: []error{errKafkaDown}})
	s = m.render()
	if !strings.Contains(s, "kafka:payments ") || !strings.Contains(s, "showing the listing last read 12:00:00") || !strings.Contains(s, errKafkaDown.Error()) {
		t.Fatalf("rows not kept:\n%s", s)
	}
	if m.sources.curKey() != "kafka:payments" {
		t.Fatalf("cursor on %q", m.sources.curKey())
	}
	m.Update(testSources())
	if s := m.render(); strings.Contains(s, "connection refused") || strings.Contains(s, "showing the listing") {
		t.Fatalf("recovered:\n%s", s)
	}
	// One transport fails, the other answers: the failed one's rows stay.
	amqpOnly := testSources()
	amqpOnly.rows, amqpOnly.errs, amqpOnly.at = amqpOnly.rows[3:4], []error{errKafkaDown}, t0.Add(6*time.Second)
	m.Update(amqpOnly)
	s = m.render()
	if !strings.Contains(s, "kafka:orders") || !strings.Contains(s, "amqp:shop.payments.dlq") || !strings.Contains(s, "showing the listing last read 12:00:00") {
		t.Fatalf("partial failure:\n%s", s)
	}
}

// TestLagKeepsSampleOnError: a failed sample keeps the last good one under
// the error.
func TestLagKeepsSampleOnError(t *testing.T) {
	m, _ := clockModel(t, 100, 24)
	press(m, "3")
	m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
	m.Update(lagResult{m.lag.gen, lagMsg{err: errKafkaDown}})
	s := m.render()
	if !strings.Contains(s, errKafkaDown.Error()) || !strings.Contains(s, "showing the sample last read 12:00:00") || !strings.Contains(s, "GROUP / QUEUE") {
		t.Fatalf("lag on error:\n%s", s)
	}
	m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
	if strings.Contains(m.render(), "connection refused") {
		t.Fatal("the error stayed")
	}
}

// TestDLQRefreshesItself: the DLQ list says a failed read in its body and
// reads again on its own — on its tick, and at once when the broker
// answers — without r; it says when it was last read.
func TestDLQRefreshesItself(t *testing.T) {
	m, _ := clockModel(t, 100, 24)
	press(m, "4")
	v := m.dlq
	if !v.loading || v.every != 30*time.Second {
		t.Fatalf("loading %v every %s", v.loading, v.every)
	}
	m.Update(dlqResult{v.gen, dlqMsg{errs: []error{errKafkaDown}}})
	s := m.render()
	if !strings.Contains(s, errKafkaDown.Error()) || !strings.Contains(s, "nothing read; read again every 30s and when the broker answers again") || strings.Contains(s, "no dead-letter topics") {
		t.Fatalf("failed read:\n%s", s)
	}
	m.Update(connRestoredMsg{"kafka"})
	if !v.loading {
		t.Fatal("the broker's return did not read the DLQs again")
	}
	m.Update(dlqResult{v.gen, testDLQs()})
	if s := m.render(); strings.Contains(s, "connection refused") || !strings.Contains(s, "last read 12:00:00") {
		t.Fatalf("recovered:\n%s", s)
	}
	m.Update(dlqTick{v.tickGen})
	if !v.loading {
		t.Fatal("the tick did not read again")
	}
	m.Update(dlqResult{v.gen, dlqMsg{errs: []error{errKafkaDown}}})
	if s := m.render(); !strings.Contains(s, "kafka:payments.DLT") || !strings.Contains(s, "showing the counts last read 12:00:00") {
		t.Fatalf("counts not kept:\n%s", s)
	}
	// Inside a DLQ too, the failed reading is said.
	press(m, "enter")
	if s := m.render(); !strings.Contains(s, "read failed (last read 12:00:00): kafka: cannot connect") || !strings.Contains(s, "card declined") {
		t.Fatalf("groups of a stale DLQ:\n%s", s)
	}
	press(m, "enter")
	if s := m.render(); !strings.Contains(s, "read failed (last read 12:00:00)") {
		t.Fatalf("messages of a stale DLQ:\n%s", s)
	}
	press(m, "esc", "esc")
	// Not while a plan is shown: its counts are what Y runs.
	v.stage = stagePlan
	m.Update(dlqTick{v.tickGen})
	if v.loading {
		t.Fatal("read again under a plan")
	}
	v.stage = stageList
	press(m, "1")
	m.Update(dlqTick{v.tickGen})
	if v.loading {
		t.Fatal("read again while not shown")
	}
	// Under --backlog a reading peeks at RabbitMQ DLQs: not on a timer.
	m.be.Backlog, m.be.AMQP = true, new(amqp.Client) // never dialled: nothing here reads
	m.stack, v.active = []viewID{viewSources, viewDLQ}, true
	if v.tick() != nil {
		t.Fatal("a peeking DLQ list is read on a timer")
	}
	m.Update(dlqResult{v.gen, dlqMsg{errs: []error{errKafkaDown}}})
	if s := m.render(); !strings.Contains(s, "read again when the broker answers again (r: now)") {
		t.Fatalf("peeking list:\n%s", s)
	}
}

// TestSwitchToUnreachableContext: switching to a context whose broker does
// not answer says so on the status line as soon as the first check fails
// (within --timeout), and the header says it at once.
func TestSwitchToUnreachableContext(t *testing.T) {
	m, _ := clockModel(t, 100, 24)
	dead, err := kafkaClient("127.0.0.1:1", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	m.be.Switch = func(name string) (*Backend, error) { return &Backend{Context: name, Kafka: dead}, nil }
	press(m, "5", "k", "enter")
	if m.be.Context != "prod" || !strings.Contains(topLine(m), "kafka connecting…") || !strings.Contains(m.flash, "checking its brokers") {
		t.Fatalf("switch: %q %q", topLine(m), m.flash)
	}
	start := time.Now()
	// The check the switch started (connChecks on its first tick).
	_, cmd := m.Update(connTick{m.connGen})
	msg := findMsg[connProbeMsg](cmd)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the check took %s (--timeout 2s)", took)
	}
	m.Update(msg)
	if !m.flashErr || !strings.Contains(m.flash, "context prod: kafka") || !strings.Contains(topLine(m), "kafka reconnecting since") {
		t.Fatalf("after the check: %q %q", m.flash, topLine(m))
	}
}

// findMsg runs cmd (and a batch's commands) until one returns a T; ticks
// are not waited for.
func findMsg[T any](cmd tea.Cmd) T {
	var zero T
	if cmd == nil {
		return zero
	}
	switch msg := cmd().(type) {
	case T:
		return msg
	case tea.BatchMsg:
		for _, c := range msg {
			if c == nil {
				continue
			}
			if r := findMsg[T](c); any(r) != any(zero) {
				return r
			}
		}
	}
	return zero
}

// kafkaClient is a client of addr with --timeout d.
func kafkaClient(addr string, d time.Duration) (*kafka.Client, error) {
	return kafka.New([]string{addr}, kafka.WithDialTimeout(d))
}

// TestGoldenConnDown: every view with its broker gone, at the sizes the
// goldens use: the header's marker, the tail's body and status (DOWN, not
// FOLLOW), and each list's error in its body over its last good rows.
func TestGoldenConnDown(t *testing.T) {
	for _, size := range [][2]int{{60, 20}, {80, 24}, {120, 35}, {200, 60}} {
		w, h := size[0], size[1]
		name := func(view string) string { return view + "_" + strconv.Itoa(w) + "x" + strconv.Itoa(h) }
		setup := func(t *testing.T) (*Model, *time.Time) {
			m, now := clockModel(t, w, h)
			m.Update(testSources())
			probeResult(m, "amqp", *now, *now, nil)
			probeResult(m, "kafka", *now, *now, nil)
			*now = now.Add(3 * time.Second)
			probeResult(m, "kafka", *now, now.Add(time.Second), errKafkaDown)
			*now = now.Add(4 * time.Second)
			return m, now
		}
		t.Run(name("Tail"), func(t *testing.T) {
			m, now := setup(t)
			openTestTail(t, m, testEvents(30))
			m.c.Conn.sourceSaid(m.tail.nextID, bus.Health{Transport: "kafka", Addr: "127.0.0.1:9092", Down: true, Since: t0.Add(3 * time.Second), Err: errors.New("connection refused")})
			*now = now.Add(10 * time.Second)
			requireScreen(t, m)
		})
		t.Run(name("TailReopening"), func(t *testing.T) {
			m, _ := setup(t)
			openTestTail(t, m, testEvents(30))
			endTestTail(m, &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: "orders", Hint: "deleted while reading"})
			requireScreen(t, m)
		})
		t.Run(name("Sources"), func(t *testing.T) {
			m, _ := setup(t)
			m.Update(sourcesMsg{at: t0.Add(5 * time.Second), errs: []error{errKafkaDown}})
			requireScreen(t, m)
		})
		if w != 80 {
			continue
		}
		t.Run(name("Lag"), func(t *testing.T) {
			m, _ := setup(t)
			press(m, "3")
			m.Update(lagResult{m.lag.gen, lagMsg{snap: testLag()}})
			m.Update(lagResult{m.lag.gen, lagMsg{err: errKafkaDown}})
			requireScreen(t, m)
		})
		t.Run(name("DLQ"), func(t *testing.T) {
			m, _ := setup(t)
			press(m, "4")
			m.Update(dlqResult{m.dlq.gen, testDLQs()})
			m.Update(dlqTick{m.dlq.tickGen})
			m.Update(dlqResult{m.dlq.gen, dlqMsg{errs: []error{errKafkaDown}}})
			requireScreen(t, m)
		})
		t.Run(name("Contexts"), func(t *testing.T) {
			m, _ := setup(t)
			press(m, "5")
			requireScreen(t, m)
		})
	}
}

// TestTraceReadsAgain: a trace whose read failed for want of the broker
// says so in its body and reads again by itself when the broker answers;
// a trace that failed otherwise is not read again.
func TestTraceReadsAgain(t *testing.T) {
	m, _ := clockModel(t, 100, 24)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openTraceMsg{&e})
	v := m.trace
	m.Update(traceResult{v.gen, traceMsg{query: v.query, err: errKafkaDown}})
	s := m.render()
	if !strings.Contains(s, "connection refused") || !strings.Contains(s, "read again when the broker answers") {
		t.Fatalf("trace of a lost broker:\n%s", s)
	}
	if top := topLine(m); !strings.Contains(top, "kafka reconnecting") {
		t.Fatalf("the failed read is not in the header: %q", top)
	}
	gen := v.gen
	m.Update(connRestoredMsg{"kafka"})
	if !v.loading || v.gen != gen+1 || !v.since.Equal(e.Timestamp.Add(-5*time.Minute)) {
		t.Fatalf("not read again: loading %v gen %d since %s", v.loading, v.gen, v.since)
	}
	m.Update(traceResult{v.gen, traceMsg{query: v.query, err: errors.New("trace: no topics to read")}})
	m.Update(connRestoredMsg{"kafka"})
	if v.loading {
		t.Fatal("a trace that failed for another reason was read again")
	}
}
