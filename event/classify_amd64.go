//go:build amd64 && !purego

package event

import "golang.org/x/sys/cpu"

// useAVX2 is a variable so that tests compare the two implementations.
var useAVX2 = cpu.X86.HasAVX2

// classify records in q and bs (one word per 64 bytes of b, the last
// partial) the quotes and backslashes of b, and reports whether b has a
// control character or a byte from 0x80.
func classify(b []byte, q, bs []uint64) (ctl, hi bool) {
	if !useAVX2 {
		return classifyGo(b, q, bs)
	}
	full := len(b) / 64
	var flags uint64
	if full > 0 {
		flags = classifyAVX2(&b[0], full, &q[0], &bs[0])
	}
	if rest := b[full*64:]; len(rest) > 0 {
		// The last block, padded with spaces: neither quote, backslash,
		// control nor high.
		var pad [64]byte
		for i := copy(pad[:], rest); i < 64; i++ {
			pad[i] = ' '
		}
		flags |= classifyAVX2(&pad[0], 1, &q[full], &bs[full])
	}
	return flags&1 != 0, flags&2 != 0
}

// classifyAVX2 classifies blocks 64-byte blocks from p into q and bs; bit 0
// of the result says some byte was a control character, bit 1 that some
// byte was 0x80 or more.
//
//go:noescape
func classifyAVX2(p *byte, blocks int, q, bs *uint64) uint64

// indexed reports whether Decoder indexes lines: only where that is fast.
func indexed() bool { return useAVX2 && !noIndex }
