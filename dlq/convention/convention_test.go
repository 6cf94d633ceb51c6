package convention

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

var origin = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestReadConventions(t *testing.T) {
	spring := event.Event{Transport: event.Kafka, Topic: "payments.DLT", Headers: []event.Header{
		{Key: "ce_id", Value: []byte("evt-1")},
		{Key: SpringExceptionFQCN, Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
		{Key: SpringExceptionCauseFQCN, Value: []byte("java.lang.IllegalStateException")},
		{Key: SpringExceptionMessage, Value: []byte("card declined")},
		{Key: SpringOriginalTopic, Value: []byte("payments")},
		{Key: SpringOriginalPartition, Value: binary.BigEndian.AppendUint32(nil, 2)},
		{Key: SpringOriginalOffset, Value: binary.BigEndian.AppendUint64(nil, 4711)},
		{Key: SpringOriginalTimestamp, Value: binary.BigEndian.AppendUint64(nil, uint64(origin.UnixMilli()))},
		{Key: SpringOriginalGroup, Value: []byte("payments-svc")},
	}}
	l, ok := Read(&spring)
	want := Letter{Convention: Spring, Error: "card declined", Class: "java.lang.IllegalStateException",
		Origin: "payments", OriginPartition: 2, OriginOffset: 4711, OriginTime: origin, Consumer: "payments-svc"}
	if !ok || fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("spring:\n got %+v\nwant %+v", l, want)
	}

	connect := event.Event{Transport: event.Kafka, Topic: "inventory-dlq", Headers: []event.Header{
		{Key: ConnectTopic, Value: []byte("inventory")},
		{Key: ConnectPartition, Value: []byte("1")},
		{Key: ConnectOffset, Value: []byte("99")},
		{Key: ConnectConnectorName, Value: []byte("inventory-sink")},
		{Key: ConnectExceptionClass, Value: []byte("org.apache.kafka.connect.errors.DataException")},
		{Key: ConnectExceptionMessage, Value: []byte("bad json")},
	}}
	l, ok = Read(&connect)
	want = Letter{Convention: Connect, Error: "bad json", Class: "org.apache.kafka.connect.errors.DataException",
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
		{Key: HeaderFirstDeathQueue, Value: []byte("orders.retry")},
	}}
	l, ok = Read(&rabbit)
	want = Letter{Convention: XDeath, Error: "rejected", Origin: "orders", OriginPartition: -1, OriginOffset: -1,
		OriginTime: origin, Exchange: "shop", RoutingKeys: []string{"order.placed"}, Count: 3}
	if !ok || fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("x-death:\n got %+v\nwant %+v", l, want)
	}

	if _, ok := Read(&event.Event{Topic: "orders.DLT"}); ok {
		t.Fatal("an event without dead-letter headers was read as a letter")
	}
}

func TestNaming(t *testing.T) {
	n := DefaultNaming()
	for name, want := range map[string]string{
		"payments.DLT": "payments", "orders-dlt": "orders", "inventory-dlq": "inventory", "x_dlq": "x",
		"orders.dlq": "orders", "shop-dead-letter": "", "DeadLetters": "",
		"dlq.orders": "orders", "DLQ-payments": "payments",
	} {
		got, ok := n.Origin(name)
		if !ok || got != want {
			t.Errorf("Origin(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"payments", "dlt", "orders.dl", "letters", "dlq.", "dlqueue"} {
		if n.Is(name) {
			t.Errorf("%q is not a DLQ name", name)
		}
	}
}
