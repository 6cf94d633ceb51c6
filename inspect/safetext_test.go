package inspect

import "testing"

// TestSafeText: trusted multi-line text keeps newlines and tabs; everything a
// terminal acts on is still escaped.
func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"a:\n\tb: 1\n":         "a:\n\tb: 1\n",
		"x\x1b[2Jy\rz":         `x\x1b[2Jy\rz`,
		"bidi\u202eevil\x9b":   `bidi\u202eevil\x9b`,
		"ok ünïcödé 日本":        "ok ünïcödé 日本",
		"bad\xffutf8\x00nul\n": "bad\\xffutf8\\x00nul\n",
	} {
		if got := SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}
