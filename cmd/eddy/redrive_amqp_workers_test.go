package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
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
	type run struct {
		cmd         *exec.Cmd
		out, errOut strings.Builder
	}
	runs := make([]*run, 2)
	for i := range runs {
		r := &run{cmd: eddyAMQPCmd(t, bin, url, home, "dlq", "redrive", "amqp:"+d.DLQ, "--ledger", rurl, "--job", job,
			"--rate", "4000", "-o", "json")}
		r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.errOut
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs[i] = r
	}
	var moved int64
	for i, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			t.Fatalf("worker %d: %v\n%s", i+1, err, r.errOut.String())
		}
		var rep redriveReport
		if err := json.Unmarshal([]byte(r.out.String()), &rep); err != nil {
			t.Fatalf("worker %d: %v\n%s", i+1, err, r.out.String())
		}
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
