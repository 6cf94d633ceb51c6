package dlq

import (
	"context"
	"slices"
	"sort"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
)

// AMQPDLQs returns the names of the vhost's dead-letter queues, sorted: the
// queues naming calls dead-letter queues, and the queues the topology makes
// ones (bound to an exchange that a queue uses as its x-dead-letter-exchange;
// see amqp.Client.DeadLetterQueues). It needs the management API.
func AMQPDLQs(ctx context.Context, c *amqp.Client, naming convention.Naming) ([]string, error) {
	qs, err := c.Queues(ctx, nil)
	if err != nil {
		return nil, err
	}
	topo, err := c.DeadLetterQueues(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, q := range qs {
		if _, dlx := topo[q.Name]; dlx || naming.Is(q.Name) {
			out = append(out, q.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// SummarizeAMQP peeks at every message of queue (fetched and requeued, see
// bus/amqp: they are marked redelivered, not consumed) and summarizes them.
func SummarizeAMQP(ctx context.Context, c *amqp.Client, queue string, naming convention.Naming, id func(*event.Event) string, keep int) (Summary, error) {
	src, err := c.Source(ctx, []bus.Address{{Transport: "amqp", Name: queue}}, bus.ReadOptions{Backlog: true,
		From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	if err != nil {
		return Summary{}, err
	}
	defer src.Close()
	s := NewSummarizer(queue, naming, id, keep)
	if err := Scan(ctx, src, s); err != nil {
		return Summary{}, err
	}
	sum := s.Summary()
	sum.Transport = "amqp"
	// Queues that dead-letter here are origins even while none of their
	// messages is in the DLQ (count 0). Without the management API the
	// messages' x-death still names theirs.
	if topo, err := c.DeadLetterQueues(ctx); err == nil {
		for _, o := range topo[queue] {
			if !slices.ContainsFunc(sum.Origins, func(c Count) bool { return c.Value == o }) {
				sum.Origins = append(sum.Origins, Count{Value: o})
			}
		}
	}
	return sum, nil
}
