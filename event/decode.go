package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

type wireEvent struct {
	V           *int            `json:"v"`
	Transport   string          `json:"transport"`
	Topic       string          `json:"topic"`
	Partition   int32           `json:"partition"`
	Offset      *int64          `json:"offset"`
	Timestamp   string          `json:"timestamp"`
	Key         json.RawMessage `json:"key"`
	KeyB64      *string         `json:"key_b64"`
	Value       json.RawMessage `json:"value"`
	ValueB64    *string         `json:"value_b64"`
	Headers     []wireHeader    `json:"headers"`
	Queue       string          `json:"queue"`
	Exchange    string          `json:"exchange"`
	RoutingKey  string          `json:"routing_key"`
	Redelivered bool            `json:"redelivered"`
	Properties  *wireProps      `json:"properties"`
	// A schema's decoding of the key and value (see appendDecoded).
	KeyDecoded   json.RawMessage `json:"key_decoded"`
	KeySchema    *wireSchema     `json:"key_schema"`
	ValueDecoded json.RawMessage `json:"value_decoded"`
	ValueSchema  *wireSchema     `json:"value_schema"`
}

// wireSchema is a key_schema or value_schema object: a SchemaRef, and the
// Fail word as "error".
type wireSchema struct {
	SchemaRef
	Error string `json:"error"`
}

type wireProps struct {
	Properties
	Timestamp string `json:"timestamp"`
}

type wireHeader struct {
	Key      string          `json:"key"`
	Type     string          `json:"type"`
	Value    json.RawMessage `json:"value"`
	ValueB64 *string         `json:"value_b64"`
}

// DecodeEnvelope parses one envelope line (without its newline) into an Event.
// Every error wraps ErrEnvelope and says which field is wrong.
func DecodeEnvelope(line []byte) (*Event, error) {
	// Captures are read at a million lines a second: a single pass over the
	// object does the common case; anything it is not sure of (a type
	// mismatch, invalid JSON) goes to the encoding/json decoder, which also
	// words the error.
	if e, ok := decodeFast(line); ok {
		return e, nil
	}
	return decodeEnvelopeJSON(line)
}

// decodeFast decodes a well-formed envelope with gjson; ok is false when the
// line needs the careful path.
func decodeFast(line []byte) (e *Event, ok bool) {
	if !gjson.ValidBytes(line) {
		return nil, false
	}
	root := gjson.ParseBytes(line)
	if !root.IsObject() {
		return nil, false
	}
	e = &Event{Offset: -1}
	ok = true
	version := int64(-1)
	var key, keyB64, value, valueB64 gjson.Result
	var keyDec, keySch, valueDec, valueSch gjson.Result
	str := func(r gjson.Result, dst *string) {
		if r.Type != gjson.String {
			ok = false
			return
		}
		*dst = r.Str
	}
	root.ForEach(func(k, r gjson.Result) bool {
		switch k.Str {
		case "v":
			n, err := strconv.ParseInt(r.Raw, 10, 64)
			if r.Type != gjson.Number || err != nil {
				ok = false
			}
			version = n
		case "transport":
			var t string
			str(r, &t)
			e.Transport = Transport(t)
		case "topic":
			str(r, &e.Topic)
		case "queue":
			str(r, &e.Queue)
		case "exchange":
			str(r, &e.Exchange)
		case "routing_key":
			str(r, &e.RoutingKey)
		case "partition":
			n, err := strconv.ParseInt(r.Raw, 10, 32)
			if r.Type != gjson.Number || err != nil {
				ok = false
			}
			e.Partition = int32(n)
		case "offset":
			n, err := strconv.ParseInt(r.Raw, 10, 64)
			if r.Type != gjson.Number || err != nil {
				ok = false
			}
			e.Offset = n
		case "timestamp":
			var ts string
			str(r, &ts)
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				ok = false
			}
			e.Timestamp = t
		case "redelivered":
			switch r.Type {
			case gjson.True:
				e.Redelivered = true
			case gjson.False:
			default:
				ok = false
			}
		case "key":
			key = r
		case "key_b64":
			keyB64 = r
		case "value":
			value = r
		case "value_b64":
			valueB64 = r
		case "key_decoded":
			keyDec = r
		case "key_schema":
			keySch = r
		case "value_decoded":
			valueDec = r
		case "value_schema":
			valueSch = r
		case "headers":
			if !r.IsArray() {
				ok = false
				break
			}
			r.ForEach(func(_, h gjson.Result) bool {
				if !h.IsObject() {
					ok = false
					return false
				}
				var hk, hv, hb gjson.Result
				h.ForEach(func(k, r gjson.Result) bool {
					switch k.Str {
					case "key":
						hk = r
					case "value":
						hv = r
					case "value_b64":
						hb = r
					case "type":
						ok = false // typed AMQP headers take the careful path
					}
					return ok
				})
				if !ok {
					return false
				}
				if hk.Type != gjson.String {
					ok = false
					return false
				}
				b, good := fastBytes(hv, hb)
				if !good {
					ok = false
					return false
				}
				e.Headers = append(e.Headers, Header{Key: hk.Str, Value: b})
				return true
			})
		case "properties":
			ok = false // AMQP properties: the careful path
		}
		return ok
	})
	if !ok || version != EnvelopeVersion || (e.Transport != Kafka && e.Transport != AMQP) {
		return nil, false
	}
	if e.Key, ok = fastBytes(key, keyB64); !ok {
		return nil, false
	}
	if e.Value, ok = fastBytes(value, valueB64); !ok {
		return nil, false
	}
	if e.KeyDecoded, ok = fastDecoded(keyDec, keySch); !ok {
		return nil, false
	}
	if e.ValueDecoded, ok = fastDecoded(valueDec, valueSch); !ok {
		return nil, false
	}
	return e, true
}

// fastDecoded reads a NAME_decoded member and its NAME_schema; nil when
// neither is there. ok is false when they are malformed.
func fastDecoded(js, sch gjson.Result) (*Decoded, bool) {
	hasJS := js.Exists() && js.Type != gjson.Null
	hasSch := sch.Exists() && sch.Type != gjson.Null
	if !hasJS && !hasSch {
		return nil, true
	}
	d := &Decoded{}
	if hasJS {
		d.JSON = []byte(js.Raw)
	}
	if hasSch && !schemaFrom(sch, d) {
		return nil, false
	}
	return d, true
}

// schemaFrom reads a NAME_schema object into d's Schema and Fail, as
// encoding/json would into a wireSchema (unknown members ignored); false
// when a member has the wrong type.
func schemaFrom(r gjson.Result, d *Decoded) bool {
	if !r.IsObject() {
		return false
	}
	ok := true
	r.ForEach(func(k, v gjson.Result) bool {
		var s *string
		var n *int
		switch k.Str {
		case "format":
			s = &d.Schema.Format
		case "subject":
			s = &d.Schema.Subject
		case "message":
			s = &d.Schema.Message
		case "file":
			s = &d.Schema.File
		case "error":
			s = &d.Fail
		case "id":
			n = &d.Schema.ID
		case "version":
			n = &d.Schema.Version
		default:
			return true
		}
		switch {
		case v.Type == gjson.Null:
			// encoding/json leaves the field as it was.
		case s != nil && v.Type == gjson.String:
			// encoding/json makes invalid UTF-8 U+FFFD: its path decides.
			ok = utf8.ValidString(v.Str)
			*s = v.Str
		case n != nil && v.Type == gjson.Number:
			x, err := strconv.ParseInt(v.Raw, 10, strconv.IntSize)
			if err != nil {
				ok = false
			}
			*n = int(x)
		default:
			ok = false
		}
		return ok
	})
	return ok
}

// fastBytes decodes a byte field and its _b64 twin; ok is false when they are
// malformed (the careful path then words the error).
func fastBytes(plain, b64 gjson.Result) ([]byte, bool) {
	if b64.Exists() {
		if b64.Type != gjson.String || (plain.Exists() && plain.Type != gjson.Null) {
			return nil, false
		}
		b, err := base64.StdEncoding.DecodeString(b64.Str)
		if err != nil {
			return nil, false
		}
		if b == nil {
			b = []byte{}
		}
		return b, true
	}
	switch plain.Type {
	case gjson.Null:
		return nil, true // absent or null
	case gjson.String:
		return []byte(plain.Str), true
	}
	return nil, false
}

func decodeEnvelopeJSON(line []byte) (*Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, jsonErr(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value on the line", ErrEnvelope)
	}
	if w.V == nil {
		return nil, fmt.Errorf("%w: no \"v\" field (is this an eddy capture?)", ErrEnvelope)
	}
	if *w.V != EnvelopeVersion {
		return nil, fmt.Errorf("%w: version %d, this eddy reads version %d", ErrEnvelope, *w.V, EnvelopeVersion)
	}
	e := &Event{Transport: Transport(w.Transport), Topic: w.Topic, Partition: w.Partition, Offset: -1,
		Queue: w.Queue, Exchange: w.Exchange, RoutingKey: w.RoutingKey, Redelivered: w.Redelivered}
	switch e.Transport {
	case Kafka, AMQP:
	default:
		return nil, fmt.Errorf("%w: transport %q (want \"kafka\" or \"amqp\")", ErrEnvelope, w.Transport)
	}
	if w.Offset != nil {
		e.Offset = *w.Offset
	}
	var err error
	if w.Timestamp != "" {
		if e.Timestamp, err = time.Parse(time.RFC3339Nano, w.Timestamp); err != nil {
			return nil, fmt.Errorf("%w: timestamp %q is not RFC 3339", ErrEnvelope, w.Timestamp)
		}
	}
	if e.Key, err = bytesField("key", w.Key, w.KeyB64); err != nil {
		return nil, err
	}
	if e.Value, err = bytesField("value", w.Value, w.ValueB64); err != nil {
		return nil, err
	}
	e.KeyDecoded = decodedField(w.KeyDecoded, w.KeySchema)
	e.ValueDecoded = decodedField(w.ValueDecoded, w.ValueSchema)
	if len(w.Headers) > 0 {
		e.Headers = make([]Header, len(w.Headers))
		for i, wh := range w.Headers {
			h := Header{Key: wh.Key}
			if wh.Type == "" {
				if h.Value, err = bytesField("headers["+strconv.Itoa(i)+"].value", wh.Value, wh.ValueB64); err != nil {
					return nil, err
				}
			} else {
				if h.Typed, err = typedValue(wh.Type, wh.Value, wh.ValueB64); err != nil {
					return nil, fmt.Errorf("%w: headers[%d] (%q): %v", ErrEnvelope, i, wh.Key, err)
				}
				h.Value = TypedText(h.Typed)
			}
			e.Headers[i] = h
		}
	}
	if w.Properties != nil {
		p := w.Properties.Properties
		if w.Properties.Timestamp != "" {
			if p.Timestamp, err = time.Parse(time.RFC3339Nano, w.Properties.Timestamp); err != nil {
				return nil, fmt.Errorf("%w: properties.timestamp %q is not RFC 3339", ErrEnvelope, w.Properties.Timestamp)
			}
		}
		e.Properties = &p
	}
	return e, nil
}

// decodedField builds a Decoded from a NAME_decoded member and its
// NAME_schema; nil when neither is there.
func decodedField(js json.RawMessage, sch *wireSchema) *Decoded {
	hasJS := len(js) > 0 && string(js) != "null"
	if !hasJS && sch == nil {
		return nil
	}
	d := &Decoded{}
	if hasJS {
		d.JSON = []byte(js)
	}
	if sch != nil {
		d.Schema, d.Fail = sch.SchemaRef, sch.Error
	}
	return d
}

func jsonErr(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("not JSON at byte %d: %v", e.Offset, e)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q: want %s, have %s", e.Field, e.Type, e.Value)
	}
	return err.Error()
}

// bytesField decodes a byte field that is either a JSON string (UTF-8 text), JSON
// null, or absent with its _b64 twin present.
func bytesField(name string, raw json.RawMessage, b64 *string) ([]byte, error) {
	if b64 != nil {
		if len(raw) > 0 && string(raw) != "null" {
			return nil, fmt.Errorf("%w: both %s and %s_b64", ErrEnvelope, name, name)
		}
		b, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s_b64 is not standard base64", ErrEnvelope, name)
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %s must be a string or null", ErrEnvelope, name)
	}
	return []byte(s), nil
}

func typedValue(typ string, raw json.RawMessage, b64 *string) (any, error) {
	switch typ {
	case "string":
		b, err := bytesField("value", raw, b64)
		return string(b), err
	case "bytes":
		b, err := bytesField("value", raw, b64)
		if b == nil {
			b = []byte{}
		}
		return b, err
	case "void":
		return Void{}, nil
	case "bool":
		var v bool
		err := json.Unmarshal(raw, &v)
		return v, err
	case "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32":
		return typedInt(typ, raw)
	case "float32", "float64":
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, fmt.Errorf("%s value %s", typ, raw)
			}
			var perr error
			if f, perr = strconv.ParseFloat(s, 64); perr != nil {
				return nil, fmt.Errorf("%s value %s", typ, raw)
			}
		}
		if typ == "float32" {
			return float32(f), nil
		}
		return f, nil
	case "decimal":
		var d struct {
			Scale uint8 `json:"scale"`
			Value int32 `json:"value"`
		}
		err := json.Unmarshal(raw, &d)
		return Decimal{Scale: d.Scale, Value: d.Value}, err
	case "timestamp":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return time.Parse(time.RFC3339Nano, s)
	case "table":
		var m map[string]wireHeader
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, n := range m {
			v, err := typedValue(n.Type, n.Value, n.ValueB64)
			if err != nil {
				return nil, fmt.Errorf("table field %q: %v", k, err)
			}
			out[k] = v
		}
		return out, nil
	case "array":
		var l []wireHeader
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		out := make([]any, len(l))
		for i, n := range l {
			v, err := typedValue(n.Type, n.Value, n.ValueB64)
			if err != nil {
				return nil, fmt.Errorf("array element %d: %v", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

func typedInt(typ string, raw json.RawMessage) (any, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("%s value %s", typ, raw)
	}
	bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32}[typ]
	if typ[0] == 'u' {
		u, err := strconv.ParseUint(n.String(), 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s value %s out of range", typ, n)
		}
		switch bits {
		case 8:
			return uint8(u), nil
		case 16:
			return uint16(u), nil
		}
		return uint32(u), nil
	}
	i, err := strconv.ParseInt(n.String(), 10, bits)
	if err != nil {
		return nil, fmt.Errorf("%s value %s out of range", typ, n)
	}
	switch bits {
	case 8:
		return int8(i), nil
	case 16:
		return int16(i), nil
	case 32:
		return int32(i), nil
	}
	return i, nil
}

// TypedText renders an AMQP field value as text, for Header.Value: strings and
// bytes as themselves, numbers and booleans as Go prints them, timestamps in RFC
// 3339, decimals as decimal numbers, and tables and arrays as JSON of their plain
// values (x-death reads as a JSON list of objects).
func TypedText(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case []byte:
		return x
	case time.Time:
		return []byte(FormatTime(x))
	case Decimal:
		return []byte(decimalString(x))
	case Void, nil:
		return []byte{}
	case map[string]any, []any:
		b, err := json.Marshal(plain(x))
		if err != nil {
			return []byte(fmt.Sprint(x))
		}
		return b
	case float32:
		return []byte(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case float64:
		return []byte(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return []byte(fmt.Sprint(v))
}

// plain turns an AMQP value tree into values encoding/json renders naturally.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = plain(v)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = plain(v)
		}
		return l
	case []byte:
		return string(x)
	case time.Time:
		return FormatTime(x)
	case Decimal:
		return json.Number(decimalString(x))
	case Void:
		return nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
	}
	return v
}

// Plain returns v (an AMQP field value, or a Header's Typed) as plain Go values
// for expression filters and templates: tables become map[string]any, arrays
// []any, bytes strings, timestamps RFC 3339 strings.
func Plain(v any) any { return plain(v) }

func decimalString(d Decimal) string {
	s := strconv.FormatInt(int64(d.Value), 10)
	if d.Scale == 0 {
		return s
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	for len(s) <= int(d.Scale) {
		s = "0" + s
	}
	s = s[:len(s)-int(d.Scale)] + "." + s[len(s)-int(d.Scale):]
	if neg {
		s = "-" + s
	}
	return s
}
