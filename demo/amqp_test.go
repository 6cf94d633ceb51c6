package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpURL is the real RabbitMQ of the test environment. Without one the test
// skips, visibly; CI and scripts/test.sh say a broker is required, and then its
// absence fails the run.
func amqpURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("EDDY_TEST_AMQP")
	if u == "" {
		if os.Getenv("CI") == "true" || os.Getenv("EDDY_REQUIRE_BROKERS") != "" {
			t.Fatal("EDDY_TEST_AMQP is not set, but CI / EDDY_REQUIRE_BROKERS require the real RabbitMQ (eval \"$(scripts/brokers.sh up)\")")
		}
		t.Skip("skipping the RabbitMQ shop: EDDY_TEST_AMQP is not set (eval \"$(scripts/brokers.sh up)\" starts a RabbitMQ)")
	}
	return u
}

// deleteTopology removes what a test's demo declared, whatever state it got to.
func deleteTopology(t *testing.T, url string, topo topology) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	// A failed delete closes its channel, so each gets its own.
	for _, q := range topo.queues() {
		if ch, err := conn.Channel(); err == nil {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				t.Logf("cleanup: delete queue %s: %v", q, err)
			}
			ch.Close()
		}
	}
	for _, e := range topo.exchanges() {
		if ch, err := conn.Channel(); err == nil {
			if err := ch.ExchangeDelete(e, false, false); err != nil {
				t.Logf("cleanup: delete exchange %s: %v", e, err)
			}
			ch.Close()
		}
	}
}

func queueDepth(t *testing.T, conn *amqp.Connection, q string) int {
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue %s: %v", q, err)
	}
	return st.Messages
}

func TestAMQPShop(t *testing.T) {
	url := amqpURL(t)
	base := runtime.NumGoroutine()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := fmt.Sprintf("eddy-test-%d-%s.", os.Getpid(), hex.EncodeToString(rnd[:]))
	topo := topology{prefix: prefix}
	t.Cleanup(func() { deleteTopology(t, url, topo) })

	cfg := fastConfig()
	cfg.AMQPURL, cfg.AMQPPrefix = url, prefix
	cfg.Rate, cfg.FailRate, cfg.PoisonEvery, cfg.Replicas = 100, 0.2, 10, 1
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr() != "" || d.Topics() != nil || len(d.Queues()) != 6 || len(d.Exchanges()) != 7 {
		t.Fatalf("AMQP mode: addr %q, topics %v, queues %v, exchanges %v", d.Addr(), d.Topics(), d.Queues(), d.Exchanges())
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	defer conn.Close()
	payDLQ, invDLQ := topo.dlq("payments"), topo.dlq("inventory")
	waitFor(t, "flows and dead letters in both DLQs", 30*time.Second, func() (bool, string) {
		s := d.Stats()
		p, i := queueDepth(t, conn, payDLQ), queueDepth(t, conn, invDLQ)
		return s.Events[EmailSent] >= 20 && s.Poison >= 3 && p >= 5 && i >= 5, fmt.Sprintf("%s; %s holds %d, %s holds %d", s, payDLQ, p, invDLQ, i)
	})
	stats := d.Stats()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	for _, c := range []struct {
		dlq, inbox, exchange, key string
	}{
		{payDLQ, topo.inbox("payments"), topo.exchange("orders"), OrderPlaced},
		{invDLQ, topo.inbox("inventory"), topo.exchange("payments"), PaymentAuthorized},
	} {
		var n, poison int
		for {
			m, ok, err := ch.Get(c.dlq, false)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			n++
			deaths, _ := m.Headers["x-death"].([]any)
			if len(deaths) != 1 {
				t.Fatalf("%s: x-death %#v", c.dlq, m.Headers["x-death"])
			}
			xd, _ := deaths[0].(amqp.Table)
			keys, _ := xd["routing-keys"].([]any)
			if xd["reason"] != "rejected" || xd["queue"] != c.inbox || xd["exchange"] != c.exchange || xd["count"] != int64(1) ||
				len(keys) != 1 || keys[0] != c.key {
				t.Fatalf("%s: x-death %#v, want reason rejected, queue %s, exchange %s, routing key %s, count 1", c.dlq, xd, c.inbox, c.exchange, c.key)
			}
			if _, ok := xd["time"].(time.Time); !ok {
				t.Fatalf("x-death time %#v", xd["time"])
			}
			if m.Headers["x-first-death-reason"] != "rejected" || m.Headers["x-first-death-queue"] != c.inbox || m.Headers["x-first-death-exchange"] != c.exchange {
				t.Fatalf("x-first-death-*: %#v", m.Headers)
			}
			// The message is the one that failed, properties and headers intact.
			if m.MessageId == "" || m.MessageId != m.Headers["cloudEvents:id"] || m.Type != c.key || m.Headers["traceparent"] == nil {
				t.Fatalf("dead letter lost its identity: id %q, type %q, headers %#v", m.MessageId, m.Type, m.Headers)
			}
			if !json.Valid(m.Body) {
				poison++
			}
		}
		t.Logf("%s: %d dead letters with x-death, %d of them poison", c.dlq, n, poison)
		if n < 5 || poison == 0 {
			t.Fatalf("%s: %d dead letters, %d poison", c.dlq, n, poison)
		}
	}
	t.Logf("stats: %s", stats)
	ch.Close()
	conn.Close()
	waitGoroutines(t, base)
}
