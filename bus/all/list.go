package all

import (
	"context"
	"fmt"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/inspect"
)

// ListTargets are eddy ls's arguments sorted by transport.
type ListTargets struct {
	// Kafka and AMQP say which transports the arguments name; neither means
	// "the configured transports", the caller's decision.
	Kafka, AMQP bool
	// Topics filter the Kafka topics (a name or a /REGEX/), none for every
	// topic; Queues name queues, nil for every queue of the vhost.
	Topics []bus.Address
	Queues []string
}

// ParseListTargets sorts eddy ls's arguments: kafka:, amqp:,
// kafka:/REGEX/, kafka:TOPIC or amqp:QUEUE. Every error is the user's (a
// usage error).
func ParseListTargets(targets []string) (ListTargets, error) {
	var lt ListTargets
	for _, t := range targets {
		switch t {
		case "kafka:", "kafka":
			lt.Kafka = true
			continue
		case "amqp:", "amqp":
			lt.AMQP = true
			continue
		}
		a, err := bus.ParseAddress(t)
		if err != nil {
			return ListTargets{}, err
		}
		switch a.Transport {
		case "kafka":
			lt.Kafka = true
			lt.Topics = append(lt.Topics, a)
		case "amqp":
			if a.Name == "" {
				return ListTargets{}, fmt.Errorf("ls %q: name a queue (amqp:QUEUE) or all queues (amqp:)", t)
			}
			lt.AMQP = true
			lt.Queues = append(lt.Queues, a.Name)
		default:
			return ListTargets{}, fmt.Errorf("ls %q: want kafka:, amqp:, kafka:/REGEX/ or amqp:QUEUE", t)
		}
	}
	return lt, nil
}

// Listing is what List found.
type Listing struct {
	Topics []inspect.TopicRow
	Queues []inspect.QueueRow
	// Failures are the transports that failed, one error each; Answered says
	// at least one transport answered in full.
	Failures []error
	Answered bool
}

// List lists the topics and queues t names (internal topics too with
// internal), each transport through its client in c.
func List(ctx context.Context, c Clients, t ListTargets, internal bool) Listing {
	var l Listing
	if t.Kafka {
		rows, err := listTopics(ctx, c, internal, t.Topics)
		if err != nil {
			l.Failures = append(l.Failures, err)
		} else {
			l.Answered = true
		}
		l.Topics = rows
	}
	if t.AMQP {
		rows, err := listQueues(ctx, c, t.Queues)
		if err != nil {
			l.Failures = append(l.Failures, err)
		} else {
			l.Answered = true
		}
		l.Queues = rows
	}
	return l
}

func listTopics(ctx context.Context, cs Clients, internal bool, filters []bus.Address) ([]inspect.TopicRow, error) {
	c, err := cs.Kafka()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	topics, err := c.Topics(ctx, internal)
	if err != nil {
		return nil, err
	}
	rows := []inspect.TopicRow{}
	for _, t := range topics {
		if len(filters) > 0 && !matchesAny(filters, t.Name) {
			continue
		}
		r := inspect.TopicRow{Name: t.Name, Partitions: len(t.Partitions), Replicas: t.Replicas, Messages: t.Messages, Internal: t.Internal}
		for _, p := range t.Partitions {
			r.StartOffsets = append(r.StartOffsets, p.Start)
			r.EndOffsets = append(r.EndOffsets, p.End)
		}
		rows = append(rows, r)
	}
	for _, a := range filters {
		if a.Regex == nil && !hasTopic(rows, a.Name) {
			return rows, &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: a.Name}
		}
	}
	return rows, nil
}

func matchesAny(filters []bus.Address, name string) bool {
	for _, a := range filters {
		if a.Regex != nil && a.Regex.MatchString(name) || a.Name == name {
			return true
		}
	}
	return false
}

func hasTopic(rows []inspect.TopicRow, name string) bool {
	for _, r := range rows {
		if r.Name == name {
			return true
		}
	}
	return false
}

func listQueues(ctx context.Context, cs Clients, names []string) ([]inspect.QueueRow, error) {
	c, err := cs.AMQP()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	qs, err := c.Queues(ctx, names)
	if err != nil {
		return nil, err
	}
	rows := []inspect.QueueRow{}
	for _, q := range qs {
		rows = append(rows, inspect.QueueRow{Name: q.Name, Vhost: q.Vhost, Type: q.Type, Ready: q.Ready, Unacked: q.Unacked,
			Consumers: q.Consumers, PublishRate: q.PublishRate, DeliverRate: q.DeliverRate, Via: q.Via, DeadLetterExchange: q.DeadLetterExchange})
	}
	return rows, nil
}
