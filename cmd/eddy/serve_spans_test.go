package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
			Group: group, OTLPSpans: "grpc://" + grpcAddr, Spans: "auto"}))
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

	// Every combination of partitions once: some flows whole on one
	// instance, others split between the two.
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
	if split == 0 || split == 36 {
		t.Fatalf("%d of 36 flows split: the assignment %v gives the test no mix", split, owner)
	}
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
	addr, _ := startServe(t, f, serveOpts(ServeOptions{Sources: srcs, NoLag: true, Config: cfg, Flows: []string{checkoutFlow}}))
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
