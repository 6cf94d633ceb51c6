package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/lag"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/schema"
	"github.com/eddy-sh/eddy/trace"
)

// Backend is how the TUI reaches the brokers: the clients the commands use
// (cmd/eddy builds them from the same flags, environment and context), read
// through the packages the commands use. The TUI never closes them; whoever
// built the Backend does.
type Backend struct {
	// Context names the context in force, for the top bar ("" for none).
	Context string
	// Endpoint is what the clients connect to (Kafka seeds, a RabbitMQ
	// URL; comma-separated), shown in the top bar when no context is in
	// force; a URL's user and password are never shown.
	Endpoint string
	// Kafka and AMQP are the clients; nil leaves that transport out.
	Kafka *kafka.Client
	AMQP  *amqp.Client
	// Schema derives ids and types, as in eddy tail; nil is the default.
	Schema *event.Schema
	// Decoder decodes what the tail, the trace and the DLQ view read with
	// schemas (nil: none), as eddy tail and eddy dlq show do.
	Decoder *schema.Decoder
	// Naming says which topics and queues are dead-letter ones.
	Naming convention.Naming
	// Jobs, when set, says what redrive jobs already took from a Kafka DLQ,
	// so counts are what is left (eddy dlq ls's job logs).
	Jobs func(ctx context.Context, topic string) (dlq.Jobs, error)
	// Redrive runs eddy dlq redrive (dry or not) on a Kafka or RabbitMQ DLQ;
	// nil leaves redrive out of the DLQ view. progress receives the counts
	// as it goes.
	Redrive func(ctx context.Context, req RedriveRequest, progress func(replay.Summary)) (dlq.Report, error)
	// Contexts names the configured contexts, Switch connects to one; with
	// Switch nil the Contexts view only lists them.
	Contexts []string
	Switch   func(name string) (*Backend, error)
	// Close, when set, is called when the TUI switches away from this
	// Backend (the TUI's caller closes the last one).
	Close func()
	// Backlog is eddy tui --backlog: the TUI may peek at RabbitMQ classic
	// and quorum queues (messages fetched and requeued, marked redelivered)
	// to show a DLQ's errors and a tail's past. Without it the DLQ view
	// lists RabbitMQ DLQs from the management API alone, and a jump back in
	// a queue's tail is refused, as eddy tail without --backlog.
	Backlog bool
}

func (b *Backend) schema() *event.Schema {
	if b.Schema == nil {
		b.Schema = event.DefaultSchema()
	}
	return b.Schema
}

// sourceRow is one topic or queue of the Sources view.
type sourceRow struct {
	addr       bus.Address
	partitions int   // Kafka
	messages   int64 // Kafka: retained offsets; RabbitMQ: ready
	consumers  int64 // RabbitMQ
	dlq        bool
	rate       float64 // messages/s, -1 unknown
}

// sourcesMsg is one listing of the sources, as eddy ls makes it.
type sourcesMsg struct {
	at   time.Time
	rows []sourceRow
	errs []error
}

// listSources lists Kafka topics (non-internal) and RabbitMQ queues, as eddy
// ls does; a transport that fails is reported, the other still listed.
func (b *Backend) listSources(ctx context.Context) sourcesMsg {
	m := sourcesMsg{at: time.Now()}
	if b.Kafka != nil {
		ts, err := b.Kafka.Topics(ctx, false)
		if err != nil {
			m.errs = append(m.errs, err)
		}
		for _, t := range ts {
			m.rows = append(m.rows, sourceRow{addr: bus.Address{Transport: "kafka", Name: t.Name}, partitions: len(t.Partitions),
				messages: t.Messages, dlq: b.Naming.Is(t.Name), rate: -1})
		}
	}
	if b.AMQP != nil {
		qs, err := b.AMQP.Queues(ctx, nil)
		if err != nil {
			m.errs = append(m.errs, err)
		}
		for _, q := range qs {
			r := sourceRow{addr: bus.Address{Transport: "amqp", Name: q.Name}, messages: q.Ready, consumers: q.Consumers,
				dlq: b.Naming.Is(q.Name), rate: -1}
			if q.PublishRate != nil {
				r.rate = *q.PublishRate
			}
			m.rows = append(m.rows, r)
		}
	}
	return m
}

// openTail opens the addresses as eddy tail does: Kafka without a group
// (nothing committed), RabbitMQ through a tap queue (nothing consumed), all
// merged into one source.
func (b *Backend) openTail(ctx context.Context, addrs []bus.Address, read bus.ReadOptions) (bus.Source, error) {
	a := all.Sort(addrs)
	if len(a.Files) > 0 {
		return nil, fmt.Errorf("tui: %s: only Kafka topics and RabbitMQ queues can be tailed here", a.Files[0])
	}
	// A start in the past peeks at a classic queue only with --backlog;
	// a live tail never does. (Kafka reads ignore Backlog.)
	read.Backlog = read.Backlog || b.Backlog && read.From.Kind != bus.PosNone && read.From.Kind != bus.PosEnd
	return all.Sources(ctx, b.clients(), a, all.Read{Brokers: read})
}

// clients are the Backend's clients for all.Sources, which leaves them open.
func (b *Backend) clients() all.Clients {
	c := all.Clients{Borrowed: true, Decoder: b.Decoder,
		Kafka: func() (*kafka.Client, error) { return nil, errors.New("tui: no Kafka in this context") },
		AMQP:  func() (*amqp.Client, error) { return nil, errors.New("tui: no RabbitMQ in this context") }}
	if b.Kafka != nil {
		c.Kafka = func() (*kafka.Client, error) { return b.Kafka, nil }
	}
	if b.AMQP != nil {
		c.AMQP = func() (*amqp.Client, error) { return b.AMQP, nil }
	}
	return c
}

// traceMsg is the flow of one event, found as eddy trace ID finds it, and
// the per-edge latency of every flow seen while looking.
type traceMsg struct {
	query  string
	flows  []*trace.Flow
	report trace.Report
	// hists[i] is report.Edges[i]'s latency histogram, bucketed by
	// latencyBounds.
	hists [][]int64
	err   error
}

// traceQuery is what eddy trace would be asked for e: its correlation id,
// else its trace id, else its event id.
func traceQuery(schema *event.Schema, e *event.Event) string {
	f := schema.Extract(e)
	switch {
	case f.Correlation != "":
		return f.Correlation
	case f.TraceID != "":
		return f.TraceID
	}
	return f.ID
}

// findFlows reads every non-internal Kafka topic from since to the end, as
// eddy trace does, and returns the flows that match id, with the statistics
// of all the flows read.
func (b *Backend) findFlows(ctx context.Context, id string, since time.Time) traceMsg {
	m := traceMsg{query: id}
	if b.Kafka == nil {
		m.err = errors.New("trace: needs Kafka (no Kafka in this context)")
		return m
	}
	src, err := all.Sources(ctx, b.clients(), all.Addrs{EveryTopic: true},
		all.Read{Brokers: bus.ReadOptions{From: bus.Position{Kind: bus.PosTime, Time: since}, Until: bus.Position{Kind: bus.PosEnd}}})
	if errors.Is(err, all.ErrNoTopics) {
		err = errors.New("trace: no topics to read")
	}
	if err != nil {
		m.err = err
		return m
	}
	defer src.Close()
	stats := trace.NewStats(nil)
	var c *trace.Correlator
	// KeepKeys: the Trace view's / filter matches a step's key.
	if m.flows, c, m.err = trace.Find(ctx, trace.Input{Source: src}, trace.Config{Schema: b.schema(), OnFlow: stats.Add, KeepKeys: true}, id); m.err != nil {
		return m
	}
	open := c.Open()
	m.report = stats.Report(open)
	// The histograms count the open flows too, as the report does.
	for _, f := range open {
		stats.Add(f)
	}
	m.hists = edgeHists(stats, m.report.Edges)
	return m
}

// latencyBounds bucket hop latencies for the Trace view's histograms: a
// 1-2-5 log scale from 1 ms to 10 s.
var latencyBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// edgeHists buckets each edge's latency histogram (trace.Stats keeps one
// HdrHistogram per edge) by latencyBounds.
func edgeHists(s *trace.Stats, edges []trace.EdgeReport) [][]int64 {
	out := make([][]int64, len(edges))
	for i, e := range edges {
		out[i] = s.EdgeCounts(e.From, e.To, latencyBounds)
	}
	return out
}

// lagMsg is one lag sample.
type lagMsg struct {
	snap *inspect.LagSnapshot
	err  error
}

// newLagMonitor samples every group and queue, as eddy lag does.
func (b *Backend) newLagMonitor() *lag.LagMonitor {
	m := &lag.LagMonitor{AMQP: b.AMQP}
	if b.Kafka != nil {
		m.Kafka = b.Kafka.LagReader()
	}
	return m
}

// dlqMsg is the summaries of every dead-letter topic and queue, as eddy dlq
// ls makes them.
type dlqMsg struct {
	sums []dlq.Summary
	errs []error
}

// RedriveRequest is what the DLQ view asks eddy dlq redrive for: the same
// selection flags.
type RedriveRequest struct {
	// Transport is the DLQ's: "kafka" (a topic) or "amqp" (a queue).
	Transport string
	// DLQ is the dead-letter topic or queue.
	DLQ string
	// Error is --error: a regular expression the recorded error message or
	// class must match; "" selects every message.
	Error string
	// IDs is --ids: only these messages (event ids or TOPIC/P@OFFSET).
	IDs []string
	// Patterns selects the messages of these error groups: their error
	// masked as dlq.Summary groups them (dlq.ErrorPattern).
	Patterns []string
	// Pin, when set, selects only the messages it pins: a hand-made pick,
	// or the plan a dry run returned (its Report.Pin), so that Y writes
	// exactly what the plan showed. A Kafka run with a pin is a job of its
	// own (its name ends in Pin.Hash).
	Pin *dlq.Pin
	// DryRun is --dry-run: decide and count, write nothing; the report
	// carries the plan as its Pin.
	DryRun bool
}

// dlqMessage reads the one message of a DLQ that identity names
// (replay.DefaultIdentity, as dlq.Group.Identities lists them): a Kafka
// record by its position; a RabbitMQ message by peeking at the queue as the
// summary did (fetched and requeued).
func (b *Backend) dlqMessage(ctx context.Context, transport, name, identity string) (*event.Event, error) {
	read := bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}}
	var src bus.Source
	var err error
	switch transport {
	case "kafka":
		if b.Kafka == nil {
			return nil, errors.New("no Kafka in this context")
		}
		at := strings.LastIndexByte(identity, '@')
		slash := strings.LastIndexByte(identity, '/')
		if at < 0 || slash < 0 || slash > at {
			return nil, fmt.Errorf("not a Kafka position: %s", identity)
		}
		p, perr := strconv.ParseInt(identity[slash+1:at], 10, 32)
		off, oerr := strconv.ParseInt(identity[at+1:], 10, 64)
		if perr != nil || oerr != nil {
			return nil, fmt.Errorf("not a Kafka position: %s", identity)
		}
		read.From, read.Partitions = bus.Position{Kind: bus.PosOffset, Offset: off}, []int32{int32(p)}
		src, err = b.Kafka.Source(ctx, []bus.Address{{Transport: "kafka", Name: name}}, read)
	case "amqp":
		if b.AMQP == nil {
			return nil, errors.New("no RabbitMQ in this context")
		}
		read.Backlog = true
		src, err = b.AMQP.Source(ctx, []bus.Address{{Transport: "amqp", Name: name}}, read)
	default:
		return nil, fmt.Errorf("cannot read %s:%s here", transport, name)
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	for {
		evs, err := src.Next(ctx)
		for i := range evs {
			if replay.DefaultIdentity(&evs[i]) == identity {
				e := evs[i]
				// Decoded as the DLQ view's summary and the trace read it
				// (a trace step opens through here too): only the one
				// message shown, not every one read past to find it.
				if b.Decoder != nil {
					b.Decoder.Decode(ctx, &e)
				}
				return &e, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is no longer in %s (redriven, consumed or deleted by retention)", identity, name)
		}
		if err != nil {
			return nil, err
		}
	}
}

// dlqKeep is how many message ids a summary keeps per error group: the
// messages the DLQ view lets you pick one by one.
const dlqKeep = 100

func (b *Backend) summarizeDLQs(ctx context.Context) dlqMsg {
	var m dlqMsg
	id := func(e *event.Event) string { return b.schema().Extract(e).ID }
	if b.Kafka != nil {
		names, err := dlq.KafkaDLQs(ctx, b.Kafka, b.Naming)
		if err != nil {
			m.errs = append(m.errs, err)
		}
		for _, n := range names {
			var jobs dlq.Jobs
			if b.Jobs != nil {
				if jobs, err = b.Jobs(ctx, n); err != nil {
					m.errs = append(m.errs, err)
				}
			}
			s, err := dlq.SummarizeKafkaDecoded(ctx, b.Kafka, n, b.Naming, id, dlqKeep, jobs, b.Decoder)
			if err != nil {
				m.errs = append(m.errs, err)
				continue
			}
			m.sums = append(m.sums, s)
		}
	}
	if b.AMQP != nil {
		names, err := dlq.AMQPDLQs(ctx, b.AMQP, b.Naming)
		if err != nil {
			m.errs = append(m.errs, err)
		}
		if !b.Backlog && len(names) > 0 {
			// No message read: counts and origins from the management API.
			sums, err := dlq.DescribeAMQP(ctx, b.AMQP, names)
			if err != nil {
				m.errs = append(m.errs, err)
			}
			m.sums = append(m.sums, sums...)
			names = nil
		}
		for _, n := range names {
			// The error groups need the messages: a peek (marked
			// redelivered), asked for by eddy tui --backlog.
			s, err := dlq.SummarizeAMQPDecoded(ctx, b.AMQP, n, b.Naming, id, dlqKeep, true, b.Decoder)
			if err != nil {
				m.errs = append(m.errs, err)
				continue
			}
			m.sums = append(m.sums, s)
		}
	}
	slices.SortFunc(m.sums, func(a, b dlq.Summary) int { return int(b.Count - a.Count) })
	return m
}
