package inspect

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/eddy-sh/eddy/event"
)

// SchemaMarker is the short text that says what decoded a payload, shown
// beside it (pretty lines, templates' KeySchema/ValueSchema, the TUI):
//
//	avro orders-value v3                  a registry schema: format, subject, version
//	protobuf orders-value v2 shop.Order   Protobuf adds the message
//	protobuf orders.proto shop.Order      a local schema: format, file, message
//	avro id 42                            an id under no subject eddy knows
//
// and, when decoding failed, the one-word reason alone (unknown-schema,
// truncated, …: the event.Fail* words). "" for nil. Not terminal-safe by
// itself: subjects and files come from the registry or the command line,
// so callers escape it (appendMarker, SafeString).
func SchemaMarker(d *event.Decoded) string {
	if d == nil {
		return ""
	}
	if d.Fail != "" {
		return d.Fail
	}
	s := d.Schema
	m := s.Format
	if m == "" {
		m = "schema"
	}
	switch {
	case s.Subject != "":
		m += " " + s.Subject
		if s.Version > 0 {
			m += " v" + strconv.Itoa(s.Version)
		}
	case s.File != "":
		m += " " + s.File
	case s.ID > 0:
		m += " id " + strconv.Itoa(s.ID)
	}
	if s.Message != "" && (s.Format == "protobuf" || s.File != "") {
		m += " " + s.Message
	}
	return m
}

// decodedShown reports what a payload shows: the decoded JSON (ok) when a
// schema decoded it, else the bytes, as today. A failure that still has
// JSON (a JSON Schema record that does not validate) shows its JSON.
func decodedShown(raw []byte, d *event.Decoded) (shown []byte, decoded bool) {
	if d != nil && d.JSON != nil {
		return d.JSON, true
	}
	return raw, false
}

// KeyText is a key as filters and templates read it: a decoded key that is
// a JSON string is that string (an Avro "string" key reads o-1, not
// "o-1"); any other decoded key is its JSON; else the bytes.
func KeyText(e *event.Event) []byte {
	d := e.KeyDecoded
	if d == nil || d.JSON == nil {
		return e.Key
	}
	if r := gjson.ParseBytes(d.JSON); r.Type == gjson.String {
		return []byte(r.Str)
	}
	return d.JSON
}

// appendMarker appends " [marker]" style text for d: the marker in
// brackets, dim, escaped; nothing for nil.
func (r *Renderer) appendMarker(dst []byte, d *event.Decoded) []byte {
	if d == nil {
		return dst
	}
	sgr := sgrDim
	if d.Fail != "" {
		sgr = sgrRed
	}
	dst = r.style(dst, sgr)
	dst = append(dst, '[')
	dst = appendCapped(dst, SchemaMarker(d))
	dst = append(dst, ']')
	return r.style(dst, sgrReset)
}
