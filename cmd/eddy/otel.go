package main

import "go.opentelemetry.io/otel"

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
