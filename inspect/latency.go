package inspect

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// LatencyStyle is how FormatLatency writes a duration: each says where it is
// used, and the styles stay as they were when they were three functions, so
// that no output changed when they became one.
type LatencyStyle int

const (
	// LatencyTrace is eddy trace's timeline and flows report: signed; three
	// significant digits below 10 ms (0.079ms, 1.23ms), whole (rounded)
	// milliseconds to a second (79ms), seconds with two decimals to a minute
	// (1.23s), then Go's duration rounded to the second (1m5s).
	LatencyTrace LatencyStyle = iota
	// LatencyCompact is the TUI's Trace view: signed; whole microseconds
	// below a millisecond (79µs), whole (truncated) milliseconds to a second,
	// seconds with two decimals to a minute, then as LatencyLag (4m05s).
	LatencyCompact
	// LatencyLag is a time lag: "-" when unknown (negative), 0s, whole
	// milliseconds below a second (850ms), seconds with one decimal to a
	// minute (12.3s), then 4m05s, 2h03m, 3d04h.
	LatencyLag
)

// FormatLatency writes a latency or lag for people, in style s.
func FormatLatency(d time.Duration, s LatencyStyle) string {
	switch s {
	case LatencyTrace:
		a := d
		if a < 0 {
			a = -a
		}
		ms := float64(d) / float64(time.Millisecond)
		switch {
		case a >= time.Minute:
			return d.Round(time.Second).String()
		case a >= time.Second:
			return fmt.Sprintf("%.2fs", ms/1000)
		case a >= 10*time.Millisecond:
			return fmt.Sprintf("%.0fms", ms)
		}
		return fmt.Sprintf("%.3gms", ms)
	case LatencyCompact:
		if d < 0 {
			return "-" + FormatLatency(-d, s)
		}
		switch {
		case d < time.Millisecond:
			return fmt.Sprintf("%dµs", d.Microseconds())
		case d < time.Second:
			return fmt.Sprintf("%dms", d.Milliseconds())
		case d < time.Minute:
			return fmt.Sprintf("%.2fs", d.Seconds())
		}
		return FormatLatency(d, LatencyLag)
	}
	switch {
	case d < 0:
		return "-"
	case d == 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// MS is a latency in milliseconds (as eddy's JSON has them) as a duration,
// to the nearest nanosecond.
func MS(ms float64) time.Duration { return time.Duration(math.Round(ms * float64(time.Millisecond))) }
