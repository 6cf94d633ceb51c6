package trace

import (
	"encoding/hex"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
)

// DeadLetter says why an event was dead-lettered, as the framework that did it
// recorded it.
type DeadLetter struct {
	// Convention is "spring" (kafka_dlt-* headers), "connect"
	// (__connect.errors.* headers), "x-death" (RabbitMQ dead-lettering) or
	// "name" (only the topic or queue name says DLQ).
	Convention string `json:"convention"`
	// Error is the exception message or x-death reason; Class the exception
	// class when recorded.
	Error string `json:"error,omitempty"`
	Class string `json:"class,omitempty"`
	// Origin is the topic or queue the event was dead-lettered from, when
	// recorded.
	Origin string `json:"origin,omitempty"`
}

// dlqNaming is the default naming of dead-letter queues, as eddy dlq uses.
var dlqNaming = convention.DefaultNaming()

// DeadLetterOf returns the dead-letter information an event carries, or nil
// when it is not a dead letter by its headers or its source's name. It reads
// what package dlq/convention reads, so a message eddy dlq lists as a dead
// letter is one in a timeline too.
func DeadLetterOf(e *event.Event) *DeadLetter { return deadLetterOf(e, nil) }

// dlqNames remembers whether the sources seen are named as DLQs, for the
// capture workers, which ask it of every event.
type dlqNames struct {
	names []string // copies: the names asked alias a chunk
	dlq   []bool
}

func (d *dlqNames) is(name string) bool {
	if d == nil {
		return dlqNaming.Is(name)
	}
	for i, n := range d.names {
		if n == name {
			return d.dlq[i]
		}
	}
	is := dlqNaming.Is(name)
	if len(d.names) < internScan {
		d.names, d.dlq = append(d.names, strings.Clone(name)), append(d.dlq, is)
	}
	return is
}

func deadLetterOf(e *event.Event, names *dlqNames) *DeadLetter {
	// Only headers that start as the conventions' do (kafka_dlt-*,
	// __connect.errors.*, x-death, x-first-death-*) can make a dead
	// letter: most events have none, and skip the look-ups.
	maybe := false
	for i := range e.Headers {
		if k := e.Headers[i].Key; len(k) > 0 && (k[0] == 'k' || k[0] == '_' || k[0] == 'x') {
			maybe = true
			break
		}
	}
	if maybe {
		if l, ok := convention.Read(e); ok {
			return &DeadLetter{Convention: l.Convention, Error: l.Error, Class: l.Class, Origin: l.Origin}
		}
	}
	if names.is(e.Source()) {
		return &DeadLetter{Convention: convention.Name}
	}
	return nil
}

// Step is one event of a flow.
type Step struct {
	// ID is the event id; empty when the schema found none (the step is then
	// known by its origin).
	ID        string
	Type      string
	Causation string
	// TraceID and SpanID come from the event's traceparent (hex), empty when
	// it has none.
	TraceID string
	SpanID  string

	Transport event.Transport
	Source    string
	Partition int32
	// Offset is the Kafka offset or AMQP stream offset; -1 when unknown.
	Offset int64
	Key    []byte
	// At is the event time used for ordering and latency: the occurred-at
	// time, else the broker timestamp.
	At time.Time
	// TimeSource says where At came from: the schema location of the
	// occurred-at time (e.g. "json:occurred_at", "property:timestamp"),
	// "timestamp" (the Kafka record timestamp) or "received" (an AMQP
	// message without a timestamp property: when eddy read it).
	// TimeCoarse: At is whole seconds (an AMQP timestamp property, or a
	// time written without a fraction that nothing finer refined).
	TimeSource string
	TimeCoarse bool
	// Timestamp is the broker (record) timestamp.
	Timestamp time.Time
	// Duplicates counts further copies of this event id on the same source.
	Duplicates int
	// DeadLetter is set when this step is a dead-letter copy.
	DeadLetter *DeadLetter
}

// Origin names where the step was read: topic[partition]@offset for Kafka, the
// queue (and @offset for streams) for AMQP.
func (s *Step) Origin() string {
	var b strings.Builder
	b.WriteString(s.Source)
	if s.Transport == event.Kafka {
		b.WriteByte('[')
		b.WriteString(itoa(int64(s.Partition)))
		b.WriteByte(']')
	}
	if s.Offset >= 0 {
		b.WriteByte('@')
		b.WriteString(itoa(s.Offset))
	}
	return b.String()
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// step is the compact form a Correlator keeps, free of pointers so that the
// garbage collector never scans the millions of them a large capture holds:
// type and source interned, ids (and the key) as references into the flow's
// arena, times as nanoseconds, trace context as bytes, the dead-letter
// information as an index into the flow's list.
type step struct {
	at, ts    int64
	offset    int64
	id, cause ref
	key       ref    // kept only with Config.KeepKeys (hasKey: not null)
	typ, src  uint32 // intern indices
	dlq       uint32 // 1 + index into flowState.dlqs; 0: not a dead letter
	partition int32
	dups      uint16
	transport uint8 // 0 kafka, 1 amqp
	hasTrace  bool
	hasKey    bool
	coarse    bool  // at is whole seconds
	atFrom    uint8 // Correlator.times index of where at came from
	trace     [16]byte
	span      [8]byte
}

// ref locates a string in a flow's arena.
type ref struct{ off, n uint32 }

// parseHex decodes s, lower-case hex (what traceparent ids are), into dst,
// of half its length; false for anything else. Eight characters at a time.
func parseHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	const lo8, hi8 = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		digit := (w + lo8*(0x80-'0')) &^ (w + lo8*(0x7f-'9'))
		letter := (w + lo8*(0x80-'a')) &^ (w + lo8*(0x7f-'f'))
		if w&hi8 != 0 || (digit|letter)&hi8 != hi8 {
			return false
		}
		// '0'-'9' and 'a'-'f' to 0-15: the low nibble, plus 9 for letters.
		n := w&(lo8*0x0f) + 9*(w>>6&lo8)
		// Pairs of nibbles into bytes, then the four bytes together.
		y := (n&0x00ff00ff00ff00ff)<<4 | n>>8&0x00ff00ff00ff00ff
		z := y&0xff | y>>8&0xff00 | y>>16&0xff0000 | y>>24&0xff000000
		d := dst[i/2 : i/2+4]
		d[0], d[1], d[2], d[3] = byte(z), byte(z>>8), byte(z>>16), byte(z>>24)
	}
	if i < len(s) {
		_, err := hex.Decode(dst[i/2:], []byte(s[i:]))
		return err == nil && strings.ToLower(s[i:]) == s[i:]
	}
	return true
}

// interner gives each distinct type and source name a small number.
type interner struct {
	idx   map[string]uint32
	names []string
	// snap publishes the first names to other goroutines (capture workers
	// look names up where their bytes are still in cache): a fresh slice
	// at each new name, never written after.
	snap atomic.Pointer[[]string]
}

// internScan is how many names are found by comparing rather than hashing:
// a handful of types and sources is the common case, and comparing an
// interned name is a pointer check.
const internScan = 16

func (in *interner) id(s string) uint32 {
	if len(in.names) <= internScan {
		for i, n := range in.names {
			if n == s {
				return uint32(i)
			}
		}
	} else if i, ok := in.idx[s]; ok {
		return i
	}
	if in.idx == nil {
		in.idx = map[string]uint32{}
	}
	i := uint32(len(in.names))
	s = strings.Clone(s)
	in.idx[s] = i
	in.names = append(in.names, s)
	if len(in.names) <= internScan {
		p := slices.Clone(in.names)
		in.snap.Store(&p)
	}
	return i
}

// lookup returns 1 + the number of s among the published names, or 0; safe
// for any goroutine.
func (in *interner) lookup(s string) uint32 {
	if p := in.snap.Load(); p != nil {
		for i, n := range *p {
			if n == s {
				return uint32(i) + 1
			}
		}
	}
	return 0
}

func (in *interner) name(i uint32) string { return in.names[i] }
