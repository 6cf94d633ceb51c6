package serve

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Other is the label value that stands for every value past a bound
// (--max-edges, --max-reasons).
const Other = "other"

// MetricNames documents eddy serve's own metrics for its help and the
// README (SERVE-METRICS.md is the contract): name, labels, meaning.
const MetricNames = `  eddy_flow_hop_latency_seconds{cluster,flow,from,to}        histogram: event time of a hop's effect minus its cause's
  eddy_flow_topic_hop_latency_seconds{cluster,from_topic,to_topic}  histogram: the same hops by topic or queue
  eddy_flow_duration_seconds{cluster,flow}                   histogram: first event to last of a completed flow
  eddy_flows_started_total{cluster,flow}                     flows that reached their definition's first step (flow="default": counted when they end)
  eddy_flows_completed_total{cluster,flow}                   flows that passed every step of their definition
  eddy_flows_incomplete_total{cluster,flow}                  flows finalised after --flow-timeout with a step missing
  eddy_flows_dead_lettered_total{cluster,flow}               flows with a dead-lettered event
  eddy_flows_open{cluster,flow}                              flows open now (bounded by --flow-timeout)
  eddy_flow_clock_skew_total{cluster,flow}                   hops with a negative latency (producers' clocks disagree; not in the histograms)
  eddy_serve_events_total{cluster}                           events ingested
  eddy_slo_total{cluster,rule}                               flows that reached a rule's first step and were judged
  eddy_slo_good_total{cluster,rule}                          ... and met it (good/total over a window is the SLO ratio)
  eddy_slo_first_step_seen{cluster,rule}                     1 once an event of the rule's first step was seen, else 0
  eddy_dlq_depth{cluster,transport,dlq}                      messages in the DLQ now
  eddy_dlq_inflow_total{cluster,transport,dlq}               letters that arrived since eddy started (rate() is the inflow rate)
  eddy_dlq_oldest_age_seconds{cluster,transport,dlq}         age of the oldest letter
  eddy_dlq_reason_total{cluster,transport,dlq,reason}        letters by error (ids and numbers masked; --max-reasons, the rest "other")`

// Buckets are the classic buckets of the latency and duration histograms
// (seconds): from a millisecond to an hour. The native histograms beside
// them (Prometheus's protobuf exposition, OTLP's exponential histograms)
// have no fixed bounds.
var Buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// nativeFactor is the growth factor of the native histograms' buckets:
// 1.1 is schema 3, each bucket about 9% wider than the one before, so a
// quantile is known within about 4.5%.
const nativeFactor = 1.1

// Metrics are eddy serve's flow, SLO and DLQ metrics, in one Prometheus
// registry (the lag metrics are lag.LagMetrics', beside them). Label values
// past the bounds fold into Other; no id is ever a label.
type Metrics struct {
	Registry *prometheus.Registry

	hop, topicHop, duration             *prometheus.HistogramVec
	started, completed, incomplete, dls *prometheus.CounterVec
	skew, events                        *prometheus.CounterVec
	open                                *prometheus.GaugeVec
	sloTotal, sloGood                   *prometheus.CounterVec
	sloSeen                             *prometheus.GaugeVec
	dlqDepth, dlqOldest                 *prometheus.GaugeVec
	dlqInflow, dlqReason                *prometheus.CounterVec

	edges   bound // hop edges, per cluster and flow
	topics  bound // topic edges, per cluster
	reasons bound // reasons, per DLQ
}

// NewMetrics registers the metrics; maxEdges bounds the distinct edges of
// each hop histogram (a cluster's flow's, a cluster's topics'), maxReasons
// the distinct reasons of each DLQ.
func NewMetrics(maxEdges, maxReasons int) *Metrics {
	hist := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: Buckets,
			NativeHistogramBucketFactor: nativeFactor, NativeHistogramMaxBucketNumber: 160,
			NativeHistogramMinResetDuration: time.Hour}, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Registry:   prometheus.NewRegistry(),
		hop:        hist("eddy_flow_hop_latency_seconds", "Hop latency: the event time of a hop's effect minus its cause's.", "cluster", "flow", "from", "to"),
		topicHop:   hist("eddy_flow_topic_hop_latency_seconds", "Hop latency by the topics or queues of cause and effect.", "cluster", "from_topic", "to_topic"),
		duration:   hist("eddy_flow_duration_seconds", "First event to last event of a completed flow.", "cluster", "flow"),
		started:    counter("eddy_flows_started_total", "Flows opened, by the flow definition whose first step opened them.", "cluster", "flow"),
		completed:  counter("eddy_flows_completed_total", "Flows that passed every step of their definition.", "cluster", "flow"),
		incomplete: counter("eddy_flows_incomplete_total", "Flows finalised after --flow-timeout with a step missing.", "cluster", "flow"),
		dls:        counter("eddy_flows_dead_lettered_total", "Flows with a dead-lettered event.", "cluster", "flow"),
		open:       gauge("eddy_flows_open", "Flows open now.", "cluster", "flow"),
		skew:       counter("eddy_flow_clock_skew_total", "Hops with a negative latency (producer clock skew).", "cluster", "flow"),
		events:     counter("eddy_serve_events_total", "Events ingested.", "cluster"),
		sloTotal:   counter("eddy_slo_total", "Flows that reached the rule's first step and were judged.", "cluster", "rule"),
		sloGood:    counter("eddy_slo_good_total", "Flows judged that met the rule.", "cluster", "rule"),
		sloSeen:    gauge("eddy_slo_first_step_seen", "1 once an event of the rule's first step was seen, else 0.", "cluster", "rule"),
		dlqDepth:   gauge("eddy_dlq_depth", "Messages in the DLQ.", "cluster", "transport", "dlq"),
		dlqOldest:  gauge("eddy_dlq_oldest_age_seconds", "Age of the oldest message in the DLQ.", "cluster", "transport", "dlq"),
		dlqInflow:  counter("eddy_dlq_inflow_total", "Letters that arrived in the DLQ since eddy serve started.", "cluster", "transport", "dlq"),
		dlqReason:  counter("eddy_dlq_reason_total", "Letters by error, masked; past --max-reasons, other.", "cluster", "transport", "dlq", "reason"),
		edges:      bound{max: maxEdges},
		topics:     bound{max: maxEdges},
		reasons:    bound{max: maxReasons},
	}
	m.Registry.MustRegister(m.hop, m.topicHop, m.duration, m.started, m.completed, m.incomplete, m.dls, m.open, m.skew,
		m.events, m.sloTotal, m.sloGood, m.sloSeen, m.dlqDepth, m.dlqOldest, m.dlqInflow, m.dlqReason)
	return m
}

// bound hands out label values within a budget per scope: the first max
// distinct values of a scope keep theirs, the rest are Other. It is safe
// for concurrent use; callers cache what it returns.
type bound struct {
	max   int
	mu    sync.Mutex
	seen  map[string]map[string]bool // scope -> values given their own label
	folds int64                      // values folded into Other (each time)
}

// admit reports whether value keeps its own label in scope.
func (b *bound) admit(scope, value string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]map[string]bool{}
	}
	vs := b.seen[scope]
	if vs == nil {
		vs = map[string]bool{}
		b.seen[scope] = vs
	}
	if vs[value] {
		return true
	}
	if len(vs) >= b.max {
		b.folds++
		return false
	}
	vs[strings.Clone(value)] = true
	return true
}

// Folded is how many hops and letters were counted under Other.
func (m *Metrics) Folded() (edges, reasons int64) {
	m.edges.mu.Lock()
	m.topics.mu.Lock()
	edges = m.edges.folds + m.topics.folds
	m.topics.mu.Unlock()
	m.edges.mu.Unlock()
	m.reasons.mu.Lock()
	defer m.reasons.mu.Unlock()
	return edges, m.reasons.folds
}
