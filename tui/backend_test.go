package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// hostileValue is what a producer could send to drive a terminal.
const hostileValue = "evil \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x9b31m"

// drain reads src to its end through a stream and the Tail view, as the
// program would.
func drain(t *testing.T, m *Model, src bus.Source) {
	t.Helper()
	v := m.tail
	m.Update(openTailMsg{addrs: v.addrs})
	_, cmd := m.Update(tailOpenedMsg{id: v.nextID, src: src})
	for cmd != nil {
		_, cmd = m.Update(cmd())
	}
	if v.endErr != nil && !errors.Is(v.endErr, io.EOF) {
		t.Fatal(v.endErr)
	}
}

// kafkaTestModel is newTestModel (100×30) with a Kafka client of seeds,
// closed after the model.
func kafkaTestModel(t *testing.T, seeds []string) *Model {
	t.Helper()
	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	m := newTestModel(t, 100, 30)
	m.be.Kafka = c
	return m
}

// tailTwoEscaped tails addr in the Tail view from its beginning to its end
// (opts adds to that) and requires two events read, hostile ones escaped.
func tailTwoEscaped(t *testing.T, ctx context.Context, m *Model, addr bus.Address, opts bus.ReadOptions) {
	t.Helper()
	addrs := []bus.Address{addr}
	m.tail.addrs = addrs
	opts.From, opts.Until = bus.Position{Kind: bus.PosBeginning}, bus.Position{Kind: bus.PosEnd}
	src, err := m.be.openTail(ctx, addrs, opts)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, m, src)
	if m.tail.total != 2 {
		t.Fatalf("%d events", m.tail.total)
	}
	requireEscapedEvent(t, m)
}

// TestBackendRealKafka: on the real Kafka, the Sources listing shows a topic
// with its partitions and messages, and the tail reads it (nothing committed:
// no group is created) and shows hostile payloads escaped.
func TestBackendRealKafka(t *testing.T) {
	seeds := kafkatest.Real(t)
	topic := kafkatest.NewTopic(t, seeds, 2)
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Partition: 0, Key: []byte("k1"), Value: []byte(`{"type":"OrderPlaced","event_id":"e1"}`)},
		&kgo.Record{Topic: topic, Partition: 1, Value: []byte(hostileValue)})
	m := kafkaTestModel(t, seeds)
	ctx := context.Background()
	m.Update(m.be.listSources(ctx))
	var row *sourceRow
	for i := range m.sources.rows {
		if m.sources.rows[i].addr.Name == topic {
			row = &m.sources.rows[i]
		}
	}
	if row == nil || row.partitions != 2 || row.messages != 2 {
		t.Fatalf("topic row %+v", row)
	}
	tailTwoEscaped(t, ctx, m, bus.Address{Transport: "kafka", Name: topic}, bus.ReadOptions{})
	groups, err := kafkatest.Admin(t, seeds).ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups() {
		if strings.Contains(g, topic) {
			t.Fatalf("the tail created group %q", g)
		}
	}
}

// requireEscapedEvent opens every tailed event in the Event view and wants
// the hostile one shown escaped.
func requireEscapedEvent(t *testing.T, m *Model) {
	t.Helper()
	screenOf(t, m)
	for _, seq := range m.tail.shown.items() {
		e := *m.tail.ring.get(seq)
		m.Update(openEventMsg{&e})
		if strings.Contains(screenOf(t, m), `evil \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x9b31m`) {
			return
		}
	}
	t.Fatal("no event view shows the hostile payload escaped")
}

// screenOf renders the screen and checks no control character is on it.
func screenOf(t *testing.T, m *Model) string {
	t.Helper()
	s := m.render()
	for _, r := range s {
		if r < 0x20 && r != '\n' || r >= 0x7f && r < 0xa0 {
			t.Fatalf("control character %U on the screen:\n%q", r, s)
		}
	}
	return s
}

// TestBackendRealRabbitMQ: the Sources listing shows a queue and its depth
// through the management API; the tail peeks its backlog (as tail --backlog)
// and leaves every message in the queue; hostile payloads show escaped.
func TestBackendRealRabbitMQ(t *testing.T) {
	u := amqptest.URL(t)
	tp := amqptest.Topology(t, u)
	tp.Publish(t, amqp091.Publishing{Body: []byte(`{"type":"OrderPlaced"}`), Timestamp: time.Now()},
		amqp091.Publishing{Body: []byte(hostileValue), Timestamp: time.Now()})
	amqptest.Eventually(t, 20*time.Second, "the queue holds 2", func() bool { return amqptest.Depth(t, u, tp.Queue) == 2 })
	c, err := amqp.New(u, amqp.WithManagementURL(amqptest.ManagementURL(t, u)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := newTestModel(t, 100, 30)
	m.be.AMQP = c
	ctx := context.Background()
	// The management API samples every few seconds: wait until it counts both.
	var row *sourceRow
	amqptest.Eventually(t, 30*time.Second, "the listing counts the queue's messages", func() bool {
		m.Update(m.be.listSources(ctx))
		row = nil
		for i := range m.sources.rows {
			if m.sources.rows[i].addr.Name == tp.Queue {
				row = &m.sources.rows[i]
			}
		}
		return row != nil && row.messages == 2
	})
	tailTwoEscaped(t, ctx, m, bus.Address{Transport: "amqp", Name: tp.Queue}, bus.ReadOptions{Backlog: true})
	amqptest.Eventually(t, 20*time.Second, "both messages back in the queue", func() bool { return amqptest.Depth(t, u, tp.Queue) == 2 })
}

// TestDLQMessageOpensEvent: enter on a message of a DLQ group opens its
// event (read by its position, not by its event id, which several letters may
// share) in the Event view.
func TestDLQMessageOpensEvent(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	dlt := kafkatest.NamedTopic(t, seeds, "o.DLT", 1)
	for i := range 3 {
		kafkatest.Produce(t, seeds, &kgo.Record{Topic: dlt, Value: []byte(`{"event_id":"same","n":` + string(rune('0'+i)) + `}`)})
	}
	m := kafkaTestModel(t, seeds)
	press(m, "4")
	m.Update(dlqResult{m.dlq.gen, m.be.summarizeDLQs(context.Background())})
	press(m, "enter", "enter", "j")
	if m.dlq.stage != stageMessages {
		t.Fatalf("stage %d:\n%s", m.dlq.stage, m.render())
	}
	_, cmd := m.Update(keyMsg("enter"))
	if cmd == nil {
		t.Fatal("enter on a message did nothing")
	}
	m.Update(cmd())
	if m.current() != viewEvent || m.event.e == nil || string(m.event.e.Value) != `{"event_id":"same","n":1}` {
		t.Fatalf("enter opened %v:\n%s", m.current(), m.render())
	}
	// A message that is gone says so.
	_, err := m.be.dlqMessage(context.Background(), "kafka", dlt, "kafka:"+dlt+"/0@9")
	if err == nil || !strings.Contains(err.Error(), "no longer in") {
		t.Fatalf("a gone message: %v", err)
	}
}
