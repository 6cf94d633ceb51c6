package monitoring

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/serve"
	"go.yaml.in/yaml/v3"
)

// kind is a metric's Prometheus type.
type kind int

const (
	counter kind = iota
	gauge
	histogram
)

// metric is one metric of eddy serve's contract (serve.MetricNames,
// issue 20): name as exposed on /metrics, type, labels.
type metric struct {
	name   string
	kind   kind
	labels []string
}

// serveLine is one line of serve.MetricNames: a name, its labels in braces,
// and what it is ("histogram: ..." for a histogram).
var serveLine = regexp.MustCompile(`^\s+(eddy_[a-z_]+)\{([a-z_,]*)\}\s+(.*)$`)

// serveMetrics are the metrics eddy serve registers beside lag serve's, read
// from serve.MetricNames (which serve's TestMetricNamesDocumented holds to
// the registry): the dashboard and the rules follow the code. A line that
// says "histogram:" is a histogram, a name ending in _total a counter, the
// rest gauges.
var serveMetrics = func() []metric {
	var ms []metric
	for _, line := range strings.Split(serve.MetricNames, "\n") {
		m := serveLine.FindStringSubmatch(line)
		if m == nil {
			panic(fmt.Sprintf("serve.MetricNames: line %q is not NAME{LABELS} MEANING", line))
		}
		k := gauge
		switch {
		case strings.HasPrefix(m[3], "histogram:"):
			k = histogram
		case strings.HasSuffix(m[1], "_total"):
			k = counter
		}
		ms = append(ms, metric{m[1], k, strings.Split(m[2], ",")})
	}
	return ms
}()

// TestServeMetricsRead: the contract read from serve.MetricNames is the
// issue's list, with their types (a check on the reading, not on serve).
func TestServeMetricsRead(t *testing.T) {
	kinds := map[string]kind{}
	for _, m := range serveMetrics {
		kinds[m.name] = m.kind
		if m.labels[0] != "cluster" {
			t.Errorf("%s: labels %v do not start with cluster", m.name, m.labels)
		}
	}
	for name, want := range map[string]kind{
		"eddy_flow_hop_latency_seconds": histogram, "eddy_flow_topic_hop_latency_seconds": histogram,
		"eddy_flow_duration_seconds": histogram, "eddy_flows_started_total": counter, "eddy_flows_open": gauge,
		"eddy_slo_good_total": counter, "eddy_slo_first_step_seen": gauge, "eddy_dlq_depth": gauge,
		"eddy_dlq_oldest_age_seconds": gauge, "eddy_dlq_inflow_total": counter, "eddy_dlq_reason_total": counter,
	} {
		if got, ok := kinds[name]; !ok || got != want {
			t.Errorf("%s: read as kind %d (present %v), want %d", name, got, ok, want)
		}
	}
	if len(serveMetrics) < 17 {
		t.Errorf("only %d metrics read from serve.MetricNames", len(serveMetrics))
	}
}

// lagLine is one line of lag.LagMetricNames: a name and its labels in braces.
var lagLine = regexp.MustCompile(`^\s+(eddy_[a-z_]+)(?:\{([a-z_,]*)\})?`)

// contract is serveMetrics and lag serve's gauges (from the table its help
// prints), each with the cluster label eddy serve adds.
func contract(t testing.TB) []metric {
	t.Helper()
	ms := slices.Clone(serveMetrics)
	n := 0
	for _, line := range strings.Split(lag.LagMetricNames, "\n") {
		m := lagLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := []string{"cluster"}
		if m[2] != "" {
			labels = append(labels, strings.Split(m[2], ",")...)
		}
		ms = append(ms, metric{m[1], gauge, labels})
		n++
	}
	if n < 20 {
		t.Fatalf("only %d metrics read from lag.LagMetricNames: its layout changed", n)
	}
	return ms
}

// exposedNames are the series names a query may select for ms: a histogram
// is its native series and its classic _bucket, _sum and _count ones.
func exposedNames(ms []metric) map[string]bool {
	names := map[string]bool{}
	for _, m := range ms {
		names[m.name] = true
		if m.kind == histogram {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[m.name+s] = true
			}
		}
	}
	return names
}

// grafanaVars stand in for Grafana's variables so that a dashboard query is
// PromQL: what the test's Prometheus evaluates.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "10s",
	"$__range", "1m",
	"$__interval", "1s",
	"$objective", "0.99",
	"$cluster", ".*", "$flow", ".*", "$rule", ".*", "$group", ".*",
)

// promqlWords are the keywords of PromQL not always followed by a
// parenthesis: operators, modifiers, and the aggregations, which may be
// followed by `by (...)` first.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

// labelListWords take a parenthesised list of label names, not an expression.
var labelListWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames are the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, label lists,
// function calls and keywords are set aside. The expression is taken to be
// valid PromQL (promtool and the real Prometheus check that).
func metricNames(expr string) ([]string, error) {
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for j := i; j < len(expr); j++ {
			switch c := expr[j]; c {
			case '"', '\'', '`':
				k := strings.IndexByte(expr[j+1:], c)
				if k < 0 {
					return 0, fmt.Errorf("unterminated string in %s", expr)
				}
				j += k + 1
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c in %s", open, expr)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			k := strings.IndexByte(expr[i+1:], c)
			if k < 0 {
				return nil, fmt.Errorf("unterminated string in %s", expr)
			}
			i += k + 2
		case c == '{':
			j, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			// A number or a duration (5m, 1e-3, 0x1f): letters glued to it are
			// part of it.
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			switch {
			case labelListWords[word] && k < len(expr) && expr[k] == '(':
				end, err := skipTo(k, '(', ')')
				if err != nil {
					return nil, err
				}
				i = end
				continue
			case k < len(expr) && expr[k] == '(':
				// A function or an aggregation; its arguments follow.
			case promqlWords[strings.ToLower(word)] || labelListWords[word]:
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

func TestMetricNamesParser(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.99, sum by (cluster, le) (rate(a_bucket{x=~"b{1}"}[5m]))) or histogram_quantile(0.5, b)`: {"a_bucket", "b"},
		`sum(rate(x_total[1h])) by (rule) / on (rule) group_left (flow) y * 1e-3`:                                      {"x_total", "y"},
		`time() - eddy_lag_sample_timestamp_seconds > 300 and bool z offset 5m`:                                        {"eddy_lag_sample_timestamp_seconds", "z"},
		`topk(10, label_replace(m, "dst", "$1", "src", "(.*)")) unless ignoring(a) n`:                                  {"m", "n"},
		`{__name__="hidden"} + eddy:slo_error_ratio:rate5m`:                                                            {"eddy:slo_error_ratio:rate5m"},
		`sum by (a) (p) / count without (b) (q) - max(r)`:                                                              {"p", "q", "r"},
	} {
		got, err := metricNames(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, %v; want %v", expr, got, err, want)
		}
	}
	if _, err := metricNames(`sum(x{a="b}`); err == nil {
		t.Error("an unterminated string was not an error")
	}
}

// dashboard is the parts of the Grafana JSON the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		Instant      bool   `json:"instant"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// query is one PromQL expression of the dashboard or the rules, with where
// it is.
type query struct{ where, expr string }

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func queryWhere(title string, target int) string {
	return fmt.Sprintf("panel %q target %d", title, target)
}

// dashboardQueries are the panels' expressions, and the template variables'
// label_values(SELECTOR, LABEL) as `count by (LABEL) (SELECTOR)`: non-empty
// exactly when the variable has values.
func dashboardQueries(t testing.TB) (dashboard, []query) {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatalf("grafana/eddy-serve.json: %v", err)
	}
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				qs = append(qs, query{queryWhere(p.Title, i), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values(SELECTOR, LABEL)", v.Name, q.Query)
		}
		qs = append(qs, query{"variable " + v.Name, "count by (" + m[2] + ") (" + m[1] + ")"})
	}
	return d, qs
}

// rules is the parts of a Prometheus rules file the tests read.
type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func alertRules(t testing.TB) rules {
	t.Helper()
	var r rules
	if err := yaml.Unmarshal(AlertRules, &r); err != nil {
		t.Fatalf("prometheus/eddy-alerts.yml: %v", err)
	}
	return r
}

// TestDashboardMetricNames: the dashboard reads only metrics eddy exports.
func TestDashboardMetricNames(t *testing.T) {
	allowed := exposedNames(contract(t))
	d, qs := dashboardQueries(t)
	if len(qs) < 20 {
		t.Fatalf("only %d queries found in the dashboard", len(qs))
	}
	used := map[string]bool{}
	for _, q := range qs {
		names, err := metricNames(grafanaVars.Replace(q.expr))
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %s selects no metric", q.where, q.expr)
		}
		for _, n := range names {
			used[n] = true
			if !allowed[n] {
				t.Errorf("%s reads %s, which eddy does not export: %s", q.where, n, q.expr)
			}
		}
	}
	// Each metric of the list is on a panel (lag serve's detail
	// metrics need not be).
	for _, m := range serveMetrics {
		if !used[m.name] && !used[m.name+"_bucket"] {
			t.Errorf("no panel shows %s", m.name)
		}
	}
	for _, want := range []string{"eddy_kafka_consumergroup_lag", "eddy_kafka_consumergroup_time_lag_seconds", "eddy_kafka_consumergroup_status"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard has uid %q, title %q; want both", d.UID, d.Title)
	}
}

// TestDashboardLayout: panel ids are unique, panels fit Grafana's 24-column
// grid without overlapping, and every panel queries the dashboard's
// datasource variable (so an import asks for the Prometheus to use).
func TestDashboardLayout(t *testing.T) {
	d, _ := dashboardQueries(t)
	ids := map[int]string{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at (%d,%d)", other, p.Title, x, y)
				}
				taken[cell{x, y}] = p.Title
			}
		}
		if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
			t.Errorf("panel %q does not use the ${datasource} variable", p.Title)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}

// TestRulesMetricNames: the rules read only metrics eddy exports, the
// recording rules of the file itself and Prometheus's own `up`.
func TestRulesMetricNames(t *testing.T) {
	allowed := exposedNames(contract(t))
	allowed["up"] = true
	r := alertRules(t)
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Record != "" {
				allowed[rule.Record] = true
			}
		}
	}
	var alerts []string
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			names, err := metricNames(rule.Expr)
			if err != nil {
				t.Errorf("group %s: %v", g.Name, err)
			}
			for _, n := range names {
				if !allowed[n] {
					t.Errorf("group %s, %s%s reads %s, which eddy does not export", g.Name, rule.Alert, rule.Record, n)
				}
			}
			if rule.Alert != "" {
				alerts = append(alerts, rule.Alert)
			}
		}
	}
	sort.Strings(alerts)
	for _, want := range []string{"EddyConsumerGroupLagHigh", "EddyConsumerGroupStalled", "EddyDLQInflow", "EddyDown", "EddyNotReady", "EddySLOBurnRateFast", "EddySLOBurnRateSlow"} {
		if _, found := slices.BinarySearch(alerts, want); !found {
			t.Errorf("no alert %s in the rules (have %v)", want, alerts)
		}
	}
}
