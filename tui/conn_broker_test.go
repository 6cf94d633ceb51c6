package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest/v2"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/internal/faultproxy"
)

// produceEvery produces a record to topic every interval until the test
// ends (errors while the broker is away are expected and ignored: the
// client retries).
func produceEvery(t *testing.T, seeds []string, topic string, every time.Duration) {
	t.Helper()
	cl := kafkatest.Client(t, seeds, kgo.RecordDeliveryTimeout(2*time.Second))
	repeatEvery(t, every, func(ctx context.Context) {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(`{"type":"OrderPlaced","event_id":"e"}`)}, nil)
	})
}

// repeatEvery calls do every interval, in a goroutine, until the test ends.
func repeatEvery(t *testing.T, every time.Duration, do func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				do(ctx)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// eventCount is how many events the tail has read so far.
func (p *probe) eventCount() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events
}

// runTail starts the TUI with opts (which open a tail) and waits until the
// tail says FOLLOW and all of want, having read at least 5 events.
func runTail(t *testing.T, opts Options, want ...string) (*probe, *teatest.TestModel) {
	t.Helper()
	p, tm := startProbe(t, opts, 120, 35)
	waitScreen(t, p, "the tail reading", func(s string, v viewID) bool {
		return v == viewTail && has(s, append([]string{"FOLLOW"}, want...)...) && p.eventCount() >= 5
	})
	return p, tm
}

// waitWithin is waitScreen that also fails when the condition took longer
// than within (the time a person would wait for the screen to say it).
func waitWithin(t *testing.T, p *probe, within time.Duration, what string, cond func(screen string, view viewID) bool) {
	t.Helper()
	start := time.Now()
	waitScreen(t, p, what, cond)
	if took := time.Since(start); took > within {
		s, _ := p.state()
		t.Fatalf("%s took %s (more than %s); the screen is:\n%s", what, took.Round(time.Millisecond), within, s)
	}
}

func has(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestBrokerKillEveryViewRecovers kills a throwaway Kafka broker (never the
// shared one) under a running TUI: within --timeout (plus one check's
// interval) the header says it, the tail's status no longer says FOLLOW,
// and Sources, Lag and DLQ show the error in their bodies; after a restart
// every view recovers by itself — the tail reads on, the DLQ list is read
// again without r.
func TestBrokerKillEveryViewRecovers(t *testing.T) {
	b := kafkatest.StartBroker(t)
	seeds := b.Seeds()
	topic := kafkatest.NewTopic(t, seeds, 1)
	dlt := kafkatest.NamedTopic(t, seeds, topic+".DLT", 1)
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: dlt, Value: []byte(`{"event_id":"d1"}`),
		Headers: []kgo.RecordHeader{{Key: "kafka_dlt-exception-message", Value: []byte("boom")}}})
	produceEvery(t, seeds, topic, 50*time.Millisecond)

	const timeout = 3 * time.Second
	const refresh = 200 * time.Millisecond
	c := seedsClient(t, seeds, timeout)
	p, tm := runTail(t, Options{Backend: &Backend{Context: "kill", Kafka: c}, Local: time.UTC, Refresh: refresh,
		Timeout: timeout, Tail: []bus.Address{{Transport: "kafka", Name: topic}}}, "kafka connected")
	b.Kill()
	// The first failed check says "reconnecting" at once; "DOWN" once the
	// outage has lasted --timeout.
	within := timeout + 2*time.Second
	waitWithin(t, p, within, "the tail saying its broker is gone", func(s string, _ viewID) bool {
		return has(s, "kafka reconnecting since") || has(s, "kafka DOWN since")
	})
	waitWithin(t, p, 2*within, "the tail saying DOWN", func(s string, _ viewID) bool {
		return has(s, "kafka DOWN since") && !strings.Contains(s, "FOLLOW")
	})
	tm.Type("1")
	waitWithin(t, p, within, "Sources showing the error in its body", func(s string, v viewID) bool {
		return v == viewSources && has(s, "cannot connect", "read again every") && !strings.Contains(s, "no topics or queues")
	})
	tm.Type("3")
	waitWithin(t, p, 2*within, "Lag showing the error in its body", func(s string, v viewID) bool {
		return v == viewLag && strings.Contains(s, "kafka") && has(s, "sampled again every")
	})
	tm.Type("4")
	waitWithin(t, p, 3*within, "DLQ showing the error in its body", func(s string, v viewID) bool {
		return v == viewDLQ && has(s, "nothing read; read again every") && !strings.Contains(s, "no dead-letter topics")
	})

	b.Restart()
	waitWithin(t, p, within, "the header saying connected", func(s string, _ viewID) bool {
		return has(s, "kafka connected")
	})
	// No r: the DLQ list reads itself again when the broker answers.
	waitWithin(t, p, 3*within, "the DLQ list read again", func(s string, v viewID) bool {
		return v == viewDLQ && has(s, "1 DLQs", ".DLT", "boom") && !strings.Contains(s, "cannot connect")
	})
	tm.Type("1")
	waitWithin(t, p, within, "Sources listing again", func(s string, v viewID) bool {
		return v == viewSources && has(s, "2 sources", "DLQ 1") && !strings.Contains(s, "cannot connect")
	})
	before := p.eventCount()
	tm.Type("2")
	waitWithin(t, p, 3*within, "the tail reading again", func(s string, v viewID) bool {
		return v == viewTail && has(s, "FOLLOW") && !strings.Contains(s, "DOWN") && p.eventCount() > before+5
	})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// TestTailTopicVanishes: a tail whose topic is deleted says its source
// ended and that it reopens — not FOLLOW — and, once the topic is back,
// reads it again by itself.
func TestTailTopicVanishes(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	produceEvery(t, seeds, topic, 20*time.Millisecond)
	c := seedsClient(t, seeds, 3*time.Second)
	p, tm := runTail(t, Options{Backend: &Backend{Context: "gone", Kafka: c}, Local: time.UTC, Refresh: 200 * time.Millisecond,
		Timeout: 3 * time.Second, Tail: []bus.Address{{Transport: "kafka", Name: topic}}})
	adm := kafkatest.Admin(t, seeds)
	ctx := context.Background()
	if _, err := adm.DeleteTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, p, "the tail saying its source ended", func(s string, _ viewID) bool {
		return has(s, "source ended:", "ENDED · reopening") && !strings.Contains(s, "FOLLOW")
	})
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// A new producer: the first one's client knew the deleted topic's id.
	produceEvery(t, seeds, topic, 20*time.Millisecond)
	before := p.eventCount()
	waitScreen(t, p, "the tail reading the topic again", func(s string, _ viewID) bool {
		return has(s, "FOLLOW", "reopened ") && p.eventCount() > before+5
	})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// TestRabbitMQCutEveryViewRecovers cuts a fault proxy in front of the
// shared RabbitMQ (its AMQP port and its management API: an outage for
// this TUI alone) under a running tail: within --timeout the header and
// the tail say it, and Sources shows the error in its body; restored,
// the header says connected, the tail reads on and says what its tap
// missed, and Sources lists again — all by themselves.
func TestRabbitMQCutEveryViewRecovers(t *testing.T) {
	u := amqptest.URL(t)
	tp := amqptest.Topology(t, u)
	via, px := proxied(t, u)
	mgmt, mpx := proxied(t, amqptest.ManagementURL(t, u))
	const timeout = 3 * time.Second
	c, err := amqp.New(via, amqp.WithManagementURL(mgmt), amqp.WithDialTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Published straight to the broker, not through the proxy.
	pub := amqptest.Dial(t, u)
	ch, err := pub.Channel()
	if err != nil {
		t.Fatal(err)
	}
	repeatEvery(t, 50*time.Millisecond, func(ctx context.Context) {
		_ = ch.PublishWithContext(ctx, tp.Exchange, tp.Key, false, false,
			amqp091.Publishing{Body: []byte(`{"type":"OrderPlaced"}`), Timestamp: time.Now()})
	})

	p, tm := runTail(t, Options{Backend: &Backend{Context: "cut", AMQP: c}, Local: time.UTC, Refresh: 200 * time.Millisecond,
		Timeout: timeout, Tail: []bus.Address{{Transport: "amqp", Name: tp.Queue}}}, "amqp connected")
	px.Cut()
	mpx.Cut()
	within := timeout + 2*time.Second
	waitWithin(t, p, within, "the tail saying its broker is gone", func(s string, _ viewID) bool {
		return (has(s, "amqp reconnecting since") || has(s, "amqp DOWN since")) && !strings.Contains(s, "FOLLOW")
	})
	waitWithin(t, p, 2*within, "the header saying DOWN", func(s string, _ viewID) bool { return has(s, "amqp DOWN since") })
	tm.Type("1")
	waitWithin(t, p, 2*within, "Sources showing the error in its body", func(s string, v viewID) bool {
		return v == viewSources && has(s, "read again every") && !strings.Contains(s, "no topics or queues")
	})
	px.Restore()
	mpx.Restore()
	waitWithin(t, p, within, "the header saying connected", func(s string, _ viewID) bool { return has(s, "amqp connected") })
	waitWithin(t, p, within, "Sources listing again", func(s string, v viewID) bool {
		return v == viewSources && has(s, "sources ·") && !strings.Contains(s, "read again every")
	})
	before := p.eventCount()
	tm.Type("2")
	waitWithin(t, p, 3*within, "the tail reading on", func(s string, v viewID) bool {
		return v == viewTail && has(s, "FOLLOW", "is reachable again") && p.eventCount() > before+5
	})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// seedsClient is a client of seeds, closed when the test ends (after the
// TUI that uses it).
func seedsClient(t *testing.T, seeds []string, timeout time.Duration) *kafka.Client {
	t.Helper()
	c, err := kafka.New(seeds, kafka.WithDialTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// proxied puts a fault proxy in front of the host of rawurl and returns
// the URL through it.
func proxied(t *testing.T, rawurl string) (string, *faultproxy.Proxy) {
	t.Helper()
	through, p, err := faultproxy.ForURL(rawurl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return through, p
}
