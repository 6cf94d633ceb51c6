// Package send puts events on a broker: `eddy send`. It makes each event
// from an input (a file, a line, a capture's envelope), with the key,
// headers, properties, trace context and CloudEvents attributes asked for
// and the placeholders of its payload filled in (template.go), optionally
// encodes the value with a registered schema, and produces it with the
// broker's strongest acknowledgement: Kafka acks from all in-sync replicas
// with the idempotent producer, RabbitMQ publisher confirms with the
// mandatory flag. What landed is said event by event: a partial failure
// names which events were confirmed (Result).
package send

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/eddy-sh/eddy/event"
)

// Header is a header to set on every event; its value may hold placeholders.
type Header struct {
	Key   string
	Value *Template
}

// CloudEvents are the CloudEvents attributes to write in binary mode (ce_*
// headers, as the demo writes them); Type and Source are required by the
// specification, ID defaults to the event's {{uuid}}, Time to {{now}}.
type CloudEvents struct {
	Type, Source, Subject, ID string
}

// Options say how each event is made and sent.
type Options struct {
	// Key is the key of items that have none (nil: no key).
	Key *Template
	// Headers are added to every event, after a capture's own.
	Headers []Header
	// Partition: a Kafka partition, or -1 to partition by key.
	Partition int32
	// Timestamp, when set, is every event's timestamp (Kafka) or timestamp
	// property (RabbitMQ).
	Timestamp time.Time
	// RoutingKey, when set, is every RabbitMQ message's routing key.
	RoutingKey string
	// ContentType, MessageID, Expiration, Persistent: RabbitMQ properties
	// (MessageID may hold placeholders); Persistent is delivery mode 2.
	ContentType string
	MessageID   *Template
	Expiration  string
	Persistent  bool
	// Traceparent: "" none, "new" a fresh trace per event, else a W3C
	// traceparent whose trace every event joins as a new child span.
	Traceparent string
	// CE, when set, adds CloudEvents binary-mode headers.
	CE *CloudEvents
	// AMQP: the events go to RabbitMQ (the properties apply).
	AMQP bool
	// NoTemplate sends payloads as they are, placeholders and all.
	NoTemplate bool
	// Encode, when set, turns each value (JSON) into its schema's wire
	// format; an error refuses the event (nothing of it is sent).
	Encode func(value []byte) ([]byte, error)
	// Schema, when set, finds each event's id (for OnLanded and the
	// report); nil leaves ids out (the fastest: line mode without
	// --print-id).
	Schema *event.Schema
	// Rate is at most this many events per second (0: no limit); Count
	// stops after this many events (0: when the input ends).
	Rate  float64
	Count int64
	// FlushTimeout bounds the wait for what was sent once ctx is done.
	FlushTimeout time.Duration
	// Now is the clock of {{now}} (default time.Now).
	Now func() time.Time
	// OnLanded, when set, is called with each event's id as the broker
	// confirms it, one call at a time (--print-id).
	OnLanded func(i int64, id string)
}

// Producer is a broker's writing end.
type Producer interface {
	// Send queues event i; the producer reports its fate to the Tracker it
	// was made with. It must not keep ev once it returns (Run reuses it);
	// the slices ev holds it may keep. An error means nothing more can be sent (the event is
	// not queued).
	Send(ctx context.Context, i int64, ev *event.Event) error
	// Flush waits until every event queued is settled.
	Flush(ctx context.Context) error
	Close() error
}

// BadInputError is an event refused before it was sent: a template,
// schema or id problem in the input (exit 2).
type BadInputError struct {
	Index int64
	Where string
	Err   error
}

func (e *BadInputError) Error() string {
	return fmt.Sprintf("event %d (%s): %v", e.Index, e.Where, e.Err)
}

func (e *BadInputError) Unwrap() error { return e.Err }

// Build makes event number i (from 0) from it at the time now; seq is i+1.
func Build(it *Item, i int64, o *Options, now time.Time) (event.Event, error) {
	v := Vars{Seq: i + 1, Now: now}
	// A UUID is made only for an event that uses one: crypto/rand and its
	// text cost as much as the rest of a line's path.
	if o.CE != nil && o.CE.ID == "" || !o.NoTemplate && !it.plain && o.usesUUID(it) {
		v.UUID = NewUUID()
	}
	expand := func(t *Template) []byte {
		if o.NoTemplate {
			return t.raw
		}
		return t.Expand(&v)
	}
	var ev event.Event
	if it.Event != nil {
		ev = *it.Event
		ev.Headers = append([]event.Header(nil), it.Event.Headers...)
		ev.KeyDecoded, ev.ValueDecoded = nil, nil
	} else {
		switch {
		case it.template != nil:
			ev.Value = expand(it.template)
		case o.NoTemplate || it.plain || !bytes.Contains(it.Value, []byte("{{")):
			ev.Value = it.Value // a line without a placeholder: no template made
		default:
			ev.Value = expand(Compile(it.Value))
		}
		if it.Key != nil {
			ev.Key = expand(Compile(it.Key))
		} else if o.Key != nil {
			ev.Key = expand(o.Key)
		}
		ev.Partition = -1
	}
	if o.Partition >= 0 {
		ev.Partition = o.Partition
	}
	if !o.Timestamp.IsZero() {
		ev.Timestamp = o.Timestamp
	} else if it.Event == nil {
		ev.Timestamp = time.Time{}
	}
	if o.Encode != nil && ev.Value != nil {
		b, err := o.Encode(ev.Value)
		if err != nil {
			return ev, &BadInputError{Index: i, Where: it.Position(), Err: err}
		}
		ev.Value = b
	}
	for _, h := range o.Headers {
		ev.Headers = append(ev.Headers, event.Header{Key: h.Key, Value: expand(h.Value)})
	}
	if o.CE != nil {
		id := o.CE.ID
		if id == "" {
			id = v.UUID
		} else {
			id = string(expand(Compile([]byte(id))))
		}
		ev.Headers = append(ev.Headers,
			event.Header{Key: "ce_specversion", Value: []byte("1.0")},
			event.Header{Key: "ce_id", Value: []byte(id)},
			event.Header{Key: "ce_source", Value: []byte(o.CE.Source)},
			event.Header{Key: "ce_type", Value: []byte(o.CE.Type)},
			event.Header{Key: "ce_time", Value: now.UTC().AppendFormat(nil, time.RFC3339Nano)},
		)
		if o.CE.Subject != "" {
			ev.Headers = append(ev.Headers, event.Header{Key: "ce_subject", Value: []byte(o.CE.Subject)})
		}
	}
	if o.Traceparent != "" {
		ev.Headers = append(ev.Headers, event.Header{Key: "traceparent", Value: []byte(Traceparent(o.Traceparent))})
	}
	if o.RoutingKey != "" {
		ev.RoutingKey = o.RoutingKey
	}
	if o.AMQP && (o.ContentType != "" || o.MessageID != nil || o.Expiration != "" || o.Persistent || it.Event == nil) {
		p := &event.Properties{}
		if ev.Properties != nil {
			*p = *ev.Properties
		}
		if o.ContentType != "" {
			p.ContentType = o.ContentType
		}
		if o.MessageID != nil {
			p.MessageID = string(expand(o.MessageID))
		}
		if o.Expiration != "" {
			p.Expiration = o.Expiration
		}
		if o.Persistent {
			p.DeliveryMode = 2
		} else if it.Event == nil && p.DeliveryMode == 0 {
			p.DeliveryMode = 1
		}
		if !o.Timestamp.IsZero() {
			p.Timestamp = o.Timestamp
		} else if it.Event == nil {
			// The time of sending, as trace reads a message's time from
			// this property (RabbitMQ keeps seconds).
			p.Timestamp = time.Now()
		}
		ev.Properties = p
	}
	return ev, nil
}

// static reports whether the options add no placeholder of their own.
func (o *Options) static() bool {
	return o.Key == nil && o.MessageID == nil && len(o.Headers) == 0
}

// usesNow reports whether the event made of it has a {{now}} to fill.
func (o *Options) usesNow(it *Item) bool {
	has := func(t *Template) bool { return t != nil && t.uses(partNow) }
	if it.template != nil && has(it.template) || it.template == nil && bytes.Contains(it.Value, []byte("{{now}}")) ||
		it.Key != nil && bytes.Contains(it.Key, []byte("{{now}}")) || has(o.Key) || has(o.MessageID) {
		return true
	}
	for _, h := range o.Headers {
		if has(h.Value) {
			return true
		}
	}
	return false
}

// usesUUID reports whether the event made of it has a {{uuid}} to fill.
func (o *Options) usesUUID(it *Item) bool {
	if it.Event != nil {
		return false
	}
	if it.template != nil && it.template.uuid || it.template == nil && bytes.Contains(it.Value, []byte("{{uuid}}")) ||
		it.Key != nil && bytes.Contains(it.Key, []byte("{{uuid}}")) || o.Key != nil && o.Key.uuid || o.MessageID != nil && o.MessageID.uuid {
		return true
	}
	for _, h := range o.Headers {
		if h.Value.uuid {
			return true
		}
	}
	return false
}

// Traceparent returns the traceparent for one event: a new trace for "new",
// else a new span (a child) in the trace of the traceparent given.
func Traceparent(spec string) string {
	var span [8]byte
	_, _ = rand.Read(span[:])
	if spec == "new" {
		var tr [16]byte
		_, _ = rand.Read(tr[:])
		return "00-" + hex.EncodeToString(tr[:]) + "-" + hex.EncodeToString(span[:]) + "-01"
	}
	traceID, _, _ := event.ParseTraceparent(spec)
	flags := "01"
	if i := strings.LastIndexByte(spec, '-'); i > 0 && len(spec)-i == 3 {
		flags = spec[i+1:]
	}
	return "00-" + traceID + "-" + hex.EncodeToString(span[:]) + "-" + flags
}

// CheckTraceparent says whether spec is "new" or a valid W3C traceparent.
func CheckTraceparent(spec string) error {
	if spec == "new" {
		return nil
	}
	if _, _, ok := event.ParseTraceparent(spec); !ok {
		return fmt.Errorf("%q is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>) nor \"new\"", spec)
	}
	return nil
}

// Tracker records each event's fate, for the report and --print-id. It is
// safe for concurrent use (producers call it from their callbacks).
type Tracker struct {
	mu     sync.Mutex
	ids    map[int64]string // queued and not settled
	landed []span
	failed []failure
	n      int64
	onLand func(i int64, id string)
}

type span struct{ from, to int64 } // [from, to]

type failure struct {
	i   int64
	id  string
	err error
}

// NewTracker returns a Tracker calling onLand (may be nil) for each event
// confirmed.
func NewTracker(onLand func(i int64, id string)) *Tracker {
	return &Tracker{ids: map[int64]string{}, onLand: onLand}
}

// Queued notes event i, known by id, as sent and not yet settled.
func (t *Tracker) Queued(i int64, id string) {
	t.mu.Lock()
	if id != "" {
		t.ids[i] = id
	}
	t.n++
	t.mu.Unlock()
}

// Landed notes event i confirmed by the broker.
func (t *Tracker) Landed(i int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var id string
	if len(t.ids) > 0 {
		id = t.ids[i]
		delete(t.ids, i)
	}
	if n := len(t.landed); n > 0 && t.landed[n-1].to == i-1 {
		t.landed[n-1].to = i
	} else {
		t.landed = append(t.landed, span{i, i})
	}
	if t.onLand != nil {
		t.onLand(i, id)
	}
}

// Failed notes event i not confirmed, and why.
func (t *Tracker) Failed(i int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.ids[i]
	delete(t.ids, i)
	t.failed = append(t.failed, failure{i: i, id: id, err: err})
}

// Unsent takes back Queued(i): the producer refused event i before
// handing it to the broker (it had already stopped), so it was not sent.
func (t *Tracker) Unsent(i int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ids, i)
	t.n--
}

// Result is what a run sent.
type Result struct {
	Sent    int64 // events handed to the broker
	Landed  int64 // of those, confirmed
	Failed  []Failure
	Landing string // the landed events as index ranges: "0-41, 43"
}

// Failure is an event the broker did not confirm.
type Failure struct {
	Index int64
	ID    string
	Err   error
}

// Result summarises what was tracked.
func (t *Tracker) Result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Result{Sent: t.n}
	var b strings.Builder
	// Callbacks of several partitions come in any order: merge the spans.
	spans := mergeSpans(t.landed)
	for k, s := range spans {
		r.Landed += s.to - s.from + 1
		if k > 0 {
			b.WriteString(", ")
		}
		if s.from == s.to {
			fmt.Fprintf(&b, "#%d", s.from)
		} else {
			fmt.Fprintf(&b, "#%d-#%d", s.from, s.to)
		}
	}
	r.Landing = b.String()
	for _, f := range t.failed {
		r.Failed = append(r.Failed, Failure{Index: f.i, ID: f.id, Err: f.err})
	}
	return r
}

func mergeSpans(in []span) []span {
	s := append([]span(nil), in...)
	// insertion sort: spans are nearly in order
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].from < s[j-1].from; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && out[n-1].to+1 >= x.from {
			out[n-1].to = max(out[n-1].to, x.to)
			continue
		}
		out = append(out, x)
	}
	return out
}

// Run makes an event of each item of in and sends it with p, at most
// o.Count of them, at o.Rate, reporting to t (the tracker p reports to). It
// returns after every event sent is settled, with the first error that
// stopped it (a *BadInputError, a producer's, ctx's); events the broker
// refused are in t's Result, not in the error.
func Run(ctx context.Context, in Input, p Producer, t *Tracker, o *Options) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var lim *rate.Limiter
	if o.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	var stop error
	var i int64
	// One event's storage for the run, not one per event: Send keeps no
	// pointer to it (BenchmarkSendLinesKfake: a fifth of the bytes
	// allocated per line).
	var ev event.Event
	for o.Count == 0 || i < o.Count {
		it, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			stop = err
			break
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				stop = err
				break
			}
		}
		// The clock is read only for an event that shows the time: it
		// costs as much as the rest of a plain line's path on some VMs.
		var at time.Time
		// One scan of a line says whether it has a placeholder at all;
		// only then are the placeholders looked for one by one.
		it.plain = it.Event == nil && it.template == nil && it.Key == nil && !o.NoTemplate && o.static() && !bytes.Contains(it.Value, []byte("{{"))
		if o.CE != nil || !o.NoTemplate && !it.plain && it.Event == nil && o.usesNow(it) {
			at = now()
		}
		ev, err = Build(it, i, o, at)
		if err != nil {
			stop = err
			break
		}
		id := ""
		if o.Schema != nil {
			id = o.Schema.Extract(&ev).ID
			if id == "" && o.OnLanded != nil {
				stop = &BadInputError{Index: i, Where: it.Position(), Err: errors.New("no event id found (--print-id prints ids: put one in the payload, e.g. \"event_id\": \"{{uuid}}\", or add --ce-type for a ce_id header)")}
				break
			}
		}
		t.Queued(i, id)
		if err := p.Send(ctx, i, &ev); err != nil {
			t.Unsent(i)
			stop = err
			break
		}
		i++
	}
	// Stopped (Ctrl-C) or not, what was handed to the broker is waited
	// for, so that the report says what landed.
	fctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), max(o.FlushTimeout, time.Second))
		defer cancel()
	}
	if err := p.Flush(fctx); err != nil && stop == nil {
		stop = err
	}
	return stop
}
