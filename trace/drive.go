package trace

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// Input is what a trace reads: a Source, or captures in regular files, which
// ReadCapture reads on every core (the way a large capture is traced).
type Input struct {
	Source bus.Source
	// Captures are read one after the other when Source is nil, with Keep
	// and SkipBad (as in CaptureOptions).
	Captures []*os.File
	Keep     func(*event.Event) bool
	SkipBad  bool
	// Skipped, when set, is told of the malformed lines skipped in each
	// capture (only when there were some, and the capture was read to its
	// end).
	Skipped func(name string, lines int)
}

// Drive feeds in into c until the end of input or ctx, calling tick every
// interval (when > 0) and finalising idle flows (Expire) as it goes. It
// returns the latest broker timestamp seen.
func (c *Correlator) Drive(ctx context.Context, in Input, every time.Duration, tick func()) (time.Time, error) {
	if in.Source != nil {
		return c.drive(ctx, in.Source, every, tick)
	}
	var latest time.Time
	for _, r := range in.Captures {
		res, err := c.ReadCapture(ctx, r, CaptureOptions{Name: r.Name(), Keep: in.Keep, SkipBad: in.SkipBad, Every: every, Tick: tick})
		if res.Latest.After(latest) {
			latest = res.Latest
		}
		if err != nil {
			return latest, err
		}
		if res.Skipped > 0 && in.Skipped != nil {
			in.Skipped(r.Name(), res.Skipped)
		}
	}
	return latest, nil
}

// drive is Drive from a source: it is read on its own goroutine, so that the
// ticks come on time while a Next waits.
func (c *Correlator) drive(ctx context.Context, src bus.Source, every time.Duration, tick func()) (time.Time, error) {
	type batch struct {
		evs []event.Event
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan batch, 4)
	go func() {
		defer close(ch)
		for {
			evs, err := src.Next(ctx)
			select {
			case ch <- batch{evs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var latest time.Time
	var tc <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tc = t.C
	}
	// Idle flows are looked for at most every second of wall time: Expire is
	// cheap but need not run per batch.
	lastExpire := time.Now()
	for {
		select {
		case <-ctx.Done():
			return latest, ctx.Err()
		case <-tc:
			c.Expire()
			tick()
		case b := <-ch:
			for i := range b.evs {
				c.Add(&b.evs[i])
				if t := b.evs[i].Timestamp; t.After(latest) {
					latest = t
				}
			}
			if time.Since(lastExpire) > time.Second {
				c.Expire()
				lastExpire = time.Now()
			}
			if errors.Is(b.err, io.EOF) {
				return latest, nil
			}
			if b.err != nil {
				return latest, b.err
			}
		}
	}
}

// Find is `eddy trace ID`: it reads in into a Correlator made with cfg (as
// Drive does) and returns the flows that match id (Flow.Matches), those
// finalised while reading and then those still open, and the Correlator,
// for what else is open. cfg.OnFlow still receives every finalised flow;
// cfg.Borrow is ignored (the flows found are kept). On error the flows are
// those found so far.
func Find(ctx context.Context, in Input, cfg Config, id string) ([]*Flow, *Correlator, error) {
	var found []*Flow
	onFlow := cfg.OnFlow
	cfg.Borrow = false
	cfg.OnFlow = func(fl *Flow) {
		if onFlow != nil {
			onFlow(fl)
		}
		if fl.Matches(id) {
			found = append(found, fl)
		}
	}
	c := NewCorrelator(cfg)
	if _, err := c.Drive(ctx, in, 0, nil); err != nil {
		return found, c, err
	}
	return append(found, c.OpenMatching(id)...), c, nil
}

// Expect is `eddy expect`: it reads in into a Correlator made with cfg and
// judges every flow with chk, each as it is finalised (the judgement keeps
// none of it, so flows are lent), then those still open when the input ends
// against end(latest), the end of the window given the latest broker
// timestamp read; then the step types never seen. It returns the types read.
func Expect(ctx context.Context, in Input, cfg Config, chk *Checker, end func(latest time.Time) time.Time) ([]string, error) {
	cfg.Borrow = true
	cfg.OnFlow = func(fl *Flow) { chk.Check(fl, false, time.Time{}) }
	c := NewCorrelator(cfg)
	latest, err := c.Drive(ctx, in, 0, nil)
	if err != nil {
		return nil, err
	}
	at := end(latest)
	c.EachOpen(func(fl *Flow) { chk.Check(fl, true, at) })
	types := c.Types()
	seen := map[string]bool{}
	for _, t := range types {
		seen[t] = true
	}
	chk.CheckSeen(func(t string) bool { return seen[t] })
	return types, nil
}
