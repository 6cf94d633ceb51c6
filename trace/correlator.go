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
	// Label, when set, classes a flow by the first of its events (not dead
	// letters) whose type it gives a label other than 0 (eddy serve: the
	// flow definition whose first step the flow has), in whatever order
	// its events arrive; the flow keeps it to the end (Flow.Label). OnOpen
	// is told of each flow opened (label 0), OnLabel of a flow labelled,
	// OnMerged of a flow that joined another, with its label (it is not
	// finalised on its own). With OnFlow they let a caller count the open
	// flows of each label without listing them.
	Label    func(typ string) uint16
	OnOpen   func()
	OnLabel  func(label uint16)
	OnMerged func(label uint16)
}

// Correlator groups events into flows. It is not safe for concurrent use.
type Correlator struct {
	cfg    Config
	schema *event.Schema
	flows  map[string]*flowState
	// alias maps event ids, and the causes events name, to their flow
	// (or to a flow merged into it: see root), so that an event with
	// neither correlation nor trace id joins the flow of its cause, or of
	// an effect that came before it, in any order of arrival. Until linked,
	// only flows that are not keyed (by event id or origin) have entries:
	// correlated events carry their key, which saves a map entry per event
	// until an event without one needs them.
	alias  map[string]aliasOf
	linked bool
	types  interner
	srcs   interner
	times  interner // where event times came from (Step.TimeSource)
	// head and tail of the list of open flows, least recently active first.
	head, tail *flowState

	events, duplicates int64
	// names remembers which sources are named as DLQs, for Add: asking the
	// naming rules per event took a sixth of eddy serve's ingest.
	names dlqNames
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
	// parent is the flow this one was merged into (then it holds nothing
	// else); nil for an open flow.
	parent *flowState
	label  uint16 // Config.Label of the event that opened it
}

// aliasOf is where an alias leads: the flow, and what the id is there.
type aliasOf struct {
	fs   *flowState
	rank uint8
}

// What an alias is, in the order in which one takes over another: a cause
// named by an event with neither correlation nor trace id (which draws its
// cause, and the other events that name it, to that event's flow), an
// event's own id. A correlated event's cause is no alias: an event joins
// the flow of its cause, never that of its effect, so a cause without
// correlation id named by a correlated event stays its own flow (in any
// order of arrival).
const (
	causeID uint8 = iota
	ownID
)

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
	return &Correlator{cfg: cfg, schema: cfg.Schema, flows: map[string]*flowState{}, alias: map[string]aliasOf{}}
}

// Events returns how many events were added; Duplicates how many of them were
// copies of an event id already seen on the same source.
func (c *Correlator) Events() int64     { return c.events }
func (c *Correlator) Duplicates() int64 { return c.duplicates }

// Types returns the event types of every event added so far ("" for events
// without one), in the order first seen. The slice is the caller's.
func (c *Correlator) Types() []string { return slices.Clone(c.types.names) }

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
	atFrom                        string
	coarse                        bool // at is whole seconds
	key                           []byte
	dlq                           *DeadLetter
	hasTrace                      bool
	trace                         [16]byte
	span                          [8]byte
	// typ1, src1 and from1 are 1 + the interned number of the type, the
	// source and atFrom when a capture worker found them, else 0.
	typ1, src1, from1 uint32
}

// makeInput reduces e, whose fields the schema extracted into f.
// It does all that needs no Correlator state, so that capture workers do it
// in parallel.
func makeInput(e *event.Event, f *event.Fields, names *dlqNames) input {
	in := input{corr: f.Correlation, traceID: f.TraceID, id: f.ID, cause: f.Causation, typ: f.Type,
		amqp: e.Transport == event.AMQP, source: e.Source(), partition: e.Partition,
		offset: e.Offset, ts: unixNano(e.Timestamp), key: e.Key, dlq: deadLetterOf(e, names)}
	in.at, in.atFrom = in.ts, timeFromRecord
	if in.amqp {
		// An AMQP message's timestamp is its timestamp property (whole
		// seconds), else the time eddy read it.
		in.atFrom = timeFromReceived
		if e.Properties != nil && !e.Properties.Timestamp.IsZero() {
			in.atFrom, in.coarse = "property:timestamp", true
		}
	}
	// A dead-letter copy carries the original payload, so its occurred-at
	// is the original's; when it was dead-lettered is its broker timestamp.
	if !f.OccurredAt.IsZero() && (in.dlq == nil || in.ts == 0) {
		in.at, in.atFrom, in.coarse = f.OccurredAt.UnixNano(), f.OccurredAtFrom, f.OccurredAtCoarse
		// A whole second is refined by the Kafka record timestamp when
		// that falls within it (the same moment, to the millisecond).
		if in.coarse && !in.amqp && in.ts >= in.at && in.ts < in.at+int64(time.Second) {
			in.at, in.atFrom, in.coarse = in.ts, timeFromRecord, false
		}
	}
	if f.TraceID != "" && parseHex(in.trace[:], f.TraceID) && parseHex(in.span[:], f.SpanID) {
		in.hasTrace = true
	}
	return in
}

// Where an event time came from when not from the schema (Step.TimeSource).
const (
	timeFromRecord   = "timestamp"
	timeFromReceived = "received"
)

// Add correlates one event. The Correlator keeps nothing that aliases e.
func (c *Correlator) Add(e *event.Event) {
	f := c.schema.ExtractAliased(e)
	r := makeInput(e, &f, &c.names)
	c.add(&r, c.cfg.Clock().UnixNano())
}

// add correlates one input at Clock time now.
func (c *Correlator) add(r *input, now int64) {
	s := c.stepOf(r)
	var fs *flowState
	var key string
	var kind KeyKind
	switch {
	case r.corr != "":
		key, kind = r.corr, ByCorrelation
	case r.traceID != "":
		key, kind = r.traceID, ByTrace
	default:
		key, kind = r.id, ByEvent
		if key == "" {
			key, kind = r.source+"["+itoa(int64(r.partition))+"]@"+itoa(r.offset), ByOrigin
		}
	}
	if kind.keyed() {
		fs = c.flows[key]
		if c.linked {
			// An event without correlation or trace id may have named this
			// one as its cause, or be its cause, before it came.
			fs = c.join(fs, r.id, key, kind)
		}
	} else {
		if !c.linked && (r.id != "" || r.cause != "") {
			c.link()
		}
		// The flow of its cause (or of another effect of it), or of an
		// effect that came first; both when they were apart until now.
		fs = c.join(nil, r.cause, "", kind)
		fs = c.join(fs, r.id, "", kind)
		if fs == nil {
			fs = c.flows[key]
		}
	}
	if fs == nil {
		fs = c.newFlow(key, kind, r)
	} else {
		c.unlink(fs)
	}
	c.record(fs, r, &s, kind)
	fs.lastSeen = now
	c.pushBack(fs)
}

// addRun correlates the inputs of one key (a correlation or trace id), the
// first at ins[i] and each one's next at next[i] (-1 ends them), with one
// look-up of their flow. A capture worker grouped a chunk's inputs so
// (chunk.group) when every one had such a key: until the Correlator links
// (no such key yet), those of different keys have nothing to do with each
// other, and adding each key's run in the order of its last input leaves
// the Correlator as add on each in turn would.
func (c *Correlator) addRun(ins []input, i int32, next []int32, now int64) {
	r := &ins[i]
	key, kind := r.corr, ByCorrelation
	if key == "" {
		key, kind = r.traceID, ByTrace
	}
	fs := c.flows[key]
	if fs == nil {
		fs = c.newFlow(key, kind, r)
	} else {
		c.unlink(fs)
	}
	for ; i >= 0; i = next[i] {
		r := &ins[i]
		s := c.stepOf(r)
		c.record(fs, r, &s, kind)
	}
	fs.lastSeen = now
	c.pushBack(fs)
}

// newFlow makes the flow of key for its first input r.
func (c *Correlator) newFlow(key string, kind KeyKind, r *input) *flowState {
	fs := &flowState{kind: kind, steps: make([]step, 0, 6), arena: make([]byte, 0, arenaSize(len(key), r, c.cfg.KeepKeys))}
	fs.key = fs.str(fs.put(key))
	c.flows[fs.key] = fs
	if c.cfg.OnOpen != nil {
		c.cfg.OnOpen()
	}
	return fs
}

// stepOf is the step of r, its strings not yet in an arena; it counts the
// event.
func (c *Correlator) stepOf(r *input) step {
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
		coarse:    r.coarse,
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
	n := r.from1 - 1
	if r.from1 == 0 {
		n = c.times.id(r.atFrom)
	}
	if n <= 255 {
		s.atFrom = uint8(n)
	}
	return s
}

// intern numbers r's names (as stepOf would) where the worker did not.
func (c *Correlator) intern(r *input) {
	if r.typ1 == 0 {
		r.typ1 = c.types.id(r.typ) + 1
	}
	if r.src1 == 0 {
		r.src1 = c.srcs.id(r.source) + 1
	}
	if r.from1 == 0 {
		r.from1 = c.times.id(r.atFrom) + 1
	}
}

// record adds the step s of r to fs (out of the list of open flows), or
// counts it as a duplicate of one fs has.
func (c *Correlator) record(fs *flowState, r *input, s *step, kind KeyKind) {
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
		return
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
	fs.appendStep(*s)
	if fs.label == 0 && r.dlq == nil && c.cfg.Label != nil {
		if fs.label = c.cfg.Label(r.typ); fs.label != 0 && c.cfg.OnLabel != nil {
			c.cfg.OnLabel(fs.label)
		}
	}
	if c.linked || !kind.keyed() {
		c.alias1(fs.str(s.id), fs, ownID)
	}
	if !kind.keyed() {
		c.alias1(fs.str(s.cause), fs, causeID)
	}
}

// appendStep appends s, whose strings are in the arena, and indexes it.
func (fs *flowState) appendStep(s step) {
	fs.steps = append(fs.steps, s)
	if fs.index != nil {
		if s.id.n > 0 {
			fs.index[stepKey{fs.str(s.id), s.src}] = int32(len(fs.steps) - 1)
		}
	} else if len(fs.steps) > indexAbove {
		fs.index = make(map[stepKey]int32, 2*len(fs.steps))
		for i := range fs.steps {
			if fs.steps[i].id.n > 0 {
				fs.index[stepKey{fs.str(fs.steps[i].id), fs.steps[i].src}] = int32(i)
			}
		}
	}
}

// keyed reports whether a flow of this kind is keyed by an id its events
// carry (correlation or trace id), rather than by its events' own ids.
func (k KeyKind) keyed() bool { return k == ByCorrelation || k == ByTrace }

// alias1 makes id lead to fs, as rank, unless it leads to a flow as a rank
// as high already.
func (c *Correlator) alias1(id string, fs *flowState, rank uint8) {
	if id == "" {
		return
	}
	if a, ok := c.alias[id]; !ok || rank > a.rank {
		c.alias[id] = aliasOf{fs, rank}
	}
}

// link starts keeping the ids of correlated flows' events (and the causes
// they name) in alias too, from the first event without correlation or
// trace id that has an id or a cause: such an event joins the flow of its
// cause or its effect whatever their keys, in any order. Until then, the
// common case, correlated events cost no alias entry.
func (c *Correlator) link() {
	c.linked = true
	for fs := c.head; fs != nil; fs = fs.next {
		for i := range fs.steps {
			// Until now every event with an id or a cause had a key:
			// their causes are no aliases.
			c.alias1(fs.str(fs.steps[i].id), fs, ownID)
		}
	}
}

// root is the flow fs was merged into, if it was (union–find, with path
// halving); nil for nil.
func root(fs *flowState) *flowState {
	for fs != nil && fs.parent != nil {
		if fs.parent.parent != nil {
			fs.parent = fs.parent.parent
		}
		fs = fs.parent
	}
	return fs
}

// join returns the flow an event belongs to, given fs (the flow found so
// far, or nil) and one of its ids (its own, or its cause's): the flow that id
// leads to, merged with fs when both exist. Two flows keyed by different
// correlation or trace ids are never merged (the event stays in fs). key and
// kind are the event's own key when it is keyed, which a flow found for it
// takes.
func (c *Correlator) join(fs *flowState, id, key string, kind KeyKind) *flowState {
	if id == "" {
		return fs
	}
	g := root(c.alias[id].fs)
	if g == nil || g == fs {
		return fs
	}
	if fs == nil {
		if !kind.keyed() {
			return g
		}
		if g.kind.keyed() {
			// Another correlation's event: the event's own key wins.
			return nil
		}
		c.rekey(g, key, kind)
		return g
	}
	if fs.kind.keyed() && g.kind.keyed() {
		return fs
	}
	return c.merge(fs, g)
}

// rekey gives fs (not keyed) the key of a keyed event that joins it.
func (c *Correlator) rekey(fs *flowState, key string, kind KeyKind) {
	if c.flows[fs.key] == fs {
		delete(c.flows, fs.key)
	}
	fs.key, fs.kind = fs.str(fs.put(key)), kind
	c.flows[fs.key] = fs
}

// merge joins two open flows (roots, at most one keyed) into one and returns
// it: the steps of the smaller move into the larger (renamed into its arena;
// the same event on the same source once, as a duplicate), the keyed one's
// key stays, and the other becomes a forwarding entry for the alias ids
// that still lead to it, dropped with them when the flow is forgotten.
func (c *Correlator) merge(a, b *flowState) *flowState {
	if b.kind.keyed() || !a.kind.keyed() && len(b.steps) > len(a.steps) {
		a, b = b, a // a: the key that stays
	}
	dst, src := a, b
	if len(b.steps) > len(a.steps) {
		dst, src = b, a
	}
	c.unlink(a)
	c.unlink(b)
	for _, fs := range [2]*flowState{a, b} {
		if c.flows[fs.key] == fs {
			delete(c.flows, fs.key)
		}
	}
	if dst != a {
		dst.key, dst.kind = dst.str(dst.put(a.key)), a.kind
	}
	c.flows[dst.key] = dst
	for i := range src.steps {
		st := src.steps[i]
		id := src.str(st.id)
		if j := dst.find(id, st.src); j >= 0 {
			d := &dst.steps[j]
			d.dups = uint16(min(int(d.dups)+int(st.dups)+1, int(^uint16(0))))
			if st.at < d.at {
				d.at, d.ts, d.offset, d.partition = st.at, st.ts, st.offset, st.partition
			}
			c.duplicates++
			continue
		}
		st.id = dst.put(id)
		st.cause = dst.put(src.str(st.cause))
		if st.hasKey {
			st.key = dst.put(src.str(st.key))
		}
		if st.dlq > 0 {
			dst.dlqs = append(dst.dlqs, src.dlqs[st.dlq-1])
			st.dlq = uint32(len(dst.dlqs))
		}
		dst.appendStep(st)
	}
	dst.lastSeen = max(a.lastSeen, b.lastSeen)
	gone := src.label
	if dst.label == 0 && src.label != 0 {
		// The label the merged flow had is the flow's now.
		dst.label, gone = src.label, 0
	}
	if c.cfg.OnMerged != nil {
		c.cfg.OnMerged(gone)
	}
	*src = flowState{parent: dst}
	// The caller adds the event and puts dst back in the list.
	return dst
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
		c.flows, c.alias = map[string]*flowState{}, map[string]aliasOf{}
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
	if len(c.alias) > 0 {
		// Every alias that leads here is one of its steps' ids or causes
		// (those of merged flows moved here with their steps).
		for i := range fs.steps {
			for _, r := range [2]ref{fs.steps[i].id, fs.steps[i].cause} {
				if id := fs.str(r); id != "" {
					if a, ok := c.alias[id]; ok && root(a.fs) == fs {
						delete(c.alias, id)
					}
				}
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
			At: fromNano(s.at), Timestamp: fromNano(s.ts), TimeSource: c.times.name(uint32(s.atFrom)), TimeCoarse: s.coarse,
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
	if !fs.kind.keyed() {
		// Known by its first event's id, whatever order its events came
		// in (and flows merged).
		for i := range steps {
			if steps[i].ID != "" {
				f.Key, f.KeyKind = steps[i].ID, ByEvent
				break
			}
		}
	}
	f.Open, f.Label = open, fs.label
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
