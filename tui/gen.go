package tui

import "sync/atomic"

// gens numbers the requests and timer chains of every view in the process.
var gens atomic.Int64

// nextGen returns a generation no other request, tick chain or stream of
// this process has had. Views tag what they start with one and drop what
// comes back with another. A per-view counter was not enough: a context
// switch builds new views whose counters start again at 0, so a tick or a
// listing of the context left (its gen 1) matched the new view's gen 1 and
// was taken for its own — a sampler of the old cluster running on, its
// figures shown under the new context. Numbers unique in the process make
// every message of a replaced view stale by construction.
func nextGen() int { return int(gens.Add(1)) }
