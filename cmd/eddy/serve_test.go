package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/internal/promtest"
	"github.com/eddy-sh/eddy/serve"
)

// scrape reads /metrics in Prometheus's protobuf exposition (what a
// Prometheus with native histograms asks for) into families by name.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	out := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out[mf.GetName()] = &mf
	}
}

// sample finds the metric of a family whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	mf := fams[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m := sample(fams, name, labels)
	switch {
	case m == nil:
		return math.NaN()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return math.NaN()
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// startServe runs serveRun until the test ends and returns its address
// and the function that interrupts it and returns its error (once; the
// test's end calls it too).
func startServe(t *testing.T, f *Factory, o *ServeOptions) (string, func() error) {
	t.Helper()
	addr := make(chan string, 1)
	o.ready = func(a string) { addr <- a }
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, f, o) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop on interrupt")
			return nil
		}
	})
	t.Cleanup(func() { stop() })
	select {
	case a := <-addr:
		return a, stop
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func serveOpts(o ServeOptions) *ServeOptions {
	if o.Interval == 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.FlowTimeout == 0 {
		o.FlowTimeout = 300 * time.Millisecond
	}
	if o.From == "" {
		o.From = "end"
	}
	if o.MaxEdges == 0 {
		o.MaxEdges = 50
	}
	if o.MaxReasons == 0 {
		o.MaxReasons = 10
	}
	return &o
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// shopEvent is one event of the test's flows: its record timestamp and its
// occurred_at are base+at, so every hop's latency is known exactly.
func shopEvent(topic, id, typ, order, cause string, base time.Time, at time.Duration, headers ...string) *kgo.Record {
	v := fmt.Sprintf(`{"event_id":%q,"type":%q,"occurred_at":%q,"correlation_id":%q`, id, typ, base.Add(at).UTC().Format(time.RFC3339Nano), order)
	if cause != "" {
		v += fmt.Sprintf(`,"causation_id":%q`, cause)
	}
	r := &kgo.Record{Topic: topic, Key: []byte(order), Value: []byte(v + "}"), Timestamp: base.Add(at)}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

type shopTopics struct{ orders, payments, stock, shipping, dlt string }

// injectShop produces flows whose figures the test knows: 10 complete
// (hops 40, 25 and 100 ms), 2 complete but slow (the last hop 300 ms),
// 3 that stop after the payment, 2 whose payment was dead-lettered (30 ms
// after it, with a Spring error naming the order).
func injectShop(t *testing.T, seeds []string, tp shopTopics, prefix string) {
	t.Helper()
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var recs []*kgo.Record
	flow := func(n int, kind string) {
		o := fmt.Sprintf("%s-o%d", prefix, n)
		b := base.Add(time.Duration(n) * time.Second)
		recs = append(recs, shopEvent(tp.orders, o+"-a", "OrderPlaced", o, "", b, 0),
			shopEvent(tp.payments, o+"-b", "PaymentAuthorized", o, o+"-a", b, 40*time.Millisecond))
		switch kind {
		case "complete", "slow":
			last := 100 * time.Millisecond
			if kind == "slow" {
				last = 300 * time.Millisecond
			}
			recs = append(recs, shopEvent(tp.stock, o+"-c", "StockReserved", o, o+"-b", b, 65*time.Millisecond),
				shopEvent(tp.shipping, o+"-d", "OrderShipped", o, o+"-c", b, 65*time.Millisecond+last))
		case "dead":
			recs = append(recs, shopEvent(tp.dlt, o+"-b", "PaymentAuthorized", o, o+"-a", b, 70*time.Millisecond,
				"kafka_dlt-exception-message", "payment declined for order "+o+" after 3 attempts",
				"kafka_dlt-original-topic", tp.payments))
		}
	}
	n := 0
	for _, k := range []struct {
		kind  string
		count int
	}{{"complete", 10}, {"slow", 2}, {"stuck", 3}, {"dead", 2}} {
		for range k.count {
			flow(n, k.kind)
			n++
		}
	}
	kafkatest.Produce(t, seeds, recs...)
}

const checkoutFlow = "checkout=OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped"

// shopSettled says whether a scrape has seen every one of injectShop's 17
// flows finalised and every hop they make recorded. A flow's outcome
// counter and its hop histograms are separate collectors, which a scrape
// reads one after another while flows are recorded: one scrape can see a
// flow's outcome before its hops (CI saw 17 outcomes and 16 hops), so the
// wait is for both, and checkShopMetrics then asserts exact figures.
func shopSettled(fams map[string]*dto.MetricFamily, cluster string) bool {
	cf := map[string]string{"cluster": cluster, "flow": "checkout"}
	if value(fams, "eddy_flows_completed_total", cf)+value(fams, "eddy_flows_incomplete_total", cf)+value(fams, "eddy_flows_dead_lettered_total", cf) < 17 {
		return false
	}
	observed := func(name string) uint64 {
		var n uint64
		if mf := fams[name]; mf != nil {
			for _, m := range mf.Metric {
				for _, l := range m.Label {
					if l.GetName() == "cluster" && l.GetValue() == cluster {
						n += m.GetHistogram().GetSampleCount()
					}
				}
			}
		}
		return n
	}
	// 17 first hops, 12 to stock and 12 to shipping, 2 dead letters; 12
	// complete flows; every flow judged by the rule "ships".
	return observed("eddy_flow_hop_latency_seconds") >= 17+12+12+2 &&
		observed("eddy_flow_topic_hop_latency_seconds") >= 17+12+12+2 &&
		observed("eddy_flow_duration_seconds") >= 12 &&
		value(fams, "eddy_slo_total", map[string]string{"cluster": cluster, "rule": "ships"}) >= 17
}

// checkShopMetrics asserts the figures injectShop's flows make.
func checkShopMetrics(t *testing.T, fams map[string]*dto.MetricFamily, cluster string, tp shopTopics) {
	t.Helper()
	cf := map[string]string{"cluster": cluster, "flow": "checkout"}
	for name, want := range map[string]float64{
		"eddy_flows_started_total":       17,
		"eddy_flows_completed_total":     12,
		"eddy_flows_incomplete_total":    3,
		"eddy_flows_dead_lettered_total": 2,
		"eddy_flows_open":                0,
		"eddy_flow_clock_skew_total":     0,
	} {
		if got := value(fams, name, cf); got != want {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
	if got := value(fams, "eddy_serve_events_total", map[string]string{"cluster": cluster}); got != 10*4+2*4+3*2+2*3 {
		t.Errorf("events = %v; want 60", got)
	}
	hops := []struct {
		from, to string
		count    uint64
		sum      float64
		le       float64 // the classic bucket that holds them all
		below    float64 // the one below it, which holds none
	}{
		{"OrderPlaced", "PaymentAuthorized", 17, 17 * 0.040, 0.05, 0.025},
		{"PaymentAuthorized", "StockReserved", 12, 12 * 0.025, 0.025, 0.01},
		{"PaymentAuthorized", "PaymentAuthorized (dead letter)", 2, 2 * 0.030, 0.05, 0.025},
	}
	for _, h := range hops {
		m := sample(fams, "eddy_flow_hop_latency_seconds", map[string]string{"cluster": cluster, "flow": "checkout", "from": h.from, "to": h.to})
		if m == nil || m.Histogram == nil {
			t.Errorf("no hop histogram %s -> %s", h.from, h.to)
			continue
		}
		hg := m.Histogram
		if hg.GetSampleCount() != h.count || !near(hg.GetSampleSum(), h.sum) {
			t.Errorf("%s -> %s: count %d sum %v; want %d, %v", h.from, h.to, hg.GetSampleCount(), hg.GetSampleSum(), h.count, h.sum)
		}
		for _, b := range hg.Bucket {
			if b.GetUpperBound() == h.le && b.GetCumulativeCount() != h.count || b.GetUpperBound() == h.below && b.GetCumulativeCount() != 0 {
				t.Errorf("%s -> %s: classic bucket le=%v holds %d", h.from, h.to, b.GetUpperBound(), b.GetCumulativeCount())
			}
		}
		// The native histogram beside the classic buckets: schema 3, every
		// observation in the one bucket of its latency.
		if hg.Schema == nil || hg.GetSchema() != 3 || len(hg.PositiveSpan) != 1 || len(hg.PositiveDelta) != 1 || uint64(hg.PositiveDelta[0]) != h.count {
			t.Errorf("%s -> %s: native histogram schema %v spans %v deltas %v", h.from, h.to, hg.Schema, hg.PositiveSpan, hg.PositiveDelta)
		}
	}
	last := sample(fams, "eddy_flow_hop_latency_seconds", map[string]string{"cluster": cluster, "from": "StockReserved", "to": "OrderShipped"})
	if last == nil || last.Histogram.GetSampleCount() != 12 || !near(last.Histogram.GetSampleSum(), 10*0.1+2*0.3) {
		t.Errorf("StockReserved -> OrderShipped: %v", last)
	}
	dur := sample(fams, "eddy_flow_duration_seconds", cf)
	if dur == nil || dur.Histogram.GetSampleCount() != 12 || !near(dur.Histogram.GetSampleSum(), 10*0.165+2*0.365) {
		t.Errorf("duration: %v", dur)
	}
	th := sample(fams, "eddy_flow_topic_hop_latency_seconds", map[string]string{"cluster": cluster, "from_topic": tp.orders, "to_topic": tp.payments})
	if th == nil || th.Histogram.GetSampleCount() != 17 {
		t.Errorf("topic hop %s -> %s: %v", tp.orders, tp.payments, th)
	}
	ship := map[string]string{"cluster": cluster, "rule": "ships"}
	if tot, good := value(fams, "eddy_slo_total", ship), value(fams, "eddy_slo_good_total", ship); tot != 17 || good != 10 {
		t.Errorf("SLO ships: good %v of %v; want 10 of 17", good, tot)
	}
	if v := value(fams, "eddy_slo_first_step_seen", ship); v != 1 {
		t.Errorf("ships first step seen = %v", v)
	}
	never := map[string]string{"cluster": cluster, "rule": "Refunded -> OrderShipped"}
	if v, tot := value(fams, "eddy_slo_first_step_seen", never), value(fams, "eddy_slo_total", never); v != 0 || tot != 0 {
		t.Errorf("a rule whose first step never occurs: seen %v, total %v", v, tot)
	}
}

// TestServeFlowsKfake: eddy serve tails the shop's topics from the end and
// exports exactly the injected hop latencies (classic and native
// histograms), flow counts, SLO good/total and DLQ inflow, depth and
// reasons; /readyz turns 200 once everything answered; an interrupt ends it
// in order.
func TestServeFlowsKfake(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	testServeShop(t, seeds)
}

// TestServeFlowsRealKafka is the same on the real Kafka.
func TestServeFlowsRealKafka(t *testing.T) {
	seeds := realKafkaSeeds(t)
	testServeShop(t, seeds)
}

func testServeShop(t *testing.T, seeds []string) {
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 2), payments: kafkatest.NewTopic(t, seeds, 2),
		stock: kafkatest.NewTopic(t, seeds, 1), shipping: kafkatest.NewTopic(t, seeds, 1)}
	tp.dlt = kafkatest.NamedTopic(t, seeds, kafkatest.UniqueName(t)+".DLT", 1)
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	o := serveOpts(ServeOptions{Sources: []string{"kafka:" + tp.orders, "kafka:" + tp.payments, "kafka:" + tp.stock, "kafka:" + tp.shipping, "kafka:" + tp.dlt},
		Flows:  []string{checkoutFlow},
		Expect: []string{"ships=OrderPlaced -> OrderShipped within 200ms", "Refunded -> OrderShipped"},
		DLQs:   []string{"kafka:" + tp.dlt}, NoLag: true})
	addr, stop := startServe(t, f, o)
	if code, _ := getStatus(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	kafkatest.WaitFor(t, 60*time.Second, "readyz 200", func() bool {
		code, _ := getStatus(t, "http://"+addr+"/readyz")
		return code == 200
	})
	injectShop(t, seeds, tp, kafkatest.UniqueName(t))
	var fams map[string]*dto.MetricFamily
	kafkatest.WaitFor(t, 60*time.Second, "every flow finalised", func() bool {
		fams = scrape(t, addr)
		return shopSettled(fams, "default") &&
			value(fams, "eddy_dlq_inflow_total", map[string]string{"dlq": tp.dlt}) >= 2 &&
			value(fams, "eddy_dlq_depth", map[string]string{"dlq": tp.dlt}) >= 2
	})
	checkShopMetrics(t, fams, "default", tp)
	d := map[string]string{"cluster": "default", "transport": "kafka", "dlq": tp.dlt}
	if v := value(fams, "eddy_dlq_inflow_total", d); v != 2 {
		t.Errorf("DLQ inflow %v; want 2", v)
	}
	if v := value(fams, "eddy_dlq_depth", d); v != 2 {
		t.Errorf("DLQ depth %v; want 2", v)
	}
	if v := value(fams, "eddy_dlq_oldest_age_seconds", d); !(v >= 40 && v < 600) {
		t.Errorf("DLQ oldest age %v; want the first letter's (about 45 s)", v)
	}
	r := map[string]string{"cluster": "default", "dlq": tp.dlt, "reason": "payment declined for order <id> after <n> attempts"}
	if v := value(fams, "eddy_dlq_reason_total", r); v != 2 {
		t.Errorf("DLQ reason: %v\n%v", v, fams["eddy_dlq_reason_total"])
	}
	// No order id anywhere in the labels.
	for _, mf := range fams {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if strings.Contains(l.GetValue(), "-o1") {
					t.Errorf("an id as a label: %s{%s=%q}", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("serve ended with %v; want an interrupt (130)", err)
	}
	if s := errOut.String(); strings.Contains(s, "flows:") {
		t.Errorf("stderr: %s", s)
	}
}

// TestServeReadyz: while a cluster cannot be reached, /healthz is 200 and
// /readyz 503 with one line naming the cluster and the part.
func TestServeReadyz(t *testing.T) {
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": "127.0.0.1:1", "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	f.Global.Timeout = 500 * time.Millisecond
	addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: []string{"kafka:orders"}, NoLag: true}))
	if code, _ := getStatus(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	kafkatest.WaitFor(t, 30*time.Second, "readyz saying why", func() bool {
		code, body := getStatus(t, "http://"+addr+"/readyz")
		if code != 503 {
			t.Fatalf("readyz %d %s", code, body)
		}
		return strings.HasPrefix(body, "not ready: cluster default flows: ") && !strings.Contains(body, "not answered yet") && strings.Count(body, "\n") == 1
	})
}

// TestServeMemStats: EDDY_TRACE_MEMSTATS=FILE makes eddy serve write CSV
// samples of its Go heap while it runs, as trace flows does
// (bench/serve-soak.sh's view of the heap beside the RSS).
func TestServeMemStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.csv")
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": "127.0.0.1:1", "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml"), "EDDY_TRACE_MEMSTATS": path})
	f.Global.Timeout = 500 * time.Millisecond
	startServe(t, f, serveOpts(ServeOptions{Sources: []string{"kafka:orders"}, NoLag: true}))
	var line string
	kafkatest.WaitFor(t, 30*time.Second, "a heap sample in "+path, func() bool {
		b, _ := os.ReadFile(path)
		line, _, _ = strings.Cut(string(b), "\n")
		return strings.HasSuffix(string(b), "\n")
	})
	fields := strings.Split(line, ",")
	if len(fields) != 5 {
		t.Fatalf("memstats line %q, want unix,heap_alloc,heap_inuse,heap_objects,num_gc", line)
	}
	for _, v := range fields {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("memstats line %q: %v", line, err)
		}
	}
}

// TestServeMaxEdges: past --max-edges, edges fold into from/to "other",
// whose counts hold every hop past the bound.
func TestServeMaxEdges(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: []string{"kafka:" + topic}, NoLag: true, MaxEdges: 2}))
	kafkatest.WaitFor(t, 60*time.Second, "readyz 200", func() bool { code, _ := getStatus(t, "http://"+addr+"/readyz"); return code == 200 })
	base := time.Now().Truncate(time.Millisecond)
	var recs []*kgo.Record
	// Five flows of five distinct edges, T0 -> Tk.
	for k := 1; k <= 5; k++ {
		o := fmt.Sprintf("m%d", k)
		recs = append(recs, shopEvent(topic, o+"-a", "T0", o, "", base, 0), shopEvent(topic, o+"-b", fmt.Sprintf("T%d", k), o, o+"-a", base, 10*time.Millisecond))
	}
	kafkatest.Produce(t, seeds, recs...)
	var fams map[string]*dto.MetricFamily
	kafkatest.WaitFor(t, 60*time.Second, "5 flows", func() bool {
		fams = scrape(t, addr)
		return value(fams, "eddy_flows_completed_total", map[string]string{"flow": "default"}) == 5
	})
	var labelled, other uint64
	for _, m := range fams["eddy_flow_hop_latency_seconds"].Metric {
		lv := map[string]string{}
		for _, l := range m.Label {
			lv[l.GetName()] = l.GetValue()
		}
		if lv["from"] == "other" && lv["to"] == "other" {
			other += m.Histogram.GetSampleCount()
		} else {
			labelled++
		}
	}
	if labelled != 2 || other != 3 {
		t.Errorf("%d labelled edges, %d hops in other; want 2 and 3", labelled, other)
	}
}

// TestServeUsage: bad flags and config files are one line and exit 2.
func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: x\nflows:\n  - name: a\n    stepz: A -> B\n"), 0o600)
	for _, c := range []struct {
		o    ServeOptions
		want string
	}{
		{ServeOptions{Flows: []string{"A"}}, "--flow"},
		{ServeOptions{Expect: []string{"A -> B within soon"}}, "--expect"},
		{ServeOptions{From: "yesterday-ish"}, "--from"},
		{ServeOptions{Config: bad}, "bad.yaml"},
		{ServeOptions{Config: filepath.Join(dir, "none.yaml")}, "--config"},
		{ServeOptions{DLQs: []string{"file:x"}}, "--dlq"},
		{ServeOptions{MaxEdges: -1}, "--max-edges"},
		{ServeOptions{OTLP: "http://eddy:s3cret-pw@127.0.0.1:4318", NoFlows: true, NoLag: true}, "--otlp"},
		{ServeOptions{Spans: "sometimes"}, "--spans"},
		{ServeOptions{Spans: "always"}, "--otlp-spans"},
		{ServeOptions{OTLPSpans: "http://eddy:s3cret-pw@127.0.0.1:4318", NoFlows: true, NoLag: true}, "--otlp-spans http://127.0.0.1:4318"},
		{ServeOptions{OTLPSpans: "grpc://eddy:s3cret-pw@127.0.0.1:4317", NoFlows: true, NoLag: true}, "--otlp-spans grpc://"},
		{ServeOptions{OTLPSpans: "ftp://eddy:s3cret-pw@127.0.0.1", NoFlows: true, NoLag: true}, "--otlp-spans"},
	} {
		f, _, _ := testFactory(false)
		o := serveOpts(c.o)
		if c.o.MaxEdges < 0 {
			o.MaxEdges = 0
		}
		err := serveRun(context.Background(), f, o)
		if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: exit %d, %v", c.o, exitCode(err), err)
		}
	}
}

// otlpHistograms is a test-local OTLP/HTTP receiver that keeps the last
// exponential histogram point of each metric and attribute set.
type otlpHistograms struct {
	mu     sync.Mutex
	points map[string]*metricpb.ExponentialHistogramDataPoint
}

func (s *otlpHistograms) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, dp := range m.GetExponentialHistogram().GetDataPoints() {
					var kv []string
					for _, a := range dp.Attributes {
						kv = append(kv, a.Key+"="+a.Value.GetStringValue())
					}
					slices.Sort(kv)
					s.points[m.Name+"{"+strings.Join(kv, ",")+"}"] = dp
				}
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestServeOTLPPush: with --otlp, the hop latency histograms are pushed as
// OTLP exponential histograms with the same counts and sums, the last push
// made at shutdown.
func TestServeOTLPPush(t *testing.T) { testServeOTLPPush(t, false) }

// TestServeOTLPPushCollector: the same, through the real OpenTelemetry
// Collector (an OTLP/HTTP receiver and exporter, as a team would run one
// between eddy and its metrics store).
func TestServeOTLPPushCollector(t *testing.T) { testServeOTLPPush(t, true) }

func testServeOTLPPush(t *testing.T, viaCollector bool) {
	rcv := &otlpHistograms{points: map[string]*metricpb.ExponentialHistogramDataPoint{}}
	hs := httptest.NewServer(rcv)
	defer hs.Close()
	endpoint := hs.URL
	if viaCollector {
		_, httpAddr := startOtelcol(t, hs.URL, hs.URL)
		endpoint = "http://" + httpAddr
	}
	seeds := kafkatest.Cluster(t)
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 1), payments: kafkatest.NewTopic(t, seeds, 1),
		stock: kafkatest.NewTopic(t, seeds, 1), shipping: kafkatest.NewTopic(t, seeds, 1)}
	tp.dlt = kafkatest.NamedTopic(t, seeds, kafkatest.UniqueName(t)+".DLT", 1)
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	o := serveOpts(ServeOptions{Sources: []string{"kafka:" + tp.orders, "kafka:" + tp.payments, "kafka:" + tp.stock, "kafka:" + tp.shipping, "kafka:" + tp.dlt},
		Flows: []string{checkoutFlow}, NoLag: true, OTLP: endpoint, Interval: time.Hour})
	addr, stop := startServe(t, f, o)
	kafkatest.WaitFor(t, 60*time.Second, "readyz 200", func() bool { code, _ := getStatus(t, "http://"+addr+"/readyz"); return code == 200 })
	injectShop(t, seeds, tp, kafkatest.UniqueName(t))
	kafkatest.WaitFor(t, 60*time.Second, "every flow finalised", func() bool {
		fams := scrape(t, addr)
		return value(fams, "eddy_flows_completed_total", map[string]string{"flow": "checkout"}) == 12
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("serve ended with %v", err)
	}
	const key = "eddy_flow_hop_latency_seconds{cluster=default,flow=checkout,from=OrderPlaced,to=PaymentAuthorized}"
	if viaCollector {
		// The collector forwards the shutdown push after eddy has ended.
		kafkatest.WaitFor(t, 30*time.Second, "the push forwarded by the collector", func() bool {
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			dp := rcv.points[key]
			return dp != nil && dp.Count == 17
		})
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	dp := rcv.points[key]
	if dp == nil || dp.Count != 17 || !near(dp.GetSum(), 17*0.04) || dp.Scale != 3 {
		var keys []string
		for k := range rcv.points {
			keys = append(keys, k)
		}
		t.Fatalf("pushed %v; have %v", dp, keys)
	}
}

// TestServeRabbitMQDLQ: on the real RabbitMQ, messages rejected from a
// queue reach its dead-letter queue; eddy serve counts each arrival (a tap
// on the DLQ, nothing consumed) with x-death's reason, and samples the
// depth and the head's age from the management API.
func TestServeRabbitMQDLQ(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_AMQP_URL": url, "EDDY_AMQP_MGMT_URL": os.Getenv("EDDY_TEST_AMQP_MGMT"),
		"EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	addr, _ := startServe(t, f, serveOpts(ServeOptions{NoFlows: true, NoLag: true, DLQs: []string{"amqp:" + tp.DLQ}}))
	amqptest.Eventually(t, 60*time.Second, "readyz 200", func() bool { code, _ := getStatus(t, "http://"+addr+"/readyz"); return code == 200 })
	sent := time.Now().Add(-time.Minute).Truncate(time.Second)
	for range 3 {
		tp.Publish(t, amqp091.Publishing{Body: []byte(`{"type":"OrderPlaced"}`), Timestamp: sent})
	}
	conn := amqptest.Dial(t, url)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 3; {
		d, ok, err := ch.Get(tp.Queue, false)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			d.Nack(false, false) // rejected: dead-lettered
			n++
		}
	}
	d := map[string]string{"cluster": "default", "transport": "amqp", "dlq": tp.DLQ}
	var fams map[string]*dto.MetricFamily
	amqptest.Eventually(t, 60*time.Second, "3 letters counted and the depth sampled", func() bool {
		fams = scrape(t, addr)
		return value(fams, "eddy_dlq_inflow_total", d) == 3 && value(fams, "eddy_dlq_depth", d) == 3
	})
	if v := value(fams, "eddy_dlq_reason_total", map[string]string{"dlq": tp.DLQ, "reason": "rejected"}); v != 3 {
		t.Errorf("reason rejected: %v\n%v\n%s", v, fams["eddy_dlq_reason_total"], errOut)
	}
}

// TestServeConfigClusters: one eddy serve, configured by a file, watches
// two clusters (two contexts of eddy's config): each cluster's flows and
// lag under its own cluster label, flows and rules shared.
func TestServeConfigClusters(t *testing.T) {
	seedsA, seedsB := kafkatest.Cluster(t), kafkatest.Cluster(t)
	tp := shopTopics{orders: kafkatest.NewTopic(t, seedsA, 1), payments: kafkatest.NewTopic(t, seedsA, 1),
		stock: kafkatest.NewTopic(t, seedsA, 1), shipping: kafkatest.NewTopic(t, seedsA, 1)}
	tp.dlt = kafkatest.NamedTopic(t, seedsA, kafkatest.UniqueName(t)+".DLT", 1)
	billing := kafkatest.NewTopic(t, seedsB, 1)
	kafkatest.Produce(t, seedsB, &kgo.Record{Topic: billing, Value: []byte("a")}, &kgo.Record{Topic: billing, Value: []byte("b")})
	commitOffsets(t, seedsB, "billing", billing, map[int32]int64{0: 0})

	dir := t.TempDir()
	eddyCfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(eddyCfg, []byte(fmt.Sprintf("contexts:\n  shop-a:\n    kafka:\n      brokers: [%q]\n  shop-b:\n    kafka:\n      brokers: [%q]\n", seedsA[0], seedsB[0])), 0o600)
	serveCfg := filepath.Join(dir, "serve.yaml")
	os.WriteFile(serveCfg, []byte(fmt.Sprintf(`interval: 200ms
flow-timeout: 300ms
max-edges: 20
clusters:
  - name: a
    context: shop-a
    sources: [kafka:%s, kafka:%s, kafka:%s, kafka:%s, kafka:%s]
    no-lag: true
  - name: b
    context: shop-b
    sources: [kafka:%s]
    lag: [billing]
flows:
  - name: checkout
    steps: OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped
expect:
  - name: ships
    rule: OrderPlaced -> OrderShipped within 200ms
  - rule: Refunded -> OrderShipped
`, tp.orders, tp.payments, tp.stock, tp.shipping, tp.dlt, billing)), 0o600)
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_CONFIG": eddyCfg})
	addr, _ := startServe(t, f, &ServeOptions{Config: serveCfg, From: "end", MaxEdges: 50, MaxReasons: 10, Interval: 15 * time.Second, FlowTimeout: time.Minute})
	kafkatest.WaitFor(t, 60*time.Second, "readyz 200", func() bool { code, _ := getStatus(t, "http://"+addr+"/readyz"); return code == 200 })
	injectShop(t, seedsA, tp, kafkatest.UniqueName(t))
	var fams map[string]*dto.MetricFamily
	kafkatest.WaitFor(t, 60*time.Second, "cluster a's flows finalised and b's lag", func() bool {
		fams = scrape(t, addr)
		return shopSettled(fams, "a") &&
			value(fams, "eddy_kafka_consumergroup_lag", map[string]string{"cluster": "b", "group": "billing"}) == 2
	})
	checkShopMetrics(t, fams, "a", tp)
	if v := value(fams, "eddy_flows_started_total", map[string]string{"cluster": "b", "flow": "checkout"}); v != 0 {
		t.Errorf("cluster b started %v flows", v)
	}
	if v := value(fams, "eddy_slo_total", map[string]string{"cluster": "b", "rule": "ships"}); v != 0 {
		t.Errorf("cluster b judged %v", v)
	}
	if m := sample(fams, "eddy_kafka_consumergroup_lag", map[string]string{"cluster": "a"}); m != nil {
		t.Errorf("cluster a has lag though no-lag: %v", m)
	}
	if s := errOut.String(); s != "" && !strings.HasPrefix(s, "eddy: serving on") {
		t.Errorf("stderr: %s", s)
	}
}

// TestServePrometheus: a real Prometheus scrapes eddy serve while the shop's
// flows (known latencies) go through kfake, and its answers match the
// injected figures: histogram_quantile over the native histogram within its
// precision (schema 3: inside the bucket of the value, whose bounds are a
// factor 2^(1/8), about 9%, apart), over the classic buckets within the
// bucket that holds them, the SLO ratio 10/17, the DLQ's 2 letters and their rate.
func TestServePrometheus(t *testing.T) {
	promtest.Binary(t)
	testServePrometheus(t, kafkatest.Cluster(t))
}

// TestServePrometheusRealKafka is the same on the real Kafka.
func TestServePrometheusRealKafka(t *testing.T) {
	promtest.Binary(t)
	testServePrometheus(t, realKafkaSeeds(t))
}

func testServePrometheus(t *testing.T, seeds []string) {
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 2), payments: kafkatest.NewTopic(t, seeds, 2),
		stock: kafkatest.NewTopic(t, seeds, 1), shipping: kafkatest.NewTopic(t, seeds, 1)}
	tp.dlt = kafkatest.NamedTopic(t, seeds, kafkatest.UniqueName(t)+".DLT", 1)
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: []string{"kafka:" + tp.orders, "kafka:" + tp.payments, "kafka:" + tp.stock, "kafka:" + tp.shipping, "kafka:" + tp.dlt},
		Flows: []string{checkoutFlow}, Expect: []string{"ships=OrderPlaced -> OrderShipped within 200ms"}, DLQs: []string{"kafka:" + tp.dlt}}))
	native := promtest.Start(t, promtest.Config{Targets: []string{addr}, ScrapeInterval: 100 * time.Millisecond})
	classic := promtest.Start(t, promtest.Config{Targets: []string{addr}, ScrapeInterval: 100 * time.Millisecond, ClassicHistograms: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range []*promtest.Server{native, classic} {
		if err := s.WaitUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	kafkatest.WaitFor(t, 60*time.Second, "readyz 200", func() bool { code, _ := getStatus(t, "http://"+addr+"/readyz"); return code == 200 })
	injectShop(t, seeds, tp, kafkatest.UniqueName(t))
	total := `sum(eddy_flows_completed_total{flow="checkout"}) + sum(eddy_flows_incomplete_total{flow="checkout"}) + sum(eddy_flows_dead_lettered_total{flow="checkout"})`
	for _, s := range []*promtest.Server{native, classic} {
		if _, err := s.WaitForFloat(ctx, total, func(v float64) bool { return v == 17 }); err != nil {
			t.Fatalf("%v\n%s", err, s.Log())
		}
		if _, err := s.WaitForFloat(ctx, `sum(eddy_dlq_inflow_total)`, func(v float64) bool { return v == 2 }); err != nil {
			t.Fatal(err)
		}
	}
	hop := `eddy_flow_hop_latency_seconds{flow="checkout",from="%s",to="%s"}`
	for _, h := range []struct {
		from, to string
		want     float64
	}{{"OrderPlaced", "PaymentAuthorized", 0.040}, {"PaymentAuthorized", "StockReserved", 0.025}, {"StockReserved", "OrderShipped", 0.100}} {
		q, err := native.QueryFloat(ctx, fmt.Sprintf("histogram_quantile(0.5, "+hop+")", h.from, h.to))
		if err != nil || !inNativeBucket(q, h.want) {
			t.Errorf("native p50 %s -> %s = %v (%v); want %v within its bucket", h.from, h.to, q, err, h.want)
		}
		if c, err := native.QueryFloat(ctx, fmt.Sprintf("histogram_count("+hop+")", h.from, h.to)); err != nil || c != map[string]float64{"OrderPlaced": 17, "PaymentAuthorized": 12, "StockReserved": 12}[h.from] {
			t.Errorf("native count %s -> %s = %v (%v)", h.from, h.to, c, err)
		}
	}
	// Classic buckets: the median is interpolated inside the bucket that
	// holds every 40 ms hop, (25 ms, 50 ms].
	q, err := classic.QueryFloat(ctx, `histogram_quantile(0.5, sum by (le) (eddy_flow_hop_latency_seconds_bucket{flow="checkout",from="OrderPlaced",to="PaymentAuthorized"}))`)
	if err != nil || q <= 0.025 || q > 0.05 {
		t.Errorf("classic p50 = %v (%v); want within (0.025, 0.05]", q, err)
	}
	// The slow flows are the p99 of the last hop: 300 ms, in (250 ms, 500 ms].
	q, err = native.QueryFloat(ctx, fmt.Sprintf("histogram_quantile(0.99, "+hop+")", "StockReserved", "OrderShipped"))
	if err != nil || !inNativeBucket(q, 0.3) {
		t.Errorf("native p99 of the last hop = %v (%v); want 0.3 within its bucket", q, err)
	}
	for _, s := range []*promtest.Server{native, classic} {
		if r, err := s.QueryFloat(ctx, `sum(eddy_slo_good_total{rule="ships"}) / sum(eddy_slo_total{rule="ships"})`); err != nil || !near(r, 10.0/17) {
			t.Errorf("SLO ratio = %v (%v); want 10/17", r, err)
		}
		if r, err := s.QueryFloat(ctx, `sum(rate(eddy_dlq_inflow_total[1m]))`); err != nil || r <= 0 {
			t.Errorf("DLQ inflow rate = %v (%v); want > 0", r, err)
		}
		if v, err := s.QueryFloat(ctx, `sum(eddy_dlq_depth)`); err != nil || v != 2 {
			t.Errorf("DLQ depth = %v (%v)", v, err)
		}
	}
}

// inNativeBucket reports whether q is in the schema-3 bucket that holds
// want, (2^((k-1)/8), 2^(k/8)], where Prometheus interpolates it.
func inNativeBucket(q, want float64) bool {
	k := math.Ceil(8 * math.Log2(want))
	return q > math.Exp2((k-1)/8) && q <= math.Exp2(k/8)
}

// TestServeGroupShares: two eddy serve instances of one --group share the
// partitions of co-partitioned topics (every flow's events on one
// partition number, keyed by order): each counts some of the flows, whole,
// and together they count every flow once, with every hop. Topics with
// different partition counts are said to be not co-partitioned.
func TestServeGroupShares(t *testing.T) { testServeGroup(t, kafkatest.Cluster(t)) }

// TestServeGroupSharesRealKafka is the same on the real Kafka.
func TestServeGroupSharesRealKafka(t *testing.T) { testServeGroup(t, realKafkaSeeds(t)) }

func testServeGroup(t *testing.T, seeds []string) {
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 4), payments: kafkatest.NewTopic(t, seeds, 4),
		stock: kafkatest.NewTopic(t, seeds, 4), shipping: kafkatest.NewTopic(t, seeds, 4)}
	group := kafkatest.UniqueName(t)
	srcs := []string{"kafka:" + tp.orders, "kafka:" + tp.payments, "kafka:" + tp.stock, "kafka:" + tp.shipping}
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")}
	var addrs []string
	var errOuts []*lockedBuf
	var stops []func() error
	for range 2 {
		f, _, errOut := lagFactory(false, env)
		addr, stop := startServe(t, f, serveOpts(ServeOptions{Sources: srcs, Flows: []string{checkoutFlow}, NoLag: true, Group: group}))
		addrs, errOuts, stops = append(addrs, addr), append(errOuts, errOut), append(stops, stop)
	}
	adm := kafkatest.Admin(t, seeds)
	kafkatest.WaitFor(t, 60*time.Second, "two members sharing the 16 partitions", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), group)
		if err != nil || len(dg[group].Members) != 2 || dg[group].State != "Stable" {
			return false
		}
		for _, m := range dg[group].Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok || len(a.Topics) == 0 {
				return false
			}
		}
		return true
	})
	const flows = 24
	produceFlows(t, seeds, tp, "g", flows)
	cf := map[string]string{"flow": "checkout"}
	var per [2]float64
	kafkatest.WaitFor(t, 60*time.Second, "every flow counted once across the two", func() bool {
		for i, a := range addrs {
			fams := scrape(t, a)
			per[i] = value(fams, "eddy_flows_completed_total", cf)
		}
		return per[0]+per[1] == flows
	})
	var hops uint64
	for _, a := range addrs {
		fams := scrape(t, a)
		if v := value(fams, "eddy_flows_incomplete_total", cf); v != 0 {
			t.Errorf("%s: %v incomplete flows: a flow was split", a, v)
		}
		if m := sample(fams, "eddy_flow_hop_latency_seconds", map[string]string{"from": "StockReserved", "to": "OrderShipped"}); m != nil {
			hops += m.Histogram.GetSampleCount()
		}
	}
	if per[0] == 0 || per[1] == 0 || hops != flows {
		t.Errorf("completed %v and %v, %d last hops; want both a share, %d hops", per[0], per[1], hops, flows)
	}
	for _, e := range errOuts {
		if strings.Contains(e.String(), "co-partitioned") {
			t.Errorf("co-partitioned topics said not to be: %s", e)
		}
	}

	// One instance stops (nothing was open: every flow was final): its
	// partitions move to the other, which counts every later flow.
	if err := stops[0](); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v", err)
	}
	kafkatest.WaitFor(t, 60*time.Second, "one member with every partition", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), group)
		if err != nil || len(dg[group].Members) != 1 || dg[group].State != "Stable" {
			return false
		}
		a, ok := dg[group].Members[0].Assigned.AsConsumer()
		n := 0
		for _, tp := range a.Topics {
			n += len(tp.Partitions)
		}
		return ok && n == 16
	})
	produceFlows(t, seeds, tp, "h", flows)
	kafkatest.WaitFor(t, 60*time.Second, "the survivor counting the second round", func() bool {
		return value(scrape(t, addrs[1]), "eddy_flows_completed_total", cf) == per[1]+flows
	})

	// Not co-partitioned: said at start, plainly.
	odd := kafkatest.NewTopic(t, seeds, 3)
	f, _, errOut := lagFactory(false, env)
	startServe(t, f, serveOpts(ServeOptions{Sources: append(srcs, "kafka:"+odd), NoLag: true, Group: group + "-odd"}))
	kafkatest.WaitFor(t, 30*time.Second, "the co-partitioning warning", func() bool {
		s := errOut.String()
		return strings.Contains(s, "not co-partitioned (3 partitions: "+odd+"; 4 partitions: ")
	})
}

// produceFlows produces n complete checkout flows (40/25/100 ms hops), each
// flow's events on partition n%4 of every topic: co-partitioned by order.
func produceFlows(t *testing.T, seeds []string, tp shopTopics, prefix string, flows int) {
	t.Helper()
	base := time.Now().Truncate(time.Millisecond)
	var recs []*kgo.Record
	for n := range flows {
		o := fmt.Sprintf("%s-o%d", prefix, n)
		b := base.Add(time.Duration(n) * time.Millisecond)
		for _, r := range []*kgo.Record{shopEvent(tp.orders, o+"-a", "OrderPlaced", o, "", b, 0),
			shopEvent(tp.payments, o+"-b", "PaymentAuthorized", o, o+"-a", b, 40*time.Millisecond),
			shopEvent(tp.stock, o+"-c", "StockReserved", o, o+"-b", b, 65*time.Millisecond),
			shopEvent(tp.shipping, o+"-d", "OrderShipped", o, o+"-c", b, 165*time.Millisecond)} {
			r.Partition = int32(n % 4) // co-partitioned by order
			recs = append(recs, r)
		}
	}
	kafkatest.Produce(t, seeds, recs...)
}

// TestServeNoSecrets: a RabbitMQ that cannot be reached with a password in
// its URL: /readyz, /metrics and stderr say why without the password.
func TestServeNoSecrets(t *testing.T) {
	const pw = "hunter2-serve-pw"
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_AMQP_URL": "amqp://eddy:" + pw + "@127.0.0.1:1/", "EDDY_AMQP_MGMT_URL": "http://eddy:" + pw + "@127.0.0.1:1",
		"EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	f.Global.Timeout = 500 * time.Millisecond
	addr, stop := startServe(t, f, serveOpts(ServeOptions{Sources: []string{"amqp:orders.q"}, DLQs: []string{"amqp:orders.dlq"}, Lag: []string{"amqp:"}}))
	var body string
	kafkatest.WaitFor(t, 30*time.Second, "readyz saying why", func() bool {
		var code int
		code, body = getStatus(t, "http://"+addr+"/readyz")
		return code == 503 && !strings.Contains(body, "not answered yet")
	})
	_, metrics := getStatus(t, "http://"+addr+"/metrics")
	stop()
	for what, s := range map[string]string{"readyz": body, "metrics": metrics, "stderr": errOut.String()} {
		if strings.Contains(s, pw) {
			t.Errorf("%s shows the password: %s", what, s)
		}
	}
	if !strings.Contains(errOut.String(), "127.0.0.1:1") {
		t.Errorf("stderr does not say what failed: %s", errOut)
	}
}

// TestServeFlags checks flag parsing alone, through runF, and that the
// flags given are told apart from the defaults (they win over --config).
func TestServeFlags(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *ServeOptions
	cmd := newCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"kafka:orders", "amqp:q", "--flow", "c=A -> B", "--expect", "A -> B within 5s", "--dlq", "kafka:x.DLT",
		"--lag", "payments", "--flow-timeout", "1m", "--from", "beginning", "--group", "g", "--max-edges", "7", "--listen", "127.0.0.1:0"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Sources, ",") != "kafka:orders,amqp:q" || got.Flows[0] != "c=A -> B" || got.Expect[0] != "A -> B within 5s" ||
		got.DLQs[0] != "kafka:x.DLT" || got.Lag[0] != "payments" || got.FlowTimeout != time.Minute || got.From != "beginning" ||
		got.Group != "g" || got.MaxEdges != 7 || got.MaxReasons != 10 || got.Listen != "127.0.0.1:0" || got.Interval != 15*time.Second {
		t.Fatalf("parsed %+v", *got)
	}
	if !got.set["max-edges"] || got.set["max-reasons"] || got.set["interval"] {
		t.Fatalf("flags given: %v", got.set)
	}
	// --config under the flags given.
	cfg := filepath.Join(t.TempDir(), "serve.yaml")
	os.WriteFile(cfg, []byte("interval: 3s\nmax-edges: 99\nmax-reasons: 4\nlisten: 127.0.0.1:1\n"), 0o600)
	fc, err := serve.LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got.merge(fc)
	if got.Interval != 3*time.Second || got.MaxEdges != 7 || got.MaxReasons != 4 || got.Listen != "127.0.0.1:0" {
		t.Fatalf("merged %+v", *got)
	}
}

// TestServePrometheusDemo: a real Prometheus scrapes eddy serve beside the
// demo shop, 10 orders/s, its payments service taking 40 ms an event (busy
// 40% of the time: little queueing): the hop into PaymentAuthorized has its
// median at those 40 ms plus the consumer's fetch (under 200 ms), most
// flows ship within the rule's 10 s, and the dead letters the demo writes
// arrive at a rate.
func TestServePrometheusDemo(t *testing.T) {
	promtest.Binary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, demo.Config{Rate: 10, BurstEvery: -1, PoisonEvery: -1, FailRate: 0.1,
		Latency: map[string]demo.Latency{"payments": {Median: 40 * time.Millisecond, P99: 40 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": d.Addr(), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: []string{"kafka:/.*/"}, Flows: []string{"shop"}, FlowTimeout: 5 * time.Second,
		Expect: []string{"ships=OrderPlaced -> OrderShipped within 10s"}, DLQs: []string{"kafka:" + demo.TopicPaymentsDLT}}))
	p := promtest.Start(t, promtest.Config{Targets: []string{addr}, ScrapeInterval: 100 * time.Millisecond})
	qctx, qcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer qcancel()
	if _, err := p.WaitForFloat(qctx, `sum(eddy_flows_completed_total{flow="shop"})`, func(v float64) bool { return v >= 40 }); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	if _, err := p.WaitForFloat(qctx, `sum(rate(eddy_dlq_inflow_total{dlq="payments.DLT"}[30s]))`, func(v float64) bool { return v > 0 }); err != nil {
		t.Fatal(err)
	}
	q, err := p.QueryFloat(qctx, `histogram_quantile(0.5, sum(eddy_flow_hop_latency_seconds{flow="shop",from="OrderPlaced",to="PaymentAuthorized"}))`)
	if err != nil || q < 0.040/1.1 || q > 0.2 {
		t.Errorf("p50 OrderPlaced -> PaymentAuthorized = %v (%v); want the service's 40 ms and a fetch, under 200 ms", q, err)
	}
	t.Logf("p50 OrderPlaced -> PaymentAuthorized: %.1f ms", q*1000)
	vec, err := p.Query(qctx, `eddy_slo_good_total{rule="ships"} / eddy_slo_total{rule="ships"}`)
	if err != nil || len(vec) != 1 || !(vec[0].Value > 0.5 && vec[0].Value <= 1) {
		t.Errorf("SLO ratio %v (%v)", vec, err)
	}
	if v, err := p.QueryFloat(qctx, `sum(eddy_flows_dead_lettered_total{flow="shop"})`); err != nil || v == 0 {
		t.Errorf("dead-lettered flows %v (%v)", v, err)
	}
}
