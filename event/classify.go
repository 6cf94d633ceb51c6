package event

import (
	"math/bits"
	"unicode/utf8"
)

// A line's index: where its quotes and backslashes are, found for the whole
// line at once (eight bytes a step) so that the scanner
// finds the end of each string with a bit scan instead of reading it again
// byte by byte. The idea is simdjson's stage one, cut down to what the
// envelope needs.
type index struct {
	q, bs []uint64 // bit i%64 of word i/64: line[i] is a quote, a backslash
	// real has the quotes that are not escaped: those not right after a
	// backslash. It is exact only when no backslash follows another (an
	// escaped backslash), which the index then does not serve (ok false).
	real []uint64
	ok   bool
}

// build indexes line; ix.ok is false when the line has a control character
// or an escaped backslash (the scanner's careful paths take those), or is
// not valid UTF-8.
func (ix *index) build(line []byte) {
	words := (len(line) + 63) / 64
	ix.q = grow(ix.q, words)
	ix.bs = grow(ix.bs, words)
	ix.real = grow(ix.real, words)
	ctl, hi := classify(line, ix.q, ix.bs)
	ix.ok = false
	if ctl {
		return
	}
	var carry uint64 // the last byte of the word before was a backslash
	for w := range words {
		b := ix.bs[w]
		follows := b<<1 | carry
		if b&follows != 0 {
			return
		}
		ix.real[w] = ix.q[w] &^ follows
		carry = b >> 63
	}
	ix.ok = !hi || utf8.Valid(line)
}

// noIndex switches indexing off, for tests of the byte-by-byte scanner.
var noIndex bool

func grow(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n, n+n/2)
	}
	return s[:n]
}

// next returns the index of the first bit set in bm at or after from, or -1.
func next(bm []uint64, from int) int {
	w := from >> 6
	if w >= len(bm) {
		return -1
	}
	m := bm[w] & (^uint64(0) << (from & 63))
	for m == 0 {
		w++
		if w >= len(bm) {
			return -1
		}
		m = bm[w]
	}
	return w<<6 + bits.TrailingZeros64(m)
}

// classifyGo is classify for any platform: eight bytes a step.
func classifyGo(b []byte, q, bs []uint64) (ctl, hi bool) {
	var ctlAny, hiAny uint64
	for w := range q {
		blk := b[w*64:]
		var qw, bw uint64
		if len(blk) >= 64 {
			blk = blk[:64]
			for k := 0; k < 64; k += 8 {
				x := uint64(blk[k]) | uint64(blk[k+1])<<8 | uint64(blk[k+2])<<16 | uint64(blk[k+3])<<24 |
					uint64(blk[k+4])<<32 | uint64(blk[k+5])<<40 | uint64(blk[k+6])<<48 | uint64(blk[k+7])<<56
				qw |= gather(eqMask(x, '"')) << k
				bw |= gather(eqMask(x, '\\')) << k
				ctlAny |= ctlMask(x)
				hiAny |= x & hi8
			}
		} else {
			for k, c := range blk {
				switch {
				case c == '"':
					qw |= 1 << k
				case c == '\\':
					bw |= 1 << k
				case c < 0x20:
					ctlAny = 1
				case c >= 0x80:
					hiAny = 1
				}
			}
		}
		q[w], bs[w] = qw, bw
	}
	return ctlAny != 0, hiAny != 0
}

// gather packs the high bit of each byte of m into the low eight bits.
func gather(m uint64) uint64 { return (m >> 7) * 0x0102040810204080 >> 56 }
