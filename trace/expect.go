package trace

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Expectation is a flow that must happen: these event types in this order,
// optionally all within a time from the first.
type Expectation struct {
	Text   string
	Steps  []string
	Within time.Duration // zero: no deadline
}

// ParseExpectation parses 'A -> B -> C' or 'A -> B -> C within 5s'.
func ParseExpectation(s string) (Expectation, error) {
	text := strings.TrimSpace(s)
	body := text
	var within time.Duration
	if i := strings.LastIndex(body, " within "); i >= 0 {
		d, err := time.ParseDuration(strings.TrimSpace(body[i+len(" within "):]))
		if err != nil || d <= 0 {
			return Expectation{}, fmt.Errorf("expectation %q: %q is not a duration like 5s or 1m30s", text, strings.TrimSpace(body[i+len(" within "):]))
		}
		within, body = d, body[:i]
	}
	d, err := ParseDefinition(body)
	if err != nil {
		return Expectation{}, fmt.Errorf("expectation %q: %v", text, strings.TrimPrefix(err.Error(), fmt.Sprintf("flow %q: ", body)))
	}
	return Expectation{Text: text, Steps: d.Steps, Within: within}, nil
}

// ParseExpectations reads one expectation per line; blank lines and lines
// starting with # are skipped. Errors name the line.
func ParseExpectations(r io.Reader, name string) ([]Expectation, error) {
	var out []Expectation
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := ParseExpectation(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no expectations", name)
	}
	return out, nil
}

// Definition returns the expectation's steps as a flow definition.
func (e Expectation) Definition() Definition { return Definition{Steps: e.Steps} }

// ViolationKind says how a flow failed an expectation.
type ViolationKind string

// The ways a flow can fail an expectation.
const (
	MissingStep  ViolationKind = "missing_step"
	TooSlow      ViolationKind = "too_slow"
	OutOfOrder   ViolationKind = "out_of_order"
	DeadLettered ViolationKind = "dead_lettered"
)

// Violation is one flow that did not (or not yet) satisfy an expectation.
type Violation struct {
	Flow string        `json:"flow"`
	Kind ViolationKind `json:"kind"`
	// Pending: the flow may still satisfy it (end of input before its
	// deadline); not a failure unless strict.
	Pending bool      `json:"pending"`
	Step    string    `json:"step,omitempty"`
	Detail  string    `json:"detail"`
	Start   time.Time `json:"start"`
}

// Result is the verdict of one expectation over every flow that started it
// (that has its first step).
type Result struct {
	Expectation string `json:"expectation"`
	Flows       int64  `json:"flows"`
	Passed      int64  `json:"passed"`
	Failed      int64  `json:"failed"`
	Pending     int64  `json:"pending"`
	// Violations lists failed and pending flows, the first MaxReported.
	Violations []Violation `json:"violations"`
	// NeverSeen lists the expectation's step types that no event read had
	// (a typo, or a gate over the wrong sources): the expectation fails
	// unless the Checker allows it (AllowEmpty).
	NeverSeen []string `json:"never_seen,omitempty"`
}

// MaxReported caps the violations a Result lists (the counts stay exact).
const MaxReported = 1000

// Checker evaluates expectations flow by flow.
type Checker struct {
	Expectations []Expectation
	// Strict makes pending flows fail.
	Strict bool
	// AllowEmpty: a step type never seen does not fail the expectation.
	AllowEmpty bool
	Results    []Result
}

// NewChecker returns a Checker for exps.
func NewChecker(exps []Expectation, strict bool) *Checker {
	c := &Checker{Expectations: exps, Strict: strict, Results: make([]Result, len(exps))}
	for i, e := range exps {
		c.Results[i] = Result{Expectation: e.Text, Violations: []Violation{}}
	}
	return c
}

// ExpectReport is `eddy expect -o json` (schema version 1).
type ExpectReport struct {
	V       int      `json:"v"`
	OK      bool     `json:"ok"`
	Strict  bool     `json:"strict"`
	Results []Result `json:"results"`
	// MissingIDs are the ids of expect --for-id that no event read had.
	MissingIDs []string `json:"missing_ids,omitempty"`
}

// Report returns the results as eddy expect -o json has them.
func (c *Checker) Report() ExpectReport {
	return ExpectReport{V: 1, OK: !c.Failed(), Strict: c.Strict, Results: c.Results}
}

// Definitions returns the expectations as flow definitions.
func (c *Checker) Definitions() []Definition {
	out := make([]Definition, len(c.Expectations))
	for i, e := range c.Expectations {
		out[i] = e.Definition()
	}
	return out
}

// Check judges one flow. endOfInput says the flow was cut short by the end of
// the input rather than finalised after its idle timeout; now is the end of
// the window (the latest event time of a capture, or the time for a live
// source), against which deadlines are judged.
func (c *Checker) Check(f *Flow, endOfInput bool, now time.Time) {
	for i, e := range c.Expectations {
		if !f.Has(e.Steps[0]) {
			continue
		}
		r := &c.Results[i]
		r.Flows++
		v, ok := evaluate(e, f, endOfInput, now)
		if ok {
			r.Passed++
			continue
		}
		if v.Pending && c.Strict {
			v.Pending = false
			v.Detail += " (strict: pending counts as failed)"
		}
		if v.Pending {
			r.Pending++
		} else {
			r.Failed++
		}
		if len(r.Violations) < MaxReported {
			r.Violations = append(r.Violations, v)
		}
	}
}

// Failed reports whether any expectation failed: a flow failed it, or one
// of its step types was never seen (unless AllowEmpty).
func (c *Checker) Failed() bool {
	for i := range c.Results {
		if c.ResultFailed(i) {
			return true
		}
	}
	return false
}

// ResultFailed reports whether expectation i failed.
func (c *Checker) ResultFailed(i int) bool {
	return c.Results[i].Failed > 0 || len(c.Results[i].NeverSeen) > 0 && !c.AllowEmpty
}

// CheckSeen records, for every expectation, the step types that no event
// read had; seen reports whether a type was.
func (c *Checker) CheckSeen(seen func(typ string) bool) {
	for i, e := range c.Expectations {
		c.Results[i].NeverSeen = nil
		for _, t := range e.Steps {
			if !seen(t) && !slices.Contains(c.Results[i].NeverSeen, t) {
				c.Results[i].NeverSeen = append(c.Results[i].NeverSeen, t)
			}
		}
	}
}

func evaluate(e Expectation, f *Flow, endOfInput bool, now time.Time) (Violation, bool) {
	start := f.Steps[f.first(e.Steps[0])].At
	v := Violation{Flow: f.Key, Start: start}
	for i := range f.Steps {
		if d := f.Steps[i].DeadLetter; d != nil {
			v.Kind, v.Step = DeadLettered, f.Steps[i].Type
			v.Detail = fmt.Sprintf("%s dead-lettered to %s", f.Steps[i].Type, f.Steps[i].Source)
			if d.Error != "" {
				v.Detail += ": " + d.Error
			}
			return v, false
		}
	}
	at := make([]time.Time, len(e.Steps))
	for k, t := range e.Steps {
		j := f.first(t)
		if j < 0 {
			v.Kind, v.Step = MissingStep, t
			reached := e.Steps[0]
			for _, p := range e.Steps[:k] {
				reached = p
			}
			v.Detail = fmt.Sprintf("no %s after %s", t, reached)
			deadline := start.Add(e.Within)
			switch {
			case endOfInput && (e.Within == 0 || now.Before(deadline)):
				v.Pending = true
				if e.Within > 0 {
					v.Detail += fmt.Sprintf(" yet; deadline %s", deadline.UTC().Format(time.RFC3339Nano))
				} else {
					v.Detail += " yet (input ended)"
				}
			case e.Within > 0:
				v.Detail += fmt.Sprintf(" within %s", e.Within)
			}
			return v, false
		}
		at[k] = f.Steps[j].At
	}
	for k := 1; k < len(at); k++ {
		if at[k].Before(at[k-1]) {
			v.Kind, v.Step = OutOfOrder, e.Steps[k]
			v.Detail = fmt.Sprintf("%s at %s is before %s at %s", e.Steps[k], at[k].UTC().Format(time.RFC3339Nano),
				e.Steps[k-1], at[k-1].UTC().Format(time.RFC3339Nano))
			return v, false
		}
	}
	if took := at[len(at)-1].Sub(at[0]); e.Within > 0 && took > e.Within {
		v.Kind, v.Step = TooSlow, e.Steps[len(e.Steps)-1]
		v.Detail = fmt.Sprintf("%s -> %s took %s, more than %s", e.Steps[0], e.Steps[len(e.Steps)-1], took, e.Within)
		return v, false
	}
	return v, true
}
