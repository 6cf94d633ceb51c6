package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// DLQOptions are the flags of `eddy dlq ls` and `eddy dlq show`.
type DLQOptions struct {
	// DLQ is show's argument: kafka:TOPIC, TOPIC or file:PATH.
	DLQ    string
	Output string
	// Suffixes, Prefixes and Contains replace the default naming convention.
	Suffixes []string
	Prefixes []string
	Contains []string
	// IDs is how many message ids show lists per group.
	IDs int
	// Transports are ls's arguments: "kafka:", "amqp:"; none means Kafka,
	// and RabbitMQ when it is configured.
	Transports []string
	// Ledger locates the redrive job logs (see dlq.JobLogDir).
	Ledger string
	// Backlog is --backlog: read RabbitMQ classic and quorum queues' messages
	// by a peek (ls: also for their errors; show: at all).
	Backlog bool
}

func newCmdDLQ(f *Factory, runF func(context.Context, string, *DLQOptions) error) *cobra.Command {
	lo, so := &DLQOptions{IDs: 5}, &DLQOptions{}
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Find dead-letter topics and queues and see why their messages failed",
		Long: `Find dead-letter topics and queues and see why their messages failed.

A topic or queue is a dead letter queue by its name: it ends in .DLT, -dlt, _dlt, .dlq,
-dlq or _dlq, starts with dlq. or dlq-, or contains dead-letter, deadletter or
dead_letter (any case; --suffix, --prefix and --contains replace these). Why a
message failed and where it came from are read from the headers the framework
that dead-lettered it wrote:

  Spring Kafka      kafka_dlt-exception-message, -fqcn, -cause-fqcn,
                    kafka_dlt-original-topic, -partition, -offset, -timestamp
                    (binary, as Spring writes them), -consumer-group
  Kafka Connect     __connect.errors.topic, .partition, .offset,
                    .connector.name, .exception.class.name, .exception.message
  RabbitMQ          x-death (reason, queue, exchange, routing-keys, count,
                    time) and x-first-death-* (in captures of queues)

Reading changes nothing: Kafka topics are read read_committed from beginning to
end without a consumer group. A RabbitMQ queue's messages are touched only
with --backlog (see 'eddy dlq ls --help'): dlq ls lists queues from the
management API alone, and dlq show reads a stream queue by offset.`,
	}
	ls := &cobra.Command{
		Use:   "ls [kafka:] [amqp:]",
		Short: "List dead-letter topics and queues: count, age, top errors, origins",
		Long: `List dead-letter topics and queues: count, oldest and newest, the top error and
the origins. Without arguments: Kafka, and RabbitMQ when a RabbitMQ URL is
configured (--amqp-url, EDDY_AMQP_URL or the context). When one transport
cannot be reached, the other's DLQs are listed, what failed is said on stderr,
and the exit status is 3.

WHAT IT DOES TO A QUEUE
  Kafka topics are read read_committed without a consumer group: nothing
  changes. RabbitMQ dead-letter queues (by name, or bound to a queue's
  dead-letter exchange) are listed from the management API without reading a
  message: COUNT is ready + unacknowledged, OLDEST the head message's
  timestamp property (classic queues that stamp it; else -), ORIGINS the
  queues that dead-letter into it; TOP ERROR is - and JSON says
  "read":"management" with the in/out rates. --backlog reads their messages
  for errors and origins too, by a peek:

` + backlogHelp,
		Args: func(c *cobra.Command, args []string) error {
			for _, a := range args {
				if a != "kafka:" && a != "amqp:" {
					return usagef("dlq ls takes kafka: and/or amqp:, not %q", a)
				}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			lo.Transports = args
			if runF != nil {
				return runF(c.Context(), "ls", lo)
			}
			return dlqLsRun(c.Context(), f, lo)
		},
	}
	show := &cobra.Command{
		Use:   "show DLQ",
		Short: "Show a dead-letter topic's messages grouped by error and origin",
		Long: `Show a dead-letter topic's (or a capture's) messages grouped by error, exception
class and origin, with the first message ids of each group. Errors are grouped
with what differs from message to message masked: numbers as <n>, tokens that
mix digits and letters (order ids, SKUs, UUIDs) as <id>, quoted values as '…';
the ERROR column shows that pattern (-o json: "pattern", and "error" the first
message's error as recorded).

DLQ is kafka:TOPIC, a bare topic name, amqp:QUEUE, or file:PATH (a capture).

WHAT IT DOES TO A QUEUE
  A Kafka topic is read read_committed without a consumer group: nothing
  changes. A RabbitMQ stream queue is read from its first offset: nothing
  changes. A classic or quorum queue's messages can only be read by a peek,
  so dlq show refuses one without --backlog:

` + backlogHelp,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("dlq show needs one DLQ, e.g. kafka:payments.DLT (see 'eddy dlq show --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			so.DLQ = args[0]
			if runF != nil {
				return runF(c.Context(), "show", so)
			}
			return dlqShowRun(c.Context(), f, so)
		},
	}
	for _, c := range []struct {
		*cobra.Command
		o *DLQOptions
	}{{ls, lo}, {show, so}} {
		fl, o := c.Flags(), c.o
		tableOutput.bind(fl, &o.Output)
		bindNamingFlags(fl, &o.Suffixes, &o.Prefixes, &o.Contains)
		bindLedgerFlags(fl, &o.Ledger, nil)
		fl.BoolVar(&o.Backlog, "backlog", false, backlogFlag)
	}
	show.Flags().IntVar(&so.IDs, "ids", 5, "message ids to list per group")
	bindSchemaFlags(show.Flags(), &f.Schemas)
	cmd.AddCommand(ls, show, newCmdRedrive(f, nil))
	cmd.AddCommand(newCmdLedger(f, nil))
	return cmd
}

func (o *DLQOptions) naming() convention.Naming {
	return resolveNaming(o.Suffixes, o.Prefixes, o.Contains)
}

// dlqOptions reach the brokers through f, and the redrive jobs' logs
// through --ledger.
func (o *DLQOptions) dlqOptions(f *Factory) dlq.Options {
	return dlq.Options{Naming: o.naming(), Backlog: o.Backlog,
		Kafka:     func() (*kafka.Client, error) { return f.Kafka() },
		AMQP:      func() (*amqp.Client, error) { return f.AMQP() },
		JobLogDir: jobLogDir(f, o.Ledger)}
}

func dlqLsRun(ctx context.Context, f *Factory, o *DLQOptions) error {
	format := tableOutput.resolve(o.Output, f.IO)
	if o.IDs < 0 {
		return usagef("--ids wants a number >= 0")
	}
	lo := o.dlqOptions(f)
	useKafka, useAMQP := len(o.Transports) == 0, false
	if useKafka {
		var err error
		if _, useAMQP, err = configuredTransports(f); err != nil {
			return err
		}
	}
	for _, t := range o.Transports {
		useKafka, useAMQP = useKafka || t == "kafka:", useAMQP || t == "amqp:"
	}
	if !useKafka {
		lo.Kafka = nil
	}
	if !useAMQP {
		lo.AMQP = nil
	}
	// A transport that cannot be reached does not hide the other's DLQs
	// (exit 3, what failed on stderr), as in ls.
	sums, names, failures, err := dlq.List(ctx, lo)
	if err != nil {
		return err
	}
	if err := inspect.WriteDLQs(f.IO.Out, format, sums, names, f.Now()); err != nil {
		return err
	}
	return partial(f, failures)
}

func dlqShowRun(ctx context.Context, f *Factory, o *DLQOptions) error {
	format := tableOutput.resolve(o.Output, f.IO)
	name := o.DLQ
	if !strings.Contains(name, ":") {
		name = "kafka:" + name
	}
	a, err := bus.ParseAddress(name)
	if err != nil {
		return asUsage(err)
	}
	if a.Name == "" {
		return usagef("dlq show reads a Kafka topic (kafka:TOPIC), a RabbitMQ queue (amqp:QUEUE) or a capture (file:PATH), not %s", o.DLQ)
	}
	schema, err := f.Schema()
	if err != nil {
		return err
	}
	do := o.dlqOptions(f)
	do.ID, do.Keep, do.Stdin = func(e *event.Event) string { return schema.Extract(e).ID }, o.IDs, f.IO.In
	if do.Decoder, err = f.Decoder(); err != nil {
		return err
	}
	s, err := dlq.Show(ctx, a, do)
	if err != nil {
		return err
	}
	return inspect.WriteDLQGroups(f.IO.Out, format, a.String(), s, f.Now())
}

// jobLogDir is where the redrive job logs of --ledger live, "" when there
// is no state directory (no jobs known).
func jobLogDir(f *Factory, ledger string) string {
	dir, err := redriveLogDir(f, ledger)
	if err != nil {
		return ""
	}
	return dir
}
