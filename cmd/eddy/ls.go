package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/inspect"
)

// LsOptions are `eddy ls`'s flags and arguments.
type LsOptions struct {
	Targets  []string
	Internal bool
	Output   string
}

func newCmdLs(f *Factory, runF func(context.Context, *LsOptions) error) *cobra.Command {
	o := &LsOptions{}
	cmd := &cobra.Command{
		Use:   "ls [kafka: | amqp: | kafka:/REGEX/ | amqp:QUEUE]...",
		Short: "List Kafka topics and RabbitMQ queues",
		Long: `List Kafka topics (partitions, replicas, end offsets, messages retained) and
RabbitMQ queues (type, ready and unacknowledged messages, consumers, rates).

With no arguments eddy lists every configured transport. kafka: or amqp: limits
the listing to one; kafka:/REGEX/ lists matching topics; amqp:QUEUE names queues.
RabbitMQ queues are listed through the management API; when it cannot be reached,
named queues are still shown from passive declares (depth and consumers only).
If one transport fails and another answers, eddy prints what it got, reports the
failure and exits 3.`,
		Example: `  eddy ls
  eddy ls kafka:/orders.*/ -o json
  eddy ls amqp: --amqp-url amqp://guest:guest@localhost:5672/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return lsRun(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.Internal, "internal", false, "include internal topics (__consumer_offsets, …)")
	tableOutput.bind(cmd.Flags(), &o.Output)
	return cmd
}

func lsRun(ctx context.Context, f *Factory, o *LsOptions) error {
	format := tableOutput.resolve(o.Output, f.IO)
	var wantKafka, wantAMQP bool
	var topicFilters []bus.Address
	var queues []string
	for _, t := range o.Targets {
		switch t {
		case "kafka:", "kafka":
			wantKafka = true
			continue
		case "amqp:", "amqp":
			wantAMQP = true
			continue
		}
		a, err := bus.ParseAddress(t)
		if err != nil {
			return asUsage(err)
		}
		switch a.Transport {
		case "kafka":
			wantKafka = true
			topicFilters = append(topicFilters, a)
		case "amqp":
			if a.Name == "" {
				return usagef("ls %q: name a queue (amqp:QUEUE) or all queues (amqp:)", t)
			}
			wantAMQP = true
			queues = append(queues, a.Name)
		default:
			return usagef("ls %q: want kafka:, amqp:, kafka:/REGEX/ or amqp:QUEUE", t)
		}
	}
	implicit := !wantKafka && !wantAMQP
	if implicit {
		_, _, kExplicit, err := f.kafkaSettings()
		if err != nil {
			return err
		}
		_, _, aExplicit, err := f.amqpSettings()
		if err != nil {
			return err
		}
		wantKafka, wantAMQP = kExplicit, aExplicit
		if !kExplicit && !aExplicit {
			wantKafka, wantAMQP = true, true // try both local defaults
		}
	}

	var topicRows []inspect.TopicRow
	var queueRows []inspect.QueueRow
	var failures []error
	succeeded := false
	if wantKafka {
		rows, err := listTopics(ctx, f, o.Internal, topicFilters)
		if err != nil {
			failures = append(failures, err)
		} else {
			succeeded = true
		}
		topicRows = rows
	}
	if wantAMQP {
		rows, err := listQueues(ctx, f, queues)
		if err != nil {
			failures = append(failures, err)
		} else {
			succeeded = true
		}
		queueRows = rows
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Partial output only makes sense when one transport answered in full;
	// otherwise the error (the worst one decides the exit code) is the answer.
	if len(failures) > 0 && !succeeded {
		return errors.Join(failures...)
	}
	if err := inspect.WriteList(f.IO.Out, topicRows, queueRows, inspect.ListOptions{Format: format, Color: f.IO.Color(), Width: f.IO.Width}); err != nil {
		return err
	}
	return partial(f, failures)
}

func listTopics(ctx context.Context, f *Factory, internal bool, filters []bus.Address) ([]inspect.TopicRow, error) {
	c, err := f.Kafka()
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

func listQueues(ctx context.Context, f *Factory, names []string) ([]inspect.QueueRow, error) {
	c, err := f.AMQP()
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
