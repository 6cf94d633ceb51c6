package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// deadLettered is a RabbitMQ DLQ filled by the broker itself: messages
// published to origin exchanges expired at once in their queues (x-message-ttl
// 0) and were dead-lettered, with true x-death headers, into DLQ. After that
// the expiring queues are unbound and each origin exchange routes its key to
// a fresh destination queue, so a redrive back to the x-death origins lands
// in Dest[exchange].
type deadLettered struct {
	URL  string
	DLQ  string
	Dest map[string]string // origin exchange -> the queue it now routes to
	IDs  map[string]string // message id -> its origin exchange
}

// deadLetter makes one origin exchange per name in origins with n messages
// each (ids ORIGIN-0…), dead-letters them all into one DLQ, and cleans up
// when the test ends.
func deadLetter(t *testing.T, url string, n int, origins ...string) *deadLettered {
	t.Helper()
	d := &deadLettered{URL: url, DLQ: amqptest.Name(t, "dlq"), Dest: map[string]string{}, IDs: map[string]string{}}
	dlx := amqptest.Name(t, "dlx")
	var queues, exchanges []string
	t.Cleanup(func() {
		c := amqptest.Dial(t, url)
		for _, q := range queues {
			if ch, err := c.Channel(); err == nil {
				ch.QueueDelete(q, false, false, false)
				ch.Close()
			}
		}
		for _, x := range exchanges {
			if ch, err := c.Channel(); err == nil {
				ch.ExchangeDelete(x, false, false)
				ch.Close()
			}
		}
	})
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ch.ExchangeDeclare(dlx, "fanout", false, false, false, false, nil))
	exchanges = append(exchanges, dlx)
	_, err = ch.QueueDeclare(d.DLQ, true, false, false, false, nil)
	must(err)
	queues = append(queues, d.DLQ)
	must(ch.QueueBind(d.DLQ, "", dlx, false, nil))
	for _, o := range origins {
		x, expiring, key := amqptest.Name(t, o), amqptest.Name(t, o+"-in"), o+".created"
		must(ch.ExchangeDeclare(x, "direct", false, false, false, false, nil))
		exchanges = append(exchanges, x)
		_, err := ch.QueueDeclare(expiring, false, false, false, false, amqp091.Table{"x-message-ttl": int32(0), "x-dead-letter-exchange": dlx})
		must(err)
		queues = append(queues, expiring)
		must(ch.QueueBind(expiring, key, x, false, nil))
		msgs := make([]amqp091.Publishing, n)
		for i := range msgs {
			id := o + "-" + strconv.Itoa(i)
			d.IDs[id] = x
			msgs[i] = amqp091.Publishing{MessageId: id, DeliveryMode: amqp091.Persistent, Body: []byte("payload of " + id)}
		}
		amqptest.PublishTo(t, url, x, key, msgs...)
		must(ch.QueueUnbind(expiring, key, x, nil))
		dest := amqptest.Name(t, o+"-dest")
		_, err = ch.QueueDeclare(dest, true, false, false, false, nil)
		must(err)
		queues = append(queues, dest)
		must(ch.QueueBind(dest, key, x, false, nil))
		d.Dest[x] = dest
	}
	amqptest.Eventually(t, 60*time.Second, "every message dead-lettered", func() bool {
		return amqptest.Depth(t, url, d.DLQ) == n*len(origins)
	})
	return d
}

// landed returns how many messages the destination queues hold.
func (d *deadLettered) landed(t *testing.T) int {
	n := 0
	for _, q := range d.Dest {
		n += amqptest.Depth(t, d.URL, q)
	}
	return n
}

// drainDest consumes every destination queue and returns, per queue, each
// message id with the eddy-redrive-id of each copy.
func (d *deadLettered) drainDest(t *testing.T) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	ch, err := amqptest.Dial(t, d.URL).Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range d.Dest {
		out[q] = map[string][]string{}
		for {
			m, ok, err := ch.Get(q, true)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			rid, _ := m.Headers["eddy-redrive-id"].(string)
			out[q][m.MessageId] = append(out[q][m.MessageId], rid)
		}
	}
	return out
}

func eddyAMQPCmd(t *testing.T, bin, url, home string, args ...string) *exec.Cmd {
	cmd := eddyAt(bin, home, args...)
	cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+home, "EDDY_AMQP_URL="+url, "EDDY_AMQP_MGMT_URL="+amqptest.ManagementURL(t, url))
	return cmd
}

// checkExactlyItsIDs checks that every destination holds exactly the ids of
// its origin, each at least once, and that every duplicate's copies share
// one non-empty eddy-redrive-id (the ledger flagged them in progress). It
// returns the number of duplicates.
func (d *deadLettered) checkExactlyItsIDs(t *testing.T, got map[string]map[string][]string) int {
	t.Helper()
	want := map[string]int{}
	for id, x := range d.IDs {
		q := d.Dest[x]
		want[q]++
		if len(got[q][id]) == 0 {
			t.Fatalf("%s never landed in %s", id, q)
		}
	}
	dups := 0
	for q, ids := range got {
		if len(ids) != want[q] {
			t.Fatalf("%s holds %d distinct ids, want %d", q, len(ids), want[q])
		}
		for id, rids := range ids {
			if d.Dest[d.IDs[id]] != q {
				t.Fatalf("%s landed in %s, not in its origin's queue", id, q)
			}
			if len(rids) > 1 {
				dups += len(rids) - 1
				for _, r := range rids {
					if r == "" || r != rids[0] {
						t.Fatalf("%s: copies with eddy-redrive-id %q", id, rids)
					}
				}
			}
		}
	}
	return dups
}

// TestRedriveAMQPKillAndRerun, on the real RabbitMQ: 20,000 messages the
// broker dead-lettered from two origin exchanges into one DLQ are redriven
// by `eddy dlq redrive`, which is SIGKILLed at about 20%, 40% and 60% and
// rerun until done. Each destination holds exactly its origin's ids; the
// only duplicates are messages in flight at a kill, and all their copies
// carry the same eddy-redrive-id; the DLQ ends empty.
func TestRedriveAMQPKillAndRerun(t *testing.T) {
	url := amqptest.URL(t)
	bin := eddyBinary(t)
	const perOrigin = 10000
	d := deadLetter(t, url, perOrigin, "orders", "payments")
	home := t.TempDir()
	run := func(args ...string) *exec.Cmd {
		return eddyAMQPCmd(t, bin, url, home, append([]string{"dlq", "redrive", "amqp:" + d.DLQ, "--ledger", home + "/ledger.db"}, args...)...)
	}
	for _, pct := range []int{20, 40, 60} {
		cmd := run("--rate", "3000")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		amqptest.Eventually(t, 120*time.Second, fmt.Sprintf("%d%% landed", pct), func() bool {
			select {
			case err := <-exited:
				t.Fatalf("redrive exited before the kill at %d%%: %v\n%s", pct, err, stderr.String())
			default:
			}
			return d.landed(t) >= 2*perOrigin*pct/100
		})
		cmd.Process.Kill() // SIGKILL: no chance to finish a batch or ack
		<-exited
		t.Logf("killed at %d%%: %d landed, %d left in the DLQ", pct, d.landed(t), amqptest.Depth(t, url, d.DLQ))
	}
	if out, err := run().CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	amqptest.Eventually(t, 30*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, d.DLQ) == 0 })
	dups := d.checkExactlyItsIDs(t, d.drainDest(t))
	t.Logf("%d messages redriven to two origins, %d duplicates (in flight at a kill), all flagged by a shared eddy-redrive-id", len(d.IDs), dups)

	// A rerun of the finished job moves nothing (the DLQ is empty, and the
	// ledger would skip anything of this job put back).
	code, out, errOut := runEddyEnv(t, url, home, "dlq", "redrive", "amqp:"+d.DLQ, "--ledger", home+"/ledger.db", "-o", "json")
	if code != 0 || !strings.Contains(out, `"redriven":0`) {
		t.Fatalf("rerun of a finished job: exit %d\n%s\n%s", code, out, errOut)
	}
}

func runEddyEnv(t *testing.T, url, home string, args ...string) (int, string, string) {
	t.Helper()
	cmd := eddyAMQPCmd(t, eddyBinary(t), url, home, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// TestRedriveAMQPUnroutable: the origin exchange has no binding for the
// dead letters' routing key any more — every message is returned, nothing is
// acked away (the DLQ keeps them all), and eddy exits 3 listing them.
func TestRedriveAMQPUnroutable(t *testing.T) {
	url := amqptest.URL(t)
	d := deadLetter(t, url, 5, "shipping")
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	for x, q := range d.Dest {
		if err := ch.QueueUnbind(q, "shipping.created", x, nil); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	code, out, errOut := runEddyEnv(t, url, home, "dlq", "redrive", "amqp:"+d.DLQ, "--ledger", home+"/ledger.db")
	if code != ExitPartial {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	for id := range d.IDs {
		if !strings.Contains(out+errOut, id) {
			t.Fatalf("%s is not listed:\n%s\n%s", id, out, errOut)
		}
	}
	if n := amqptest.Depth(t, url, d.DLQ); n != 5 {
		t.Fatalf("the DLQ holds %d, want all 5 still there", n)
	}
}

// TestRedriveAMQPOutage: eddy's connections to the broker are force-closed
// through the management API, again and again, while a redrive runs — what a
// broker restart does to a client, without restarting the broker that other
// tests share. Each run either finishes or exits non-zero with the ledger
// resumable; rerunning until it exits 0 leaves each destination with exactly
// its ids (duplicates only among flagged ones) and the DLQ empty.
func TestRedriveAMQPOutage(t *testing.T) {
	url := amqptest.URL(t)
	const perOrigin = 2500
	d := deadLetter(t, url, perOrigin, "orders", "payments")
	home := t.TempDir()
	bin := eddyBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	runs, failed := 0, 0
	for ; runs < 10; runs++ {
		cmd := eddyAMQPCmd(t, bin, url, home, "dlq", "redrive", "amqp:"+d.DLQ, "--ledger", home+"/ledger.db", "--rate", "400", "--timeout", "5s")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var err error
		cuts := 0
		start := d.landed(t)
	watch:
		for {
			select {
			case err = <-exited:
				break watch
			case <-ctx.Done():
				t.Fatal("timed out")
			case <-time.After(100 * time.Millisecond):
			}
			// The connections of the first run are cut twice, once some
			// messages moved (and those of the second run, if the first
			// ended by the outage). The management API lists a new connection
			// only after its first statistics (5 s by default), so a cut
			// waits for that.
			if runs < 2 && cuts < 2 && d.landed(t) > start+100*(cuts+1) {
				// Only this test's: other tests share the broker. The
				// consumer's connection is named after the DLQ, the sinks'
				// after their exchanges (the admin connection is left).
				n := amqptest.CloseConnections(t, url, d.DLQ)
				for x := range d.Dest {
					n += amqptest.CloseConnections(t, url, x)
				}
				if n > 0 {
					cuts++
					t.Logf("run %d: closed %d eddy connections at %d landed", runs, n, d.landed(t))
				}
			}
		}
		if err == nil {
			break
		}
		failed++
		t.Logf("run %d: %v\n%s", runs, err, out.String())
	}
	if failed == 0 {
		t.Log("every cut was survived within the run")
	}
	amqptest.Eventually(t, 30*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, d.DLQ) == 0 })
	dups := d.checkExactlyItsIDs(t, d.drainDest(t))
	t.Logf("%d runs (%d ended by an outage), %d duplicates, all flagged", runs+1, failed, dups)
}

// TestReplayAMQPOutage: `eddy replay amqp:DLQ` while its connections are
// force-closed through the management API, three times: the consumer
// reconnects (deliveries of the lost channel are never acked on the new one),
// a write cut in flight is requeued and retried within --timeout, so the one
// run finishes; the destination holds exactly the ids, duplicates only among
// flagged ones, and the DLQ ends empty.
func TestReplayAMQPOutage(t *testing.T) {
	url := amqptest.URL(t)
	d := deadLetter(t, url, 4000, "orders")
	var x string
	for ex := range d.Dest {
		x = ex
	}
	home := t.TempDir()
	cmd := eddyAMQPCmd(t, eddyBinary(t), url, home, "replay", "amqp:"+d.DLQ, "--to", "amqp:exchange/"+x+"/orders.created",
		"--ledger", home+"/ledger.db", "--rate", "400", "--timeout", "20s", "-o", "json")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	cuts := 0
	var err error
watch:
	for {
		select {
		case err = <-exited:
			break watch
		case <-time.After(100 * time.Millisecond):
		}
		if cuts < 3 && d.landed(t) > 300*(cuts+1) {
			if n := amqptest.CloseConnections(t, url, d.DLQ) + amqptest.CloseConnections(t, url, x); n > 0 {
				cuts++
				t.Logf("closed %d eddy connections at %d landed", n, d.landed(t))
			}
		}
	}
	if err != nil {
		t.Fatalf("replay through %d outages: %v\n%s\n%s", cuts, err, out.String(), errOut.String())
	}
	if cuts == 0 {
		t.Fatal("no connection was cut: the test proved nothing")
	}
	amqptest.Eventually(t, 30*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, d.DLQ) == 0 })
	dups := d.checkExactlyItsIDs(t, d.drainDest(t))
	t.Logf("%d cuts survived in one run, %d duplicates (all flagged): %s", cuts, dups, out.String())
}
