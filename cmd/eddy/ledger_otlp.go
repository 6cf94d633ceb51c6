package main

import (
	"context"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/replay"
)

// runTracing traces a replay or a redrive (--otlp): the run is a span, and so
// is every moved event, continuing the event's original trace (see
// replay.StartRun and replay.Traced). It exports through trace's exporter,
// like `eddy trace --otlp`. Without an endpoint every method is a no-op.
type runTracing struct {
	tracer oteltrace.Tracer
	close  func() error
}

// startRunTracing connects to endpoint ("" for none); a bad endpoint is a
// usage error.
func startRunTracing(ctx context.Context, f *Factory, endpoint string) (*runTracing, error) {
	x, closeFn, err := startOTLP(ctx, f, endpoint)
	if err != nil {
		return nil, err
	}
	r := &runTracing{close: closeFn}
	if x != nil {
		r.tracer = x.Tracer("github.com/eddy-sh/eddy/replay")
	}
	return r, nil
}

// withRunTracing runs run traced as --otlp (endpoint) says, and folds what
// the export did into the run's outcome (runTracing.End).
func withRunTracing(ctx context.Context, f *Factory, endpoint string, run func(*runTracing) error) (err error) {
	tr, err := startRunTracing(ctx, f, endpoint)
	if err != nil {
		return err
	}
	defer func() { err = tr.End(ctx, f, err) }()
	return run(tr)
}

// sink wraps the run's sink so that each event it writes is a span.
func (r *runTracing) sink(s bus.Sink, target bus.Address) bus.Sink {
	if r.tracer == nil {
		return s
	}
	return replay.Traced(s, r.tracer, target)
}

// run starts the run's span ("eddy NAME"); call the returned function with
// the run's summary and error to end it.
func (r *runTracing) run(ctx context.Context, name, job string, target bus.Address) (context.Context, func(replay.Summary, error)) {
	if r.tracer == nil {
		return ctx, func(replay.Summary, error) {}
	}
	return replay.StartRun(ctx, r.tracer, name, job, target)
}

// End sends what is buffered, within --timeout, and folds a failure into
// the run's outcome err (see endOTLP): a successful run whose spans were
// not delivered is exit 3.
func (r *runTracing) End(ctx context.Context, f *Factory, err error) error {
	return endOTLP(ctx, f, err, r.close())
}
