// Package serve is eddy serve's logic: one long-running process that
// exports, per cluster, the latency of live business flows (the
// Correlator of eddy trace flows, fed from the end of the topics and
// queues), the rules of eddy expect as SLO counters, the lag of eddy lag
// serve and the depth, inflow and reasons of DLQs, as Prometheus metrics
// (native histograms beside classic buckets) on /metrics and pushed with
// OTLP (exponential histograms, through the Prometheus bridge), with
// /healthz and /readyz. SERVE-METRICS.md is the metric contract;
// [MetricNames] lists the metrics for the help.
package serve
