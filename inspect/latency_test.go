package inspect

import (
	"testing"
	"time"
)

// TestFormatLatency pins each style as it was when the styles were four
// functions (cmd/eddy's and the TUI's fmtMS, the TUI's fmtLatency,
// FormatLagDuration): one formatter, no output changed.
func TestFormatLatency(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		s    LatencyStyle
		want string
	}{
		{MS(0), LatencyTrace, "0ms"},
		{MS(0.079), LatencyTrace, "0.079ms"},
		{MS(1.235), LatencyTrace, "1.24ms"},
		{MS(79.5), LatencyTrace, "80ms"},
		{MS(1234), LatencyTrace, "1.23s"},
		{MS(-1234), LatencyTrace, "-1.23s"},
		{MS(90500), LatencyTrace, "1m31s"},
		{MS(-90400), LatencyTrace, "-1m30s"},
		{79 * time.Microsecond, LatencyCompact, "79µs"},
		{0, LatencyCompact, "0µs"},
		{1999 * time.Microsecond, LatencyCompact, "1ms"},
		{-80 * time.Millisecond, LatencyCompact, "-80ms"},
		{1234 * time.Millisecond, LatencyCompact, "1.23s"},
		{245 * time.Second, LatencyCompact, "4m05s"},
		{-1, LatencyLag, "-"},
		{0, LatencyLag, "0s"},
		{850 * time.Millisecond, LatencyLag, "850ms"},
		{12340 * time.Millisecond, LatencyLag, "12.3s"},
		{245 * time.Second, LatencyLag, "4m05s"},
		{2*time.Hour + 3*time.Minute, LatencyLag, "2h03m"},
		{76 * time.Hour, LatencyLag, "3d04h"},
	} {
		if got := FormatLatency(c.d, c.s); got != c.want {
			t.Errorf("FormatLatency(%v, %d) = %q, want %q", c.d, c.s, got, c.want)
		}
	}
	if FormatLagDuration(245*time.Second) != "4m05s" {
		t.Error("FormatLagDuration is not FormatLatency's LatencyLag")
	}
}
