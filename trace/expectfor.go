package trace

import (
	"context"
	"errors"
	"time"
)

// ExpectFor is `eddy expect --for-id`: Expect over only the flows of the
// events that ids name (Flow.Matches: an event id, a flow's key, a trace
// id), so a CI job on a shared system judges the events it sent and no one
// else's. From a live source it keeps reading until each id's flow has
// settled — every expectation the flow starts has passed, or failed for
// good (a deadline passed, a step dead-lettered) — or until the clock
// passes wait; from captures it reads to their end. Flows still open are
// then judged at end(latest) as Expect judges them. It returns the step
// types read and the ids no event read had.
func ExpectFor(ctx context.Context, in Input, cfg Config, chk *Checker, ids []string, live bool, wait time.Time,
	now func() time.Time, end func(latest time.Time) time.Time) (types []string, missing []string, err error) {
	found := make(map[string]bool, len(ids))
	matches := func(fl *Flow) bool {
		hit := false
		for _, id := range ids {
			if fl.Matches(id) {
				found[id], hit = true, true
			}
		}
		return hit
	}
	settled := make(map[string]bool, len(ids))
	cfg.Borrow = true
	cfg.OnFlow = func(fl *Flow) {
		if matches(fl) {
			// Finalised (idle for the flow timeout): judged now, for good.
			for _, id := range ids {
				if fl.Matches(id) {
					settled[id] = true
				}
			}
			chk.Check(fl, false, time.Time{})
		}
	}
	c := NewCorrelator(cfg)
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	tick := func() {
		if now().After(wait) {
			stop()
			return
		}
		for _, id := range ids {
			if settled[id] {
				continue
			}
			fls := c.OpenMatching(id)
			if len(fls) == 0 {
				return
			}
			for _, fl := range fls {
				if !chk.settled(fl, now()) {
					return
				}
			}
		}
		stop() // every id's flow has settled: nothing more to wait for
	}
	every := time.Duration(0)
	if live {
		every = 200 * time.Millisecond
	}
	latest, err := c.Drive(dctx, in, every, tick)
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		return nil, nil, err
	}
	at := end(latest)
	c.EachOpen(func(fl *Flow) {
		if matches(fl) {
			chk.Check(fl, true, at)
		}
	})
	types = c.Types()
	seen := map[string]bool{}
	for _, t := range types {
		seen[t] = true
	}
	chk.CheckSeen(func(t string) bool { return seen[t] })
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return types, missing, nil
}

// settled reports whether every expectation fl starts has passed, or has
// failed in a way more events cannot change, at now.
func (c *Checker) settled(fl *Flow, now time.Time) bool {
	started := false
	for _, e := range c.Expectations {
		if !fl.Has(e.Steps[0]) {
			continue
		}
		started = true
		if v, ok := evaluate(e, fl, true, now); !ok && v.Pending {
			return false
		}
	}
	return started
}
