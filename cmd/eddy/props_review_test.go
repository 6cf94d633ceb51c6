package main

import (
	"os"
	"strings"
	"testing"
)

// TestPropsReviewMalformedXNeverEchoesValue: a -X written with ':' or a
// blank instead of '=' (as in a properties file) is refused with exit 2,
// and the refusal does not print what followed the key: it was a
// password.
func TestPropsReviewMalformedXNeverEchoesValue(t *testing.T) {
	for _, arg := range []string{"sasl.password:hunter2-s3cret", "sasl.password hunter2-s3cret", "=hunter2-s3cret"} {
		code, out, errOut := runEddy(t, nil, "ls", "-b", "127.0.0.1:1", "-X", arg)
		if code != ExitUsage {
			t.Errorf("-X %q: exit %d, want %d; stderr %q", arg, code, ExitUsage, errOut)
		}
		if strings.Contains(out+errOut, "hunter2") {
			t.Errorf("-X %q: the value was printed:\n%s", arg, errOut)
		}
		if !strings.Contains(errOut, "KEY=VALUE") {
			t.Errorf("-X %q: no clear error: %q", arg, errOut)
		}
	}
}

// TestPropsReviewSASLIgnoredWithoutSASLProtocol: security.protocol says
// PLAINTEXT, so the sasl.* properties left in the file do not apply — as
// in the Java client and librdkafka. eddy used to log in with SASL anyway
// and the real broker's plaintext listener refused it.
func TestPropsReviewSASLIgnoredWithoutSASLProtocol(t *testing.T) {
	addr := os.Getenv("EDDY_TEST_KAFKA")
	if addr == "" {
		t.Skip("EDDY_TEST_KAFKA not set")
	}
	code, _, errOut := runEddy(t, nil, "ls", "-o", "json", "-b", addr,
		"-X", "security.protocol=PLAINTEXT", "-X", "sasl.mechanism=PLAIN",
		"-X", "sasl.username=u", "-X", "sasl.password=p-s3cret")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "sasl.mechanism, sasl.username, sasl.password ignored") || strings.Contains(errOut, "p-s3cret") {
		t.Errorf("want a warning naming the ignored sasl.* settings, without the password: %q", errOut)
	}
}

// TestPropsReviewEmptyFileFlagsRefused: -F "$PROPS" and
// --event-hubs-connection-string-file "$FILE" with the variable unset are
// refused (exit 2): read as "not given", the command used to run against
// the current context's cluster instead of the one the file names.
func TestPropsReviewEmptyFileFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"ls", "-F", ""},
		{"ls", "--properties", " "},
		{"ls", "--event-hubs-connection-string-file", ""},
	} {
		code, _, errOut := runEddy(t, nil, args...)
		if code != ExitUsage || !strings.Contains(errOut, "empty") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 saying it is empty", args, code, errOut)
		}
	}
}
