package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestYAMLReviewUntrustedStrings: -o yaml of values an event or a broker
// controls (a topic, a key, a header) writes no byte a terminal acts on:
// no C0 or C1 control, no bidirectional override, no line separator that
// would start a line the reader takes for eddy's.
func TestYAMLReviewUntrustedStrings(t *testing.T) {
	var out bytes.Buffer
	y := &yamlWriter{w: &out}
	in := `{"a":"x\u001b[31my","b":"x\u009b31mz","c":"x\u202ey","d":"x\u2028y","e":"x\u0085y","f":"x\u0007y","g":"x\ry"}` + "\n"
	if _, err := y.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, bad := range []string{"\x1b", "\u009b", "\u202e", "\u2028", "\u0085", "\x07", "\r"} {
		if strings.Contains(s, bad) {
			t.Errorf("-o yaml wrote %q raw:\n%q", bad, s)
		}
	}
}
