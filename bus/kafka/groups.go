package kafka

import (
	"context"
	"slices"
)

// Groups lists the names of the cluster's groups (every type), sorted: for
// shell completion and anyone who needs names without offsets. An unreachable
// cluster is a *bus.ConnectError.
func (c *Client) Groups(ctx context.Context) ([]string, error) {
	listed, err := connect(ctx, c, c.listGroups)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(listed))
	for g := range listed {
		names = append(names, g)
	}
	slices.Sort(names)
	return names, nil
}
