package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/trace"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

// TestServeSpansSplitFlows: two eddy serve instances of one --group read
// topics that are not co-partitioned (2, 3, 2 and 3 partitions), so Kafka
// gives a flow's events to both; each exports what it sees through the real
// OpenTelemetry Collector with --otlp-spans. Every flow's spans, from both
// instances, arrive under the trace id derived from its correlation id and
// together hold every event of the flow exactly once, with one root span
// per instance that saw part of it.
func TestServeSpansSplitFlows(t *testing.T) { testServeSpans(t, kafkatest.Cluster(t)) }

// TestServeSpansSplitFlowsRealKafka is the same on the real Kafka.
func TestServeSpansSplitFlowsRealKafka(t *testing.T) { testServeSpans(t, realKafkaSeeds(t)) }

func testServeSpans(t *testing.T, seeds []string) {
	rcv, traceURL := otlptest.Start(t)
	grpcAddr, _ := startOtelcol(t, traceURL, traceURL)
	parts := []int32{2, 3, 2, 3}
	topics := make([]string, len(parts))
	var srcs []string
	for i, n := range parts {
		topics[i] = kafkatest.NewTopic(t, seeds, n)
		srcs = append(srcs, "kafka:"+topics[i])
	}
	group := kafkatest.UniqueName(t)
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")}
	var errOuts []*lockedBuf
	var stops []func() error
	for range 2 {
		f, _, errOut := lagFactory(false, env)
		_, stop := startServe(t, f, serveOpts(ServeOptions{Sources: srcs, Flows: []string{checkoutFlow}, NoLag: true,
			Group: group, OTLPSpans: "grpc://" + grpcAddr, Spans: "auto", From: "beginning"})) // the test's own topics: no record missed while "the end" is resolved
		errOuts, stops = append(errOuts, errOut), append(stops, stop)
	}
	adm := kafkatest.Admin(t, seeds)
	owner := map[string]map[int32]string{} // topic, partition -> member
	kafkatest.WaitFor(t, 60*time.Second, "two members sharing the 10 partitions", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), group)
		if err != nil || len(dg[group].Members) != 2 || dg[group].State != "Stable" {
			return false
		}
		clear(owner)
		n := 0
		for _, m := range dg[group].Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok || len(a.Topics) == 0 {
				return false
			}
			for _, tp := range a.Topics {
				if owner[tp.Topic] == nil {
					owner[tp.Topic] = map[int32]string{}
				}
				for _, p := range tp.Partitions {
					owner[tp.Topic][p] = m.MemberID
					n++
				}
			}
		}
		return n == 10
	})
	for _, e := range errOuts {
		if s := e.String(); !strings.Contains(s, "not co-partitioned") || !strings.Contains(s, "exporting each flow's spans under a trace id derived from its correlation id") {
			t.Fatalf("want the co-partitioning warning and spans on; stderr:\n%s", s)
		}
	}

	// Every combination of partitions once: flows split between the two
	// instances (all of them when Kafka gives a topic wholly to each), and
	// maybe some whole on one.
	types := []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped"}
	at := []time.Duration{0, 40 * time.Millisecond, 65 * time.Millisecond, 165 * time.Millisecond}
	base := time.Now().Truncate(time.Millisecond)
	var recs []*kgo.Record
	members := map[string]int{} // order -> members that saw part of it
	split := 0
	for n := range 36 {
		o := fmt.Sprintf("s-o%d", n)
		ps := []int32{int32(n % 2), int32(n / 2 % 3), int32(n / 6 % 2), int32(n / 12 % 3)}
		seen := map[string]bool{}
		for i := range types {
			cause := ""
			if i > 0 {
				cause = fmt.Sprintf("%s-%d", o, i-1)
			}
			r := shopEvent(topics[i], fmt.Sprintf("%s-%d", o, i), types[i], o, cause, base, at[i])
			r.Partition = ps[i]
			recs = append(recs, r)
			seen[owner[topics[i]][ps[i]]] = true
		}
		members[o] = len(seen)
		if len(seen) > 1 {
			split++
		}
	}
	if split == 0 {
		t.Fatalf("no flow split: the assignment %v gives the test nothing to assemble", owner)
	}
	t.Logf("%d of 36 flows split between the two instances", split)
	kafkatest.Produce(t, seeds, recs...)

	byTrace := func(spans []*tracepb.Span) map[string][]*tracepb.Span {
		m := map[string][]*tracepb.Span{}
		for _, s := range spans {
			k := hex.EncodeToString(s.TraceId)
			m[k] = append(m[k], s)
		}
		return m
	}
	receives := func(spans []*tracepb.Span) []string {
		var out []string
		for _, s := range spans {
			if strings.HasPrefix(s.Name, "receive ") {
				out = append(out, otlptest.Attrs(s.Attributes)["messaging.message.id"])
			}
		}
		slices.Sort(out)
		return out
	}
	kafkatest.WaitFor(t, 60*time.Second, "every event's span through the collector", func() bool {
		got := byTrace(rcv.Spans())
		for o := range members {
			if len(receives(got[trace.FlowTraceID(o).String()])) < len(types) {
				return false
			}
		}
		return true
	})
	// Stopped, each instance flushes what it holds: nothing more may come
	// (no event twice).
	for _, stop := range stops {
		if err := stop(); err != context.Canceled {
			t.Fatalf("stop: %v", err)
		}
	}
	got := byTrace(rcv.Spans())
	for o, n := range members {
		spans := got[trace.FlowTraceID(o).String()]
		want := []string{o + "-0", o + "-1", o + "-2", o + "-3"}
		if r := receives(spans); !slices.Equal(r, want) {
			t.Errorf("flow %s: receive spans of %v, want %v", o, r, want)
		}
		roots := 0
		for _, s := range spans {
			if s.Name == "flow "+o {
				roots++
			}
		}
		if roots != n {
			t.Errorf("flow %s: %d root spans, want %d (one per instance that saw part of it)", o, roots, n)
		}
	}
	if len(got) != len(members) {
		t.Errorf("%d traces, want %d (one per flow)", len(got), len(members))
	}
}

// TestServeSpansAlways: one instance, no group: with --otlp-spans alone it
// says that no spans are exported (it sees every flow whole); with --spans
// always (here from the --config file) every flow's spans go out under its
// derived trace id.
func TestServeSpansAlways(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	rcv, url := otlptest.Start(t)
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 4), payments: kafkatest.NewTopic(t, seeds, 4),
		stock: kafkatest.NewTopic(t, seeds, 4), shipping: kafkatest.NewTopic(t, seeds, 4)}
	srcs := []string{"kafka:" + tp.orders, "kafka:" + tp.payments, "kafka:" + tp.stock, "kafka:" + tp.shipping}
	dir := t.TempDir()
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(dir, "none.yaml")}

	f, _, errOut := lagFactory(false, env)
	startServe(t, f, serveOpts(ServeOptions{Sources: srcs, NoLag: true, OTLPSpans: url}))
	kafkatest.WaitFor(t, 30*time.Second, "the line saying no spans are exported", func() bool {
		return strings.Contains(errOut.String(), "no spans exported: each flow is seen whole by one instance (--spans always to export them anyway)")
	})

	cfg := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(cfg, []byte("otlp-spans: "+url+"\nspans: always\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _, errOut = lagFactory(false, env)
	addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: srcs, NoLag: true, Config: cfg, Flows: []string{checkoutFlow}, From: "beginning"}))
	kafkatest.WaitFor(t, 30*time.Second, "the line saying spans are exported", func() bool {
		return strings.Contains(errOut.String(), "exporting each flow's spans under a trace id derived from its correlation id (--spans always)")
	})
	kafkatest.WaitFor(t, 60*time.Second, "readyz 200", func() bool {
		code, _ := getStatus(t, "http://"+addr+"/readyz")
		return code == 200
	})
	produceFlows(t, seeds, tp, "a", 3)
	kafkatest.WaitFor(t, 60*time.Second, "each flow's four events as spans of its trace", func() bool {
		n := map[string]int{}
		for _, s := range rcv.Spans() {
			if strings.HasPrefix(s.Name, "receive ") {
				n[hex.EncodeToString(s.TraceId)]++
			}
		}
		for i := range 3 {
			if n[trace.FlowTraceID(fmt.Sprintf("a-o%d", i)).String()] != 4 {
				return false
			}
		}
		return len(n) == 3
	})
}

// TestServeScaleOut: three instances of one --group on four co-partitioned
// 6-partition topics, and one instance alone, read the same records. The
// three's flow counts add up to the lone instance's, and their hop latency
// histograms, added bucket by bucket (native and classic), are the lone
// instance's exactly: every percentile agrees to the histograms'
// precision.
func TestServeScaleOut(t *testing.T) { testServeScaleOut(t, kafkatest.Cluster(t)) }

// TestServeScaleOutRealKafka is the same on the real Kafka.
func TestServeScaleOutRealKafka(t *testing.T) { testServeScaleOut(t, realKafkaSeeds(t)) }

func testServeScaleOut(t *testing.T, seeds []string) {
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 6), payments: kafkatest.NewTopic(t, seeds, 6),
		stock: kafkatest.NewTopic(t, seeds, 6), shipping: kafkatest.NewTopic(t, seeds, 6)}
	srcs := []string{"kafka:" + tp.orders, "kafka:" + tp.payments, "kafka:" + tp.stock, "kafka:" + tp.shipping}
	group := kafkatest.UniqueName(t)
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")}
	var addrs []string
	for i := range 4 {
		g := group
		if i == 3 {
			g = "" // the lone instance
		}
		f, _, errOut := lagFactory(false, env)
		// From the beginning of the test's own topics: an instance that
		// has not yet resolved "the end" of a partition it was just given
		// cannot miss a record produced meanwhile.
		addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: srcs, Flows: []string{checkoutFlow}, NoLag: true, Group: g, From: "beginning"}))
		addrs = append(addrs, addr)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("instance %d:\n%s", i, errOut)
			}
		})
	}
	adm := kafkatest.Admin(t, seeds)
	kafkatest.WaitFor(t, 60*time.Second, "three members sharing the 24 partitions", func() bool {
		dg, err := adm.DescribeGroups(context.Background(), group)
		if err != nil || len(dg[group].Members) != 3 || dg[group].State != "Stable" {
			return false
		}
		// Every partition assigned: a cooperative rebalance's first phase
		// leaves some unassigned, and they would move once read.
		n := 0
		for _, m := range dg[group].Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok || len(a.Topics) == 0 {
				return false
			}
			for _, tp := range a.Topics {
				n += len(tp.Partitions)
			}
		}
		return n == 24
	})
	kafkatest.WaitFor(t, 60*time.Second, "the lone instance ready", func() bool {
		code, _ := getStatus(t, "http://"+addrs[3]+"/readyz")
		return code == 200
	})
	// Latencies spread over many buckets: hop k of flow n takes
	// (k+1)*10ms + n*7ms.
	const flows = 60
	base := time.Now().Truncate(time.Millisecond)
	types := []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped"}
	topics := []string{tp.orders, tp.payments, tp.stock, tp.shipping}
	var recs []*kgo.Record
	for n := range flows {
		o := fmt.Sprintf("x-o%d", n)
		var at time.Duration
		for k := range types {
			if k > 0 {
				at += time.Duration(k)*10*time.Millisecond + time.Duration(n)*7*time.Millisecond
			}
			cause := ""
			if k > 0 {
				cause = fmt.Sprintf("%s-%d", o, k-1)
			}
			r := shopEvent(topics[k], fmt.Sprintf("%s-%d", o, k), types[k], o, cause, base, at)
			r.Partition = int32(n % 6) // co-partitioned by order
			recs = append(recs, r)
		}
	}
	kafkatest.Produce(t, seeds, recs...)
	produced := time.Now()
	cf := map[string]string{"flow": "checkout"}
	var per [4]float64
	kafkatest.WaitFor(t, 60*time.Second, "every flow counted by the three and by the lone one", func() bool {
		for i, a := range addrs {
			per[i] = value(scrape(t, a), "eddy_flows_completed_total", cf)
		}
		done := per[3] == flows && per[0]+per[1]+per[2] == flows
		if !done && time.Since(produced) > 50*time.Second {
			t.Logf("completed so far: %v of the three, %v alone", per[:3], per[3])
		}
		return done
	})
	t.Logf("completed: %v of the three, %v alone", per[:3], per[3])
	if per[0] == 0 || per[1] == 0 || per[2] == 0 {
		t.Errorf("completed %v: want each of the three a share", per[:3])
	}
	fams := make([]map[string]*dto.MetricFamily, 4)
	for i, a := range addrs {
		fams[i] = scrape(t, a)
		// Partition p of every topic on one instance (the range
		// assignor): no flow split, none incomplete.
		if v := value(fams[i], "eddy_flows_incomplete_total", cf); v != 0 {
			t.Errorf("instance %d: %v incomplete flows: a flow was split", i, v)
		}
	}
	for k := 1; k < len(types); k++ {
		hop := map[string]string{"flow": "checkout", "from": types[k-1], "to": types[k]}
		var sumNative map[int]int64
		sumClassic := map[float64]uint64{}
		var count uint64
		var schema int32
		for i := range 3 {
			m := sample(fams[i], "eddy_flow_hop_latency_seconds", hop)
			if m == nil {
				continue // this instance saw no such hop
			}
			h := m.Histogram
			schema = h.GetSchema()
			sumNative = addNative(sumNative, h)
			for _, b := range h.Bucket {
				sumClassic[b.GetUpperBound()] += b.GetCumulativeCount()
			}
			count += h.GetSampleCount()
		}
		lone := sample(fams[3], "eddy_flow_hop_latency_seconds", hop).Histogram
		if count != flows || lone.GetSampleCount() != flows || schema != lone.GetSchema() {
			t.Errorf("%v: %d samples across the three (schema %d), %d alone (schema %d); want %d", hop, count, schema, lone.GetSampleCount(), lone.GetSchema(), flows)
		}
		if got, want := sumNative, addNative(nil, lone); !maps.Equal(got, want) {
			t.Errorf("%v: native buckets of the three %v, alone %v", hop, got, want)
		}
		for _, b := range lone.Bucket {
			if sumClassic[b.GetUpperBound()] != b.GetCumulativeCount() {
				t.Errorf("%v: classic bucket le=%v: %d across the three, %d alone", hop, b.GetUpperBound(), sumClassic[b.GetUpperBound()], b.GetCumulativeCount())
			}
		}
		if n := len(addNative(nil, lone)); n < 5 {
			t.Errorf("%v: %d native buckets: the latencies should spread over many", hop, n)
		}
	}
}

// addNative adds a native histogram's positive buckets (spans and deltas
// decoded; empty ones left out) to counts by bucket index.
func addNative(counts map[int]int64, h *dto.Histogram) map[int]int64 {
	if counts == nil {
		counts = map[int]int64{}
	}
	idx, d := 0, 0
	var c int64
	for _, sp := range h.PositiveSpan {
		idx += int(sp.GetOffset())
		for range sp.GetLength() {
			c += h.PositiveDelta[d]
			if c != 0 { // spans may hold empty buckets
				counts[idx] += c
			}
			idx++
			d++
		}
	}
	if z := h.GetZeroCount(); z > 0 {
		counts[math.MinInt] += int64(z)
	}
	return counts
}
