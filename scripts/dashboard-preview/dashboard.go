package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dashboard is the part of a Grafana dashboard's JSON the preview reads.
type Dashboard struct {
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is one panel of the dashboard: its kind, place in the 24-column grid,
// queries and the field settings that decide how values are shown.
type Panel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Targets     []Target    `json:"targets"`
	FieldConfig FieldConfig `json:"fieldConfig"`
	Options     struct {
		Legend struct {
			DisplayMode string   `json:"displayMode"`
			Placement   string   `json:"placement"`
			Calcs       []string `json:"calcs"`
		} `json:"legend"`
		Orientation  string `json:"orientation"`
		DisplayMode  string `json:"displayMode"`
		ShowUnfilled *bool  `json:"showUnfilled"`
		ColorMode    string `json:"colorMode"`
		TextMode     string `json:"textMode"`
	} `json:"options"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Instant      bool   `json:"instant"`
	Range        *bool  `json:"range"`
}

// FieldConfig holds the defaults Grafana applies to every field of a panel.
type FieldConfig struct {
	Defaults struct {
		Unit       string     `json:"unit"`
		Min        *float64   `json:"min"`
		Max        *float64   `json:"max"`
		Thresholds *Threshold `json:"thresholds"`
		Mappings   []Mapping  `json:"mappings"`
		Custom     struct {
			ThresholdsStyle struct {
				Mode string `json:"mode"`
			} `json:"thresholdsStyle"`
		} `json:"custom"`
	} `json:"defaults"`
}

// Threshold is a panel's threshold steps; the first step's value is null
// (the base colour).
type Threshold struct {
	Mode  string `json:"mode"`
	Steps []struct {
		Color string   `json:"color"`
		Value *float64 `json:"value"`
	} `json:"steps"`
}

// Mapping is a value mapping: a value shown as a text in a colour.
type Mapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
	} `json:"options"`
}

// Variable is one template variable of the dashboard.
type Variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// LoadDashboard reads and parses a dashboard JSON file.
func LoadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// renderers are the panel types the preview draws; a dashboard with a type
// missing here is refused (and the test fails) rather than drawn wrongly.
var renderers = map[string]bool{
	"row":            true,
	"timeseries":     true,
	"stat":           true,
	"bargauge":       true,
	"state-timeline": true,
	"table":          true,
}

// IsInstant says whether Grafana runs the target as an instant query
// (/api/v1/query) rather than a range query.
func (t Target) IsInstant() bool {
	return t.Instant && (t.Range == nil || !*t.Range)
}

// Env is what Grafana would substitute into a query for one time range.
type Env struct {
	From, To       time.Time
	Interval       time.Duration // $__interval, also the range query's step
	ScrapeInterval time.Duration // the data source's scrape interval
	Vars           map[string]string
}

// niceIntervals are the steps Grafana's interval rounding lands on.
var niceIntervals = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// NewEnv computes $__interval as Grafana does: the range over the panel's
// data points (its width in pixels), rounded to a nice step, never under the
// data source's scrape interval. Variables take their dashboard defaults:
// "All" (the variable's allValue, else ".*") for multi-selects, the current
// value otherwise.
func NewEnv(d *Dashboard, from, to time.Time, maxDataPoints int, scrape time.Duration) (*Env, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("time range %s to %s is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	raw := to.Sub(from) / time.Duration(max(maxDataPoints, 1))
	iv := niceIntervals[len(niceIntervals)-1]
	for _, n := range niceIntervals {
		if n >= raw {
			iv = n
			break
		}
	}
	iv = max(iv, scrape)
	e := &Env{From: from, To: to, Interval: iv, ScrapeInterval: scrape, Vars: map[string]string{}}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			e.Vars[v.Name] = "prometheus"
		case "query", "custom", "constant", "textbox", "interval":
			val, err := currentValue(v)
			if err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.Name, err)
			}
			e.Vars[v.Name] = val
		default:
			return nil, fmt.Errorf("variable %s: type %q not handled", v.Name, v.Type)
		}
	}
	return e, nil
}

func currentValue(v Variable) (string, error) {
	var one string
	var many []string
	if err := json.Unmarshal(v.Current.Value, &one); err != nil {
		if err := json.Unmarshal(v.Current.Value, &many); err != nil {
			return "", fmt.Errorf("current value %s", v.Current.Value)
		}
	} else {
		many = []string{one}
	}
	if len(many) == 1 && many[0] == "$__all" {
		if v.AllValue != "" {
			return v.AllValue, nil
		}
		return ".*", nil
	}
	if len(many) == 0 {
		return "", fmt.Errorf("no current value")
	}
	if len(many) == 1 {
		return many[0], nil
	}
	// Grafana's regex format of a multi-value selection.
	q := make([]string, len(many))
	for i, m := range many {
		q[i] = regexp.QuoteMeta(m)
	}
	return "(" + strings.Join(q, "|") + ")", nil
}

// RateInterval is Grafana's $__rate_interval: max($__interval + scrape
// interval, 4 × scrape interval).
func (e *Env) RateInterval() time.Duration {
	return max(e.Interval+e.ScrapeInterval, 4*e.ScrapeInterval)
}

func promDur(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

var varRE = regexp.MustCompile(`\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)\]\]|\$(\w+)`)

// Expand substitutes the template variables and Grafana's built-in ones
// ($__interval, $__rate_interval, $__range and their _s/_ms forms) into
// expr. A variable it does not know is an error, so nothing reaches
// Prometheus with a "$" left in it.
func (e *Env) Expand(expr string) (string, error) {
	rng := e.To.Sub(e.From).Truncate(time.Second)
	builtin := map[string]string{
		"__interval":      promDur(e.Interval),
		"__interval_ms":   strconv.FormatInt(e.Interval.Milliseconds(), 10),
		"__rate_interval": promDur(e.RateInterval()),
		"__range":         promDur(rng),
		"__range_s":       strconv.FormatInt(int64(rng/time.Second), 10),
		"__range_ms":      strconv.FormatInt(rng.Milliseconds(), 10),
	}
	var bad []string
	out := varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		if v, ok := builtin[name]; ok {
			return v
		}
		if v, ok := e.Vars[name]; ok {
			return v
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown variable %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// Query is one Prometheus query a panel needs, ready to run.
type Query struct {
	Panel   int // index in Dashboard.Panels
	RefID   string
	Expr    string
	Legend  string
	Instant bool
}

// Queries checks every panel's type and expands every target; the first
// unhandled panel type or unknown variable is the error.
func (e *Env) Queries(d *Dashboard) ([]Query, error) {
	var qs []Query
	for i, p := range d.Panels {
		if !renderers[p.Type] {
			return nil, fmt.Errorf("panel %q: type %q is not drawn by the preview", p.Title, p.Type)
		}
		for _, t := range p.Targets {
			x, err := e.Expand(t.Expr)
			if err != nil {
				return nil, fmt.Errorf("panel %q, query %s: %w", p.Title, t.RefID, err)
			}
			qs = append(qs, Query{Panel: i, RefID: t.RefID, Expr: x, Legend: t.LegendFormat, Instant: t.IsInstant()})
		}
	}
	return qs, nil
}

var legendRE = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// LegendName is Grafana's series name: legendFormat with {{label}} filled
// in, or without one the metric's name and labels.
func LegendName(format string, labels map[string]string) string {
	if format != "" && format != "__auto" {
		return strings.TrimSpace(legendRE.ReplaceAllStringFunc(format, func(m string) string {
			return labels[legendRE.FindStringSubmatch(m)[1]]
		}))
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return labels["__name__"] + "{" + strings.Join(parts, ", ") + "}"
}

// FormatValue shows v in a Grafana unit: s, percentunit, percent, ops,
// short (and none).
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	if math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch unit {
	case "s":
		a := math.Abs(v)
		switch {
		case a == 0:
			return "0 s"
		case a < 1e-3:
			return num(v*1e6) + " µs"
		case a < 1:
			return num(v*1e3) + " ms"
		case a < 60:
			return num(v) + " s"
		case a < 3600:
			return num(v/60) + " min"
		case a < 86400:
			return num(v/3600) + " hour"
		default:
			return num(v/86400) + " day"
		}
	case "percentunit":
		return num(v*100) + "%"
	case "percent":
		return num(v) + "%"
	case "ops":
		return short(v) + " ops/s"
	default:
		return short(v)
	}
}

func short(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return num(v/1e9) + " Bil"
	case a >= 1e6:
		return num(v/1e6) + " Mil"
	case a >= 1e3:
		return num(v/1e3) + " K"
	}
	return num(v)
}

// num keeps about three significant digits and drops trailing zeros.
func num(v float64) string {
	a := math.Abs(v)
	dec := 0
	switch {
	case a == 0 || a >= 100:
		dec = 0
	case a >= 10:
		dec = 1
	case a >= 1:
		dec = 2
	default:
		dec = 3
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
