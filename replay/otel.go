package replay

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// OpenTelemetry for replays and redrives: a run is one span (StartRun), and
// each moved event one more (Traced), so that a redriven event shows up in
// its own trace, right after the failure that dead-lettered it.

// w3c reads and writes the W3C traceparent and tracestate headers.
var w3c = propagation.TraceContext{}

// headerCarrier adapts event headers to OpenTelemetry's propagators. Set
// replaces (writing a fresh slice: the caller's may alias the source's).
type headerCarrier struct{ hs *[]event.Header }

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.hs {
		if strings.EqualFold(h.Key, key) {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { *c.hs = withHeader(*c.hs, key, value) }

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.hs))
	for i, h := range *c.hs {
		keys[i] = h.Key
	}
	return keys
}

// Origin returns the span context e's traceparent header names (the producer
// span of the original event), if it has a valid one.
func Origin(e *event.Event) (oteltrace.SpanContext, bool) {
	hs := e.Headers
	sc := oteltrace.SpanContextFromContext(w3c.Extract(context.Background(), headerCarrier{&hs}))
	return sc, sc.IsValid()
}

// StartRun starts the span of a whole run (name is "replay" or "redrive")
// and returns the context to run in — Traced sinks given that context link
// their event spans to it — and the function that ends the span with the
// run's summary as attributes and its error as status.
//
// A zero target names no destination (a redrive to each message's own
// origin); extra attributes are added to the span.
func StartRun(ctx context.Context, tracer oteltrace.Tracer, name, job string, target bus.Address, extra ...attribute.KeyValue) (context.Context, func(Summary, error)) {
	system, dest := messagingTarget(target)
	attrs := append([]attribute.KeyValue{attribute.String("eddy.job", job)}, extra...)
	if dest != "" {
		attrs = append(attrs, attribute.String("messaging.destination.name", dest))
	}
	if system != "" {
		attrs = append(attrs, attribute.String("messaging.system", system))
	}
	ctx, span := tracer.Start(ctx, "eddy "+name, oteltrace.WithSpanKind(oteltrace.SpanKindInternal), oteltrace.WithAttributes(attrs...))
	return ctx, func(s Summary, err error) {
		span.SetAttributes(
			attribute.Int64("eddy.replay.read", s.Read),
			attribute.Int64("eddy.replay.moved", s.Moved),
			attribute.Int64("eddy.replay.skipped", s.Skipped),
			attribute.Int64("eddy.replay.retried", s.Retried),
			attribute.Int64("eddy.replay.held", s.Held),
			attribute.Int64("eddy.replay.filtered", s.Filtered),
			attribute.Int64("eddy.replay.failed", s.Failed),
			attribute.Bool("eddy.replay.stopped", s.Stopped),
			attribute.Int64("messaging.batch.message_count", s.Moved),
		)
		if err != nil && !s.Stopped {
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attribute.String("error.type", errorType(err)))
		}
		span.End()
	}
}

// errorType is a low-cardinality name for err, as error.type wants.
func errorType(err error) string {
	var rej *RejectedError
	var ce *bus.ConnectError
	switch {
	case errors.As(err, &rej):
		return "rejected"
	case errors.As(err, &ce):
		return "connect"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "_OTHER"
}

// messagingTarget is the messaging.system and messaging.destination.name of
// a target address.
func messagingTarget(a bus.Address) (system, dest string) {
	switch a.Transport {
	case "kafka":
		return "kafka", a.Name
	case "amqp":
		if a.Exchange != "" {
			return "rabbitmq", a.Exchange
		}
		return "rabbitmq", a.Name
	case "":
		return "", "" // no one destination
	}
	return "", a.String()
}

// EventSpans starts the producer span "send TARGET" of each event moved to
// one target. It is the one place that decides what a moved event's span is,
// for every path that moves events: Traced wraps a sink with it, and the
// transactional Kafka path (package eos) calls it record by record. Each span
// is
//
//   - a child of the event's original traceparent when it has one (and
//     linked to it), so the moved event continues the trace it was dead-
//     lettered in; else a child of the run span in the context given;
//   - linked to the run span in that context (see StartRun);
//   - injected into the written copy as its traceparent (and tracestate), so
//     the consumer that receives it again joins that trace as well;
//   - ended by EndEventSpan once the target confirmed the event, or did not.
type EventSpans struct {
	tracer oteltrace.Tracer
	name   string
	base   []attribute.KeyValue
}

// NewEventSpans returns the spans of events moved to target.
func NewEventSpans(tracer oteltrace.Tracer, target bus.Address) *EventSpans {
	system, dest := messagingTarget(target)
	op := "send"
	if system == "rabbitmq" {
		op = "publish"
	}
	base := []attribute.KeyValue{
		attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.operation.name", op),
		attribute.String("messaging.destination.name", dest),
	}
	if system != "" {
		base = append(base, attribute.String("messaging.system", system))
	}
	return &EventSpans{tracer: tracer, name: op + " " + dest, base: base}
}

// Start starts e's span in the run's context ctx and injects it into e's
// headers (e.Headers is replaced by a new slice: the old one may alias the
// source's). The caller ends the span with EndEventSpan.
func (t *EventSpans) Start(ctx context.Context, e *event.Event) oteltrace.Span {
	run := oteltrace.SpanContextFromContext(ctx)
	parent := ctx
	var links []oteltrace.Link
	if orig, ok := Origin(e); ok {
		parent = oteltrace.ContextWithRemoteSpanContext(ctx, orig)
		links = append(links, oteltrace.Link{SpanContext: orig, Attributes: []attribute.KeyValue{attribute.String("eddy.link", "origin")}})
	}
	if run.IsValid() && len(links) > 0 {
		links = append(links, oteltrace.Link{SpanContext: run, Attributes: []attribute.KeyValue{attribute.String("eddy.link", "run")}})
	}
	attrs := append(eventAttrs(e), t.base...)
	sctx, span := t.tracer.Start(parent, t.name, oteltrace.WithSpanKind(oteltrace.SpanKindProducer),
		oteltrace.WithLinks(links...), oteltrace.WithAttributes(attrs...))
	w3c.Inject(sctx, headerCarrier{&e.Headers})
	return span
}

// EndEventSpan ends an event's span: failure, when not empty, says why the
// target did not confirm the event, and marks the span as an error.
func EndEventSpan(span oteltrace.Span, failure string) {
	if failure != "" {
		span.SetStatus(codes.Error, failure)
		span.SetAttributes(attribute.String("error.type", "unconfirmed"))
	}
	span.End()
}

// Traced wraps sink so that every event written through it gets its span (see
// EventSpans), ended once the sink returned: with an error status when the
// sink did not confirm the event (a *bus.WriteError, an AMQP *PublishError).
func Traced(sink bus.Sink, tracer oteltrace.Tracer, target bus.Address) bus.Sink {
	return &traced{sink: sink, spans: NewEventSpans(tracer, target)}
}

type traced struct {
	sink  bus.Sink
	spans *EventSpans
}

func (t *traced) Write(ctx context.Context, evs []event.Event) error {
	spans := make([]oteltrace.Span, len(evs))
	out := make([]event.Event, len(evs))
	for i := range evs {
		out[i] = evs[i]
		spans[i] = t.spans.Start(ctx, &out[i])
	}
	err := t.sink.Write(ctx, out)
	t.end(spans, err)
	return err
}

// Publish implements Pipeliner: the spans end when the write is settled.
func (t *traced) Publish(ctx context.Context, evs []event.Event) Pending {
	spans := make([]oteltrace.Span, len(evs))
	out := make([]event.Event, len(evs))
	for i := range evs {
		out[i] = evs[i]
		spans[i] = t.spans.Start(ctx, &out[i])
	}
	return thenPending{p: publish(ctx, t.sink, out), then: func(err error) { t.end(spans, err) }}
}

// end ends the spans of a write, with the write's outcome.
func (t *traced) end(spans []oteltrace.Span, err error) {
	confirmed, rejected := confirmations(err, len(spans))
	reasons := make(map[int]string, len(rejected))
	for _, f := range rejected {
		reasons[f.Index] = f.Reason
	}
	for i, span := range spans {
		failure := ""
		if !confirmed[i] {
			failure = "not confirmed by the target"
			if r, ok := reasons[i]; ok && r != "" {
				failure = r
			} else if err != nil {
				failure = err.Error()
			}
		}
		EndEventSpan(span, failure)
	}
}

func (t *traced) Close() error { return t.sink.Close() }

func eventAttrs(e *event.Event) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.Int("messaging.message.body.size", len(e.Value)),
		attribute.String("eddy.source", e.Source())}
	if v, ok := e.Header(HeaderRedriveID); ok {
		attrs = append(attrs, attribute.String("eddy.redrive_id", string(v)))
	}
	if e.Properties != nil && e.Properties.MessageID != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", e.Properties.MessageID))
	}
	return attrs
}
