package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/schema"
	"github.com/eddy-sh/eddy/send"
)

// SendOptions are `eddy send`'s flags and arguments.
type SendOptions struct {
	Address     string
	Inputs      []string
	Lines       bool
	Key         string
	KeySet      bool
	KeyDelim    string
	Headers     []string
	Partition   int32
	Timestamp   string
	RoutingKey  string
	ContentType string
	MessageID   string
	Persistent  bool
	Expiration  string
	Rate        float64
	Count       int64
	PrintID     bool
	NoTemplate  bool
	Traceparent string
	CEType      string
	CESource    string
	CESubject   string
	CEID        string
	// Schema encoding of values.
	Encode        bool
	Subject       string
	SchemaVersion string
	ProtoMessage  string
}

func newCmdSend(f *Factory, runF func(context.Context, *SendOptions) error) *cobra.Command {
	o := &SendOptions{}
	cmd := &cobra.Command{
		Use:     "send ADDRESS [FILE... | file:CAPTURE | -]",
		Short:   "Put events on a Kafka topic or a RabbitMQ exchange or queue, confirmed",
		Long:    helptext.Send,
		Example: helptext.SendExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("send needs an ADDRESS, e.g. kafka:orders or amqp:exchange/shop.orders/OrderPlaced (see 'eddy send --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Address, o.Inputs = args[0], args[1:]
			o.KeySet = cmd.Flags().Changed("key")
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return sendRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Lines, "lines", "l", false, "read each FILE as one event per line (as stdin is), not one event per file")
	fl.StringVarP(&o.Key, "key", "k", "", "the key of every event (placeholders allowed); Kafka")
	fl.StringVarP(&o.KeyDelim, "key-delimiter", "K", "", "line mode: the bytes before the first DELIM are the key, those after it the value (kcat -K)")
	fl.StringArrayVarP(&o.Headers, "header", "H", nil, "a header KEY=VALUE on every event (repeatable; placeholders allowed in VALUE)")
	fl.Int32Var(&o.Partition, "partition", -1, "Kafka: write to this partition (default: by key, as the Java client)")
	fl.StringVar(&o.Timestamp, "timestamp", "", "the events' timestamp: RFC 3339 or Unix milliseconds (Kafka record timestamp, RabbitMQ timestamp property; default: now)")
	fl.StringVar(&o.RoutingKey, "routing-key", "", "RabbitMQ: the routing key (for amqp:exchange/EX without /KEY)")
	fl.StringVar(&o.ContentType, "content-type", "", "RabbitMQ: the content_type property")
	fl.StringVar(&o.MessageID, "message-id", "", "RabbitMQ: the message_id property (placeholders allowed, e.g. {{uuid}})")
	fl.BoolVar(&o.Persistent, "persistent", false, "RabbitMQ: delivery mode 2 (written to disk by a durable queue)")
	fl.StringVar(&o.Expiration, "expiration", "", "RabbitMQ: the expiration property, in milliseconds")
	fl.Float64Var(&o.Rate, "rate", 0, "at most this many events per second (default: as fast as the broker confirms)")
	fl.Int64Var(&o.Count, "count", 0, "send this many events: FILEs are sent again from the first until then; lines and captures stop there")
	fl.BoolVar(&o.PrintID, "print-id", false, "print each event's id (as trace and expect find it) on stdout once the broker confirmed it, one per line; if stdout is closed, sending goes on")
	fl.BoolVar(&o.NoTemplate, "no-template", false, "send payloads as they are: {{uuid}}, {{now}} and {{seq}} are not replaced")
	fl.StringVar(&o.Traceparent, "traceparent", "", "add a W3C traceparent header: new (a new trace per event) or a traceparent whose trace the events join")
	fl.StringVar(&o.Traceparent, "parent", "", "the same as --traceparent TRACEPARENT: the events are children of this span")
	fl.StringVar(&o.CEType, "ce-type", "", "add CloudEvents binary-mode headers (ce_specversion, ce_id, ce_source, ce_type, ce_time) with this type")
	fl.StringVar(&o.CESource, "ce-source", "/eddy/send", "CloudEvents source (with --ce-type)")
	fl.StringVar(&o.CESubject, "ce-subject", "", "CloudEvents subject (with --ce-type)")
	fl.StringVar(&o.CEID, "ce-id", "", "CloudEvents id (with --ce-type; default {{uuid}}, the event's fresh UUID)")
	fl.BoolVar(&o.Encode, "encode", false, "encode each value (JSON) with its subject's schema in the Schema Registry: Avro, Protobuf or JSON Schema, Confluent wire format")
	fl.StringVar(&o.Subject, "subject", "", "with --encode: the subject (default TOPIC-value, the TopicNameStrategy); implies --encode")
	fl.StringVar(&o.SchemaVersion, "schema-version", "latest", "with --encode: the subject's version, a number or latest")
	fl.StringVar(&o.ProtoMessage, "proto-message", "", "with --encode, Protobuf: the message to encode, by full or short name (default: the schema's first); implies --encode")
	bindSchemaRegistryFlag(fl, &f.Schemas)
	return cmd
}

// sendPlan is what sendRun checked before touching a broker.
type sendPlan struct {
	to   bus.Address
	opts send.Options
	in   func() (send.Input, error)
	// version is --schema-version: -1 for latest.
	version int
}

func planSend(f *Factory, o *SendOptions) (*sendPlan, error) {
	p := &sendPlan{}
	to, err := bus.ParseAddress(o.Address)
	if err != nil {
		return nil, asUsage(err)
	}
	switch {
	case to.Transport == "kafka" && to.Regex == nil:
	case to.Transport == "amqp":
	default:
		return nil, usagef("%s: send writes to a Kafka topic (kafka:TOPIC) or a RabbitMQ queue or exchange (amqp:QUEUE, amqp:exchange/EX[/KEY])", o.Address)
	}
	p.to = to
	kafkaOnly := map[string]bool{"--partition": o.Partition >= 0, "--key": o.KeySet, "--key-delimiter": o.KeyDelim != ""}
	amqpOnly := map[string]bool{"--routing-key": o.RoutingKey != "", "--content-type": o.ContentType != "", "--message-id": o.MessageID != "",
		"--persistent": o.Persistent, "--expiration": o.Expiration != ""}
	for name, set := range kafkaOnly {
		if set && to.Transport != "kafka" {
			return nil, usagef("%s is for Kafka; %s is RabbitMQ", name, o.Address)
		}
	}
	for name, set := range amqpOnly {
		if set && to.Transport != "amqp" {
			return nil, usagef("%s is for RabbitMQ; %s is Kafka", name, o.Address)
		}
	}
	if o.RoutingKey != "" && (to.Name != "" || to.RoutingKey != "") {
		return nil, usagef("--routing-key: %s already says where messages go; name the exchange alone (amqp:exchange/EX)", o.Address)
	}
	if to.Transport == "amqp" && to.Name == "" && to.RoutingKey == "" && o.RoutingKey == "" {
		// The empty routing key is a real key; say so only when it is not
		// what the user asked for: a capture's events carry their own.
		if !hasCapture(o.Inputs) {
			return nil, usagef("%s: give a routing key (amqp:exchange/%s/KEY or --routing-key KEY)", o.Address, to.Exchange)
		}
	}
	if o.Expiration != "" {
		if n, err := strconv.ParseUint(o.Expiration, 10, 32); err != nil || n == 0 && o.Expiration != "0" {
			return nil, usagef("--expiration %q: want milliseconds, e.g. 60000", o.Expiration)
		}
	}
	if o.Rate < 0 || o.Count < 0 {
		return nil, usagef("--rate and --count want numbers >= 0")
	}
	op := &p.opts
	op.Partition = o.Partition
	op.Rate, op.Count = o.Rate, o.Count
	op.RoutingKey, op.ContentType, op.Expiration, op.Persistent = o.RoutingKey, o.ContentType, o.Expiration, o.Persistent
	op.NoTemplate = o.NoTemplate
	op.AMQP = to.Transport == "amqp"
	op.FlushTimeout = f.Global.Timeout
	op.Now = f.Now
	if o.KeySet {
		op.Key = send.Compile([]byte(o.Key))
	}
	if o.MessageID != "" {
		op.MessageID = send.Compile([]byte(o.MessageID))
	}
	for _, h := range o.Headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return nil, safeUsagef("--header %q: want KEY=VALUE", h)
		}
		op.Headers = append(op.Headers, send.Header{Key: k, Value: send.Compile([]byte(v))})
	}
	if o.Timestamp != "" {
		if op.Timestamp, err = parseSendTime(o.Timestamp); err != nil {
			return nil, err
		}
	}
	if o.Traceparent != "" {
		if err := send.CheckTraceparent(o.Traceparent); err != nil {
			return nil, usagef("--traceparent: %v", err)
		}
		op.Traceparent = o.Traceparent
	}
	if o.CEType != "" {
		op.CE = &send.CloudEvents{Type: o.CEType, Source: o.CESource, Subject: o.CESubject, ID: o.CEID}
	} else if o.CESubject != "" || o.CEID != "" || o.CESource != "/eddy/send" {
		return nil, usagef("--ce-source, --ce-subject and --ce-id go with --ce-type, which turns CloudEvents headers on")
	}
	if o.Subject != "" || o.ProtoMessage != "" {
		o.Encode = true
	}
	if o.Encode {
		if to.Transport != "kafka" && o.Subject == "" {
			return nil, usagef("--encode on RabbitMQ: name the schema's --subject (the subject of a topic is TOPIC-value)")
		}
		if o.SchemaVersion == "latest" {
			p.version = -1
		} else if p.version, err = strconv.Atoi(o.SchemaVersion); err != nil || p.version <= 0 {
			return nil, usagef("--schema-version %q: want a version number or latest", o.SchemaVersion)
		}
	}
	if p.opts.Schema, err = f.Schema(); err != nil {
		return nil, err
	}
	if p.in, err = sendInputs(f, o); err != nil {
		return nil, err
	}
	return p, nil
}

func hasCapture(inputs []string) bool {
	for _, s := range inputs {
		if strings.HasPrefix(s, "file:") {
			return true
		}
	}
	return false
}

// parseSendTime reads --timestamp: RFC 3339 or Unix milliseconds.
func parseSendTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("--timestamp %q: want RFC 3339 (2025-06-01T12:00:00Z) or Unix milliseconds", s)
	}
	return t, nil
}

// sendInputs says, from the arguments, what is read: stdin lines (no
// argument, or -), a capture (file:PATH, alone), or FILEs (one event each,
// or their lines with --lines).
func sendInputs(f *Factory, o *SendOptions) (func() (send.Input, error), error) {
	var delim []byte
	if o.KeyDelim != "" {
		delim = []byte(o.KeyDelim)
	}
	args := o.Inputs
	if len(args) == 0 || len(args) == 1 && args[0] == "-" {
		return func() (send.Input, error) { return send.Lines(f.IO.In, "stdin", delim, nil), nil }, nil
	}
	if hasCapture(args) {
		if len(args) > 1 {
			return nil, usagef("a capture (%s) is sent alone: one capture, no other FILE", args[0])
		}
		if o.KeySet || delim != nil || o.Lines {
			return nil, usagef("a capture's events keep their own keys: --key, --key-delimiter and --lines do not apply")
		}
		a, err := bus.ParseAddress(args[0])
		if err != nil {
			return nil, asUsage(err)
		}
		return func() (send.Input, error) { return send.Capture(a.Name, f.IO.In) }, nil
	}
	for _, a := range args {
		if a == "-" {
			return nil, usagef("- (stdin, one event per line) is read alone, not with FILEs")
		}
	}
	if o.Lines {
		if len(args) > 1 {
			return nil, usagef("--lines reads one FILE (as kcat -l)")
		}
		return func() (send.Input, error) {
			fh, err := os.Open(args[0])
			if err != nil {
				return nil, usagef("%s: %v", args[0], errors.Unwrap(err))
			}
			return send.Lines(fh, args[0], delim, fh), nil
		}, nil
	}
	if delim != nil {
		return nil, usagef("--key-delimiter splits lines: use it with stdin or --lines")
	}
	in, err := send.Files(args, f.IO.In, o.Count > 0)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return func() (send.Input, error) { return in, nil }, nil
}

func sendRun(ctx context.Context, f *Factory, o *SendOptions) error {
	p, err := planSend(f, o)
	if err != nil {
		return err
	}
	if o.Encode {
		sc, err := f.SchemaClient()
		if err != nil {
			return err
		}
		if sc == nil {
			return usagef("--encode needs a Schema Registry: --schema-registry URL, EDDY_SCHEMA_REGISTRY or the context's schema_registry")
		}
		subject := o.Subject
		if subject == "" {
			subject = p.to.Name + "-value"
		}
		enc, err := sc.Encoder(ctx, subject, p.version, o.ProtoMessage)
		if err != nil {
			if errors.Is(err, bus.ErrConnect) {
				return err
			}
			return safeUsagef("--encode: %v", err)
		}
		p.opts.Encode = enc.Encode
	}
	in, err := p.in()
	if err != nil {
		return err
	}
	defer in.Close()

	idw := &idWriter{w: f.IO.Out}
	out := bufio.NewWriter(idw)
	defer out.Flush()
	var onLand func(int64, string)
	if o.PrintID {
		// The ids are a by-product: when their reader goes away (`| head
		// -1`) the events still go out and the report still comes, where
		// the default SIGPIPE would kill send between two events with
		// nothing said. Only while send runs: tail | head still ends
		// quietly.
		sigpipe := make(chan os.Signal, 1)
		signal.Notify(sigpipe, syscall.SIGPIPE)
		defer signal.Stop(sigpipe)
		onLand = func(_ int64, id string) {
			if idw.err != nil {
				return
			}
			out.WriteString(id)
			out.WriteByte('\n')
		}
		p.opts.OnLanded = onLand
	} else if o.Lines || len(o.Inputs) == 0 || len(o.Inputs) == 1 && o.Inputs[0] == "-" {
		// Line mode, many events: ids only when asked for (the fast path).
		p.opts.Schema = nil
	}
	t := send.NewTracker(onLand)
	var prod send.Producer
	switch p.to.Transport {
	case "kafka":
		kc, err := f.Kafka()
		if err != nil {
			return err
		}
		defer kc.Close()
		kp, err := send.NewKafka(ctx, kc, p.to.Name, o.Partition, t)
		if err != nil {
			return err
		}
		prod = kp
	case "amqp":
		ac, err := f.AMQP()
		if err != nil {
			return err
		}
		defer ac.Close()
		ap, err := send.NewAMQP(ctx, ac, p.to, t)
		if err != nil {
			return err
		}
		prod = ap
	}
	defer prod.Close()
	// What send holds live is small and bounded (the producer's buffer, a
	// slab of lines): the collector need not mark it at every doubling. A
	// quarter of the CPU of a million lines; GOGC, when set, wins.
	if f.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	runErr := send.Run(ctx, in, prod, t, &p.opts)
	out.Flush()
	err = sendOutcome(f, p.to, t.Result(), runErr)
	if idw.err == nil {
		return err
	}
	if errors.Is(idw.err, syscall.EPIPE) {
		// The reader took what it wanted: not a failure of send.
		notef(f.IO.ErrOut, "stdout was closed after %d printed ids; the events after them were sent all the same", idw.lines)
		return err
	}
	notef(f.IO.ErrOut, "printing ids: %v after %d ids; the events after them were sent all the same", idw.err, idw.lines)
	if err == nil {
		err = &silentError{code: ExitError}
	}
	return err
}

// allConnect says whether every failure is a broker out of reach: then the
// first one's cause is why the others failed too.
func allConnect(fs []send.Failure) bool {
	for _, fl := range fs {
		if !errors.Is(fl.Err, bus.ErrConnect) {
			return false
		}
	}
	return true
}

// failedRanges is the failures' indices as "#3, #60-#301".
func failedRanges(fs []send.Failure) string {
	idx := make([]int64, len(fs))
	for k, fl := range fs {
		idx[k] = fl.Index
	}
	slices.Sort(idx)
	var b strings.Builder
	for k := 0; k < len(idx); {
		j := k
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if j == k {
			fmt.Fprintf(&b, "#%d", idx[k])
		} else {
			fmt.Fprintf(&b, "#%d-#%d", idx[k], idx[j])
		}
		k = j + 1
	}
	return b.String()
}

// idWriter is send's stdout under its buffer: it keeps the first write
// error (the buffer forgets how far it got) and how many whole ids were
// written before it.
type idWriter struct {
	w     io.Writer
	err   error
	lines int
}

func (w *idWriter) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(b)
	w.lines += bytes.Count(b[:n], []byte{'\n'})
	if err != nil {
		w.err = err
	}
	return n, err
}

// sendOutcome turns a run's result into the report on stderr and the exit
// status: 0 when every event landed; 2 for an event refused before sending
// (bad input); 3 when the broker did not confirm some (returned as
// unroutable, nacked, or the outcome unknown); 4 when it could not be
// reached. Whenever something failed after some events landed, the line
// says which did.
func sendOutcome(f *Factory, to bus.Address, r send.Result, runErr error) error {
	landed := func() string {
		if r.Landed == 0 {
			return "no event landed"
		}
		return fmt.Sprintf("%d of %d events landed (%s)", r.Landed, r.Sent, r.Landing)
	}
	var bad *send.BadInputError
	if errors.As(runErr, &bad) {
		var ee *schema.EncodeError
		if errors.As(bad.Err, &ee) {
			runErr = safeUsagef("%s: value does not fit the schema: %s; nothing of it was sent", bad.Where, ee)
		} else {
			runErr = safeUsagef("%s: %v", bad.Where, bad.Err)
		}
		if r.Sent > 0 {
			notef(f.IO.ErrOut, "%s before event #%d was refused", landed(), bad.Index)
		}
		return runErr
	}
	if len(r.Failed) > 1 && allConnect(r.Failed) {
		// The cluster went away: one cause for all of them, said once.
		cause := r.Failed[0].Err
		for _, fl := range r.Failed {
			if fl.Index < r.Failed[0].Index {
				cause = fl.Err
			}
		}
		notef(f.IO.ErrOut, "%d events were not confirmed (%s): %s; those on the wire at the cut may or may not have landed", len(r.Failed), failedRanges(r.Failed), cause)
		notef(f.IO.ErrOut, "%s to %s", landed(), to)
		if runErr != nil && !errors.Is(runErr, context.Canceled) && runErr.Error() != cause.Error() {
			notef(f.IO.ErrOut, "%s", runErr)
		}
		return &silentError{code: ExitConnect}
	}
	if len(r.Failed) > 0 {
		code := ExitPartial
		for k, fl := range r.Failed {
			if k == 5 {
				notef(f.IO.ErrOut, "and %d more events not confirmed", len(r.Failed)-5)
				break
			}
			id := ""
			if fl.ID != "" {
				id = " (id " + fl.ID + ")"
			}
			var pe *amqp.PublishError
			switch {
			case errors.As(fl.Err, &pe) && len(pe.Failed) > 0 && pe.Failed[0].Unroutable:
				notef(f.IO.ErrOut, "event #%d%s was not routed to any queue: %s; RabbitMQ returned it (mandatory), nothing holds it", fl.Index, id, pe.Failed[0].Reason)
			case errors.As(fl.Err, &pe) && len(pe.Failed) > 0:
				notef(f.IO.ErrOut, "event #%d%s was refused by the broker (%s)", fl.Index, id, pe.Failed[0].Reason)
			default:
				notef(f.IO.ErrOut, "event #%d%s was not confirmed: %s", fl.Index, id, fl.Err)
				if errors.Is(fl.Err, bus.ErrConnect) {
					code = ExitConnect
				}
			}
		}
		notef(f.IO.ErrOut, "%s to %s", landed(), to)
		if runErr != nil && !errors.Is(runErr, context.Canceled) {
			notef(f.IO.ErrOut, "%s", runErr)
		}
		return &silentError{code: code}
	}
	if runErr != nil {
		if r.Sent > 0 {
			notef(f.IO.ErrOut, "%s to %s", landed(), to)
		}
		return runErr
	}
	return nil
}
