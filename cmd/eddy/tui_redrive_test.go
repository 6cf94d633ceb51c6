package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/tui"
)

// screenProbe keeps the TUI's last screen for the test goroutine.
type screenProbe struct {
	m      *tui.Model
	mu     sync.Mutex
	screen string
}

func (p *screenProbe) Init() tea.Cmd { return p.m.Init() }
func (p *screenProbe) View() tea.View {
	return p.m.View()
}

func (p *screenProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.m.Update(msg)
	s := p.m.View().Content
	p.mu.Lock()
	p.screen = s
	p.mu.Unlock()
	return p, cmd
}

// runTUI runs eddy tui's model on be as eddy tui runs it, without a
// terminal (teatest's -update flag clashes with this package's), at 110x30.
// It returns its screen, its keyboard, and quit, which types q and requires
// the program to end with no error within 10 s.
func runTUI(t *testing.T, be *tui.Backend) (p *screenProbe, tm progKeys, quit func()) {
	t.Helper()
	m := tui.New(context.Background(), tui.Options{Backend: be, Local: time.UTC})
	t.Cleanup(m.Close)
	p = &screenProbe{m: m}
	prog := tea.NewProgram(p, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(110, 30), tea.WithoutSignals())
	ran := make(chan error, 1)
	go func() { _, err := prog.Run(); ran <- err }()
	tm = progKeys{prog}
	quit = func() {
		t.Helper()
		tm.Type("q")
		select {
		case err := <-ran:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("q did not quit")
		}
	}
	return p, tm, quit
}

// progKeys types into a running program.
type progKeys struct{ *tea.Program }

func (k progKeys) Type(s string) {
	for _, r := range s {
		k.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// wait polls the screen until cond holds, failing after a deadline with the
// last screen.
func (p *screenProbe) wait(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		s := p.screen
		p.mu.Unlock()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; the screen is:\n%s", what, s)
		}
		<-tick.C
	}
}

// tuiVhost makes vhost on the broker of amqpURL, lets amqpURL's user use it,
// deletes it when the test ends, and returns the URL of it.
func tuiVhost(t *testing.T, amqpURL, vhost string) string {
	t.Helper()
	u, err := neturl.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	vpath := "/api/vhosts/" + amqptest.Escape(vhost)
	if st := amqptest.Do(t, amqpURL, "PUT", vpath, map[string]any{}, nil); st/100 != 2 {
		t.Fatalf("create vhost %s: HTTP %d", vhost, st)
	}
	t.Cleanup(func() { amqptest.Do(t, amqpURL, "DELETE", vpath, nil, nil) })
	perm := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	if st := amqptest.Do(t, amqpURL, "PUT", "/api/permissions/"+amqptest.Escape(vhost)+"/"+amqptest.Escape(u.User.Username()), perm, nil); st/100 != 2 {
		t.Fatalf("permissions on vhost %s: HTTP %d", vhost, st)
	}
	u.Path = "/" + vhost
	return u.String()
}

// screenCount reads the COUNT column of row name in the DLQ list.
func screenCount(screen, name string) (int64, bool) {
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(strings.TrimLeft(l, "▸ "))
		if len(f) >= 2 && f[0] == name {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// tuiRabbitBackend is the backend eddy tui builds for the RabbitMQ at url,
// its state and config in dir, its ledger at ledger; out is its stdout.
func tuiRabbitBackend(t *testing.T, url, dir, ledger string) (*tui.Backend, *strings.Builder) {
	f, out, _ := testFactory(true)
	f.Getenv = func(k string) string {
		switch k {
		case "EDDY_LEDGER":
			return ledger
		case "XDG_CONFIG_HOME", "XDG_STATE_HOME":
			return dir
		}
		return ""
	}
	f.Global.AMQPURL, f.Global.AMQPMgmtURL, f.Global.Timeout = url, amqptest.ManagementURL(t, url), 10*time.Second
	be, err := tuiBackend(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Close)
	return be, out
}

// TestTUIRedrivePlanRabbitMQReadsNoLedger: the TUI's P (a dry run) on a
// RabbitMQ DLQ reads the ledger as eddy dlq redrive --dry-run does: a
// ledger that does not exist yet is neither created nor its directory made
// (it was opened for writing, as the real run opens it).
func TestTUIRedrivePlanRabbitMQReadsNoLedger(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	dir := t.TempDir()
	be, _ := tuiRabbitBackend(t, url, dir, dir+"/state/ledger.db")
	if _, err := be.Redrive(context.Background(), tui.RedriveRequest{Transport: "amqp", DLQ: tp.DLQ, DryRun: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/state"); !os.IsNotExist(err) {
		t.Fatalf("the plan made the ledger's directory (%v): a dry run must not create the ledger", err)
	}
}

// TestTUIRedriveRabbitMQ: eddy tui's DLQ view on the real RabbitMQ, through
// the backend `eddy tui` builds (tuiBackend: planRedrive, the ledger,
// dlq.RedriveAMQP): a DLQ holding messages dead-lettered from two queues →
// its error groups → P, the plan (a dry run that leaves the queue whole) →
// more letters dead-lettered → Y → the result: the planned messages moved,
// the late ones left and counted; back on the list the DLQ's count is the
// late ones and every planned message is in its own origin queue.
func TestTUIRedriveRabbitMQ(t *testing.T) {
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	// A vhost of its own: the DLQ view peeks at every DLQ it lists (fetched
	// and requeued), which must not touch other tests' queues on the shared
	// broker. Deleting the vhost deletes everything in it.
	url := tuiVhost(t, amqptest.URL(t), "eddy-test-tui-"+hex.EncodeToString(rb[:]))
	// Short names: the DLQ list shows 28 columns of a name.
	base := "tui" + hex.EncodeToString(rb[:])
	ex, dlx, dlqName := base+".x", base+".dlx", base+".dlq"
	origins := []string{base + ".a", base + ".b"}
	conn := amqptest.Dial(t, url)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ch.ExchangeDeclare(ex, "topic", false, false, false, false, nil))
	must(ch.ExchangeDeclare(dlx, "fanout", false, false, false, false, nil))
	_, err = ch.QueueDeclare(dlqName, false, false, false, false, nil)
	must(err)
	must(ch.QueueBind(dlqName, "", dlx, false, nil))
	for _, q := range origins {
		_, err := ch.QueueDeclare(q, false, false, false, false, amqp091.Table{"x-dead-letter-exchange": dlx})
		must(err)
		must(ch.QueueBind(q, q, ex, false, nil))
	}
	const n = 10
	for _, q := range origins {
		for i := range n {
			amqptest.PublishTo(t, url, ex, q, amqp091.Publishing{MessageId: q + "/" + strconv.Itoa(i), Body: []byte(`{"n":1}`), DeliveryMode: amqp091.Persistent})
		}
		rejectAll(t, url, q, n)
	}
	amqptest.Eventually(t, 10*time.Second, "the dead letters", func() bool { return amqptest.Depth(t, url, dlqName) == 2*n })

	dir := t.TempDir()
	be, out := tuiRabbitBackend(t, url, dir, dir+"/ledger.db")
	be.SetBacklog(true) // eddy tui --backlog: the DLQ view reads the queue's errors
	if be.Kafka != nil {
		t.Fatal("a Kafka client for a RabbitMQ-only context")
	}
	p, tm, quit := runTUI(t, be)

	row := "amqp:" + dlqName
	tm.Type("4")
	s := p.wait(t, "the DLQ list with "+row, func(s string) bool {
		c, ok := screenCount(s, row)
		return ok && c == 2*n
	})
	// The vhost is the test's own: its DLQ is the only one, under the cursor.
	if !strings.Contains(s, fmt.Sprintf("1 DLQs · %d messages", 2*n)) || !strings.Contains(s, "▸ "+row) {
		t.Fatalf("the DLQ list:\n%s", s)
	}
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	p.wait(t, "the error groups", func(s string) bool { return strings.Contains(s, "DLQ "+dlqName) && strings.Contains(s, "ORIGIN") })
	// enter on a group lists its messages; enter on one opens it, found by
	// peeking at the queue (fetched and requeued: the DLQ stays whole).
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	p.wait(t, "a group's messages", func(s string) bool { return strings.Contains(s, "first: ") })
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	p.wait(t, "the message's event", func(s string) bool {
		return strings.Contains(s, "› Event │") && strings.Contains(s, "origin      amqp:"+dlqName) && strings.Contains(s, "x-death")
	})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	p.wait(t, "back to the messages", func(s string) bool { return strings.Contains(s, "first: ") })
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	p.wait(t, "back to the groups", func(s string) bool { return strings.Contains(s, "ORIGIN") })
	tm.Type("P")
	p.wait(t, "the plan", func(s string) bool {
		return strings.Contains(s, "plan (dry run") && strings.Contains(s, "→ amqp:") && strings.Contains(s, "Y redrives")
	})
	// The plan is a dry run: the queue is whole, the origins empty.
	if d := amqptest.Depth(t, url, dlqName); d != 2*n {
		t.Fatalf("after the plan the DLQ holds %d, want %d", d, 2*n)
	}
	// Letters that arrive between the plan and Y are not part of it: Y
	// moves the planned 2n and leaves these, saying so.
	const late = 3
	for i := range late {
		amqptest.PublishTo(t, url, ex, origins[0], amqp091.Publishing{MessageId: origins[0] + "/late" + strconv.Itoa(i), Body: []byte(`{"n":2}`), DeliveryMode: amqp091.Persistent})
	}
	rejectAll(t, url, origins[0], late)
	amqptest.Eventually(t, 10*time.Second, "the late dead letters", func() bool { return amqptest.Depth(t, url, dlqName) == 2*n+late })
	tm.Type("Y")
	s = p.wait(t, "the result", func(s string) bool { return strings.Contains(s, "result") && strings.Contains(s, "done") })
	var redriven int64 = -1
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "redriven" {
			redriven, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	if redriven != 2*n || !strings.Contains(s, fmt.Sprintf("%d new letter(s) arrived since the plan and were left in the DLQ", late)) {
		t.Fatalf("redriven %d, want %d, and %d new letters left:\n%s", redriven, 2*n, late, s)
	}
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	p.wait(t, "the DLQ's count read again", func(s string) bool {
		c, ok := screenCount(s, row)
		return ok && c == late && !strings.Contains(s, "reading")
	})
	for _, q := range origins {
		amqptest.Eventually(t, 10*time.Second, q+" refilled", func() bool { return amqptest.Depth(t, url, q) == n })
		got := drain(t, url, q)
		for i := range n {
			if c, ok := got[q+"/"+strconv.Itoa(i)]; !ok || c != "1" {
				t.Fatalf("%s: message %d arrived %v with eddy-redrive-count %q; got %v", q, i, ok, c, got)
			}
		}
	}
	quit()
	if out.Len() != 0 {
		t.Fatalf("stdout: %q", out.String())
	}
}

// TestTUIRedriveKafkaBackend: the Redrive `eddy tui` wires for a Kafka DLQ
// is eddy dlq redrive's (planRedrive, the job log next to the ledger,
// dlq.RedriveKafka): the plan writes nothing, the run puts every letter of
// the selected error back in its origin, and the other stays.
func TestTUIRedriveKafkaBackend(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	origin := kafkatest.NewTopic(t, seeds, 1)
	dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 1)
	var recs []*kgo.Record
	for i := range 4 {
		msg := "timeout"
		if i == 3 {
			msg = "bad input"
		}
		recs = append(recs, springLetter(dlt, origin, 0, int64(i), msg, "v"+strconv.Itoa(i)))
	}
	kafkatest.Produce(t, seeds, recs...)
	f, dir := tuiPinFactory(t, seeds)
	be, err := tuiBackend(f)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx := context.Background()
	req := tui.RedriveRequest{Transport: "kafka", DLQ: dlt, Error: "^(?:timeout)$", DryRun: true}
	plan, err := be.Redrive(ctx, req, nil)
	if err != nil || plan.Redriven != 3 || plan.Unselected != 1 {
		t.Fatalf("plan: %v, %+v", err, plan)
	}
	if n := len(kafkatest.ReadCommitted(t, seeds, origin)); n != 0 {
		t.Fatalf("the plan wrote %d records", n)
	}
	// A group of the DLQ view is selected by its masked error, as dlq
	// show groups it.
	byGroup, err := be.Redrive(ctx, tui.RedriveRequest{Transport: "kafka", DLQ: dlt, Patterns: []string{"timeout"}, DryRun: true}, nil)
	if err != nil || byGroup.Redriven != 3 || byGroup.Unselected != 1 {
		t.Fatalf("plan of a group: %v, %+v", err, byGroup)
	}
	req.DryRun = false
	var progressed bool
	rep, err := be.Redrive(ctx, req, func(replay.Summary) { progressed = true })
	if err != nil || rep.Redriven != 3 || !progressed {
		t.Fatalf("run: %v, %+v, progress %v", err, rep, progressed)
	}
	waitRecords(t, seeds, origin, 3)
	if left, _ := dlqCount(t, seeds, dir+"/ledger.db", dlt); left != 1 {
		t.Fatalf("dlq show counts %d left, want 1", left)
	}
}
