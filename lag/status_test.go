package lag

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/inspect"
)

// evalSeq feeds the evaluator one partition's samples, one a minute, and
// returns the status after the last. owned says a live member holds the
// partition.
func evalSeq(t *testing.T, owned bool, offsets, lags []int64) inspect.Status {
	t.Helper()
	e := NewEvaluator(10)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var st inspect.Status
	for i := range offsets {
		member := ""
		if owned {
			member = "m-1"
		}
		g := []inspect.GroupLag{{Group: "g", Partitions: []inspect.PartitionLag{{Topic: "t", Committed: offsets[i], Lag: lags[i], Member: member}}}}
		e.Observe(t0.Add(time.Duration(i)*time.Minute), g)
		st = g[0].Partitions[0].Status
	}
	return st
}

// TestBurrowRules mirrors Burrow's evaluator tests (caching_test.go): each
// rule on a window of observations.
func TestBurrowRules(t *testing.T) {
	for _, c := range []struct {
		name    string
		owned   bool
		offsets []int64
		lags    []int64
		want    inspect.Status
	}{
		{"one sample, lag 0", true, []int64{10}, []int64{0}, inspect.StatusOK},
		{"one sample, lagging: cannot judge", true, []int64{10}, []int64{5}, inspect.StatusUnknown},
		{"rule 1: lag was 0 in the window", true, []int64{10, 20, 30}, []int64{0, 5, 9}, inspect.StatusOK},
		{"rule 2: rewind", true, []int64{10, 20, 15}, []int64{5, 5, 20}, inspect.StatusRewind},
		{"rule 3: stopped committing (no owner)", false, []int64{10, 10, 10}, []int64{5, 8, 12}, inspect.StatusStop},
		{"rule 3: moved, then stopped longer than it moved", false, []int64{10, 20, 20, 20, 20}, []int64{5, 5, 8, 9, 12}, inspect.StatusStop},
		{"rule 4: stalled (owner alive, offset fixed)", true, []int64{10, 10, 10}, []int64{5, 8, 12}, inspect.StatusStall},
		{"rule 5: too slow, lag never decreases", true, []int64{10, 20, 30}, []int64{5, 5, 9}, inspect.StatusWarn},
		{"keeping up: lag decreased once", true, []int64{10, 20, 30}, []int64{5, 9, 7}, inspect.StatusOK},
		{"unowned but advancing", false, []int64{10, 20, 30}, []int64{9, 8, 7}, inspect.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := evalSeq(t, c.owned, c.offsets, c.lags); got != c.want {
				t.Errorf("%v; want %v", got, c.want)
			}
		})
	}
}

// TestBurrowWindowSlides: only the last Window samples count, so a lag of 0
// eleven samples ago no longer makes the partition OK.
func TestBurrowWindowSlides(t *testing.T) {
	offsets, lags := []int64{0}, []int64{0}
	for i := 1; i <= 10; i++ {
		offsets = append(offsets, int64(i*10))
		lags = append(lags, int64(i))
	}
	if got := evalSeq(t, true, offsets, lags); got != inspect.StatusWarn {
		t.Errorf("%v; want WARN once the zero-lag sample left the window", got)
	}
}

// TestGroupStatus: a group is its worst partition, STOP/STALL/REWIND as ERR;
// unknown only when nothing is known to be wrong.
func TestGroupStatus(t *testing.T) {
	e := NewEvaluator(10)
	t0 := time.Now()
	mk := func(off, lag int64) []inspect.GroupLag {
		return []inspect.GroupLag{{Group: "g", Partitions: []inspect.PartitionLag{
			{Topic: "t", Partition: 0, Committed: off, Lag: lag, Member: "m"},
			{Topic: "t", Partition: 1, Committed: 5, Lag: 0, Member: "m"},
			{Topic: "t", Partition: 2, Committed: -1, Lag: -1},
		}}}
	}
	g := mk(10, 3)
	e.Observe(t0, g)
	if g[0].Status != inspect.StatusUnknown {
		t.Fatalf("first sample: %v", g[0].Status)
	}
	g = mk(10, 4)
	e.Observe(t0.Add(time.Second), g)
	if g[0].Status != inspect.StatusErr || g[0].Worst != inspect.StatusStall || g[0].Partitions[2].Status != inspect.StatusUnknown {
		t.Fatalf("second sample: %v (%v)", g[0].Status, g[0].Worst)
	}
}

func TestParseLagCheck(t *testing.T) {
	for _, ok := range []string{"lag>1000", "time_lag>30s", "status>=WARN", "orders-svc:lag>10", "a:b:c:offset_lag != 0", "orders-*:time_lag>=1.5", "status>=err"} {
		if _, err := ParseLagCheck(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "lag", "lag>>1", "lag>abc", "time_lag>fast", "status>=MEH", "status>=UNKNOWN", "bytes>1", "lag>-1", "[:lag>1"} {
		if _, err := ParseLagCheck(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	c, _ := ParseLagCheck("a:b:lag>1")
	if c.Target != "a:b" || c.Metric != "lag" {
		t.Errorf("group names with colons: %+v", c)
	}
}

func TestCheckLag(t *testing.T) {
	s := &inspect.LagSnapshot{
		Groups: []inspect.GroupLag{
			{Group: "orders-svc", Lag: 20, TimeLag: 45 * time.Second, Status: inspect.StatusErr, Worst: inspect.StatusStall},
			{Group: "billing", Lag: 5, TimeLag: -1, Status: inspect.StatusUnknown},
		},
		Queues: []inspect.QueueLag{{Queue: "mail", Ready: 2000, HeadAge: -1}},
	}
	checks := func(ss ...string) []LagCheck {
		var cs []LagCheck
		for _, x := range ss {
			c, err := ParseLagCheck(x)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		return cs
	}
	got := CheckLag(s, checks("lag>1000", "time_lag>30s", "status>=WARN", "billing:lag>10", "orders-svc:lag>10", "missing:lag>0", "status>=REWIND"))
	var lines []string
	for _, v := range got {
		lines = append(lines, v.String())
	}
	want := []string{
		"lag>1000: queue mail has 2000 ready messages",
		"time_lag>30s: group orders-svc has time lag 45.0s",
		"status>=WARN: group orders-svc has status ERR (STALL)",
		"orders-svc:lag>10: group orders-svc has lag 20",
		"missing:lag>0: no group or queue missing",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
