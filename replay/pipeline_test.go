package replay_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/replay"
)

// watchedLedger is the real ledger, watched: at every Complete it checks
// that the consumer has acked no more than the identities already Completed
// (an ack sent before its COMPLETED would show), and from the failAt-th call
// on it simulates a crash — before the commit (the copies were confirmed,
// the ledger never hears of it) or, with afterCommit, after it (COMPLETED is
// durable, the acks never go out).
type watchedLedger struct {
	*replay.BoltLedger
	t           *testing.T
	k           *amqp.Consumer
	failAt      int
	afterCommit bool

	mu        sync.Mutex
	calls     int
	completed int64
}

func (w *watchedLedger) Complete(job string, ids []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if acked := w.k.Stats().Acked; acked > w.completed {
		w.t.Errorf("%d deliveries acked before Complete, with only %d identities Completed", acked, w.completed)
	}
	w.calls++
	if w.calls >= w.failAt && !w.afterCommit {
		return errors.New("simulated crash")
	}
	if err := w.BoltLedger.Complete(job, ids); err != nil {
		return err
	}
	if w.calls >= w.failAt {
		return errors.New("simulated crash")
	}
	w.completed += int64(len(ids))
	return nil
}

// pipelinedFixture fills a durable queue with n persistent messages (ids
// m0…) and returns it with a topology (exchange → queue) to move them to.
func pipelinedFixture(t *testing.T, url string, n int) (dlq string, to *amqptest.Topo) {
	src := amqptest.Topology(t, url)
	to = amqptest.Topology(t, url)
	msgs := make([]amqp091.Publishing, n)
	for i := range msgs {
		msgs[i] = amqp091.Publishing{MessageId: fmt.Sprintf("m%d", i), DeliveryMode: amqp091.Persistent, Body: fmt.Appendf(nil, "body %d", i)}
	}
	amqptest.PublishTo(t, url, "", src.Queue, msgs...)
	return src.Queue, to
}

// drainCopies consumes queue and returns the eddy-redrive-ids of the copies
// of each message id.
func drainCopies(t *testing.T, url, queue string) map[string][]string {
	t.Helper()
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for {
		m, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		rid, _ := m.Headers[replay.HeaderRedriveID].(string)
		out[m.MessageId] = append(out[m.MessageId], rid)
	}
}

// runPipelined moves what k consumes to the exchange of to (the
// pipelined path: a consumer acked explicitly, an AMQP sink).
func runPipelined(t *testing.T, c *amqp.Client, to *amqptest.Topo, led replay.Ledger, k *amqp.Consumer) (replay.Summary, error) {
	t.Helper()
	s, err := c.Sink(bus.Address{Transport: "amqp", Exchange: to.Exchange, RoutingKey: to.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return replay.Run(ctxT(t), k, s, replay.Options{Job: "p", Ledger: led})
}

func consume(t *testing.T, c *amqp.Client, queue string) *amqp.Consumer {
	t.Helper()
	k, err := c.Consume(ctxT(t), queue, amqp.ConsumeOptions{Quiet: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPipelinedCrashBeforeCompleted, on the real RabbitMQ: the pipelined
// run confirms copies whose COMPLETED never lands (a crash between the
// confirm and the ledger commit). No delivery is acked before its COMPLETED
// (checked at every commit), so every message not Completed is still in the
// DLQ once the consumer is gone; the rerun moves them all, and the only
// duplicates are messages left InProgress, their copies sharing one
// eddy-redrive-id.
func TestPipelinedCrashBeforeCompleted(t *testing.T) {
	url := amqptest.URL(t)
	const n = 10000 // at least 10 writes of 1,000: more than two groups of at most 4
	dlq, to := pipelinedFixture(t, url, n)
	c, err := amqp.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, _ := openLedger(t)

	k := consume(t, c, dlq)
	w := &watchedLedger{BoltLedger: l, t: t, k: k, failAt: 3}
	_, err = runPipelined(t, c, to, w, k)
	if err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("err = %v, want the simulated crash", err)
	}
	acked := k.Stats().Acked
	k.Close() // gives back what it holds: a crash would too (the connection drops)
	counts, _ := l.Counts("p")
	completed := counts[replay.Completed]
	if completed == 0 || completed >= n || acked != int64(completed) {
		t.Fatalf("after the crash: %d Completed, %d acked; want some, all of them acked and no more", completed, acked)
	}
	if d := amqptest.Depth(t, url, dlq); d != n-completed {
		t.Fatalf("the DLQ holds %d, want the %d not Completed: a message was acked before its COMPLETED", d, n-completed)
	}
	landed := amqptest.Depth(t, url, to.Queue)
	if landed <= completed {
		t.Fatalf("%d landed, want more than the %d Completed (copies confirmed, never recorded)", landed, completed)
	}
	inProgress := map[string]bool{}
	entries, _ := l.Entries("p", replay.InProgress, 0)
	for _, e := range entries {
		inProgress[e.ID[strings.LastIndex(e.ID, "/")+1:]] = true // amqp:QUEUE/ID
	}

	k = consume(t, c, dlq)
	defer k.Close()
	sum, err := runPipelined(t, c, to, l, k)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved != int64(n-completed) || sum.Skipped != 0 {
		t.Fatalf("rerun: %+v, want %d moved", sum, n-completed)
	}
	amqptest.Eventually(t, 10*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, dlq) == 0 })
	copies := drainCopies(t, url, to.Queue)
	if len(copies) != n {
		t.Fatalf("the origin holds %d distinct messages, want %d", len(copies), n)
	}
	dups := 0
	for id, rids := range copies {
		if len(rids) == 1 {
			continue
		}
		dups += len(rids) - 1
		if !inProgress[id] || len(rids) != 2 || rids[0] == "" || rids[0] != rids[1] {
			t.Fatalf("%s: copies %q (in progress after the crash: %v)", id, rids, inProgress[id])
		}
	}
	if dups != landed-completed {
		t.Fatalf("%d duplicates, want the %d confirmed and not Completed", dups, landed-completed)
	}
	t.Logf("%d Completed before the crash, %d confirmed copies not recorded: %d duplicates, all flagged", completed, landed-completed, dups)
}

// TestPipelinedCrashAfterCompleted: the crash comes after COMPLETED is
// durable and before the acks go out. The messages stay in the DLQ, the
// rerun skips them (acking them away) and the origin holds exactly one copy
// of each message.
func TestPipelinedCrashAfterCompleted(t *testing.T) {
	url := amqptest.URL(t)
	const n = 10000 // at least 10 writes of 1,000: more than two groups of at most 4
	dlq, to := pipelinedFixture(t, url, n)
	c, err := amqp.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, _ := openLedger(t)

	k := consume(t, c, dlq)
	w := &watchedLedger{BoltLedger: l, t: t, k: k, failAt: 3, afterCommit: true}
	_, err = runPipelined(t, c, to, w, k)
	if err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("err = %v, want the simulated crash", err)
	}
	acked := k.Stats().Acked
	k.Close()
	counts, _ := l.Counts("p")
	completed := counts[replay.Completed]
	if acked == 0 || int64(completed) <= acked {
		t.Fatalf("after the crash: %d Completed, %d acked; want some Completed and not acked", completed, acked)
	}
	if d := amqptest.Depth(t, url, dlq); d != n-int(acked) {
		t.Fatalf("the DLQ holds %d, want the %d not acked", d, n-int(acked))
	}

	k = consume(t, c, dlq)
	defer k.Close()
	sum, err := runPipelined(t, c, to, l, k)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != int64(completed)-acked || sum.Moved != int64(n-completed) {
		t.Fatalf("rerun: %+v, want %d skipped (Completed, not acked) and %d moved", sum, int64(completed)-acked, n-completed)
	}
	amqptest.Eventually(t, 10*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, dlq) == 0 })
	copies := drainCopies(t, url, to.Queue)
	total := 0
	for id, rids := range copies {
		total += len(rids)
		if len(rids) != 1 {
			t.Fatalf("%s landed %d times", id, len(rids))
		}
	}
	if len(copies) != n || total != n {
		t.Fatalf("the origin holds %d copies of %d messages, want exactly %d", total, len(copies), n)
	}
}
