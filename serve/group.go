package serve

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
)

// CoPartitioning says whether the Kafka topics that addrs name (every
// non-internal topic with every) have one partition count: then Kafka's
// assignment of a consumer group gives partition p of every topic to one
// instance, and when every event is keyed by its correlation id (the usual
// "key by order id") each flow reaches one instance whole. It returns ""
// when they do, else one sentence saying what does not hold and what it
// means.
func CoPartitioning(ctx context.Context, c *kafka.Client, addrs []bus.Address, every bool) (string, error) {
	ts, err := c.Topics(ctx, false)
	if err != nil {
		return "", err
	}
	counts := map[int][]string{}
	for _, t := range ts {
		if !every && !slices.ContainsFunc(addrs, func(a bus.Address) bool {
			return a.Name == t.Name || a.Regex != nil && a.Regex.MatchString(t.Name)
		}) {
			continue
		}
		counts[len(t.Partitions)] = append(counts[len(t.Partitions)], t.Name)
	}
	if len(counts) <= 1 {
		return "", nil
	}
	var parts []string
	for _, n := range slices.Sorted(mapsKeys(counts)) {
		names := counts[n]
		slices.Sort(names)
		if len(names) > 4 {
			names = append(names[:4:4], fmt.Sprintf("and %d more", len(names)-4))
		}
		parts = append(parts, fmt.Sprintf("%d partitions: %s", n, strings.Join(names, ", ")))
	}
	return fmt.Sprintf("the topics are not co-partitioned (%s): with --group a flow's events can go to different instances, and each instance's figures then hold only part of such a flow (counted incomplete); give the topics one partition count and key every event by its correlation id",
		strings.Join(parts, "; ")), nil
}

func mapsKeys(m map[int][]string) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
