package event

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"slices"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Decoder decodes envelope lines as DecodeEnvelope does, without allocating
// for the lines eddy itself writes: a specialised scanner reads the fields of
// envelope version 1 in one pass, and anything it is not sure of (an unknown
// or repeated key, whitespace, a number it would have to interpret, invalid
// UTF-8, an escape it does not reproduce exactly, AMQP typed headers or
// properties) goes to DecodeEnvelope, so it is never less correct.
//
// The Event it returns is the Decoder's own: the struct, its Headers and its
// KeyDecoded and ValueDecoded (whose JSON is the line's text) are
// overwritten by the next Decode, and its strings and byte slices alias the
// line and the Decoder's buffer, which Reset recycles. Copy what must outlive
// them. A Decoder is not safe for concurrent use.
type Decoder struct {
	ev   Event
	hdrs []Header
	// buf holds unescaped strings and decoded base64. It only grows until
	// Reset, so that what earlier lines alias stays intact.
	buf []byte
	// raw, after a lazy scan, is the value's text as the line has it (its
	// only escapes \"), which DecodeFields reads instead of unescaping it;
	// nil when the value was decoded as usual. rawOff is where it starts.
	raw    []byte
	rawOff int
	// kdec and vdec are the Event's KeyDecoded and ValueDecoded when the
	// line has them (hasK, hasV): the Decoder's own, like the Event.
	kdec, vdec Decoded
	hasK, hasV bool
}

// Reset recycles the Decoder's buffer: every Event decoded before, and what
// it aliases, must no longer be used.
func (d *Decoder) Reset() { d.buf = d.buf[:0] }

// Decode decodes one envelope line (without its newline).
func (d *Decoder) Decode(line []byte) (*Event, error) {
	if d.scan(line, false) {
		return &d.ev, nil
	}
	return DecodeEnvelope(line)
}

// DecodeFields decodes one envelope line as Decode does and extracts s's
// Fields from it as s.ExtractAliased would, for readers that want the fields
// and not the payload (the trace correlator). A JSON payload is mostly
// quotes, each escaped in the envelope; when the only escapes of the value
// are those (\"), the fields are read from the line as it is, which saves
// unescaping the payload, and the Event's Value is then nil. Anything the
// escaped text does not settle (a payload that is not a JSON object, or
// that the one-pass scan of ExtractAliased would leave to gjson) is
// unescaped and extracted as usual, so the Fields are always those of
// Decode followed by ExtractAliased. A line with value_decoded (a schema's
// JSON of the value, which the line holds as JSON) is read there, and the
// value's text is not unescaped at all.
func (d *Decoder) DecodeFields(line []byte, s *Schema) (*Event, Fields, error) {
	if !d.scan(line, true) {
		e, err := DecodeEnvelope(line)
		if err != nil {
			return nil, Fields{}, err
		}
		return e, s.ExtractAliased(e), nil
	}
	e := &d.ev
	if d.raw == nil || e.ValueDecoded != nil && e.ValueDecoded.JSON != nil {
		// The fields are in the decoded JSON, which the line has as it is.
		return e, s.ExtractAliased(e), nil
	}
	esc := escText{base: d.rawOff}
	if f, ok := s.extractEscaped(e, unsafeString(d.raw), &esc); ok {
		return e, f, nil
	}
	start := len(d.buf)
	d.buf = appendUnquoted(d.buf, d.raw)
	e.Value = d.tail(start)
	return e, s.ExtractAliased(e), nil
}

// appendUnquoted appends the JSON string text raw, whose only escapes are
// \" (quotedOnly said so), unescaped.
func appendUnquoted(dst, raw []byte) []byte {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i+1:] // the quote after it stays
	}
}

// Bits of the envelope's keys, to refuse a repeated key (encoding/json would
// keep the last; the careful path decides).
const (
	kV = 1 << iota
	kTransport
	kTopic
	kPartition
	kOffset
	kTimestamp
	kKey
	kKeyB64
	kValue
	kValueB64
	kHeaders
	kQueue
	kExchange
	kRoutingKey
	kRedelivered
	kKeyDecoded
	kKeySchema
	kValueDecoded
	kValueSchema
)

// scan is the fast path; false means "not sure", never "invalid". lazy
// leaves a value whose only escapes are \" as it is, in d.raw (the Event's
// Value nil), for DecodeFields.
func (d *Decoder) scan(line []byte, lazy bool) bool {
	n := len(line)
	if n < 2 || line[0] != '{' || line[n-1] != '}' {
		return false
	}
	e := &d.ev
	*e = Event{Offset: -1}
	d.hdrs = d.hdrs[:0]
	d.hasK, d.hasV = false, false
	mark := len(d.buf)
	d.raw = nil
	if !noCanonical && d.canonical(line, lazy) {
		return true
	}
	*e = Event{Offset: -1}
	d.hdrs = d.hdrs[:0]
	d.hasK, d.hasV = false, false
	var seen uint32
	var key, keyB64, value, valueB64 span
	i := 1
	for {
		// "name":
		if i >= n || line[i] != '"' {
			return d.fail(mark)
		}
		ks, ke, ok := d.plainKey(line, i)
		if !ok || ke+1 >= n || line[ke+1] != ':' {
			return d.fail(mark)
		}
		name := line[ks:ke]
		i = ke + 2
		if i >= n {
			return d.fail(mark)
		}
		var bit uint32
		switch string(name) {
		case "v":
			bit = kV
			v, j, ok := scanInt(line, i, 64)
			if !ok || v != EnvelopeVersion {
				return d.fail(mark)
			}
			i = j
		case "transport":
			bit = kTransport
			s, j, ok := d.str(line, i)
			if !ok {
				return d.fail(mark)
			}
			switch string(s) {
			case "kafka":
				e.Transport = Kafka
			case "amqp":
				e.Transport = AMQP
			default:
				return d.fail(mark)
			}
			i = j
		case "topic", "queue", "exchange", "routing_key":
			s, j, ok := d.str(line, i)
			if !ok {
				return d.fail(mark)
			}
			switch name[0] {
			case 't':
				bit, e.Topic = kTopic, unsafeString(s)
			case 'q':
				bit, e.Queue = kQueue, unsafeString(s)
			case 'e':
				bit, e.Exchange = kExchange, unsafeString(s)
			default:
				bit, e.RoutingKey = kRoutingKey, unsafeString(s)
			}
			i = j
		case "partition":
			bit = kPartition
			v, j, ok := scanInt(line, i, 32)
			if !ok {
				return d.fail(mark)
			}
			e.Partition, i = int32(v), j
		case "offset":
			bit = kOffset
			v, j, ok := scanInt(line, i, 64)
			if !ok {
				return d.fail(mark)
			}
			e.Offset, i = v, j
		case "timestamp":
			bit = kTimestamp
			t, j, ok := d.timestamp(line, i)
			if !ok {
				return d.fail(mark)
			}
			e.Timestamp, i = t, j
		case "redelivered":
			bit = kRedelivered
			switch {
			case hasPrefixAt(line, i, "true"):
				e.Redelivered, i = true, i+4
			case hasPrefixAt(line, i, "false"):
				i += 5
			default:
				return d.fail(mark)
			}
		case "key", "value", "key_b64", "value_b64":
			sp, j, ok := d.bytesValue(line, i, string(name), lazy)
			if !ok {
				return d.fail(mark)
			}
			switch string(name) {
			case "key":
				bit, key = kKey, sp
			case "value":
				bit, value = kValue, sp
			case "key_b64":
				bit, keyB64 = kKeyB64, sp
			default:
				bit, valueB64 = kValueB64, sp
			}
			i = j
		case "key_decoded", "value_decoded", "key_schema", "value_schema":
			isKey := name[0] == 'k'
			var j int
			var ok bool
			if name[len(name)-1] == 'd' {
				bit = kValueDecoded
				if isKey {
					bit = kKeyDecoded
				}
				j, ok = d.decodedJSON(line, i, isKey)
			} else {
				bit = kValueSchema
				if isKey {
					bit = kKeySchema
				}
				j, ok = d.decodedSchema(line, i, isKey)
			}
			if !ok {
				return d.fail(mark)
			}
			i = j
		case "headers":
			bit = kHeaders
			j, ok := d.headers(line, i)
			if !ok {
				return d.fail(mark)
			}
			i = j
		default:
			// properties, typed headers' tables, or a key eddy does not
			// write: the careful path.
			return d.fail(mark)
		}
		if seen&bit != 0 {
			return d.fail(mark)
		}
		seen |= bit
		if i >= n {
			return d.fail(mark)
		}
		if line[i] == '}' {
			if i != n-1 {
				return d.fail(mark)
			}
			break
		}
		if line[i] != ',' {
			return d.fail(mark)
		}
		i++
	}
	if seen&kV == 0 || seen&kTransport == 0 {
		return d.fail(mark)
	}
	var ok bool
	if e.Key, ok = d.bytesField(key, keyB64, seen&kKey != 0, seen&kKeyB64 != 0); !ok {
		return d.fail(mark)
	}
	if e.Value, ok = d.bytesField(value, valueB64, seen&kValue != 0, seen&kValueB64 != 0); !ok {
		return d.fail(mark)
	}
	if value.raw != nil && seen&kValueB64 == 0 {
		d.raw = value.raw
	}
	if len(d.hdrs) > 0 {
		e.Headers = d.hdrs
	}
	d.setDecoded()
	return true
}

// setDecoded points the Event at the decodings the line had.
func (d *Decoder) setDecoded() {
	if d.hasK {
		d.ev.KeyDecoded = &d.kdec
	}
	if d.hasV {
		d.ev.ValueDecoded = &d.vdec
	}
}

// decoded returns the Decoded a key_… or value_… member fills, made
// present (and zero) by the first of them.
func (d *Decoder) decoded(isKey bool) *Decoded {
	has, dec := &d.hasV, &d.vdec
	if isKey {
		has, dec = &d.hasK, &d.kdec
	}
	if !*has {
		*has, *dec = true, Decoded{}
	}
	return dec
}

// decodedJSON reads a key_decoded or value_decoded member's value at
// line[i]: JSON, kept as the line has it (the Decoded aliases the line);
// null is none.
func (d *Decoder) decodedJSON(line []byte, i int, isKey bool) (int, bool) {
	j, ok := skipJSON(line, i)
	if !ok {
		return 0, false
	}
	if string(line[i:j]) == "null" {
		// As encoding/json has it: no JSON, and nothing decoded unless
		// the schema member says so.
		return j, true
	}
	d.decoded(isKey).JSON = line[i:j:j]
	return j, true
}

// decodedSchema reads a key_schema or value_schema member's value at
// line[i] (see schemaFrom).
func (d *Decoder) decodedSchema(line []byte, i int, isKey bool) (int, bool) {
	j, ok := skipJSON(line, i)
	if !ok {
		return 0, false
	}
	if string(line[i:j]) == "null" {
		return j, true
	}
	return j, schemaFrom(gjson.Parse(unsafeString(line[i:j])), d.decoded(isKey))
}

// decodedMembers reads the ,"NAME_decoded":… and ,"NAME_schema":…
// members that may follow a key or value at line[i], in the order
// AppendEnvelope writes them.
func (d *Decoder) decodedMembers(line []byte, i int, isKey bool) (int, bool) {
	pd, ps := `,"value_decoded":`, `,"value_schema":`
	if isKey {
		pd, ps = `,"key_decoded":`, `,"key_schema":`
	}
	var ok bool
	if hasPrefixAt(line, i, pd) {
		if i, ok = d.decodedJSON(line, i+len(pd), isKey); !ok {
			return 0, false
		}
	}
	if hasPrefixAt(line, i, ps) {
		if i, ok = d.decodedSchema(line, i+len(ps), isKey); !ok {
			return 0, false
		}
	}
	return i, true
}

// skipJSON returns the end of the JSON value at line[i], which must be
// valid JSON (checked, so that the fast path accepts no line the careful
// one refuses): an object or array to its matching bracket, anything else
// to the next comma or closing brace outside strings.
func skipJSON(line []byte, i int) (int, bool) {
	depth := 0
	j := i
	for ; j < len(line); j++ {
		switch line[j] {
		case '"':
			for j++; ; j++ {
				k := bytes.IndexByte(line[j:], '"')
				if k < 0 {
					return 0, false
				}
				j += k
				bs := 0
				for bs < j-i && line[j-1-bs] == '\\' {
					bs++
				}
				if bs%2 == 0 {
					break
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				goto end
			}
			depth--
			if depth == 0 {
				j++
				goto end
			}
		case ',':
			if depth == 0 {
				goto end
			}
		}
	}
end:
	if j == i || depth != 0 || !gjson.ValidBytes(line[i:j]) {
		return 0, false
	}
	return j, true
}

// bytesValue reads the value of a key, value, key_b64 or value_b64 member
// at line[i]: a string, or null; lazy leaves a value whose only escapes are
// \" as it is (span.raw).
func (d *Decoder) bytesValue(line []byte, i int, name string, lazy bool) (sp span, j int, ok bool) {
	if hasPrefixAt(line, i, "null") {
		// A null _b64 twin: the careful path.
		return span{null: true}, i + 4, name == "key" || name == "value"
	}
	if lazy && name == "value" {
		var esc bool
		j, esc, ok = d.quotedOnly(line, i)
		switch {
		case !ok:
			// Other escapes, or not a string: decoded as usual.
		case esc:
			d.rawOff = i + 1
			return span{raw: line[i+1 : j-1 : j-1]}, j, true
		case j-1 > i+1:
			return span{b: line[i+1 : j-1 : j-1]}, j, true
		default:
			return span{}, j, true
		}
	}
	s, j, ok := d.str(line, i)
	return span{b: s}, j, ok
}

// timestamp reads the timestamp member's value at line[i]: an RFC 3339
// string, or "" for none.
func (d *Decoder) timestamp(line []byte, i int) (time.Time, int, bool) {
	s, j, ok := d.str(line, i)
	if !ok || len(s) == 0 {
		return time.Time{}, j, ok
	}
	t, err := ParseTime(unsafeString(s))
	return t, j, err == nil
}

// noCanonical switches canonical off, for tests of the general scan.
var noCanonical bool

// canonical reads a Kafka envelope laid out as AppendEnvelope writes it —
// its keys in their order, key and value strings or null — checking each
// key by its known text rather than reading and looking it up. It is scan's
// first try; false (nothing is kept) leaves the line to the general loop.
func (d *Decoder) canonical(line []byte, lazy bool) bool {
	const head = `{"v":1,"transport":"kafka","topic":`
	e := &d.ev
	mark := len(d.buf)
	if !hasPrefixAt(line, 0, head) {
		return false
	}
	i := len(head)
	s, i, ok := d.str(line, i)
	if !ok || !hasPrefixAt(line, i, `,"partition":`) {
		return d.fail(mark)
	}
	e.Topic = unsafeString(s)
	p, i, ok := scanInt(line, i+13, 32)
	if !ok || !hasPrefixAt(line, i, `,"offset":`) {
		return d.fail(mark)
	}
	e.Partition = int32(p)
	if e.Offset, i, ok = scanInt(line, i+10, 64); !ok {
		return d.fail(mark)
	}
	if hasPrefixAt(line, i, `,"timestamp":`) {
		if e.Timestamp, i, ok = d.timestamp(line, i+13); !ok {
			return d.fail(mark)
		}
	}
	// Binary keys and values (Avro, Protobuf) are base64.
	keyB64 := hasPrefixAt(line, i, `,"key_b64":`)
	var key span
	switch {
	case keyB64:
		key, i, ok = d.bytesValue(line, i+11, "key_b64", false)
	case hasPrefixAt(line, i, `,"key":`):
		key, i, ok = d.bytesValue(line, i+7, "key", false)
	default:
		return d.fail(mark)
	}
	if ok {
		i, ok = d.decodedMembers(line, i, true)
	}
	if !ok || !hasPrefixAt(line, i, `,"headers":`) {
		return d.fail(mark)
	}
	if i, ok = d.headers(line, i+11); !ok {
		return d.fail(mark)
	}
	valueB64 := hasPrefixAt(line, i, `,"value_b64":`)
	var value span
	switch {
	case valueB64:
		value, i, ok = d.bytesValue(line, i+13, "value_b64", false)
	case hasPrefixAt(line, i, `,"value":`):
		value, i, ok = d.bytesValue(line, i+9, "value", lazy)
	default:
		return d.fail(mark)
	}
	if ok {
		i, ok = d.decodedMembers(line, i, false)
	}
	if !ok || i != len(line)-1 {
		return d.fail(mark)
	}
	e.Transport = Kafka
	if keyB64 {
		e.Key, ok = d.bytesField(span{}, key, false, true)
	} else {
		e.Key, _ = d.bytesField(key, span{}, true, false)
	}
	if !ok {
		return d.fail(mark)
	}
	if valueB64 {
		e.Value, ok = d.bytesField(span{}, value, false, true)
	} else {
		e.Value, _ = d.bytesField(value, span{}, true, false)
	}
	if !ok {
		return d.fail(mark)
	}
	if len(d.hdrs) > 0 {
		e.Headers = d.hdrs
	}
	d.raw = value.raw
	d.setDecoded()
	return true
}

// tail returns what was appended to d.buf since start, never nil (decoded
// base64 is empty, not absent).
func (d *Decoder) tail(start int) []byte {
	if len(d.buf) == start {
		return []byte{}
	}
	return d.buf[start:len(d.buf):len(d.buf)]
}

func (d *Decoder) fail(mark int) bool {
	d.buf = d.buf[:mark]
	d.raw = nil
	d.hasK, d.hasV = false, false
	return false
}

// span is a byte field's raw value: decoded string bytes, or JSON null, or
// (raw, a lazy scan's value) a string's text left escaped.
type span struct {
	b    []byte
	raw  []byte
	null bool
}

// bytesField mirrors bytesField of the careful path: a string, null or
// absent, or its _b64 twin (refused when both are set).
func (d *Decoder) bytesField(plain, b64 span, hasPlain, hasB64 bool) ([]byte, bool) {
	if hasB64 {
		if hasPlain && !plain.null {
			return nil, false
		}
		start := len(d.buf)
		var err error
		d.buf, err = base64.StdEncoding.AppendDecode(d.buf, b64.b)
		if err != nil {
			return nil, false
		}
		return d.tail(start), true
	}
	if !hasPlain || plain.null || plain.raw != nil {
		return nil, true
	}
	if plain.b == nil {
		return []byte{}, true
	}
	return plain.b, true
}

// headers reads [{"key":…,"value":…},…] from line[i]; typed (AMQP) headers
// are for the careful path.
func (d *Decoder) headers(line []byte, i int) (int, bool) {
	n := len(line)
	if i >= n || line[i] != '[' {
		return 0, false
	}
	i++
	if i < n && line[i] == ']' {
		return i + 1, true
	}
	for {
		if !hasPrefixAt(line, i, `{"key":`) {
			return 0, false
		}
		k, j, ok := d.str(line, i+7)
		if !ok {
			return 0, false
		}
		i = j
		h := Header{Key: unsafeString(k)}
		switch {
		case hasPrefixAt(line, i, `,"value":null}`):
			i += 14
		case hasPrefixAt(line, i, `,"value":"`):
			v, j, ok := d.str(line, i+9)
			if !ok || j >= n || line[j] != '}' {
				return 0, false
			}
			if v == nil {
				v = []byte{}
			}
			h.Value, i = v, j+1
		case hasPrefixAt(line, i, `,"value_b64":"`):
			v, j, ok := d.str(line, i+13)
			if !ok || j >= n || line[j] != '}' {
				return 0, false
			}
			start := len(d.buf)
			var err error
			if d.buf, err = base64.StdEncoding.AppendDecode(d.buf, v); err != nil {
				return 0, false
			}
			h.Value, i = d.tail(start), j+1
		case hasPrefixAt(line, i, `}`):
			i++ // no value at all: nil, as the careful path has it
		default:
			return 0, false
		}
		d.hdrs = append(d.hdrs, h)
		if i >= n {
			return 0, false
		}
		switch line[i] {
		case ']':
			return i + 1, true
		case ',':
			i++
		default:
			return 0, false
		}
	}
}

// plainKey finds an object key at line[i] (the opening quote) that has no
// escapes and is ASCII: every key of the envelope is. It returns the bounds of
// the key's bytes.
func (d *Decoder) plainKey(line []byte, i int) (start, end int, ok bool) {
	for j := i + 1; j < len(line) && j < i+16; j++ {
		c := line[j]
		if c == '"' {
			return i + 1, j, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// str reads the JSON string at line[i] (which must be its opening quote) and
// returns its bytes (nil for ""), and the index after its closing quote. The
// bytes alias line when the string has no escapes, else d.buf. ok is false for
// anything encoding/json might decode differently: control characters,
// invalid UTF-8 (which it replaces with U+FFFD) and surrogate escapes.
func (d *Decoder) str(line []byte, i int) (s []byte, end int, ok bool) {
	n := len(line)
	if i >= n || line[i] != '"' {
		return nil, 0, false
	}
	start := i + 1
	ascii := true
	for j := nextSpecial(line, start); j < n; j = nextSpecial(line, j+1) {
		c := line[j]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(line[start:j]) {
				return nil, 0, false
			}
			if j == start {
				return nil, j + 1, true
			}
			return line[start:j:j], j + 1, true
		case c == '\\':
			return d.unescape(line, start, j, ascii)
		case c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// nextSpecial returns the index of the first byte from i that is a quote, a
// backslash, a control character or not ASCII, or len(b); eight bytes at a
// time.
func nextSpecial(b []byte, i int) int {
	n := len(b)
	for i+8 <= n {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < n {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return i
		}
		i++
	}
	return n
}

// special returns a mask with the high bit set in each byte of w that is a
// quote, a backslash, a control character or not ASCII (and possibly in
// bytes after the first such byte, which do not matter).
func special(w uint64) uint64 {
	quote := w ^ (lo8 * '"')
	bslash := w ^ (lo8 * '\\')
	zero := func(v uint64) uint64 { return (v - lo8) &^ v & hi8 }
	return zero(quote) | zero(bslash) | ((w - lo8*0x20) &^ w & hi8) | (w & hi8)
}

// Exact byte masks (the high bit of each byte of w that is c, or below 0x20);
// unlike special's, they have no false positives.
func eqMask(w uint64, c byte) uint64 {
	x := w ^ (lo8 * uint64(c))
	return ^(((x &^ hi8) + lo8*0x7f) | x) & hi8
}

func ctlMask(w uint64) uint64 { return ^(((w &^ hi8) + lo8*0x60) | w) & hi8 }

// quotedOnly reads the JSON string at line[i] (its opening quote) when its
// only escapes are \" — the common case of a JSON payload in the envelope —
// and returns the index after its closing quote and whether it has any
// escape. ok is false for anything else (another escape, a control
// character, invalid UTF-8, no closing quote): str decides those. Eight
// bytes at a time, without a branch per escape: in such a string every
// backslash is followed by a quote and every quote but the last follows a
// backslash.
func (d *Decoder) quotedOnly(line []byte, i int) (end int, esc, ok bool) {
	if i >= len(line) || line[i] != '"' {
		return 0, false, false
	}
	return quotedOnly(line, i)
}

// quotedOnly is Decoder.quotedOnly's scan.
func quotedOnly(line []byte, i int) (end int, esc, ok bool) {
	n := len(line)
	start := i + 1
	j := start
	var carry, bsAny, hiAny uint64 // carry: the last word ended in a backslash
	for j+8 <= n {
		w := binary.LittleEndian.Uint64(line[j:])
		bs := eqMask(w, '\\')
		follows := bs<<8 | carry
		carry = bs >> 63 << 7
		bad := (eqMask(w, '"') ^ follows) | ctlMask(w)
		if bad == 0 {
			bsAny |= bs
			hiAny |= w & hi8
			j += 8
			continue
		}
		k := bits.TrailingZeros64(bad) / 8
		below := uint64(1)<<(8*k) - 1
		if line[j+k] != '"' || follows>>(8*k)&0x80 != 0 {
			return 0, false, false
		}
		bsAny |= bs & below
		hiAny |= w & hi8 & below
		j += k
		goto closed
	}
	for prev := carry != 0; ; j++ {
		if j >= n {
			return 0, false, false
		}
		c := line[j]
		switch {
		case prev:
			if c != '"' {
				return 0, false, false
			}
			prev = false
			continue
		case c == '\\':
			prev, bsAny = true, 1
			continue
		case c == '"':
		case c < 0x20:
			return 0, false, false
		default:
			hiAny |= uint64(c & 0x80)
			continue
		}
		break
	}
closed:
	if hiAny != 0 && !utf8.Valid(line[start:j]) {
		return 0, false, false
	}
	return j + 1, bsAny != 0, true
}

// unescape decodes a string with escapes from line[start:], the first escape
// at esc, into d.buf.
func (d *Decoder) unescape(line []byte, start, esc int, ascii bool) ([]byte, int, bool) {
	n := len(line)
	b0 := len(d.buf)
	// The output is never longer than the input (every escape is at least
	// as long as what it stands for), plus eight bytes of slack: runs are
	// copied a word at a time, and only the bytes before a special one count.
	d.buf = slices.Grow(d.buf, n-start+8)
	dst := d.buf[:cap(d.buf)]
	k := b0 + copy(dst[b0:], line[start:esc])
	j := esc
	for j < n {
		c := line[j]
		switch {
		case c == '"':
			d.buf = dst[:k]
			if !ascii && !utf8.Valid(d.buf[b0:]) {
				return nil, 0, false
			}
			out := d.buf[b0:k:k]
			if len(out) == 0 {
				out = nil
			}
			return out, j + 1, true
		case c == '\\':
			if j+1 >= n {
				return nil, 0, false
			}
			switch line[j+1] {
			case '"', '\\', '/':
				dst[k] = line[j+1]
			case 'b':
				dst[k] = '\b'
			case 'f':
				dst[k] = '\f'
			case 'n':
				dst[k] = '\n'
			case 'r':
				dst[k] = '\r'
			case 't':
				dst[k] = '\t'
			case 'u':
				if j+6 > n {
					return nil, 0, false
				}
				r, ok := hex4(line[j+2 : j+6])
				if !ok || utf16.IsSurrogate(r) {
					return nil, 0, false
				}
				k += utf8.EncodeRune(dst[k:], r) - 1
				j += 4
			default:
				return nil, 0, false
			}
			k++
			j += 2
		case c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
			dst[k] = c
			k++
			j++
		}
		// Copy the run up to the next special byte, eight bytes at a time.
		for j+8 <= n {
			w := binary.LittleEndian.Uint64(line[j:])
			binary.LittleEndian.PutUint64(dst[k:], w)
			if m := special(w); m != 0 {
				t := bits.TrailingZeros64(m) / 8
				j += t
				k += t
				goto next
			}
			j += 8
			k += 8
		}
		for j < n {
			c := line[j]
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				break
			}
			dst[k] = c
			k++
			j++
		}
	next:
	}
	return nil, 0, false
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanInt reads a JSON integer (no fraction, exponent or leading zero) that
// fits in bitSize bits, as encoding/json would decode it into an int of
// that size.
func scanInt(line []byte, i, bitSize int) (int64, int, bool) {
	n := len(line)
	neg := false
	if i < n && line[i] == '-' {
		neg = true
		i++
	}
	start := i
	var v uint64
	for ; i < n && line[i] >= '0' && line[i] <= '9'; i++ {
		if i-start >= 18 {
			return 0, 0, false // long numbers: the careful path
		}
		v = v*10 + uint64(line[i]-'0')
	}
	if i == start || (line[start] == '0' && i-start > 1) {
		return 0, 0, false
	}
	if i < n && (line[i] == '.' || line[i] == 'e' || line[i] == 'E') {
		return 0, 0, false
	}
	x := int64(v)
	if neg {
		x = -x
	}
	if bitSize == 32 && (x < -1<<31 || x > 1<<31-1) {
		return 0, 0, false
	}
	return x, i, true
}

func hasPrefixAt(b []byte, i int, p string) bool {
	return i+len(p) <= len(b) && string(b[i:i+len(p)]) == p
}

// unsafeString views b as a string without copying; b must not change while
// the string is in use (the Decoder's contract).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ParseTime parses an RFC 3339 time as time.Parse(time.RFC3339Nano, s) does,
// and returns the same value; the form eddy writes (UTC, "Z", up to nine
// fraction digits) is parsed by hand, which is several times faster, and
// anything else by time.Parse.
func ParseTime(s string) (time.Time, error) {
	if t, ok := parseTimeUTC(s); ok {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func parseTimeUTC(s string) (time.Time, bool) {
	// 2006-01-02T15:04:05[.fraction]Z
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	// Each digit minus '0', unsigned: a non-digit is then above 9.
	d := func(i int) uint { return uint(s[i]) - '0' }
	if d(0) > 9 || d(1) > 9 || d(2) > 9 || d(3) > 9 || d(5) > 9 || d(6) > 9 || d(8) > 9 || d(9) > 9 ||
		d(11) > 9 || d(12) > 9 || d(14) > 9 || d(15) > 9 || d(17) > 9 || d(18) > 9 {
		return time.Time{}, false
	}
	y := int(d(0)*1000 + d(1)*100 + d(2)*10 + d(3))
	mo, dd := int(d(5)*10+d(6)), int(d(8)*10+d(9))
	h, mi, sec := int(d(11)*10+d(12)), int(d(14)*10+d(15)), int(d(17)*10+d(18))
	// Days past the 28th: time.Parse knows each month's length.
	if mo < 1 || mo > 12 || dd < 1 || dd > 28 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	ns := 0
	switch rest := s[19 : len(s)-1]; {
	case rest == "":
	case rest[0] == '.' && len(rest) >= 2 && len(rest) <= 10:
		for k := 1; k < len(rest); k++ {
			c := uint(rest[k]) - '0'
			if c > 9 {
				return time.Time{}, false
			}
			ns = ns*10 + int(c)
		}
		for k := len(rest) - 1; k < 9; k++ {
			ns *= 10
		}
	default:
		return time.Time{}, false
	}
	// time.Date, without its normalising and zone lookup: days from the
	// civil date (Howard Hinnant's algorithm), year 0 included.
	yy := y
	if mo <= 2 {
		yy--
	}
	era := yy
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := yy - era*400
	mp := mo - 3
	if mo <= 2 {
		mp = mo + 9
	}
	doe := yoe*365 + yoe/4 - yoe/100 + (153*mp+2)/5 + dd - 1
	days := int64(era)*146097 + int64(doe) - 719468
	return time.Unix(days*86400+int64(h*3600+mi*60+sec), int64(ns)).UTC(), true
}
