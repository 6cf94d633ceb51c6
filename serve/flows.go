package serve

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/trace"
)

// DefaultFlow is the flow label of flows that no definition's first step
// opened (or of every flow when no definition is given).
const DefaultFlow = "default"

// FlowDef is a named flow definition: the event types a flow passes
// through, in order.
type FlowDef struct {
	Name string
	trace.Definition
}

// Rule is an expectation of eddy expect under a name, judged as an SLO.
type Rule struct {
	Name string
	trace.Expectation
}

// ParseFlowDef reads "NAME=A -> B -> C" or "A -> B -> C" (named by its
// text); "shop" is not special here (the caller expands it).
func ParseFlowDef(s string) (FlowDef, error) {
	name, body, ok := strings.Cut(s, "=")
	if !ok || strings.Contains(name, "->") {
		name, body = "", s
	}
	d, err := trace.ParseDefinition(body)
	if err != nil {
		return FlowDef{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = d.String()
	}
	return FlowDef{Name: name, Definition: d}, nil
}

// ParseRule reads "NAME=A -> B within 5s" or the rule alone (named by its
// text, normalised: "A -> B within 5s").
func ParseRule(s string) (Rule, error) {
	name, body, ok := strings.Cut(s, "=")
	if !ok || strings.Contains(name, "->") {
		name, body = "", s
	}
	e, err := trace.ParseExpectation(body)
	if err != nil {
		return Rule{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = strings.Join(e.Steps, " -> ")
		if e.Within > 0 {
			name += " within " + e.Within.String()
		}
	}
	return Rule{Name: name, Expectation: e}, nil
}

// Recorder turns one cluster's finalised flows into the metrics. It is
// used by the one goroutine that drives the cluster's Correlator.
type Recorder struct {
	m       *Metrics
	cluster string
	defs    []FlowDef
	first   map[string]uint16 // a definition's first type -> its label
	labels  []labelled        // by label: 0 DefaultFlow, i the definition i-1
	hops    map[hopKey]prometheus.Observer
	topics  map[hopKey]prometheus.Observer
	events  prometheus.Counter
	counted int64
	cor     *trace.Correlator // the one fed (Attach), for its event count

	chk               *trace.Checker
	rules             []Rule
	sloTotal, sloGood []prometheus.Counter
	sloSeen           []prometheus.Gauge
	seen              []bool
}

type hopKey struct {
	label    uint16
	from, to string
}

type labelled struct {
	name                                  string
	started, completed, incomplete, dlqed prometheus.Counter
	skew                                  prometheus.Counter
	open                                  prometheus.Gauge
	duration                              prometheus.Observer
}

// NewRecorder returns the recorder of cluster's flows by defs, judging
// rules.
func (m *Metrics) NewRecorder(cluster string, defs []FlowDef, rules []Rule) *Recorder {
	r := &Recorder{m: m, cluster: cluster, defs: defs, first: map[string]uint16{},
		hops: map[hopKey]prometheus.Observer{}, topics: map[hopKey]prometheus.Observer{},
		events: m.events.WithLabelValues(cluster)}
	names := []string{DefaultFlow}
	for i, d := range defs {
		if _, dup := r.first[d.Steps[0]]; !dup {
			// The first definition that starts with a type wins, as
			// trace.Match decides.
			r.first[d.Steps[0]] = uint16(i + 1)
		}
		names = append(names, d.Name)
	}
	for _, n := range names {
		r.labels = append(r.labels, labelled{name: n,
			started:    m.started.WithLabelValues(cluster, n),
			completed:  m.completed.WithLabelValues(cluster, n),
			incomplete: m.incomplete.WithLabelValues(cluster, n),
			dlqed:      m.dls.WithLabelValues(cluster, n),
			skew:       m.skew.WithLabelValues(cluster, n),
			open:       m.open.WithLabelValues(cluster, n),
			duration:   m.duration.WithLabelValues(cluster, n)})
	}
	if len(rules) > 0 {
		exps := make([]trace.Expectation, len(rules))
		for i, ru := range rules {
			exps[i] = ru.Expectation
			r.sloTotal = append(r.sloTotal, m.sloTotal.WithLabelValues(cluster, ru.Name))
			r.sloGood = append(r.sloGood, m.sloGood.WithLabelValues(cluster, ru.Name))
			g := m.sloSeen.WithLabelValues(cluster, ru.Name)
			g.Set(0)
			r.sloSeen = append(r.sloSeen, g)
		}
		r.chk, r.rules, r.seen = trace.NewChecker(exps, false), rules, make([]bool, len(rules))
	}
	return r
}

// Config is the Correlator configuration that feeds r: flows lent to it
// (it keeps none), labelled by the definition whose first step opened them.
func (r *Recorder) Config(schema *event.Schema, timeout time.Duration, clock func() time.Time) trace.Config {
	return trace.Config{Schema: schema, Timeout: timeout, Clock: clock, Borrow: true, OnFlow: r.Flow,
		Label:  func(typ string) uint16 { return r.first[typ] },
		OnOpen: r.labels[0].open.Inc,
		OnLabel: func(l uint16) {
			// A flow is started for its definition when the definition's
			// first step arrives, whatever arrived before it.
			r.labels[0].open.Dec()
			r.labels[l].open.Inc()
			r.labels[l].started.Inc()
		},
		OnMerged: func(l uint16) { r.labels[l].open.Dec() }}
}

// Attach names the Correlator r's Config made: the events counter is then
// brought up to date with every flow finalised too, not only at Tick.
func (r *Recorder) Attach(c *trace.Correlator) { r.cor = c }

func (r *Recorder) syncEvents(c *trace.Correlator) {
	if n := c.Events(); n > r.counted {
		r.events.Add(float64(n - r.counted))
		r.counted = n
	}
}

// Flow records one finalised flow.
func (r *Recorder) Flow(fl *trace.Flow) {
	if r.cor != nil {
		// The events of a flow are counted before it is: a scrape never
		// sees a flow whose events it does not.
		r.syncEvents(r.cor)
	}
	l := fl.Label
	if int(l) >= len(r.labels) {
		l = 0
	}
	c := &r.labels[l]
	c.open.Dec()
	if l == 0 {
		// A flow no definition claimed is known to have started only
		// when it ends unclaimed.
		c.started.Inc()
	}
	var def *trace.Definition
	if l > 0 {
		def = &r.defs[l-1].Definition
	}
	switch {
	case fl.DeadLettered():
		c.dlqed.Inc()
	case def != nil && fl.Missing(def) != "":
		c.incomplete.Inc()
	default:
		// Without a definition nothing says a step is missing: the flow
		// ended when it went quiet.
		c.completed.Inc()
		c.duration.Observe(fl.End().Sub(fl.Start()).Seconds())
	}
	for _, h := range fl.Hops {
		a, b := &fl.Steps[h.From], &fl.Steps[h.To]
		if h.Skew {
			c.skew.Inc()
			continue
		}
		lat := max(h.Latency, 0).Seconds() // within a coarse second: 0
		to := b.Type
		if b.DeadLetter != nil {
			to += " (dead letter)"
		}
		r.hop(l, a.Type, to).Observe(lat)
		r.topicHop(a.Source, b.Source).Observe(lat)
	}
	if r.chk != nil {
		r.judge(fl)
	}
}

func (r *Recorder) hop(l uint16, from, to string) prometheus.Observer {
	k := hopKey{l, from, to}
	if o, ok := r.hops[k]; ok {
		return o
	}
	flow := r.labels[l].name
	if !r.m.edges.admit(r.cluster+"\x00"+flow, from+"\x00"+to) {
		// Not cached: types come from the data, and an edge past the
		// bound must not cost memory either.
		return r.m.hop.WithLabelValues(r.cluster, flow, Other, Other)
	}
	o := r.m.hop.WithLabelValues(r.cluster, flow, from, to)
	// The flow's strings are lent: the key keeps copies.
	r.hops[hopKey{l, strings.Clone(from), strings.Clone(to)}] = o
	return o
}

func (r *Recorder) topicHop(from, to string) prometheus.Observer {
	k := hopKey{0, from, to}
	if o, ok := r.topics[k]; ok {
		return o
	}
	if !r.m.topics.admit(r.cluster, from+"\x00"+to) {
		return r.m.topicHop.WithLabelValues(r.cluster, Other, Other)
	}
	o := r.m.topicHop.WithLabelValues(r.cluster, from, to)
	r.topics[hopKey{0, strings.Clone(from), strings.Clone(to)}] = o
	return o
}

// judge counts fl against every rule whose first step it has.
func (r *Recorder) judge(fl *trace.Flow) {
	res := r.chk.Results
	flows := make([]int64, len(res))
	passed := make([]int64, len(res))
	for i := range res {
		flows[i], passed[i] = res[i].Flows, res[i].Passed
	}
	r.chk.Check(fl, false, time.Time{})
	for i := range res {
		if d := res[i].Flows - flows[i]; d > 0 {
			r.sloTotal[i].Add(float64(d))
			r.markSeen(i)
		}
		if d := res[i].Passed - passed[i]; d > 0 {
			r.sloGood[i].Add(float64(d))
		}
		// Only the counts are exported: the violations are not kept.
		res[i].Violations = res[i].Violations[:0]
	}
}

func (r *Recorder) markSeen(i int) {
	if !r.seen[i] {
		r.seen[i] = true
		r.sloSeen[i].Set(1)
	}
}

// Tick brings the events counter and the rules' first-step gauges up to
// date with c, the Correlator r feeds.
func (r *Recorder) Tick(c *trace.Correlator) {
	r.syncEvents(c)
	if r.chk == nil || !slices.Contains(r.seen, false) {
		return
	}
	types := c.Types()
	for i, ru := range r.rules {
		if !r.seen[i] && slices.Contains(types, ru.Steps[0]) {
			r.markSeen(i)
		}
	}
}

// String names the recorder's cluster, for messages.
func (r *Recorder) String() string { return fmt.Sprintf("cluster %s", r.cluster) }
