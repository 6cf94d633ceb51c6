package config

import (
	"strings"
	"testing"
)

// TestPropsReviewJavaEscapes: what java.util.Properties.load reads from
// files Properties.store writes and people write by hand. store escapes
// every character past U+007E as \uXXXX, a character outside the Basic
// Multilingual Plane as a surrogate pair; load drops a backslash that ends
// the file.
func TestPropsReviewJavaEscapes(t *testing.T) {
	for _, tc := range []struct{ in, key, want string }{
		{`sasl.password=p\uD83D\uDE00w`, "sasl.password", "p\U0001F600w"},
		{`sasl.password=caf\u00e9`, "sasl.password", "café"},
		{"sasl.password=abc\\", "sasl.password", "abc"},
		{"sasl.password=abc\\\n", "sasl.password", "abc"},
	} {
		props, err := ParseProperties(strings.NewReader(tc.in), "client.properties")
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(props) != 1 || props[0].Key != tc.key || props[0].Value != tc.want {
			t.Errorf("%q: got %+v, want %s=%q", tc.in, props, tc.key, tc.want)
		}
	}
	// A lone surrogate is no character: refused, not turned into U+FFFD.
	if _, err := ParseProperties(strings.NewReader(`sasl.password=a\uD83Db`), "p"); err == nil {
		t.Errorf("a lone surrogate was accepted")
	}
}
