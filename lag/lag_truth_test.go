package lag_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
)

// The tests in this file compute each expected figure from the fixture they
// write (the timestamps they stamp, the records they commit), never from
// eddy's code.

// bigBatchProducer is a producer that puts every record of a partition
// produced at once into one uncompressed batch of up to 1 MB, as librdkafka
// and franz-go do by default with linger.
func bigBatchProducer(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	return kafkatest.Client(t, seeds, append([]kgo.Opt{kgo.ProducerLinger(500 * time.Millisecond), kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
}

func produceAll(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", len(recs), err)
	}
}

func randomValue(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestLagBigBatchesRepeatable: 8 partitions whose unread head sits in one
// ~52 KB batch each (bigger than any per-partition chunk of a fetch, and a
// broker returns an oversize batch only for the first partition of a
// response). Five samples by five fresh readers give the same figures, every
// partition's time lag known and equal to the age of its first record.
func TestLagBigBatchesRepeatable(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		const parts, perPart, size = 8, 52, 1000
		topic := kafkatest.NewTopic(t, seeds, parts)
		base := time.Now().Add(-10 * time.Hour).Truncate(time.Millisecond)
		var recs []*kgo.Record
		for p := range int32(parts) {
			for i := range perPart {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: randomValue(size),
					Timestamp: base.Add(time.Duration(p)*time.Hour + time.Duration(i)*time.Millisecond)})
			}
		}
		produceAll(t, bigBatchProducer(t, seeds), recs)
		g := kafkatest.UniqueName(t)
		offs := map[int32]int64{}
		for p := range int32(parts) {
			offs[p] = 0
		}
		commit(t, seeds, g, topic, offs)
		now := base.Add(12 * time.Hour)
		var first string
		for run := range 5 {
			m, _ := monitor(t, seeds, func() time.Time { return now }, g)
			gl := group(t, sample(t, m), g)
			var b strings.Builder
			for p := range int32(parts) {
				pl := part(t, gl, topic, p)
				want := now.Sub(base.Add(time.Duration(p) * time.Hour))
				if pl.TimeLag != want || pl.Lag != perPart || pl.LagInexact {
					t.Errorf("run %d partition %d: time lag %v, lag %d (inexact %v, note %q); want %v, %d exact", run, p, pl.TimeLag, pl.Lag, pl.LagInexact, pl.Note, want, perPart)
				}
				fmt.Fprintf(&b, "%d:%v:%d ", p, pl.TimeLag, pl.Lag)
			}
			if want := now.Sub(base); gl.TimeLag != want || gl.TimeLagInexact {
				t.Errorf("run %d: group time lag %v (inexact %v); want %v", run, gl.TimeLag, gl.TimeLagInexact, want)
			}
			if run == 0 {
				first = b.String()
			} else if b.String() != first {
				t.Errorf("run %d gave %s; run 0 gave %s", run, b.String(), first)
			}
		}
	})
}

// transact runs one transaction of recs on p and commits or aborts it.
func transact(t *testing.T, p *kgo.Client, recs []*kgo.Record, end kgo.TransactionEndTry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
}

// TestLagAbortedTransaction: a committed offset just before a 20,000-record
// aborted transaction followed by 10 committed records: 10 records to read,
// and the time lag is the age of the first of them.
func TestLagAbortedTransaction(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 1)
		// Batches of 16 KiB, as a producer with little linger makes: the
		// aborted range is many batches long.
		p := bigBatchProducer(t, seeds, kgo.TransactionalID(kafkatest.UniqueName(t)), kgo.ProducerBatchMaxBytes(16<<10))
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var aborted, kept []*kgo.Record
		for i := range 20000 {
			aborted = append(aborted, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("aborted-%d", i)), Timestamp: base})
		}
		for i := range 10 {
			kept = append(kept, &kgo.Record{Topic: topic, Value: []byte("kept"), Timestamp: base.Add(time.Minute + time.Duration(i)*time.Second)})
		}
		transact(t, p, aborted, kgo.TryAbort) // 0-19999, marker 20000
		transact(t, p, kept, kgo.TryCommit)   // 20001-20010, marker 20011
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 0})
		waitEnd(t, seeds, topic, 20012)
		now := base.Add(2 * time.Hour)
		for run := range 3 {
			m, _ := monitor(t, seeds, func() time.Time { return now }, g)
			pl := part(t, group(t, sample(t, m), g), topic, 0)
			if pl.Lag != 10 || pl.LagInexact || pl.HeadOffset != kept[0].Offset || pl.TimeLag != now.Sub(kept[0].Timestamp) {
				t.Errorf("run %d: %+v; want lag 10 (exact) from offset %d, time lag %v", run, pl, kept[0].Offset, now.Sub(kept[0].Timestamp))
			}
			if pl.OffsetLag != 20012 {
				t.Errorf("run %d: offset lag %d; want 20012 (high watermark - committed)", run, pl.OffsetLag)
			}
		}
	})
}

// waitEnd waits until the last stable offset of partition 0 is end.
func waitEnd(t *testing.T, seeds []string, topic string, end int64) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, fmt.Sprintf("the last stable offset to reach %d", end), func() bool {
		lo, err := kafkatest.Admin(t, seeds).ListCommittedOffsets(context.Background(), topic)
		if err != nil {
			return false
		}
		o, _ := lo.Lookup(topic, 0)
		return o.Offset == end
	})
}

// TestLagReadBudget: a rest longer than the read budget is a range, never a
// silently wrong count: the true count (300 records, then a 50-record aborted
// transaction, then 10 committed records) lies in [lag_min, lag], lag_exact
// is false, a note says why, and a gate the range straddles fails. Read
// again with the default budget, the same state gives the exact count.
func TestLagReadBudget(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 1)
		var plain []*kgo.Record
		for range 300 {
			plain = append(plain, &kgo.Record{Topic: topic, Value: randomValue(1000)})
		}
		produceAll(t, bigBatchProducer(t, seeds), plain) // 0-299
		p := bigBatchProducer(t, seeds, kgo.TransactionalID(kafkatest.UniqueName(t)))
		var aborted, kept []*kgo.Record
		for range 50 {
			aborted = append(aborted, &kgo.Record{Topic: topic, Value: []byte("a")})
		}
		for range 10 {
			kept = append(kept, &kgo.Record{Topic: topic, Value: []byte("k")})
		}
		transact(t, p, aborted, kgo.TryAbort) // 300-349, marker 350
		transact(t, p, kept, kgo.TryCommit)   // 351-360, marker 361
		waitEnd(t, seeds, topic, 362)
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 0})
		const want = 310
		var first inspect.PartitionLag
		for run := range 3 {
			m, _ := monitor(t, seeds, time.Now, g)
			m.Kafka.Budget = 1 // stop after the fetch that finds the head
			s := sample(t, m)
			gl := group(t, s, g)
			pl := part(t, gl, topic, 0)
			if !pl.LagInexact || pl.LagMin > want || pl.Lag < want || pl.Lag == pl.LagMin || !strings.Contains(pl.Note, "read budget") {
				t.Fatalf("run %d: %+v; want a range around %d, marked inexact with a note", run, pl, want)
			}
			if !gl.LagInexact || gl.Lag != pl.Lag || gl.LagMin != pl.LagMin {
				t.Errorf("run %d: group lag %d..%d inexact %v; want the partition's range", run, gl.LagMin, gl.Lag, gl.LagInexact)
			}
			if run == 0 {
				first = pl
			} else if pl.Lag != first.Lag || pl.LagMin != first.LagMin {
				t.Errorf("run %d: range %d..%d; run 0 gave %d..%d", run, pl.LagMin, pl.Lag, first.LagMin, first.Lag)
			}
			checks := []lag.LagCheck{}
			for _, c := range []string{fmt.Sprintf("lag>%d", want-1), fmt.Sprintf("lag<%d", pl.Lag+1), fmt.Sprintf("lag>%d", pl.Lag)} {
				lc, err := lag.ParseLagCheck(c)
				if err != nil {
					t.Fatal(err)
				}
				checks = append(checks, lc)
			}
			v := lag.CheckLag(s, checks)
			if len(v) != 2 || !strings.Contains(v[0].Value, "cannot pass") || !strings.Contains(v[1].Value, "lag") {
				t.Errorf("run %d: violations %v; want lag>%d (undecided: fails) and lag<%d (the whole range is below), not lag>%d", run, v, want-1, pl.Lag+1, pl.Lag)
			}
			var buf bytes.Buffer
			if err := inspect.WriteLag(&buf, s, inspect.LagWriteOptions{Format: "json"}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), fmt.Sprintf(`"lag":%d,"offset_lag":362,`, pl.Lag)) || !strings.Contains(buf.String(), `"lag_exact":false`) ||
				!strings.Contains(buf.String(), fmt.Sprintf(`"lag_min":%d`, pl.LagMin)) {
				t.Errorf("json does not carry the range: %s", buf.String())
			}
			buf.Reset()
			if err := inspect.WriteLag(&buf, s, inspect.LagWriteOptions{Format: "table", Partitions: true}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), fmt.Sprintf("≤%d", pl.Lag)) {
				t.Errorf("table does not mark the bound:\n%s", buf.String())
			}
		}
		m, _ := monitor(t, seeds, time.Now, g)
		if pl := part(t, group(t, sample(t, m), g), topic, 0); pl.Lag != want || pl.LagInexact {
			t.Errorf("default budget: %+v; want exactly %d", pl, want)
		}
	})
}

// TestLagTimestamps: the first unread record's timestamp is Kafka's "none"
// (-1), 30 minutes in the future (with records two hours old behind it), or
// ancient (2000-01-01): the first two give no time lag and a reason, the
// third its true age; the group's time lag is then a lower bound, and a gate
// it cannot decide fails.
func TestLagTimestamps(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 3)
		now := time.Now().Truncate(time.Millisecond)
		ancient := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		kafkatest.Produce(t, seeds,
			&kgo.Record{Topic: topic, Partition: 0, Value: []byte("none"), Timestamp: time.UnixMilli(-1)},
			&kgo.Record{Topic: topic, Partition: 0, Value: []byte("old"), Timestamp: now.Add(-2 * time.Hour)},
			&kgo.Record{Topic: topic, Partition: 1, Value: []byte("future"), Timestamp: now.Add(30 * time.Minute)},
			&kgo.Record{Topic: topic, Partition: 1, Value: []byte("old"), Timestamp: now.Add(-2 * time.Hour)},
			&kgo.Record{Topic: topic, Partition: 2, Value: []byte("ancient"), Timestamp: ancient},
		)
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 0, 1: 0, 2: 0})
		m, _ := monitor(t, seeds, func() time.Time { return now }, g)
		s := sample(t, m)
		gl := group(t, s, g)
		p0, p1, p2 := part(t, gl, topic, 0), part(t, gl, topic, 1), part(t, gl, topic, 2)
		if p0.TimeLag != -1 || p0.Reason != inspect.ReasonNoTimestamp || !strings.Contains(p0.Note, "no timestamp") || p0.Lag != 2 || !p0.HeadTime.IsZero() {
			t.Errorf("timestamp -1: %+v; want time lag unknown, reason %s", p0, inspect.ReasonNoTimestamp)
		}
		if p1.TimeLag != -1 || p1.Reason != inspect.ReasonFutureTimestamp || !strings.Contains(p1.Note, "30m00s in the future") || p1.Lag != 2 {
			t.Errorf("future timestamp: %+v; want time lag unknown, reason %s", p1, inspect.ReasonFutureTimestamp)
		}
		if p2.TimeLag != now.Sub(ancient) || p2.Reason != "" {
			t.Errorf("ancient timestamp: %+v; want time lag %v", p2, now.Sub(ancient))
		}
		if gl.TimeLag != now.Sub(ancient) || !gl.TimeLagInexact || strings.Join(gl.Reasons, ",") != "future_timestamp,no_timestamp" {
			t.Errorf("group: time lag %v inexact %v reasons %v; want %v as a lower bound", gl.TimeLag, gl.TimeLagInexact, gl.Reasons, now.Sub(ancient))
		}
		// Without the ancient partition, time_lag>30s cannot be decided.
		g2 := kafkatest.UniqueName(t)
		commit(t, seeds, g2, topic, map[int32]int64{0: 0, 1: 0})
		m2, _ := monitor(t, seeds, func() time.Time { return now }, g2)
		s2 := sample(t, m2)
		c, err := lag.ParseLagCheck("time_lag>30s")
		if err != nil {
			t.Fatal(err)
		}
		if v := lag.CheckLag(s2, []lag.LagCheck{c}); len(v) != 1 || !strings.Contains(v[0].Value, "cannot pass") {
			t.Errorf("time_lag>30s with no partition's time lag known: %v; want a violation that says it cannot tell", v)
		}
		var buf bytes.Buffer
		if err := inspect.WriteLag(&buf, s2, inspect.LagWriteOptions{Format: "table", Partitions: true}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "timestamp in the future") || !strings.Contains(buf.String(), "no timestamp") {
			t.Errorf("table does not say what is wrong:\n%s", buf.String())
		}
	})
}

// TestLagCommitBeyondEnd: a committed offset past the log end (a consumer
// about to hit auto.offset.reset) has no lag and no offset lag, status ERR
// from the first sample, and a reason.
func TestLagCommitBeyondEnd(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 2)
		produceEach(t, seeds, topic, 2, 10)
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 25, 1: 10})
		m, _ := monitor(t, seeds, time.Now, g)
		s := sample(t, m)
		gl := group(t, s, g)
		p0 := part(t, gl, topic, 0)
		if p0.Lag != -1 || p0.OffsetLag != -1 || p0.TimeLag != -1 || p0.Status != inspect.StatusErr || p0.Reason != inspect.ReasonBeyondEnd ||
			!strings.Contains(p0.Note, "beyond the log end 10") {
			t.Errorf("committed 25 of 10: %+v; want lag and offset lag unknown, ERR, reason %s", p0, inspect.ReasonBeyondEnd)
		}
		if p1 := part(t, gl, topic, 1); p1.Lag != 0 || p1.Status != inspect.StatusOK {
			t.Errorf("committed at the end: %+v; want lag 0, OK", p1)
		}
		// Reset to the earliest offset it reads all 10 records, to the
		// latest none: the group's lag is that range, not 0.
		if !gl.LagInexact || gl.LagMin != 0 || gl.Lag != 10 {
			t.Errorf("group lag %d..%d inexact %v; want 0..10", gl.LagMin, gl.Lag, gl.LagInexact)
		}
		if gl.Status != inspect.StatusErr || len(gl.Reasons) != 1 || gl.Reasons[0] != inspect.ReasonBeyondEnd {
			t.Errorf("group status %v reasons %v; want ERR (%s)", gl.Status, gl.Reasons, inspect.ReasonBeyondEnd)
		}
		c, _ := lag.ParseLagCheck("status>=ERR")
		if v := lag.CheckLag(s, []lag.LagCheck{c}); len(v) != 1 {
			t.Errorf("status>=ERR: %v; want a violation", v)
		}
		var buf bytes.Buffer
		if err := inspect.WriteLag(&buf, s, inspect.LagWriteOptions{Format: "json"}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"lag":null,"offset_lag":null`) || !strings.Contains(buf.String(), `"status":"ERR"`) ||
			!strings.Contains(buf.String(), `"reason":"commit_beyond_end"`) {
			t.Errorf("json: %s", buf.String())
		}
	})
}

// countRecords reads partition 0 of topic from offset 0 with a plain
// read_committed consumer and returns how many records it gets before end.
func countRecords(t *testing.T, seeds []string, topic string, end int64) int64 {
	t.Helper()
	cl := kafkatest.Client(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n, last int64 = 0, -1
	for last < end-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("counting the records of %s up to %d: %v (got to %d)", topic, end, err, last)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end {
				n++
			}
			last = max(last, r.Offset)
		})
	}
	return n
}

// TestLagCompacted: on the real Kafka, a compacted topic whose surviving
// records span several segments: lag is the number of records a consumer
// reads, not end minus committed.
func TestLagCompacted(t *testing.T) {
	seeds := realKafka(t)
	topic := kafkatest.NewTopicWith(t, seeds, 1, map[string]string{"cleanup.policy": "compact", "segment.ms": "100",
		"min.cleanable.dirty.ratio": "0.001", "min.compaction.lag.ms": "0", "delete.retention.ms": "0"})
	var recs []*kgo.Record
	for round := range 10 {
		for k := range 100 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d", round)})
		}
	}
	kafkatest.Produce(t, seeds, recs...)
	g := kafkatest.UniqueName(t)
	commit(t, seeds, g, topic, map[int32]int64{0: 0})
	hwm := func() int64 {
		lo, err := kafkatest.Admin(t, seeds).ListEndOffsets(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := lo.Lookup(topic, 0)
		return o.Offset
	}
	// Each tick rolls a segment (segment.ms) so that the cleaner has
	// closed segments to compact; the ticks share a key and compact too.
	kafkatest.WaitFor(t, 3*time.Minute, "the cleaner to compact the topic", func() bool {
		kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Key: []byte("tick"), Value: []byte("t")})
		end := hwm()
		return countRecords(t, seeds, topic, end) < end-100
	})
	m, _ := monitor(t, seeds, time.Now, g)
	kafkatest.WaitFor(t, time.Minute, "a sample between two equal counts", func() bool {
		end := hwm()
		want := countRecords(t, seeds, topic, end)
		pl := part(t, group(t, sample(t, m), g), topic, 0)
		if end2 := hwm(); end2 != end || countRecords(t, seeds, topic, end) != want || pl.End != end {
			return false // the cleaner ran in between: again
		}
		if pl.Lag != want || pl.LagInexact || pl.OffsetLag != end {
			t.Fatalf("compacted: %+v; want lag %d (what a consumer reads of %d offsets), exact", pl, want, end)
		}
		t.Logf("lag %d of %d offsets", want, end)
		return true
	})
}

// TestLagOffsetLagAsKafkaTool: with a transaction open, offset_lag is what
// kafka-consumer-groups shows (high watermark − committed; the real broker's
// tool on the real Kafka, kadm.Lag on both), and lag the records a
// read_committed consumer can read now.
func TestLagOffsetLagAsKafkaTool(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 1)
		var recs []*kgo.Record
		for range 3 {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte("v")})
		}
		kafkatest.Produce(t, seeds, recs...) // 0-2
		p := kafkatest.Client(t, seeds, kgo.TransactionalID(kafkatest.UniqueName(t)), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var open []*kgo.Record
		for range 10 {
			open = append(open, &kgo.Record{Topic: topic, Value: []byte("open")})
		}
		if err := p.ProduceSync(ctx, open...).FirstErr(); err != nil { // 3-12, left open
			t.Fatal(err)
		}
		t.Cleanup(func() { p.EndTransaction(context.Background(), kgo.TryAbort) })
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 0})
		lags, err := kafkatest.Admin(t, seeds).Lag(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		var kadmLag int64 = -1
		if l, ok := lags[g].Lag[topic][0]; ok {
			kadmLag = l.Lag
		}
		m, _ := monitor(t, seeds, time.Now, g)
		pl := part(t, group(t, sample(t, m), g), topic, 0)
		if pl.OffsetLag != kadmLag || pl.OffsetLag != 13 || pl.Lag != 3 || pl.End != 3 || pl.HighWatermark != 13 {
			t.Errorf("%+v; want offset lag %d (kadm.Lag), 13, lag 3 up to the last stable offset 3", pl, kadmLag)
		}
		if strings.HasPrefix(t.Name(), "TestLagOffsetLagAsKafkaTool/real") {
			if tool := kafkaToolLag(t, seeds, g, topic); tool != pl.OffsetLag {
				t.Errorf("kafka-consumer-groups shows LAG %d; eddy's offset_lag is %d", tool, pl.OffsetLag)
			}
		}
	})
}

// kafkaToolLag runs Kafka's own kafka-consumer-groups --describe and returns
// the LAG of partition 0 of topic.
func kafkaToolLag(t *testing.T, seeds []string, group, topic string) int64 {
	t.Helper()
	libs := os.Getenv("EDDY_TEST_KAFKA_LIBS")
	if libs == "" {
		if os.Getenv("EDDY_REQUIRE_BROKERS") != "" {
			t.Fatal("EDDY_TEST_KAFKA_LIBS is not set: cannot run kafka-consumer-groups")
		}
		t.Skip("EDDY_TEST_KAFKA_LIBS is not set: kafka-consumer-groups not compared")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "java", "-cp", libs+"/*", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
		"--bootstrap-server", seeds[0], "--describe", "--group", group).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-consumer-groups: %v\n%s", err, out)
	}
	// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[0] == group && f[1] == topic && f[2] == "0" {
			n, err := strconv.ParseInt(f[5], 10, 64)
			if err != nil {
				t.Fatalf("kafka-consumer-groups LAG %q: %v", f[5], err)
			}
			return n
		}
	}
	t.Fatalf("kafka-consumer-groups printed no line for %s %s 0:\n%s", group, topic, out)
	return -1
}

// TestLagReadTimeout: reading that --timeout cuts leaves a sample that still
// succeeds, with every figure it could not finish marked: lag a range (at
// most end − committed), time lag unknown with a note, the group's time lag
// a lower bound.
func TestLagReadTimeout(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 2)
	produceEach(t, seeds, topic, 2, 5)
	g := kafkatest.UniqueName(t)
	commit(t, seeds, g, topic, map[int32]int64{0: 1, 1: 5})
	m, _ := monitor(t, seeds, time.Now, g)
	m.Kafka.Timeout = time.Nanosecond
	gl := group(t, sample(t, m), g)
	p0 := part(t, gl, topic, 0)
	if !p0.LagInexact || p0.Lag != 4 || p0.LagMin != 0 || p0.TimeLag != -1 || !strings.Contains(p0.Note, "--timeout") {
		t.Errorf("cut by the timeout: %+v; want lag at most 4, inexact, time lag unknown, a note", p0)
	}
	if p1 := part(t, gl, topic, 1); p1.Lag != 0 || p1.LagInexact || p1.TimeLag != 0 {
		t.Errorf("at the end (nothing to read): %+v", p1)
	}
	if !gl.LagInexact || !gl.TimeLagInexact {
		t.Errorf("group: lag inexact %v, time lag inexact %v; want both", gl.LagInexact, gl.TimeLagInexact)
	}
	// The next sample with time reads it all: a cut read is not cached.
	m.Kafka.Timeout = 10 * time.Second
	if p0 := part(t, group(t, sample(t, m), g), topic, 0); p0.LagInexact || p0.Lag != 4 || p0.TimeLag < 0 {
		t.Errorf("after a cut read, with time: %+v; want exact 4 and a time lag", p0)
	}
}
