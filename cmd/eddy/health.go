package main

import (
	"github.com/eddy-sh/eddy/bus"
)

// healthNotice is a live reader's bus.ReadOptions.OnHealth: one prefixed
// line on stderr when the broker has been unreachable for --timeout (the
// reader keeps retrying), one when it answers again; never a line per retry.
func healthNotice(f *Factory) func(bus.Health) {
	return func(h bus.Health) {
		notef(f.IO.ErrOut, "%s", h.String())
	}
}
