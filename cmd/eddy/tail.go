package main

import (
	"context"
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/schema"
)

// TailOptions are `eddy tail`'s flags and arguments.
type TailOptions struct {
	Sources    []string
	From       string
	Until      string
	Limit      int
	Partitions []int
	Output     string
	Filter     string
	Group      string
	Force      bool
	Backlog    bool
	Firehose   bool
	SkipBad    bool
	// ReadUncommitted shows records of open and aborted transactions.
	ReadUncommitted bool
	// Headers shows headers under each pretty line.
	Headers bool
	// KcatFormat is -f, kcat's format string.
	KcatFormat string
}

func newCmdTail(f *Factory, runF func(context.Context, *TailOptions) error) *cobra.Command {
	o := &TailOptions{}
	cmd := &cobra.Command{
		Use:   "tail SOURCE...",
		Short: "Print events from topics, queues and captures as they arrive",
		Long: helptext.Tail + backlogHelp + `

TRANSACTIONS
  Kafka topics are read read_committed, like kcat: records of aborted
  transactions never show, and --until end stops at the last stable offset.
  --read-uncommitted shows everything.

POSITIONS (Kafka; times also filter captures)
  --from   beginning | end | OFFSET | -N (N before each partition's end) |
           RFC3339 time | -DURATION (e.g. -15m)                  default: end
  --until  end (the end as of starting: read everything so far, then exit) |
           OFFSET | RFC3339 time | -DURATION                     default: follow

A LOST KAFKA CLUSTER
  Following (no --until), eddy says once on stderr when the cluster has not
  answered for --timeout, keeps trying, says when it answers again and goes
  on from where it was: nothing skipped, nothing twice. With --until it gives
  up after --timeout instead (exit 4). (trace, trace flows and expect too.)

OUTPUT
  -o pretty    one line per event (default on a terminal); payloads are shown
               terminal-safe: control and escape sequences are escaped;
               --headers adds the headers, binary Spring DLT headers decoded
  -o jsonl     the envelope, one JSON object per line (default in a pipe)
  -o raw       the value bytes and a newline (escaped when stdout is a terminal)
  -o template='{{.Topic}} {{.Key}} {{.Value}}'  a Go template per event

FILTER
  --filter is an expression (expr-lang.org) over the event: topic, queue,
  partition, offset, timestamp, key, value (the decoded JSON payload), raw,
  headers["name"], type, id, correlation_id, causation_id, trace_id.

SCHEMAS
  Avro, Protobuf and JSON Schema payloads in the Confluent wire format are
  decoded with the Schema Registry of --schema-registry, EDDY_SCHEMA_REGISTRY
  or the context (eddy help schema); --value-schema and --key-schema decode a
  topic's bare payloads with a local schema file instead. value is then the
  decoded JSON, for --filter and templates too. A record that does not decode
  is printed raw with its reason; at the end one line on stderr says how many
  and why, and the exit status is 3. --no-decode reads the bytes alone.`,
		Example: `  # follow new orders
  eddy tail kafka:orders
  # everything so far in two topics, as JSON lines, then exit
  eddy tail kafka:orders kafka:payments --from beginning --until end -o jsonl > capture.jsonl
  # the last hour of big orders from acme
  eddy tail kafka:/orders.*/ --from -1h --filter 'value.total > 100 && headers["tenant"] == "acme"'
  # watch a RabbitMQ queue without consuming it, backlog included
  eddy tail amqp:orders.dlq --backlog
  # read a capture
  eddy tail file:capture.jsonl --filter 'type == "PaymentFailed"'
  # Avro and Protobuf through a Schema Registry; a local .proto for one topic
  eddy tail kafka:orders kafka:refunds --schema-registry http://127.0.0.1:8081 --value-schema 'refunds=refund.proto#shop.Refund'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("tail needs at least one SOURCE, e.g. kafka:orders (see 'eddy tail --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Sources = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return tailRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	bindPositions(fl, &o.From, &o.Until, "", "")
	fl.IntVarP(&o.Limit, "limit", "n", 0, "stop after printing N events")
	fl.IntSliceVarP(&o.Partitions, "partitions", "p", nil, "only these Kafka partitions, e.g. 0,2")
	tailOutput.bind(fl, &o.Output)
	fl.StringVarP(&o.KcatFormat, "format", "f", "", `kcat's -f: print each event as FORMAT: %s value, %k key, %t topic, %p partition, %o offset, %T timestamp (ms), %h headers, %S/%K lengths, \n; e.g. -f '%t %p %o %k %s\n' (escaped on a terminal)`)
	fl.StringVar(&o.Filter, "filter", "", "only events matching this expression")
	fl.StringVar(&o.Group, "group", "", "consume as this Kafka consumer group and commit (default: no group, nothing committed)")
	fl.BoolVar(&o.Force, "force", false, "with --group: allow a group that has active members")
	fl.BoolVar(&o.Backlog, "backlog", false, backlogFlag)
	fl.BoolVar(&o.Firehose, "firehose", false, "RabbitMQ: see a default-exchange queue's traffic through the firehose tracer (needs 'rabbitmqctl trace_on')")
	fl.BoolVar(&o.Headers, "headers", false, "pretty: show each event's headers under it, known binary ones decoded (Spring's kafka_dlt-*)")
	fl.BoolVar(&o.ReadUncommitted, "read-uncommitted", false, "Kafka: also show records of open and aborted transactions (default: read_committed, like kcat)")
	fl.BoolVar(&o.SkipBad, "skip-bad", false, "captures: skip malformed lines and report how many, instead of stopping")
	bindSchemaFlags(fl, &f.Schemas)
	return cmd
}

// tailPlan is everything tail validated before touching a broker, so that a
// usage error never costs a connection attempt.
type tailPlan struct {
	addrs   all.Addrs
	read    bus.ReadOptions
	printer inspect.Printer
	filter  *inspect.Filter
}

func planTail(f *Factory, o *TailOptions) (*tailPlan, error) {
	p := &tailPlan{}
	var err error
	if p.addrs, err = all.Split(o.Sources, "tail"); err != nil {
		return nil, asUsage(err)
	}
	now := f.Now()
	if p.read.From, p.read.Until, err = bus.ParseRange(o.From, o.Until, now); err != nil {
		return nil, asUsage(err)
	}
	if o.Limit < 0 {
		return nil, usagef("--limit %d: want a number of events >= 0", o.Limit)
	}
	for _, n := range o.Partitions {
		if n < 0 || n > math.MaxInt32 {
			return nil, usagef("--partitions: %d is not a partition number", n)
		}
		p.read.Partitions = append(p.read.Partitions, int32(n))
	}
	if len(o.Partitions) > 0 && len(p.addrs.Kafka) == 0 {
		return nil, usagef("--partitions applies to Kafka sources only")
	}
	if o.Force && o.Group == "" {
		return nil, usagef("--force goes with --group")
	}
	p.read.Group, p.read.Force, p.read.SkipBad = o.Group, o.Force, o.SkipBad
	// Only --backlog touches a queue's messages (--from beginning alone is
	// refused for a classic queue by the source, with the flag to use).
	p.read.Backlog = o.Backlog

	schema, err := f.Schema()
	if err != nil {
		return nil, err
	}
	format, tmpl, err := inspect.ParseFormat(tailOutput.resolve(o.Output, f.IO))
	if err != nil {
		return nil, asUsage(err)
	}
	if o.KcatFormat != "" {
		if o.Output != "" {
			return nil, usagef("-f and -o both say how to print: give one")
		}
		if err := inspect.ParseKcatFormat(o.KcatFormat); err != nil {
			return nil, asUsage(err)
		}
		format, tmpl = inspect.Kcat, o.KcatFormat
	} else if !format.SafeForTerminal() && f.IO.OutTTY {
		// Raw bytes straight to a terminal would let a payload drive it; on a
		// terminal raw shows the same bytes escaped.
		format, tmpl = inspect.Template, "{{.Raw}}"
	}
	if o.Filter != "" {
		if p.filter, err = inspect.CompileFilter(o.Filter, schema); err != nil {
			return nil, asUsage(err)
		}
	}
	p.printer, err = inspect.NewPrinter(f.IO.Out, inspect.PrinterOptions{
		Format: format, Template: tmpl, Color: f.IO.Color(), Width: f.IO.Width, Schema: schema, Headers: o.Headers,
		Escape: f.IO.OutTTY,
	})
	if err != nil {
		return nil, asUsage(err)
	}
	return p, nil
}

func tailRun(ctx context.Context, f *Factory, o *TailOptions) error {
	p, err := planTail(f, o)
	if err != nil {
		return err
	}
	var kopts []kafka.Option
	if o.ReadUncommitted {
		kopts = append(kopts, kafka.WithReadUncommitted())
	}
	var aopts []amqp.Option
	if o.Firehose {
		aopts = append(aopts, amqp.WithFirehose())
	}
	clients, err := decodingClients(f, kopts, aopts)
	if err != nil {
		return err
	}
	src, err := all.Sources(ctx, clients, p.addrs, all.Read{Brokers: p.read, Files: p.read})
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := inspect.Tail(ctx, src, inspect.TailOptions{Filter: p.filter, Limit: o.Limit, Printer: p.printer})
	f.decodedSeen(schema.Stats{Decoded: st.Decoded, Failed: st.Undecoded})
	if st.FilterErrors > 0 {
		// Not fatal: one odd event should not end a live tail, but it must not
		// pass silently either.
		inspect.WriteNote(f.IO.ErrOut, fmt.Sprintf("--filter failed on %d event(s), which were not printed; first: %s",
			st.FilterErrors, st.FirstFilterError.Error()))
	}
	reportSkipped(f, src)
	for _, n := range src.Notes() {
		inspect.WriteNote(f.IO.ErrOut, n)
	}
	return err
}
