package event

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Fields are the identities eddy derives from an event: they are never stored in
// the envelope, only computed, so a different Schema can read the same capture
// differently.
type Fields struct {
	ID          string    `json:"id,omitempty"`
	Type        string    `json:"type,omitempty"`
	Correlation string    `json:"correlation_id,omitempty"`
	Causation   string    `json:"causation_id,omitempty"`
	TraceID     string    `json:"trace_id,omitempty"`
	SpanID      string    `json:"span_id,omitempty"`
	OccurredAt  time.Time `json:"occurred_at,omitzero"`
	// OccurredAtFrom is the schema location OccurredAt came from, e.g.
	// "json:occurred_at"; OccurredAtCoarse says it is whole seconds (an
	// AMQP timestamp property, or a time written without a fraction).
	OccurredAtFrom   string `json:"-"`
	OccurredAtCoarse bool   `json:"-"`
}

// Schema says where each identity lives. Each field lists candidate locations in
// priority order; the first one present and non-empty wins. A location is
//
//	header:NAME     a header (Kafka) or header-table entry (AMQP)
//	property:NAME   an AMQP basic property: message_id, correlation_id, type,
//	                app_id, timestamp, …
//	json:PATH       a path into a JSON payload, dot-separated (gjson syntax)
//
// The trace and span ids come from a W3C traceparent found at the Trace locations.
type Schema struct {
	ID          []string `yaml:"id,omitempty" json:"id,omitempty"`
	Type        []string `yaml:"type,omitempty" json:"type,omitempty"`
	Correlation []string `yaml:"correlation,omitempty" json:"correlation,omitempty"`
	Causation   []string `yaml:"causation,omitempty" json:"causation,omitempty"`
	OccurredAt  []string `yaml:"occurred_at,omitempty" json:"occurred_at,omitempty"`
	Trace       []string `yaml:"traceparent,omitempty" json:"traceparent,omitempty"`

	compiled *compiledSchema
}

// DefaultSchema covers CloudEvents (binary mode with Kafka's ce_ headers and
// AMQP's cloudEvents: headers, and structured mode JSON), W3C traceparent, the
// AMQP message_id/correlation_id/type/timestamp properties and common JSON names.
func DefaultSchema() *Schema {
	return &Schema{
		ID:          []string{"header:ce_id", "header:cloudEvents:id", "header:cloudEvents_id", "property:message_id", "json:event_id", "json:eventId", "json:id"},
		Type:        []string{"header:ce_type", "header:cloudEvents:type", "header:cloudEvents_type", "property:type", "json:type", "json:event_type", "json:eventType"},
		Correlation: []string{"header:ce_correlationid", "property:correlation_id", "header:correlation_id", "json:correlation_id", "json:correlationId", "json:correlationid"},
		Causation:   []string{"header:ce_causationid", "header:causation_id", "json:causation_id", "json:causationId", "json:causationid"},
		OccurredAt:  []string{"header:ce_time", "header:cloudEvents:time", "property:timestamp", "json:occurred_at", "json:occurredAt", "json:time"},
		Trace:       []string{"header:traceparent", "header:ce_traceparent", "json:traceparent"},
	}
}

type loc struct {
	kind int // locHeader, locProp, locJSON
	name string
	text string // as the schema wrote it, e.g. json:occurred_at
	// idx indexes compiledSchema.paths (locJSON) or headers (locHeader).
	idx int
}

const (
	locHeader = iota
	locProp
	locJSON
)

type compiledSchema struct {
	fields [6][]loc
	paths  []string
	// topLevel maps each path to its index when every path is a plain top-level
	// key (true of the defaults): then one pass over the object finds them all,
	// instead of one scan of the payload per path.
	topLevel map[string]int
	// byLen lists the top-level paths by length: finding a key among a
	// dozen is cheaper by comparing than by hashing it. sigs are the paths'
	// first and last eight bytes, which for keys of up to 16 bytes say all.
	byLen [][]int
	sigs  []sig
	// users are the fields (bits) that each path is a location of.
	users []uint8
	// headers are the header names of the locations, each once, and
	// hByLen lists them by length, so that one pass over an event's headers
	// finds them all.
	headers []string
	hByLen  [][]int
	// Per field: the header names (bits of headers) and whether properties
	// and JSON paths are among its locations; jsonAt the positions of its
	// JSON locations. A field no present header or property can decide is
	// then skipped at once.
	hmask  [6]uint64
	props  [6]bool
	hasJS  [6]bool
	jsonAt [6][]int
}

// top returns the index of the top-level path k.
func (c *compiledSchema) top(k string) (int, bool) {
	if len(k) >= len(c.byLen) {
		return 0, false
	}
	ks := sigOf(k)
	for _, i := range c.byLen[len(k)] {
		if c.sigs[i] == ks && (len(k) <= 16 || c.paths[i] == k) {
			return i, true
		}
	}
	return 0, false
}

// sig is a key's first and last eight bytes (fewer, zero-padded, for a
// shorter one): equal sigs of two keys of the same length up to 16 bytes
// mean equal keys.
type sig struct{ first, last uint64 }

func sigOf(k string) sig {
	if len(k) >= 8 {
		return sig{load64(k, 0), load64(k, len(k)-8)}
	}
	var v uint64
	for i := len(k) - 1; i >= 0; i-- {
		v = v<<8 | uint64(k[i])
	}
	return sig{first: v}
}

var propNames = map[string]bool{"content_type": true, "content_encoding": true, "delivery_mode": true, "priority": true,
	"correlation_id": true, "reply_to": true, "expiration": true, "message_id": true, "timestamp": true, "type": true,
	"user_id": true, "app_id": true}

// Compile checks every location and prepares the schema for Extract. It is
// called by Extract on first use; call it early to report a bad configuration.
func (s *Schema) Compile() error {
	if s.compiled != nil {
		return nil
	}
	c := &compiledSchema{}
	pathIdx := map[string]int{}
	for i, list := range [6][]string{s.ID, s.Type, s.Correlation, s.Causation, s.OccurredAt, s.Trace} {
		for _, l := range list {
			kind, name, ok := strings.Cut(l, ":")
			if !ok || name == "" {
				return fmt.Errorf("schema location %q: want header:NAME, property:NAME or json:PATH", l)
			}
			switch kind {
			case "header":
				idx := slices.Index(c.headers, name)
				if idx < 0 {
					idx = len(c.headers)
					c.headers = append(c.headers, name)
					for len(c.hByLen) <= len(name) {
						c.hByLen = append(c.hByLen, nil)
					}
					c.hByLen[len(name)] = append(c.hByLen[len(name)], idx)
				}
				c.fields[i] = append(c.fields[i], loc{kind: locHeader, name: name, idx: idx, text: l})
			case "property", "prop":
				if !propNames[name] {
					return fmt.Errorf("schema location %q: unknown AMQP property %q", l, name)
				}
				c.fields[i] = append(c.fields[i], loc{kind: locProp, name: name, text: l})
			case "json":
				idx, seen := pathIdx[name]
				if !seen {
					idx = len(c.paths)
					pathIdx[name] = idx
					c.paths = append(c.paths, name)
				}
				c.fields[i] = append(c.fields[i], loc{kind: locJSON, name: name, idx: idx, text: l})
				if idx == len(c.users) {
					c.users = append(c.users, 0)
				}
				c.users[idx] |= 1 << i
			default:
				return fmt.Errorf("schema location %q: unknown kind %q (want header, property or json)", l, kind)
			}
		}
	}
	c.topLevel = pathIdx
	for _, p := range c.paths {
		if strings.ContainsAny(p, ".*?#|@\\!=<>%[]{}()") {
			c.topLevel = nil
			break
		}
	}
	for field, locs := range c.fields {
		for p, l := range locs {
			switch l.kind {
			case locHeader:
				if l.idx < 64 {
					c.hmask[field] |= 1 << l.idx
				}
			case locProp:
				c.props[field] = true
			case locJSON:
				c.hasJS[field] = true
				c.jsonAt[field] = append(c.jsonAt[field], p)
			}
		}
	}
	if c.topLevel != nil {
		for i, p := range c.paths {
			for len(c.byLen) <= len(p) {
				c.byLen = append(c.byLen, nil)
			}
			c.byLen[len(p)] = append(c.byLen[len(p)], i)
			c.sigs = append(c.sigs, sigOf(p))
		}
	}
	s.compiled = c
	return nil
}

// Extract derives e's Fields: json: locations read the payload as Payload
// gives it (a schema-decoded value's JSON, else the bytes). It never fails: a field whose locations are all
// absent, or an unparsable time, is left empty.
func (s *Schema) Extract(e *Event) Fields { return s.extract(e, false) }

// ExtractAliased is Extract without copying: the strings of the Fields alias
// e's header values and payload, and are valid only while those bytes are
// unchanged. For hot loops that copy what they keep (the trace correlator).
func (s *Schema) ExtractAliased(e *Event) Fields { return s.extract(e, true) }

func (s *Schema) extract(e *Event, alias bool) Fields {
	// A payload a schema decoded is looked up in its JSON (Payload).
	f, _ := s.extractFrom(e, alias, unsafeString(e.Payload()), nil)
	return f
}

// extractEscaped is ExtractAliased for an event whose payload is raw, the
// text of a JSON string whose only escapes are \" (see Decoder.DecodeFields):
// ok is false when that text does not settle the fields, which the
// unescaped payload then must.
func (s *Schema) extractEscaped(e *Event, raw string, esc *escText) (Fields, bool) {
	return s.extractFrom(e, true, raw, esc)
}

// maxHeaderNames is how many distinct header names a schema's one pass over
// an event's headers handles; more are looked up one by one.
const maxHeaderNames = 64

// extractFrom derives e's fields, its payload being payload (with esc, its
// escaped text, and ok false for what only the unescaped payload can tell).
func (s *Schema) extractFrom(e *Event, alias bool, payload string, esc *escText) (f Fields, ok bool) {
	if s.compiled == nil {
		if err := s.Compile(); err != nil {
			return Fields{}, true
		}
	}
	c := s.compiled
	// The schema's headers, in one pass over the event's (the last of a
	// name wins, as Event.Header has it).
	// hidx: 1 + the index in e.Headers of each of the schema's names;
	// hset: those whose value is not empty.
	var hidx [maxHeaderNames]uint16
	var hset uint64
	onePass := len(c.headers) <= maxHeaderNames && len(e.Headers) < 1<<16
	if onePass {
		for i := range e.Headers {
			h := &e.Headers[i]
			if len(h.Key) >= len(c.hByLen) {
				continue
			}
			for _, k := range c.hByLen[len(h.Key)] {
				if c.headers[k] == h.Key {
					hidx[k] = uint16(i + 1)
					if hset &^= 1 << k; len(h.Value) > 0 {
						hset |= 1 << k
					}
					break
				}
			}
		}
	}
	// Headers and properties first: the first non-empty one of each field
	// (at), and so which JSON paths can still decide it.
	var hv [6]string
	var at [6]int
	var st stopper
	for field, locs := range c.fields {
		at[field] = len(locs)
		if onePass && hset&c.hmask[field] == 0 && (!c.props[field] || e.Properties == nil) {
			// Nothing but the payload can decide it.
			if c.hasJS[field] {
				st.open |= 1 << field
			}
			continue
		}
		for p, l := range locs {
			var v string
			switch l.kind {
			case locHeader:
				if onePass {
					if h := hidx[l.idx]; h > 0 {
						v = unsafeString(e.Headers[h-1].Value)
					}
				} else if b, ok := e.Header(l.name); ok {
					v = unsafeString(b)
				}
			case locProp:
				v = propValue(e.Properties, l.name)
			case locJSON:
				// It ranks above any header after it: the field is open
				// until the payload settles it.
				st.open |= 1 << field
				continue
			}
			if v != "" {
				if !alias {
					v = strings.Clone(v)
				}
				hv[field], at[field] = v, p
				break
			}
		}
	}
	var js []member
	if st.open != 0 && looksLikeJSONObject(payload) {
		if !alias && esc == nil {
			// What the results alias must not be e's.
			payload = strings.Clone(payload)
		}
		var buf [16]member
		if len(c.paths) <= len(buf) {
			js = buf[:len(c.paths)]
		} else {
			js = make([]member, len(c.paths))
		}
		switch {
		case c.topLevel == nil:
			if esc != nil {
				return Fields{}, false
			}
			for i, r := range gjson.GetMany(payload, c.paths...) {
				js[i] = memberOf(r)
			}
		default:
			st.c, st.at = c, &at
			stop := &st
			if len(c.paths) > 64 {
				stop = nil
			}
			if !fastPayload || !topMembers(payload, c, js, stop, esc) {
				if esc != nil {
					return Fields{}, false
				}
				clear(js)
				found := 0
				gjson.Parse(payload).ForEach(func(k, v gjson.Result) bool {
					if i, ok := c.top(k.Str); ok && !js[i].found {
						js[i] = memberOf(v)
						found++
					}
					return found < len(js)
				})
			}
		}
	}
	// getAt returns a field's value and the position of its location.
	getAt := func(field int) (string, int) {
		if js != nil {
			locs := c.fields[field]
			for _, p := range c.jsonAt[field] {
				if p >= at[field] {
					break
				}
				if v := js[locs[p].idx].v; v != "" {
					return v, p
				}
			}
		}
		return hv[field], at[field]
	}
	get := func(field int) string { v, _ := getAt(field); return v }
	f = Fields{ID: get(0), Type: get(1), Correlation: get(2), Causation: get(3)}
	if t, p := getAt(4); t != "" {
		if ts, err := ParseTime(t); err == nil {
			l := &c.fields[4][p]
			f.OccurredAt, f.OccurredAtFrom, f.OccurredAtCoarse = ts, l.text, wholeSecond(l, t)
			if f.OccurredAtCoarse && len(c.fields[4]) > 1 {
				// A finer time elsewhere outranks a whole second: an AMQP
				// timestamp says 10:00:00 of an event at 10:00:00.950.
				if esc != nil {
					return Fields{}, false
				}
				if ts, from, ok := c.finerTime(e, payload, p); ok {
					f.OccurredAt, f.OccurredAtFrom, f.OccurredAtCoarse = ts, from, false
				}
			}
		}
	}
	if tp := get(5); tp != "" {
		f.TraceID, f.SpanID, _ = ParseTraceparent(tp)
	}
	return f, true
}

// wholeSecond reports whether the time t, found at l, is whole seconds: the
// AMQP timestamp property is (seconds since the epoch), and so is a time
// written without a fraction of a second.
func wholeSecond(l *loc, t string) bool {
	if l.kind == locProp {
		return true
	}
	return len(t) > 19 && t[19] != '.'
}

// finerTime returns the first occurred-at time, at a location other than
// the one at position skip, written with a fraction of a second, and its
// location.
func (c *compiledSchema) finerTime(e *Event, payload string, skip int) (time.Time, string, bool) {
	var root gjson.Result
	isJSON := looksLikeJSONObject(payload)
	if isJSON {
		root = gjson.Parse(payload)
	}
	for p := range c.fields[4] {
		l := &c.fields[4][p]
		if p == skip {
			continue
		}
		var v string
		switch l.kind {
		case locHeader:
			if b, ok := e.Header(l.name); ok {
				v = unsafeString(b)
			}
		case locProp:
			continue // whole seconds
		case locJSON:
			if !isJSON {
				continue
			}
			v = memberOf(root.Get(l.name)).v
		}
		if v == "" || wholeSecond(l, v) {
			continue
		}
		if ts, err := ParseTime(v); err == nil {
			return ts, l.text, true
		}
	}
	return time.Time{}, "", false
}

// member is a path found in a payload, and its value as a field takes it:
// a string's text, a number's or a boolean's (as gjson's Result.String
// writes them), "" for null, objects and arrays.
type member struct {
	v     string
	found bool
}

func memberOf(r gjson.Result) member {
	m := member{found: r.Exists()}
	if r.Type != gjson.Null && !r.IsObject() && !r.IsArray() {
		m.v = r.String()
	}
	return m
}

// stopper tells topMembers when the members found so far settle every field,
// so that the rest of the payload need not be read: a field is settled once
// the JSON paths that rank above its first non-empty header (at) are found,
// up to the first whose value it would take.
type stopper struct {
	c           *compiledSchema
	at          *[6]int
	found, good uint64 // by path index; good: usable and not empty
	open        uint8  // fields not settled yet
}

// settle records path k found (good, when its value would be taken) and
// reports whether every field is settled.
func (st *stopper) settle(k int, good bool) bool {
	bit := uint64(1) << k
	st.found |= bit
	if good {
		st.good |= bit
	}
	for fs := st.open & st.c.users[k]; fs != 0; fs &= fs - 1 {
		field := bits.TrailingZeros8(fs)
		settled := true
		locs := st.c.fields[field]
		for _, p := range st.c.jsonAt[field] {
			if p >= st.at[field] {
				break
			}
			if b := uint64(1) << locs[p].idx; st.found&b == 0 {
				settled = false
				break
			} else if st.good&b != 0 {
				break
			}
		}
		if settled {
			st.open &^= 1 << field
		}
	}
	return st.open == 0
}

func looksLikeJSONObject(s string) bool {
	i := skipWS(s, 0)
	return i < len(s) && s[i] == '{'
}

func propValue(p *Properties, name string) string {
	if p == nil {
		return ""
	}
	switch name {
	case "message_id":
		return p.MessageID
	case "correlation_id":
		return p.CorrelationID
	case "type":
		return p.Type
	case "app_id":
		return p.AppID
	case "content_type":
		return p.ContentType
	case "content_encoding":
		return p.ContentEncoding
	case "reply_to":
		return p.ReplyTo
	case "expiration":
		return p.Expiration
	case "user_id":
		return p.UserID
	case "timestamp":
		if !p.Timestamp.IsZero() {
			return FormatTime(p.Timestamp)
		}
	case "delivery_mode":
		if p.DeliveryMode != 0 {
			return fmt.Sprint(p.DeliveryMode)
		}
	case "priority":
		if p.Priority != 0 {
			return fmt.Sprint(p.Priority)
		}
	}
	return ""
}

// ParseTraceparent returns the trace and parent span ids of a W3C traceparent
// header ("00-<32 hex>-<16 hex>-<2 hex>"). An all-zero id is invalid.
func ParseTraceparent(tp string) (traceID, spanID string, ok bool) {
	if len(tp) != 55 {
		// Surrounding space, or a later version's extra fields.
		tp = strings.TrimSpace(tp)
		if len(tp) < 55 || tp[:2] == "00" && len(tp) != 55 {
			return "", "", false
		}
	}
	if tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] == "ff" {
		return "", "", false
	}
	if !lowerHexRun(tp[:2]) || !lowerHexRun(tp[53:55]) || !lowerHexRun(tp[3:35]) || !lowerHexRun(tp[36:52]) ||
		tp[3:35] == zeros[:32] || tp[36:52] == zeros[:16] {
		return "", "", false
	}
	return tp[3:35], tp[36:52], true
}

const zeros = "00000000000000000000000000000000"

// lowerHexRun reports whether s is all lower-case hex digits, eight at a
// time.
func lowerHexRun(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		digit := (w + lo8*(0x80-'0')) &^ (w + lo8*(0x7f-'9'))
		letter := (w + lo8*(0x80-'a')) &^ (w + lo8*(0x7f-'f'))
		// Bytes from 0x80 would carry into the next; they are not hex.
		if w&hi8 != 0 || (digit|letter)&hi8 != hi8 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if !lowerHex[s[i]] {
			return false
		}
	}
	return true
}

var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()
