package schema

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/sync/singleflight"

	"github.com/eddy-sh/eddy/event"
)

// failRetry is how long a registry that was down or refused is not asked
// again about the same id: records of that id fail at once meanwhile, so a
// down registry costs one --timeout every few seconds, not one per record.
const failRetry = 3 * time.Second

// entry is what the cache keeps for one schema id: the compiled codec and
// where it came from, or why there is none.
type entry struct {
	id       int
	codec    codec
	format   string
	subjects []sr.SubjectVersion // the subject versions the id is registered under
	// shown are subjects' names as a SchemaRef carries them (safeName:
	// the registry's subject names are printed); subjects keep the names
	// as registered, to match a topic's.
	shown []string
	fail  string    // event.Fail* when codec is nil
	why   string    // with fail: what went wrong, one terminal-safe line, for the summary
	until time.Time // for transient failures: retry after
}

// ref is the entry's SchemaRef for a payload of topic: the subject the
// TopicNameStrategy gives (topic-key or topic-value) when the id is
// registered under it, else the first by name.
func (en *entry) ref(topic string, key bool) event.SchemaRef {
	r := event.SchemaRef{Format: en.format, ID: en.id}
	suffix := "-value"
	if key {
		suffix = "-key"
	}
	if len(en.subjects) > 0 {
		r.Subject, r.Version = en.shown[0], en.subjects[0].Version
	}
	for i, sv := range en.subjects {
		s := sv.Subject
		if len(s) == len(topic)+len(suffix) && s[:len(topic)] == topic && s[len(topic):] == suffix {
			r.Subject, r.Version = en.shown[i], sv.Version
			break
		}
	}
	return r
}

// cache is a bounded LRU of entries by id; lookups of one id that miss share
// one registry call.
type cache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front: most recently used *entry
	byID  map[int]*list.Element
	group singleflight.Group
}

func newCache(max int) *cache {
	if max <= 0 {
		max = 1000
	}
	return &cache{max: max, ll: list.New(), byID: map[int]*list.Element{}}
}

func (c *cache) get(id int, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.byID[id]
	if el == nil {
		return nil
	}
	en := el.Value.(*entry)
	if !en.until.IsZero() && now.After(en.until) {
		c.ll.Remove(el)
		delete(c.byID, id)
		return nil
	}
	c.ll.MoveToFront(el)
	return en
}

func (c *cache) put(en *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(en)
}

func (c *cache) putLocked(en *entry) {
	if el := c.byID[en.id]; el != nil {
		el.Value = en
		c.ll.MoveToFront(el)
		return
	}
	c.byID[en.id] = c.ll.PushFront(en)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.byID, old.Value.(*entry).id)
	}
}

// putIfAbsent puts en unless id has an entry, and returns the entry id has.
func (c *cache) putIfAbsent(en *entry) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.byID[en.id]; el != nil {
		return el.Value.(*entry)
	}
	c.putLocked(en)
	return en
}

// len is how many entries the cache holds.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// lookup returns id's entry, fetching and compiling it on a miss (one call
// for all the goroutines that miss at once). A nil entry means ctx ended
// first; nothing is cached for that.
func (d *Decoder) lookup(ctx context.Context, id int) *entry {
	if en := d.cache.get(id, time.Now()); en != nil {
		return en
	}
	if ctx.Err() != nil {
		// Ended (a cancelled batch): no call started for nobody to read.
		return nil
	}
	ch := d.cache.group.DoChan(strconv.Itoa(id), func() (any, error) {
		// Another caller may have filled it between our miss and now
		// (with a schema or a lasting failure: a stand-in for a lookup
		// that took too long is no reason not to look).
		if en := d.cache.get(id, time.Now()); en != nil && en.until.IsZero() {
			return en, nil
		}
		// The shared call outlives any one caller's cancellation: it is
		// bounded by the client's timeout, and others may be waiting.
		en := d.fetch(context.WithoutCancel(ctx), id)
		d.cache.put(en)
		return en, nil
	})
	wait := time.NewTimer(d.client.timeout)
	defer wait.Stop()
	select {
	case r := <-ch:
		return r.Val.(*entry)
	case <-ctx.Done():
		return nil
	case <-wait.C:
		// The lookup as a whole (the schema, its subjects, its references
		// one call each, compiling) has taken longer than one call may: a
		// registry slow on every call, a schema that takes minutes to
		// compile. No record waits longer: this one, and the id's next
		// ones for failRetry, are registry-down; the lookup goes on, and
		// its entry replaces this stand-in.
		en := &entry{id: id, fail: event.FailRegistry, until: time.Now().Add(failRetry)}
		return d.cache.putIfAbsent(en)
	}
}

// fetch asks the registry for id, its subject versions and its references,
// and compiles it.
func (d *Decoder) fetch(ctx context.Context, id int) *entry {
	en := &entry{id: id}
	fail := func(reason string, err error) *entry {
		en.fail = reason
		en.why = whyLine(fmt.Sprintf("schema id %d: %v", id, unwrapURL(err)))
		if reason == event.FailRegistry || reason == event.FailDenied {
			en.until = time.Now().Add(failRetry)
		}
		return en
	}
	var s sr.Schema
	err := d.client.call(ctx, func(ctx context.Context) (err error) {
		s, err = d.client.sr.SchemaByID(ctx, id)
		return err
	})
	if err != nil {
		return fail(FailReason(err), err)
	}
	en.format = formatName(s.Type)
	err = d.client.call(ctx, func(ctx context.Context) (err error) {
		en.subjects, err = d.client.sr.SchemaVersionsByID(ctx, id)
		return err
	})
	if err != nil && FailReason(err) != event.FailUnknownSchema {
		// The schema is known but not where it is registered: a registry
		// that answers one call and not the next is down.
		return fail(FailReason(err), err)
	}
	// Registries list them in no set order: sorted, "the first" is the
	// same on every run.
	slices.SortFunc(en.subjects, func(a, b sr.SubjectVersion) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	en.shown = make([]string, len(en.subjects))
	for i, sv := range en.subjects {
		en.shown[i] = safeName(sv.Subject)
	}
	cd, err := d.compile(ctx, s)
	if err != nil {
		if reason, ok := fetchFailure(err); ok {
			return fail(reason, err)
		}
		return fail(event.FailBadSchema, err)
	}
	en.codec = cd
	return en
}

// fetchError is a reference that could not be fetched: the reason is the
// registry's, not the schema's.
type fetchError struct {
	subject string
	version int
	err     error
}

func (e *fetchError) Error() string {
	return fmt.Sprintf("reference %s version %d: %s", e.subject, e.version, FailReason(e.err))
}
func (e *fetchError) Unwrap() error { return e.err }

func fetchFailure(err error) (string, bool) {
	var fe *fetchError
	if !errors.As(err, &fe) {
		return "", false
	}
	if r := FailReason(fe.err); r != event.FailUnknownSchema {
		return r, true
	}
	// A reference the registry does not have: the schema cannot compile.
	return event.FailBadSchema, true
}

// compile compiles a registered schema by its type. A compiler that panics
// on a schema from the registry (untrusted text) fails that schema, not eddy.
func (d *Decoder) compile(ctx context.Context, s sr.Schema) (c codec, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("compiling the schema: %v", p)
		}
	}()
	refs := toRefs(s.References)
	switch s.Type {
	case sr.TypeProtobuf:
		return compileProto(ctx, s.Schema, refs, d.fetchRef)
	case sr.TypeJSON:
		return compileJSONSchema(ctx, s.Schema, refs, d.fetchRef, d.validate)
	default:
		return compileAvro(ctx, s.Schema, refs, d.fetchRef)
	}
}

// fetchRef is the fetchFunc of registry schemas: a reference by its pinned
// subject and version, never the subject's latest.
//
// A subject's version never changes, so what was fetched is kept (bounded
// like the schemas): ids that share a reference, as the versions of one
// subject do, fetch it once.
func (d *Decoder) fetchRef(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
	key := subject + "\x00" + strconv.Itoa(version)
	d.refsMu.Lock()
	ss, ok := d.refs[key]
	d.refsMu.Unlock()
	if ok {
		return ss, nil
	}
	err := d.client.call(ctx, func(ctx context.Context) (err error) {
		ss, err = d.client.sr.SchemaByVersion(ctx, subject, version)
		return err
	})
	if err != nil {
		return ss, &fetchError{subject, version, err}
	}
	d.refsMu.Lock()
	if d.refs == nil || len(d.refs) >= d.cache.max {
		d.refs = map[string]sr.SubjectSchema{} // a crude bound: start over
	}
	d.refs[key] = ss
	d.refsMu.Unlock()
	return ss, nil
}

func toRefs(rs []sr.SchemaReference) []refSchema {
	if len(rs) == 0 {
		return nil
	}
	out := make([]refSchema, len(rs))
	for i, r := range rs {
		out[i] = refSchema{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return out
}

func formatName(t sr.SchemaType) string {
	switch t {
	case sr.TypeProtobuf:
		return "protobuf"
	case sr.TypeJSON:
		return "json"
	}
	return "avro"
}
