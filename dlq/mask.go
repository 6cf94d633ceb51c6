package dlq

import "strings"

// Placeholders MaskError writes.
const (
	MaskID     = "<id>" // a token with digits and letters: an order id, a SKU, a UUID
	MaskNumber = "<n>"  // a number: digits, with . , or :
	MaskQuoted = "…"    // the inside of a quoted value: '…', "…", `…`
)

// MaskError is an error text with what differs from message to message
// masked, so that messages that failed for one reason share it: quoted values
// ('…', "…", `…`), numbers (<n>) and tokens that mix digits with letters,
// such as order ids, SKUs and UUIDs (<id>). "no answer within 2000 ms for
// order ord-7f3a" and "... 1500 ms for order ord-99c1" are both "no answer
// within <n> ms for order <id>". Words without a digit are kept.
func MaskError(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isQuote(c) && (i == 0 || !isWord(s[i-1])):
			if end := closingQuote(s, i+1, c); end >= 0 {
				b.WriteByte(c)
				b.WriteString(MaskQuoted)
				b.WriteByte(c)
				i = end + 1
				continue
			}
		case isWord(c):
			j := i + 1
			for j < len(s) && (isWord(s[j]) || isJoiner(s[j])) {
				j++
			}
			// A sentence's punctuation is not part of the token.
			for j > i+1 && isJoiner(s[j-1]) {
				j--
			}
			b.WriteString(maskToken(s[i:j]))
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func maskToken(t string) string {
	digits, letters := false, false
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c != '.' && c != ',' && c != ':':
			letters = true
		}
	}
	switch {
	case !digits:
		return t
	case !letters:
		return MaskNumber
	}
	return MaskID
}

func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// isJoiner: characters inside an id (ord-12, a.b.c, 10:00, x/y).
func isJoiner(c byte) bool { return c == '-' || c == '.' || c == ':' || c == '/' || c == ',' }

func isQuote(c byte) bool { return c == '\'' || c == '"' || c == '`' }

// closingQuote finds the quote q that closes a value opened before from: the
// next q not followed by a letter or digit ("don't" has none), on the same
// line; -1 when there is none.
func closingQuote(s string, from int, q byte) int {
	for j := from; j < len(s); j++ {
		switch s[j] {
		case '\n':
			return -1
		case q:
			if j+1 == len(s) || !isWord(s[j+1]) {
				return j
			}
		}
	}
	return -1
}
