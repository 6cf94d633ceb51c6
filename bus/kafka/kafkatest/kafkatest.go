// Package kafkatest gives tests a Kafka cluster: an in-process kfake cluster
// that needs nothing but Go, or the real broker named by EDDY_TEST_KAFKA, and
// unique topics that are deleted when the test ends. The adapter's own tests
// and the CLI tests use it alike.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvReal names the environment variable that points tests at a real broker
// (host:port[,host:port...]).
const EnvReal = "EDDY_TEST_KAFKA"

// NewCluster starts a one-broker kfake cluster for the test and stops it when
// the test ends. Use it when the test needs the cluster itself (fault
// injection, ControlKey); otherwise Cluster is shorter.
func NewCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Cluster starts a kfake cluster (see NewCluster) and returns its seed
// addresses.
func Cluster(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	return NewCluster(t, opts...).ListenAddrs()
}

// Real returns the seed addresses of the real Kafka broker named by
// EDDY_TEST_KAFKA. Without it the test is skipped, saying why; with CI=true it
// fails instead, because CI always provides a broker and a skip would hide
// that the tests did not run.
func Real(t testing.TB) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvReal))
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI=true requires a real Kafka broker (scripts/brokers.sh up)", EnvReal)
		}
		t.Skipf("no real Kafka broker: set %s=host:port to run this test (scripts/brokers.sh up starts one)", EnvReal)
	}
	return strings.Split(v, ",")
}

// NewTopic creates a topic with a unique name and the given partitions on the
// cluster at seeds, waits until every partition has a leader, and deletes it
// when the test ends.
func NewTopic(t testing.TB, seeds []string, partitions int32) string {
	t.Helper()
	return NewTopicWith(t, seeds, partitions, nil)
}

// NewTopicWith is NewTopic with topic configs, e.g. {"max.message.bytes":
// "16777216"}.
func NewTopicWith(t testing.TB, seeds []string, partitions int32, configs map[string]string) string {
	t.Helper()
	return createTopic(t, seeds, UniqueName(t), partitions, configs)
}

// NamedTopic is NewTopic for a test that needs the name to say something
// (orders.DLT for the origin orders): name should start with a UniqueName.
func NamedTopic(t testing.TB, seeds []string, name string, partitions int32) string {
	t.Helper()
	return createTopic(t, seeds, name, partitions, nil)
}

// TopicConfigs is configs as CreateTopics takes them, with retention.ms -1
// unless configs sets it: tests stamp records at fixed past dates, which a
// real broker's default retention (7 days) would delete mid-test.
func TopicConfigs(configs map[string]string) map[string]*string {
	cfgs := make(map[string]*string, len(configs)+1)
	for k, v := range configs {
		cfgs[k] = &v
	}
	if _, ok := cfgs["retention.ms"]; !ok {
		never := "-1"
		cfgs["retention.ms"] = &never
	}
	return cfgs
}

func createTopic(t testing.TB, seeds []string, name string, partitions int32, configs map[string]string) string {
	t.Helper()
	adm := Admin(t, seeds)
	cfgs := TopicConfigs(configs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, cfgs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := Admin(t, seeds).DeleteTopics(ctx, name); err != nil {
			t.Logf("deleting topic %s: %v", name, err)
		}
	})
	// A real broker answers CreateTopics before every broker's metadata
	// knows the leaders; tests that produce at once would race it.
	WaitFor(t, 30*time.Second, "topic "+name+" to have leaders", func() bool {
		m, err := adm.Metadata(ctx, name)
		if err != nil {
			return false
		}
		td, ok := m.Topics[name]
		if !ok || td.Err != nil || int32(len(td.Partitions)) != partitions {
			return false
		}
		for _, p := range td.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
		}
		return true
	})
	return name
}

// UniqueName returns a name for a topic or group that no other test (or run)
// uses: the test's name made safe for Kafka, and random hex.
func UniqueName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '.'
	}, t.Name())
	if len(name) > 200 {
		name = name[:200]
	}
	return "eddy-test-" + name + "-" + hex.EncodeToString(b[:])
}

// Client returns a kgo client for the cluster at seeds with opts, closed when
// the test ends: for producing fixtures and checking results independently of
// the code under test.
func Client(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client for the cluster at seeds, closed when the test
// ends.
func Admin(t testing.TB, seeds []string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(Client(t, seeds))
}

// Produce writes recs synchronously and fails the test on any error. Each
// record goes to its own Topic and Partition, so fixtures are deterministic.
// It returns the records with their offsets set.
func Produce(t testing.TB, seeds []string, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := Client(t, seeds, kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", len(recs), err)
	}
	cl.Close()
	return recs
}

// ReadCommitted reads every record a read_committed reader sees in topic,
// up to its partitions' last stable offsets (not the markers of the
// transactions), failing the test after 60 s.
func ReadCommitted(t testing.TB, seeds []string, topic string) []*kgo.Record {
	t.Helper()
	cl := Client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var got []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			// The control records (kept) mark a partition read to its end
			// even when a transaction's marker is its last offset.
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				got = append(got, r)
			}
		})
	}
	return got
}

// FailCommit makes the n-th transaction commit on c (an EndTxn that
// commits, counted from 1) fail with UNKNOWN_SERVER_ERROR: an ambiguous
// outcome, as a broker lost mid-commit gives. The others pass.
func FailCommit(c *kfake.Cluster, n int32) {
	var commits atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || commits.Add(1) != n {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
}

// RefuseInitProducerID makes c refuse the first InitProducerID with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED: a transactional producer cannot
// start.
func RefuseInitProducerID(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil, true
	})
}

// WaitFor polls cond until it holds, failing the test with what it waited
// for after timeout. Tests wait on conditions, never on fixed sleeps.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
