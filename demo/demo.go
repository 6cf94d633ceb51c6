// Package demo runs a small simulated shop whose services emit, consume, fail and
// dead-letter real events, over an in-process Kafka cluster (franz-go's kfake) or
// over a RabbitMQ, so that every eddy command has a living system to work on with
// nothing installed.
//
// # The shop
//
// Services are goroutines with real clients: on Kafka, kgo clients in real
// consumer groups that commit after the events they produced were acknowledged;
// on RabbitMQ, consumers on durable work queues that ack after publisher
// confirms. The flow, keyed by the order id:
//
//	orders         places orders                 -> OrderPlaced
//	payments       OrderPlaced                    -> PaymentAuthorized | PaymentFailed
//	inventory      PaymentAuthorized              -> StockReserved | OutOfStock
//	shipping       StockReserved                  -> OrderShipped
//	notifications  OrderShipped, PaymentFailed,
//	               OutOfStock                     -> EmailSent
//
// Every event is JSON {"event_id", "type", "occurred_at", "correlation_id" (the
// order id), "causation_id" (the event that caused it; absent on OrderPlaced),
// "payload"}. On Kafka the record carries CloudEvents binary-mode headers
// (ce_id, ce_source, ce_specversion, ce_type, ce_time, content-type); on
// RabbitMQ the same attributes are cloudEvents:* headers and the message_id,
// correlation_id, type and timestamp properties. A W3C traceparent travels along
// each flow: the orders service starts a trace, and every service handles an
// event in a child span of the span that produced it.
//
// # Formats
//
// With Config.Format avro, protobuf or json the Kafka shop writes the same
// events in the Confluent wire format instead, against a Schema Registry that
// runs in the process (franz-go's srfake on a loopback port, see
// Demo.RegistryURL) with one schema per event topic under "<topic>-value". The
// envelope fields keep their names (Protobuf JSON spells them in lowerCamelCase),
// so the ids are found once a payload is decoded. The services decode what
// they consume with those schemas, and a value they cannot read is dead-lettered
// as Confluent's deserializer (Spring) or converter (Connect) reports it.
//
// # Kafka names
//
// Topics (Config.Partitions partitions each, keys = order ids, so one order stays
// on one partition number in every topic):
//
//	orders, payments, inventory, shipping, notifications   the events each service emits
//	payments.DLT    what the payments service failed on, written the way Spring
//	                Kafka's DeadLetterPublishingRecoverer writes it (kafka_dlt-*
//	                headers, same partition as the failed record; the topic is
//	                named after the failing service by a destination resolver, as
//	                teams commonly configure it, so kafka_dlt-original-topic says
//	                "orders")
//	inventory-dlq   what the inventory service failed on, written the way Kafka
//	                Connect's DeadLetterQueueReporter writes it (__connect.errors.*
//	                headers, one partition, original timestamp kept)
//
// Consumer groups: payments, connect-inventory (the inventory service runs as the
// sink connector "inventory", and Connect names a sink's group connect-NAME),
// shipping, notifications.
//
// # RabbitMQ names
//
// With Config.AMQPURL set, every name starts with Config.AMQPPrefix ("shop."):
// a durable topic exchange per emitting service (shop.orders, shop.payments,
// shop.inventory, shop.shipping, shop.notifications; routing key = event type),
// a work queue per consuming service (shop.payments.inbox, shop.inventory.inbox,
// shop.shipping.inbox, shop.notifications.inbox), and for the two services that
// fail, a fanout dead-letter exchange named by the work queue's
// x-dead-letter-exchange (shop.payments.dlx, shop.inventory.dlx) bound to a
// dead-letter queue (shop.payments.dlq, shop.inventory.dlq). A failing service
// rejects the message without requeueing, so the broker itself dead-letters it
// and records x-death.
//
// # Trouble on purpose
//
// A share of events (Config.FailRate) fails in payments and in inventory and is
// dead-lettered; every Config.PoisonEvery orders a legacy importer writes a
// poison message: truncated JSON into orders (payments dead-letters it as a
// deserialization failure), an Avro-encoded binary record into payments
// (inventory's JSON converter dead-letters it) or an order whose customer name
// holds terminal escape sequences (valid JSON; it flows to the end). Slow and
// Stall make one consumer fall behind while the others keep up.
package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultPort is where `eddy demo` puts the embedded Kafka unless told otherwise:
// the port every Kafka tool tries first.
const DefaultPort = 9092

// Topic names of the Kafka shop.
const (
	TopicOrders        = "orders"
	TopicPayments      = "payments"
	TopicInventory     = "inventory"
	TopicShipping      = "shipping"
	TopicNotifications = "notifications"
	TopicPaymentsDLT   = "payments.DLT"
	TopicInventoryDLQ  = "inventory-dlq"
)

// Event types of the shop.
const (
	OrderPlaced       = "OrderPlaced"
	PaymentAuthorized = "PaymentAuthorized"
	PaymentFailed     = "PaymentFailed"
	StockReserved     = "StockReserved"
	OutOfStock        = "OutOfStock"
	OrderShipped      = "OrderShipped"
	EmailSent         = "EmailSent"
)

// Errors Start and the controls return.
var (
	// ErrUnknownService: a name given to Slow, Stall, Resume or Config.Slow/Stall
	// is not one of Services().
	ErrUnknownService = errors.New("unknown service")
	// ErrConfig: a Config value is out of range.
	ErrConfig = errors.New("bad demo configuration")
)

// Config says how the demo runs. The zero value is a working demo on an
// OS-chosen port; every field documents the default its zero value stands for.
type Config struct {
	// Port is the TCP port of the embedded Kafka on 127.0.0.1. When it is taken
	// the next free port above it is used (up to 100 further). 0 lets the
	// operating system choose, which is what tests want; eddy demo passes
	// DefaultPort.
	Port int
	// DataDir, when set, keeps the cluster's topics, records and committed
	// offsets in this directory, so a later run continues where this one
	// stopped. Empty: the cluster lives in memory and starts empty.
	DataDir string
	// Partitions per topic (default 6), except inventory-dlq, which has one
	// partition because that is what Kafka Connect creates.
	Partitions int
	// Replicas is the number of consumer instances per service (default 2), so
	// groups have several members and partitions are shared among them.
	Replicas int

	// Rate is the steady number of orders per second (default 20).
	Rate float64
	// BurstEvery is the mean time between bursts, when orders arrive at five
	// times Rate for three seconds (default 30s; negative: no bursts).
	BurstEvery time.Duration
	// FailRate is the share of events the payments and the inventory service
	// fail on and dead-letter (default 0.02; negative: none). It must be <= 1.
	FailRate float64
	// PoisonEvery: one poison message per this many orders (default 100;
	// negative: none). The kinds take turns.
	PoisonEvery int
	// Latency is each service's processing time, by service name; services not
	// in the map use DefaultLatency.
	Latency map[string]Latency

	// Slow and Stall name services that start slow or stalled; see Demo.Slow
	// and Demo.Stall.
	Slow, Stall []string

	// Format is how the Kafka shop writes its events' values (default
	// FormatPlain: bare JSON). The framed formats run an in-process Schema
	// Registry (see RegistryURL) and write the Confluent wire format; the
	// services decode what they consume with the same schemas. Kafka only: a
	// framed format with AMQPURL is ErrConfig.
	Format Format
	// RegistryPort is the TCP port of the Schema Registry on 127.0.0.1, with
	// a framed Format. When it is taken the next free port above it is used.
	// 0 lets the operating system choose; eddy demo passes
	// DefaultRegistryPort.
	RegistryPort int

	// AMQPURL, when set, runs the shop over this RabbitMQ instead of an embedded
	// Kafka.
	AMQPURL string
	// AMQPPrefix starts every exchange and queue name in AMQP mode (default
	// "shop."). Tests use a unique one per run.
	AMQPPrefix string

	// Seed makes ids and choices repeatable for a given interleaving (0: random).
	Seed uint64
	// Now is the clock for event times and record timestamps (default
	// time.Now). Topics keep 30 minutes of records (dead letters a day) by
	// their timestamps, so a clock far in the past has them deleted within a
	// minute. They are bounded by size too: 64 MiB for the event topics
	// together, 16 MiB for the dead-letter topics.
	Now func() time.Time
	// TracerProvider makes the services' spans. Default: an SDK provider without
	// an exporter, which only generates the ids for traceparent. Pass one with an
	// exporter to see the shop's own traces, or a recorder in tests.
	TracerProvider trace.TracerProvider
	// Logf receives what goes wrong inside the services (a failed produce, a
	// lost connection). Default: discarded, since the demo heals itself.
	Logf func(format string, args ...any)
}

// Latency is how long a service takes to handle one event: log-normal, as service
// times usually are, with the given median and a tail such that one event in a
// hundred takes longer than P99. A P99 at or below the median means a constant
// Median.
type Latency struct {
	Median time.Duration
	P99    time.Duration
}

// DefaultLatency is the latency of a service that Config.Latency leaves out.
func DefaultLatency(service string) Latency {
	switch service {
	case "payments":
		return Latency{Median: 30 * time.Millisecond, P99: 250 * time.Millisecond}
	case "inventory":
		return Latency{Median: 10 * time.Millisecond, P99: 80 * time.Millisecond}
	case "shipping":
		return Latency{Median: 50 * time.Millisecond, P99: 400 * time.Millisecond}
	case "notifications":
		return Latency{Median: 15 * time.Millisecond, P99: 120 * time.Millisecond}
	}
	return Latency{Median: 10 * time.Millisecond, P99: 50 * time.Millisecond}
}

func (c *Config) withDefaults() (Config, error) {
	o := *c
	if o.Partitions == 0 {
		o.Partitions = 6
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.BurstEvery == 0 {
		o.BurstEvery = 30 * time.Second
	}
	switch {
	case o.FailRate == 0:
		o.FailRate = 0.02
	case o.FailRate < 0:
		o.FailRate = 0
	}
	switch {
	case o.PoisonEvery == 0:
		o.PoisonEvery = 100
	case o.PoisonEvery < 0:
		o.PoisonEvery = 0
	}
	if o.AMQPPrefix == "" {
		o.AMQPPrefix = "shop."
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	f, err := ParseFormat(string(o.Format))
	if err != nil {
		return o, err
	}
	o.Format = f
	switch {
	case o.Format.framed() && o.AMQPURL != "":
		return o, fmt.Errorf("%w: format %s is for the Kafka shop; the RabbitMQ shop writes plain JSON", ErrConfig, o.Format)
	case o.RegistryPort < 0 || o.RegistryPort > 65535:
		return o, fmt.Errorf("%w: registry port %d is not between 0 and 65535", ErrConfig, o.RegistryPort)
	case o.Port < 0 || o.Port > 65535:
		return o, fmt.Errorf("%w: port %d is not between 0 and 65535", ErrConfig, o.Port)
	case o.Partitions < 1 || o.Partitions > 1000:
		return o, fmt.Errorf("%w: %d partitions (want 1 to 1000)", ErrConfig, o.Partitions)
	case o.Replicas < 1 || o.Replicas > 32:
		return o, fmt.Errorf("%w: %d replicas (want 1 to 32)", ErrConfig, o.Replicas)
	case o.Rate < 0 || o.Rate > 100000:
		return o, fmt.Errorf("%w: rate %g orders/s (want more than 0, at most 100000)", ErrConfig, o.Rate)
	case o.FailRate > 1:
		return o, fmt.Errorf("%w: fail rate %g is a share, at most 1", ErrConfig, o.FailRate)
	}
	for name, l := range o.Latency {
		if err := checkService(name); err != nil {
			return o, fmt.Errorf("latency: %w", err)
		}
		if l.Median < 0 || l.P99 < 0 {
			return o, fmt.Errorf("%w: negative latency for %s", ErrConfig, name)
		}
	}
	for _, name := range append(slices.Clone(o.Slow), o.Stall...) {
		if err := checkService(name); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Services returns the names of the consuming services, the ones Slow, Stall and
// Config.Latency accept, in flow order.
func Services() []string {
	names := make([]string, len(shopServices))
	for i, s := range shopServices {
		names[i] = s.name
	}
	return names
}

func checkService(name string) error {
	for _, s := range shopServices {
		if s.name == name {
			return nil
		}
	}
	return fmt.Errorf("%w %q (want one of %s)", ErrUnknownService, name, strings.Join(Services(), ", "))
}

// Demo is a running shop. Its methods are safe for concurrent use.
type Demo struct {
	cfg    Config
	tracer trace.Tracer
	ownTP  *sdktrace.TracerProvider

	controls map[string]*control
	stats    stats

	kafka *kafkaShop
	amqp  *amqpShop

	cancel context.CancelFunc
	done   chan struct{}
	errMu  sync.Mutex
	err    error
}

// Start starts the broker (unless Config.AMQPURL names one) and the shop, and
// returns once the topics or queues exist and the services are running. The demo
// stops, leaving no goroutine behind, when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config) (*Demo, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Demo{cfg: c, controls: map[string]*control{}, done: make(chan struct{})}
	d.stats.init()
	for _, s := range shopServices {
		d.controls[s.name] = newControl()
	}
	for _, name := range c.Slow {
		d.controls[name].set(ptr(true), nil)
	}
	for _, name := range c.Stall {
		d.controls[name].set(nil, ptr(true))
	}
	tp := c.TracerProvider
	if tp == nil {
		// No exporter and no batcher: the provider starts no goroutine and only
		// generates ids, which is all traceparent needs.
		d.ownTP = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		tp = d.ownTP
	}
	d.tracer = tp.Tracer("github.com/eddy-sh/eddy/demo")

	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	var stop func()
	if c.AMQPURL != "" {
		d.amqp, err = startAMQP(runCtx, d)
		if err == nil {
			stop = d.amqp.stop
		}
	} else {
		d.kafka, err = startKafka(runCtx, d)
		if err == nil {
			stop = d.kafka.stop
		}
	}
	if err != nil {
		cancel()
		d.shutdownTracer()
		return nil, err
	}
	go func() {
		<-runCtx.Done()
		stop()
		d.shutdownTracer()
		close(d.done)
	}()
	return d, nil
}

func (d *Demo) shutdownTracer() {
	if d.ownTP != nil {
		_ = d.ownTP.Shutdown(context.Background())
	}
}

// fail records the first fatal error and stops the demo; Err reports it.
func (d *Demo) fail(err error) {
	d.errMu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.errMu.Unlock()
	d.cancel()
}

// Close stops the shop and the broker and waits until every goroutine the demo
// started has ended. It returns the error that stopped the demo early, if any.
// Closing twice is harmless.
func (d *Demo) Close() error {
	d.cancel()
	<-d.done
	return d.Err()
}

// Done is closed once the demo has stopped: after Close, after the context given
// to Start is done, or after a fatal error (see Err).
func (d *Demo) Done() <-chan struct{} { return d.done }

// Err returns the error that stopped the demo on its own (say, the RabbitMQ
// connection was lost), or nil.
func (d *Demo) Err() error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return d.err
}

// Addr returns the bootstrap address of the embedded Kafka (host:port), or ""
// in AMQP mode.
func (d *Demo) Addr() string {
	if d.kafka == nil {
		return ""
	}
	return d.kafka.addr
}

// Format returns how the shop writes its events' values.
func (d *Demo) Format() Format { return d.cfg.Format }

// RegistryURL returns the base URL of the demo's Schema Registry
// (http://127.0.0.1:port), which holds the schemas of the framed formats'
// values; "" with FormatPlain and in AMQP mode, where there is none.
func (d *Demo) RegistryURL() string {
	if d.kafka == nil || d.kafka.reg == nil {
		return ""
	}
	return d.kafka.reg.url
}

// Subjects returns the registry subjects of the events' values with a framed
// format, in flow order (Protobuf's shared shop/common.proto after them), or
// nil without a registry.
func (d *Demo) Subjects() []string {
	if d.RegistryURL() == "" {
		return nil
	}
	var subs []string
	for _, te := range topicEvents {
		subs = append(subs, te.topic+"-value")
	}
	if d.cfg.Format == FormatProtobuf {
		subs = append(subs, protoCommonPath)
	}
	return subs
}

// Topics returns the Kafka topics of the shop, dead-letter topics included, or
// nil in AMQP mode.
func (d *Demo) Topics() []string {
	if d.kafka == nil {
		return nil
	}
	return []string{TopicOrders, TopicPayments, TopicInventory, TopicShipping, TopicNotifications, TopicPaymentsDLT, TopicInventoryDLQ}
}

// Group returns the Kafka consumer group of a service ("" for an unknown one).
func Group(service string) string {
	for _, s := range shopServices {
		if s.name == service {
			return s.group
		}
	}
	return ""
}

// Groups returns the Kafka consumer groups of the shop, in flow order.
func (d *Demo) Groups() []string {
	if d.kafka == nil {
		return nil
	}
	var gs []string
	for _, s := range shopServices {
		gs = append(gs, s.group)
	}
	return gs
}

// Exchanges returns the RabbitMQ exchanges of the shop (dead-letter exchanges
// included), or nil in Kafka mode.
func (d *Demo) Exchanges() []string {
	if d.amqp == nil {
		return nil
	}
	return d.amqp.topo.exchanges()
}

// Queues returns the RabbitMQ queues of the shop (work queues, then dead-letter
// queues), or nil in Kafka mode.
func (d *Demo) Queues() []string {
	if d.amqp == nil {
		return nil
	}
	return d.amqp.topo.queues()
}

// DeadLetters returns the dead-letter topics (Kafka) or queues (AMQP).
func (d *Demo) DeadLetters() []string {
	if d.amqp != nil {
		return []string{d.amqp.topo.dlq("payments"), d.amqp.topo.dlq("inventory")}
	}
	return []string{TopicPaymentsDLT, TopicInventoryDLQ}
}

// Slow makes a service fall behind: it handles one event at a time, at a pace
// that keeps up with only about a third of the configured rate, so its lag
// grows while the other services keep up. Resume undoes it.
func (d *Demo) Slow(service string) error {
	if err := checkService(service); err != nil {
		return err
	}
	d.controls[service].set(ptr(true), nil)
	return nil
}

// Stall makes a service hang: it stays in its consumer group (or keeps its
// RabbitMQ consumer) but handles and commits (acks) nothing, so its committed
// offsets stop while the log grows. Resume undoes it.
func (d *Demo) Stall(service string) error {
	if err := checkService(service); err != nil {
		return err
	}
	d.controls[service].set(nil, ptr(true))
	return nil
}

// Resume undoes Slow and Stall for a service.
func (d *Demo) Resume(service string) error {
	if err := checkService(service); err != nil {
		return err
	}
	d.controls[service].set(ptr(false), ptr(false))
	return nil
}

// Stats counts what the shop has done so far.
type Stats struct {
	// Orders is the number of orders placed (OrderPlaced events confirmed by
	// the broker).
	Orders int64
	// Events counts confirmed events by type, OrderPlaced included.
	Events map[string]int64
	// DeadLettered counts confirmed dead letters by topic or queue. For AMQP
	// it counts rejections, which the broker dead-letters.
	DeadLettered map[string]int64
	// Poison counts poison messages written.
	Poison int64
}

// Stats returns a snapshot of the counters.
func (d *Demo) Stats() Stats { return d.stats.snapshot() }

type stats struct {
	mu     sync.Mutex
	orders int64
	events map[string]int64
	dead   map[string]int64
	poison int64
}

func (s *stats) init() {
	s.events = map[string]int64{}
	s.dead = map[string]int64{}
}

func (s *stats) event(typ string) {
	s.mu.Lock()
	s.events[typ]++
	if typ == OrderPlaced {
		s.orders++
	}
	s.mu.Unlock()
}

func (s *stats) deadLetter(where string) {
	s.mu.Lock()
	s.dead[where]++
	s.mu.Unlock()
}

func (s *stats) poisoned() {
	s.mu.Lock()
	s.poison++
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Orders: s.orders, Poison: s.poison, Events: map[string]int64{}, DeadLettered: map[string]int64{}}
	for k, v := range s.events {
		out.Events[k] = v
	}
	for k, v := range s.dead {
		out.DeadLettered[k] = v
	}
	return out
}

// String is a one-line summary, for a status line.
func (s Stats) String() string {
	var dead int64
	names := make([]string, 0, len(s.DeadLettered))
	for k, v := range s.DeadLettered {
		dead += v
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("%d orders placed, %d shipped, %d emails sent, %d dead-lettered, %d poison",
		s.Orders, s.Events[OrderShipped], s.Events[EmailSent], dead, s.Poison)
}

// control holds a service's Slow and Stall switches. Waiters block on the wake
// channel, which is closed and replaced on every change, so a stalled service
// resumes at once instead of polling a flag.
type control struct {
	mu          sync.Mutex
	slow, stall bool
	wake        chan struct{}
	slowFlag    atomic.Bool
}

func newControl() *control { return &control{wake: make(chan struct{})} }

func (c *control) set(slow, stall *bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slow != nil {
		c.slow = *slow
		c.slowFlag.Store(*slow)
	}
	if stall != nil {
		c.stall = *stall
	}
	close(c.wake)
	c.wake = make(chan struct{})
}

func (c *control) isSlow() bool { return c.slowFlag.Load() }

// waitRunnable blocks while the service is stalled; false means ctx ended.
func (c *control) waitRunnable(ctx context.Context) bool {
	for {
		c.mu.Lock()
		stalled, wake := c.stall, c.wake
		c.mu.Unlock()
		if !stalled {
			return ctx.Err() == nil
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
		}
	}
}

func ptr[T any](v T) *T { return &v }

// sleep waits d or until ctx ends; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
