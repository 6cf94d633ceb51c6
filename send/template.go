package send

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// Templates: a payload, key or header value may hold these placeholders,
// replaced for each event sent (anything else between braces is left as it
// is, so JSON, which never has "{{", and text with other braces are safe):
//
//	{{uuid}}  a random (version 4) UUID made for the event; every {{uuid}}
//	          of one event is the same one, so an event id and a
//	          correlation id written as {{uuid}} agree
//	{{now}}   the time the event is made, RFC 3339 with milliseconds, UTC
//	{{seq}}   the event's number in this run, from 1
//
// A fixed substitution, not text/template: a payload is data, and
// text/template would read every "{{" in it as an action (and fail on
// JSON-in-JSON, or on Go templates a payload carries) and cost a parse and an
// interpretation per event; this is one bytes.Index per payload when there
// is no placeholder at all.

// Placeholders are the template names send replaces.
var Placeholders = []string{"{{uuid}}", "{{now}}", "{{seq}}"}

const (
	partText = iota
	partUUID
	partNow
	partSeq
)

type part struct {
	kind int
	text []byte
}

// Template is a payload with its placeholders found; a payload without any
// is returned as it is by Expand (no copy).
type Template struct {
	raw   []byte
	parts []part // nil: no placeholder
	uuid  bool   // has {{uuid}}: the event needs one made
}

// Compile finds the placeholders in b. It keeps b (not a copy).
func Compile(b []byte) *Template {
	t := &Template{raw: b}
	if !bytes.Contains(b, []byte("{{")) {
		return t
	}
	rest := b
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("{{"))
		if i < 0 {
			break
		}
		kind := -1
		var n int
		switch {
		case bytes.HasPrefix(rest[i:], []byte("{{uuid}}")):
			kind, n = partUUID, len("{{uuid}}")
		case bytes.HasPrefix(rest[i:], []byte("{{now}}")):
			kind, n = partNow, len("{{now}}")
		case bytes.HasPrefix(rest[i:], []byte("{{seq}}")):
			kind, n = partSeq, len("{{seq}}")
		}
		if kind < 0 {
			t.appendText(rest[:i+2])
			rest = rest[i+2:]
			continue
		}
		t.appendText(rest[:i])
		t.parts = append(t.parts, part{kind: kind})
		rest = rest[i+n:]
	}
	if len(t.parts) == 0 || !t.hasPlaceholder() {
		t.parts = nil
		return t
	}
	t.appendText(rest)
	t.uuid = t.uses(partUUID)
	return t
}

func (t *Template) appendText(b []byte) {
	if len(b) == 0 {
		return
	}
	if n := len(t.parts); n > 0 && t.parts[n-1].kind == partText {
		t.parts[n-1].text = append(t.parts[n-1].text, b...)
		return
	}
	t.parts = append(t.parts, part{kind: partText, text: append([]byte(nil), b...)})
}

func (t *Template) hasPlaceholder() bool {
	for _, p := range t.parts {
		if p.kind != partText {
			return true
		}
	}
	return false
}

// Static reports whether t has no placeholder.
func (t *Template) Static() bool { return t.parts == nil }

// uses reports whether t has the placeholder kind (partUUID, ...).
func (t *Template) uses(kind int) bool {
	for _, p := range t.parts {
		if p.kind == kind {
			return true
		}
	}
	return false
}

// Vars are one event's values for the placeholders.
type Vars struct {
	UUID string
	Now  time.Time
	Seq  int64
}

// NewVars makes the values of event number seq (from 1) at now.
func NewVars(seq int64, now time.Time) Vars {
	return Vars{UUID: NewUUID(), Now: now, Seq: seq}
}

// Expand returns t with v's values; t's own bytes when it has no placeholder.
func (t *Template) Expand(v *Vars) []byte {
	if t.parts == nil {
		return t.raw
	}
	out := make([]byte, 0, len(t.raw)+32)
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			out = append(out, p.text...)
		case partUUID:
			out = append(out, v.UUID...)
		case partNow:
			out = v.Now.UTC().AppendFormat(out, "2006-01-02T15:04:05.000Z07:00")
		case partSeq:
			out = strconv.AppendInt(out, v.Seq, 10)
		}
	}
	return out
}

// NewUUID returns a random version 4 UUID in its canonical text.
func NewUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}
