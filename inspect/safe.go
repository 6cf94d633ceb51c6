package inspect

import (
	"github.com/eddy-sh/eddy/event"
	"unicode"
	"unicode/utf8"
	"unsafe"
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

// unsafeRune reports the non-ASCII runes a terminal may act on or that change
// how the surrounding text reads: C1 controls, line and paragraph separators,
// and bidirectional controls. It matches the set that event.AppendEnvelope
// escapes, so jsonl and pretty agree on what is dangerous.
func unsafeRune(r rune) bool {
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
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
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
		if unsafeRune(r) {
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
// most emoji take two cells, combining marks none. golang.org/x/text has no
// width table small enough to be worth a dependency here, so this is the usual
// wcwidth approximation: East Asian Wide and Fullwidth ranges and the emoji
// blocks are two cells, nonspacing and enclosing marks and format characters
// zero, everything else one. It is applied only to text that AppendSafe has
// already made free of controls.

var wideRanges = [...][2]rune{
	{0x1100, 0x115f}, {0x231a, 0x231b}, {0x2329, 0x232a}, {0x23e9, 0x23ec}, {0x23f0, 0x23f0},
	{0x23f3, 0x23f3}, {0x25fd, 0x25fe}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267f, 0x267f},
	{0x2693, 0x2693}, {0x26a1, 0x26a1}, {0x26aa, 0x26ab}, {0x26bd, 0x26be}, {0x26c4, 0x26c5},
	{0x26ce, 0x26ce}, {0x26d4, 0x26d4}, {0x26ea, 0x26ea}, {0x26f2, 0x26f3}, {0x26f5, 0x26f5},
	{0x26fa, 0x26fa}, {0x26fd, 0x26fd}, {0x2705, 0x2705}, {0x270a, 0x270b}, {0x2728, 0x2728},
	{0x274c, 0x274c}, {0x274e, 0x274e}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797},
	{0x27b0, 0x27b0}, {0x27bf, 0x27bf}, {0x2b1b, 0x2b1c}, {0x2b50, 0x2b50}, {0x2b55, 0x2b55},
	{0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf}, {0x4e00, 0x9fff}, {0xa000, 0xa4cf},
	{0xa960, 0xa97f}, {0xac00, 0xd7a3}, {0xf900, 0xfaff}, {0xfe10, 0xfe19}, {0xfe30, 0xfe6f},
	{0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x16fe0, 0x16fe4}, {0x17000, 0x18aff}, {0x1b000, 0x1b2ff},
	{0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf}, {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251},
	{0x1f300, 0x1f64f}, {0x1f680, 0x1f6ff}, {0x1f7e0, 0x1f7eb}, {0x1f90c, 0x1f9ff}, {0x1fa70, 0x1faff},
	{0x20000, 0x2fffd}, {0x30000, 0x3fffd},
}

// runeWidth returns how many terminal cells r takes.
func runeWidth(r rune) int {
	if r < 0x300 {
		return 1 // ASCII and Latin: the common case, no table look-up
	}
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
		return 0
	}
	if r < wideRanges[0][0] {
		return 1
	}
	lo, hi := 0, len(wideRanges)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < wideRanges[m][0]:
			hi = m
		case r > wideRanges[m][1]:
			lo = m + 1
		default:
			return 2
		}
	}
	return 1
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
		if c < utf8.RuneSelf {
			w++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		w += runeWidth(r)
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
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(line[i:])
		}
		rw := runeWidth(r)
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
