package inspect

import (
	"bufio"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/eddy-sh/eddy/event"
)

// The SGR sequences pretty and table output use, and the only escape sequences
// eddy ever writes. Keeping them in one place is what lets the terminal-safety
// test strip exactly these and then demand that no ESC is left.
const (
	sgrReset   = "\x1b[0m"
	sgrBold    = "\x1b[1m"
	sgrDim     = "\x1b[2m"
	sgrRed     = "\x1b[31m"
	sgrGreen   = "\x1b[32m"
	sgrYellow  = "\x1b[33m"
	sgrCyan    = "\x1b[36m"
	sgrMagenta = "\x1b[1;35m"
)

// sgrSequences lists every sequence above, for tests.
var sgrSequences = []string{sgrReset, sgrBold, sgrDim, sgrRed, sgrGreen, sgrYellow, sgrCyan, sgrMagenta}

// Renderer renders events as pretty lines, one line per event:
//
//	10:00:00.123 orders[0]@42 key=o-1 OrderPlaced id=e-1 {"order_id":"o-1","total":120}
//
// The time is the event's timestamp in the local zone, with the date in front
// when it is not today; then the origin (topic[partition]@offset, or for AMQP
// the queue, @offset for a stream queue, and exchange→routing key), the key
// (omitted when null), the type and id that the Schema derives (omitted when
// absent), and the payload: JSON compacted onto the line, other text and binary
// as terminal-safe escapes, cut after MaxValue bytes with a marker saying how
// much was left out. A payload a schema decoded shows its JSON after its
// schema marker, [avro orders-value v3] {"order_id":"o-1"}; one that failed
// to decode shows its bytes after the reason, [unknown-schema] \x00\x00…. A null payload (tombstone) shows as <null>, an empty one as
// <empty>.
//
// Everything taken from the event goes through AppendSafe; the TUI uses a
// Renderer for its tail view so both show the same thing. A Renderer is not
// safe for concurrent use.
type Renderer struct {
	color   bool
	headers bool
	width   int
	max     int
	loc     *time.Location
	schema  *event.Schema
	now     func() time.Time // for tests: what "today" is
	line    []byte
}

// NewRenderer returns a Renderer for o (Format and Template are ignored). It
// fails only when o.Schema has an invalid location.
func NewRenderer(o PrinterOptions) (*Renderer, error) {
	r := &Renderer{color: o.Color, headers: o.Headers, width: o.Width, max: o.MaxValue, loc: o.Local, schema: o.Schema, now: time.Now}
	if r.max == 0 {
		r.max = DefaultMaxValue
	}
	if r.loc == nil {
		r.loc = time.Local
	}
	if r.schema == nil {
		r.schema = event.DefaultSchema()
	}
	// The line shows type and id only; Extract costs one JSON lookup per path
	// of its schema, so the others are left out.
	r.schema = &event.Schema{Type: r.schema.Type, ID: r.schema.ID}
	if err := r.schema.Compile(); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendLine appends e's pretty line, without a newline, to dst.
func (r *Renderer) AppendLine(dst []byte, e *event.Event) []byte {
	if r.width <= 0 {
		return r.appendLine(dst, e)
	}
	r.line = r.appendLine(r.line[:0], e)
	dst = appendClipped(dst, b2s(r.line), r.width, r.color)
	if cap(r.line) > 1<<20 {
		r.line = nil
	}
	return dst
}

func (r *Renderer) appendLine(dst []byte, e *event.Event) []byte {
	dst = r.appendTime(dst, e.Timestamp)
	dst = append(dst, ' ')
	dst = r.appendOrigin(dst, e)
	if e.Key != nil {
		dst = append(dst, ' ')
		dst = r.style(dst, sgrDim)
		dst = append(dst, "key="...)
		dst = r.style(dst, sgrReset)
		dst = r.style(dst, sgrYellow)
		dst = r.appendKey(dst, e)
		dst = r.style(dst, sgrReset)
	}
	f := r.schema.Extract(e)
	if f.Type != "" {
		dst = append(dst, ' ')
		dst = r.style(dst, sgrMagenta)
		dst = appendCapped(dst, f.Type)
		dst = r.style(dst, sgrReset)
	}
	if f.ID != "" {
		dst = append(dst, ' ')
		dst = r.style(dst, sgrDim)
		dst = append(dst, "id="...)
		dst = r.style(dst, sgrReset)
		dst = r.style(dst, sgrGreen)
		dst = appendCapped(dst, f.ID)
		dst = r.style(dst, sgrReset)
	}
	dst = append(dst, ' ')
	return r.appendValue(dst, e)
}

// appendKey appends a key that is not nil: the decoded key when a schema
// decoded it (a string as its text, as keys are shown), else the bytes,
// with the reason in front when decoding failed. A decoded key has no
// schema marker on the line: it would be the same on every line; -o jsonl
// and the TUI's event view say it. The caller colours the key (yellow);
// after a marker, its colour is set again.
func (r *Renderer) appendKey(dst []byte, e *event.Event) []byte {
	if d := e.KeyDecoded; d != nil && d.Fail != "" && d.JSON == nil {
		dst = r.appendMarker(dst, d)
		dst = r.style(dst, sgrYellow)
	}
	k := KeyText(e)
	if len(k) == 0 {
		return append(dst, `""`...)
	}
	return appendCapped(dst, b2s(k))
}

// appendValue appends the payload: a schema-decoded one as its JSON after
// its schema marker ([avro orders-value v3] {…}), one that failed to decode
// as the bytes after the reason ([unknown-schema] \x00…), any other as the
// bytes.
func (r *Renderer) appendValue(dst []byte, e *event.Event) []byte {
	if e.ValueDecoded == nil {
		return appendPayload(dst, e.Value, r.max, r.color)
	}
	dst = r.appendMarker(dst, e.ValueDecoded)
	dst = append(dst, ' ')
	v, _ := decodedShown(e.Value, e.ValueDecoded)
	return appendPayload(dst, v, r.max, r.color)
}

// maxField caps the key, type and id on a pretty line: they are meant to be
// short, and a producer that puts a megabyte in a key must not push the
// payload off the line (or slow the tail down).
const maxField = 256

func appendCapped(dst []byte, s string) []byte {
	if len(s) <= maxField {
		return appendSafe(dst, s, 0)
	}
	cut := maxField
	for k := 0; k < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); k++ {
		cut--
	}
	dst = appendSafe(dst, s[:cut], 0)
	return append(dst, "…"...)
}

func (r *Renderer) style(dst []byte, sgr string) []byte {
	if r.color {
		dst = append(dst, sgr...)
	}
	return dst
}

func (r *Renderer) appendTime(dst []byte, t time.Time) []byte {
	dst = r.style(dst, sgrDim)
	if t.IsZero() {
		dst = append(dst, "--:--:--.---"...)
	} else {
		t = t.In(r.loc)
		ny, nm, nd := r.now().In(r.loc).Date()
		if y, m, d := t.Date(); y != ny || m != nm || d != nd {
			dst = t.AppendFormat(dst, "2006-01-02 ")
		}
		dst = t.AppendFormat(dst, "15:04:05.000")
	}
	return r.style(dst, sgrReset)
}

func (r *Renderer) appendOrigin(dst []byte, e *event.Event) []byte {
	dst = r.appendWhere(dst, e)
	if n := len(dst); e.Transport == event.AMQP {
		dst = r.appendRoute(append(dst, ' '), e)
		if len(dst) == n+1 {
			dst = dst[:n]
		}
	}
	return dst
}

// appendRoute appends an AMQP event's route, exchange→routing key (when it
// was read from a queue), and the redelivered mark; nothing for Kafka.
func (r *Renderer) appendRoute(dst []byte, e *event.Event) []byte {
	if e.Transport != event.AMQP {
		return dst
	}
	sep := false
	if e.Queue != "" && (e.Exchange != "" || e.RoutingKey != "") {
		dst = r.style(dst, sgrDim)
		if e.Exchange == "" {
			dst = append(dst, "(default)"...)
		} else {
			dst = appendSafe(dst, e.Exchange, 0)
		}
		dst = append(dst, "→"...)
		dst = appendSafe(dst, e.RoutingKey, 0)
		dst = r.style(dst, sgrReset)
		sep = true
	}
	if e.Redelivered {
		if sep {
			dst = append(dst, ' ')
		}
		dst = r.style(dst, sgrYellow)
		dst = append(dst, "redelivered"...)
		dst = r.style(dst, sgrReset)
	}
	return dst
}

// appendWhere appends where an event is: topic[partition]@offset, or the
// queue (else the exchange) and @offset for a stream queue.
func (r *Renderer) appendWhere(dst []byte, e *event.Event) []byte {
	dst = r.style(dst, sgrCyan)
	if e.Transport == event.AMQP {
		name := e.Queue
		if name == "" {
			name = e.Exchange
		}
		dst = appendSafe(dst, name, 0)
		dst = r.style(dst, sgrReset)
		if e.Offset >= 0 {
			dst = append(dst, '@')
			dst = strconv.AppendInt(dst, e.Offset, 10)
		}
		return dst
	}
	dst = appendSafe(dst, e.Topic, 0)
	dst = r.style(dst, sgrReset)
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(e.Partition), 10)
	dst = append(dst, ']', '@')
	return strconv.AppendInt(dst, e.Offset, 10)
}

// AppendPayload appends the pretty rendering of a payload to dst: JSON
// compacted onto one line, anything else as terminal-safe text (binary as \xNN
// escapes), and when v is longer than max bytes (max > 0) only the first max
// bytes followed by a marker such as "… (+9.8 MiB)". A nil payload is <null>,
// an empty one <empty>. The work is bounded by max, not by len(v), except for
// the JSON check on payloads up to jsonCheckLimit, so a 10 MB message renders
// as fast as a small one.
func AppendPayload(dst, v []byte, max int, color bool) []byte {
	return appendPayload(dst, v, max, color)
}

// jsonCheckLimit bounds the JSON validation of a payload that will be cut: up
// to here the whole payload is validated (gjson does a few hundred MB/s, so this
// costs well under a millisecond); beyond, a payload that starts like a JSON
// object or array is shown as JSON on its looks. The rendering is safe either
// way, so a wrong guess only means whitespace was dropped from a shown prefix.
const jsonCheckLimit = 256 << 10

func appendPayload(dst, v []byte, max int, color bool) []byte {
	switch {
	case v == nil:
		return appendStyled(dst, "<null>", sgrDim, color)
	case len(v) == 0:
		return appendStyled(dst, "<empty>", sgrDim, color)
	}
	cut := len(v)
	if max > 0 && len(v) > max {
		cut = max
		// Cut on a character boundary, so the last character shown is not turned
		// into \x escapes of its first bytes.
		for k := 0; k < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(v[cut]); k++ {
			cut--
		}
	}
	if looksJSON(v, cut < len(v)) {
		dst = appendCompactJSON(dst, v[:cut])
	} else {
		dst = appendSafe(dst, b2s(v[:cut]), 0)
	}
	if cut < len(v) {
		if color {
			dst = append(dst, sgrDim...)
		}
		dst = append(dst, "… (+"...)
		dst = appendSize(dst, int64(len(v)-cut))
		dst = append(dst, ')')
		if color {
			dst = append(dst, sgrReset...)
		}
	}
	return dst
}

func appendStyled(dst []byte, s, sgr string, color bool) []byte {
	if !color {
		return append(dst, s...)
	}
	dst = append(dst, sgr...)
	dst = append(dst, s...)
	return append(dst, sgrReset...)
}

// looksJSON reports whether v should be shown as JSON.
func looksJSON(v []byte, cut bool) bool {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	if i == len(v) {
		return false
	}
	switch c := v[i]; {
	case c == '{' || c == '[':
		if cut && len(v) > jsonCheckLimit {
			return true
		}
	case c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		// Scalars: only worth the check when they are whole.
	default:
		return false
	}
	return gjson.ValidBytes(v)
}

// appendCompactJSON drops the whitespace between JSON tokens and escapes what is
// unsafe inside and outside strings the JSON way (\u001b, \u009b), so a valid
// payload stays valid JSON on screen. It never fails on invalid or cut input:
// it only needs to know where strings are, to keep their spaces.
func appendCompactJSON(dst, v []byte) []byte {
	inStr := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inStr {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case ' ', '\t', '\n', '\r':
			dst = appendSafe(dst, b2s(v[start:i]), modeJSON)
			start = i + 1
		}
	}
	if start < len(v) {
		dst = appendSafe(dst, b2s(v[start:]), modeJSON)
	}
	return dst
}

// appendSize writes n bytes in binary units: 512 B, 1.2 KiB, 9.8 MiB.
func appendSize(dst []byte, n int64) []byte {
	const unit = 1024
	if n < unit {
		dst = strconv.AppendInt(dst, n, 10)
		return append(dst, " B"...)
	}
	f := float64(n) / unit
	suffix := " KiB"
	for _, s := range []string{" MiB", " GiB", " TiB"} {
		if f < unit {
			break
		}
		f /= unit
		suffix = s
	}
	dst = strconv.AppendFloat(dst, f, 'f', 1, 64)
	return append(dst, suffix...)
}

// prettyPrinter renders into one reused buffer and writes whole lines.
type prettyPrinter struct {
	w   *bufio.Writer
	r   *Renderer
	buf []byte
}

func (p *prettyPrinter) Print(e *event.Event) error {
	p.buf = p.r.AppendLine(p.buf[:0], e)
	p.buf = append(p.buf, '\n')
	if p.r.headers {
		p.buf = p.r.AppendHeaders(p.buf, e)
	}
	_, err := p.w.Write(p.buf)
	if cap(p.buf) > 1<<20 {
		p.buf = make([]byte, 0, 4096)
	}
	return err
}

func (p *prettyPrinter) Flush() error { return p.w.Flush() }

// AppendHeaders appends one indented line per header of e ("    key: value\n"),
// values terminal-safe and cut like payloads, and the binary headers of known
// conventions decoded: a dead letter's origin is then readable at a glance.
func (r *Renderer) AppendHeaders(dst []byte, e *event.Event) []byte {
	for i := range e.Headers {
		h := &e.Headers[i]
		dst = append(dst, "    "...)
		dst = r.style(dst, sgrCyan)
		dst = appendCapped(dst, h.Key)
		dst = r.style(dst, sgrReset)
		dst = append(dst, ": "...)
		switch {
		case h.Value == nil && h.Typed == nil:
			dst = r.style(dst, sgrDim)
			dst = append(dst, "<null>"...)
			dst = r.style(dst, sgrReset)
		default:
			if text, ok := DecodeKnownHeader(h.Key, h.Value); ok {
				dst = append(dst, text...)
				dst = r.style(dst, sgrDim)
				dst = append(dst, " (decoded)"...)
				dst = r.style(dst, sgrReset)
			} else {
				line := AppendSafe(nil, h.Value)
				dst = appendClipped(dst, b2s(line), max(40, r.widthOr(1<<30)-len(h.Key)-6), r.color)
			}
			if h.Typed != nil {
				dst = r.style(dst, sgrDim)
				dst = append(dst, " ("...)
				dst = append(dst, event.TypeName(h.Typed)...)
				dst = append(dst, ')')
				dst = r.style(dst, sgrReset)
			}
		}
		dst = append(dst, '\n')
	}
	return dst
}

func (r *Renderer) widthOr(def int) int {
	if r.width > 0 {
		return r.width
	}
	return def
}

// knownBinaryHeaders are headers whose frameworks write numbers as big-endian
// binary: Spring Kafka's DeadLetterPublishingRecoverer (kafka_dlt-original-*)
// and its older and retry-topic spellings.
var knownBinaryHeaders = map[string]int{
	"kafka_dlt-original-partition":  4,
	"kafka_dlt-original-offset":     8,
	"kafka_dlt-original-timestamp":  8,
	"kafka_original-partition":      4,
	"kafka_original-offset":         8,
	"kafka_original-timestamp":      8,
	"retry_topic-attempts":          4,
	"retry_topic-backoff-timestamp": 8,
}

// DecodeKnownHeader renders a header that a known convention writes as binary:
// 4- or 8-byte big-endian integers, and timestamps (milliseconds) with their
// time. ok is false for every other header, and for a value of the wrong size.
func DecodeKnownHeader(key string, v []byte) (string, bool) {
	size, known := knownBinaryHeaders[key]
	if !known || len(v) != size {
		return "", false
	}
	var n int64
	if size == 4 {
		n = int64(int32(binary.BigEndian.Uint32(v)))
	} else {
		n = int64(binary.BigEndian.Uint64(v))
	}
	s := strconv.FormatInt(n, 10)
	if strings.HasSuffix(key, "timestamp") {
		s += " = " + event.FormatTime(time.UnixMilli(n))
	}
	return s, true
}
