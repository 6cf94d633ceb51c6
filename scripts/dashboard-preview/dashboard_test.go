package main

import (
	"bytes"
	"image/png"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func shipped(t *testing.T) *Dashboard {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	d, err := LoadDashboard(filepath.Join(filepath.Dir(file), "..", "..", "monitoring", "grafana", "eddy-serve.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) == 0 {
		t.Fatal("the shipped dashboard has no panels")
	}
	return d
}

var (
	t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	t1 = t0.Add(10 * time.Minute)
)

// Every panel type of the shipped dashboard is one the preview draws: a new
// type in the dashboard fails here until the renderer learns it.
func TestShippedDashboardPanelTypesAreDrawn(t *testing.T) {
	d := shipped(t)
	types := map[string]int{}
	for _, p := range d.Panels {
		types[p.Type]++
		if !renderers[p.Type] {
			t.Errorf("panel %q has type %q, which dashboard-preview does not draw", p.Title, p.Type)
		}
	}
	t.Logf("panel types: %v", types)
}

// Every query of the shipped dashboard expands with nothing of Grafana's
// left in it: the variables at their defaults, the built-in intervals as
// Grafana computes them.
func TestShippedDashboardQueriesExpand(t *testing.T) {
	d := shipped(t)
	env, err := NewEnv(d, t0, t1, 740, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := env.Queries(d)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range d.Panels {
		n += len(p.Targets)
	}
	if len(qs) != n || n == 0 {
		t.Fatalf("%d queries from %d targets", len(qs), n)
	}
	instant := 0
	for _, q := range qs {
		if strings.Contains(q.Expr, "$") {
			t.Errorf("panel %d %s: %q still holds a variable", q.Panel, q.RefID, q.Expr)
		}
		if strings.Contains(q.Expr, "[$") || strings.Contains(q.Expr, "[[") {
			t.Errorf("panel %d %s: %q", q.Panel, q.RefID, q.Expr)
		}
		if q.Instant {
			instant++
		}
	}
	if instant == 0 || instant == len(qs) {
		t.Errorf("%d of %d queries instant; the dashboard has both kinds", instant, len(qs))
	}
}

func TestExpand(t *testing.T) {
	d := &Dashboard{}
	d.Templating.List = []Variable{
		{Name: "datasource", Type: "datasource"},
		{Name: "cluster", Type: "query", IncludeAll: true, AllValue: ".*"},
		{Name: "group", Type: "query", IncludeAll: true},
		{Name: "flow", Type: "query"},
		{Name: "objective", Type: "custom"},
	}
	d.Templating.List[1].Current.Value = []byte(`["$__all"]`)
	d.Templating.List[2].Current.Value = []byte(`"$__all"`)
	d.Templating.List[3].Current.Value = []byte(`["shop","a.b"]`)
	d.Templating.List[4].Current.Value = []byte(`"0.99"`)
	// 10 minutes over 740 points is under a second: the scrape interval wins.
	env, err := NewEnv(d, t0, t1, 740, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		`rate(m{cluster=~"$cluster", flow=~"${flow}"}[$__rate_interval])`:       `rate(m{cluster=~".*", flow=~"(shop|a\.b)"}[20s])`,
		`increase(m{group=~"[[group]]"}[$__range]) / (1 - $objective)`:          `increase(m{group=~".*"}[600s]) / (1 - 0.99)`,
		`x[$__interval] $__interval_ms $__range_s $__range_ms ${cluster:regex}`: `x[5s] 5000 600 600000 .*`,
	} {
		got, err := env.Expand(in)
		if err != nil || got != want {
			t.Errorf("Expand(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := env.Expand(`m{x=~"$nosuch"}`); err == nil || !strings.Contains(err.Error(), "$nosuch") {
		t.Errorf("unknown variable: %v", err)
	}
	// A day over 740 points: 117 s rounds up to 2 minutes; rate interval
	// is step + scrape interval.
	env, _ = NewEnv(d, t0, t0.Add(24*time.Hour), 740, 15*time.Second)
	if env.Interval != 2*time.Minute || env.RateInterval() != 135*time.Second {
		t.Errorf("a day: interval %v, rate interval %v; want 2m and 2m15s", env.Interval, env.RateInterval())
	}
	if _, err := NewEnv(d, t1, t0, 740, time.Second); err == nil {
		t.Error("an empty range was accepted")
	}
}

func TestUnknownPanelTypeRefused(t *testing.T) {
	d := &Dashboard{Panels: []Panel{{Type: "piechart", Title: "pie"}}}
	env, err := NewEnv(d, t0, t1, 740, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Queries(d); err == nil || !strings.Contains(err.Error(), `"piechart"`) {
		t.Fatalf("a piechart panel: %v", err)
	}
}

func TestLegendAndUnits(t *testing.T) {
	labels := map[string]string{"__name__": "eddy_x", "flow": "shop", "from": "A", "to": "B"}
	if got := LegendName("{{flow}} {{ from }} → {{to}} p99", labels); got != "shop A → B p99" {
		t.Errorf("legend %q", got)
	}
	if got := LegendName("", labels); got != `eddy_x{flow="shop", from="A", to="B"}` {
		t.Errorf("no legendFormat: %q", got)
	}
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{0.0405, "s", "40.5 ms"}, {2.5, "s", "2.5 s"}, {90, "s", "1.5 min"}, {0, "s", "0 s"},
		{0.9876, "percentunit", "98.8%"}, {12.5, "ops", "12.5 ops/s"}, {1500, "short", "1.5 K"}, {3, "", "3"},
	} {
		if got := FormatValue(c.v, c.unit); got != c.want {
			t.Errorf("FormatValue(%v, %q) = %q; want %q", c.v, c.unit, got, c.want)
		}
	}
}

// The whole shipped dashboard renders, with data and without, to a PNG of
// the width asked for, and so does a table panel, which the renderer draws
// though the dashboard has none yet (no Prometheus needed: the results are
// made up here).
func TestRenderShippedDashboard(t *testing.T) {
	d := shipped(t)
	env, err := NewEnv(d, t0, t1, 740, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := env.Queries(d)
	if err != nil {
		t.Fatal(err)
	}
	results := map[int][]Result{}
	for k, q := range qs {
		s := Series{Labels: map[string]string{"cluster": "demo", "flow": "shop", "rule": "r", "group": "g", "dlq": "d", "reason": "boom"}}
		for ts := t0; !ts.After(t1); ts = ts.Add(env.Interval) {
			s.T = append(s.T, float64(ts.Unix()))
			s.V = append(s.V, float64(k%4))
		}
		if q.Instant {
			s.T, s.V = s.T[len(s.T)-1:], s.V[len(s.V)-1:]
		}
		results[q.Panel] = append(results[q.Panel], Result{Query: q, Series: []Series{s}})
	}
	table := &Dashboard{Title: "t", Panels: []Panel{{Type: "table", Title: "table"}}}
	table.Panels[0].GridPos.W, table.Panels[0].GridPos.H = 24, 30
	table.Panels[0].Targets = []Target{{RefID: "A", Expr: "up", Instant: true}}
	tableRes := map[int][]Result{0: {{Query: Query{RefID: "A", Instant: true},
		Series: []Series{{Labels: map[string]string{"job": "eddy"}, T: []float64{1}, V: []float64{1}}}}}}
	for name, c := range map[string]struct {
		d   *Dashboard
		res map[int][]Result
	}{"data": {d, results}, "no data": {d, map[int][]Result{}}, "table": {table, tableRes}} {
		var buf bytes.Buffer
		if err := Render(&buf, c.d, env, c.res, 1600, "monitoring/grafana/eddy-serve.json", "test"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 1600 || b.Dy() < 1000 {
			t.Errorf("%s: image %v", name, b)
		}
	}
}

// The y axis labels every grid line once, in order, in the panel's unit.
func TestUnitTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		unit   string
	}{{0, 255, "ops"}, {0, 2.6, "s"}, {0, 52, "ops"}, {0, 600, "s"}, {0, 1, "percentunit"}, {0, 0.8, "short"}} {
		ts := unitTicks{c.unit}.Ticks(c.lo, c.hi)
		if len(ts) < 3 || len(ts) > 9 {
			t.Errorf("%v..%v %s: %d ticks %v", c.lo, c.hi, c.unit, len(ts), ts)
		}
		seen := map[string]bool{}
		for i, tk := range ts {
			if i > 0 && tk.Value <= ts[i-1].Value {
				t.Errorf("%v..%v %s: ticks out of order: %v", c.lo, c.hi, c.unit, ts)
			}
			if seen[tk.Label] || tk.Label == "" {
				t.Errorf("%v..%v %s: label %q twice or empty: %v", c.lo, c.hi, c.unit, tk.Label, ts)
			}
			seen[tk.Label] = true
		}
	}
}
