package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/replay"
)

// progress draws one line on stderr when it is a terminal, at most ten
// times a second.
type progress struct {
	f     *Factory
	label string // the command, "replay" when empty
	mu    sync.Mutex
	last  time.Time
	drew  bool
}

func newProgress(f *Factory) *progress { return &progress{f: f} }

func (p *progress) update(s replay.Summary) {
	if !p.f.IO.ErrTTY {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Moved) / s.Elapsed.Seconds()
	}
	label := p.label
	if label == "" {
		label = "replay"
	}
	fmt.Fprintf(p.f.IO.ErrOut, "\r\x1b[K%s: %d moved, %d skipped, %d filtered out, %.0f/s", label, s.Moved, s.Skipped, s.Filtered, rate)
	p.drew = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprint(p.f.IO.ErrOut, "\r\x1b[K")
	}
}
