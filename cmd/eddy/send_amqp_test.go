package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

// amqpChannel opens a channel on the test broker, closed with the test.
func amqpChannel(t *testing.T, url string) *amqp091.Channel {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestSendAMQP: to a queue and through an exchange, each message is
// confirmed with its body byte for byte, the headers, and the properties
// asked for; a message that no queue takes (mandatory, returned) is exit 3
// with a sentence naming it, and the events before it are said to have
// landed.
func TestSendAMQP(t *testing.T) {
	url := amqptest.URL(t)
	env := map[string]string{"EDDY_AMQP_URL": url}
	ch := amqpChannel(t, url)
	name := fmt.Sprintf("eddy-send-%d-%d", os.Getpid(), time.Now().UnixNano())
	q, err := ch.QueueDeclare(name, false, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ex := name + ".ex"
	if err := ch.ExchangeDeclare(ex, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "routed", ex, false, nil); err != nil {
		t.Fatal(err)
	}

	p := filepath.Join(t.TempDir(), "e.json")
	body := "{\"event_id\":\"{{uuid}}\",\"raw\":\"\x00\xff\"}"
	os.WriteFile(p, []byte(body), 0o600)
	code, out, errOut := runEddyIn(t, env, nil, "send", "amqp:"+q.Name, p, "--persistent", "--content-type", "application/json",
		"--message-id", "{{uuid}}", "--expiration", "60000", "-H", "x-a=1", "--print-id", "--timestamp", "2026-01-02T03:04:05Z")
	if code != 0 {
		t.Fatalf("send to queue: exit %d: %s", code, errOut)
	}
	code, _, errOut = runEddyIn(t, env, []byte("one\ntwo\n"), "send", "amqp:exchange/"+ex, "--routing-key", "routed")
	if code != 0 {
		t.Fatalf("send to exchange: exit %d: %s", code, errOut)
	}
	var got []amqp091.Delivery
	for len(got) < 3 {
		d, ok, err := ch.Get(q.Name, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("the queue holds %d messages, want 3", len(got))
		}
		got = append(got, d)
	}
	id := strings.TrimSpace(out)
	m := got[0]
	if string(m.Body) != strings.Replace(body, "{{uuid}}", id, 1) || !uuidV4.MatchString(id) || m.DeliveryMode != 2 ||
		m.ContentType != "application/json" || m.MessageId != id || m.Expiration != "60000" || m.Headers["x-a"] != "1" ||
		!m.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("message %+v (id printed %q)", m, id)
	}
	if string(got[1].Body) != "one" || string(got[2].Body) != "two" || got[1].RoutingKey != "routed" {
		t.Fatalf("lines: %q %q", got[1].Body, got[2].Body)
	}

	// Unroutable: a routing key no queue is bound with.
	file2 := filepath.Join(t.TempDir(), "u.json")
	os.WriteFile(file2, []byte(`{"event_id":"ev-lost"}`), 0o600)
	code, _, errOut = runEddyIn(t, env, nil, "send", "amqp:exchange/"+ex+"/nobody-binds-this", file2)
	if code != ExitPartial || !strings.Contains(errOut, `event #0 (id ev-lost) was not routed to any queue`) ||
		!strings.Contains(errOut, `nobody-binds-this`) || !strings.Contains(errOut, "no event landed") {
		t.Fatalf("unroutable: exit %d: %s", code, errOut)
	}
	// A partial failure: a capture whose events carry their routing keys,
	// the middle one unroutable; the line says which landed, by index, and
	// which did not, with its id.
	var capture []byte
	for i, key := range []string{"routed", "nowhere", "routed"} {
		e := event.Event{Transport: event.AMQP, Exchange: ex, RoutingKey: key, Value: []byte(fmt.Sprintf(`{"event_id":"cap-%d"}`, i)), Timestamp: time.Now()}
		capture = append(event.AppendEnvelope(capture, &e), '\n')
	}
	cp := filepath.Join(t.TempDir(), "c.jsonl")
	os.WriteFile(cp, capture, 0o600)
	code, out, errOut = runEddyIn(t, env, nil, "send", "amqp:exchange/"+ex, "file:"+cp, "--print-id")
	if code != ExitPartial || !strings.Contains(errOut, "event #1 (id cap-1) was not routed") ||
		!strings.Contains(errOut, "2 of 3 events landed (#0, #2)") || out != "cap-0\ncap-2\n" {
		t.Fatalf("partial: exit %d out %q: %s", code, out, errOut)
	}
	for i := range 2 {
		if d, ok, err := ch.Get(q.Name, true); err != nil || !ok || string(d.Body) != fmt.Sprintf(`{"event_id":"cap-%d"}`, i*2) {
			t.Fatalf("landed %d: %q %v %v", i, d.Body, ok, err)
		}
	}
	// A queue that does not exist is exit 1 naming it.
	code, _, errOut = runEddyIn(t, env, []byte("x\n"), "send", "amqp:"+name+"-missing")
	if code != ExitError || !strings.Contains(errOut, name+"-missing") {
		t.Fatalf("missing queue: exit %d: %s", code, errOut)
	}
	if n, _ := ch.QueueDeclarePassive(q.Name, false, true, false, false, nil); n.Messages != 0 {
		t.Fatalf("queue holds %d messages after the unroutable send", n.Messages)
	}
}

// TestSendAMQPOutage: RabbitMQ goes away mid-send (every connection reset,
// every new one refused): send ends with exit 4 within --timeout, says in
// two lines what was not confirmed and what landed, and the queue holds
// every id --print-id printed, once.
func TestSendAMQPOutage(t *testing.T) {
	url := amqptest.URL(t)
	ch := amqpChannel(t, url)
	name := fmt.Sprintf("eddy-send-outage-%d-%d", os.Getpid(), time.Now().UnixNano())
	q, err := ch.QueueDeclare(name, false, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	via, p := proxied(t, url)
	const n = 2000
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"event_id":"a%d"}`+"\n", i)
	}
	f, out, errOut := testFactory(false)
	f.IO.In = io.NopCloser(strings.NewReader(in.String()))
	f.Global.AMQPURL, f.Global.Timeout = via, 2*time.Second
	done := make(chan error, 1)
	go func() {
		done <- sendRun(context.Background(), f, &SendOptions{Address: "amqp:" + q.Name, Inputs: []string{"-"}, PrintID: true, Rate: 100, Partition: -1, CESource: "/eddy/send", SchemaVersion: "latest"})
	}()
	kafkatest.WaitFor(t, 30*time.Second, "messages in the queue", func() bool {
		qi, err := ch.QueueDeclarePassive(q.Name, false, true, false, false, nil)
		return err == nil && qi.Messages >= 60
	})
	p.Cut()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("send still running 60 s into an outage, --timeout 2s")
	}
	stderr := errOut.String()
	t.Logf("exit %d: %v\n%s", exitCode(err), err, stderr)
	if code := exitCode(err); code != ExitConnect {
		t.Fatalf("exit %d; want %d (unreachable)", code, ExitConnect)
	}
	m := regexp.MustCompile(`eddy: (\d+) of (\d+) events landed`).FindStringSubmatch(stderr)
	if m == nil || strings.Count(stderr, "\n") > 3 {
		t.Fatalf("not a short report of what did not land and what did: %s", stderr)
	}
	// Nothing is published after the cut but what was in flight at it
	// (at 100/s, a handful): before, a thousand more went into the dead
	// channel.
	if landed, sent := atoi(t, m[1]), atoi(t, m[2]); sent-landed > 10 {
		t.Fatalf("%d events sent after %d landed: send went on publishing into a dead channel", sent-landed, landed)
	}
	printed := strings.Fields(out.String())
	if m[1] != fmt.Sprint(len(printed)) || len(printed) == 0 || len(printed) == n {
		t.Fatalf("the report says %s landed, --print-id printed %d of %d", m[1], len(printed), n)
	}
	on := map[string]int{}
	for {
		d, ok, err := ch.Get(q.Name, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		on[event.DefaultSchema().Extract(&event.Event{Value: d.Body}).ID]++
	}
	for _, id := range printed {
		if on[id] != 1 {
			t.Fatalf("printed id %s is in the queue %d times", id, on[id])
		}
	}
	t.Logf("%d confirmed and printed before the outage; %d in the queue", len(printed), len(on))
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
