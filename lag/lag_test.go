package lag_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
)

// lagClusters runs a test on kfake and, when EDDY_TEST_KAFKA names one, on the
// real broker; without it the real run skips visibly, and fails when CI=true
// or EDDY_REQUIRE_BROKERS is set.
func lagClusters(t *testing.T, fn func(t *testing.T, seeds []string)) {
	t.Run("kfake", func(t *testing.T) { fn(t, kafkatest.Cluster(t)) })
	t.Run("real", func(t *testing.T) { fn(t, realKafka(t)) })
}

func realKafka(t *testing.T) []string {
	t.Helper()
	if os.Getenv(kafkatest.EnvReal) == "" && os.Getenv("EDDY_REQUIRE_BROKERS") != "" {
		t.Fatalf("%s is not set and EDDY_REQUIRE_BROKERS requires a real Kafka broker", kafkatest.EnvReal)
	}
	return kafkatest.Real(t)
}

func commit(t *testing.T, seeds []string, group, topic string, offs map[int32]int64) {
	t.Helper()
	var o kadm.Offsets
	for p, at := range offs {
		o.AddOffset(topic, p, at, -1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kafkatest.Admin(t, seeds).CommitOffsets(ctx, group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("committing %v for %s: %v", offs, group, err)
	}
}

func monitor(t *testing.T, seeds []string, now func() time.Time, groups ...string) (*lag.LagMonitor, *kafka.Client) {
	t.Helper()
	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &lag.LagMonitor{Kafka: c.LagReader(), Groups: groups, Now: now}, c
}

func sample(t *testing.T, m *lag.LagMonitor) *inspect.LagSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := m.Sample(ctx)
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	return s
}

func group(t *testing.T, s *inspect.LagSnapshot, name string) inspect.GroupLag {
	t.Helper()
	for _, g := range s.Groups {
		if g.Group == name {
			return g
		}
	}
	t.Fatalf("group %s not in sample: %+v", name, s.Groups)
	return inspect.GroupLag{}
}

func part(t *testing.T, g inspect.GroupLag, topic string, p int32) inspect.PartitionLag {
	t.Helper()
	for _, pl := range g.Partitions {
		if pl.Topic == topic && pl.Partition == p {
			return pl
		}
	}
	t.Fatalf("%s[%d] not in group %s: %+v", topic, p, g.Group, g.Partitions)
	return inspect.PartitionLag{}
}

// TestLagOffsetsAndTimeLag: records with known timestamps, a group stopped at
// a known offset: offset lag is end minus committed and time lag is the clock
// minus the timestamp of the record at the committed offset, exactly; a
// partition without commit is unknown, not zero.
func TestLagOffsetsAndTimeLag(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 3)
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var recs []*kgo.Record
		for p := range int32(3) {
			for i := range 10 {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v"),
					Timestamp: base.Add(time.Duration(p)*time.Minute + time.Duration(i)*time.Second)})
			}
		}
		kafkatest.Produce(t, seeds, recs...)
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 4, 1: 10})
		now := base.Add(2 * time.Hour)
		m, _ := monitor(t, seeds, func() time.Time { return now }, g)
		s := sample(t, m)
		gl := group(t, s, g)
		if gl.State != "Empty" || len(gl.Members) != 0 {
			t.Errorf("state %q, %d members; want an Empty group with no members", gl.State, len(gl.Members))
		}
		p0 := part(t, gl, topic, 0)
		if p0.Committed != 4 || p0.End != 10 || p0.Lag != 6 || p0.OffsetLag != 6 {
			t.Errorf("partition 0: %+v; want committed 4, end 10, lag 6", p0)
		}
		if want := now.Sub(base.Add(4 * time.Second)); p0.TimeLag != want || !p0.HeadTime.Equal(base.Add(4*time.Second)) {
			t.Errorf("partition 0 time lag %v (head %v); want %v", p0.TimeLag, p0.HeadTime, want)
		}
		p1 := part(t, gl, topic, 1)
		if p1.Lag != 0 || p1.TimeLag != 0 {
			t.Errorf("partition 1 (drained): lag %d, time lag %v; want 0, 0", p1.Lag, p1.TimeLag)
		}
		p2 := part(t, gl, topic, 2)
		if p2.Committed != -1 || p2.Lag != -1 || p2.TimeLag != -1 || p2.Note != "no committed offset" {
			t.Errorf("partition 2 (no commit): %+v; want unknown", p2)
		}
		if gl.Lag != 6 || gl.TimeLag != p0.TimeLag || len(gl.Topics) != 1 || gl.Topics[0].Lag != 6 {
			t.Errorf("totals: lag %d, time lag %v, topics %+v", gl.Lag, gl.TimeLag, gl.Topics)
		}
		if gl.Status != inspect.StatusUnknown {
			t.Errorf("status after one sample with lag: %v; want UNKNOWN (needs a window)", gl.Status)
		}
	})
}

// TestLagBelowLogStart: records deleted under a group (DeleteRecords, as
// retention would) are not lag; the note says how many were lost.
func TestLagBelowLogStart(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 1)
		base := produceSeconds(t, seeds, topic, 10)
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 2})
		var o kadm.Offsets
		o.AddOffset(topic, 0, 6, -1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kafkatest.Admin(t, seeds).DeleteRecords(ctx, o); err != nil {
			t.Fatal(err)
		}
		now := base.Add(time.Hour)
		m, _ := monitor(t, seeds, func() time.Time { return now }, g)
		p := part(t, group(t, sample(t, m), g), topic, 0)
		if p.LogStart != 6 || p.OffsetLag != 8 || p.Lag != 4 || p.TimeLag != now.Sub(base.Add(6*time.Second)) {
			t.Errorf("%+v; want log start 6, offset lag 8, lag 4, time lag from the record at 6", p)
		}
		if p.Note == "" {
			t.Error("no note about the deleted records")
		}
	})
}

// TestLagDeletedTopic: commits on a topic that no longer exists show as
// unknown with a note and do not fail the sample. Brokers drop a deleted
// topic's commits soon after deleting it (and refuse commits to unknown
// topics), so kfake answers the offset fetch of that moment in between.
func TestLagDeletedTopic(t *testing.T) {
	// OffsetFetch before v10 names topics; later versions give ids only,
	// and a deleted topic has none left to give.
	v := kversion.Stable()
	v.SetMaxKeyVersion(9, 9)
	c := kafkatest.NewCluster(t, kfake.MaxVersions(v))
	seeds := c.ListenAddrs()
	kept := kafkatest.NewTopic(t, seeds, 1)
	gone := kafkatest.UniqueName(t) + "-deleted"
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: kept, Value: []byte("b")})
	g := kafkatest.UniqueName(t)
	commit(t, seeds, g, kept, map[int32]int64{0: 0})
	c.ControlKey(9, func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetFetchRequest)
		if len(req.Groups) != 1 || req.Groups[0].Group != g {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = g
		for topic, off := range map[string]int64{kept: 0, gone: 7} {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = 0, off, -1
			rt.Partitions = append(rt.Partitions, rp)
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
		return resp, nil, true
	})
	m, _ := monitor(t, seeds, time.Now, g)
	gl := group(t, sample(t, m), g)
	p := part(t, gl, gone, 0)
	if p.Note != "topic deleted" || p.Lag != -1 || p.End != -1 || p.Committed != 7 {
		t.Errorf("deleted topic: %+v", p)
	}
	if k := part(t, gl, kept, 0); k.Lag != 1 || gl.Lag != 1 {
		t.Errorf("the other topic: %+v (group lag %d); want lag 1", k, gl.Lag)
	}
}

// TestLagTopicDeletedUnderGroup: on a real broker, deleting a topic a group
// committed to leaves a sample that still succeeds.
func TestLagTopicDeletedUnderGroup(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 1)
		kept := kafkatest.NewTopic(t, seeds, 1)
		kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Value: []byte("a")}, &kgo.Record{Topic: kept, Value: []byte("b")})
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: 0})
		commit(t, seeds, g, kept, map[int32]int64{0: 0})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kafkatest.Admin(t, seeds).DeleteTopics(ctx, topic); err != nil {
			t.Fatal(err)
		}
		m, _ := monitor(t, seeds, time.Now, g)
		kafkatest.WaitFor(t, 30*time.Second, "the deleted topic to be gone or marked", func() bool {
			gl := group(t, sample(t, m), g)
			for _, p := range gl.Partitions {
				if p.Topic == topic && p.Note != "topic deleted" {
					return false
				}
			}
			return part(t, gl, kept, 0).Lag == 1
		})
	})
}

// TestLagTransactional: transaction markers and aborted records are not lag:
// 0 after the group drained, N after N more committed records.
func TestLagTransactional(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 1)
		txid := kafkatest.UniqueName(t)
		p := kafkatest.Client(t, seeds, kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		txn := func(n int, commit kgo.TransactionEndTry) {
			t.Helper()
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for range n {
				if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("t")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.EndTransaction(ctx, commit); err != nil {
				t.Fatal(err)
			}
		}
		txn(5, kgo.TryCommit) // offsets 0-4, marker 5
		txn(3, kgo.TryAbort)  // 6-8 aborted, marker 9
		g := kafkatest.UniqueName(t)
		// A read_committed consumer that read the 5 records commits 5 (the
		// offset after the last record it got), before the markers.
		commit(t, seeds, g, topic, map[int32]int64{0: 5})
		var end int64
		kafkatest.WaitFor(t, 30*time.Second, "the last stable offset to pass the markers", func() bool {
			lo, err := kafkatest.Admin(t, seeds).ListCommittedOffsets(ctx, topic)
			if err != nil {
				return false
			}
			o, _ := lo.Lookup(topic, 0)
			end = o.Offset
			return end == 10
		})
		m, _ := monitor(t, seeds, time.Now, g)
		pl := part(t, group(t, sample(t, m), g), topic, 0)
		if pl.Lag != 0 || pl.TimeLag != 0 || pl.OffsetLag != 5 {
			t.Errorf("drained: %+v; want lag 0, time lag 0 (offset lag 5: markers and aborted records)", pl)
		}
		txn(4, kgo.TryCommit) // 10-13, marker 14
		pl = part(t, group(t, sample(t, m), g), topic, 0)
		if pl.Lag != 4 || pl.HeadOffset != 10 {
			t.Errorf("after 4 more committed records: %+v; want lag 4 from offset 10", pl)
		}
		commit(t, seeds, g, topic, map[int32]int64{0: 15})
		pl = part(t, group(t, sample(t, m), g), topic, 0)
		if pl.Lag != 0 || pl.OffsetLag != 0 {
			t.Errorf("drained past the marker: %+v", pl)
		}
	})
}

// TestLagKIP848: a consumer-protocol group is described with the new
// protocol: type, members and their assignment.
func TestLagKIP848(t *testing.T) {
	lagClusters(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 2)
		kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("a")}, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("b")})
		g := kafkatest.UniqueName(t)
		cl := kafkatest.Client(t, seeds, kgo.ConsumerGroup(g), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID("kip848"))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		got := 0
		for got < 2 && ctx.Err() == nil {
			got += len(cl.PollFetches(ctx).Records())
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		m, _ := monitor(t, seeds, time.Now, g)
		var gl inspect.GroupLag
		kafkatest.WaitFor(t, 30*time.Second, "the group to show its member and assignment", func() bool {
			gl = group(t, sample(t, m), g)
			return len(gl.Members) == 1 && len(gl.Members[0].Assigned[topic]) == 2
		})
		if gl.Type != "consumer" || gl.Lag != 0 || gl.Members[0].ClientID != "kip848" {
			t.Errorf("KIP-848 group: type %q, lag %d, members %+v", gl.Type, gl.Lag, gl.Members)
		}
		if p := part(t, gl, topic, 1); p.ClientID != "kip848" || p.Committed != 1 {
			t.Errorf("partition 1: %+v", p)
		}
	})
}

// TestLagManyPartitions: thousands of partitions in one sample.
func TestLagManyPartitions(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 2000)
	var recs []*kgo.Record
	for p := range int32(2000) {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("a")}, &kgo.Record{Topic: topic, Partition: p, Value: []byte("b")})
	}
	kafkatest.Produce(t, seeds, recs...)
	g := kafkatest.UniqueName(t)
	offs := map[int32]int64{}
	for p := range int32(2000) {
		offs[p] = int64(p % 3)
	}
	commit(t, seeds, g, topic, offs)
	m, _ := monitor(t, seeds, time.Now, g)
	gl := group(t, sample(t, m), g)
	var want int64
	for p := range int32(2000) {
		want += max(2-int64(p%3), 0)
	}
	if len(gl.Partitions) != 2000 || gl.Lag != want {
		t.Fatalf("%d partitions, lag %d; want 2000, %d", len(gl.Partitions), gl.Lag, want)
	}
	for _, p := range gl.Partitions {
		if p.Lag > 0 && p.TimeLag < 0 {
			t.Fatalf("partition %d: time lag unknown", p.Partition)
		}
	}
}

// TestLagCachesHeads: a second sample where no committed offset moved costs no
// fetch; moving one offset costs a fetch of that partition only.
func TestLagCachesHeads(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	topic := kafkatest.NewTopic(t, seeds, 4)
	produceEach(t, seeds, topic, 4, 5)
	g := kafkatest.UniqueName(t)
	commit(t, seeds, g, topic, map[int32]int64{0: 1, 1: 1, 2: 1, 3: 1})
	m, _ := monitor(t, seeds, time.Now, g)
	fetched := make(chan int, 100)
	c.ControlKey(1, func(req kmsg.Request) (kmsg.Response, error, bool) {
		n := 0
		for _, tp := range req.(*kmsg.FetchRequest).Topics {
			n += len(tp.Partitions)
		}
		fetched <- n
		c.KeepControl()
		return nil, nil, false
	})
	drain := func() (reqs, parts int) {
		for {
			select {
			case n := <-fetched:
				reqs++
				parts += n
			default:
				return
			}
		}
	}
	sample(t, m)
	if reqs, parts := drain(); reqs != 1 || parts != 4 {
		t.Fatalf("first sample: %d fetch requests for %d partitions; want 1 for 4", reqs, parts)
	}
	sample(t, m)
	if reqs, _ := drain(); reqs != 0 {
		t.Fatalf("second sample with nothing moved: %d fetch requests; want none", reqs)
	}
	commit(t, seeds, g, topic, map[int32]int64{2: 3})
	s := sample(t, m)
	if reqs, parts := drain(); reqs != 1 || parts != 1 {
		t.Fatalf("after one commit moved: %d requests for %d partitions; want 1 for 1", reqs, parts)
	}
	if p := part(t, group(t, s, g), topic, 2); p.Lag != 2 {
		t.Fatalf("partition 2 lag %d; want 2", p.Lag)
	}
}

// TestLagCompactedNotCached: a compacted topic's counts are read again at
// every sample even when nothing moved, since the cleaner removes records below
// an unchanged end (a cached count would go stale: seen on the real Kafka as
// lag 103 where a consumer then read 102); other topics keep the cache.
func TestLagCompactedNotCached(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	compacted := kafkatest.NewTopicWith(t, seeds, 2, map[string]string{"cleanup.policy": "compact"})
	plain := kafkatest.NewTopic(t, seeds, 2)
	var recs []*kgo.Record
	for _, topic := range []string{compacted, plain} {
		for p := range int32(2) {
			for i := range 5 {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
			}
		}
	}
	kafkatest.Produce(t, seeds, recs...)
	g := kafkatest.UniqueName(t)
	commit(t, seeds, g, compacted, map[int32]int64{0: 1, 1: 1})
	commit(t, seeds, g, plain, map[int32]int64{0: 1, 1: 1})
	m, _ := monitor(t, seeds, time.Now, g)
	// Fetch v13 names topics by id.
	details, err := kafkatest.Admin(t, seeds).ListTopics(context.Background(), compacted, plain)
	if err != nil {
		t.Fatal(err)
	}
	names := map[[16]byte]string{}
	for _, d := range details {
		names[d.ID] = d.Topic
	}
	fetched := make(chan string, 100)
	c.ControlKey(1, func(req kmsg.Request) (kmsg.Response, error, bool) {
		for _, tp := range req.(*kmsg.FetchRequest).Topics {
			name := tp.Topic
			if name == "" {
				name = names[tp.TopicID]
			}
			for range tp.Partitions {
				fetched <- name
			}
		}
		c.KeepControl()
		return nil, nil, false
	})
	drain := func() map[string]int {
		n := map[string]int{}
		for {
			select {
			case topic := <-fetched:
				n[topic]++
			default:
				return n
			}
		}
	}
	sample(t, m)
	if n := drain(); n[compacted] != 2 || n[plain] != 2 {
		t.Fatalf("first sample fetched %v; want both topics' 2 partitions", n)
	}
	s := sample(t, m)
	if n := drain(); n[compacted] != 2 || n[plain] != 0 {
		t.Fatalf("second sample, nothing moved, fetched %v; want the compacted topic's 2 partitions again and none of the plain one's", n)
	}
	if p := part(t, group(t, s, g), compacted, 0); p.Lag != 4 || p.LagInexact {
		t.Fatalf("compacted partition 0: lag %d exact %v; want 4, exact", p.Lag, !p.LagInexact)
	}
}

// TestLagGroupsShareFetch: groups at different offsets of one partition are
// served by one fetch from the lowest, each with its own exact head.
func TestLagGroupsShareFetch(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	topic := kafkatest.NewTopic(t, seeds, 1)
	base := produceSeconds(t, seeds, topic, 30)
	var groups []string
	for _, at := range []int64{3, 11, 29} {
		g := kafkatest.UniqueName(t)
		commit(t, seeds, g, topic, map[int32]int64{0: at})
		groups = append(groups, g)
	}
	fetches := make(chan struct{}, 10)
	c.ControlKey(1, func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fetches <- struct{}{}
		return nil, nil, false
	})
	now := base.Add(time.Hour)
	m, _ := monitor(t, seeds, func() time.Time { return now }, groups...)
	s := sample(t, m)
	if len(fetches) != 1 {
		t.Errorf("%d fetch requests; want 1", len(fetches))
	}
	for i, at := range []int64{3, 11, 29} {
		p := part(t, group(t, s, groups[i]), topic, 0)
		if p.Lag != 30-at || p.HeadOffset != at || p.TimeLag != now.Sub(base.Add(time.Duration(at)*time.Second)) {
			t.Errorf("group at %d: %+v", at, p)
		}
	}
}

// produceEach produces each records ("v") to every one of parts partitions
// of topic.
func produceEach(t *testing.T, seeds []string, topic string, parts int32, each int) {
	t.Helper()
	var recs []*kgo.Record
	for p := range parts {
		for range each {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")})
		}
	}
	kafkatest.Produce(t, seeds, recs...)
}

// produceSeconds produces n records ("v") to partition 0 of topic, one a
// second from an hour ago (truncated to the millisecond), and returns that
// first timestamp.
func produceSeconds(t *testing.T, seeds []string, topic string, n int) time.Time {
	t.Helper()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	kafkatest.Produce(t, seeds, recs...)
	return base
}
