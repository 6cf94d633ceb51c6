package kafka

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestOAuthReviewSafeText: safeText is what keeps a token endpoint's
// error_description and a broker's OAUTHBEARER status (strings of other
// parties) from driving the terminal in eddy's messages and in the --debug
// log, which is written unescaped. It maps C0 controls only: a C1 control
// (U+009B is CSI on many terminals) or a bidirectional override passes, and
// the 200-byte cut can split a character into invalid UTF-8.
func TestOAuthReviewSafeText(t *testing.T) {
	t.Skip("bug: bus/kafka/oauth.go safeText passes C1 controls and bidi overrides and cuts mid-rune — fix pending (use inspect.SafeString, then cut at a rune boundary)")
	for _, in := range []string{"bad\u009b31mred", "bad\u202eevil", "x\u0085y"} {
		if out := safeText(in); strings.ContainsAny(out, "\u009b\u202e\u0085") {
			t.Errorf("safeText(%q) = %q: the control is still there", in, out)
		}
	}
	long := strings.Repeat("a", 199) + "é and more"
	if out := safeText(long); !utf8.ValidString(out) {
		t.Errorf("safeText cut a character in two: %q", out)
	}
}
