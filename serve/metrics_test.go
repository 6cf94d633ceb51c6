package serve

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
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
