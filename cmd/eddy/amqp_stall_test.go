package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestAMQPBrokerStopsAnswering: a broker that completes the AMQP handshake
// and then answers nothing (the proxy drops every later client frame, the
// socket stays open, the broker's heartbeats still arrive) ends a command
// with exit 4 and one line naming what went unanswered, within --timeout
// and a margin — not when the broker gives up on missed heartbeats.
func TestAMQPBrokerStopsAnswering(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	via, p := proxied(t, url)
	p.MuteAfterHandshake()
	common := []string{"--amqp-url", via, "--amqp-mgmt-url", amqptest.ManagementURL(t, url), "--timeout", "2s"}
	for _, args := range [][]string{
		{"tail", "amqp:" + tp.Queue},
		{"tail", "amqp:" + tp.Queue, "--backlog", "--until", "end"},
		{"dlq", "show", "amqp:" + tp.Queue, "--backlog"},
		{"replay", "amqp:" + tp.Queue, "--to", "file:" + t.TempDir() + "/x.jsonl", "--dry-run"},
	} {
		start := time.Now()
		code, _, stderr := runEddyCtx(t, context.Background(), nil, append(args, common...)...)
		took := time.Since(start)
		what := strings.Join(args[:2], " ")
		if code != ExitConnect {
			t.Errorf("eddy %s: exit %d, want %d; stderr:\n%s", what, code, ExitConnect, stderr)
		}
		if !strings.Contains(stderr, "did not answer") || !strings.Contains(stderr, "within 2s (--timeout)") {
			t.Errorf("eddy %s: stderr does not say the broker did not answer within --timeout:\n%s", what, stderr)
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("eddy %s: want one line on stderr, got:\n%s", what, stderr)
		}
		if deadline := 2*time.Second + 6*time.Second; took > deadline {
			t.Errorf("eddy %s: ended after %s, past --timeout and a margin (%s)", what, took.Round(time.Millisecond), deadline)
		}
	}
}
