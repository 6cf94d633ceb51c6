package main

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/redistest"
)

// TestRedriveAMQPWorkersRedisLedger, on the real RabbitMQ and Redis: two
// `eddy dlq redrive` processes of one job consume one DLQ of 20,000
// broker-dead-lettered messages at once, sharing a Redis ledger. RabbitMQ
// gives each message to one of them (each holds at most its prefetch
// window, 10,000, so both get a share); both end with exit 0, each moved
// some, together all; each destination holds exactly its origin's ids, once
// each; the DLQ ends empty.
func TestRedriveAMQPWorkersRedisLedger(t *testing.T) {
	url := amqptest.URL(t)
	rurl := redistest.URL(t)
	bin := eddyBinary(t)
	const perOrigin = 10000
	d := deadLetter(t, url, perOrigin, "orders", "payments")
	home := t.TempDir()
	job := "workers-" + d.DLQ
	t.Cleanup(func() {
		if l, err := replay.OpenRedisLedger(context.Background(), rurl); err == nil {
			l.Prune(replay.Prune{Job: job})
			l.Close()
		}
	})
	eddy := func(args ...string) *exec.Cmd { return eddyAMQPCmd(t, bin, url, home, args...) }
	args := []string{"dlq", "redrive", "amqp:" + d.DLQ, "--ledger", rurl, "--job", job, "--rate", "4000"}
	var moved int64
	for i, w := range startWorkersOf(t, eddy, args, "", "") {
		var rep redriveReport
		w.report(t, &rep)
		t.Logf("worker %d redrove %d messages, %d held", i+1, rep.Redriven, rep.Held)
		if rep.Redriven == 0 {
			t.Errorf("worker %d moved no share", i+1)
		}
		moved += rep.Redriven
	}
	if moved != 2*perOrigin {
		t.Errorf("the workers redrove %d messages together, want %d", moved, 2*perOrigin)
	}
	amqptest.Eventually(t, 30*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, d.DLQ) == 0 })
	if dups := d.checkExactlyItsIDs(t, d.drainDest(t)); dups != 0 {
		t.Fatalf("%d duplicates with no worker killed", dups)
	}
}
