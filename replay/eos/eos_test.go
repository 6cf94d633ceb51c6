package eos_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/eos"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func fixture(t *testing.T, seeds []string, n int) string {
	t.Helper()
	topic := kafkatest.NewTopic(t, seeds, 3)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte("k" + strconv.Itoa(i)),
			Value:   []byte("v" + strconv.Itoa(i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}}}
	}
	kafkatest.Produce(t, seeds, recs...)
	return topic
}

func options(t *testing.T, seeds []string, job, from, to string) eos.Options {
	t.Helper()
	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return eos.Options{Client: c, Job: job, Topics: []string{from}, Target: to, MaxRecords: 40}
}

func checkOnce(t *testing.T, seeds []string, to string, n int) {
	t.Helper()
	got := countCommitted(t, seeds, to)
	if len(got) != n {
		t.Fatalf("a read_committed reader sees %d distinct records, want %d", len(got), n)
	}
	for v, c := range got {
		if c != 1 {
			t.Fatalf("record %s landed %d times", v, c)
		}
	}
}

// countCommitted counts each value a read_committed reader sees in topic,
// reading until a consumer that keeps markers reaches the last stable offset
// of every partition.
func countCommitted(t *testing.T, seeds []string, topic string) map[string]int {
	t.Helper()
	return count(t, seeds, topic, true)
}

func count(t *testing.T, seeds []string, topic string, committed bool) map[string]int {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl := kafkatest.Client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())
	adm := kadm.NewClient(cl)
	var ends kadm.ListedOffsets
	var err error
	if committed {
		ends, err = adm.ListCommittedOffsets(ctxT(t), topic)
	} else {
		ends, err = adm.ListEndOffsets(ctxT(t), topic)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	pos := map[int32]int64{}
	got := map[string]int{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			pos[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				got[string(r.Value)]++
			}
		})
		for p, e := range want {
			if pos[p] >= e {
				delete(want, p)
			}
		}
	}
	return got
}

func TestExactlyOnceAndRerunMovesNothing(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	from := fixture(t, seeds, 300)
	to := kafkatest.NewTopic(t, seeds, 3)
	o := options(t, seeds, kafkatest.UniqueName(t), from, to)

	sum, err := eos.Run(ctxT(t), o)
	if err != nil || sum.Moved != 300 || !sum.Done {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	checkOnce(t, seeds, to, 300)

	sum, err = eos.Run(ctxT(t), o)
	if err != nil || sum.Moved != 0 || !sum.Done {
		t.Fatalf("rerun: %+v, %v; want 0 moved", sum, err)
	}
	checkOnce(t, seeds, to, 300)
}

func TestStopThenResumeIsExactlyOnce(t *testing.T) {
	t.Run("kfake", func(t *testing.T) { testStopThenResume(t, kafkatest.Cluster(t)) })
	t.Run("real", func(t *testing.T) { testStopThenResume(t, kafkatest.Real(t)) })
}

func testStopThenResume(t *testing.T, seeds []string) {
	from := fixture(t, seeds, 300)
	to := kafkatest.NewTopic(t, seeds, 3)
	o := options(t, seeds, kafkatest.UniqueName(t), from, to)

	ctx, cancel := context.WithCancel(ctxT(t))
	o.Progress = func(s replay.Summary) {
		if s.Moved >= 80 {
			cancel()
		}
	}
	sum, err := eos.Run(ctx, o)
	if !errors.Is(err, context.Canceled) || !sum.Stopped || sum.Moved < 80 || sum.Moved >= 300 {
		t.Fatalf("stopped run: %+v, %v", sum, err)
	}
	first := sum.Moved
	o.Progress = nil
	sum, err = eos.Run(ctxT(t), o)
	if err != nil || first+sum.Moved != 300 {
		t.Fatalf("resumed run: %+v, %v; want %d moved", sum, err, 300-first)
	}
	checkOnce(t, seeds, to, 300)
}

// groupOffsets returns the committed offsets of the job's group, summed.
func groupOffsets(t *testing.T, seeds []string, job string) int64 {
	t.Helper()
	os, err := kafkatest.Admin(t, seeds).FetchOffsets(context.Background(), eos.GroupName(job))
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	os.Each(func(o kadm.OffsetResponse) { sum += o.At })
	return sum
}

// faultCluster is an in-process cluster (for fault injection) with a
// fixture topic of n records and an empty 3-partition target.
func faultCluster(t *testing.T, n int) (c *kfake.Cluster, seeds []string, from, to string) {
	c = kafkatest.NewCluster(t)
	seeds = c.ListenAddrs()
	return c, seeds, fixture(t, seeds, n), kafkatest.NewTopic(t, seeds, 3)
}

// slowFirstJoin makes c answer the first group join d late; the flag says
// whether a join came (and was slowed).
func slowFirstJoin(c *kfake.Cluster, d time.Duration) *atomic.Bool {
	var slowed atomic.Bool
	c.ControlKey(int16(kmsg.JoinGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !slowed.Swap(true) {
			c.SleepControl(func() { time.Sleep(d) })
		}
		return nil, nil, false
	})
	return &slowed
}

// TestSlowGroupJoinIsNotIdleness: a coordinator that takes longer than the
// idle time to answer the group join (a loaded cluster, a rebalance delay)
// does not end the run early, as done with nothing moved, nor fail it with
// the poll's own timeout: idleness counts from the assignment.
func TestSlowGroupJoinIsNotIdleness(t *testing.T) {
	defer eos.SetWaits(200*time.Millisecond, time.Minute)()
	c, seeds, from, to := faultCluster(t, 300)
	// Fault injection, not synchronisation: the join is answered five idle
	// periods late.
	slowed := slowFirstJoin(c, time.Second)
	sum, err := eos.Run(ctxT(t), options(t, seeds, kafkatest.UniqueName(t), from, to))
	if err != nil || sum.Moved != 300 || !sum.Done {
		t.Fatalf("run behind a slow join: %+v, %v; want all 300 moved", sum, err)
	}
	if !slowed.Load() {
		t.Fatal("the join was never slowed: the test tested nothing")
	}
	checkOnce(t, seeds, to, 300)
}

// TestNoAssignmentFails: a group that never gives the run its partitions
// fails the run with a clear error instead of calling it done.
func TestNoAssignmentFails(t *testing.T) {
	defer eos.SetWaits(200*time.Millisecond, 600*time.Millisecond)()
	c, seeds, from, to := faultCluster(t, 30)
	// Answered well after assignWait (and soon enough that the run's
	// client closes without waiting for kgo's timeout).
	slowFirstJoin(c, 1500*time.Millisecond)
	sum, err := eos.Run(ctxT(t), options(t, seeds, kafkatest.UniqueName(t), from, to))
	if err == nil || sum.Done || sum.Moved != 0 || !strings.Contains(err.Error(), "assigned this run no partitions") {
		t.Fatalf("run without an assignment: %+v, %v; want the assignment error", sum, err)
	}
}

func TestFailedEndTxnAdvancesNoOffsetsAndResumesWithoutGaps(t *testing.T) {
	c, seeds, from, to := faultCluster(t, 300)
	o := options(t, seeds, kafkatest.UniqueName(t), from, to)

	// The third commit fails as an ambiguous server error.
	kafkatest.FailCommit(c, 3)
	var before, aborted int64 = 0, 0
	var checked bool
	o.OnEnd = func(committed bool) {
		now := groupOffsets(t, seeds, o.Job)
		if !committed {
			aborted++
			if now != before {
				t.Errorf("offsets moved on a failed commit: %d -> %d", before, now)
			}
			checked = true
		}
		before = now
	}
	sum, err := eos.Run(ctxT(t), o)
	if err != nil {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	if !checked || aborted != 1 || sum.Moved != 300 {
		t.Fatalf("aborted %d transactions (%+v), want 1 and 300 moved", aborted, sum)
	}
	checkOnce(t, seeds, to, 300)
	// The aborted batch was written: a read_uncommitted reader sees it twice.
	total := 0
	for _, n := range count(t, seeds, to, false) {
		total += n
	}
	if total != 300+40 {
		t.Fatalf("a read_uncommitted reader sees %d records, want 340 (300 and the aborted 40)", total)
	}
}

func TestFailedInitProducerIDMovesNothingAndRerunMovesAll(t *testing.T) {
	c, seeds, from, to := faultCluster(t, 120)
	o := options(t, seeds, kafkatest.UniqueName(t), from, to)

	kafkatest.RefuseInitProducerID(c)
	sum, err := eos.Run(ctxT(t), o)
	if err == nil || sum.Moved != 0 {
		t.Fatalf("run with a failing InitProducerID: %+v, %v; want an error and nothing moved", sum, err)
	}
	if n := groupOffsets(t, seeds, o.Job); n != 0 {
		t.Fatalf("the failed run committed offsets (sum %d)", n)
	}
	sum, err = eos.Run(ctxT(t), o)
	if err != nil || sum.Moved != 120 {
		t.Fatalf("rerun: %+v, %v", sum, err)
	}
	checkOnce(t, seeds, to, 120)
}

// TestBinaryAndLargeRecordsByteExact: a 10 MB record and binary key, value
// and header bytes arrive exactly (sha256 compared).
func TestBinaryAndLargeRecordsByteExact(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	big := map[string]string{"max.message.bytes": "16777216"}
	from := kafkatest.NewTopicWith(t, seeds, 1, big)
	to := kafkatest.NewTopicWith(t, seeds, 1, big)
	large := make([]byte, 10<<20)
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	for i := range large {
		large[i] = byte(i*7 + i>>8)
	}
	cl := kafkatest.Client(t, seeds, kgo.ProducerBatchMaxBytes(16<<20), kgo.DefaultProduceTopic(from))
	if err := cl.ProduceSync(ctxT(t),
		&kgo.Record{Key: binary, Value: binary, Headers: []kgo.RecordHeader{{Key: "b", Value: binary}}},
		&kgo.Record{Value: large},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sum, err := eos.Run(ctxT(t), options(t, seeds, kafkatest.UniqueName(t), from, to))
	if err != nil || sum.Moved != 2 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	rd := kafkatest.Client(t, seeds, kgo.ConsumeTopics(to), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []*kgo.Record
	for len(got) < 2 {
		fs := rd.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fs.Records()...)
	}
	if sha256.Sum256(got[0].Key) != sha256.Sum256(binary) || sha256.Sum256(got[0].Value) != sha256.Sum256(binary) ||
		got[0].Headers[0].Key != "b" || sha256.Sum256(got[0].Headers[0].Value) != sha256.Sum256(binary) {
		t.Fatalf("binary record changed: %+v", got[0])
	}
	if got[1].Key != nil || sha256.Sum256(got[1].Value) != sha256.Sum256(large) {
		t.Fatalf("10 MB record changed (%d bytes)", len(got[1].Value))
	}
}
