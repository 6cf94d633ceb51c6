package demo

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator writes and reads W3C traceparent (and tracestate), the way an
// OpenTelemetry-instrumented producer does.
var propagator = propagation.TraceContext{}

// kafkaCarrier adapts record headers to the propagator.
type kafkaCarrier struct{ h *[]kgo.RecordHeader }

func (c kafkaCarrier) Get(key string) string {
	for i := len(*c.h) - 1; i >= 0; i-- {
		if (*c.h)[i].Key == key {
			return string((*c.h)[i].Value)
		}
	}
	return ""
}

func (c kafkaCarrier) Set(key, value string) {
	for i := range *c.h {
		if (*c.h)[i].Key == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

func (c kafkaCarrier) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, h := range *c.h {
		keys[i] = h.Key
	}
	return keys
}

// tableCarrier adapts an AMQP header table to the propagator.
type tableCarrier map[string]any

func (c tableCarrier) Get(key string) string {
	switch v := c[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

func (c tableCarrier) Set(key, value string) { c[key] = value }

func (c tableCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// startProcess starts the span in which a service handles one event, as a child
// of the span whose context the event carries; messaging attributes follow the
// OpenTelemetry semantic conventions.
func (d *Demo) startProcess(ctx context.Context, carrier propagation.TextMapCarrier, svc *service, system, source string) (context.Context, trace.Span) {
	ctx = propagator.Extract(ctx, carrier)
	return d.tracer.Start(ctx, "process "+source, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", system),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", source),
			attribute.String("messaging.consumer.group.name", svc.group),
			attribute.String("service.name", svc.name),
		))
}

// startOrder starts the root span of a new order's flow.
func (d *Demo) startOrder(ctx context.Context, system, dest string) (context.Context, trace.Span) {
	return d.tracer.Start(ctx, "send "+dest, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", system),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", dest),
			attribute.String("service.name", "orders"),
		))
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
