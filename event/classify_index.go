package event

// classify records in q and bs (one word per 64 bytes of b, the last
// partial) the quotes and backslashes of b, and reports whether b has a
// control character or a byte from 0x80.
func classify(b []byte, q, bs []uint64) (ctl, hi bool) { return classifyGo(b, q, bs) }

// indexed reports whether Decoder indexes lines before scanning them. It
// does not: the AVX2 index (classify_amd64.s, removed) cost more than it
// saved against the portable scanner (issue 18, measured interleaved: the
// portable build used 9-15% less CPU over the bench capture). The index
// code (classify.go and the scanner's indexed paths) is left unused, for a
// classifier that pays.
func indexed() bool { return false }
