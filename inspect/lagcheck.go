package inspect

import "time"

// FormatLagDuration is a time lag for people: 0s, 850ms, 12.3s, 4m05s,
// 2h03m, 3d04h; "-" when unknown (negative).
func FormatLagDuration(d time.Duration) string { return FormatLatency(d, LatencyLag) }
