package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
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
			o := dlqFlags(c)
			o.Transports = args
			if runF != nil {
				return runF(c.Context(), "ls", o)
			}
			return dlqLsRun(c.Context(), f, o)
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
			o := dlqFlags(c)
			o.DLQ = args[0]
			if runF != nil {
				return runF(c.Context(), "show", o)
			}
			return dlqShowRun(c.Context(), f, o)
		},
	}
	for _, c := range []*cobra.Command{ls, show} {
		fl := c.Flags()
		tableOutput.bind(fl, new(string))
		fl.StringSlice("suffix", nil, "name suffixes that mark a DLQ (replaces the default list)")
		fl.StringSlice("prefix", nil, "name prefixes that mark a DLQ (replaces the default list)")
		fl.StringSlice("contains", nil, "name parts that mark a DLQ (replaces the default list)")
		bindLedgerFlags(fl, new(string), nil)
		fl.Bool("backlog", false, backlogFlag)
	}
	show.Flags().Int("ids", 5, "message ids to list per group")
	cmd.AddCommand(ls, show, newCmdRedrive(f, nil))
	cmd.AddCommand(newCmdLedger(f, nil))
	return cmd
}

func dlqFlags(c *cobra.Command) *DLQOptions {
	o := &DLQOptions{}
	o.Output, _ = c.Flags().GetString("output")
	o.Suffixes, _ = c.Flags().GetStringSlice("suffix")
	o.Prefixes, _ = c.Flags().GetStringSlice("prefix")
	o.Contains, _ = c.Flags().GetStringSlice("contains")
	o.Ledger, _ = c.Flags().GetString("ledger")
	o.Backlog, _ = c.Flags().GetBool("backlog")
	o.IDs = 5
	if c.Flags().Lookup("ids") != nil {
		o.IDs, _ = c.Flags().GetInt("ids")
	}
	return o
}

func (o *DLQOptions) naming() convention.Naming {
	n := convention.DefaultNaming()
	if len(o.Suffixes) > 0 || len(o.Prefixes) > 0 || len(o.Contains) > 0 {
		n = convention.Naming{Suffixes: o.Suffixes, Prefixes: o.Prefixes, Contains: o.Contains}
	}
	return n
}

// dlqJSON is -o json, version 1.
type dlqJSON struct {
	V    int           `json:"v"`
	DLQs []dlq.Summary `json:"dlqs"`
}

func dlqLsRun(ctx context.Context, f *Factory, o *DLQOptions) error {
	format := tableOutput.resolve(o.Output, f.IO)
	if o.IDs < 0 {
		return usagef("--ids wants a number >= 0")
	}
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
	out := dlqJSON{V: 1, DLQs: []dlq.Summary{}}
	var names []string // per summary: its address
	// One pass per transport: how it lists its DLQs and summarizes one.
	type lister struct {
		transport string
		list      func() ([]string, error)
		summarize func(name string) (dlq.Summary, error)
		close     func()
	}
	var listers []func() (lister, error)
	if useKafka {
		listers = append(listers, func() (lister, error) {
			c, err := f.Kafka()
			if err != nil {
				return lister{}, err
			}
			return lister{"kafka", func() ([]string, error) { return dlq.KafkaDLQs(ctx, c, o.naming()) },
				func(n string) (dlq.Summary, error) {
					jobs, err := redriveJobs(ctx, f, o.Ledger, n)
					if err != nil {
						return dlq.Summary{}, err
					}
					return dlq.SummarizeKafka(ctx, c, n, o.naming(), nil, 0, jobs)
				}, c.Close}, nil
		})
	}
	if useAMQP {
		listers = append(listers, func() (lister, error) {
			c, err := f.AMQP()
			if err != nil {
				return lister{}, err
			}
			// Without --backlog the queues' messages are not read: one
			// description of them all from the management API.
			var described map[string]dlq.Summary
			summarize := func(n string) (dlq.Summary, error) {
				if o.Backlog {
					return dlq.SummarizeAMQP(ctx, c, n, o.naming(), nil, 0, true)
				}
				s, ok := described[n]
				if !ok {
					return dlq.Summary{}, &bus.NotFoundError{Transport: "amqp", Kind: "queue", Name: n}
				}
				return s, nil
			}
			list := func() ([]string, error) {
				names, err := dlq.AMQPDLQs(ctx, c, o.naming())
				if err != nil || o.Backlog {
					return names, err
				}
				sums, err := dlq.DescribeAMQP(ctx, c, names)
				if err != nil {
					return nil, err
				}
				described = map[string]dlq.Summary{}
				for _, s := range sums {
					described[s.Name] = s
				}
				return names, nil
			}
			return lister{"amqp", list, summarize, func() { c.Close() }}, nil
		})
	}
	// Each transport is listed on its own: one that cannot be reached does
	// not hide the other's DLQs (exit 3, what failed on stderr), as in ls.
	var failures []error
	succeeded := false
	listOne := func(open func() (lister, error)) ([]dlq.Summary, []string, error) {
		l, err := open()
		if err != nil {
			return nil, nil, err
		}
		defer l.close()
		dlqs, err := l.list()
		if err != nil {
			return nil, nil, err
		}
		var sums []dlq.Summary
		var names []string
		for _, n := range dlqs {
			s, err := l.summarize(n)
			if errors.Is(err, bus.ErrNotFound) {
				continue // deleted since it was listed
			}
			if err != nil {
				return nil, nil, err
			}
			s.Groups = nil
			sums = append(sums, s)
			names = append(names, l.transport+":"+n)
		}
		return sums, names, nil
	}
	for _, open := range listers {
		sums, ns, err := listOne(open)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		succeeded = true
		out.DLQs = append(out.DLQs, sums...)
		names = append(names, ns...)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failures) > 0 && !succeeded {
		return errors.Join(failures...)
	}
	if err := dlqLsWrite(f, format, out, names); err != nil {
		return err
	}
	return partial(f, failures)
}

func dlqLsWrite(f *Factory, format string, out dlqJSON, names []string) error {
	if format == "json" {
		return writeJSON(f.IO.Out, out)
	}
	tw := newTable(f.IO.Out, format, "dlq", "count", "oldest", "newest", "top_error", "origins")
	if format == "table" {
		fmt.Fprintln(tw, "DLQ\tCOUNT\tOLDEST\tNEWEST\tTOP ERROR\tORIGINS")
	}
	now := f.Now()
	for i, s := range out.DLQs {
		top := "-"
		if len(s.Errors) > 0 {
			top = fmt.Sprintf("%s (%d)", s.Errors[0].Value, s.Errors[0].Count)
		}
		var origins []string
		for _, c := range s.Origins {
			origins = append(origins, c.Value)
		}
		row := []string{names[i], strconv.FormatInt(s.Count, 10), when(s.Oldest, now, format), when(s.Newest, now, format),
			top, strings.Join(origins, ",")}
		writeRow(tw, row, format)
	}
	return tw.Flush()
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
	id := func(e *event.Event) string { return schema.Extract(e).ID }
	var s dlq.Summary
	switch a.Transport {
	case "amqp":
		c, err := f.AMQP()
		if err != nil {
			return err
		}
		defer c.Close()
		if s, err = dlq.SummarizeAMQP(ctx, c, a.Name, o.naming(), id, o.IDs, o.Backlog); err != nil {
			return err
		}
	case "file":
		src, err := file.Open(a.Name, f.IO.In, bus.ReadOptions{})
		if err != nil {
			return err
		}
		defer src.Close()
		sum := dlq.NewSummarizer(a.Name, o.naming(), id, o.IDs)
		if err := dlq.Scan(ctx, src, sum); err != nil {
			return err
		}
		s = sum.Summary()
		s.Transport = "file"
	default:
		c, err := f.Kafka()
		if err != nil {
			return err
		}
		defer c.Close()
		jobs, err := redriveJobs(ctx, f, o.Ledger, a.Name)
		if err != nil {
			return err
		}
		if s, err = dlq.SummarizeKafka(ctx, c, a.Name, o.naming(), id, o.IDs, jobs); err != nil {
			return err
		}
	}
	if format == "json" {
		return writeJSON(f.IO.Out, dlqJSON{V: 1, DLQs: []dlq.Summary{s}})
	}
	now := f.Now()
	tw := newTable(f.IO.Out, format, "count", "error", "class", "origin", "first", "last", "ids")
	if format == "table" {
		fmt.Fprintf(tw.Out, "%s: %d message(s), oldest %s, newest %s\n\n", inspect.SafeString(a.String()), s.Count,
			when(s.Oldest, now, format), when(s.Newest, now, format))
		fmt.Fprintln(tw, "COUNT\tERROR\tCLASS\tORIGIN\tFIRST\tLAST\tIDS")
	}
	for _, g := range s.Groups {
		class := g.Class
		if class == "" {
			class = "-"
		}
		writeRow(tw, []string{strconv.FormatInt(g.Count, 10), g.Pattern, class, g.Origin,
			when(g.First, now, format), when(g.Last, now, format), strings.Join(g.IDs, " ")}, format)
	}
	return tw.Flush()
}

// table is a tabwriter for -o table, and w itself for tsv. It keeps the
// first write error, which Flush returns: a listing written to a full disk
// must fail (exit 1), as its JSON form does, not end as if all was written.
type table struct {
	io.Writer
	// Out is the underlying stream, for lines outside the grid (a title);
	// its errors count too.
	Out io.Writer
	tw  *tabwriter.Writer
	ew  *errWriter
}

// newTable starts a table; tsvHead is the header line of tsv (the README
// promises one), the names of its columns.
func newTable(w io.Writer, format string, tsvHead ...string) *table {
	ew := &errWriter{w: w}
	t := &table{Writer: ew, Out: ew, ew: ew}
	if format == "table" {
		t.tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		t.Writer = t.tw
	} else if len(tsvHead) > 0 {
		io.WriteString(ew, strings.Join(tsvHead, "\t")+"\n")
	}
	return t
}

// Flush writes a table's aligned rows and returns the first write error.
func (t *table) Flush() error {
	if t.tw != nil {
		if err := t.tw.Flush(); err != nil && t.ew.err == nil {
			t.ew.err = err
		}
	}
	if t.ew.err != nil {
		return fmt.Errorf("writing the output: %w", t.ew.err)
	}
	return nil
}

// errWriter writes to w until a write fails, then writes nothing more and
// keeps that error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// writeRow writes cells terminal-safe: a table's cells are also cut to fit
// a line; tsv's keep their text with tabs and newlines escaped.
func writeRow(w io.Writer, cells []string, format string) {
	for i, c := range cells {
		c = inspect.SafeString(c)
		c = strings.NewReplacer("\t", `\t`, "\n", `\n`).Replace(c)
		if r := []rune(c); format == "table" && len(r) > 60 {
			c = string(r[:59]) + "…"
		}
		if i > 0 {
			io.WriteString(w, "\t")
		}
		io.WriteString(w, c)
	}
	io.WriteString(w, "\n")
}

// when is a time for a person (an age) on a terminal, RFC 3339 otherwise.
func when(t, now time.Time, format string) string {
	if t.IsZero() {
		return "-"
	}
	if format != "table" {
		return event.FormatTime(t)
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return event.FormatTime(t)
	case d < time.Minute:
		return d.String() + " ago"
	case d < 48*time.Hour:
		return d.Truncate(time.Minute).String() + " ago"
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// redriveJobs is what the local redrive job logs and their groups say about
// the Kafka DLQ topic (nil when no job ran here).
func redriveJobs(ctx context.Context, f *Factory, ledger, topic string) (dlq.Jobs, error) {
	dir, err := redriveLogDir(f, ledger)
	if err != nil {
		return nil, nil // no state directory: no jobs known
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
		return nil, nil
	}
	kc, err := f.Kafka()
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	return dlq.LoadJobs(ctx, kc.Admin(), dir, topic)
}
