// Package trace follows events across topics and queues: it correlates events
// into flows, orders each flow by event time, measures the latency of every hop
// (from an event's cause, else from the previous event), marks dead-letter hops
// with their error, keeps hop latency histograms per edge, checks flows against
// expectations for CI, and exports flows as OpenTelemetry traces.
//
// # Flows
//
// A Correlator groups events by a key: the correlation id, else the trace id
// of the W3C traceparent, else the event id (an event without correlation or
// trace joins the flow of its cause when that cause was seen). The Schema that
// extracts these ids is the context's, so where ids live is configuration.
//
// The same event id seen twice on the same topic or queue (a retry, a redrive)
// is one step with a duplicate count. A copy of an event on a dead-letter topic
// or queue is a step of its own, a dead-letter hop, carrying the error the
// dead-lettering framework recorded (Spring Kafka's kafka_dlt-exception-*,
// Kafka Connect's __connect.errors.exception.*, RabbitMQ's x-death reason).
//
// # Time and memory
//
// Steps are ordered by event time: the occurred-at time the schema finds
// (producer clock), else the broker timestamp. A hop whose effect is earlier
// than its cause is clock skew between producers: it is kept, shown negative
// and flagged, never clamped, and counted apart from the latency histograms
// (which cannot hold negative values).
//
// A flow is finalised — reported, recorded in the statistics and forgotten —
// once it has been idle for Config.Timeout, measured both in event time (the
// latest event time seen, so a capture is bounded too) and on Config.Clock
// (so a quiet live source still finalises flows). Memory is bounded by the
// number of flows active within the timeout, not by how long eddy runs.
package trace
