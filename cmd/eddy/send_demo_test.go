package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/event"
)

// orderPlaced is an OrderPlaced as the demo's services read it: a new
// order each time it is sent.
const orderPlaced = `{"event_id":"{{uuid}}","type":"OrderPlaced","occurred_at":"{{now}}","correlation_id":"ord-send-{{uuid}}",` +
	`"payload":{"order_id":"ord-send-{{uuid}}","customer":{"id":"cus-1","name":"Ada","email":"ada@example.com"},` +
	`"items":[{"sku":"sku-1001","qty":1,"price":19.99}],"amount":19.99,"currency":"EUR"}}`

// sendExpectDemo starts the demo (one partition, one instance per service,
// no failures, one background order: the services' choices, seeded, are
// then the same every run), sends an OrderPlaced with eddy send and runs
// eddy expect --for-id on it; it returns expect's exit, stdout and stderr.
func sendExpectDemo(t *testing.T, stall []string, expectation string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, demo.Config{Partitions: 1, Replicas: 1, Rate: 0.001, BurstEvery: -1, FailRate: -1,
		PoisonEvery: -1, Seed: 7, Stall: stall})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dir := t.TempDir()
	order := filepath.Join(dir, "order.json")
	os.WriteFile(order, []byte(orderPlaced), 0o600)
	code, out, errOut := runEddyIn(t, nil, nil, "send", "kafka:"+demo.TopicOrders, order, "-b", d.Addr(), "--print-id", "--ce-type", "OrderPlaced", "--traceparent", "new")
	if code != 0 {
		t.Fatalf("send: exit %d: %s", code, errOut)
	}
	ids := filepath.Join(dir, "ids")
	os.WriteFile(ids, []byte(out), 0o600)
	start := time.Now()
	code, out, errOut = runEddyIn(t, nil, nil, "expect", expectation, "kafka:/.*/", "-b", d.Addr(), "--for-id", "@"+ids, "--since", "5m")
	t.Logf("expect took %s:\n%s%s", time.Since(start).Round(time.Millisecond), out, errOut)
	return code, out, errOut
}

// TestSendExpectDemo: the flow test of the README — send an OrderPlaced
// into the demo, expect it shipped within the deadline for this event
// alone: exit 0 as soon as it shipped; with shipping stalled, exit 3 once
// the deadline passed, naming the missing step.
func TestSendExpectDemo(t *testing.T) {
	const exp = "OrderPlaced -> PaymentAuthorized -> OrderShipped within 5s"
	t.Run("shipped", func(t *testing.T) {
		code, out, errOut := sendExpectDemo(t, nil, exp)
		if code != 0 || !strings.Contains(out, "1 passed") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		code, out, errOut := sendExpectDemo(t, []string{"shipping"}, exp)
		if code != ExitPartial || !strings.Contains(out+errOut, "no OrderShipped") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
	})
}

// TestExpectForID: on a capture holding a flow that passes and one that
// fails, --for-id judges only the named flows: the passing one is exit 0
// although the other failed, the failing one exit 3, an id no event has is
// exit 3 saying so; ids come from @FILE as send --print-id writes them.
func TestExpectForID(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var capture []byte
	add := func(id, typ, corr string, at time.Duration) {
		e := event.Event{Transport: event.Kafka, Topic: "t", Timestamp: t0.Add(at),
			Value: []byte(`{"event_id":"` + id + `","type":"` + typ + `","correlation_id":"` + corr + `"}`)}
		capture = append(event.AppendEnvelope(capture, &e), '\n')
	}
	add("a1", "OrderPlaced", "ord-a", 0)
	add("b1", "OrderPlaced", "ord-b", time.Second)
	add("a2", "OrderShipped", "ord-a", 2*time.Second)
	add("b2", "OrderShipped", "ord-b", time.Minute) // too late
	dir := t.TempDir()
	cp := filepath.Join(dir, "c.jsonl")
	os.WriteFile(cp, capture, 0o600)
	exp := "OrderPlaced -> OrderShipped within 10s"
	if code, out, errOut := runEddyIn(t, nil, nil, "expect", exp, "file:"+cp); code != ExitPartial {
		t.Fatalf("without --for-id: exit %d: %s%s", code, out, errOut)
	}
	ids := filepath.Join(dir, "ids")
	os.WriteFile(ids, []byte("a1\n\n"), 0o600)
	if code, out, errOut := runEddyIn(t, nil, nil, "expect", exp, "file:"+cp, "--for-id", "@"+ids); code != 0 || !strings.Contains(out, "1 flow(s), 1 passed") {
		t.Fatalf("--for-id a1: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := runEddyIn(t, nil, []byte("b1\n"), "expect", exp, "file:"+cp, "--for-id", "@-"); code != ExitPartial || !strings.Contains(out, "ord-b") || strings.Contains(out, "ord-a") {
		t.Fatalf("--for-id b1: exit %d: %s%s", code, out, errOut)
	}
	code, out, errOut := runEddyIn(t, nil, nil, "expect", exp, "file:"+cp, "--for-id", "a1", "--for-id", "zz9", "-o", "json")
	if code != ExitPartial || !strings.Contains(errOut, "--for-id zz9: no event with this id") || !strings.Contains(out, `"missing_ids":["zz9"]`) || !strings.Contains(out, `"ok":false`) {
		t.Fatalf("--for-id zz9: exit %d: %s%s", code, out, errOut)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if code, _, errOut := runEddyIn(t, nil, nil, "expect", exp, "file:"+cp, "--for-id", "@"+empty); code != ExitUsage || !strings.Contains(errOut, "no id in it") {
		t.Fatalf("empty ids file: exit %d: %s", code, errOut)
	}
}
