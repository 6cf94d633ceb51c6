package kafka_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestTopics: `eddy ls` gets every topic sorted by name, with partitions,
// leaders, offsets and message counts; internal topics only when asked.
func TestTopics(t *testing.T) {
	seeds := newCluster(t, kfake.SeedTopics(3, "orders"), kfake.SeedTopics(1, "audit", "__eddy.internal"))
	c := newClient(t, seeds)
	kafkatest.Produce(t, seeds, rec("orders", 0, "a"), rec("orders", 0, "b"), rec("orders", 0, "c"), rec("orders", 2, "d"), rec("audit", 0, "e"))
	// Records removed from the front must not count.
	if _, err := kafkatest.Admin(t, seeds).DeleteRecords(ctxT(t), kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: 1}}}); err != nil {
		t.Fatal(err)
	}

	names := func(tis []kafka.TopicInfo) []string {
		var out []string
		for _, ti := range tis {
			out = append(out, ti.Name)
		}
		return out
	}
	tis, err := c.Topics(ctxT(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(tis); !slices.Equal(got, []string{"audit", "orders"}) {
		t.Fatalf("topics %v, want [audit orders]", got)
	}
	orders := tis[1]
	if orders.Internal || orders.Replicas != 1 || len(orders.Partitions) != 3 || orders.Messages != 3 {
		t.Fatalf("orders = %+v, want 3 partitions, 1 replica, 3 messages", orders)
	}
	want := []kafka.PartitionInfo{{Partition: 0, Start: 1, End: 3}, {Partition: 1, Start: 0, End: 0}, {Partition: 2, Start: 0, End: 1}}
	for i, p := range orders.Partitions {
		if p.Partition != want[i].Partition || p.Start != want[i].Start || p.End != want[i].End || p.Leader < 0 {
			t.Errorf("partition %+v, want %+v with a leader", p, want[i])
		}
	}

	all, err := c.Topics(ctxT(t), true)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(ti kafka.TopicInfo) bool { return ti.Name == "__eddy.internal" })
	if i < 0 || !all[i].Internal {
		t.Fatalf("with internal topics: %v, want __eddy.internal flagged Internal", names(all))
	}
	if !slices.IsSortedFunc(all, func(a, b kafka.TopicInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("not sorted: %v", names(all))
	}
}
