package event

import (
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// EnvelopeVersion is the version of the capture format that AppendEnvelope writes
// and DecodeEnvelope reads. A reader refuses other versions rather than guess.
const EnvelopeVersion = 1

// ErrEnvelope is wrapped by every error DecodeEnvelope returns.
var ErrEnvelope = errors.New("invalid envelope")

const hexDigits = "0123456789abcdef"

// timeLayoutMilli is used when a timestamp has no sub-millisecond part (every
// Kafka timestamp), so captures read like the broker's own times.
const timeLayoutMilli = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders t as the envelope does: UTC RFC 3339 with milliseconds, or
// with nanoseconds when t has a finer part, so that decoding gives t back.
func FormatTime(t time.Time) string {
	return string(appendTime(nil, t))
}

func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, timeLayoutMilli)
	}
	// Hand-rolled: time.AppendFormat was a quarter of the cost of an envelope,
	// and every Kafka timestamp takes this path.
	h, mi, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return dst
}

// AppendEnvelope appends e's envelope (one JSON object, no newline) to dst.
//
// The output is safe to print to a terminal: besides what JSON requires, C1
// controls (U+0080–U+009F), bidirectional overrides and line/paragraph separators
// are written as \u escapes, so no byte of the output starts an escape sequence.
func AppendEnvelope(dst []byte, e *Event) []byte {
	dst = append(dst, `{"v":1,"transport":`...)
	dst = appendString(dst, string(e.Transport))
	if e.Transport == AMQP {
		if e.Queue != "" {
			dst = append(dst, `,"queue":`...)
			dst = appendString(dst, e.Queue)
		}
		dst = append(dst, `,"exchange":`...)
		dst = appendString(dst, e.Exchange)
		dst = append(dst, `,"routing_key":`...)
		dst = appendString(dst, e.RoutingKey)
		if e.Offset >= 0 {
			dst = append(dst, `,"offset":`...)
			dst = strconv.AppendInt(dst, e.Offset, 10)
		}
		dst = append(dst, `,"redelivered":`...)
		dst = strconv.AppendBool(dst, e.Redelivered)
	} else {
		dst = append(dst, `,"topic":`...)
		dst = appendString(dst, e.Topic)
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(e.Partition), 10)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, e.Offset, 10)
	}
	if !e.Timestamp.IsZero() {
		dst = append(dst, `,"timestamp":"`...)
		dst = appendTime(dst, e.Timestamp)
		dst = append(dst, '"')
	}
	if e.Transport != AMQP || e.Key != nil {
		dst = appendBytesField(dst, "key", e.Key)
	}
	if e.KeyDecoded != nil {
		dst = appendDecoded(dst, "key", e.KeyDecoded)
	}
	dst = append(dst, `,"headers":[`...)
	for i := range e.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHeader(dst, &e.Headers[i])
	}
	dst = append(dst, ']')
	if e.Properties != nil {
		dst = appendProperties(dst, e.Properties)
	}
	dst = appendBytesField(dst, "value", e.Value)
	if e.ValueDecoded != nil {
		dst = appendDecoded(dst, "value", e.ValueDecoded)
	}
	return append(dst, '}')
}

// appendDecoded writes a decoded key's or value's members after its bytes:
// ,"NAME_decoded":JSON (the JSON itself, compacted and terminal-safe —
// copied as is when d.Safe says it is so already; left out when there is
// none, or it is not valid JSON) and ,"NAME_schema":{…},
// what decoded it (SchemaRef's fields that are set, and "error": the Fail
// word). The bytes stay as they are: a reader that knows nothing of schemas
// reads the capture as before.
func appendDecoded(dst []byte, name string, d *Decoded) []byte {
	switch {
	case d.JSON == nil:
	case d.Safe:
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, `_decoded":`...)
		dst = append(dst, d.JSON...)
	case gjson.ValidBytes(d.JSON):
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, `_decoded":`...)
		dst = appendCompactJSON(dst, d.JSON)
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, `_schema":{`...)
	n := len(dst)
	str := func(k, v string) {
		if v == "" {
			return
		}
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
		dst = appendString(dst, v)
	}
	num := func(k string, v int) {
		if v == 0 {
			return
		}
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
		dst = strconv.AppendInt(dst, int64(v), 10)
	}
	str("format", d.Schema.Format)
	num("id", d.Schema.ID)
	str("subject", d.Schema.Subject)
	num("version", d.Schema.Version)
	str("message", d.Schema.Message)
	str("file", d.Schema.File)
	str("error", d.Fail)
	return append(dst, '}')
}

// appendCompactJSON appends the valid JSON js without the whitespace between
// its tokens (an envelope is one line) and terminal-safe as appendStringBytes
// makes strings: inside strings, raw controls, DEL, C1 controls, separators
// and bidirectional controls become \u escapes and invalid UTF-8 U+FFFD.
// Escapes already in js are kept as written (they are text, not controls).
func appendCompactJSON(dst, js []byte) []byte {
	inStr := false
	start := 0
	flush := func(i int) { dst = append(dst, js[start:i]...) }
	for i := 0; i < len(js); {
		c := js[i]
		if !inStr {
			switch c {
			case ' ', '\t', '\n', '\r':
				flush(i)
				i++
				start = i
				continue
			case '"':
				inStr = true
			}
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				i += 2 // the escaped byte cannot end the string
				continue
			case c == '"':
				inStr = false
			case c < 0x20 || c == 0x7f:
				flush(i)
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				i++
				start = i
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(js[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			flush(i)
			dst = append(dst, `\ufffd`...)
		case UnsafeRune(r):
			flush(i)
			dst = append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	if start < len(js) {
		dst = append(dst, js[start:]...)
	}
	return dst
}

// appendBytesField writes ,"name":"…" for valid UTF-8, ,"name_b64":"…" otherwise,
// and ,"name":null for nil.
func appendBytesField(dst []byte, name string, b []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	switch {
	case b == nil:
		return append(dst, `":null`...)
	case utf8.Valid(b):
		dst = append(dst, '"', ':')
		return appendStringBytes(dst, b)
	default:
		dst = append(dst, `_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"')
	}
}

func appendHeader(dst []byte, h *Header) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendString(dst, h.Key)
	if h.Typed == nil {
		dst = appendBytesField(dst, "value", h.Value)
	} else {
		dst = append(dst, ',')
		dst = appendTypedFields(dst, h.Typed)
	}
	return append(dst, '}')
}

// appendTypedFields writes "type":T,"value":V for an AMQP field value.
func appendTypedFields(dst []byte, v any) []byte {
	typ := TypeName(v)
	dst = append(dst, `"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	switch x := v.(type) {
	case string:
		return appendBytesField(dst, "value", []byte(x))
	case []byte:
		if x == nil {
			x = []byte{}
		}
		return appendBytesField(dst, "value", x)
	}
	dst = append(dst, `,"value":`...)
	switch x := v.(type) {
	case bool:
		dst = strconv.AppendBool(dst, x)
	case int8:
		dst = strconv.AppendInt(dst, int64(x), 10)
	case int16:
		dst = strconv.AppendInt(dst, int64(x), 10)
	case int32:
		dst = strconv.AppendInt(dst, int64(x), 10)
	case int64:
		dst = strconv.AppendInt(dst, x, 10)
	case uint8:
		dst = strconv.AppendUint(dst, uint64(x), 10)
	case uint16:
		dst = strconv.AppendUint(dst, uint64(x), 10)
	case uint32:
		dst = strconv.AppendUint(dst, uint64(x), 10)
	case float32:
		dst = appendFloat(dst, float64(x), 32)
	case float64:
		dst = appendFloat(dst, x, 64)
	case Decimal:
		dst = append(dst, `{"scale":`...)
		dst = strconv.AppendUint(dst, uint64(x.Scale), 10)
		dst = append(dst, `,"value":`...)
		dst = strconv.AppendInt(dst, int64(x.Value), 10)
		dst = append(dst, '}')
	case time.Time:
		dst = append(dst, '"')
		dst = appendTime(dst, x)
		dst = append(dst, '"')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendTypedNode(dst, x[k])
		}
		dst = append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTypedNode(dst, el)
		}
		dst = append(dst, ']')
	default: // Void and anything unknown
		dst = append(dst, "null"...)
	}
	return dst
}

func appendTypedNode(dst []byte, v any) []byte {
	if v == nil {
		v = Void{}
	}
	dst = append(dst, '{')
	dst = appendTypedFields(dst, v)
	return append(dst, '}')
}

// JSON cannot say NaN or ±Inf; they travel as strings and come back as floats.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		dst = append(dst, '"')
		dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
		return append(dst, '"')
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// TypeName returns the envelope's name for an AMQP field value's type.
func TypeName(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case int8:
		return "int8"
	case uint8:
		return "uint8"
	case int16:
		return "int16"
	case uint16:
		return "uint16"
	case int32:
		return "int32"
	case uint32:
		return "uint32"
	case int64:
		return "int64"
	case float32:
		return "float32"
	case float64:
		return "float64"
	case Decimal:
		return "decimal"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case time.Time:
		return "timestamp"
	case map[string]any:
		return "table"
	case []any:
		return "array"
	default:
		return "void"
	}
}

func appendProperties(dst []byte, p *Properties) []byte {
	dst = append(dst, `,"properties":{`...)
	first := true
	str := func(name, v string) {
		if v == "" {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, name)
		dst = append(dst, ':')
		dst = appendString(dst, v)
	}
	num := func(name string, v uint8) {
		if v == 0 {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, name)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	str("content_type", p.ContentType)
	str("content_encoding", p.ContentEncoding)
	num("delivery_mode", p.DeliveryMode)
	num("priority", p.Priority)
	str("correlation_id", p.CorrelationID)
	str("reply_to", p.ReplyTo)
	str("expiration", p.Expiration)
	str("message_id", p.MessageID)
	if !p.Timestamp.IsZero() {
		str("timestamp", string(appendTime(nil, p.Timestamp)))
	}
	str("type", p.Type)
	str("user_id", p.UserID)
	str("app_id", p.AppID)
	return append(dst, '}')
}

// AppendJSONString appends s as a JSON string that is also terminal-safe, the
// way the envelope writes every string: invalid UTF-8 becomes U+FFFD, and C1,
// bidirectional controls and separators are \u escapes. Everything eddy writes
// as JSON for scripts uses it, so all of it is safe to print.
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }

// safeASCII[c] is true for ASCII bytes that go into a JSON string as they are.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendStringBytes is appendString for bytes (no copy: the bytes are only
// read).
func appendStringBytes(dst []byte, b []byte) []byte { return appendString(dst, unsafeString(b)) }

// appendString writes s as a JSON string that is also terminal-safe (see
// AppendEnvelope). Byte fields reach here only when valid UTF-8; names (topic,
// header keys, properties) may not be, and their invalid bytes become U+FFFD as
// encoding/json does, because a raw 0x9b must never reach a terminal. The
// schema codecs write their strings with it too (AppendJSONString), which is
// what lets the envelope copy their JSON as it is (Decoded.Safe).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if UnsafeRune(r) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// UnsafeRune reports the non-ASCII runes that a terminal may act on: C1
// controls, line and paragraph separators, and bidirectional controls (which
// can make text read in an order other than its bytes, "Trojan Source").
// AppendEnvelope escapes them, and so does every other output that shows
// untrusted text (inspect's), so that all agree on what is dangerous.
func UnsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
