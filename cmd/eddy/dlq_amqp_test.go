package main

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestDLQLsRabbitMQTopology: a dead-letter queue whose name follows no
// convention is listed because it is bound to an exchange that a queue uses
// as its x-dead-letter-exchange; its origin is that queue, even while the DLQ
// is empty. A queue bound to an exchange no queue dead-letters to is none.
func TestDLQLsRabbitMQTopology(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	store := amqptest.Name(t, "store")
	origin := amqptest.Name(t, "billing")
	dlx := amqptest.Name(t, "errors")
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := amqptest.Dial(t, url)
		for _, q := range []string{store, origin} {
			if ch, err := c.Channel(); err == nil {
				ch.QueueDelete(q, false, false, false)
				ch.Close()
			}
		}
		if ch, err := c.Channel(); err == nil {
			ch.ExchangeDelete(dlx, false, false)
			ch.Close()
		}
	})
	if err := ch.ExchangeDeclare(dlx, "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(store, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(store, "#", dlx, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(origin, false, false, false, false, amqp091.Table{"x-dead-letter-exchange": dlx}); err != nil {
		t.Fatal(err)
	}
	f, out, _ := testFactory(false)
	f.Global.AMQPURL, f.Global.AMQPMgmtURL, f.Global.Timeout = url, os.Getenv("EDDY_TEST_AMQP_MGMT"), 10*time.Second
	amqptest.Eventually(t, 20*time.Second, "dlq ls lists "+store, func() bool {
		out.Reset()
		if err := dlqLsRun(context.Background(), f, &DLQOptions{Transports: []string{"amqp:"}}); err != nil {
			t.Fatal(err)
		}
		return regexpLine(out.String(), `^amqp:`+regexp.QuoteMeta(store)+`\t0\t.*\t`+regexp.QuoteMeta(origin)+`$`)
	})
	if regexpLine(out.String(), `^amqp:`+regexp.QuoteMeta(tp.Queue)+`\t`) {
		t.Fatalf("an ordinary queue listed as a DLQ:\n%s", out.String())
	}
}
