// Command amqpbench prepares and measures bench/redrive_amqp.sh on a RabbitMQ:
//
//	amqpbench setup  -dlq Q -exchange X -key K -origin Q2   declare a durable DLQ, and exchange X routing K to durable queue Q2
//	amqpbench fill   -dlq Q -n N -size S                    purge Q, then publish N persistent messages with ids, with confirms
//	amqpbench purge  -queue Q                               purge Q
//	amqpbench depth  -queue Q                               print Q's ready count (a passive declare)
//	amqpbench wait   -queue Q -n N                          wait until Q holds N ready messages
//	amqpbench delete -dlq Q -exchange X -origin Q2          delete what setup made
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: amqpbench setup|fill|purge|depth|wait|delete [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "AMQP URL")
	dlq := fs.String("dlq", "bench.redrive.dlq", "the dead-letter queue")
	exchange := fs.String("exchange", "bench.redrive.origin", "the origin exchange")
	key := fs.String("key", "orders", "the routing key")
	origin := fs.String("origin", "bench.redrive.orders", "the queue the origin exchange routes to")
	queue := fs.String("queue", "", "queue (purge, depth, wait)")
	n := fs.Int("n", 100000, "messages")
	size := fs.Int("size", 200, "body size in bytes")
	fs.Parse(os.Args[2:])

	conn, err := amqp091.Dial(*url)
	check(err)
	defer conn.Close()
	ch, err := conn.Channel()
	check(err)
	switch os.Args[1] {
	case "setup":
		_, err = ch.QueueDeclare(*dlq, true, false, false, false, nil)
		check(err)
		check(ch.ExchangeDeclare(*exchange, "direct", true, false, false, false, nil))
		_, err = ch.QueueDeclare(*origin, true, false, false, false, nil)
		check(err)
		check(ch.QueueBind(*origin, *key, *exchange, false, nil))
	case "fill":
		_, err = ch.QueuePurge(*dlq, false)
		check(err)
		fill(ch, *dlq, *exchange, *key, *n, *size)
	case "purge":
		_, err = ch.QueuePurge(*queue, false)
		check(err)
	case "depth":
		q, err := ch.QueueDeclarePassive(*queue, false, false, false, false, nil)
		check(err)
		fmt.Println(q.Messages)
	case "wait":
		deadline := time.Now().Add(10 * time.Minute)
		for {
			q, err := ch.QueueDeclarePassive(*queue, false, false, false, false, nil)
			check(err)
			if q.Messages >= *n {
				return
			}
			if time.Now().After(deadline) {
				check(fmt.Errorf("%s holds %d of %d after 10 minutes", *queue, q.Messages, *n))
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "delete":
		ch.QueueDelete(*dlq, false, false, false)
		ch.QueueDelete(*origin, false, false, false)
		ch.ExchangeDelete(*exchange, false, false)
	default:
		check(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

// fill publishes n persistent messages to queue (through the default
// exchange) with message ids and an x-death entry naming the origin, as
// RabbitMQ writes it when it dead-letters a message, keeping 4096 unconfirmed.
func fill(ch *amqp091.Channel, queue, exchange, key string, n, size int) {
	check(ch.Confirm(false))
	body := make([]byte, size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	death := amqp091.Table{"count": int64(1), "reason": "rejected", "queue": "orders", "exchange": exchange,
		"routing-keys": []any{key}, "time": time.Now().Truncate(time.Second)}
	var pending []*amqp091.DeferredConfirmation
	ctx := context.Background()
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirm("", queue, false, false, amqp091.Publishing{
			MessageId: "m-" + strconv.Itoa(i), DeliveryMode: amqp091.Persistent, Body: body,
			Headers: amqp091.Table{"x-death": []any{death}, "x-first-death-queue": "orders", "x-first-death-reason": "rejected",
				"x-first-death-exchange": exchange},
		})
		check(err)
		pending = append(pending, dc)
		if len(pending) >= 4096 {
			for _, dc := range pending {
				if ok, err := dc.WaitContext(ctx); err != nil || !ok {
					check(fmt.Errorf("publish not confirmed: %v", err))
				}
			}
			pending = pending[:0]
		}
	}
	for _, dc := range pending {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			check(fmt.Errorf("publish not confirmed: %v", err))
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "amqpbench:", err)
		os.Exit(1)
	}
}
