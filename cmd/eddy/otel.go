package main

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/eddy-sh/eddy/internal/otlpwatch"
	"github.com/eddy-sh/eddy/trace"
)

// OpenTelemetry's SDK hands the errors of its background work (a batch of
// spans or a metrics push that failed) to a global error handler, whose
// default logs an unprefixed line on stderr per failure. eddy reports those
// failures itself: the trace exporter counts the spans that did not arrive
// (trace.ExportError, one "eddy: otlp:" line and exit 3 at the end of the
// command) and lag serve watches each metrics push (one warning per streak
// of failures). So the handler drops what it is given.
func init() {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
}

// otlpCloseMargin is how long closing an OTLP export may take past
// --timeout.
const otlpCloseMargin = 500 * time.Millisecond

// otlpTimeout is the bound of each OTLP export: --timeout, or the SDK's own
// 10 s without one.
func otlpTimeout(f *Factory) time.Duration {
	if f.Global.Timeout > 0 {
		return f.Global.Timeout
	}
	return 10 * time.Second
}

// endOTLP folds the outcome of an --otlp export (oerr, from startOTLP's
// close function) into the command's (err): the command's work was done but
// its telemetry was not delivered, so a success becomes a partial one (exit
// 3) with one "eddy: otlp: …" line. Any other outcome (an error, an
// interrupt) stands, the export failure said on its own line.
func endOTLP(ctx context.Context, f *Factory, err, oerr error) error {
	if oerr == nil {
		return err
	}
	if err == nil && ctx.Err() == nil {
		return &exitError{code: ExitPartial, err: fmt.Errorf("otlp: %w", oerr)}
	}
	notef(f.IO.ErrOut, "otlp: %s", oerr)
	return err
}

// pushWatch reports lag serve's OTLP pushes on stderr (otlpwatch.Push: one
// line per streak of failures, one when pushes arrive again). Serving goes on
// either way, and serve's exit status does not change (it ends by an
// interrupt: 130).
type pushWatch struct {
	f       *Factory
	timeout time.Duration
	push    otlpwatch.Push
}

func (w *pushWatch) setEndpoint(e string) { w.push.SetEndpoint(e) }
func (w *pushWatch) report(err error)     { w.push.Report(w.f.IO.ErrOut, w.timeout, err) }
func (w *pushWatch) final(err error)      { w.push.Final(w.f.IO.ErrOut, w.timeout, err) }

// startOTLP connects to an --otlp endpoint ("" for none; a bad one is a
// usage error) and returns the function that ends the export: it flushes
// within --timeout (every export is bounded by it too) and returns the
// spans lost, a *trace.ExportError, for endOTLP.
func startOTLP(ctx context.Context, f *Factory, endpoint string) (*trace.Exporter, func() error, error) {
	if endpoint == "" {
		return nil, func() error { return nil }, nil
	}
	timeout := otlpTimeout(f)
	x, err := trace.NewExporter(ctx, endpoint, trace.WithTimeout(timeout))
	if err != nil {
		return nil, nil, asUsage(err)
	}
	return x, func() error {
		// A little past the exporter's own bound, so that its error (what
		// failed) arrives before this deadline's.
		ctx, cancel := context.WithTimeout(context.Background(), timeout+otlpCloseMargin)
		defer cancel()
		return x.Close(ctx)
	}, nil
}
