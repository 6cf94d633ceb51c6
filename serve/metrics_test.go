package serve

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/trace"
)

// TestMetricNamesDocumented: the help's list (MetricNames, the contract of
// SERVE-METRICS.md) names exactly the metrics registered, with their labels.
func TestMetricNamesDocumented(t *testing.T) {
	m := NewMetrics(1, 1)
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range []prometheus.Collector{m.hop, m.topicHop, m.duration, m.started, m.completed, m.incomplete, m.dls, m.open, m.skew,
			m.events, m.sloTotal, m.sloGood, m.sloSeen, m.dlqDepth, m.dlqOldest, m.dlqInflow, m.dlqReason} {
			c.Describe(ch)
		}
		close(ch)
	}()
	desc := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	var got []string
	for d := range ch {
		s := desc.FindStringSubmatch(d.String())
		if s == nil {
			t.Fatalf("descriptor %s", d)
		}
		got = append(got, s[1]+"{"+s[2]+"}")
	}
	var doc []string
	for _, line := range strings.Split(MetricNames, "\n") {
		doc = append(doc, strings.Fields(line)[0])
	}
	slices.Sort(got)
	slices.Sort(doc)
	if !slices.Equal(got, doc) {
		t.Fatalf("registered:\n%s\ndocumented:\n%s", strings.Join(got, "\n"), strings.Join(doc, "\n"))
	}
}

// TestReasonLabel: a reason is one line of at most maxReason bytes, its
// control bytes escaped, cut on a rune.
func TestReasonLabel(t *testing.T) {
	long := "failed to deserialize; Unexpected end-of-input: expected close marker\n at [Source: REDACTED; line: <n>, column: <n>] " + strings.Repeat("é", 100)
	got := reasonLabel(long)
	if strings.ContainsAny(got, "\n\r\x1b") || len(got) > maxReason+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("%q", got)
	}
	if got := reasonLabel("bad \x1b[31mred"); strings.Contains(got, "\x1b") {
		t.Errorf("%q", got)
	}
	if got := reasonLabel("no answer within <n> ms"); got != "no answer within <n> ms" {
		t.Errorf("%q", got)
	}
}

// TestEdgesBoundedInMemory: event types come from the data; past
// --max-edges, a thousand distinct edges cost no label and no cache entry,
// and every one of their hops is counted under other.
func TestEdgesBoundedInMemory(t *testing.T) {
	m := NewMetrics(2, 2)
	r := m.NewRecorder("c", nil, nil)
	for i := range 1000 {
		a := fmt.Sprintf("T%d", i)
		fl := &trace.Flow{Steps: []trace.Step{{Type: "Start", Source: "s"}, {Type: a, Source: a}},
			Hops: []trace.Hop{{From: 0, To: 1, Latency: time.Millisecond}}}
		r.Flow(fl)
	}
	if len(r.hops) != 2 || len(r.topics) != 2 {
		t.Fatalf("%d hop and %d topic entries cached", len(r.hops), len(r.topics))
	}
	var other dto.Metric
	if err := m.hop.WithLabelValues("c", DefaultFlow, Other, Other).(prometheus.Histogram).Write(&other); err != nil {
		t.Fatal(err)
	}
	if other.Histogram.GetSampleCount() != 998 {
		t.Fatalf("other holds %d hops", other.Histogram.GetSampleCount())
	}
	l := newLetters(m, "c", nil)
	for i := range 1000 {
		l.add(&event.Event{Transport: event.Kafka, Topic: "x.DLT", Headers: []event.Header{{Key: "kafka_dlt-exception-message", Value: []byte(fmt.Sprintf("boom %s", strings.Repeat("z", i%500+1)))}}})
	}
	if len(l.reasons) != 2 {
		t.Fatalf("%d reasons cached", len(l.reasons))
	}
}
