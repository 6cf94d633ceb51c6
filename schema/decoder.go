package schema

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/event"
)

// codec is one compiled schema: it turns a body (the payload after the
// wire-format header; for Protobuf starting with the message-index array)
// into JSON. Implementations are safe for concurrent use.
type codec interface {
	// appendJSON appends body as JSON to dst. msg names what was decoded
	// (the Protobuf message's or Avro record's full name). An error means
	// the body does not decode (event.FailUndecodable), or, for
	// event.FailInvalid, that it decoded but does not match (JSON set).
	appendJSON(dst, body []byte) (out []byte, msg string, err error)
}

// fetchFunc returns a registered schema by its pinned subject and version:
// how references are resolved (never the subject's latest version).
type fetchFunc func(ctx context.Context, subject string, version int) (sr.SubjectSchema, error)

// Decoder decodes events' keys and values. It is safe for concurrent use:
// schemas are fetched once per id (concurrent lookups of one id share one
// call), compiled once, and kept in a bounded cache.
type Decoder struct {
	client   *Client // nil without a registry
	cache    *cache
	validate bool
	local    map[string]*localMapping // by topic

	refsMu sync.Mutex
	refs   map[string]sr.SubjectSchema // fetched references by subject and version

	decoded atomic.Int64
	failed  [len(failReasons)]atomic.Int64

	whyMu sync.Mutex
	why   map[string]string // the first detail said per reason (Stats.Why)

	// jsonRatio is the last run's JSON bytes per input byte, in 1/16ths:
	// how large decodeRun makes the next run's arena.
	jsonRatio atomic.Int64
}

// failReasons are the event.Fail* words, in the order Stats counts them.
var failReasons = [...]string{
	event.FailUnknownSchema, event.FailTruncated, event.FailUndecodable,
	event.FailRegistry, event.FailDenied, event.FailInvalid, event.FailBadSchema,
}

// New returns a Decoder for cfg. It compiles the local schemas now (an error
// names the file and what is wrong; its text is terminal-safe, though it
// quotes the file) and does not contact the registry.
func New(cfg Config) (*Decoder, error) {
	d := &Decoder{cache: newCache(cfg.CacheSize), validate: cfg.Validate}
	if cfg.Registry != nil {
		c, err := NewClient(*cfg.Registry, cfg.Timeout)
		if err != nil {
			return nil, err
		}
		d.client = c
	}
	if len(cfg.Local) > 0 {
		d.local = make(map[string]*localMapping, len(cfg.Local))
		for _, m := range cfg.Local {
			lm, err := compileMapping(m, cfg.Validate)
			if err != nil {
				return nil, safeError{err}
			}
			d.local[m.Topic] = lm
		}
	}
	return d, nil
}

// Decode sets e.KeyDecoded and e.ValueDecoded: for a topic with a local
// mapping, the bare payload decoded with its schema; else, with a registry,
// a payload in the Confluent wire format (magic byte 0, a 4-byte schema id,
// for Protobuf the message indexes) decoded with the registered schema. A
// payload in neither is left alone (nil), and so is one whose schema id is
// 0 (binary keys that start with zero bytes). Mapping a topic's key only
// leaves its values to the registry, and the other way round. Failures are
// event.Fail* reasons, counted in Stats; a record whose schema lookup ctx
// ended first is event.FailRegistry (counted too).
func (d *Decoder) Decode(ctx context.Context, e *event.Event) {
	var b batchState
	d.decodeEvent(ctx, e, &b)
}

// batchState is what decoding a run of events shares: one arena the
// events' JSON is sliced from, and one block of Decoded values, so a batch
// costs a few allocations instead of two per event.
type batchState struct {
	arena []byte
	decs  []event.Decoded
	// last is the entry of the run's previous framed payload: a run is
	// mostly one id, which then skips the shared cache's lock.
	last *entry
}

func (b *batchState) newDecoded() *event.Decoded {
	if len(b.decs) == cap(b.decs) {
		b.decs = make([]event.Decoded, 0, max(2, 2*cap(b.decs)))
	}
	b.decs = b.decs[:len(b.decs)+1]
	return &b.decs[len(b.decs)-1]
}

func (d *Decoder) decodeEvent(ctx context.Context, e *event.Event, b *batchState) {
	topic := eventTopic(e)
	// A part (key or value) with a local schema is its bare encoding; a
	// part without one may still be framed for the registry (a topic may
	// map only its keys).
	keyLocal, valueLocal := d.localFor(e)
	switch {
	case keyLocal != nil:
		if e.Key != nil {
			e.KeyDecoded = d.decodeLocal(keyLocal, e.Key, b)
		}
	case d.client != nil && framed(e.Key):
		e.KeyDecoded = d.decodeFramed(ctx, topic, true, e.Key, b)
	}
	switch {
	case valueLocal != nil:
		if e.Value != nil {
			e.ValueDecoded = d.decodeLocal(valueLocal, e.Value, b)
		}
	case d.client != nil && framed(e.Value):
		e.ValueDecoded = d.decodeFramed(ctx, topic, false, e.Value, b)
	}
}

// eventTopic is what e's schemas are mapped by: its topic, or an AMQP
// event's queue.
func eventTopic(e *event.Event) string {
	if e.Transport == event.AMQP && e.Queue != "" {
		return e.Queue
	}
	return e.Topic
}

// localFor returns the local schemas of e's key and value (nil: none).
func (d *Decoder) localFor(e *event.Event) (key, value *localSchema) {
	if lm := d.local[eventTopic(e)]; lm != nil {
		return lm.key, lm.value
	}
	return nil, nil
}

// framed says whether p is meant for the registry: it starts with the magic
// byte 0, and is not five zero bytes or more (schema id 0, which no
// registry assigns: ids start at 1). That leaves alone the binary keys that
// start with zeros, such as a small long in big-endian (Kafka's
// LongSerializer), instead of counting each as an unknown schema.
func framed(p []byte) bool {
	if len(p) == 0 || p[0] != 0 {
		return false
	}
	return len(p) < 5 || p[1]|p[2]|p[3]|p[4] != 0
}

func (d *Decoder) decodeLocal(ls *localSchema, p []byte, b *batchState) *event.Decoded {
	dec := b.newDecoded()
	dec.Schema = event.SchemaRef{Format: ls.format, File: ls.path}
	d.run(dec, ls.codec, p, b)
	return dec
}

var confluent sr.ConfluentHeader

func (d *Decoder) decodeFramed(ctx context.Context, topic string, key bool, p []byte, b *batchState) *event.Decoded {
	dec := b.newDecoded()
	id, body, err := confluent.DecodeID(p)
	if err != nil { // starts with the magic byte, shorter than a header
		d.fail(dec, event.FailTruncated)
		return dec
	}
	en := b.last
	if en == nil || en.id != id {
		en = d.lookup(ctx, id)
		b.last = en
	}
	if en == nil { // ctx ended while the registry was asked
		dec.Schema = event.SchemaRef{ID: id}
		d.fail(dec, event.FailRegistry)
		return dec
	}
	dec.Schema = en.ref(topic, key)
	if en.codec == nil {
		d.fail(dec, en.fail)
		d.firstWhy(en.fail, en.why)
		return dec
	}
	d.run(dec, en.codec, body, b)
	return dec
}

// run decodes body with c into dec, its JSON in b's arena.
func (d *Decoder) run(dec *event.Decoded, c codec, body []byte, b *batchState) {
	start := len(b.arena)
	out, msg, err := safeAppendJSON(c, b.arena, body)
	dec.Schema.Message = msg
	if err != nil && !errors.Is(err, errInvalid) {
		b.arena = out[:start]
		d.fail(dec, event.FailUndecodable)
		return
	}
	// The full slice expression keeps later appends to the arena from
	// writing into this event's JSON.
	dec.JSON = out[start:len(out):len(out)]
	b.arena = out
	if err != nil {
		d.fail(dec, event.FailInvalid)
		return
	}
	// The Avro renderer writes compact, terminal-safe JSON (appendJSONString
	// escapes what the envelope does): the envelope need not go over it
	// again. Protobuf (protojson) and JSON Schema (the body as it came) are
	// not known to be.
	_, dec.Safe = c.(*avroCodec)
	d.decoded.Add(1)
}

// safeAppendJSON is c.appendJSON, with a panic (a library's, on untrusted
// bytes) an error: one record that does not decode, not a crash.
func safeAppendJSON(c codec, dst, body []byte) (out []byte, msg string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = dst, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return c.appendJSON(dst, body)
}

func (d *Decoder) fail(dec *event.Decoded, reason string) {
	dec.Fail = reason
	for i, r := range failReasons {
		if r == reason {
			d.failed[i].Add(1)
			return
		}
	}
}

// firstWhy keeps the first detail said for reason (the summary's example
// of it); a record's own failure (undecodable, truncated) has none kept.
func (d *Decoder) firstWhy(reason, why string) {
	if why == "" {
		return
	}
	d.whyMu.Lock()
	if d.why == nil {
		d.why = map[string]string{}
	}
	if _, ok := d.why[reason]; !ok {
		d.why[reason] = why
	}
	d.whyMu.Unlock()
}

// whyLine is err's text as the summary shows it: terminal-safe, one line,
// cut at 240 bytes.
func whyLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return safeName(s)
}

// Stats counts what a Decoder did.
type Stats struct {
	// Decoded is how many keys and values were decoded.
	Decoded int64
	// Failed counts the keys and values that were not, by event.Fail* reason.
	Failed map[string]int64
	// Why is, for the reasons that come from a schema rather than a record
	// (bad-schema, unknown-schema, registry-down, denied), the first
	// detail seen: which id, and what the registry or the compiler said.
	Why map[string]string
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats {
	s := Stats{Decoded: d.decoded.Load(), Failed: map[string]int64{}}
	for i, r := range failReasons {
		if n := d.failed[i].Load(); n > 0 {
			s.Failed[r] = n
		}
	}
	d.whyMu.Lock()
	if len(d.why) > 0 {
		s.Why = maps.Clone(d.why)
	}
	d.whyMu.Unlock()
	return s
}

// Summary is one line for stderr when some payloads were not decoded, e.g.
// "schema: 12 of 3,400 payloads not decoded (10 unknown-schema, 2
// truncated)", the reasons most frequent first; "" when none failed.
func (s Stats) Summary() string {
	var failed int64
	type rc struct {
		reason string
		n      int64
	}
	var rs []rc
	for r, n := range s.Failed {
		if n > 0 {
			failed += n
			rs = append(rs, rc{r, n})
		}
	}
	if failed == 0 {
		return ""
	}
	slices.SortFunc(rs, func(a, b rc) int {
		if a.n != b.n {
			if a.n > b.n {
				return -1
			}
			return 1
		}
		return strings.Compare(a.reason, b.reason)
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "schema: %s of %s payloads not decoded (", thousands(failed), thousands(failed+s.Decoded))
	for i, r := range rs {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s %s", thousands(r.n), r.reason)
	}
	sb.WriteString(")")
	// The most frequent reason's detail, when it has one: a bad schema or a
	// refusing registry is otherwise a word with no way to find out why.
	for _, r := range rs {
		if why := s.Why[r.reason]; why != "" {
			fmt.Fprintf(&sb, "; %s: %s", r.reason, why)
			break
		}
	}
	return sb.String()
}

// thousands writes n with commas: 3400 -> "3,400".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return string(b)
}
