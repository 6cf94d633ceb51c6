package eos

import "time"

// SetWaits shortens idle and assignWait for a test; the returned func
// restores them.
func SetWaits(idleFor, assignFor time.Duration) (restore func()) {
	oi, oa := idle, assignWait
	idle, assignWait = idleFor, assignFor
	return func() { idle, assignWait = oi, oa }
}
