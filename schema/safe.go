package schema

import (
	"unicode/utf8"
)

// maxNameLen bounds a name shown from a schema or a registry (a subject, a
// JSON Schema's title): a title can be a megabyte, and it is repeated in
// every event's SchemaRef.
const maxNameLen = 256

// safeName is s as a SchemaRef may carry it: untrusted names (a registry's
// subjects, a JSON Schema's title) are printed by every command, so a byte
// a terminal acts on is written as a visible escape, the way
// inspect.SafeString does (C0 controls and DEL as \xNN, C1, bidirectional
// controls and line separators as \uNNNN, invalid UTF-8 bytes as \xNN), and
// a name longer than maxNameLen is cut, ending in "...". It returns s
// itself when nothing needs doing. (inspect is not imported: it depends on
// packages that may come to depend on this one.)
func safeName(s string) string {
	if len(s) <= maxNameLen && nameIsSafe(s) {
		return s
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, min(len(s), maxNameLen)+16)
	for i := 0; i < len(s) && len(b) < maxNameLen; {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c < utf8.RuneSelf || (r == utf8.RuneError && size == 1):
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			i++
			continue
		case unsafeNameRune(r):
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	if len(b) >= maxNameLen {
		b = append(b, "..."...)
	}
	return string(b)
}

func nameIsSafe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeNameRune(r) {
			return false
		}
		i += size
	}
	return true
}

// unsafeNameRune is inspect's set of non-ASCII runes a terminal acts on or
// that reorder text: C1 controls, line and paragraph separators,
// bidirectional controls.
func unsafeNameRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029,
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
