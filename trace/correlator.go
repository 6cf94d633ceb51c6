package trace

import (
	"encoding/hex"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

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
	// OnFlow receives each flow as it is finalised. The Flow is the callee's,
	// unless Borrow.
	OnFlow func(*Flow)
	// Borrow lends the Flow to OnFlow: it, its Steps and Hops and their
	// strings are valid only during the call, and the Correlator reuses their
	// memory. For a callee that aggregates and keeps nothing (Stats.Add), it
	// saves most of what building flows allocates.
	Borrow bool
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
	// bufs are the memory borrowed flows are built in (Config.Borrow).
	bufs []buildBuf
}

type flowState struct {
	key   string // aliases arena
	kind  KeyKind
	steps []step
	// arena holds the flow key and the steps' ids, causes and keys. It is
	// only ever appended to, so the strings that alias it (key, and the
	// Steps of flows built from it) never change.
	arena    []byte
	dlqs     []*DeadLetter
	lastSeen int64 // Clock, unix nanos
	prev     *flowState
	next     *flowState
	index    map[stepKey]int32 // id+source -> step, for large flows only
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

// input is an event reduced to what a Correlator needs. Its strings and key
// may alias the event's bytes, or a capture chunk's: add copies what it
// keeps.
type input struct {
	// The identities of event.Fields that correlation uses.
	corr, traceID, id, cause, typ string
	source                        string
	amqp                          bool
	partition                     int32
	offset                        int64
	ts                            int64 // broker timestamp, unix nanos; 0 when unset
	at                            int64 // event time, unix nanos
	key                           []byte
	dlq                           *DeadLetter
	hasTrace                      bool
	trace                         [16]byte
	span                          [8]byte
	// typ1 and src1 are 1 + the interned number of the type and source
	// when a capture worker found them, else 0.
	typ1, src1 uint32
}

// makeInput reduces e, whose fields the schema extracted into f.
// It does all that needs no Correlator state, so that capture workers do it
// in parallel.
func makeInput(e *event.Event, f *event.Fields, names *dlqNames) input {
	in := input{corr: f.Correlation, traceID: f.TraceID, id: f.ID, cause: f.Causation, typ: f.Type,
		amqp: e.Transport == event.AMQP, source: e.Source(), partition: e.Partition,
		offset: e.Offset, ts: unixNano(e.Timestamp), key: e.Key, dlq: deadLetterOf(e, names)}
	in.at = in.ts
	// A dead-letter copy carries the original payload, so its occurred-at
	// is the original's; when it was dead-lettered is its broker timestamp.
	if !f.OccurredAt.IsZero() && (in.dlq == nil || in.ts == 0) {
		in.at = f.OccurredAt.UnixNano()
	}
	if f.TraceID != "" && parseHex(in.trace[:], f.TraceID) && parseHex(in.span[:], f.SpanID) {
		in.hasTrace = true
	}
	return in
}

// Add correlates one event. The Correlator keeps nothing that aliases e.
func (c *Correlator) Add(e *event.Event) {
	f := c.schema.ExtractAliased(e)
	r := makeInput(e, &f, nil)
	c.add(&r, c.cfg.Clock().UnixNano())
}

// add correlates one input at Clock time now.
func (c *Correlator) add(r *input, now int64) {
	c.events++
	s := step{
		typ:       r.typ1 - 1,
		src:       r.src1 - 1,
		ts:        r.ts,
		at:        r.at,
		offset:    r.offset,
		partition: r.partition,
		hasTrace:  r.hasTrace,
		trace:     r.trace,
		span:      r.span,
	}
	if r.typ1 == 0 {
		s.typ = c.types.id(r.typ)
	}
	if r.src1 == 0 {
		s.src = c.srcs.id(r.source)
	}
	if r.amqp {
		s.transport = 1
	}

	var fs *flowState
	var key string
	var kind KeyKind
	switch {
	case r.corr != "":
		key, kind = r.corr, ByCorrelation
	case r.traceID != "":
		key, kind = r.traceID, ByTrace
	default:
		if r.cause != "" {
			fs = c.alias[r.cause]
		}
		if fs == nil && r.id != "" {
			fs = c.alias[r.id]
		}
		key, kind = r.id, ByEvent
		if key == "" {
			key, kind = r.source+"["+itoa(int64(r.partition))+"]@"+itoa(r.offset), ByOrigin
		}
	}
	if fs == nil {
		fs = c.flows[key]
	}
	if fs == nil {
		fs = &flowState{kind: kind, steps: make([]step, 0, 6), arena: make([]byte, 0, arenaSize(len(key), r, c.cfg.KeepKeys))}
		fs.key = fs.str(fs.put(key))
		c.flows[fs.key] = fs
	} else {
		c.unlink(fs)
		if dup := fs.find(r.id, s.src); dup >= 0 {
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
	s.id = fs.put(r.id)
	s.cause = fs.put(r.cause)
	if c.cfg.KeepKeys && r.key != nil {
		s.key, s.hasKey = fs.put(unsafeString(r.key)), true
	}
	if r.dlq != nil {
		fs.dlqs = append(fs.dlqs, r.dlq)
		s.dlq = uint32(len(fs.dlqs))
	}
	fs.steps = append(fs.steps, s)
	if fs.index != nil {
		fs.index[stepKey{fs.str(s.id), s.src}] = int32(len(fs.steps) - 1)
	} else if len(fs.steps) > indexAbove {
		fs.index = make(map[stepKey]int32, 2*len(fs.steps))
		for i := range fs.steps {
			if fs.steps[i].id.n > 0 {
				fs.index[stepKey{fs.str(fs.steps[i].id), fs.steps[i].src}] = int32(i)
			}
		}
	}
	if s.id.n > 0 && fs.kind == ByEvent {
		id := fs.str(s.id)
		if _, ok := c.alias[id]; !ok {
			c.alias[id] = fs
		}
	}
	fs.lastSeen = now
	c.pushBack(fs)
}

// arenaSize is the first arena of a flow: room for its key and about six
// steps like the first, each with a cause.
func arenaSize(key int, r *input, keys bool) int {
	// A flow's first event often has no cause, but the events after it do.
	per := 2 * len(r.id)
	if keys {
		per += len(r.key)
	}
	return key + 6*per
}

// put appends s to the arena.
func (fs *flowState) put(s string) ref {
	if s == "" {
		return ref{}
	}
	r := ref{off: uint32(len(fs.arena)), n: uint32(len(s))}
	fs.arena = append(fs.arena, s...)
	return r
}

// str returns the string r refers to, without copying: the arena's bytes
// never change once written.
func (fs *flowState) str(r ref) string {
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&fs.arena[r.off], int(r.n))
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
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
		st := &fs.steps[i]
		if st.src == src && int(st.id.n) == len(id) && fs.str(st.id) == id {
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
	return c.finaliseWhile(func(fs *flowState) bool { return fs.lastSeen < limit }, false)
}

// Flush finalises every open flow, oldest activity first: the end of input.
func (c *Correlator) Flush() {
	c.finaliseWhile(func(*flowState) bool { return true }, true)
}

// finaliseBatch is how many flows are built at once when many are finalised
// together (the end of a capture): built on every core, handed to OnFlow in
// order.
const finaliseBatch = 2048

// finaliseWhile finalises the least recently active flows while cond holds
// and returns how many; all says it holds for every flow, which then need
// not leave the maps one by one.
func (c *Correlator) finaliseWhile(cond func(*flowState) bool, all bool) int {
	if all {
		// Len is 0 from here: every flow is being finalised.
		c.flows, c.alias = map[string]*flowState{}, map[string]*flowState{}
	}
	n := 0
	em := emitter{c: c}
	var batch []*flowState
	for c.head != nil && cond(c.head) {
		fs := c.head
		if all {
			c.unlink(fs)
		} else {
			c.forget(fs)
		}
		n++
		if c.cfg.OnFlow == nil {
			continue
		}
		batch = append(batch, fs)
		if len(batch) == finaliseBatch {
			em.emit(batch)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		em.emit(batch)
	}
	em.close()
	return n
}

// forget removes a flow from the Correlator.
func (c *Correlator) forget(fs *flowState) {
	c.unlink(fs)
	delete(c.flows, fs.key)
	if fs.kind == ByEvent || len(c.alias) > 0 {
		for i := range fs.steps {
			if id := fs.str(fs.steps[i].id); id != "" && c.alias[id] == fs {
				delete(c.alias, id)
			}
		}
	}
}

// emitter builds batches of finalised flows and hands them to OnFlow in
// order. Building only reads the Correlator (its interned names), so a large
// batch is built on every core while the batch before it is handed to
// OnFlow: with Borrow, the two live in the two halves of the Correlator's
// build buffers.
type emitter struct {
	c     *Correlator
	prev  []*Flow // built, not yet handed to OnFlow
	half  int
	flows [2][]*Flow
}

func (em *emitter) emit(batch []*flowState) {
	c := em.c
	flows := slices.Grow(em.flows[em.half][:0], len(batch))[:len(batch)]
	em.flows[em.half] = flows
	build := func(i int) { flows[i] = c.build(batch[i], false) }
	if c.cfg.Borrow {
		if len(c.bufs) < 2*finaliseBatch {
			c.bufs = make([]buildBuf, 2*finaliseBatch)
		}
		bufs := c.bufs[em.half*finaliseBatch:]
		build = func(i int) { flows[i] = c.buildIn(batch[i], false, &bufs[i]) }
	}
	workers := runtime.GOMAXPROCS(0)
	if len(batch) < 256 || workers == 1 {
		em.handOff()
		for i := range batch {
			build(i)
		}
	} else {
		var wg sync.WaitGroup
		per := (len(batch) + workers - 1) / workers
		for lo := 0; lo < len(batch); lo += per {
			hi := min(lo+per, len(batch))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := lo; i < hi; i++ {
					build(i)
				}
			}()
		}
		em.handOff()
		wg.Wait()
	}
	em.prev, em.half = flows, em.half^1
}

// handOff gives the flows built last to OnFlow.
func (em *emitter) handOff() {
	for i, f := range em.prev {
		em.prev[i] = nil
		em.c.cfg.OnFlow(f)
	}
	em.prev = nil
}

func (em *emitter) close() {
	em.handOff()
	// A huge flow's buffers are not kept for the next.
	for i := range em.c.bufs {
		if cap(em.c.bufs[i].steps) > 1024 {
			em.c.bufs[i] = buildBuf{}
		}
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

// EachOpen calls fn with each open flow as it is now (Flow.Open set), least
// recently active first, lent as with Config.Borrow: the Flow is valid only
// during the call. Unlike Open it builds one flow at a time, which is what a
// large capture needs.
func (c *Correlator) EachOpen(fn func(*Flow)) {
	var buf buildBuf
	for fs := c.head; fs != nil; fs = fs.next {
		fn(c.buildIn(fs, true, &buf))
	}
}

// OpenMatching returns the open flows that Flow.Matches(id) accepts, as Open
// does (least recently active first), building only those: `eddy trace ID`
// over a large capture keeps every flow open to the end.
func (c *Correlator) OpenMatching(id string) []*Flow {
	if id == "" {
		return nil // as Flow.Matches: an empty id matches nothing
	}
	var trace [16]byte
	// Step.TraceID is lowercase hex; only that spelling matches.
	isTrace := len(id) == 32 && strings.ToLower(id) == id && parseHex(trace[:], id)
	var out []*Flow
	for fs := c.head; fs != nil; fs = fs.next {
		if fs.matches(id, isTrace, &trace) {
			out = append(out, c.build(fs, true))
		}
	}
	return out
}

func (fs *flowState) matches(id string, isTrace bool, trace *[16]byte) bool {
	if fs.key == id {
		return true
	}
	for i := range fs.steps {
		s := &fs.steps[i]
		if fs.str(s.id) == id || fs.str(s.cause) == id || isTrace && s.hasTrace && s.trace == *trace {
			return true
		}
	}
	return false
}

// Find returns the open flow key names, or nil.
func (c *Correlator) Find(key string) *Flow {
	if fs := c.flows[key]; fs != nil {
		return c.build(fs, true)
	}
	return nil
}

// buildBuf is the memory a borrowed Flow is built in, reused (Config.Borrow).
type buildBuf struct {
	flow  Flow
	steps []Step
	hops  []Hop
	hexes []byte
	from  []int
	basis []HopBasis
}

func (c *Correlator) build(fs *flowState, open bool) *Flow { return c.buildIn(fs, open, nil) }

// buildIn builds the Flow of fs, in buf when not nil (then it is only valid
// until buf is used again).
func (c *Correlator) buildIn(fs *flowState, open bool, buf *buildBuf) *Flow {
	n := len(fs.steps)
	var f *Flow
	var steps []Step
	var from []int
	var basis []HopBasis
	if buf != nil {
		// Every step is written whole below.
		buf.steps = slices.Grow(buf.steps[:0], n)[:n]
		buf.from = slices.Grow(buf.from[:0], n)[:n]
		buf.basis = slices.Grow(buf.basis[:0], n)[:n]
		buf.hops = slices.Grow(buf.hops[:0], n)
		buf.flow = Flow{Steps: buf.steps, Hops: buf.hops}
		f, steps, from, basis = &buf.flow, buf.steps, buf.from, buf.basis
	} else {
		steps = make([]Step, n)
		f = &Flow{Steps: steps, Hops: make([]Hop, 0, n)}
		from, basis = make([]int, n), make([]HopBasis, n)
	}
	// The hex of every trace and span id of the flow in one allocation; the
	// steps of a flow mostly share their trace id, which is written once.
	ntrace := 0
	for i := range fs.steps {
		if fs.steps[i].hasTrace {
			ntrace++
		}
	}
	var hexes []byte
	if buf != nil {
		// Grown up front: the strings written alias it.
		buf.hexes = slices.Grow(buf.hexes[:0], 48*ntrace)
		hexes = buf.hexes
	} else if ntrace > 0 {
		hexes = make([]byte, 0, 48*ntrace)
	}
	var lastTrace [16]byte
	var lastTraceHex string
	for i := range fs.steps {
		s := &fs.steps[i]
		st := Step{
			ID: fs.str(s.id), Type: c.types.name(s.typ), Causation: fs.str(s.cause),
			Source: c.srcs.name(s.src), Partition: s.partition, Offset: s.offset,
			At: fromNano(s.at), Timestamp: fromNano(s.ts),
			Duplicates: int(s.dups), Transport: event.Kafka,
		}
		if s.dlq > 0 {
			st.DeadLetter = fs.dlqs[s.dlq-1]
		}
		if s.hasKey {
			st.Key = []byte(fs.str(s.key))
		}
		if s.transport == 1 {
			st.Transport = event.AMQP
		}
		if s.hasTrace {
			if lastTraceHex == "" || s.trace != lastTrace {
				n := len(hexes)
				hexes = hex.AppendEncode(hexes, s.trace[:])
				lastTrace, lastTraceHex = s.trace, unsafeString(hexes[n:])
			}
			n := len(hexes)
			hexes = hex.AppendEncode(hexes, s.span[:])
			st.TraceID, st.SpanID = lastTraceHex, unsafeString(hexes[n:])
		}
		steps[i] = st
	}
	f.Key, f.KeyKind = fs.key, fs.kind
	buildFlow(f, from, basis)
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
