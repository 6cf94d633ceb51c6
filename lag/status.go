package lag

import (
	"time"

	"github.com/eddy-sh/eddy/inspect"
)

// DefaultWindow is how many samples the status rules look at unless told
// otherwise: Burrow's default number of intervals.
const DefaultWindow = 10

// Evaluator judges partitions and groups with Burrow's rules
// (linkedin/Burrow core/internal/evaluator/caching.go) over a sliding window
// of the last Window observations of each partition's committed offset and
// lag:
//
//  1. If the lag is 0 now or at any observation in the window: OK.
//  2. If the committed offset went backwards between two observations: REWIND.
//  3. If the time since the last commit is longer than the time between the
//     first and the last commit in the window: STOP (the consumer stopped
//     committing).
//  4. If the committed offset did not change over the window: STALL (the
//     consumer commits, but does not advance).
//  5. If the offset moved but the lag never decreased from one observation to
//     the next: WARN (the consumer is too slow).
//  6. Otherwise OK. A group's status is its worst partition's, where STOP,
//     STALL and REWIND count as ERR.
//
// Beyond Burrow, a partition whose committed offset is past the log end
// (ReasonBeyondEnd) is ERR: its lag is unknown and the consumer is about to
// be reset. The rules see the upper bound of a lag that is not exact.
//
// Burrow reads every commit from __consumer_offsets, with its time; eddy
// samples committed offsets instead, so it cannot see a commit that repeats
// an offset. It takes a partition owned by a live group member as committed
// at each sample (the member's heartbeats are its sign of life), and a
// partition without an owner as last committed when its committed offset last
// changed. A hung consumer that stays in its group is then STALL; a consumer
// gone from the group, STOP. Rules 2-5 need two observations: with one, a
// lagging partition is Unknown.
type Evaluator struct {
	// Window is the number of observations kept per partition.
	Window int
	parts  map[partKey]*partWindow
	seen   int
}

type partKey struct {
	group, topic string
	partition    int32
}

type observation struct {
	at, committedAt time.Time
	offset, lag     int64
}

type partWindow struct {
	obs  []observation
	seen int // Evaluator.seen at the last observation
}

// NewEvaluator returns an evaluator with a window of n samples (DefaultWindow
// when n <= 0).
func NewEvaluator(n int) *Evaluator {
	if n <= 0 {
		n = DefaultWindow
	}
	return &Evaluator{Window: n, parts: map[partKey]*partWindow{}}
}

// Observe adds one sample taken at now, sets the Status of every partition and
// the Status and Worst of every group, and returns how many samples the
// window holds. Partitions not in the sample are forgotten.
func (e *Evaluator) Observe(now time.Time, groups []inspect.GroupLag) int {
	e.seen++
	for gi := range groups {
		g := &groups[gi]
		worst, unknown := inspect.StatusOK, false
		for pi := range g.Partitions {
			p := &g.Partitions[pi]
			if p.Reason == inspect.ReasonBeyondEnd {
				// Not Burrow's: a consumer about to be reset is an error
				// whatever its history.
				p.Status = inspect.StatusErr
				worst = max(worst, inspect.StatusErr)
				continue
			}
			if p.Committed < 0 || p.Lag < 0 {
				continue // Burrow: nothing committed, nothing to judge
			}
			k := partKey{g.Group, p.Topic, p.Partition}
			w := e.parts[k]
			if w == nil {
				w = &partWindow{}
				e.parts[k] = w
			}
			o := observation{at: now, committedAt: now, offset: p.Committed, lag: p.Lag}
			if n := len(w.obs); p.Member == "" && n > 0 && w.obs[n-1].offset == p.Committed {
				o.committedAt = w.obs[n-1].committedAt
			}
			w.obs = append(w.obs, o)
			if len(w.obs) > e.Window {
				w.obs = append(w.obs[:0], w.obs[len(w.obs)-e.Window:]...)
			}
			w.seen = e.seen
			p.Status = partitionStatus(w.obs, p.Lag, now)
			if p.Status == inspect.StatusUnknown {
				unknown = true
			}
			worst = max(worst, p.Status)
		}
		g.Worst = worst
		g.Status = min(worst, inspect.StatusErr)
		if g.Status == inspect.StatusOK && unknown {
			g.Status, g.Worst = inspect.StatusUnknown, inspect.StatusUnknown
		}
		if g.Err != "" {
			g.Status, g.Worst = inspect.StatusUnknown, inspect.StatusUnknown
		}
	}
	samples := 0
	for k, w := range e.parts {
		if w.seen != e.seen {
			delete(e.parts, k)
			continue
		}
		samples = max(samples, len(w.obs))
	}
	return max(samples, min(e.seen, e.Window))
}

// partitionStatus is Burrow's calculatePartitionStatus.
func partitionStatus(obs []observation, currentLag int64, now time.Time) inspect.Status {
	if currentLag == 0 {
		return inspect.StatusOK
	}
	for _, o := range obs {
		if o.lag == 0 { // rule 1
			return inspect.StatusOK
		}
	}
	if len(obs) < 2 {
		return inspect.StatusUnknown
	}
	for i := 1; i < len(obs); i++ { // rule 2
		if obs[i].offset < obs[i-1].offset {
			return inspect.StatusRewind
		}
	}
	first, last := obs[0].committedAt, obs[len(obs)-1].committedAt
	if now.Sub(last) > last.Sub(first) { // rule 3
		return inspect.StatusStop
	}
	stalled := true
	for i := 1; i < len(obs); i++ { // rule 4
		if obs[i].offset != obs[i-1].offset {
			stalled = false
			break
		}
	}
	if stalled {
		return inspect.StatusStall
	}
	for i := 1; i < len(obs); i++ { // rule 5
		if obs[i].lag < obs[i-1].lag {
			return inspect.StatusOK
		}
	}
	return inspect.StatusWarn
}
