package amqp_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestDeadLetterQueues, on the real RabbitMQ: dead-letter queues found by
// topology, whatever their names — a queue bound (through an
// exchange-to-exchange binding) to an exchange that another queue names in
// x-dead-letter-exchange, and a queue named by a policy's
// dead-letter-routing-key through the default exchange — with the queues
// that dead-letter into each; a queue bound to an ordinary exchange is none.
func TestDeadLetterQueues(t *testing.T) {
	url := amqptest.URL(t)
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	name := func(what string) string { return amqptest.Name(t, what) }
	dlx, hop, plain := name("errors"), name("errors-hop"), name("plain")
	storeA, storeB, other := name("store-a"), name("store-b"), name("other")
	orig1, orig2 := name("orders"), name("payments")
	t.Cleanup(func() {
		c := amqptest.Dial(t, url)
		for _, q := range []string{storeA, storeB, other, orig1, orig2} {
			if ch, err := c.Channel(); err == nil {
				ch.QueueDelete(q, false, false, false)
				ch.Close()
			}
		}
		for _, x := range []string{dlx, hop, plain} {
			if ch, err := c.Channel(); err == nil {
				ch.ExchangeDelete(x, false, false)
				ch.Close()
			}
		}
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []string{dlx, hop, plain} {
		must(ch.ExchangeDeclare(x, "topic", false, false, false, false, nil))
	}
	must(ch.ExchangeBind(hop, "#", dlx, false, nil))
	for _, q := range []string{storeA, storeB, other, orig2} {
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		must(err)
	}
	_, err = ch.QueueDeclare(orig1, false, false, false, false, amqp091.Table{"x-dead-letter-exchange": dlx})
	must(err)
	must(ch.QueueBind(storeA, "some.key", hop, false, nil))
	must(ch.QueueBind(other, "#", plain, false, nil))
	policy := "/api/policies/%2F/" + amqptest.Escape(orig2)
	if code := amqptest.Do(t, url, "PUT", policy, map[string]any{"pattern": "^" + regexp.QuoteMeta(orig2) + "$", "apply-to": "queues",
		"definition": map[string]any{"dead-letter-exchange": "", "dead-letter-routing-key": storeB}}, nil); code/100 != 2 {
		t.Fatalf("PUT policy: %d", code)
	}
	t.Cleanup(func() { amqptest.Do(t, url, "DELETE", policy, nil, nil) })

	c := newClient(t, url)
	var got map[string][]string
	amqptest.Eventually(t, 20*time.Second, "both dead-letter queues found", func() bool {
		got, err = c.DeadLetterQueues(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return got[storeB] != nil && got[storeA] != nil
	})
	if !slices.Equal(got[storeA], []string{orig1}) || !slices.Equal(got[storeB], []string{orig2}) {
		t.Fatalf("origins: %s <- %v, %s <- %v", storeA, got[storeA], storeB, got[storeB])
	}
	if _, ok := got[other]; ok {
		t.Fatalf("%s is bound to an ordinary exchange, yet found: %v", other, got)
	}
}
