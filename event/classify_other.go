//go:build !amd64 || purego

package event

// classify records in q and bs (one word per 64 bytes of b, the last
// partial) the quotes and backslashes of b, and reports whether b has a
// control character or a byte from 0x80.
func classify(b []byte, q, bs []uint64) (ctl, hi bool) { return classifyGo(b, q, bs) }

// indexed reports whether Decoder indexes lines: only where that is fast.
func indexed() bool { return false }
