package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/inspect"
)

// TestLagDemoSlowIsWarn (issue 13, item 18): `eddy demo --slow payments` on
// the demo's defaults (six partitions, two instances per service) makes
// payments fall behind on every partition with its commits moving on all of
// them, so `eddy lag --watch 2s` shows WARN, never ERR (STALL): it once
// polled five records at a time from the front of a fetch and starved four
// of the six partitions. It samples through the lag evaluator as eddy lag
// --watch does, until the condition or a deadline.
func TestLagDemoSlowIsWarn(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the demo for about 20 s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, demo.Config{Rate: 20, BurstEvery: -1, FailRate: -1, PoisonEvery: -1, Slow: []string{"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	group := demo.Group("payments")
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": d.Addr(), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	const interval, window = 2 * time.Second, 6
	m, closeFn, err := lagMonitor(f, []string{"kafka:" + group}, window, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	trySample := func() (inspect.GroupLag, error) {
		s, err := m.Sample(ctx)
		if err != nil {
			return inspect.GroupLag{}, err
		}
		for _, g := range s.Groups {
			if g.Group == group {
				return g, nil
			}
		}
		return inspect.GroupLag{}, fmt.Errorf("no group %s in the sample", group)
	}
	sample := func() inspect.GroupLag {
		t.Helper()
		g, err := trySample()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	committed := func(g inspect.GroupLag) map[string]int64 {
		c := map[string]int64{}
		for _, p := range g.Partitions {
			c[fmt.Sprintf("%s[%d]", p.Topic, p.Partition)] = p.Committed
		}
		return c
	}
	// The slowed group first commits on every partition it reads (until it
	// has joined, the group is not there to sample).
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.Now().Add(45 * time.Second)
	var first inspect.GroupLag
	for {
		first, err = trySample()
		n := 0
		for _, p := range first.Partitions {
			if p.Committed >= 0 {
				n++
			}
		}
		if len(first.Partitions) >= 6 && n == len(first.Partitions) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not committed on every partition within 45s: %v (%v)", group, committed(first), err)
		}
		<-tick.C
	}
	// From then on every sample sees every partition's commit move, the
	// lag grow, and the group never STALL (or STOP); the window ends WARN.
	prev := first
	var g inspect.GroupLag
	for i := 2; i <= window; i++ {
		<-tick.C
		g = sample()
		pc, gc := committed(prev), committed(g)
		for p, at := range gc {
			if at <= pc[p] {
				t.Errorf("sample %d: %s's commit on %s did not move (%d -> %d); commits %v", i, group, p, pc[p], at, gc)
			}
		}
		if g.Worst > inspect.StatusErr {
			t.Errorf("sample %d: %s is %s (%s), want WARN; commits %v", i, group, g.Status, g.Worst, gc)
		}
		prev = g
	}
	if g.Status != inspect.StatusWarn || g.Lag <= first.Lag {
		t.Fatalf("after %d samples %s is %s (%s) with lag %d (from %d), want WARN and a growing lag", window, group, g.Status, g.Worst, g.Lag, first.Lag)
	}
	t.Logf("%s WARN: lag %d -> %d; commits %v -> %v", group, first.Lag, g.Lag, committed(first), committed(g))
}
