package event

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// fastPayload switches topMembers off in tests, to compare it with gjson.
var fastPayload = true

// topMembers finds the schema's top-level paths in a JSON object payload in
// one pass, the way gjson's ForEach over the object would (the first member
// of each name wins, and the scan stops once every path is found), filling
// js. It is the fast path of extract: it reports false, leaving js to be
// refilled by gjson, for anything it would have to interpret — invalid
// JSON, keys or wanted strings with escapes, nesting deeper than 64.
func topMembers(s string, c *compiledSchema, js []gjson.Result) bool {
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
		if i >= len(s) || s[i] != '"' {
			return false
		}
		ke, esc, ok := stringEnd(s, i)
		if !ok || esc {
			return false
		}
		key := s[i+1 : ke-1]
		i = skipWS(s, ke)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipWS(s, i+1)
		vs := i
		ve, typ, esc, ok := valueEnd(s, i, 0)
		if !ok {
			return false
		}
		if k, want := c.top(key); want && !js[k].Exists() {
			raw := s[vs:ve]
			switch typ {
			case gjson.String:
				if esc {
					return false
				}
				js[k] = gjson.Result{Type: gjson.String, Raw: raw, Str: raw[1 : len(raw)-1]}
			case gjson.Number:
				f, _ := strconv.ParseFloat(raw, 64)
				js[k] = gjson.Result{Type: gjson.Number, Raw: raw, Num: f}
			default:
				js[k] = gjson.Result{Type: typ, Raw: raw}
			}
			found++
			if found == len(js) {
				return true
			}
		}
		i = skipWS(s, ve)
		if i >= len(s) {
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

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the JSON string at s[i] (its opening
// quote), whether it has escapes, and whether it is valid.
func stringEnd(s string, i int) (end int, esc, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j + 1, esc, true
		case c == '\\':
			esc = true
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
		case c < 0x20:
			return 0, false, false
		}
	}
	return 0, false, false
}

// valueEnd validates the JSON value at s[i] and returns the index after it,
// its gjson type (JSON for objects and arrays), and for strings whether they
// have escapes.
func valueEnd(s string, i, depth int) (end int, typ gjson.Type, esc, ok bool) {
	if i >= len(s) {
		return 0, 0, false, false
	}
	switch c := s[i]; {
	case c == '"':
		end, esc, ok = stringEnd(s, i)
		return end, gjson.String, esc, ok
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
				if j >= len(s) || s[j] != '"' {
					return 0, 0, false, false
				}
				ke, _, ok := stringEnd(s, j)
				if !ok {
					return 0, 0, false, false
				}
				j = skipWS(s, ke)
				if j >= len(s) || s[j] != ':' {
					return 0, 0, false, false
				}
				j = skipWS(s, j+1)
			}
			ve, _, _, ok := valueEnd(s, j, depth+1)
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
