package inspect

import (
	"unicode/utf8"
	"unsafe"

	"github.com/charmbracelet/x/ansi"

	"github.com/eddy-sh/eddy/event"
)

// Terminal-safe rendering.
//
// Payloads, keys, headers and even topic and queue names are written by whoever
// can produce to the broker, and a terminal acts on some bytes instead of showing
// them: ESC and the 8-bit CSI/OSC/DCS introducers start sequences that move the
// cursor, clear the screen, retitle the window, plant hyperlinks or write the
// clipboard (OSC 52); a bare CR overwrites what was printed; bidirectional
// controls make text read in another order than its bytes ("Trojan Source").
// Everything untrusted that eddy shows a person goes through AppendSafe, which
// writes such bytes as visible escapes instead.
//
// The escaping is for safety and readability, not for round trips: a backslash
// is left as it is (so JSON and Windows paths read naturally), which means the
// text `\x1b` and an escaped ESC look the same. -o jsonl is the lossless format.

const hexDigits = "0123456789abcdef"

// asciiSafe[c] is true for the ASCII bytes that print as themselves: space
// through '~'. Tab and newline are escaped too, because pretty output is one
// line per event and its columns must not be pushed around by the payload.
var asciiSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	return t
}()

// escape modes for appendSafe.
const (
	// modeKeepLines lets newline and tab through: used for the final pass over
	// template output, whose line structure is the template author's.
	modeKeepLines = 1 << iota
	// modeJSON writes C0 controls and DEL as \u00XX, so that escaping inside a
	// JSON string keeps the JSON valid (pretty's compacted payloads).
	modeJSON
)

// AppendSafe appends b to dst with every byte a terminal could act on written
// as a visible escape: C0 controls and DEL as \xNN (tab, newline and CR as \t,
// \n, \r), C1 controls, bidirectional controls and line/paragraph separators as
// \uNNNN, and each byte of invalid UTF-8 (including raw 8-bit C1 bytes such as
// 0x9b) as \xNN. Valid printable UTF-8 (accents, CJK, emoji) passes unchanged.
// b may be any bytes; the result is always valid UTF-8 and contains no control
// character.
func AppendSafe(dst, b []byte) []byte {
	return appendSafe(dst, b2s(b), 0)
}

// SafeString returns s rendered as AppendSafe does. It returns s itself, without
// allocating, when nothing needs escaping.
func SafeString(s string) string {
	if isSafe(s) {
		return s
	}
	return string(appendSafe(make([]byte, 0, len(s)+16), s, 0))
}

// SafeText returns s rendered as AppendSafe does except that newlines and
// tabs are kept: for trusted multi-line text (a config file, a multi-line
// error) whose lines are its author's. Every other control byte is still
// escaped, so the terminal acts on nothing in it.
func SafeText(s string) string {
	return string(appendSafe(make([]byte, 0, len(s)+16), s, modeKeepLines))
}

// isSafe reports whether appendSafe(…, s, 0) would return s unchanged.
func isSafe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !asciiSafe[c] {
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

func appendSafe(dst []byte, s string, mode int) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiSafe[c] || (mode&modeKeepLines != 0 && (c == '\n' || c == '\t')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, c, mode)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			i++
			start = i
			continue
		}
		if event.UnsafeRune(r) {
			dst = append(dst, s[start:i]...)
			dst = appendU4(dst, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

func appendEscapedASCII(dst []byte, c byte, mode int) []byte {
	switch c {
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if mode&modeJSON != 0 {
		return appendU4(dst, rune(c))
	}
	return append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// b2s views b as a string without copying. The callers only read it, and only
// while b is alive, which is what makes this sound.
func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendJSONString appends s as a terminal-safe JSON string, exactly as the
// envelope writes strings (one implementation, so lists and templates agree
// with jsonl byte for byte).
func appendJSONString(dst []byte, s string) []byte { return event.AppendJSONString(dst, s) }

// Display width.
//
// Clipping a line to the terminal width has to count cells, not bytes: CJK and
// most emoji take two cells, combining marks none, and a joined emoji (a ZWJ
// sequence) or a flag (a pair of regional indicators) is one picture of two
// cells however many runes it has. The TUI measures with charmbracelet/x/ansi
// (lipgloss.Width is ansi.StringWidth), grapheme cluster by grapheme cluster;
// eddy measures the same way so that the two agree. ASCII text, the common
// case, is counted a byte a cell without segmenting it. It is applied only to
// text that AppendSafe has already made free of controls.

// asciiCell reports whether s[i] is an ASCII byte that no combining
// character follows: one cell, no segmentation needed (inlined on the hot
// path).
func asciiCell(s string, i int) bool {
	return s[i] < utf8.RuneSelf && (i+1 == len(s) || s[i+1] < utf8.RuneSelf)
}

// cluster returns the width and byte length of the grapheme cluster at s[i],
// as ansi measures it.
func cluster(s string, i int) (width, size int) {
	c, w := ansi.FirstGraphemeCluster(s[i:], ansi.GraphemeWidth)
	return w, len(c)
}

// CellWidth returns how many terminal cells s takes when printed, skipping the
// SGR colour sequences eddy itself writes. s must be terminal-safe text (the
// output of AppendSafe, or eddy's own rendering).
func CellWidth(s string) int {
	w := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c == 0x1b {
			i = skipSGR(s, i)
			continue
		}
		if asciiCell(s, i) {
			w++
			i++
			continue
		}
		cw, size := cluster(s, i)
		w += cw
		i += size
	}
	return w
}

// skipSGR returns the index just past the SGR sequence (ESC [ … m) at s[i].
// Only eddy's own sequences reach here, since AppendSafe removed every other ESC.
func skipSGR(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] == 'm' {
			return j + 1
		}
	}
	return len(s)
}

// appendClipped appends line to dst, cut to at most width cells: when it is
// wider, it is cut at width-1 cells and "…" is added. Colour sequences take no
// cells and are never cut in half; when color is set a reset follows the cut so
// the colour does not leak into the next line.
func appendClipped(dst []byte, line string, width int, color bool) []byte {
	if width <= 0 || CellWidth(line) <= width {
		return append(dst, line...)
	}
	w := 0
	for i := 0; i < len(line); {
		c := line[i]
		if c == 0x1b {
			j := skipSGR(line, i)
			dst = append(dst, line[i:j]...)
			i = j
			continue
		}
		rw, size := 1, 1
		if !asciiCell(line, i) {
			rw, size = cluster(line, i)
		}
		if w+rw > width-1 {
			break
		}
		w += rw
		dst = append(dst, line[i:i+size]...)
		i += size
	}
	dst = append(dst, "…"...)
	if color {
		dst = append(dst, sgrReset...)
	}
	return dst
}
