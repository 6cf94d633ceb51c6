package dlq

import (
	"context"
	"slices"
	"sort"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/schema"
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

// DescribeAMQP summarizes the named dead-letter queues without reading a
// message: Count (ready and unacknowledged), Oldest (the head message's
// timestamp property, where the management API reports it: classic queues),
// the rates, and as Origins the queues that dead-letter into each. Errors,
// Groups and Unparsed stay empty: only reading the messages tells them
// (SummarizeAMQP). Read is "management". It needs the management API. A
// queue deleted since it was named is left out.
func DescribeAMQP(ctx context.Context, c *amqp.Client, queues []string) ([]Summary, error) {
	qs, err := c.Queues(ctx, nil)
	if err != nil {
		return nil, err
	}
	heads, err := c.QueueHeads(ctx, nil)
	if err != nil {
		return nil, err
	}
	topo, err := c.DeadLetterQueues(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]amqp.QueueInfo{}
	for _, q := range qs {
		byName[q.Name] = q
	}
	out := []Summary{}
	for _, n := range queues {
		q, ok := byName[n]
		if !ok {
			continue
		}
		s := Summary{Transport: "amqp", Name: n, Count: q.Ready + q.Unacked, Oldest: heads[n], Errors: []Count{}, Origins: []Count{},
			Read: "management", InRate: q.PublishRate, OutRate: q.DeliverRate}
		for _, o := range topo[n] {
			s.Origins = append(s.Origins, Count{Value: o})
		}
		out = append(out, s)
	}
	return out, nil
}

// SummarizeAMQP reads every message of queue and summarizes them. A stream
// queue is read from its first offset, which changes nothing. A classic or
// quorum queue is read only with peek, and then by a peek (fetched and
// requeued, see bus/amqp: they are marked redelivered, not consumed);
// without it the error (wrapping amqp.ErrNoPosition) says so.
func SummarizeAMQP(ctx context.Context, c *amqp.Client, queue string, naming convention.Naming, id func(*event.Event) string, keep int, peek bool) (Summary, error) {
	return summarizeAMQP(ctx, c, queue, naming, id, keep, peek, nil)
}

// SummarizeAMQPDecoded is SummarizeAMQP with the letters decoded by dec
// (nil: not decoded), as eddy dlq show reads them: the TUI's DLQ view.
func SummarizeAMQPDecoded(ctx context.Context, c *amqp.Client, queue string, naming convention.Naming, id func(*event.Event) string, keep int, peek bool, dec *schema.Decoder) (Summary, error) {
	return summarizeAMQP(ctx, c, queue, naming, id, keep, peek, dec)
}

// summarizeAMQP is SummarizeAMQP with the letters decoded by dec (nil: not
// decoded).
func summarizeAMQP(ctx context.Context, c *amqp.Client, queue string, naming convention.Naming, id func(*event.Event) string, keep int, peek bool, dec *schema.Decoder) (Summary, error) {
	src, err := c.Source(ctx, []bus.Address{{Transport: "amqp", Name: queue}}, bus.ReadOptions{Backlog: peek,
		From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	if err != nil {
		return Summary{}, err
	}
	defer src.Close()
	s := NewSummarizer(queue, naming, id, keep)
	if err := Scan(ctx, schema.Source(src, dec), s); err != nil {
		return Summary{}, err
	}
	sum := s.Summary()
	sum.Transport, sum.Read = "amqp", "messages"
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
