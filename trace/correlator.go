package trace

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// DefaultTimeout is how long a flow may be idle before it is finalised.
const DefaultTimeout = 5 * time.Minute

// Config configures a Correlator.
type Config struct {
	// Schema extracts ids; nil means event.DefaultSchema().
	Schema *event.Schema
	// Timeout finalises a flow that received no event for this long on Clock;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// Clock is the time source for idleness; nil means time.Now. Tests inject
	// one instead of sleeping.
	Clock func() time.Time
	// KeepKeys keeps each event's key on its Step (for OTLP export); off by
	// default to save memory.
	KeepKeys bool
	// OnFlow receives each flow as it is finalised. The Flow is the callee's.
	OnFlow func(*Flow)
}

// Correlator groups events into flows. It is not safe for concurrent use.
type Correlator struct {
	cfg    Config
	schema *event.Schema
	flows  map[string]*flowState
	// alias maps the event ids of flows keyed by event id to their flow, so
	// that an event with neither correlation nor trace id joins the flow of
	// its cause. Flows keyed by correlation or trace need no alias (their
	// events carry the key), which saves a map entry per event.
	alias map[string]*flowState
	types interner
	srcs  interner
	// head and tail of the list of open flows, least recently active first.
	head, tail *flowState

	events, duplicates int64
}

type flowState struct {
	key        string
	kind       KeyKind
	steps      []step
	lastSeen   int64 // Clock, unix nanos
	prev, next *flowState
	index      map[stepKey]int32 // id+source -> step, for large flows only
}

type stepKey struct {
	id  string
	src uint32
}

// indexAbove is the flow size from which duplicates are found through a map
// instead of a scan.
const indexAbove = 32

// NewCorrelator returns a Correlator for cfg.
func NewCorrelator(cfg Config) *Correlator {
	if cfg.Schema == nil {
		cfg.Schema = event.DefaultSchema()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Correlator{cfg: cfg, schema: cfg.Schema, flows: map[string]*flowState{}, alias: map[string]*flowState{}}
}

// Events returns how many events were added; Duplicates how many of them were
// copies of an event id already seen on the same source.
func (c *Correlator) Events() int64     { return c.events }
func (c *Correlator) Duplicates() int64 { return c.duplicates }

// Len returns the number of open flows.
func (c *Correlator) Len() int { return len(c.flows) }

// Add correlates one event. The Correlator keeps nothing that aliases e.
func (c *Correlator) Add(e *event.Event) {
	c.events++
	f := c.schema.Extract(e)
	s := step{
		id:        strings.Clone(f.ID),
		cause:     strings.Clone(f.Causation),
		typ:       c.types.id(f.Type),
		src:       c.srcs.id(e.Source()),
		ts:        unixNano(e.Timestamp),
		offset:    e.Offset,
		partition: e.Partition,
		dlq:       DeadLetterOf(e),
	}
	if e.Transport == event.AMQP {
		s.transport = 1
	}
	s.at = s.ts
	// A dead-letter copy carries the original payload, so its occurred-at
	// is the original's; when it was dead-lettered is its broker timestamp.
	if !f.OccurredAt.IsZero() && (s.dlq == nil || s.ts == 0) {
		s.at = f.OccurredAt.UnixNano()
	}
	if f.TraceID != "" && parseHex(s.trace[:], f.TraceID) && parseHex(s.span[:], f.SpanID) {
		s.hasTrace = true
	}
	if c.cfg.KeepKeys && e.Key != nil {
		s.key, s.hasKey = string(e.Key), true
	}

	var fs *flowState
	var key string
	var kind KeyKind
	switch {
	case f.Correlation != "":
		key, kind = f.Correlation, ByCorrelation
	case f.TraceID != "":
		key, kind = f.TraceID, ByTrace
	default:
		if f.Causation != "" {
			fs = c.alias[f.Causation]
		}
		if fs == nil && f.ID != "" {
			fs = c.alias[f.ID]
		}
		key, kind = f.ID, ByEvent
		if key == "" {
			key, kind = e.Source()+"["+itoa(int64(e.Partition))+"]@"+itoa(e.Offset), ByOrigin
		}
	}
	now := c.cfg.Clock().UnixNano()
	if fs == nil {
		fs = c.flows[key]
	}
	if fs == nil {
		key = strings.Clone(key)
		fs = &flowState{key: key, kind: kind, steps: make([]step, 0, 6)}
		c.flows[key] = fs
	} else {
		c.unlink(fs)
		if dup := fs.find(s.id, s.src); dup >= 0 {
			d := &fs.steps[dup]
			if d.dups < ^uint16(0) {
				d.dups++
			}
			// The first time the event happened is its time; a later copy
			// (a retry) does not move it.
			if s.at < d.at {
				d.at, d.ts, d.offset, d.partition = s.at, s.ts, s.offset, s.partition
			}
			c.duplicates++
			fs.lastSeen = now
			c.pushBack(fs)
			return
		}
	}
	fs.steps = append(fs.steps, s)
	if fs.index != nil {
		fs.index[stepKey{s.id, s.src}] = int32(len(fs.steps) - 1)
	} else if len(fs.steps) > indexAbove {
		fs.index = make(map[stepKey]int32, 2*len(fs.steps))
		for i := range fs.steps {
			if fs.steps[i].id != "" {
				fs.index[stepKey{fs.steps[i].id, fs.steps[i].src}] = int32(i)
			}
		}
	}
	if s.id != "" && fs.kind == ByEvent {
		if _, ok := c.alias[s.id]; !ok {
			c.alias[s.id] = fs
		}
	}
	fs.lastSeen = now
	c.pushBack(fs)
}

func (fs *flowState) find(id string, src uint32) int {
	if id == "" {
		return -1
	}
	if fs.index != nil {
		if i, ok := fs.index[stepKey{id, src}]; ok {
			return int(i)
		}
		return -1
	}
	for i := range fs.steps {
		if fs.steps[i].id == id && fs.steps[i].src == src {
			return i
		}
	}
	return -1
}

func (c *Correlator) pushBack(fs *flowState) {
	fs.prev, fs.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = fs
	} else {
		c.head = fs
	}
	c.tail = fs
}

func (c *Correlator) unlink(fs *flowState) {
	if fs.prev != nil {
		fs.prev.next = fs.next
	} else if c.head == fs {
		c.head = fs.next
	}
	if fs.next != nil {
		fs.next.prev = fs.prev
	} else if c.tail == fs {
		c.tail = fs.prev
	}
	fs.prev, fs.next = nil, nil
}

// Expire finalises every flow idle for longer than the timeout (on the
// Clock) and returns how many it finalised.
func (c *Correlator) Expire() int {
	limit := c.cfg.Clock().Add(-c.cfg.Timeout).UnixNano()
	n := 0
	for c.head != nil && c.head.lastSeen < limit {
		c.finalise(c.head)
		n++
	}
	return n
}

// Flush finalises every open flow, oldest activity first: the end of input.
func (c *Correlator) Flush() {
	for c.head != nil {
		c.finalise(c.head)
	}
}

func (c *Correlator) finalise(fs *flowState) {
	c.unlink(fs)
	delete(c.flows, fs.key)
	for i := range fs.steps {
		if id := fs.steps[i].id; id != "" && c.alias[id] == fs {
			delete(c.alias, id)
		}
	}
	if c.cfg.OnFlow != nil {
		c.cfg.OnFlow(c.build(fs, false))
	}
}

// Open returns the flows not yet finalised, as they are now (Flow.Open set),
// least recently active first. For live views; it copies every open flow.
func (c *Correlator) Open() []*Flow {
	out := make([]*Flow, 0, len(c.flows))
	for fs := c.head; fs != nil; fs = fs.next {
		out = append(out, c.build(fs, true))
	}
	return out
}

// Find returns the open flow key names, or nil.
func (c *Correlator) Find(key string) *Flow {
	if fs := c.flows[key]; fs != nil {
		return c.build(fs, true)
	}
	return nil
}

func (c *Correlator) build(fs *flowState, open bool) *Flow {
	steps := make([]Step, len(fs.steps))
	for i := range fs.steps {
		s := &fs.steps[i]
		st := Step{
			ID: s.id, Type: c.types.name(s.typ), Causation: s.cause,
			Source: c.srcs.name(s.src), Partition: s.partition, Offset: s.offset,
			At: fromNano(s.at), Timestamp: fromNano(s.ts),
			Duplicates: int(s.dups), DeadLetter: s.dlq, Transport: event.Kafka,
		}
		if s.hasKey {
			st.Key = []byte(s.key)
		}
		if s.transport == 1 {
			st.Transport = event.AMQP
		}
		if s.hasTrace {
			st.TraceID, st.SpanID = hex.EncodeToString(s.trace[:]), hex.EncodeToString(s.span[:])
		}
		steps[i] = st
	}
	f := buildFlow(fs.key, fs.kind, steps)
	f.Open = open
	return f
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
