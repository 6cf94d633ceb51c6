package tui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/internal/conformance"
	"github.com/eddy-sh/eddy/schema"
)

// TestSchemaConformance is the TUI's column of issue 17's conformance
// table (cmd/eddy's TestSchemaConformance has the commands'): for every
// format, a Backend with a Decoder over kfake and srfake (or local
// files) tails the orders and opens one in the event view, which shows the
// decoded tree and key under their schema markers (event-view); the tail's
// filter reads decoded values (tail-filter); the Trace view finds an
// order's flow by the nested correlation id and opens a step decoded
// (trace-view); the DLQ view groups Spring dead letters whose values are
// schema-encoded by the event ids inside them, and opens one decoded
// (dlq-view).
//
//	go test ./tui -run 'TestSchemaConformance/protobuf/event-view'
func TestSchemaConformance(t *testing.T) {
	for _, f := range conformance.Formats(t) {
		t.Run(f.Name, func(t *testing.T) { tuiConformanceRow(t, f) })
	}
}

func tuiConformanceRow(t *testing.T, f conformance.Format) {
	seeds := kafkatest.Cluster(t)
	kafkatest.NamedTopic(t, seeds, conformance.Orders, 1)
	kafkatest.NamedTopic(t, seeds, conformance.Payments, 1)
	kafkatest.NamedTopic(t, seeds, conformance.OrdersDLT, 1)
	orders, payments, letters := conformance.Flow(f.Name)
	var recs []*kgo.Record
	for i, o := range orders {
		recs = append(recs, &kgo.Record{Topic: conformance.Orders, Key: f.EncodeKey(conformance.Orders, o), Value: f.Encode(conformance.Orders, o)},
			&kgo.Record{Topic: conformance.Payments, Value: f.Encode(conformance.Payments, payments[i])})
	}
	for _, l := range letters {
		recs = append(recs, &kgo.Record{Topic: conformance.OrdersDLT, Value: f.Encode(conformance.OrdersDLT, l), Headers: []kgo.RecordHeader{
			{Key: convention.SpringExceptionFQCN, Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
			{Key: convention.SpringExceptionMessage, Value: []byte("no stock for " + l.SKU + " in order " + l.ID)},
			{Key: convention.SpringOriginalTopic, Value: []byte(conformance.Orders)},
		}})
	}
	kafkatest.Produce(t, seeds, recs...)

	dec, err := schema.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// Wide enough for a local schema's marker, which names its file by
	// its whole (temporary) path.
	newModel := func(t *testing.T) *Model {
		m := New(context.Background(), Options{Backend: &Backend{Kafka: c, Decoder: dec, Schema: conformance.EventSchema(), Naming: convention.DefaultNaming()},
			Local: time.UTC, Clock: func() time.Time { return t0 }, SaveDir: t.TempDir(), Buffer: 100})
		t.Cleanup(m.Close)
		m.Update(tea.WindowSizeMsg{Width: 220, Height: 40})
		return m
	}
	marker := "[" + f.Marker(conformance.Orders) + "]"

	// tailOrders tails the orders in m's Tail view, decoded by the
	// Backend's all.Sources.
	tailOrders := func(t *testing.T, m *Model) {
		t.Helper()
		addrs := []bus.Address{{Transport: "kafka", Name: conformance.Orders}}
		m.tail.addrs = addrs
		src, err := m.be.openTail(context.Background(), addrs,
			bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, m, src)
		if m.tail.total != 2 {
			t.Fatalf("%d events", m.tail.total)
		}
	}

	t.Run("event-view", func(t *testing.T) {
		m := newModel(t)
		tailOrders(t, m)
		// The tail's columns: the decoded payload after its marker.
		if out := screenOf(t, m); !strings.Contains(out, marker+` {"id":"`+orders[0].ID+`"`) {
			t.Errorf("tail: no %s and the decoded payload:\n%s", marker, out)
		}
		// Enter on the selected (last) order opens it.
		press(m, "enter")
		if m.current() != viewEvent || m.event.e == nil {
			t.Fatalf("enter opened %v:\n%s", m.current(), m.render())
		}
		o := orders[1]
		out := screenOf(t, m)
		for _, want := range []string{"key         " + o.ID + "  [" + f.KeyMarker(conformance.Orders) + "]", "id          " + o.ID, "type        OrderPlaced", "payload " + marker,
			"decoded to JSON", `"correlation": "` + o.Correlation + `"`, `"sku": "` + o.SKU + `"`} {
			if !strings.Contains(out, want) {
				t.Errorf("event view: no %q:\n%s", want, out)
			}
		}
	})

	// f: the tail's filter reads the decoded value, key and ids.
	t.Run("tail-filter", func(t *testing.T) {
		m := newModel(t)
		tailOrders(t, m)
		press(m, "f")
		typeText(m, `value.order.sku == "SKU-2" && value.order.total > 20 && correlation_id == "`+orders[1].Correlation+`" && key == "`+orders[1].ID+`"`)
		_, refilter := m.Update(keyMsg("enter"))
		v := m.tail
		if v.filter == nil || refilter == nil {
			t.Fatalf("filter %v (%s)", v.filter, v.filterErr)
		}
		m.Update(refilter())
		if v.shown.len() != 1 || v.ring.get(v.shown.items()[0]).Offset != 1 {
			t.Fatalf("%d shown:\n%s", v.shown.len(), m.render())
		}
	})

	// t on an order: its flow found by the nested correlation id in the
	// decoded payloads of every topic, timed by their meta.at; a step
	// opened from it is decoded too.
	t.Run("trace-view", func(t *testing.T) {
		m := newModel(t)
		tailOrders(t, m)
		e := *m.tail.selected()
		m.Update(openTraceMsg{&e})
		v := m.trace
		if v.query != orders[1].Correlation {
			t.Fatalf("trace of %q, want the correlation id %q", v.query, orders[1].Correlation)
		}
		msg := m.be.findFlows(context.Background(), v.query, v.since)
		if msg.err != nil || len(msg.flows) != 1 || len(msg.flows[0].Steps) != 2 {
			t.Fatalf("flows %v: %+v", msg.err, msg.flows)
		}
		if s := msg.flows[0].Steps[1]; s.ID != payments[1].ID || s.Type != "PaymentAuthorized" || !s.At.Equal(payments[1].At) {
			t.Errorf("step %+v, want %s at %v", s, payments[1].ID, payments[1].At)
		}
		m.Update(traceResult{v.gen, msg})
		out := screenOf(t, m)
		for _, want := range []string{"flow " + orders[1].Correlation + " (correlation_id)", "OrderPlaced", "PaymentAuthorized      250ms"} {
			if !strings.Contains(out, want) {
				t.Errorf("trace view: no %q:\n%s", want, out)
			}
		}
		// enter on the step under the cursor (the order) reads it back by
		// its position and opens it decoded.
		press(m, "enter")
		if m.current() != viewEvent || m.event.e == nil {
			t.Fatalf("enter opened %v:\n%s", m.current(), m.render())
		}
		out = screenOf(t, m)
		for _, want := range []string{"id          " + orders[1].ID, "payload " + marker, `"sku": "` + orders[1].SKU + `"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the step's event view: no %q:\n%s", want, out)
			}
		}
	})

	t.Run("dlq-view", func(t *testing.T) {
		m := newModel(t)
		press(m, "4")
		m.Update(dlqResult{m.dlq.gen, m.be.summarizeDLQs(context.Background())})
		var ids []string
		for _, s := range m.dlq.res.sums {
			if s.Name == conformance.OrdersDLT && len(s.Groups) == 1 {
				ids = s.Groups[0].IDs
			}
		}
		// One group, its ids the letters' event ids: read from the
		// decoded values, as eddy dlq show reads them.
		if !slices.Equal(ids, []string{letters[0].ID, letters[1].ID}) {
			t.Fatalf("DLQ %s: group ids %q, want the letters' event ids:\n%s", conformance.OrdersDLT, ids, m.render())
		}
		press(m, "enter", "enter")
		if m.dlq.stage != stageMessages {
			t.Fatalf("stage %d:\n%s", m.dlq.stage, m.render())
		}
		if out := screenOf(t, m); !strings.Contains(out, letters[0].ID) || !strings.Contains(out, letters[1].ID) {
			t.Errorf("messages: no %s, %s:\n%s", letters[0].ID, letters[1].ID, out)
		}
		_, cmd := m.Update(keyMsg("enter"))
		if cmd == nil {
			t.Fatal("enter on a message did nothing")
		}
		m.Update(cmd())
		if m.current() != viewEvent || m.event.e == nil {
			t.Fatalf("enter opened %v:\n%s", m.current(), m.render())
		}
		out := screenOf(t, m)
		for _, want := range []string{"id          " + letters[0].ID, "payload " + marker, `"sku": "SKU-9"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the letter's event view: no %q:\n%s", want, out)
			}
		}
	})
}
