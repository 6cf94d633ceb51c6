package trace

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/eddy-sh/eddy/event"
)

// Exporter sends flows to an OTLP receiver as traces: one span per event
// ("receive SOURCE", a child of the producer's span when the event carries a
// traceparent, so eddy's spans join the services' own traces; else a child of
// a "flow KEY" root span) and one span per hop ("hop A -> B", a child of the
// effect's span, from the cause's time to the effect's), with OpenTelemetry
// messaging attributes and a link to each message's creation context.
type Exporter struct {
	tp     *sdktrace.TracerProvider
	rec    *recordingExporter
	tracer oteltrace.Tracer
}

// NewExporter connects to endpoint: http://HOST:PORT[/PATH] or https://… for
// OTLP/HTTP (path default /v1/traces), grpc://HOST:PORT (plaintext) or
// grpcs://HOST:PORT for OTLP/gRPC; HOST:PORT alone means gRPC in plaintext.
func NewExporter(ctx context.Context, endpoint string) (*Exporter, error) {
	var exp *otlptrace.Exporter
	var err error
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		scheme, rest = "grpc", endpoint
	}
	switch scheme {
	case "http", "https":
		u, perr := url.Parse(endpoint)
		if perr != nil || u.Host == "" {
			return nil, fmt.Errorf("--otlp %q: not a URL like http://HOST:4318", endpoint)
		}
		if u.User != nil {
			// The exporter would drop it silently: refused, never printed.
			return nil, fmt.Errorf("--otlp %s://%s: a user or password in the URL is not supported: the exporter would not send it", scheme, u.Host)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	case "grpc", "grpcs":
		if strings.Contains(rest, "@") {
			return nil, fmt.Errorf("--otlp %s://: a user or password in the URL is not supported: the exporter would not send it", scheme)
		}
	}
	switch scheme {
	case "http", "https":
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(rest), otlptracegrpc.WithInsecure())
	case "grpcs":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(rest))
	default:
		// Not the URL itself: it may carry a password.
		return nil, fmt.Errorf("--otlp: scheme %q is not supported; want http://HOST:PORT, https://…, grpc://HOST:PORT or grpcs://HOST:PORT", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("--otlp %q: %v", endpoint, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("eddy"))
	rec := &recordingExporter{SpanExporter: exp}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(rec), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()))
	return &Exporter{tp: tp, rec: rec, tracer: tp.Tracer("github.com/eddy-sh/eddy/trace")}, nil
}

// recordingExporter keeps the first export error, which the batching span
// processor would otherwise only log.
type recordingExporter struct {
	sdktrace.SpanExporter
	mu    sync.Mutex
	err   error
	fails int
}

func (r *recordingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.fails += len(spans)
		r.mu.Unlock()
	}
	return err
}

// Close sends what is buffered and closes the connection. It reports the
// first export failure, if any, with how many spans were lost.
func (x *Exporter) Close(ctx context.Context) error {
	err := x.tp.Shutdown(ctx)
	x.rec.mu.Lock()
	defer x.rec.mu.Unlock()
	if x.rec.err != nil {
		return fmt.Errorf("%d span(s) not exported: %v", x.rec.fails, x.rec.err)
	}
	return err
}

// Export sends one flow (asynchronously; Close flushes).
func (x *Exporter) Export(f *Flow) {
	ctx := context.Background()
	var root oteltrace.Span
	rootCtx := ctx
	for i := range f.Steps {
		if f.Steps[i].TraceID == "" {
			rootCtx, root = x.tracer.Start(ctx, "flow "+f.Key, oteltrace.WithNewRoot(),
				oteltrace.WithTimestamp(f.Start()), oteltrace.WithSpanKind(oteltrace.SpanKindInternal),
				oteltrace.WithAttributes(attribute.String("eddy.flow.key", f.Key), attribute.String("eddy.flow.key_kind", string(f.KeyKind))))
			break
		}
	}
	spans := make([]oteltrace.Span, len(f.Steps))
	ctxs := make([]context.Context, len(f.Steps))
	for i := range f.Steps {
		s := &f.Steps[i]
		parent := rootCtx
		var links []oteltrace.Link
		if sc, ok := creationContext(s); ok {
			parent = oteltrace.ContextWithRemoteSpanContext(ctx, sc)
			links = append(links, oteltrace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("eddy.link", "creation")}})
		}
		end := s.At
		if s.Timestamp.After(end) {
			end = s.Timestamp
		}
		ctxs[i], spans[i] = x.tracer.Start(parent, "receive "+s.Source, oteltrace.WithSpanKind(oteltrace.SpanKindConsumer),
			oteltrace.WithTimestamp(s.At), oteltrace.WithLinks(links...), oteltrace.WithAttributes(stepAttrs(f, s)...))
		spans[i].End(oteltrace.WithTimestamp(end))
	}
	for _, h := range f.Hops {
		a, b := &f.Steps[h.From], &f.Steps[h.To]
		start, end := a.At, b.At
		if h.Skew {
			start, end = end, start
		}
		attrs := []attribute.KeyValue{
			attribute.String("eddy.hop.from", a.Type), attribute.String("eddy.hop.to", b.Type),
			attribute.String("eddy.hop.from_source", a.Source), attribute.String("eddy.hop.to_source", b.Source),
			attribute.Float64("eddy.hop.latency_ms", durMS(h.Latency)), attribute.Bool("eddy.hop.skew", h.Skew),
			attribute.String("eddy.hop.basis", string(h.Basis)),
		}
		if b.DeadLetter != nil {
			attrs = append(attrs, attribute.Bool("eddy.hop.dead_letter", true), attribute.String("error.type", b.DeadLetter.Class))
		}
		_, sp := x.tracer.Start(ctxs[h.To], "hop "+a.Type+" -> "+b.Type, oteltrace.WithTimestamp(start),
			oteltrace.WithSpanKind(oteltrace.SpanKindInternal), oteltrace.WithAttributes(attrs...),
			oteltrace.WithLinks(oteltrace.Link{SpanContext: spans[h.From].SpanContext()}))
		sp.End(oteltrace.WithTimestamp(end))
	}
	if root != nil {
		root.End(oteltrace.WithTimestamp(f.End()))
	}
}

// creationContext is the span context the producer put on the message.
func creationContext(s *Step) (oteltrace.SpanContext, bool) {
	if s.TraceID == "" {
		return oteltrace.SpanContext{}, false
	}
	var tid oteltrace.TraceID
	var sid oteltrace.SpanID
	if _, err := hex.Decode(tid[:], []byte(s.TraceID)); err != nil {
		return oteltrace.SpanContext{}, false
	}
	if _, err := hex.Decode(sid[:], []byte(s.SpanID)); err != nil {
		return oteltrace.SpanContext{}, false
	}
	sc := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: oteltrace.FlagsSampled, Remote: true})
	return sc, sc.IsValid()
}

func stepAttrs(f *Flow, s *Step) []attribute.KeyValue {
	system := "kafka"
	if s.Transport == event.AMQP {
		system = "rabbitmq"
	}
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", system),
		attribute.String("messaging.operation.type", "receive"),
		attribute.String("messaging.destination.name", s.Source),
		attribute.String("eddy.event.type", s.Type),
		attribute.Int("eddy.event.duplicates", s.Duplicates),
	}
	if f.KeyKind == ByCorrelation {
		attrs = append(attrs, attribute.String("messaging.message.conversation_id", f.Key))
	}
	if s.ID != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", s.ID))
	}
	if s.Transport == event.Kafka {
		attrs = append(attrs, attribute.String("messaging.destination.partition.id", itoa(int64(s.Partition))),
			attribute.Int64("messaging.kafka.offset", s.Offset))
		if s.Key != nil {
			attrs = append(attrs, attribute.String("messaging.kafka.message.key", string(s.Key)))
		}
	} else if s.Offset >= 0 {
		attrs = append(attrs, attribute.Int64("messaging.rabbitmq.message.stream_offset", s.Offset))
	}
	if s.Causation != "" {
		attrs = append(attrs, attribute.String("eddy.event.causation_id", s.Causation))
	}
	if d := s.DeadLetter; d != nil {
		attrs = append(attrs, attribute.Bool("eddy.dead_letter", true), attribute.String("eddy.dead_letter.convention", d.Convention))
		if d.Error != "" {
			attrs = append(attrs, attribute.String("eddy.dead_letter.error", d.Error))
		}
		if d.Class != "" {
			attrs = append(attrs, attribute.String("error.type", d.Class))
		}
	}
	return attrs
}

// Tracer returns a tracer that exports through x, for other commands' spans
// (eddy replay's and dlq redrive's); Close flushes them too.
func (x *Exporter) Tracer(name string) oteltrace.Tracer { return x.tp.Tracer(name) }
