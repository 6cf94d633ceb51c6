package schema

import (
	"unicode/utf8"

	"github.com/eddy-sh/eddy/event"
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
	if len(s) <= maxNameLen && nameIsSafe(s, false) {
		return s
	}
	return safeText(s, maxNameLen, false)
}

// safeText escapes s as safeName does, keeping newlines when keepLines
// (an error's lines are its own), cut past limit bytes (0: no limit).
func safeText(s string, limit int, keepLines bool) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+16)
	if limit > 0 {
		b = make([]byte, 0, min(len(s), limit)+16)
	}
	for i := 0; i < len(s) && (limit <= 0 || len(b) < limit); {
		c := s[i]
		if (c >= 0x20 && c < 0x7f) || (keepLines && c == '\n') {
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
		case event.UnsafeRune(r):
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	if limit > 0 && len(b) >= limit {
		b = append(b, "..."...)
	}
	return string(b)
}

// safeError is an error whose message is terminal-safe (safeText, lines
// kept): New's errors quote local schema files, their names and their
// compilers' messages, which quote the files' text.
type safeError struct{ err error }

func (e safeError) Error() string { return safeText(e.err.Error(), 0, true) }
func (e safeError) Unwrap() error { return e.err }

func nameIsSafe(s string, keepLines bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && !(keepLines && c == '\n')) || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || event.UnsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}
