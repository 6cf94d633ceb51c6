package replay_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/trace"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

// TestTracedRun exports a replay to an in-process OTLP receiver: one run
// span with the summary; one producer span per moved event, which continues
// the event's original trace (its parent and link are the original
// traceparent) and whose own context is the moved copy's traceparent. An
// event without a traceparent is traced under the run span.
func TestTracedRun(t *testing.T) {
	rcv, url := otlptest.Start(t)
	x, err := trace.NewExporter(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	tracer := x.Tracer("github.com/eddy-sh/eddy/replay")

	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	evs := captureEvents(3)
	evs[0].Headers = []event.Header{{Key: "traceparent", Value: []byte("00-" + tid + "-" + sid + "-01")}, {Key: "tracestate", Value: []byte("vendor=x")}}
	evs[1].Headers = []event.Header{{Key: "traceparent", Value: []byte("not a traceparent")}}
	path := writeCapture(t, evs)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	dst, err := file.Create(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := bus.Address{Transport: "file", Name: out}
	l, _ := openLedger(t)

	ctx, end := replay.StartRun(ctxT(t), tracer, "replay", "traced", target)
	sum, err := replay.Run(ctx, openCapture(t, path), replay.Traced(dst, tracer, target), replay.Options{Job: "traced", Ledger: l})
	end(sum, err)
	if err != nil || sum.Moved != 3 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	dst.Close()
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	var run *tracepb.Span
	sends := map[string]*tracepb.Span{} // by eddy.source's offset: the event
	for _, s := range rcv.Spans() {
		switch {
		case s.Name == "eddy replay":
			run = s
		case s.Name == "send "+target.String():
			sends[otlptest.Attrs(s.Attributes)["eddy.redrive_id"]] = s
		default:
			t.Errorf("unexpected span %q", s.Name)
		}
	}
	if run == nil || len(sends) != 3 {
		t.Fatalf("run span %v, %d send spans; want one and 3", run, len(sends))
	}
	if a := otlptest.Attrs(run.Attributes); a["eddy.replay.moved"] != "3" || a["eddy.replay.read"] != "3" || a["eddy.job"] != "traced" {
		t.Errorf("run span attributes %v", a)
	}

	moved := readCapture(t, out)
	if len(moved) != 3 {
		t.Fatalf("%d events moved", len(moved))
	}
	for i, e := range moved {
		rid, _ := e.Header(replay.HeaderRedriveID)
		s := sends[string(rid)]
		if s == nil {
			t.Fatalf("event %d (%s) has no span", i, rid)
		}
		if s.Kind != tracepb.Span_SPAN_KIND_PRODUCER || s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("event %d: span kind %v, status %v", i, s.Kind, s.Status)
		}
		tp, _ := e.Header("traceparent")
		parts := strings.Split(string(tp), "-")
		if len(parts) != 4 || parts[1] != hex.EncodeToString(s.TraceId) || parts[2] != hex.EncodeToString(s.SpanId) {
			t.Errorf("event %d: outgoing traceparent %q, want the trace %x and the event span %x", i, tp, s.TraceId, s.SpanId)
		}
		if i == 0 {
			// The original trace goes on: same trace id, the original
			// producer span as parent and as a link; the run is linked.
			if hex.EncodeToString(s.TraceId) != tid || hex.EncodeToString(s.ParentSpanId) != sid {
				t.Errorf("event 0: span in trace %x under %x, want %s under %s", s.TraceId, s.ParentSpanId, tid, sid)
			}
			if len(s.Links) != 2 || hex.EncodeToString(s.Links[0].TraceId) != tid || hex.EncodeToString(s.Links[0].SpanId) != sid ||
				string(s.Links[1].SpanId) != string(run.SpanId) {
				t.Errorf("event 0: links %v", s.Links)
			}
			if ts, _ := e.Header("tracestate"); string(ts) != "vendor=x" {
				t.Errorf("event 0: tracestate %q", ts)
			}
			continue
		}
		// No (valid) traceparent: a child of the run span.
		if string(s.TraceId) != string(run.TraceId) || string(s.ParentSpanId) != string(run.SpanId) || len(s.Links) != 0 {
			t.Errorf("event %d: span %x/%x under %x, want under the run span %x", i, s.TraceId, s.SpanId, s.ParentSpanId, run.SpanId)
		}
	}
}

func readCapture(t *testing.T, path string) []event.Event {
	t.Helper()
	src := openCapture(t, path)
	var out []event.Event
	for {
		evs, err := src.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
}

// TestTracedUnroutable, on the real RabbitMQ: an event the broker returned
// (no binding matched) is not a success, and its span says so; the routed
// one's does not, and the consumer receives its traceparent.
func TestTracedUnroutable(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	rcv, ourl := otlptest.Start(t)
	x, err := trace.NewExporter(context.Background(), ourl)
	if err != nil {
		t.Fatal(err)
	}
	tracer := x.Tracer("github.com/eddy-sh/eddy/replay")
	var evs []event.Event
	for i, key := range []string{tp.Key, "nowhere"} {
		evs = append(evs, event.Event{Transport: event.AMQP, Queue: "dlq", Offset: -1, RoutingKey: key,
			Properties: &event.Properties{MessageID: fmt.Sprintf("m%d", i)}, Value: fmt.Appendf(nil, "m%d", i)})
	}
	c, err := amqp.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target := bus.Address{Transport: "amqp", Exchange: tp.Exchange}
	s, err := c.Sink(target)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, _ := openLedger(t)
	ctx, end := replay.StartRun(ctxT(t), tracer, "redrive", "u", target)
	sum, err := replay.Run(ctx, openCapture(t, writeCapture(t, evs)), replay.Traced(s, tracer, target), replay.Options{Job: "u", Ledger: l})
	end(sum, err)
	var re *replay.RejectedError
	if !errors.As(err, &re) || sum.Moved != 1 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tracepb.Span{}
	for _, sp := range rcv.Spans() {
		a := otlptest.Attrs(sp.Attributes)
		got[sp.Name+" "+a["messaging.message.id"]] = sp
	}
	run, ok0, bad := got["eddy redrive "], got["publish "+tp.Exchange+" m0"], got["publish "+tp.Exchange+" m1"]
	if run == nil || ok0 == nil || bad == nil {
		t.Fatalf("spans %v", got)
	}
	if run.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || otlptest.Attrs(run.Attributes)["error.type"] != "rejected" {
		t.Errorf("run span status %v", run.Status)
	}
	if ok0.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR || bad.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("routed span %v, unroutable span %v", ok0.Status, bad.Status)
	}
	if a := otlptest.Attrs(bad.Attributes); a["messaging.system"] != "rabbitmq" || a["messaging.destination.name"] != tp.Exchange {
		t.Errorf("attributes %v", a)
	}
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	amqptest.Eventually(t, 10*time.Second, "the routed message", func() bool { return amqptest.Depth(t, url, tp.Queue) == 1 })
	d, ok, err := ch.Get(tp.Queue, true)
	if err != nil || !ok || !strings.Contains(fmt.Sprint(d.Headers["traceparent"]), hex.EncodeToString(ok0.SpanId)) {
		t.Errorf("the routed message's traceparent %v (%v), want the span %x", d.Headers, err, ok0.SpanId)
	}
}
