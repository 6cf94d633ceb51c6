package amqp_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/bustest"
	"github.com/eddy-sh/eddy/event"
)

func numbered(n int) []amqp091.Publishing {
	msgs := make([]amqp091.Publishing, n)
	for i := range msgs {
		msgs[i] = amqp091.Publishing{MessageId: "m-" + strconv.Itoa(i), Body: []byte("body " + strconv.Itoa(i)), DeliveryMode: amqp091.Persistent}
	}
	return msgs
}

func consume(t *testing.T, c *amqp.Client, queue string, opts amqp.ConsumeOptions) *amqp.Consumer {
	t.Helper()
	k, err := c.Consume(ctxT(t), queue, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// drain reads and acks until io.EOF and returns the message ids read.
func drain(t *testing.T, k *amqp.Consumer, ack func(e *event.Event) bool) []string {
	t.Helper()
	ctx := ctxT(t)
	var ids []string
	for {
		evs, err := k.Next(ctx)
		if errors.Is(err, io.EOF) {
			return ids
		}
		if err != nil {
			t.Fatalf("Next after %d: %v", len(ids), err)
		}
		var acks []event.Event
		for i := range evs {
			ids = append(ids, evs[i].Properties.MessageID)
			if ack == nil || ack(&evs[i]) {
				acks = append(acks, evs[i])
			}
		}
		if err := k.Ack(ctx, acks); err != nil {
			t.Fatal(err)
		}
	}
}

// queueKind is the topology options for a "classic" or a "quorum" queue.
func queueKind(kind string) []amqptest.Option {
	if kind == "quorum" {
		return []amqptest.Option{amqptest.Quorum()}
	}
	return nil
}

// eachQueueKind runs test on a classic and on a quorum queue holding n
// numbered messages, with a consumer of it (prefetch).
func eachQueueKind(t *testing.T, n, prefetch int, test func(t *testing.T, url string, tp *amqptest.Topo, k *amqp.Consumer)) {
	for _, kind := range []string{"classic", "quorum"} {
		t.Run(kind, func(t *testing.T) {
			url := amqptest.URL(t)
			tp := amqptest.Topology(t, url, queueKind(kind)...)
			tp.Publish(t, numbered(n)...)
			test(t, url, tp, consume(t, newClient(t, url), tp.Queue, amqp.ConsumeOptions{Prefetch: prefetch}))
		})
	}
}

func TestConsumeDrains(t *testing.T) {
	eachQueueKind(t, 3000, 700, func(t *testing.T, url string, tp *amqptest.Topo, k *amqp.Consumer) {
		ids := drain(t, k, nil)
		if len(ids) != 3000 {
			t.Fatalf("read %d messages, want 3000", len(ids))
		}
		for i, id := range ids {
			if id != "m-"+strconv.Itoa(i) {
				t.Fatalf("message %d is %s: out of order", i, id)
			}
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		if d := amqptest.Depth(t, url, tp.Queue); d != 0 {
			t.Fatalf("depth after consuming everything = %d", d)
		}
		if s := k.Stats(); s.Acked != 3000 || s.Unknown != 0 || s.Released != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// Events the caller does not ack (a target refused them) stay held, not
// redelivered, even when they fill the prefetch window several times over;
// the rest of the queue still flows, and Close gives them back.
func TestConsumeLeftUnacked(t *testing.T) {
	eachQueueKind(t, 100, 10, func(t *testing.T, url string, tp *amqptest.Topo, k *amqp.Consumer) {
		odd := func(e *event.Event) bool {
			n, _ := strconv.Atoi(e.Properties.MessageID[2:])
			return n%3 != 0
		}
		ids := drain(t, k, odd)
		if len(ids) != 100 {
			t.Fatalf("read %d messages, want 100 (each once)", len(ids))
		}
		if k.Stats().Reconsumes == 0 {
			t.Fatal("34 unacked deliveries with a prefetch of 10 and no consumer restart?")
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		if d := amqptest.Depth(t, url, tp.Queue); d != 34 {
			t.Fatalf("depth after Close = %d, want the 34 not acked", d)
		}
	})
}

// A delivery held past the hold deadline is released (requeued) and counted;
// acking it afterwards acks nothing and reports it as outcome-unknown; it
// comes back.
func TestConsumeHoldDeadline(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	tp.Publish(t, numbered(5)...)
	k := consume(t, newClient(t, url), tp.Queue, amqp.ConsumeOptions{Hold: 300 * time.Millisecond})
	ctx := ctxT(t)
	var first []event.Event
	for len(first) < 5 {
		evs, err := k.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, evs...)
	}
	amqptest.Eventually(t, 10*time.Second, "deliveries released at the hold deadline", func() bool { return k.Stats().Released >= 5 })
	if err := k.Ack(ctx, first); err != nil {
		t.Fatal(err)
	}
	if s := k.Stats(); s.Acked != 0 || s.Unknown != 5 || len(k.OutcomeUnknown()) != 5 {
		t.Fatalf("after acking released deliveries: %+v", s)
	}
	// They come back (redelivered) and can be acked now.
	evs, err := k.Next(ctx)
	if err != nil || len(evs) == 0 || !evs[0].Redelivered {
		t.Fatalf("after the release: %d events, err %v", len(evs), err)
	}
	if err := k.Ack(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if k.Stats().Acked == 0 {
		t.Fatal("nothing acked after redelivery")
	}
}

// The connection is force-closed (as by a broker restart) while events are
// held: the consumer reconnects, their acks are not sent on the new channel
// (outcome-unknown), they are redelivered, and in the end every message is
// acked exactly by its own delivery and the queue is empty.
func TestConsumeReconnect(t *testing.T) {
	eachQueueKind(t, 500, 100, func(t *testing.T, url string, tp *amqptest.Topo, k *amqp.Consumer) {
		ctx := ctxT(t)
		evs, err := k.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		amqptest.Eventually(t, 20*time.Second, "the consumer's connection closed through the management API", func() bool {
			return amqptest.CloseConnections(t, url, "consume "+tp.Queue) > 0
		})
		amqptest.Eventually(t, 20*time.Second, "a reconnect", func() bool { return k.Stats().Reconnects > 0 })
		if err := k.Ack(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if s := k.Stats(); s.Unknown != int64(len(evs)) {
			t.Fatalf("acks of %d events of the lost channel: %+v", len(evs), s)
		}
		seen := map[string]int{}
		for _, e := range evs {
			seen[e.Properties.MessageID]++
		}
		for _, id := range drain(t, k, nil) {
			seen[id]++
		}
		for i := range 500 {
			if seen["m-"+strconv.Itoa(i)] == 0 {
				t.Fatalf("m-%d never delivered", i)
			}
		}
		k.Close()
		if d := amqptest.Depth(t, url, tp.Queue); d != 0 {
			t.Fatalf("depth %d after draining", d)
		}
	})
}

func TestConsumeRefusesStream(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.Stream())
	_, err := newClient(t, url).Consume(ctxT(t), tp.Queue, amqp.ConsumeOptions{})
	if err == nil {
		t.Fatal("consuming a stream: no error")
	}
	var nf *bus.NotFoundError
	if _, err := newClient(t, url).Consume(ctxT(t), "no-such-queue-"+tp.Queue, amqp.ConsumeOptions{}); !errors.As(err, &nf) {
		t.Fatalf("missing queue: %v, want a NotFoundError", err)
	}
}

// TestConsumeConformance runs the parts of the bus conformance suite that
// apply to a consuming source: round trip and until-end (a Consumer read to
// io.EOF and closed without acking gives everything back, so the depth is
// unchanged), and Next unblocked by ctx and by Close.
func TestConsumeConformance(t *testing.T) {
	for _, kind := range []string{"classic", "quorum"} {
		t.Run(kind, func(t *testing.T) {
			h := harness(t, queueKind(kind)...)
			url := amqptest.URL(t)
			c := newClient(t, url)
			h.Depth = func(t *testing.T, dest string) int { return amqptest.Depth(t, url, dest) }
			h.Live, h.Snapshot = false, false
			h.NewSource = func(t *testing.T, dest string, _ bus.ReadOptions) bus.Source {
				k, err := c.Consume(ctxT(t), dest, amqp.ConsumeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var src bus.Source = offsetless{k}
				if kind == "quorum" {
					src = dropHeader{src, "x-delivery-count"}
				}
				return src
			}
			bustest.Run(t, h)

			dest := h.NewDest(t)
			k, err := c.Consume(ctxT(t), dest, amqp.ConsumeOptions{Quiet: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if _, err := k.Next(cctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Next with an ended context = %v", err)
			}
			done := make(chan error, 1)
			go func() { _, err := k.Next(t.Context()); done <- err }()
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Next on a closed consumer: no error")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not unblock Next")
			}
		})
	}
}

// offsetless hides the consumer's delivery numbers, which the suite would
// take for stream offsets.
type offsetless struct{ *amqp.Consumer }

func (o offsetless) Next(ctx context.Context) ([]event.Event, error) {
	evs, err := o.Consumer.Next(ctx)
	for i := range evs {
		evs[i].Offset = -1
	}
	return evs, err
}
