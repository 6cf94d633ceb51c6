package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/redistest"
)

// redriveAMQPOut runs redrive on a RabbitMQ DLQ in process (JSON report).
func redriveAMQPOut(t *testing.T, url, ledger string, o RedriveOptions) (redriveReport, string, error) {
	t.Helper()
	f, out, errOut := testFactory(false)
	f.Global.AMQPURL, f.Global.AMQPMgmtURL, f.Global.Timeout = url, os.Getenv("EDDY_TEST_AMQP_MGMT"), 10*time.Second
	return redriveJSON(t, f, out, errOut, ledger, o)
}

// drain takes every message of queue (acked) and returns their message ids
// and eddy-redrive-count headers.
func drain(t *testing.T, url, queue string) map[string]string {
	t.Helper()
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
		c, _ := d.Headers[dlq.HeaderRedriveCount].(string)
		got[d.MessageId] = c
	}
}

// rejectAll makes the broker dead-letter n messages of queue.
func rejectAll(t *testing.T, url, queue string, n int) {
	t.Helper()
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		d, ok, err := ch.Get(queue, false)
		if err != nil || !ok {
			t.Fatalf("get %s: %v %v", queue, ok, err)
		}
		if err := d.Nack(false, false); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRedriveRabbitMQ: a DLQ holding messages the broker dead-lettered from
// two queues fed by two exchanges, and one message without x-death. The
// redrive publishes each back to the exchange and routing key its x-death
// records (so each origin queue gets exactly its own), acks them, leaves the
// unknown one in the DLQ and exits 3 listing it. An unroutable --to refuses
// everything: nothing is acked away, exit 3.
func TestRedriveRabbitMQ(t *testing.T) {
	url := amqptest.URL(t)
	one := amqptest.Topology(t, url, amqptest.DeadLetter())
	two := amqptest.Topology(t, url, amqptest.QueueArg("x-dead-letter-exchange", one.DLX))
	const n = 20
	for i := range n {
		one.Publish(t, amqp091.Publishing{MessageId: "a" + strconv.Itoa(i), Body: []byte("a"), DeliveryMode: amqp091.Persistent})
		two.Publish(t, amqp091.Publishing{MessageId: "b" + strconv.Itoa(i), Body: []byte("b"), DeliveryMode: amqp091.Persistent})
	}
	rejectAll(t, url, one.Queue, n)
	rejectAll(t, url, two.Queue, n)
	amqptest.PublishTo(t, url, "", one.DLQ, amqp091.Publishing{MessageId: "stray", Body: []byte("?")})
	amqptest.Eventually(t, 10*time.Second, "41 dead letters", func() bool { return amqptest.Depth(t, url, one.DLQ) == 2*n+1 })
	ledger := t.TempDir() + "/l.db"

	rep, stderr, err := redriveAMQPOut(t, url, ledger, RedriveOptions{DLQ: "amqp:" + one.DLQ, DryRun: true})
	if exitCode(err) != ExitPartial || rep.Mode != "dry-run" || rep.Redriven != 2*n || rep.Unknown != 1 || len(rep.Targets) != 2 {
		t.Fatalf("dry run: exit %d (%v), %+v, %s", exitCode(err), err, rep, stderr)
	}
	if d := amqptest.Depth(t, url, one.DLQ); d != 2*n+1 || amqptest.Depth(t, url, one.Queue)+amqptest.Depth(t, url, two.Queue) != 0 {
		t.Fatalf("the dry run changed the queues: DLQ %d", d)
	}

	rep, stderr, err = redriveAMQPOut(t, url, ledger, RedriveOptions{DLQ: "amqp:" + one.DLQ, To: "amqp:exchange/" + one.Exchange + "/nobody-binds-this"})
	if exitCode(err) != ExitPartial || rep.Unknown != 2*n+1 || rep.Redriven != 0 {
		t.Fatalf("unroutable: exit %d (%v), %+v, %s", exitCode(err), err, rep, stderr)
	}
	if d := amqptest.Depth(t, url, one.DLQ); d != 2*n+1 {
		t.Fatalf("after an unroutable redrive the DLQ holds %d, want %d", d, 2*n+1)
	}

	rep, stderr, err = redriveAMQPOut(t, url, ledger, RedriveOptions{DLQ: "amqp:" + one.DLQ})
	if exitCode(err) != ExitPartial || rep.Redriven != 2*n || rep.Unknown != 1 || len(rep.Left) != 1 || rep.Mode != "ledger" ||
		!strings.Contains(stderr, "eddy: note: the parking queue "+dlq.ParkingName(one.DLQ)+" does not exist") {
		t.Fatalf("redrive: exit %d (%v), %+v, %s", exitCode(err), err, rep, stderr)
	}
	for _, tc := range []struct{ queue, prefix string }{{one.Queue, "a"}, {two.Queue, "b"}} {
		amqptest.Eventually(t, 10*time.Second, tc.queue, func() bool { return amqptest.Depth(t, url, tc.queue) == n })
		got := drain(t, url, tc.queue)
		for i := range n {
			if c, ok := got[tc.prefix+strconv.Itoa(i)]; !ok || c != "1" {
				t.Fatalf("%s: %s%d arrived %v with eddy-redrive-count %q; got %v", tc.queue, tc.prefix, i, ok, c, got)
			}
		}
		if len(got) != n {
			t.Fatalf("%s holds %d messages, want %d", tc.queue, len(got), n)
		}
	}
	amqptest.Eventually(t, 10*time.Second, "the stray letter back in the DLQ", func() bool { return amqptest.Depth(t, url, one.DLQ) == 1 })
}

// TestRedriveRabbitMQParks: a dead letter that was redriven --max-redrives
// times already is published to the parking queue with eddy-park-reason and
// acked; the DLQ ends empty.
func TestRedriveRabbitMQParks(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	park := dlq.ParkingName(tp.DLQ)
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(park, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := amqptest.Dial(t, url).Channel(); err == nil {
			ch.QueueDelete(park, false, false, false)
		}
	})
	tp.Publish(t, amqp091.Publishing{MessageId: "tired", Body: []byte("x"), Headers: amqp091.Table{dlq.HeaderRedriveCount: "3"}})
	rejectAll(t, url, tp.Queue, 1)
	amqptest.Eventually(t, 10*time.Second, "the dead letter", func() bool { return amqptest.Depth(t, url, tp.DLQ) == 1 })

	rep, stderr, err := redriveAMQPOut(t, url, t.TempDir()+"/l.db", RedriveOptions{DLQ: "amqp:" + tp.DLQ})
	if err != nil || rep.Parked != 1 || rep.Redriven != 0 {
		t.Fatalf("%v, %+v, %s", err, rep, stderr)
	}
	amqptest.Eventually(t, 10*time.Second, "the parked letter", func() bool { return amqptest.Depth(t, url, park) == 1 })
	d, ok, err := ch.Get(park, true)
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if reason, _ := d.Headers[dlq.HeaderParkReason].(string); d.MessageId != "tired" || reason == "" {
		t.Fatalf("parked %q with headers %v", d.MessageId, d.Headers)
	}
	if n := amqptest.Depth(t, url, tp.DLQ) + amqptest.Depth(t, url, tp.Queue); n != 0 {
		t.Fatalf("%d message(s) left in the DLQ and the origin", n)
	}
}

// TestRedriveRabbitMQHeld: two operators redrive one RabbitMQ DLQ with one
// Redis ledger. What the other live run holds in progress is neither
// published nor acked here: it is reported as held (not as nacked), named in
// the list, and the command exits 3; once the other run is gone, the same
// command moves exactly those and the DLQ ends empty.
func TestRedriveRabbitMQHeld(t *testing.T) {
	url := amqptest.URL(t)
	rurl := redistest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	const n = 6
	for i := range n {
		tp.Publish(t, amqp091.Publishing{MessageId: "h" + strconv.Itoa(i), Body: []byte("h"), DeliveryMode: amqp091.Persistent})
	}
	rejectAll(t, url, tp.Queue, n)
	amqptest.Eventually(t, 10*time.Second, "the dead letters", func() bool { return amqptest.Depth(t, url, tp.DLQ) == n })

	// The identities, as the redrive reads them (peeked: the DLQ stays whole).
	c, err := amqp.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, err := c.Source(context.Background(), []bus.Address{{Transport: "amqp", Name: tp.DLQ}}, bus.ReadOptions{Backlog: true,
		From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for len(ids) < n {
		evs, err := src.Next(context.Background())
		if err != nil {
			t.Fatalf("peeking: %v (%d read)", err, len(ids))
		}
		for i := range evs {
			ids[evs[i].Properties.MessageID] = replay.DefaultIdentity(&evs[i])
		}
	}
	src.Close()
	amqptest.Eventually(t, 10*time.Second, "the peeked letters back", func() bool { return amqptest.Depth(t, url, tp.DLQ) == n })

	job := "held-" + tp.DLQ
	other, err := replay.OpenRedisLedger(context.Background(), rurl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := replay.OpenRedisLedger(context.Background(), rurl); err == nil {
			l.Prune(replay.Prune{Job: job})
			l.Close()
		}
	})
	defer other.Close()
	if _, err := other.Begin(job, []string{ids["h1"], ids["h4"]}); err != nil {
		t.Fatal(err)
	}

	rep, stderr, err := redriveAMQPOut(t, url, rurl, RedriveOptions{DLQ: "amqp:" + tp.DLQ, Job: job})
	if exitCode(err) != ExitPartial || rep.Redriven != n-2 || rep.Held != 2 || rep.Unknown != 0 || len(rep.Left) != 2 ||
		!strings.Contains(err.Error(), "2 message(s) left in amqp:"+tp.DLQ+": in progress in another run sharing the ledger") {
		t.Fatalf("beside another run: exit %d (%v), %+v, %s", exitCode(err), err, rep, stderr)
	}
	for _, l := range rep.Left {
		if l.Outcome != dlq.Held || !strings.HasPrefix(l.Reason, "held: in progress in another run") ||
			(l.ID != ids["h1"] && l.ID != ids["h4"]) {
			t.Errorf("left %+v; stderr %s", l, stderr)
		}
	}
	amqptest.Eventually(t, 10*time.Second, "the held letters back in the DLQ", func() bool { return amqptest.Depth(t, url, tp.DLQ) == 2 })
	if got := drain(t, url, tp.Queue); len(got) != n-2 || got["h1"] != "" || got["h4"] != "" {
		t.Fatalf("redriven %v", got)
	}

	// The other run ends without finishing them: they are taken over.
	other.Close()
	rep, stderr, err = redriveAMQPOut(t, url, rurl, RedriveOptions{DLQ: "amqp:" + tp.DLQ, Job: job})
	if err != nil || rep.Redriven != 2 || rep.Held != 0 {
		t.Fatalf("after the other run: %v, %+v, %s", err, rep, stderr)
	}
	amqptest.Eventually(t, 10*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, tp.DLQ) == 0 })
	if got := drain(t, url, tp.Queue); len(got) != 2 || got["h1"] != "1" || got["h4"] != "1" {
		t.Fatalf("redriven on the rerun %v", got)
	}
}

// TestRedriveRabbitMQCC, on the real RabbitMQ: a message published with CC
// (sender-selected distribution) to two queues, each of which dead-letters
// its own copy — one through a fanout dead-letter exchange (the copy keeps
// its CC header), one through the default exchange with
// x-dead-letter-routing-key (the broker strips CC). x-death records both
// keys for both copies; the redrive puts each copy back in the queue it died
// in, once: not in the other queue, not twice. A message published with one
// key still goes back through its exchange and key.
func TestRedriveRabbitMQCC(t *testing.T) {
	url := amqptest.URL(t)
	ex, qa, qb, dlx, dlqName := amqptest.Name(t, "x"), amqptest.Name(t, "a"), amqptest.Name(t, "b"), amqptest.Name(t, "dlx"), amqptest.Name(t, "dlq")
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := amqptest.Dial(t, url).Channel(); err == nil {
			for _, q := range []string{qa, qb, dlqName} {
				ch.QueueDelete(q, false, false, false)
			}
			ch.ExchangeDelete(ex, false, false)
			ch.ExchangeDelete(dlx, false, false)
		}
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ch.ExchangeDeclare(ex, "direct", false, false, false, false, nil))
	must(ch.ExchangeDeclare(dlx, "fanout", false, false, false, false, nil))
	for q, args := range map[string]amqp091.Table{
		dlqName: nil,
		qa:      {"x-dead-letter-exchange": dlx},
		qb:      {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlqName},
	} {
		_, err := ch.QueueDeclare(q, false, false, false, false, args)
		must(err)
	}
	must(ch.QueueBind(dlqName, "", dlx, false, nil))
	must(ch.QueueBind(qa, "ka", ex, false, nil))
	must(ch.QueueBind(qb, "kb", ex, false, nil))
	amqptest.PublishTo(t, url, ex, "ka", amqp091.Publishing{MessageId: "cc", Body: []byte("cc"), Headers: amqp091.Table{"CC": []any{"kb"}}})
	amqptest.PublishTo(t, url, ex, "ka", amqp091.Publishing{MessageId: "one", Body: []byte("one")})
	amqptest.Eventually(t, 10*time.Second, "the published copies", func() bool {
		return amqptest.Depth(t, url, qa) == 2 && amqptest.Depth(t, url, qb) == 1
	})
	rejectAll(t, url, qa, 2)
	rejectAll(t, url, qb, 1)
	amqptest.Eventually(t, 10*time.Second, "3 dead letters", func() bool { return amqptest.Depth(t, url, dlqName) == 3 })

	rep, stderr, err := redriveAMQPOut(t, url, t.TempDir()+"/l.db", RedriveOptions{DLQ: "amqp:" + dlqName})
	if err != nil || rep.Redriven != 3 {
		t.Fatalf("redrive: %v, %+v, %s", err, rep, stderr)
	}
	targets := map[string]int64{}
	for _, c := range rep.Targets {
		targets[c.Target] = c.Count
	}
	if targets["amqp:"+qa] != 1 || targets["amqp:"+qb] != 1 || targets["amqp:exchange/"+ex+"/ka"] != 1 {
		t.Fatalf("targets %v", rep.Targets)
	}
	amqptest.Eventually(t, 10*time.Second, "the redriven copies", func() bool {
		return amqptest.Depth(t, url, qa) == 2 && amqptest.Depth(t, url, qb) == 1 && amqptest.Depth(t, url, dlqName) == 0
	})
	for q, want := range map[string][]string{qa: {"cc", "one"}, qb: {"cc"}} {
		got := map[string]int{}
		for {
			d, ok, err := ch.Get(q, true)
			must(err)
			if !ok {
				break
			}
			if _, cc := d.Headers["CC"]; cc {
				t.Errorf("%s: %s redriven with its CC header %v", q, d.MessageId, d.Headers["CC"])
			}
			got[d.MessageId]++
		}
		if len(got) != len(want) {
			t.Errorf("%s holds %v, want %v once each", q, got, want)
		}
		for _, id := range want {
			if got[id] != 1 {
				t.Errorf("%s holds %v, want %v once each", q, got, want)
			}
		}
	}
}
