package kafka

import (
	"context"
	"slices"
	"strings"
)

// TopicInfo describes one topic for `eddy ls`.
type TopicInfo struct {
	Name string
	// Internal is true for Kafka's own topics (__consumer_offsets,
	// __transaction_state, ...): those the broker flags, and any whose name
	// starts with "__".
	Internal bool
	// Replicas is the replication factor (the most replicas of any partition).
	Replicas   int
	Partitions []PartitionInfo
	// Messages is the sum of End-Start over the partitions: the offsets
	// retained. Compaction and transaction markers make it an upper bound on
	// the records a reader sees.
	Messages int64
}

// PartitionInfo is one partition of a topic.
type PartitionInfo struct {
	Partition int32
	// Start is the oldest retained offset, End the high watermark (the offset
	// the next record will get).
	Start, End int64
	// Leader is the broker id of the partition leader, -1 when it has none.
	Leader int32
}

// Topics lists the cluster's topics, sorted by name, with their partitions and
// offsets. Internal topics are listed only when includeInternal is set. An
// unreachable cluster is a *bus.ConnectError.
func (c *Client) Topics(ctx context.Context, includeInternal bool) ([]TopicInfo, error) {
	tds, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	var out []TopicInfo
	tps := map[string][]int32{}
	for name, td := range tds {
		if td.Err != nil {
			continue // deleted between listing and describing, or not ours to see
		}
		internal := td.IsInternal || strings.HasPrefix(name, "__")
		if internal && !includeInternal {
			continue
		}
		ti := TopicInfo{Name: name, Internal: internal}
		for _, pd := range td.Partitions.Sorted() {
			ti.Partitions = append(ti.Partitions, PartitionInfo{Partition: pd.Partition, Leader: pd.Leader})
			ti.Replicas = max(ti.Replicas, len(pd.Replicas))
			tps[name] = append(tps[name], pd.Partition)
		}
		out = append(out, ti)
	}
	slices.SortFunc(out, func(a, b TopicInfo) int { return strings.Compare(a.Name, b.Name) })
	if len(tps) == 0 {
		return out, nil
	}
	// The high watermark whatever the isolation: ls reports what the log
	// holds.
	// A partition without a leader has no offsets to give; it shows as -1
	// rather than failing the whole listing.
	listed, err := c.listOffsets(ctx, tps, offsetLookup{ts: tsEarliest, isolation: readUncommitted, lenient: true},
		offsetLookup{ts: tsLatest, isolation: readUncommitted, lenient: true})
	if err != nil {
		return nil, err
	}
	for i := range out {
		ti := &out[i]
		for j := range ti.Partitions {
			pi := &ti.Partitions[j]
			pi.Start, pi.End = -1, -1
			if o, ok := listed[0][ti.Name][pi.Partition]; ok {
				pi.Start = o
			}
			if o, ok := listed[1][ti.Name][pi.Partition]; ok {
				pi.End = o
			}
			if pi.Start >= 0 && pi.End >= pi.Start {
				ti.Messages += pi.End - pi.Start
			}
		}
	}
	return out, nil
}
