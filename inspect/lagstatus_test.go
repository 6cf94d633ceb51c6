package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// evalSeq feeds the evaluator one partition's samples, one a minute, and
// returns the status after the last. owned says a live member holds the
// partition.
func evalSeq(t *testing.T, owned bool, offsets, lags []int64) Status {
	t.Helper()
	e := NewEvaluator(10)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var st Status
	for i := range offsets {
		member := ""
		if owned {
			member = "m-1"
		}
		g := []GroupLag{{Group: "g", Partitions: []PartitionLag{{Topic: "t", Committed: offsets[i], Lag: lags[i], Member: member}}}}
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
		want    Status
	}{
		{"one sample, lag 0", true, []int64{10}, []int64{0}, StatusOK},
		{"one sample, lagging: cannot judge", true, []int64{10}, []int64{5}, StatusUnknown},
		{"rule 1: lag was 0 in the window", true, []int64{10, 20, 30}, []int64{0, 5, 9}, StatusOK},
		{"rule 2: rewind", true, []int64{10, 20, 15}, []int64{5, 5, 20}, StatusRewind},
		{"rule 3: stopped committing (no owner)", false, []int64{10, 10, 10}, []int64{5, 8, 12}, StatusStop},
		{"rule 3: moved, then stopped longer than it moved", false, []int64{10, 20, 20, 20, 20}, []int64{5, 5, 8, 9, 12}, StatusStop},
		{"rule 4: stalled (owner alive, offset fixed)", true, []int64{10, 10, 10}, []int64{5, 8, 12}, StatusStall},
		{"rule 5: too slow, lag never decreases", true, []int64{10, 20, 30}, []int64{5, 5, 9}, StatusWarn},
		{"keeping up: lag decreased once", true, []int64{10, 20, 30}, []int64{5, 9, 7}, StatusOK},
		{"unowned but advancing", false, []int64{10, 20, 30}, []int64{9, 8, 7}, StatusOK},
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
	if got := evalSeq(t, true, offsets, lags); got != StatusWarn {
		t.Errorf("%v; want WARN once the zero-lag sample left the window", got)
	}
}

// TestGroupStatus: a group is its worst partition, STOP/STALL/REWIND as ERR;
// unknown only when nothing is known to be wrong.
func TestGroupStatus(t *testing.T) {
	e := NewEvaluator(10)
	t0 := time.Now()
	mk := func(off, lag int64) []GroupLag {
		return []GroupLag{{Group: "g", Partitions: []PartitionLag{
			{Topic: "t", Partition: 0, Committed: off, Lag: lag, Member: "m"},
			{Topic: "t", Partition: 1, Committed: 5, Lag: 0, Member: "m"},
			{Topic: "t", Partition: 2, Committed: -1, Lag: -1},
		}}}
	}
	g := mk(10, 3)
	e.Observe(t0, g)
	if g[0].Status != StatusUnknown {
		t.Fatalf("first sample: %v", g[0].Status)
	}
	g = mk(10, 4)
	e.Observe(t0.Add(time.Second), g)
	if g[0].Status != StatusErr || g[0].Worst != StatusStall || g[0].Partitions[2].Status != StatusUnknown {
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
	s := &LagSnapshot{
		Groups: []GroupLag{
			{Group: "orders-svc", Lag: 20, TimeLag: 45 * time.Second, Status: StatusErr, Worst: StatusStall},
			{Group: "billing", Lag: 5, TimeLag: -1, Status: StatusUnknown},
		},
		Queues: []QueueLag{{Queue: "mail", Ready: 2000, HeadAge: -1}},
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

// TestWriteLagJSON: the documented schema, nulls for unknowns, and
// terminal-safe names.
func TestWriteLagJSON(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rate := 1.5
	s := &LagSnapshot{Time: now, Isolation: "read_committed", Samples: 1, Window: 10,
		Groups: []GroupLag{{Group: "g\u202e", Type: "classic", State: "Stable", Status: StatusOK, Worst: StatusOK, Lag: 3, OffsetLag: 4, TimeLag: 1500 * time.Millisecond,
			Members: []MemberLag{{ID: "m", ClientID: "c", Host: "/h", Assigned: map[string][]int32{"t": {0}}}},
			Topics:  []TopicLag{{Topic: "t", Partitions: 2, Lag: 3, OffsetLag: 4, TimeLag: 1500 * time.Millisecond}},
			Partitions: []PartitionLag{{Topic: "t", Partition: 0, Committed: 1, LogStart: 0, End: 5, Lag: 3, OffsetLag: 4, TimeLag: 1500 * time.Millisecond, HeadOffset: 1, HeadTime: now.Add(-1500 * time.Millisecond), Member: "m", ClientID: "c", Status: StatusOK},
				{Topic: "t", Partition: 1, Committed: -1, LogStart: 0, End: 5, Lag: -1, OffsetLag: -1, TimeLag: -1, HeadOffset: -1, Note: "no committed offset"}}}},
		Queues: []QueueLag{{Queue: "q", Vhost: "/", Type: "quorum", Ready: 5, Unacked: 1, Consumers: 2, PublishRate: &rate, HeadAge: -1, Via: "management", Note: "head age unknown"}},
	}
	var buf bytes.Buffer
	if err := WriteLag(&buf, s, LagWriteOptions{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\u202e") {
		t.Fatal("bidi control written raw")
	}
	var v struct {
		Groups []struct {
			Group      string
			State      string
			Status     string
			Lag        int64
			TimeLag    *float64 `json:"time_lag_seconds"`
			Partitions []struct {
				Topic     string
				Partition int32
				Committed *int64
				End       *int64
				Lag       *int64
				TimeLag   *float64 `json:"time_lag_seconds"`
				Status    *string
			}
		}
		Queues []struct {
			Queue            string
			Ready, Consumers int64
			Unacked          *int64
			HeadAge          *float64 `json:"head_age_seconds"`
			DeliverRate      *float64 `json:"deliver_rate"`
			PublishRate      *float64 `json:"publish_rate"`
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	g := v.Groups[0]
	if g.Group != "g\u202e" || g.Status != "OK" || g.Lag != 3 || *g.TimeLag != 1.5 || *g.Partitions[0].Committed != 1 || *g.Partitions[0].Status != "OK" {
		t.Errorf("group: %+v", g)
	}
	p1 := g.Partitions[1]
	if p1.Committed != nil || p1.Lag != nil || p1.TimeLag != nil || p1.Status != nil || *p1.End != 5 {
		t.Errorf("unknowns must be null: %s", buf.String())
	}
	q := v.Queues[0]
	if q.Ready != 5 || *q.Unacked != 1 || q.HeadAge != nil || q.DeliverRate != nil || *q.PublishRate != 1.5 {
		t.Errorf("queue: %s", buf.String())
	}

	buf.Reset()
	if err := WriteLag(&buf, s, LagWriteOptions{Format: "table", Partitions: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GROUP / TOPIC", "g\\u202e", "1.5s", "HEAD AGE", "-  unknown"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
