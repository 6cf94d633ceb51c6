package lag

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	promb "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// LagMetricNames documents the metrics of eddy lag serve, for its help and the
// README: name, labels, meaning. Unknown values are not exported (no sample
// rather than a made-up number).
const LagMetricNames = `  eddy_kafka_consumergroup_lag{group}                        records still to read, sum of partitions (an upper bound when lag_exact is 0)
  eddy_kafka_consumergroup_lag_min{group}                    the lower bound of lag (equal to it when exact)
  eddy_kafka_consumergroup_lag_exact{group}                  1 when lag is exact, 0 when the read budget or --timeout cut a count
  eddy_kafka_consumergroup_offset_lag{group}                 high watermark minus committed offsets (kafka-consumer-groups' LAG)
  eddy_kafka_consumergroup_time_lag_seconds{group}           age of the oldest unread record (a lower bound when time_lag_exact is 0)
  eddy_kafka_consumergroup_time_lag_exact{group}             0 when a partition with records to read has no time lag
  eddy_kafka_consumergroup_status{group}                     0 unknown, 1 OK, 2 WARN, 3 ERR
  eddy_kafka_consumergroup_members{group}                    members in the group
  eddy_kafka_consumergroup_partition_lag{group,topic,partition}            records still to read (upper bound when not exact)
  eddy_kafka_consumergroup_partition_lag_min{group,topic,partition}        its lower bound
  eddy_kafka_consumergroup_partition_lag_exact{group,topic,partition}      1 exact, 0 a range
  eddy_kafka_consumergroup_partition_offset_lag{group,topic,partition}     end minus committed offset
  eddy_kafka_consumergroup_partition_time_lag_seconds{group,topic,partition}
  eddy_kafka_consumergroup_partition_committed_offset{group,topic,partition}
  eddy_kafka_consumergroup_partition_end_offset{group,topic,partition}
  eddy_kafka_consumergroup_partition_high_watermark{group,topic,partition}
  eddy_kafka_consumergroup_partition_status{group,topic,partition}         1 OK, 2 WARN, 3 ERR (commit beyond the log end), 4 STOP, 5 STALL, 6 REWIND (0 unknown)
  eddy_rabbitmq_queue_messages_ready{vhost,queue}
  eddy_rabbitmq_queue_messages_unacked{vhost,queue}
  eddy_rabbitmq_queue_consumers{vhost,queue}
  eddy_rabbitmq_queue_head_age_seconds{vhost,queue}          age of the oldest ready message
  eddy_rabbitmq_queue_publish_rate{vhost,queue}              messages/s (also deliver_rate, ack_rate)
  eddy_lag_sample_timestamp_seconds                          when the figures were sampled (Unix time)
  eddy_lag_sample_duration_seconds                           how long the sample took
  eddy_lag_sample_errors                                     transports that failed in the last sample`

// LagMetricsOptions configure NewLagMetrics.
type LagMetricsOptions struct {
	// OTLPEndpoint, when set, also pushes the metrics with OTLP over HTTP to
	// this endpoint (host:port or a URL; OTEL_EXPORTER_OTLP_* variables
	// apply too) every PushInterval (default 15s).
	OTLPEndpoint string
	PushInterval time.Duration
	// OTLPTimeout bounds each push, connecting and retries included
	// (default: the SDK's 10 s per request, 30 s per push).
	OTLPTimeout time.Duration
	// OnPush, when set, is called after every OTLP push with its error (nil:
	// it arrived), the final push at Shutdown included. Without it a failed
	// push goes only to OpenTelemetry's global error handler.
	OnPush func(error)
	// ClusterLabel adds a cluster label to every metric, the name given to
	// UpdateCluster (eddy serve, which samples several clusters).
	ClusterLabel bool
	// Producer, when set, is pushed with OTLP beside the lag metrics (eddy
	// serve's flow metrics, from its own Prometheus registry).
	Producer sdkmetric.Producer
}

// LagMetrics exposes the latest LagSnapshot as Prometheus gauges, read by a
// scrape (Handler) and optionally pushed with OTLP (through OpenTelemetry's
// Prometheus bridge). The gauges are gathered once per update, not per
// scrape (scrape.go). Update and the readers are safe for concurrent use.
type LagMetrics struct {
	mu    sync.Mutex
	snaps map[string]sampled // by cluster ("" without ClusterLabel)
	label bool

	reg      *prometheus.Registry
	descs    map[string]*prometheus.Desc
	provider *sdkmetric.MeterProvider // nil without OTLP
	shown    string                   // the OTLP endpoint, for messages: no user, no query

	gathering sync.Mutex               // one regather at a time
	cur       atomic.Pointer[gathered] // what scrapes and pushes read
	askedMu   sync.Mutex
	asked     map[expfmt.Format]asked // formats scrapes asked for lately: encoded at each update
	updates   uint64                  // regathers so far (under askedMu)
}

// NewLagMetrics sets up the meter provider and its readers.
func NewLagMetrics(ctx context.Context, o LagMetricsOptions) (*LagMetrics, error) {
	m := &LagMetrics{reg: prometheus.NewRegistry(), snaps: map[string]sampled{}, label: o.ClusterLabel, asked: map[expfmt.Format]asked{}}
	m.descs = lagDescs(o.ClusterLabel)
	if err := m.reg.Register((*lagCollector)(m)); err != nil {
		return nil, err
	}
	m.regather()
	var opts []sdkmetric.Option
	if o.OTLPEndpoint != "" {
		var eo []otlpmetrichttp.Option
		if scheme, _, ok := strings.Cut(o.OTLPEndpoint, "://"); ok && !isURL(o.OTLPEndpoint) {
			// Not the URL itself: it may carry a password.
			return nil, fmt.Errorf("scheme %q is not supported; want http://HOST:PORT, https://HOST:PORT (OTLP/HTTP) or HOST:PORT", inspect.SafeString(scheme))
		}
		if pu, err := url.Parse(o.OTLPEndpoint); err == nil && pu.User != nil {
			// The exporter would drop it silently; a secret in a URL is
			// refused rather than ignored.
			return nil, fmt.Errorf("a user or password in the URL is not supported: the exporter would not send it")
		} else if err == nil && isURL(o.OTLPEndpoint) && (pu.RawQuery != "" || pu.Fragment != "" || pu.ForceQuery) {
			// Dropped silently too (the exporter keeps host and path).
			return nil, fmt.Errorf("a query or fragment in the URL is not supported: the exporter would not send it")
		}
		if isURL(o.OTLPEndpoint) {
			u := o.OTLPEndpoint
			// A collector's base URL (http://collector:4318) means its standard
			// metrics path; the exporter would otherwise post to "/".
			if pu, err := url.Parse(u); err == nil && (pu.Path == "" || pu.Path == "/") {
				pu.Path = "/v1/metrics"
				u = pu.String()
			}
			eo = append(eo, otlpmetrichttp.WithEndpointURL(u))
			if pu, err := url.Parse(u); err == nil {
				m.shown = (&url.URL{Scheme: pu.Scheme, Host: pu.Host, Path: pu.Path}).String()
			}
		} else {
			eo = append(eo, otlpmetrichttp.WithEndpoint(o.OTLPEndpoint), otlpmetrichttp.WithInsecure())
			m.shown = "http://" + o.OTLPEndpoint + "/v1/metrics"
		}
		// The gathered figures are what is pushed, through the Prometheus
		// bridge: the same figures, names and help as a scrape reads.
		ro := []sdkmetric.PeriodicReaderOption{sdkmetric.WithProducer(promb.NewMetricProducer(promb.WithGatherer(m)))}
		if o.Producer != nil {
			ro = append(ro, sdkmetric.WithProducer(o.Producer))
		}
		if t := o.OTLPTimeout; t > 0 {
			// Each request, the retries of one push (else up to a minute
			// of them), and the push as a whole.
			eo = append(eo, otlpmetrichttp.WithTimeout(t), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{
				Enabled: true, InitialInterval: t / 4, MaxInterval: t, MaxElapsedTime: t}))
			ro = append(ro, sdkmetric.WithTimeout(t))
		}
		oe, err := otlpmetrichttp.New(ctx, eo...)
		if err != nil {
			return nil, err
		}
		iv := o.PushInterval
		if iv <= 0 {
			iv = 15 * time.Second
		}
		var exp sdkmetric.Exporter = oe
		if o.OnPush != nil {
			exp = &watchedExporter{Exporter: oe, onPush: o.OnPush}
		}
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, append(ro, sdkmetric.WithInterval(iv))...)))
	}
	if len(opts) > 0 {
		m.provider = sdkmetric.NewMeterProvider(opts...)
	}
	return m, nil
}

// watchedExporter tells OnPush how each push went: the periodic reader
// would hand a failure only to OpenTelemetry's global error handler.
type watchedExporter struct {
	sdkmetric.Exporter
	onPush func(error)
}

func (w *watchedExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := w.Exporter.Export(ctx, rm)
	w.onPush(err)
	return err
}

// OTLPEndpoint is where the metrics are pushed, for messages: without a user,
// password or query ("" without --otlp).
func (m *LagMetrics) OTLPEndpoint() string { return m.shown }

func isURL(s string) bool {
	return len(s) > 7 && (s[:7] == "http://" || len(s) > 8 && s[:8] == "https://")
}

// Update makes s the figures the metrics report; took is how long sampling
// it took.
func (m *LagMetrics) Update(s *inspect.LagSnapshot, took time.Duration) { m.UpdateCluster("", s, took) }

// UpdateCluster makes s the figures of cluster (its cluster label, with
// ClusterLabel). The metrics are gathered now, and encoded in the formats
// scrapes asked for, so that a scrape only writes them out: with
// thousands of partitions this call takes tens of milliseconds.
func (m *LagMetrics) UpdateCluster(cluster string, s *inspect.LagSnapshot, took time.Duration) {
	m.mu.Lock()
	m.snaps[cluster] = sampled{s, took}
	m.mu.Unlock()
	m.regather()
}

// Registry is the Prometheus registry the metrics are collected from, at
// each update (Gather and the handlers read what that gathered; gathering
// the registry itself makes the gauges again from the snapshots).
func (m *LagMetrics) Registry() *prometheus.Registry { return m.reg }

type sampled struct {
	snap *inspect.LagSnapshot
	took time.Duration
}

// Handler serves the metrics in the exposition format a scrape asks for
// (HandlerWith without live metrics).
func (m *LagMetrics) Handler() http.Handler {
	// A series that cannot be collected is left out, not the whole scrape
	// (promhttp's ContinueOnError).
	return m.HandlerWith(ScrapeOptions{})
}

// Shutdown pushes a last time (OTLP) and stops the readers.
func (m *LagMetrics) Shutdown(ctx context.Context) error {
	if m.provider == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}

// lagNames are the metrics' names and help.
var lagNames = []struct{ name, desc string }{
	{"eddy_kafka_consumergroup_lag", "Records the group still has to read (sum over partitions; an upper bound when lag_exact is 0)."},
	{"eddy_kafka_consumergroup_lag_min", "Lower bound of the records the group still has to read."},
	{"eddy_kafka_consumergroup_lag_exact", "1 when the lag is exact, 0 when it is a range (read budget or timeout)."},
	{"eddy_kafka_consumergroup_offset_lag", "High watermark minus committed offset, summed (kafka-consumer-groups' LAG)."},
	{"eddy_kafka_consumergroup_time_lag_seconds", "Age of the oldest record the group has not read (a lower bound when time_lag_exact is 0)."},
	{"eddy_kafka_consumergroup_time_lag_exact", "0 when a partition with records to read has no time lag."},
	{"eddy_kafka_consumergroup_status", "Burrow status: 0 unknown, 1 OK, 2 WARN, 3 ERR."},
	{"eddy_kafka_consumergroup_members", "Members of the group."},
	{"eddy_kafka_consumergroup_partition_lag", "Records still to read in the partition (an upper bound when not exact)."},
	{"eddy_kafka_consumergroup_partition_lag_min", "Lower bound of the records still to read in the partition."},
	{"eddy_kafka_consumergroup_partition_lag_exact", "1 when the partition's lag is exact, 0 when it is a range."},
	{"eddy_kafka_consumergroup_partition_high_watermark", "The partition's high watermark."},
	{"eddy_kafka_consumergroup_partition_offset_lag", "High watermark minus committed offset."},
	{"eddy_kafka_consumergroup_partition_time_lag_seconds", "Age of the first unread record of the partition."},
	{"eddy_kafka_consumergroup_partition_committed_offset", "The group's committed offset."},
	{"eddy_kafka_consumergroup_partition_end_offset", "The partition's end offset (last stable offset when read_committed)."},
	{"eddy_kafka_consumergroup_partition_status", "Burrow status: 0 unknown, 1 OK, 2 WARN, 3 ERR (commit beyond the log end), 4 STOP, 5 STALL, 6 REWIND."},
	{"eddy_rabbitmq_queue_messages_ready", "Messages ready for delivery."},
	{"eddy_rabbitmq_queue_messages_unacked", "Messages delivered and not yet acknowledged."},
	{"eddy_rabbitmq_queue_consumers", "Consumers of the queue."},
	{"eddy_rabbitmq_queue_head_age_seconds", "Age of the oldest ready message (its timestamp property)."},
	{"eddy_rabbitmq_queue_publish_rate", "Messages published per second."},
	{"eddy_rabbitmq_queue_deliver_rate", "Messages delivered per second."},
	{"eddy_rabbitmq_queue_ack_rate", "Messages acknowledged per second."},
	{"eddy_lag_sample_timestamp_seconds", "When the figures were sampled, Unix time."},
	{"eddy_lag_sample_duration_seconds", "How long the last sample took."},
	{"eddy_lag_sample_errors", "Transports that failed in the last sample."},
}

// lagDescs are the metrics' descriptions: each level's labels, then
// cluster when asked.
func lagDescs(cluster bool) map[string]*prometheus.Desc {
	out := map[string]*prometheus.Desc{}
	for _, n := range lagNames {
		var labels []string
		switch {
		case strings.HasPrefix(n.name, "eddy_kafka_consumergroup_partition_"):
			labels = []string{"group", "topic", "partition"}
		case strings.HasPrefix(n.name, "eddy_kafka_consumergroup_"):
			labels = []string{"group"}
		case strings.HasPrefix(n.name, "eddy_rabbitmq_queue_"):
			labels = []string{"vhost", "queue"}
		}
		if cluster {
			labels = append(labels, "cluster")
		}
		out[n.name] = prometheus.NewDesc(n.name, n.desc, labels, nil)
	}
	return out
}

// lagCollector reads the latest snapshots at each update (regather): the
// metrics are constant gauges made from them, which costs a fraction of
// going through OpenTelemetry's instruments with thousands of partitions.
type lagCollector LagMetrics

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	snaps := maps.Clone(c.snaps)
	c.mu.Unlock()
	for cluster, sm := range snaps {
		var extra []string
		if c.label {
			extra = []string{cluster}
		}
		observeSnapshot(func(name string, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, append(labels, extra...)...)
		}, sm.snap, sm.took)
	}
}

// observeSnapshot emits the gauges of one cluster's snapshot, each with
// the values of its level's labels.
func observeSnapshot(emit func(name string, v float64, labels ...string), s *inspect.LagSnapshot, took time.Duration) {
	{
		if s == nil {
			return
		}
		emit("eddy_lag_sample_timestamp_seconds", float64(s.Time.UnixNano())/1e9)
		emit("eddy_lag_sample_duration_seconds", took.Seconds())
		emit("eddy_lag_sample_errors", float64(len(s.Errors)))
		for _, g := range s.Groups {
			ga := []string{g.Group}
			emit("eddy_kafka_consumergroup_status", float64(g.Status), ga...)
			emit("eddy_kafka_consumergroup_members", float64(len(g.Members)), ga...)
			if g.Err != "" {
				continue
			}
			emit("eddy_kafka_consumergroup_lag", float64(g.Lag), ga...)
			emit("eddy_kafka_consumergroup_lag_min", float64(inspect.LagMin(g.Lag, g.LagMin, g.LagInexact)), ga...)
			emit("eddy_kafka_consumergroup_lag_exact", boolGauge(!g.LagInexact), ga...)
			emit("eddy_kafka_consumergroup_offset_lag", float64(g.OffsetLag), ga...)
			if g.TimeLag >= 0 {
				emit("eddy_kafka_consumergroup_time_lag_seconds", g.TimeLag.Seconds(), ga...)
			}
			emit("eddy_kafka_consumergroup_time_lag_exact", boolGauge(!g.TimeLagInexact), ga...)
			for _, p := range g.Partitions {
				pa := []string{g.Group, p.Topic, strconv.Itoa(int(p.Partition))}
				obsInt := func(name string, v int64) {
					if v >= 0 {
						emit(name, float64(v), pa...)
					}
				}
				obsInt("eddy_kafka_consumergroup_partition_lag", p.Lag)
				obsInt("eddy_kafka_consumergroup_partition_offset_lag", p.OffsetLag)
				obsInt("eddy_kafka_consumergroup_partition_committed_offset", p.Committed)
				obsInt("eddy_kafka_consumergroup_partition_end_offset", p.End)
				obsInt("eddy_kafka_consumergroup_partition_high_watermark", p.HighWatermark)
				if p.Lag >= 0 {
					obsInt("eddy_kafka_consumergroup_partition_lag_min", inspect.LagMin(p.Lag, p.LagMin, p.LagInexact))
					emit("eddy_kafka_consumergroup_partition_lag_exact", boolGauge(!p.LagInexact), pa...)
				}
				if p.TimeLag >= 0 {
					emit("eddy_kafka_consumergroup_partition_time_lag_seconds", p.TimeLag.Seconds(), pa...)
				}
				if inspect.Judged(p) {
					emit("eddy_kafka_consumergroup_partition_status", float64(p.Status), pa...)
				}
			}
		}
		for _, q := range s.Queues {
			qa := []string{q.Vhost, q.Queue}
			emit("eddy_rabbitmq_queue_messages_ready", float64(q.Ready), qa...)
			emit("eddy_rabbitmq_queue_consumers", float64(q.Consumers), qa...)
			if q.Via == "management" {
				emit("eddy_rabbitmq_queue_messages_unacked", float64(q.Unacked), qa...)
			}
			if q.HeadAge >= 0 {
				emit("eddy_rabbitmq_queue_head_age_seconds", q.HeadAge.Seconds(), qa...)
			}
			for name, r := range map[string]*float64{"eddy_rabbitmq_queue_publish_rate": q.PublishRate,
				"eddy_rabbitmq_queue_deliver_rate": q.DeliverRate, "eddy_rabbitmq_queue_ack_rate": q.AckRate} {
				if r := inspect.FiniteRate(r); r != nil {
					emit(name, *r, qa...)
				}
			}
		}
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
