package trace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

// TestFlowTraceID: the trace id is SHA-256("eddy-flow:" + key)'s first 16
// bytes, the same in every process and run (a fixed value here), and
// different keys get different ids.
func TestFlowTraceID(t *testing.T) {
	got := FlowTraceID("o-1")
	sum := sha256.Sum256([]byte("eddy-flow:o-1"))
	if hex.EncodeToString(got[:]) != hex.EncodeToString(sum[:16]) {
		t.Fatalf("FlowTraceID(o-1) = %s, want %x", got, sum[:16])
	}
	// Pinned: a change would split flows between eddy versions of one
	// deployment.
	if want := "b32c557fc2a30f52e2472c4265a2a27e"; got.String() != want {
		t.Fatalf("FlowTraceID(o-1) = %s, want %s", got, want)
	}
	if FlowTraceID("o-1") != got || FlowTraceID("o-2") == got || !got.IsValid() {
		t.Fatal("FlowTraceID is not a stable, distinct, valid id")
	}
}

// TestExportSharedHalves: two Correlators (two eddy serve instances) each
// see half of one flow, one of whose events carries a producer's
// traceparent: both export their part under FlowTraceID of the correlation
// id, each part with a root span of its own, together one span per event,
// the producer's span a link.
func TestExportSharedHalves(t *testing.T) {
	srv, url := otlptest.Start(t)
	withTP := func(e event.Event) event.Event {
		e.Headers = append(e.Headers, event.Header{Key: "traceparent", Value: []byte("00-" + testTraceID + "-00f067aa0ba902b7-01")})
		return e
	}
	halves := [][]event.Event{
		{withTP(ev("orders", 1, 42, "e1", "OrderPlaced", "o-1", "", 0)),
			ev("stock", 3, 9, "e3", "StockReserved", "o-1", "e2", 65*time.Millisecond)},
		{ev("payments", 0, 7, "e2", "PaymentAuthorized", "o-1", "e1", 40*time.Millisecond),
			ev("shipping", 2, 5, "e4", "OrderShipped", "o-1", "e3", 165*time.Millisecond)},
	}
	for i, h := range halves {
		x, err := NewExporter(context.Background(), url, WithInstance([]string{"a", "b"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		flows := correlate(h)
		if len(flows) != 1 {
			t.Fatalf("half %d: %d flows, want 1", i, len(flows))
		}
		x.ExportShared(flows[0])
		if err := x.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := FlowTraceID("o-1")
	var roots, receives []string
	for _, s := range srv.Spans() {
		if hex.EncodeToString(s.TraceId) != want.String() {
			t.Errorf("span %q: trace id %x, want %s", s.Name, s.TraceId, want)
		}
		switch {
		case s.Name == "flow o-1":
			roots = append(roots, s.Name)
			if len(s.ParentSpanId) != 0 || otlptest.Attrs(s.Attributes)["eddy.flow.shared"] != "true" {
				t.Errorf("root %q: parent %x, attributes %v", s.Name, s.ParentSpanId, otlptest.Attrs(s.Attributes))
			}
		case len(s.Name) > 8 && s.Name[:8] == "receive ":
			receives = append(receives, otlptest.Attrs(s.Attributes)["eddy.event.type"])
			if otlptest.Attrs(s.Attributes)["eddy.event.type"] == "OrderPlaced" {
				if len(s.Links) != 1 || hex.EncodeToString(s.Links[0].TraceId) != testTraceID {
					t.Errorf("OrderPlaced: links %v, want the producer's span", s.Links)
				}
			}
		}
	}
	slices.Sort(receives)
	if len(roots) != 2 || !slices.Equal(receives, []string{"OrderPlaced", "OrderShipped", "PaymentAuthorized", "StockReserved"}) {
		t.Errorf("roots %v, receive spans %v: want one root per half and every event once", roots, receives)
	}
}
