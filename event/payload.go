package event

import (
	"math/bits"
	"strconv"

	"github.com/tidwall/gjson"
)

// fastPayload switches topMembers off in tests, to compare it with gjson.
var fastPayload = true

// topMembers finds the schema's top-level paths in a JSON object payload in
// one pass, the way gjson's ForEach over the object would (the first member
// of each name wins), filling js. It stops once every path is found, or once
// st (when not nil) says every field is settled. It is the fast path of
// extract: it reports false, leaving js to be refilled by gjson, for anything
// it would have to interpret — invalid JSON, keys or wanted strings with
// escapes, nesting deeper than 64.
//
// With esc, s is not the payload but its text inside an envelope's JSON
// string, whose only escapes are \" (Decoder.quotedOnly made sure): every
// quote of the payload is \" there, and no string of the payload has an
// escape, so the members read from s are the payload's own.
func topMembers(s string, c *compiledSchema, js []member, st *stopper, esc *escText) bool {
	q := 1 // the length of a quote in s
	if esc != nil {
		q = 2
	}
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipWS(s, i+1) == len(s)
	}
	found := 0
	for {
		// "key"
		if !quoteAt(s, i, esc != nil) {
			return false
		}
		ke, hasEsc, ok := stringEnd(s, i, esc)
		if !ok || hasEsc {
			return false
		}
		key := s[i+q : ke-q]
		i = ke
		if i < len(s) && s[i] == ':' {
			i++
		} else {
			if i = skipWS(s, i); i >= len(s) || s[i] != ':' {
				return false
			}
			i++
		}
		i = skipWS(s, i)
		vs := i
		ve, typ, hasEsc, ok := valueEnd(s, i, 0, esc)
		if !ok {
			return false
		}
		if k, want := c.top(key); want && !js[k].found {
			raw := s[vs:ve]
			m := member{found: true}
			switch typ {
			case gjson.String:
				if hasEsc {
					return false
				}
				m.v = raw[q : len(raw)-q]
			case gjson.Number:
				m.v = numberText(raw)
			case gjson.True, gjson.False:
				m.v = raw
			}
			js[k] = m
			found++
			if found == len(js) || st != nil && st.settle(k, m.v != "") {
				return true
			}
		}
		i = ve
		if i < len(s) && s[i] == ',' && i+1 < len(s) && s[i+1] == '\\' {
			i++ // the common case: no space before the next key
			continue
		}
		if i = skipWS(s, i); i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return skipWS(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// escText marks a payload given as its text inside an envelope string (see
// topMembers), starting at base in the line.
type escText struct {
	base int
}

// quoteAt reports whether a quote (with esc, \") starts at s[i].
func quoteAt(s string, i int, esc bool) bool {
	if esc {
		return i+1 < len(s) && s[i] == '\\' && s[i+1] == '"'
	}
	return i < len(s) && s[i] == '"'
}

// numberText is a JSON number as gjson's Result.String writes it: an
// integer as it is, anything else as strconv formats the float.
func numberText(raw string) string {
	i := 0
	if raw[0] == '-' {
		i++
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			f, _ := strconv.ParseFloat(raw, 64)
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return raw
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the JSON string at s[i] (its opening
// quote), whether it has escapes, and whether it is valid. With esc (see
// topMembers) the string's quotes are \" and it has no escapes.
func stringEnd(s string, i int, esc *escText) (end int, hasEsc, ok bool) {
	if esc != nil {
		// The next backslash is the closing quote's.
		j := indexStop(s, i+2, true)
		if !quoteAt(s, j, true) {
			return 0, false, false
		}
		return j + 2, false, true
	}
	for j := i + 1; j < len(s); j++ {
		j = indexStop(s, j, false)
		if j >= len(s) {
			break
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, hasEsc, true
		case c == '\\':
			hasEsc = true
			if j+1 >= len(s) {
				return 0, false, false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+6 > len(s) {
					return 0, false, false
				}
				for _, h := range []byte(s[j+2 : j+6]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false, false
					}
				}
				j += 5
			default:
				return 0, false, false
			}
		default: // a control character
			return 0, false, false
		}
	}
	return 0, false, false
}

// indexStop returns the index of the first byte from i that may end or
// escape a string's text — a backslash, and (unless esc, where a backslash
// is all there can be) a quote or a control character — or len(s); eight
// bytes at a time, which beats strings.IndexByte on the short strings of a
// payload.
func indexStop(s string, i int, esc bool) int {
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		m := eqMask(w, '\\')
		if !esc {
			m |= eqMask(w, '"') | ctlMask(w)
		}
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '\\' || !esc && (c == '"' || c < 0x20) {
			return i
		}
	}
	return len(s)
}

// load64 reads eight bytes of s from i, little-endian (one load on the
// platforms that combine them).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// valueEnd validates the JSON value at s[i] and returns the index after it,
// its gjson type (JSON for objects and arrays), and for strings whether they
// have escapes. esc is topMembers'.
func valueEnd(s string, i, depth int, esc *escText) (end int, typ gjson.Type, hasEsc, ok bool) {
	if i >= len(s) {
		return 0, 0, false, false
	}
	switch c := s[i]; {
	case quoteAt(s, i, esc != nil):
		end, hasEsc, ok = stringEnd(s, i, esc)
		return end, gjson.String, hasEsc, ok
	case c == '{' || c == '[':
		if depth >= 64 {
			return 0, 0, false, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		j := skipWS(s, i+1)
		if j < len(s) && s[j] == closer {
			return j + 1, gjson.JSON, false, true
		}
		for {
			if c == '{' {
				if !quoteAt(s, j, esc != nil) {
					return 0, 0, false, false
				}
				ke, _, ok := stringEnd(s, j, esc)
				if !ok {
					return 0, 0, false, false
				}
				j = skipWS(s, ke)
				if j >= len(s) || s[j] != ':' {
					return 0, 0, false, false
				}
				j = skipWS(s, j+1)
			}
			ve, _, _, ok := valueEnd(s, j, depth+1, esc)
			if !ok {
				return 0, 0, false, false
			}
			j = skipWS(s, ve)
			if j >= len(s) {
				return 0, 0, false, false
			}
			if s[j] == closer {
				return j + 1, gjson.JSON, false, true
			}
			if s[j] != ',' {
				return 0, 0, false, false
			}
			j = skipWS(s, j+1)
		}
	case c == 't' && len(s)-i >= 4 && s[i:i+4] == "true":
		return i + 4, gjson.True, false, true
	case c == 'f' && len(s)-i >= 5 && s[i:i+5] == "false":
		return i + 5, gjson.False, false, true
	case c == 'n' && len(s)-i >= 4 && s[i:i+4] == "null":
		return i + 4, gjson.Null, false, true
	case c == '-' || '0' <= c && c <= '9':
		end, ok = numberEnd(s, i)
		return end, gjson.Number, false, ok
	}
	return 0, 0, false, false
}

// numberEnd validates a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(s string, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		return j
	}
	if s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return 0, false
	}
	switch {
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	// A number ends at a delimiter; "1x" is not JSON.
	if i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
		default:
			return 0, false
		}
	}
	return i, true
}
