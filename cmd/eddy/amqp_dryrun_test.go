package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestAMQPDryRunTouchesLittle: a dry run of replay or dlq redrive from a
// RabbitMQ classic queue reads the messages with the peek of --backlog — got
// and given back at once — so they are back in the queue (ready again)
// while the run still goes on (--rate makes it last), not held for the whole
// run as a consumer without acks held them; afterwards every message is
// still there, none acked. Both commands' help says what the dry run does
// to the messages.
func TestAMQPDryRunTouchesLittle(t *testing.T) {
	url := amqptest.URL(t)
	env := amqpEnv(t, url)
	const n = 30
	for _, tc := range []struct {
		name string
		args func(q, exchange, key string) []string
	}{
		{"replay", func(q, ex, key string) []string {
			return []string{"replay", "amqp:" + q, "--to", "amqp:exchange/" + ex + "/" + key}
		}},
		{"redrive", func(q, ex, key string) []string {
			return []string{"dlq", "redrive", "amqp:" + q, "--to", "amqp:exchange/" + ex + "/" + key}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dlq, tp := dlqTopo(t, url, n)
			args := append(tc.args(dlq, tp.Exchange, tp.Key), "--dry-run", "--rate", "5", "--ledger", t.TempDir()+"/l.db", "-o", "json")
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errOut := runEddyCtx(t, context.Background(), env, args...)
				done <- result{code, out, errOut}
			}()
			// n messages at 5 a second: the run lasts about 6 s. The
			// messages must be ready in the queue again well before it ends:
			// it goes on for at least 2 s after (a consumer holding them
			// gives them back as it closes, a moment before it ends).
			deadline := time.Now().Add(30 * time.Second)
			var back bool
			for !back {
				select {
				case r := <-done:
					t.Fatalf("the dry run ended (exit %d) before the queue had its %d messages ready again: they were held for the whole run\n%s\n%s",
						r.code, n, r.out, r.err)
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("the queue did not get its messages back within 30 s")
				}
				back = amqptest.Depth(t, url, dlq) == n
			}
			var r result
			select {
			case r = <-done:
				t.Fatalf("the dry run ended (exit %d) within 2 s of the queue having its messages back: they were held for (nearly) the whole run\n%s\n%s",
					r.code, r.out, r.err)
			case <-time.After(2 * time.Second):
			}
			select {
			case r = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the dry run did not end within 60 s")
			}
			if r.code != 0 || !strings.Contains(r.out, `"read":30,`) {
				t.Fatalf("dry run: exit %d\n%s\n%s", r.code, r.out, r.err)
			}
			if d := amqptest.Depth(t, url, dlq); d != n {
				t.Fatalf("after the dry run the queue holds %d messages, want %d (none acked)", d, n)
			}
			if d := amqptest.Depth(t, url, tp.Queue); d != 0 {
				t.Fatalf("the dry run wrote %d messages to the target", d)
			}
		})
	}
	for _, cmd := range [][]string{{"replay", "--help"}, {"dlq", "redrive", "--help"}} {
		code, out, _ := runEddy(t, nil, cmd...)
		for _, want := range []string{"a dry run cannot plan without reading the messages", "held for that read alone",
			"redelivered flag set", "Nothing is acked", "requeues what it held", "A stream queue is read by offset"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("eddy %s: exit %d, no %q in the help", strings.Join(cmd, " "), code, want)
			}
		}
	}
}
