package dlq_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/event"
)

func be32(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
func be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

var origin = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func springHeaders(msg string, partition int32, offset int64) []event.Header {
	return []event.Header{
		{Key: "ce_id", Value: []byte("evt-1")},
		{Key: dlq.SpringExceptionFQCN, Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
		{Key: dlq.SpringExceptionCauseFQCN, Value: []byte("java.lang.IllegalStateException")},
		{Key: dlq.SpringExceptionMessage, Value: []byte(msg)},
		{Key: dlq.SpringOriginalTopic, Value: []byte("payments")},
		{Key: dlq.SpringOriginalPartition, Value: be32(partition)},
		{Key: dlq.SpringOriginalOffset, Value: be64(offset)},
		{Key: dlq.SpringOriginalTimestamp, Value: be64(origin.UnixMilli())},
		{Key: dlq.SpringOriginalGroup, Value: []byte("payments-svc")},
	}
}

func TestReadConventions(t *testing.T) {
	spring := event.Event{Transport: event.Kafka, Topic: "payments.DLT", Headers: springHeaders("card declined", 2, 4711)}
	l, ok := dlq.Read(&spring)
	want := dlq.Letter{Convention: dlq.Spring, Error: "card declined", Class: "java.lang.IllegalStateException",
		Origin: "payments", OriginPartition: 2, OriginOffset: 4711, OriginTime: origin, Consumer: "payments-svc"}
	if !ok || fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("spring:\n got %+v\nwant %+v", l, want)
	}

	connect := event.Event{Transport: event.Kafka, Topic: "inventory-dlq", Headers: []event.Header{
		{Key: dlq.ConnectTopic, Value: []byte("inventory")},
		{Key: dlq.ConnectPartition, Value: []byte("1")},
		{Key: dlq.ConnectOffset, Value: []byte("99")},
		{Key: dlq.ConnectConnectorName, Value: []byte("inventory-sink")},
		{Key: dlq.ConnectExceptionClass, Value: []byte("org.apache.kafka.connect.errors.DataException")},
		{Key: dlq.ConnectExceptionMessage, Value: []byte("bad json")},
	}}
	l, ok = dlq.Read(&connect)
	want = dlq.Letter{Convention: dlq.Connect, Error: "bad json", Class: "org.apache.kafka.connect.errors.DataException",
		Origin: "inventory", OriginPartition: 1, OriginOffset: 99, Consumer: "inventory-sink"}
	if !ok || fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("connect:\n got %+v\nwant %+v", l, want)
	}

	rabbit := event.Event{Transport: event.AMQP, Queue: "orders.dlq", Headers: []event.Header{
		{Key: "x-death", Typed: []any{
			map[string]any{"count": int64(3), "exchange": "shop", "queue": "orders", "reason": "rejected",
				"routing-keys": []any{"order.placed"}, "time": origin},
			map[string]any{"count": int64(1), "exchange": "", "queue": "orders.retry", "reason": "expired", "time": origin},
		}},
		{Key: dlq.HeaderFirstDeathQueue, Value: []byte("orders.retry")},
	}}
	l, ok = dlq.Read(&rabbit)
	want = dlq.Letter{Convention: dlq.XDeath, Error: "rejected", Origin: "orders", OriginPartition: -1, OriginOffset: -1,
		OriginTime: origin, Exchange: "shop", RoutingKeys: []string{"order.placed"}, Count: 3}
	if !ok || fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("x-death:\n got %+v\nwant %+v", l, want)
	}

	if _, ok := dlq.Read(&event.Event{Topic: "orders.DLT"}); ok {
		t.Fatal("an event without dead-letter headers was read as a letter")
	}
}

func TestNaming(t *testing.T) {
	n := dlq.DefaultNaming()
	for name, want := range map[string]string{
		"payments.DLT": "payments", "orders-dlt": "orders", "inventory-dlq": "inventory", "x_dlq": "x",
		"orders.dlq": "orders", "shop-dead-letter": "", "DeadLetters": "",
	} {
		got, ok := n.Origin(name)
		if !ok || got != want {
			t.Errorf("Origin(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"payments", "dlt", "orders.dl", "letters"} {
		if n.Is(name) {
			t.Errorf("%q is not a DLQ name", name)
		}
	}
}

func TestSummarizeKafkaGroupsByErrorAndOrigin(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 2)
	dlt := topic + ".DLT"
	adm := kafkatest.Admin(t, seeds)
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, dlt); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 7 {
		msg := "card declined"
		if i%3 == 0 {
			msg = "timeout"
		}
		var hs []kgo.RecordHeader
		for _, h := range springHeaders(msg, int32(i%2), int64(i)) {
			hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		recs = append(recs, &kgo.Record{Topic: dlt, Value: []byte("x"), Headers: hs,
			Timestamp: origin.Add(time.Duration(i) * time.Minute)})
	}
	recs = append(recs, &kgo.Record{Topic: dlt, Value: []byte("no headers"), Timestamp: origin.Add(time.Hour)})
	kafkatest.Produce(t, seeds, recs...)

	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names, err := dlq.KafkaDLQs(context.Background(), c, dlq.DefaultNaming())
	if err != nil || !slices.Contains(names, dlt) || slices.Contains(names, topic) {
		t.Fatalf("discovered %v, %v; want %s and not %s", names, err, dlt, topic)
	}
	s, err := dlq.SummarizeKafka(context.Background(), c, dlt, dlq.DefaultNaming(), nil, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 8 || s.Unparsed != 1 || !s.Oldest.Equal(origin) || !s.Newest.Equal(origin.Add(time.Hour)) {
		t.Fatalf("summary: %+v", s)
	}
	if fmt.Sprint(s.Errors) != "[{card declined 4} {timeout 3} {(unknown) 1}]" {
		t.Fatalf("errors: %v", s.Errors)
	}
	// The unparsed one's origin comes from the DLT's name.
	if fmt.Sprint(s.Origins) != fmt.Sprintf("[{payments 7} {%s 1}]", topic) {
		t.Fatalf("origins: %v", s.Origins)
	}
	g := s.Groups[0]
	if g.Error != "card declined" || g.Origin != "payments" || g.Count != 4 || len(g.IDs) != 2 ||
		g.IDs[0] != dlt+"/0@1" || !g.First.Equal(origin.Add(time.Minute)) || !g.Last.Equal(origin.Add(5*time.Minute)) {
		t.Fatalf("first group: %+v", g)
	}
}
