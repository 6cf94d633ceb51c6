package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/schema"
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
		Long:  helptext.Ls,
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
	bindSchemaRegistryFlag(cmd.Flags(), &f.Schemas)
	return cmd
}

func lsRun(ctx context.Context, f *Factory, o *LsOptions) error {
	format := tableOutput.resolve(o.Output, f.IO)
	t, err := all.ParseListTargets(o.Targets)
	if err != nil {
		return asUsage(err)
	}
	if !t.Kafka && !t.AMQP {
		_, _, kExplicit, err := f.kafkaSettings()
		if err != nil {
			return err
		}
		_, _, aExplicit, err := f.amqpSettings()
		if err != nil {
			return err
		}
		t.Kafka, t.AMQP = kExplicit, aExplicit
		if !kExplicit && !aExplicit {
			t.Kafka, t.AMQP = true, true // try both local defaults
		}
	}
	// A registry URL that is wrong is said before anything connects.
	registry, err := f.SchemaClient()
	if err != nil {
		return err
	}
	l := all.List(ctx, sourceClients(f, nil, nil), t, o.Internal)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Partial output only makes sense when one transport answered in full;
	// otherwise the error (the worst one decides the exit code) is the answer.
	if len(l.Failures) > 0 && !l.Answered {
		return errors.Join(l.Failures...)
	}
	subjects := registry != nil && t.Kafka
	if subjects && len(l.Topics) > 0 {
		if err := valueSubjects(ctx, registry, l.Topics); err != nil {
			l.Failures = append(l.Failures, err)
		}
	}
	if err := inspect.WriteList(f.IO.Out, l.Topics, l.Queues, inspect.ListOptions{Format: format, Color: f.IO.Color(), Width: f.IO.Width, Subjects: subjects}); err != nil {
		return err
	}
	return partial(f, l.Failures)
}

// valueSubjects sets each topic's value subject in the registry c
// (TopicNameStrategy: TOPIC-value). A registry that does not answer leaves
// the column empty: its error is a partial failure of the listing (exit 3).
func valueSubjects(ctx context.Context, c *schema.Client, rows []inspect.TopicRow) error {
	subjects, err := c.Subjects(ctx)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(subjects))
	for _, s := range subjects {
		have[s] = true
	}
	for i := range rows {
		if s := rows[i].Name + "-value"; have[s] {
			rows[i].ValueSubject = s
		}
	}
	return nil
}
