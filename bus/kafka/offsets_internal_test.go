package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestListOffsetsTopicGone: a topic deleted between listing and asking for
// its offsets (another team's cleanup on a busy cluster) leaves only its own
// partitions unanswered in a lenient lookup (eddy ls), at once; a strict
// lookup still says which topic is unknown. The real-Kafka run of ls.txtar
// once failed the whole listing on such a race.
func TestListOffsetsTopicGone(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "here"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	c, err := New(cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tps := map[string][]int32{"here": {0, 1}, "gone": {0}}
	lenient := offsetLookup{ts: tsLatest, isolation: readUncommitted, lenient: true}
	res, err := c.listOffsetsOnce(ctx, tps, lenient)
	if err != nil {
		t.Fatalf("lenient lookup with a missing topic: %v", err)
	}
	if len(res["here"]) != 2 || len(res["gone"]) != 0 {
		t.Fatalf("offsets %v, want both partitions of here and nothing of gone", res)
	}

	strict := lenient
	strict.lenient = false
	if _, err := c.listOffsetsOnce(ctx, tps, strict); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("strict lookup: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}
