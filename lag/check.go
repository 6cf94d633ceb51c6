package lag

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/inspect"
)

// LagCheck is one --fail-on threshold: [TARGET:]METRIC OP VALUE.
//
//	lag        records still to read (groups); ready messages (queues)
//	offset_lag end minus committed offset, as kafka-consumer-groups counts (groups)
//	time_lag   a duration (30s, 5m, or seconds): the group's oldest unread
//	           record; the queue's head message age
//	status     OK, WARN, ERR, STOP, STALL, REWIND, in Burrow's order (groups);
//	           status>=ERR also matches STOP, STALL and REWIND
//
// OP is one of > >= < <= == !=. TARGET is a group or queue name, or a glob
// (orders-*); without it the check applies to every group and queue. A value
// eddy does not know at all (no partition with a time lag, a status not judged
// yet) never violates a check. A figure known only as a range — a lag that is
// not exact (LagMin to Lag), a time lag that is a lower bound because a
// lagging partition has none — violates a check when some value of the range
// would, unless every value would pass: a gate never passes on a figure eddy
// could not read to the end.
type LagCheck struct {
	Text   string
	Target string // "" for all
	Metric string
	Op     string
	n      int64
	d      time.Duration
	st     inspect.Status
}

var lagCheckRE = regexp.MustCompile(`^(?:(.+):)?\s*(lag|offset_lag|time_lag|status)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$`)

// ParseLagCheck parses a --fail-on expression.
func ParseLagCheck(s string) (LagCheck, error) {
	m := lagCheckRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return LagCheck{}, fmt.Errorf("--fail-on %q: want [GROUP:]METRIC OP VALUE, METRIC one of lag, offset_lag, time_lag, status (e.g. 'lag>1000', 'orders-svc:time_lag>30s', 'status>=WARN')", s)
	}
	c := LagCheck{Text: strings.TrimSpace(s), Target: m[1], Metric: m[2], Op: m[3]}
	if c.Target != "" {
		if _, err := path.Match(c.Target, ""); err != nil {
			return LagCheck{}, fmt.Errorf("--fail-on %q: bad pattern %q: %v", s, c.Target, err)
		}
	}
	v := m[4]
	var err error
	switch c.Metric {
	case "lag", "offset_lag":
		c.n, err = strconv.ParseInt(v, 10, 64)
		if err != nil || c.n < 0 {
			return LagCheck{}, fmt.Errorf("--fail-on %q: %s wants a number of records, not %q", s, c.Metric, v)
		}
	case "time_lag":
		if secs, perr := strconv.ParseFloat(v, 64); perr == nil && secs >= 0 {
			c.d = time.Duration(secs * float64(time.Second))
		} else if c.d, err = time.ParseDuration(v); err != nil || c.d < 0 {
			return LagCheck{}, fmt.Errorf("--fail-on %q: time_lag wants a duration like 30s or 5m, not %q", s, v)
		}
	case "status":
		if c.st, err = inspect.ParseStatus(v); err != nil || c.st == inspect.StatusUnknown {
			return LagCheck{}, fmt.Errorf("--fail-on %q: status wants OK, WARN, ERR, STOP, STALL or REWIND, not %q", s, v)
		}
	}
	return c, nil
}

// LagViolation is a check that failed, on one group or queue.
type LagViolation struct {
	Check  string // the expression
	Kind   string // "group" or "queue"
	Target string // its name
	Value  string // what eddy saw
}

func (v LagViolation) String() string {
	if v.Kind == "" {
		return fmt.Sprintf("%s: %s", v.Check, v.Value)
	}
	return fmt.Sprintf("%s: %s %s has %s", v.Check, v.Kind, inspect.SafeString(v.Target), v.Value)
}

func (c LagCheck) matches(name string) bool {
	if c.Target == "" {
		return true
	}
	ok, _ := path.Match(c.Target, name)
	return ok || c.Target == name
}

// decide compares every value of [lo, hi] with b: bad is whether the check is
// violated, sure whether every value agrees (when not, bad is true: a gate
// fails when it cannot tell).
func decide[T int64 | time.Duration](lo, hi T, op string, b T) (bad, sure bool) {
	switch {
	case lo == hi:
		return compare(lo, op, b), true
	case op == "==" || op == "!=":
		if b < lo || b > hi {
			return op == "!=", true
		}
		return true, false
	}
	x, y := compare(lo, op, b), compare(hi, op, b)
	if x == y {
		return x, true
	}
	return true, false
}

func compare[T int64 | time.Duration | inspect.Status](a T, op string, b T) bool {
	switch op {
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case "==":
		return a == b
	}
	return a != b
}

// CheckLag returns the violations of checks in s. A check naming a group or
// queue (not a pattern) that s does not hold is a violation too: a gate must
// not pass because its subject vanished.
func CheckLag(s *inspect.LagSnapshot, checks []LagCheck) []LagViolation {
	var out []LagViolation
	for _, c := range checks {
		found := false
		for _, g := range s.Groups {
			if !c.matches(g.Group) {
				continue
			}
			found = true
			var bad bool
			var val string
			switch c.Metric {
			case "lag":
				lo := g.Lag
				if g.LagInexact {
					lo = g.LagMin
				}
				var sure bool
				bad, sure = decide(lo, g.Lag, c.Op, c.n)
				val = fmt.Sprintf("lag %d", g.Lag)
				if !sure {
					val = fmt.Sprintf("lag between %d and %d (not exact: -o json says why), which cannot pass", lo, g.Lag)
				}
			case "offset_lag":
				bad, val = compare(g.OffsetLag, c.Op, c.n), fmt.Sprintf("offset lag %d", g.OffsetLag)
			case "time_lag":
				switch {
				case !g.TimeLagInexact:
					bad, val = g.TimeLag >= 0 && compare(g.TimeLag, c.Op, c.d), "time lag "+inspect.FormatLagDuration(g.TimeLag)
				default:
					lo := max(g.TimeLag, 0)
					var sure bool
					bad, sure = decide(lo, time.Duration(math.MaxInt64), c.Op, c.d)
					val = "time lag of at least " + inspect.FormatLagDuration(lo)
					if !sure {
						val += " (a partition with records to read has no time lag: -o json says why), which cannot pass"
					}
				}
			case "status":
				bad, val = g.Worst != inspect.StatusUnknown && compare(g.Worst, c.Op, c.st), "status "+statusText(g)
			}
			if bad {
				out = append(out, LagViolation{Check: c.Text, Kind: "group", Target: g.Group, Value: val})
			}
		}
		for _, q := range s.Queues {
			if !c.matches(q.Queue) {
				continue
			}
			found = true
			var bad bool
			var val string
			switch c.Metric {
			case "lag", "offset_lag":
				bad, val = compare(q.Ready, c.Op, c.n), fmt.Sprintf("%d ready messages", q.Ready)
			case "time_lag":
				bad, val = q.HeadAge >= 0 && compare(q.HeadAge, c.Op, c.d), "head message age "+inspect.FormatLagDuration(q.HeadAge)
				if q.Reason == inspect.ReasonFutureTimestamp {
					// Dated ahead: any age at all is possible.
					var sure bool
					bad, sure = decide(0, time.Duration(math.MaxInt64), c.Op, c.d)
					val = "head message timestamped in the future"
					if !sure {
						val += " (age unknown), which cannot pass"
					}
				}
			}
			if bad {
				out = append(out, LagViolation{Check: c.Text, Kind: "queue", Target: q.Queue, Value: val})
			}
		}
		if !found && c.Target != "" && !strings.ContainsAny(c.Target, `*?[\`) {
			out = append(out, LagViolation{Check: c.Text, Value: "no group or queue " + inspect.SafeString(c.Target)})
		}
	}
	return out
}

// statusText is a group's status with its reason: "ERR (STALL)".
func statusText(g inspect.GroupLag) string {
	if g.Worst > inspect.StatusErr {
		return g.Status.String() + " (" + g.Worst.String() + ")"
	}
	return g.Status.String()
}
