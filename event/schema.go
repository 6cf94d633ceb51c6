package event

import (
	"bytes"
	"fmt"
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
	json int // index into compiledSchema.paths for locJSON
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
	// dozen is cheaper by comparing than by hashing it.
	byLen [][]int
}

// top returns the index of the top-level path k.
func (c *compiledSchema) top(k string) (int, bool) {
	if len(k) >= len(c.byLen) {
		return 0, false
	}
	for _, i := range c.byLen[len(k)] {
		if c.paths[i] == k {
			return i, true
		}
	}
	return 0, false
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
				c.fields[i] = append(c.fields[i], loc{kind: locHeader, name: name})
			case "property", "prop":
				if !propNames[name] {
					return fmt.Errorf("schema location %q: unknown AMQP property %q", l, name)
				}
				c.fields[i] = append(c.fields[i], loc{kind: locProp, name: name})
			case "json":
				idx, seen := pathIdx[name]
				if !seen {
					idx = len(c.paths)
					pathIdx[name] = idx
					c.paths = append(c.paths, name)
				}
				c.fields[i] = append(c.fields[i], loc{kind: locJSON, name: name, json: idx})
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
	if c.topLevel != nil {
		for i, p := range c.paths {
			for len(c.byLen) <= len(p) {
				c.byLen = append(c.byLen, nil)
			}
			c.byLen[len(p)] = append(c.byLen[len(p)], i)
		}
	}
	s.compiled = c
	return nil
}

// Extract derives e's Fields. It never fails: a field whose locations are all
// absent, or an unparsable time, is left empty.
func (s *Schema) Extract(e *Event) Fields { return s.extract(e, false) }

// ExtractAliased is Extract without copying: the strings of the Fields alias
// e's header values and payload, and are valid only while those bytes are
// unchanged. For hot loops that copy what they keep (the trace correlator).
func (s *Schema) ExtractAliased(e *Event) Fields { return s.extract(e, true) }

func (s *Schema) extract(e *Event, alias bool) Fields {
	if s.compiled == nil {
		if err := s.Compile(); err != nil {
			return Fields{}
		}
	}
	c := s.compiled
	var js []gjson.Result
	if len(c.paths) > 0 && looksLikeJSONObject(e.Value) {
		if c.topLevel != nil {
			var buf [16]gjson.Result
			if len(c.paths) <= len(buf) {
				js = buf[:len(c.paths)]
			} else {
				js = make([]gjson.Result, len(c.paths))
			}
			var payload string
			if alias {
				payload = unsafeString(e.Value)
			} else {
				payload = string(e.Value)
			}
			if !fastPayload || !topMembers(payload, c, js) {
				clear(js)
				found := 0
				gjson.Parse(payload).ForEach(func(k, v gjson.Result) bool {
					if i, ok := c.top(k.Str); ok && !js[i].Exists() {
						js[i] = v
						found++
					}
					return found < len(js)
				})
			}
		} else {
			if alias {
				js = gjson.GetMany(unsafeString(e.Value), c.paths...)
			} else {
				js = gjson.GetManyBytes(e.Value, c.paths...)
			}
		}
	}
	get := func(field int) string {
		for _, l := range c.fields[field] {
			var v string
			switch l.kind {
			case locHeader:
				if b, ok := e.Header(l.name); ok {
					if alias {
						v = unsafeString(b)
					} else {
						v = string(b)
					}
				}
			case locProp:
				v = propValue(e.Properties, l.name)
			case locJSON:
				if js != nil {
					if r := js[l.json]; r.Exists() && r.Type != gjson.Null && !r.IsObject() && !r.IsArray() {
						v = r.String()
					}
				}
			}
			if v != "" {
				return v
			}
		}
		return ""
	}
	f := Fields{ID: get(0), Type: get(1), Correlation: get(2), Causation: get(3)}
	if t := get(4); t != "" {
		if ts, err := ParseTime(t); err == nil {
			f.OccurredAt = ts
		}
	}
	if tp := get(5); tp != "" {
		f.TraceID, f.SpanID, _ = ParseTraceparent(tp)
	}
	return f
}

func looksLikeJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
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
	tp = strings.TrimSpace(tp)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return "", "", false
	}
	if tp[:2] == "ff" || !isLowerHex(tp[:2]) || !isLowerHex(tp[3:35]) || !isLowerHex(tp[36:52]) || !isLowerHex(tp[53:55]) {
		return "", "", false
	}
	// Version 00 is exactly 55 bytes; later versions may append fields.
	if tp[:2] == "00" && len(tp) != 55 {
		return "", "", false
	}
	if strings.Trim(tp[3:35], "0") == "" || strings.Trim(tp[36:52], "0") == "" {
		return "", "", false
	}
	return tp[3:35], tp[36:52], true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
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
