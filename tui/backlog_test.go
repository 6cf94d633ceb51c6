package tui

import (
	"context"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestDLQViewReadsNoMessageWithoutBacklog: the DLQ view lists a RabbitMQ DLQ
// from the management API (count, origin) and leaves its messages as they
// were — not marked redelivered — unless eddy tui --backlog asked for a
// peek; a jump back in a classic queue's tail is refused the same way.
func TestDLQViewReadsNoMessageWithoutBacklog(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	tp.Publish(t, amqp091.Publishing{MessageId: "m1", Body: []byte("x")})
	tp.Reject(t, 1)
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	c, err := amqp.New(url, amqp.WithManagementURL(amqptest.ManagementURL(t, url)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	be := &Backend{AMQP: c}
	ctx := context.Background()
	amqptest.Eventually(t, 30*time.Second, "the DLQ listed with its count", func() bool {
		m := be.summarizeDLQs(ctx)
		for _, s := range m.sums {
			if s.Name == tp.DLQ {
				if s.Read != "management" || len(s.Groups) != 0 {
					t.Fatalf("without --backlog the DLQ view read the messages: %+v", s)
				}
				return s.Count == 1
			}
		}
		return false
	})
	if _, err := be.openTail(ctx, []bus.Address{{Transport: "amqp", Name: tp.Queue}}, bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}}); err == nil {
		t.Fatal("a jump to the beginning of a classic queue was not refused without --backlog")
	}
	d, ok, err := ch.Get(tp.DLQ, false)
	if err != nil || !ok {
		t.Fatalf("final get: %v %v", ok, err)
	}
	if d.Redelivered {
		t.Fatal("the dead letter is marked redelivered: the DLQ view peeked without --backlog")
	}
	d.Nack(false, true)

	be.Backlog = true
	m := be.summarizeDLQs(ctx)
	found := false
	for _, s := range m.sums {
		if s.Name == tp.DLQ {
			found = true
			if s.Read != "messages" || len(s.Groups) != 1 {
				t.Fatalf("with --backlog the DLQ's groups are not read: %+v", s)
			}
		}
	}
	if !found {
		t.Fatalf("with --backlog the DLQ is not listed: %v", m.errs)
	}
}
