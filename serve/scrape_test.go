package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
)

// scrapeSnapshot is a cluster's lag with every kind of figure: exact and
// inexact lag, unknown values (-1: left out), a group that failed, a
// partition not judged, queues with and without the management API and
// rates, and sample errors. n varies the figures.
func scrapeSnapshot(n int) *inspect.LagSnapshot {
	rate := 1.5 * float64(n)
	s := &inspect.LagSnapshot{Time: time.Unix(1700000000+int64(n), 250_000_000), Errors: []string{"amqp: down"}}
	for g := range 3 {
		gl := inspect.GroupLag{Group: fmt.Sprintf("g%d", g), Lag: int64(30 * n), LagMin: int64(20 * n), LagInexact: g == 1,
			OffsetLag: int64(31 * n), TimeLag: time.Duration(n) * time.Second, TimeLagInexact: g == 2, Status: inspect.StatusWarn,
			Members: make([]inspect.MemberLag, g)}
		for p := range 12 {
			pl := inspect.PartitionLag{Topic: "orders", Partition: int32(p), Committed: int64(100 + p), End: int64(110 + p + n),
				HighWatermark: int64(110 + p + n), Lag: int64(10 + n), LagMin: int64(5 + n), LagInexact: p%3 == 0,
				OffsetLag: int64(10 + n), TimeLag: time.Duration(p) * time.Millisecond, Status: inspect.StatusOK}
			if p == 7 {
				pl.Committed, pl.Lag, pl.TimeLag = -1, -1, -1
			}
			gl.Partitions = append(gl.Partitions, pl)
		}
		s.Groups = append(s.Groups, gl)
	}
	s.Groups = append(s.Groups, inspect.GroupLag{Group: "broken", Err: "GROUP_AUTHORIZATION_FAILED", Status: inspect.StatusErr})
	s.Queues = []inspect.QueueLag{
		{Vhost: "/", Queue: "orders", Ready: int64(4 * n), Unacked: 2, Consumers: 1, HeadAge: 3 * time.Second, Via: "management", PublishRate: &rate},
		{Vhost: "/", Queue: "audit", Ready: 1, HeadAge: -1, Via: "amqp"},
	}
	return s
}

// scrapeState is eddy serve's metrics with figures in every kind of
// family: hop and duration histograms (native and classic), counters,
// gauges, DLQ reasons; lag for two clusters.
func scrapeState(t *testing.T) (*lag.LagMetrics, *Metrics) {
	t.Helper()
	lm, err := lag.NewLagMetrics(context.Background(), lag.LagMetricsOptions{ClusterLabel: true})
	if err != nil {
		t.Fatal(err)
	}
	lm.UpdateCluster("east", scrapeSnapshot(1), 40*time.Millisecond)
	lm.UpdateCluster("west", scrapeSnapshot(2), 70*time.Millisecond)
	m := NewMetrics(5, 3)
	for e := range 4 {
		h := m.hop.WithLabelValues("east", "checkout", fmt.Sprintf("T%d", e), fmt.Sprintf("T%d", e+1))
		for i := range 300 {
			h.Observe(float64(i%97+1) * 0.0013 * float64(e+1))
		}
	}
	m.topicHop.WithLabelValues("east", "orders", "payments").Observe(0.04)
	m.duration.WithLabelValues("east", "checkout").Observe(1.2)
	m.started.WithLabelValues("east", "checkout").Add(300)
	m.completed.WithLabelValues("east", "checkout").Add(290)
	m.incomplete.WithLabelValues("east", "checkout").Add(10)
	m.open.WithLabelValues("east", "checkout").Set(7)
	m.events.WithLabelValues("east").Add(1200)
	m.sloTotal.WithLabelValues("east", "OrderPlaced -> OrderShipped within 5s").Add(290)
	m.sloGood.WithLabelValues("east", "OrderPlaced -> OrderShipped within 5s").Add(280)
	m.sloSeen.WithLabelValues("east", "OrderPlaced -> OrderShipped within 5s").Set(1)
	m.dlqDepth.WithLabelValues("east", "kafka", "orders.DLQ").Set(12)
	m.dlqReason.WithLabelValues("east", "kafka", "orders.DLQ", `bad "json" at <n>`).Add(3)
	return lm, m
}

// scrapeCase is one request: the Accept and Accept-Encoding headers, a
// query.
type scrapeCase struct{ accept, encoding, query string }

func scrapeCases() []scrapeCase {
	accepts := []string{
		"", // text, promhttp's fallback
		`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`,
		// Prometheus 3's scrape with native histograms on.
		`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1`,
		`application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.9,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3`,
		`application/openmetrics-text;version=0.0.1`,
		`text/plain;version=0.0.4`,
		`text/plain;version=1.0.0;escaping=values`,
		`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text`,
		`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=compact-text`,
		`*/*`,
	}
	var out []scrapeCase
	for _, a := range accepts {
		for _, e := range []string{"", "gzip", "gzip;q=0, identity", "br, gzip;q=0.5, *;q=0.1", "zstd", "*"} {
			out = append(out, scrapeCase{accept: a, encoding: e})
		}
	}
	for _, q := range []string{"name[]=eddy_kafka_consumergroup_partition_lag&name[]=eddy_flow_hop_latency_seconds", "name[]=nothing", "name[]=eddy_flows_open"} {
		out = append(out, scrapeCase{accept: `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`, encoding: "gzip", query: q},
			scrapeCase{accept: "text/plain", query: q})
	}
	return out
}

// scrapeResult is what a scrape answered: status, the headers a scraper
// reads, the body as sent and decompressed.
type scrapeResult struct {
	code                   int
	ctype, cencoding, vary string
	raw, body              []byte
	gzipErr                error
}

func scrapeWith(t *testing.T, h http.Handler, c scrapeCase) scrapeResult {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics?"+c.query, nil)
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	if c.encoding != "" {
		req.Header.Set("Accept-Encoding", c.encoding)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	r := scrapeResult{code: w.Code, ctype: w.Header().Get("Content-Type"), cencoding: w.Header().Get("Content-Encoding"),
		vary: strings.Join(w.Header().Values("Vary"), ","), raw: w.Body.Bytes(), body: w.Body.Bytes()}
	if r.cencoding == "gzip" {
		// One gzip member, whole, checked (CRC-32 and size) by the reader.
		br := bytes.NewReader(r.raw)
		zr, err := gzip.NewReader(br)
		if err == nil {
			zr.Multistream(false)
			r.body, err = io.ReadAll(zr)
			if err == nil && br.Len() > 0 {
				err = fmt.Errorf("%d bytes after the gzip member", br.Len())
			}
		}
		r.gzipErr = err
	}
	return r
}

// sameScrape fails when the handler's answer differs from promhttp's.
func sameScrape(t *testing.T, what string, c scrapeCase, got, want scrapeResult) {
	t.Helper()
	if got.gzipErr != nil || want.gzipErr != nil {
		t.Fatalf("%s %+v: gzip: got %v, promhttp %v", what, c, got.gzipErr, want.gzipErr)
	}
	if got.code != want.code || got.ctype != want.ctype || got.cencoding != want.cencoding || got.vary != want.vary {
		t.Fatalf("%s %+v: got %d %q %q %q, promhttp %d %q %q %q", what, c, got.code, got.ctype, got.cencoding, got.vary,
			want.code, want.ctype, want.cencoding, want.vary)
	}
	if !bytes.Equal(got.body, want.body) {
		g, w := string(got.body), string(want.body)
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Fatalf("%s %+v: bodies differ at byte %d of %d/%d:\ngot      …%q\npromhttp …%q", what, c, i, len(g), len(w),
			g[max(0, i-80):min(len(g), i+80)], w[max(0, i-80):min(len(w), i+80)])
	}
}

// TestScrapeSameAsPromhttp: /metrics, which serves the lag metrics as
// gathered and encoded once per update, answers every format, compression
// and filter exactly as client_golang's own handler over the plain
// registries (the way eddy served them before) — same families, help,
// types, labels, values and order — before and after an update, with
// OpenMetrics offered or not; and lag serve's handler (no live metrics)
// too. So the speed-up cannot have changed a figure.
func TestScrapeSameAsPromhttp(t *testing.T) {
	lm, m := scrapeState(t)
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	handlers := []struct {
		name      string
		got, want http.Handler
	}{
		{"eddy serve", metricsHandler(lm, m), promhttp.HandlerFor(prometheus.Gatherers{lm.Registry(), m.Registry}, opts)},
		{"lag serve", lm.Handler(), promhttp.HandlerFor(lm.Registry(), opts)},
		{"OpenMetrics offered", lm.HandlerWith(lag.ScrapeOptions{Live: m.Registry, EnableOpenMetrics: true}),
			promhttp.HandlerFor(prometheus.Gatherers{lm.Registry(), m.Registry}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true})},
	}
	check := func(when string) {
		t.Helper()
		for _, hh := range handlers {
			for _, c := range scrapeCases() {
				// Twice: made, then from what was made.
				for range 2 {
					got := scrapeWith(t, hh.got, c)
					sameScrape(t, hh.name+" "+when, c, got, scrapeWith(t, hh.want, c))
				}
			}
		}
	}
	check("first")
	// The formats asked for are encoded again at the update: the new
	// figures, not the ones encoded before.
	lm.UpdateCluster("east", scrapeSnapshot(5), 10*time.Millisecond)
	m.events.WithLabelValues("east").Add(10)
	check("after an update")

	// The figures really are there (not two empty answers that agree).
	got := scrapeWith(t, handlers[0].got, scrapeCase{accept: "text/plain", encoding: "gzip"})
	for _, want := range []string{
		`eddy_kafka_consumergroup_partition_lag{cluster="east",group="g0",partition="3",topic="orders"} 15`,
		`eddy_kafka_consumergroup_partition_lag{cluster="west",group="g0",partition="3",topic="orders"} 12`,
		`eddy_rabbitmq_queue_publish_rate{cluster="east",queue="orders",vhost="/"} 7.5`,
		`eddy_serve_events_total{cluster="east"} 1210`,
		`eddy_flow_hop_latency_seconds_count{cluster="east",flow="checkout",from="T0",to="T1"} 300`,
	} {
		if !strings.Contains(string(got.body), want+"\n") {
			t.Errorf("no %s in\n%s", want, got.body)
		}
	}
	// Another inflater than Go's takes it too (the DEFLATE segments
	// joined with sync flushes and a final empty block are one stream).
	if got.cencoding != "gzip" {
		t.Fatalf("not compressed: %q", got.cencoding)
	}
	if gz, err := exec.LookPath("gzip"); err == nil {
		cmd := exec.Command(gz, "-dc")
		cmd.Stdin = bytes.NewReader(got.raw)
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, got.body) {
			t.Errorf("gzip -dc: %v; %d bytes, want %d", err, len(out), len(got.body))
		}
	}
	// Protobuf carries the native histograms.
	got = scrapeWith(t, handlers[0].got, scrapeCase{accept: scrapeCases()[6].accept})
	fams := decodeDelimited(t, got.body)
	h := fams["eddy_flow_hop_latency_seconds"]
	if h == nil || h.Metric[0].Histogram.GetSchema() != 3 || len(h.Metric[0].Histogram.PositiveSpan) == 0 {
		t.Errorf("no native histogram: %v", h)
	}
}

func decodeDelimited(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	out := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(bytes.NewReader(b), expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out[mf.GetName()] = mf
	}
}

// oddGatherer is a live gatherer that breaks the handler's assumptions:
// a family named as a lag metric, an error.
type oddGatherer struct {
	fams []*dto.MetricFamily
	err  error
}

func (g oddGatherer) Gather() ([]*dto.MetricFamily, error) { return g.fams, g.err }

// TestScrapeOddLive: a live family named as a lag one, or a live gatherer
// that fails, is served as promhttp over prometheus.Gatherers serves it
// (merged, or the error handled as ContinueOnError).
func TestScrapeOddLive(t *testing.T) {
	lm, _ := scrapeState(t)
	gauge := dto.MetricType_GAUGE
	same := &dto.MetricFamily{Name: proto.String("eddy_lag_sample_errors"), Help: proto.String("Transports that failed in the last sample."), Type: &gauge,
		Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: proto.String("cluster"), Value: proto.String("north")}}, Gauge: &dto.Gauge{Value: proto.Float64(4)}}}}
	other := &dto.MetricFamily{Name: proto.String("zz_other"), Help: proto.String("x"), Type: &gauge,
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(1)}}}}
	for _, live := range []oddGatherer{
		{fams: []*dto.MetricFamily{same}},
		{fams: []*dto.MetricFamily{other}, err: errors.New("a collector failed")},
		{err: errors.New("nothing gathered")},
	} {
		got := lm.HandlerWith(lag.ScrapeOptions{Live: live})
		want := promhttp.HandlerFor(prometheus.Gatherers{lm.Registry(), live}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
		for _, c := range []scrapeCase{{accept: "text/plain"}, {encoding: "gzip"}} {
			g := scrapeWith(t, got, c)
			sameScrape(t, fmt.Sprint(live), c, g, scrapeWith(t, want, c))
			if live.err == nil && !strings.Contains(string(g.body), `eddy_lag_sample_errors{cluster="north"} 4`) {
				t.Errorf("%v: merged family missing:\n%s", live, g.body)
			}
		}
	}
}

// TestScrapeDuringUpdates: scrapes while the lag is updated (go test
// -race) each read one whole gathering: every partition's figures of one
// sample, never a mix.
func TestScrapeDuringUpdates(t *testing.T) {
	lm, m := scrapeState(t)
	h := metricsHandler(lm, m)
	var wg, updater sync.WaitGroup
	stop := make(chan struct{})
	updater.Go(func() {
		for n := 10; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			lm.UpdateCluster("east", scrapeSnapshot(n), time.Millisecond)
		}
	})
	for range 2 {
		wg.Go(func() {
			for i := range 40 {
				c := scrapeCase{accept: scrapeCases()[6].accept}
				if i%2 == 0 {
					c.encoding = "gzip"
				}
				r := scrapeWith(t, h, c)
				if r.gzipErr != nil {
					t.Error(r.gzipErr)
					return
				}
				fams := decodeDelimited(t, r.body)
				// Every east partition's end offset is 110+p+n of one n.
				var ns []int
				for _, mt := range fams["eddy_kafka_consumergroup_partition_end_offset"].GetMetric() {
					var cluster, part string
					for _, l := range mt.Label {
						switch l.GetName() {
						case "cluster":
							cluster = l.GetValue()
						case "partition":
							part = l.GetValue()
						}
					}
					if cluster == "east" {
						var p int
						fmt.Sscan(part, &p)
						ns = append(ns, int(mt.Gauge.GetValue())-110-p)
					}
				}
				if len(ns) != 36 || slices.Min(ns) != slices.Max(ns) {
					t.Errorf("scrape %d: east's samples %v", i, ns)
					return
				}
			}
		})
	}
	// The scrapers end; then the updater.
	wg.Wait()
	close(stop)
	updater.Wait()
}
