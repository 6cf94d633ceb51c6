package trace

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eddy-sh/eddy/event"
)

// Exporter sends flows to an OTLP receiver as traces: one span per event
// ("receive SOURCE", a child of the producer's span when the event carries a
// traceparent, so eddy's spans join the services' own traces; else a child of
// a "flow KEY" root span) and one span per hop ("hop A -> B", a child of the
// effect's span, from the cause's time to the effect's), with OpenTelemetry
// messaging attributes and a link to each message's creation context.
type Exporter struct {
	tp       *sdktrace.TracerProvider
	rec      *recordingExporter
	ended    *endCounter
	tracer   oteltrace.Tracer
	endpoint string // what errors name: no query, no user
	timeout  time.Duration
}

// ExporterOption configures NewExporter.
type ExporterOption func(*exporterConfig)

type exporterConfig struct {
	timeout  time.Duration
	instance string
}

// WithInstance names the process in the spans' resource
// (service.instance.id): with several eddy serve instances exporting the
// parts of one flow, it tells a trace store which part came from where.
func WithInstance(id string) ExporterOption {
	return func(c *exporterConfig) { c.instance = id }
}

// WithTimeout bounds every export (connecting, retries included) by d, as
// eddy's --timeout bounds every network call. Close takes a context; give it
// about d too. Without it the SDK's default (10 s) applies.
func WithTimeout(d time.Duration) ExporterOption {
	return func(c *exporterConfig) { c.timeout = d }
}

// NewExporter connects to endpoint: http://HOST:PORT[/PATH] or https://… for
// OTLP/HTTP (path default /v1/traces), grpc://HOST:PORT (plaintext) or
// grpcs://HOST:PORT for OTLP/gRPC; HOST:PORT alone means gRPC in plaintext.
func NewExporter(ctx context.Context, endpoint string, opts ...ExporterOption) (*Exporter, error) {
	var cfg exporterConfig
	for _, o := range opts {
		o(&cfg)
	}
	var exp *otlptrace.Exporter
	var err error
	var shown string
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		scheme, rest = "grpc", endpoint
	}
	switch scheme {
	case "http", "https":
		u, perr := url.Parse(endpoint)
		if perr != nil || u.Host == "" {
			// Not the text itself: it may carry a password.
			return nil, fmt.Errorf("--otlp %s://…: not a URL like %s://HOST:4318", scheme, scheme)
		}
		if u.User != nil {
			// The exporter would drop it silently: refused, never printed.
			return nil, fmt.Errorf("--otlp %s://%s: a user or password in the URL is not supported: the exporter would not send it", scheme, u.Host)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			// Dropped silently too (the exporter keeps host and path).
			return nil, fmt.Errorf("--otlp %s://%s: a query or fragment in the URL is not supported: the exporter would not send it", scheme, u.Host)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		// A query may carry a token: errors name the endpoint without it.
		shown = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
		ho := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
		if cfg.timeout > 0 {
			// Each request, and the retries of one export (else up to a
			// minute of them).
			ho = append(ho, otlptracehttp.WithTimeout(cfg.timeout), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
				Enabled: true, InitialInterval: cfg.timeout / 4, MaxInterval: cfg.timeout, MaxElapsedTime: cfg.timeout}))
		}
		exp, err = otlptracehttp.New(ctx, ho...)
	case "grpc", "grpcs":
		if strings.Contains(rest, "@") {
			return nil, fmt.Errorf("--otlp %s://: a user or password in the URL is not supported: the exporter would not send it", scheme)
		}
		if strings.ContainsAny(rest, "/?#") {
			return nil, fmt.Errorf("--otlp %s://: want %s://HOST:PORT, without a path, query or fragment (the exporter would not send them)", scheme, scheme)
		}
	}
	var gopts []otlptracegrpc.Option
	if cfg.timeout > 0 {
		// The export's deadline, connecting and retrying included (gRPC
		// connects lazily, on the first export).
		gopts = append(gopts, otlptracegrpc.WithTimeout(cfg.timeout))
	}
	switch scheme {
	case "http", "https":
	case "grpc":
		shown = "grpc://" + rest
		exp, err = otlptracegrpc.New(ctx, append(gopts, otlptracegrpc.WithEndpoint(rest), otlptracegrpc.WithInsecure())...)
	case "grpcs":
		shown = "grpcs://" + rest
		exp, err = otlptracegrpc.New(ctx, append(gopts, otlptracegrpc.WithEndpoint(rest))...)
	default:
		// Not the URL itself: it may carry a password.
		return nil, fmt.Errorf("--otlp: scheme %q is not supported; want http://HOST:PORT, https://…, grpc://HOST:PORT or grpcs://HOST:PORT", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("--otlp %q: %v", endpoint, err)
	}
	rattrs := []attribute.KeyValue{semconv.ServiceName("eddy")}
	if cfg.instance != "" {
		rattrs = append(rattrs, semconv.ServiceInstanceID(cfg.instance))
	}
	res := resource.NewSchemaless(rattrs...)
	rec := &recordingExporter{SpanExporter: exp}
	ended := &endCounter{}
	var bo []sdktrace.BatchSpanProcessorOption
	if cfg.timeout > 0 {
		// The bound of one export as a whole, retries and their waits
		// included.
		bo = append(bo, sdktrace.WithExportTimeout(cfg.timeout))
	}
	// ended counts every span before the batcher may drop it (a full queue
	// while the receiver does not answer): what Close compares with what
	// was exported.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ended), sdktrace.WithBatcher(rec, bo...),
		sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithIDGenerator(flowIDs{}))
	return &Exporter{tp: tp, rec: rec, ended: ended, tracer: tp.Tracer("github.com/eddy-sh/eddy/trace"),
		endpoint: shown, timeout: cfg.timeout}, nil
}

// endCounter is a span processor that counts the spans ended.
type endCounter struct{ n atomic.Int64 }

func (c *endCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *endCounter) OnEnd(sdktrace.ReadOnlySpan)                     { c.n.Add(1) }
func (c *endCounter) Shutdown(context.Context) error                  { return nil }
func (c *endCounter) ForceFlush(context.Context) error                { return nil }

// recordingExporter counts the spans exported and keeps the first export
// error, which the batching span processor would otherwise only hand to
// OpenTelemetry's global error handler (a log line).
type recordingExporter struct {
	sdktrace.SpanExporter
	ok  atomic.Int64
	mu  sync.Mutex
	err error
}

func (r *recordingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
		return err
	}
	r.ok.Add(int64(len(spans)))
	return nil
}

// ExportError says that spans did not reach the receiver: how many, where,
// and why. It names the endpoint without user, password or query.
type ExportError struct {
	Spans    int64
	Endpoint string
	Err      error
	Timeout  time.Duration // each export's bound, to word a timeout
}

func (e *ExportError) Error() string {
	return fmt.Sprintf("could not export %d span(s) to %s: %s", e.Spans, e.Endpoint, ExportReason(e.Err, e.Timeout))
}

func (e *ExportError) Unwrap() error { return e.Err }

// ExportReason is the cause of a failed OTLP export (of spans or metrics;
// timeout is each export's bound) in a few words: a gRPC
// status as its message, an HTTP request's error without its URL (the
// endpoint is named already; its query may carry a token), and a timeout,
// whoever's deadline it was (the exporter's, the batcher's, Close's), as
// such.
func ExportReason(err error, timeout time.Duration) string {
	noAnswer := "no answer in time"
	if timeout > 0 {
		noAnswer = "no answer within " + timeout.String()
	}
	var ge interface{ GRPCStatus() *status.Status }
	if errors.As(err, &ge) {
		switch st := ge.GRPCStatus(); st.Code() {
		case codes.DeadlineExceeded:
			return noAnswer
		case codes.OK:
		default:
			return st.Message()
		}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "export timeout") {
		return noAnswer
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// Close sends what is buffered and closes the connection, within ctx. Spans
// that did not reach the receiver (an export failed, ctx ended first, or the
// queue overflowed while the receiver did not answer) are an *ExportError.
func (x *Exporter) Close(ctx context.Context) error {
	err := x.tp.Shutdown(ctx)
	lost := x.ended.n.Load() - x.rec.ok.Load()
	if lost <= 0 {
		// Everything arrived; a failure closing the connection loses nothing.
		return nil
	}
	x.rec.mu.Lock()
	cause := x.rec.err
	x.rec.mu.Unlock()
	if cause == nil {
		cause = err
	}
	if cause == nil {
		cause = errors.New("not sent")
	}
	return &ExportError{Spans: lost, Endpoint: x.endpoint, Err: cause, Timeout: x.timeout}
}

// FlowTraceID is the trace id ExportShared gives the spans of the flow
// keyed key (its correlation id, for a flow keyed by one): the first 16
// bytes of SHA-256("eddy-flow:" + key). Any process can derive it from the
// events alone, so the parts of one flow exported by several processes meet
// under one trace id in a trace store.
func FlowTraceID(key string) oteltrace.TraceID {
	sum := sha256.Sum256([]byte("eddy-flow:" + key))
	var tid oteltrace.TraceID
	copy(tid[:], sum[:16])
	return tid
}

// flowTraceKey carries, in a root span's context, the trace id flowIDs
// gives it.
type flowTraceKey struct{}

// flowIDs is the exporter's ID generator: random ids, as the SDK's own
// generator makes, except a root span's trace id when its context carries
// one (ExportShared).
type flowIDs struct{}

func (flowIDs) NewIDs(ctx context.Context) (oteltrace.TraceID, oteltrace.SpanID) {
	tid, ok := ctx.Value(flowTraceKey{}).(oteltrace.TraceID)
	for !ok || !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
		ok = true
	}
	return tid, flowIDs{}.NewSpanID(ctx, tid)
}

func (flowIDs) NewSpanID(context.Context, oteltrace.TraceID) oteltrace.SpanID {
	var sid oteltrace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// Export sends one flow (asynchronously; Close flushes).
func (x *Exporter) Export(f *Flow) { x.export(f, false) }

// ExportShared sends one flow, or the part of it this process saw, under
// the trace id FlowTraceID(f.Key): a "flow KEY" root span (attribute
// eddy.flow.shared) and, under it, the spans Export makes; the producer's
// span a step carries is a link, not the parent (the trace id is the
// flow's). Several processes that each see part of a flow (eddy serve
// instances sharing partitions of topics not co-partitioned) thus export
// one trace, with one root span per part; a hop between events that
// different processes saw is in no part.
func (x *Exporter) ExportShared(f *Flow) { x.export(f, true) }

func (x *Exporter) export(f *Flow, shared bool) {
	ctx := context.Background()
	var root oteltrace.Span
	rootCtx := ctx
	for i := range f.Steps {
		if shared || f.Steps[i].TraceID == "" {
			attrs := []attribute.KeyValue{attribute.String("eddy.flow.key", f.Key), attribute.String("eddy.flow.key_kind", string(f.KeyKind))}
			start := ctx
			if shared {
				attrs = append(attrs, attribute.Bool("eddy.flow.shared", true))
				start = context.WithValue(ctx, flowTraceKey{}, FlowTraceID(f.Key))
			}
			rootCtx, root = x.tracer.Start(start, "flow "+f.Key, oteltrace.WithNewRoot(),
				oteltrace.WithTimestamp(f.Start()), oteltrace.WithSpanKind(oteltrace.SpanKindInternal),
				oteltrace.WithAttributes(attrs...))
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
			if !shared {
				parent = oteltrace.ContextWithRemoteSpanContext(ctx, sc)
			}
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
