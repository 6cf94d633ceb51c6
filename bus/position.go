package bus

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PosKind says what a Position means.
type PosKind int

// The kinds of position.
const (
	PosNone      PosKind = iota // not set: From means End, Until means follow forever
	PosBeginning                // the oldest retained event
	PosEnd                      // From: only new events; Until: the end as of opening
	PosOffset                   // an absolute offset, the same on every partition
	PosRelative                 // Offset events before the end, per partition (From only)
	PosTime                     // the first event at or after Time
)

// Position is a point in a stream.
type Position struct {
	Kind   PosKind
	Offset int64
	Time   time.Time
}

// IsSet reports whether the position was given.
func (p Position) IsSet() bool { return p.Kind != PosNone }

func (p Position) String() string {
	switch p.Kind {
	case PosBeginning:
		return "beginning"
	case PosEnd:
		return "end"
	case PosOffset:
		return strconv.FormatInt(p.Offset, 10)
	case PosRelative:
		return "-" + strconv.FormatInt(p.Offset, 10)
	case PosTime:
		return p.Time.Format(time.RFC3339Nano)
	}
	return ""
}

// ParseFrom parses --from: beginning | end | OFFSET | -N (N before the end of
// each partition) | RFC3339 time | -DURATION (that long before now).
func ParseFrom(s string, now time.Time) (Position, error) {
	return parsePosition("--from", s, now, true)
}

// ParseUntil parses --until: end | OFFSET | RFC3339 time | -DURATION.
func ParseUntil(s string, now time.Time) (Position, error) {
	return parsePosition("--until", s, now, false)
}

// ParseRange parses --from and --until together and refuses a range that
// ends before it starts (--from -1m --until -2h, --from 10 --until 5): read,
// it would return nothing and look like an empty stream. Positions of kinds
// that cannot be compared without the broker (an offset and a time, -N and
// anything) are left to the read.
func ParseRange(from, until string, now time.Time) (Position, Position, error) {
	f, err := ParseFrom(from, now)
	if err != nil {
		return Position{}, Position{}, err
	}
	u, err := ParseUntil(until, now)
	if err != nil {
		return Position{}, Position{}, err
	}
	if why := emptyRange(f, u, now); why != "" {
		return Position{}, Position{}, fmt.Errorf("--until %s is %s --from %s: that range holds nothing", until, why, from)
	}
	return f, u, nil
}

// CheckRange is ParseRange's check for positions parsed another way (expect's
// --since): fromFlag and the texts name them as the user typed them.
func CheckRange(fromFlag, fromText string, from Position, untilText string, until Position, now time.Time) error {
	if why := emptyRange(from, until, now); why != "" {
		return fmt.Errorf("--until %s is %s %s %s: that range holds nothing", untilText, why, fromFlag, fromText)
	}
	return nil
}

// emptyRange says how until comes before from ("before", "not after"), or ""
// when the range may hold events. Until is exclusive for an offset and
// inclusive for a time; --from end means now.
func emptyRange(from, until Position, now time.Time) string {
	switch {
	case from.Kind == PosOffset && until.Kind == PosOffset:
		if until.Offset < from.Offset {
			return "before"
		}
		if until.Offset == from.Offset {
			return "not after" // until is exclusive
		}
	case from.Kind == PosTime && until.Kind == PosTime:
		if until.Time.Before(from.Time) {
			return "before"
		}
	case from.Kind == PosEnd && until.Kind == PosTime:
		if until.Time.Before(now) {
			return "before" // end: only what arrives from now on
		}
	}
	return ""
}

func parsePosition(flag, s string, now time.Time, from bool) (Position, error) {
	switch s {
	case "":
		return Position{}, nil
	case "beginning", "start", "earliest", "oldest":
		if !from {
			return Position{}, fmt.Errorf("%s %q: want end, an offset, an RFC 3339 time or -DURATION", flag, s)
		}
		return Position{Kind: PosBeginning}, nil
	case "end", "latest", "newest":
		return Position{Kind: PosEnd}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			if !from {
				return Position{}, fmt.Errorf("%s %q: offsets are 0 or more; -N (N before the end of each partition) is for --from; %s takes end, an offset, an RFC 3339 time or -DURATION (-5m)", flag, s, flag)
			}
			return Position{Kind: PosRelative, Offset: -n}, nil
		}
		return Position{Kind: PosOffset, Offset: n}, nil
	}
	if d, ok := strings.CutPrefix(s, "-"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return Position{}, fmt.Errorf("%s %q: not a duration like -15m or -2h30m", flag, s)
		}
		return Position{Kind: PosTime, Time: now.Add(-dur)}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Position{}, fmt.Errorf("%s %q: want %s, an offset, an RFC 3339 time (2026-11-23T10:00:00Z) or -DURATION (-15m)",
			flag, s, map[bool]string{true: "beginning, end, -N", false: "end"}[from])
	}
	return Position{Kind: PosTime, Time: t}, nil
}
