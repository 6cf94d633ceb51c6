package trace

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

// TestOTLPExport: each flow becomes a trace with a span per event and per hop,
// messaging attributes, the producers' trace id and links to each message's
// creation context; a flow without traceparent gets a root span of its own.
func TestOTLPExport(t *testing.T) {
	srv, url := otlptest.Start(t)
	exportTestFlows(t, url)
	checkExported(t, srv.Spans())
}

const testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// exportTestFlows exports two flows to endpoint: o-1 (two events with a
// traceparent and a hop), o-2 (one event without).
func exportTestFlows(t *testing.T, endpoint string) {
	t.Helper()
	x, err := NewExporter(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	withTP := func(e event.Event, span string) event.Event {
		e.Headers = append(e.Headers, event.Header{Key: "traceparent", Value: []byte("00-" + testTraceID + "-" + span + "-01")})
		return e
	}
	flows := correlateWith(Config{KeepKeys: true}, []event.Event{
		withTP(ev("orders", 1, 42, "e1", "OrderPlaced", "o-1", "", 0), "00f067aa0ba902b7"),
		withTP(ev("payments", 0, 7, "e2", "PaymentAuthorized", "o-1", "e1", 80*time.Millisecond), "1111111111111111"),
		ev("orders", 0, 3, "n1", "OrderPlaced", "o-2", "", time.Second),
	})
	for _, f := range flows {
		x.Export(f)
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checkExported checks the spans of exportTestFlows.
func checkExported(t *testing.T, spans []*tracepb.Span) {
	t.Helper()
	const tid = testTraceID
	byName := map[string][]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	if len(spans) != 5 || len(byName["receive orders"]) != 2 || len(byName["receive payments"]) != 1 ||
		len(byName["hop OrderPlaced -> PaymentAuthorized"]) != 1 || len(byName["flow o-2"]) != 1 {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("spans %q", names)
	}
	pay := byName["receive payments"][0]
	if got := hex.EncodeToString(pay.TraceId); got != tid {
		t.Errorf("payments span trace id %s, want the producer's %s", got, tid)
	}
	if got := hex.EncodeToString(pay.ParentSpanId); got != "1111111111111111" {
		t.Errorf("payments span parent %s, want the producer span", got)
	}
	if len(pay.Links) != 1 || hex.EncodeToString(pay.Links[0].TraceId) != tid || hex.EncodeToString(pay.Links[0].SpanId) != "1111111111111111" {
		t.Errorf("payments span links %v, want the creation context", pay.Links)
	}
	a := otlptest.Attrs(pay.Attributes)
	for k, want := range map[string]string{
		"messaging.system": "kafka", "messaging.destination.name": "payments", "messaging.kafka.offset": "7",
		"messaging.kafka.message.key": "o-1", "messaging.message.id": "e2", "messaging.destination.partition.id": "0",
		"messaging.message.conversation_id": "o-1", "eddy.event.type": "PaymentAuthorized",
	} {
		if a[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, a[k], want)
		}
	}
	if pay.Kind != tracepb.Span_SPAN_KIND_CONSUMER {
		t.Errorf("kind %v", pay.Kind)
	}
	hop := byName["hop OrderPlaced -> PaymentAuthorized"][0]
	if hex.EncodeToString(hop.TraceId) != tid || string(hop.ParentSpanId) != string(pay.SpanId) ||
		hop.EndTimeUnixNano-hop.StartTimeUnixNano != uint64(80*time.Millisecond) {
		t.Errorf("hop span %v", hop)
	}
	if ha := otlptest.Attrs(hop.Attributes); ha["eddy.hop.basis"] != "causation" || ha["eddy.hop.skew"] != "false" {
		t.Errorf("hop attributes %v", ha)
	}
	root := byName["flow o-2"][0]
	var orphan *tracepb.Span
	for _, s := range byName["receive orders"] {
		if otlptest.Attrs(s.Attributes)["messaging.message.id"] == "n1" {
			orphan = s
		}
	}
	if orphan == nil || string(orphan.TraceId) != string(root.TraceId) || string(orphan.ParentSpanId) != string(root.SpanId) || len(orphan.Links) != 0 {
		t.Errorf("flow without traceparent: root %v, event %v", root, orphan)
	}
}

func TestExporterEndpoints(t *testing.T) {
	for _, bad := range []string{"ftp://x", "http://[::1"} {
		if _, err := NewExporter(context.Background(), bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"localhost:4317", "grpc://localhost:4317"} {
		x, err := NewExporter(context.Background(), good)
		if err != nil {
			t.Errorf("%q: %v", good, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		x.Close(ctx)
		cancel()
	}
}
