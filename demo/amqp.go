package demo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
)

// topology names the RabbitMQ side of the shop; see the package doc.
type topology struct{ prefix string }

// emitters are the services that publish, hence own an exchange.
var emitters = []string{"orders", "payments", "inventory", "shipping", "notifications"}

func (t topology) exchange(svc string) string { return t.prefix + svc }
func (t topology) inbox(svc string) string    { return t.prefix + svc + ".inbox" }
func (t topology) dlx(svc string) string      { return t.prefix + svc + ".dlx" }
func (t topology) dlq(svc string) string      { return t.prefix + svc + ".dlq" }

func (t topology) exchanges() []string {
	var out []string
	for _, e := range emitters {
		out = append(out, t.exchange(e))
	}
	for _, s := range shopServices {
		if s.deadLetters {
			out = append(out, t.dlx(s.name))
		}
	}
	return out
}

func (t topology) queues() []string {
	var out []string
	for _, s := range shopServices {
		out = append(out, t.inbox(s.name))
	}
	for _, s := range shopServices {
		if s.deadLetters {
			out = append(out, t.dlq(s.name))
		}
	}
	return out
}

type amqpShop struct {
	d    *Demo
	conn *amqp.Connection
	topo topology
	wg   sync.WaitGroup
}

// prefetch bounds the unacknowledged deliveries per consumer; workers is how
// many of them one service instance handles at once.
const (
	prefetch = 20
	workers  = 4
)

// redactURL masks the password, for errors: the URL's user may be shown, its
// password never.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the AMQP URL"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "****")
		return strings.Replace(u.String(), "%2A%2A%2A%2A", "****", 1)
	}
	return u.String()
}

func startAMQP(ctx context.Context, d *Demo) (*amqpShop, error) {
	c := d.cfg
	conn, err := amqp.DialConfig(c.AMQPURL, amqp.Config{
		Dial:       amqp.DefaultDial(10 * time.Second),
		Properties: amqp.Table{"connection_name": "eddy demo shop"},
	})
	if err != nil {
		return nil, &bus.ConnectError{Transport: "amqp", Addr: redactURL(c.AMQPURL), Err: err}
	}
	a := &amqpShop{d: d, conn: conn, topo: topology{prefix: c.AMQPPrefix}}
	if err := a.declare(); err != nil {
		conn.Close()
		return nil, err
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	a.wg.Go(func() {
		select {
		case <-ctx.Done():
		case err, ok := <-closed:
			if ok && err != nil {
				d.fail(fmt.Errorf("demo: RabbitMQ connection lost: %w", err))
			}
		}
	})
	for i, svc := range shopServices {
		for r := range c.Replicas {
			ch, deliveries, err := a.consume(svc, r)
			if err != nil {
				d.cancel()
				a.stop()
				return nil, err
			}
			rng := newRand(c.Seed, uint64(100+i*32+r))
			a.wg.Go(func() { a.runService(ctx, ch, deliveries, svc, rng) })
		}
	}
	ch, err := a.channel()
	if err != nil {
		d.cancel()
		a.stop()
		return nil, err
	}
	a.wg.Go(func() { a.runOrders(ctx, ch) })
	return a, nil
}

func (a *amqpShop) stop() {
	a.wg.Wait()
	a.conn.Close()
}

// channel opens a channel in confirm mode: the shop acks a delivery only after
// the broker confirmed what handling it published.
func (a *amqpShop) channel() (*amqp.Channel, error) {
	ch, err := a.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("demo: open AMQP channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("demo: AMQP confirm mode: %w", err)
	}
	return ch, nil
}

// declare creates the exchanges, queues and bindings, or checks that they are
// there as the shop needs them.
func (a *amqpShop) declare() error {
	ch, err := a.conn.Channel()
	if err != nil {
		return fmt.Errorf("demo: open AMQP channel: %w", err)
	}
	defer ch.Close()
	t := a.topo
	for _, e := range emitters {
		if err := ch.ExchangeDeclare(t.exchange(e), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return declareErr("exchange", t.exchange(e), err)
		}
	}
	for _, s := range shopServices {
		var args amqp.Table
		if s.deadLetters {
			if err := ch.ExchangeDeclare(t.dlx(s.name), amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
				return declareErr("exchange", t.dlx(s.name), err)
			}
			if _, err := ch.QueueDeclare(t.dlq(s.name), true, false, false, false, nil); err != nil {
				return declareErr("queue", t.dlq(s.name), err)
			}
			if err := ch.QueueBind(t.dlq(s.name), "", t.dlx(s.name), false, nil); err != nil {
				return declareErr("binding of", t.dlq(s.name), err)
			}
			// Rejected messages go to the DLX with their routing key, and
			// the broker records why in x-death.
			args = amqp.Table{"x-dead-letter-exchange": t.dlx(s.name)}
		}
		if _, err := ch.QueueDeclare(t.inbox(s.name), true, false, false, false, args); err != nil {
			return declareErr("queue", t.inbox(s.name), err)
		}
		for _, b := range s.bindings {
			if err := ch.QueueBind(t.inbox(s.name), b[1], t.exchange(b[0]), false, nil); err != nil {
				return declareErr("binding of", t.inbox(s.name), err)
			}
		}
	}
	return nil
}

func declareErr(kind, name string, err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
		return fmt.Errorf("demo: %s %q exists with other settings than the demo's (delete it, or run the demo with another prefix): %w", kind, name, err)
	}
	return fmt.Errorf("demo: declare %s %q: %w", kind, name, err)
}

func (a *amqpShop) consume(svc *service, replica int) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := a.channel()
	if err != nil {
		return nil, nil, err
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		ch.Close()
		return nil, nil, fmt.Errorf("demo: AMQP qos: %w", err)
	}
	tag := fmt.Sprintf("shop-%s-%d", svc.name, replica)
	deliveries, err := ch.Consume(a.topo.inbox(svc.name), tag, false, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, nil, fmt.Errorf("demo: consume %s: %w", a.topo.inbox(svc.name), err)
	}
	return ch, deliveries, nil
}

// runService is one instance of a consuming service: a few workers take
// deliveries, handle them, publish what they emit, wait for the broker's
// confirms, then ack; a failure is rejected without requeue, which dead-letters
// it through the queue's x-dead-letter-exchange.
func (a *amqpShop) runService(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery, svc *service, rng *lockedRand) {
	defer ch.Close()
	ctl := a.d.controls[svc.name]
	var slowMu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctl.waitRunnable(ctx) {
				var del amqp.Delivery
				var ok bool
				select {
				case <-ctx.Done():
					return
				case del, ok = <-deliveries:
					if !ok {
						return
					}
				}
				if ctl.isSlow() {
					slowMu.Lock()
					ok := sleep(ctx, a.slowDelay())
					if ok {
						a.handle(ctx, ch, svc, rng, &del)
					}
					slowMu.Unlock()
					if !ok {
						return
					}
					continue
				}
				a.handle(ctx, ch, svc, rng, &del)
			}
		})
	}
	wg.Wait()
}

func (a *amqpShop) slowDelay() time.Duration {
	return time.Duration(float64(a.d.cfg.Replicas) / (0.3 * a.d.cfg.Rate) * float64(time.Second))
}

func (a *amqpShop) handle(ctx context.Context, ch *amqp.Channel, svc *service, rng *lockedRand, del *amqp.Delivery) {
	d := a.d
	in, p, fail := decode(del.Body)
	if fail == nil && !svc.accepts[in.Type] {
		_ = del.Ack(false)
		return
	}
	lat, ok := d.cfg.Latency[svc.name]
	if !ok {
		lat = DefaultLatency(svc.name)
	}
	if !sleep(ctx, lat.sample(rng)) {
		return
	}
	ctx, span := d.startProcess(ctx, tableCarrier(del.Headers), svc, "rabbitmq", a.topo.inbox(svc.name))
	defer func() { endSpan(span, errIf(fail)) }()
	if fail == nil {
		var outs []*outEvent
		outs, fail = svc.handle(rng, d.cfg.FailRate, in, p)
		for _, o := range outs {
			if err := a.publish(ctx, ch, svc.name, in, o, rng); err != nil {
				if ctx.Err() == nil {
					d.cfg.Logf("demo: %s: publish: %v", svc.name, err)
				}
				// Not acked: the broker redelivers it to another try.
				_ = del.Nack(false, true)
				return
			}
		}
	}
	if fail != nil {
		if !svc.deadLetters {
			d.cfg.Logf("demo: %s: skipped %s: %v", svc.name, del.MessageId, fail)
			_ = del.Ack(false)
			return
		}
		if err := del.Reject(false); err == nil {
			d.stats.deadLetter(a.topo.dlq(svc.name))
		}
		return
	}
	_ = del.Ack(false)
}

// publish sends one event to the emitting service's exchange, routed by its
// type, and waits for the broker's confirm.
func (a *amqpShop) publish(ctx context.Context, ch *amqp.Channel, source string, cause *body, o *outEvent, rng *lockedRand) error {
	now := a.d.cfg.Now()
	b, v := newEvent(rng, now, o.typ, o.p.OrderID, cause, o.p)
	msg := amqpMessage(b, source, v, now, "application/json")
	propagator.Inject(ctx, tableCarrier(msg.Headers))
	if err := a.send(ctx, ch, a.topo.exchange(source), o.typ, msg); err != nil {
		return err
	}
	a.d.stats.event(o.typ)
	return nil
}

func (a *amqpShop) send(ctx context.Context, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) error {
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !acked {
		return fmt.Errorf("broker nacked the message to %s", exchange)
	}
	return nil
}

// amqpMessage carries the CloudEvents attributes both as the AMQP binding's
// cloudEvents:* headers and as the basic properties AMQP tools read.
func amqpMessage(b *body, source string, v []byte, now time.Time, contentType string) amqp.Publishing {
	return amqp.Publishing{
		ContentType:   contentType,
		DeliveryMode:  amqp.Persistent,
		MessageId:     b.EventID,
		CorrelationId: b.CorrelationID,
		Type:          b.Type,
		Timestamp:     now,
		AppId:         "shop-" + source,
		Headers: amqp.Table{
			"cloudEvents:specversion": "1.0",
			"cloudEvents:id":          b.EventID,
			"cloudEvents:source":      "/shop/" + source,
			"cloudEvents:type":        b.Type,
			"cloudEvents:time":        b.OccurredAt,
		},
		Body: v,
	}
}

func (a *amqpShop) runOrders(ctx context.Context, ch *amqp.Channel) {
	defer ch.Close()
	d := a.d
	rng := newRand(d.cfg.Seed, 1)
	pace(ctx, d.cfg, rng, func(n int64) {
		var err error
		if d.cfg.PoisonEvery > 0 && n%int64(d.cfg.PoisonEvery) == int64(d.cfg.PoisonEvery)/10 {
			err = a.poison(ctx, ch, rng, (n/int64(d.cfg.PoisonEvery))%poisonKinds)
		} else {
			err = a.placeOrder(ctx, ch, rng, false)
		}
		if err != nil && ctx.Err() == nil {
			d.cfg.Logf("demo: orders: publish: %v", err)
		}
	})
}

func (a *amqpShop) placeOrder(ctx context.Context, ch *amqp.Channel, rng *lockedRand, evil bool) error {
	id := "ord-" + rng.Hex(10)
	ctx, span := a.d.startOrder(ctx, "rabbitmq", a.topo.exchange("orders"))
	defer span.End()
	return a.publish(ctx, ch, "orders", nil, &outEvent{typ: OrderPlaced, p: newOrder(rng, id, evil)}, rng)
}

func (a *amqpShop) poison(ctx context.Context, ch *amqp.Channel, rng *lockedRand, kind int64) error {
	if kind == poisonEscapes {
		err := a.placeOrder(ctx, ch, rng, true)
		if err == nil {
			a.d.stats.poisoned()
		}
		return err
	}
	pm := newPoison(rng, a.d.cfg.Now(), kind)
	exchange := a.topo.exchange("orders")
	if pm.typ == PaymentAuthorized {
		exchange = a.topo.exchange("payments")
	}
	msg := amqpMessage(pm.b, "legacy-importer", pm.value, pm.now, pm.contentType)
	ctx, span := a.d.startOrder(ctx, "rabbitmq", exchange)
	propagator.Inject(ctx, tableCarrier(msg.Headers))
	span.End()
	if err := a.send(ctx, ch, exchange, pm.typ, msg); err != nil {
		return err
	}
	a.d.stats.poisoned()
	return nil
}
