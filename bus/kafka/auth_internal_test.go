package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
)

// TestAuthCause: refused logins and failed TLS handshakes are worded as
// one sentence that names the mechanism and user, or what to do about the
// certificate, unwrap to bus.ErrAuth, and never show the password; other
// failures are not authentication failures.
func TestAuthCause(t *testing.T) {
	const pass = "s3cret-password"
	c, err := New([]string{"127.0.0.1:1"}, WithSASL("scram-sha-256", "alice", pass), WithTLS(&tls.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	said := fmt.Errorf("%w: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 (%s)", kerr.SaslAuthenticationFailed, pass)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"refused", said, `authentication failed: SASL SCRAM-SHA-256 login as user "alice" refused (the broker said: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 (***))`},
		{"bare code", kerr.SaslAuthenticationFailed, `authentication failed: SASL SCRAM-SHA-256 login as user "alice" refused (SASL_AUTHENTICATION_FAILED: SASL Authentication failed.)`},
		{"mechanism", fmt.Errorf("unable to dial: %w", kerr.UnsupportedSaslMechanism), `authentication failed: SASL SCRAM-SHA-256 login as user "alice" refused (UNSUPPORTED_SASL_MECHANISM`},
		{"unknown CA", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "TLS handshake failed: x509: certificate signed by unknown authority (the broker's certificate is not signed by a CA in --tls-ca"},
		{"alert", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, "TLS handshake failed: the broker refused the connection (tls: certificate required); it may require a client certificate (--tls-cert and --tls-key)"},
	} {
		got := c.authCause(tc.err)
		if got == nil || !strings.HasPrefix(got.Error(), tc.want) || !errors.Is(got, bus.ErrAuth) || strings.Contains(got.Error(), pass) {
			t.Errorf("%s: %v, want %q unwrapping to bus.ErrAuth", tc.name, got, tc.want)
		}
		if !isAuthFailure(tc.err) {
			t.Errorf("%s: not an authentication failure", tc.name)
		}
	}
	for _, err := range []error{io.EOF, syscall.ECONNREFUSED, kerr.UnknownTopicOrPartition, &net.OpError{Op: "read", Err: syscall.ECONNRESET}} {
		if c.authCause(err) != nil || isAuthFailure(err) {
			t.Errorf("%v: taken for an authentication failure", err)
		}
	}
}

// TestHealthRefused: a source's own connection refused at login ends the
// source at once (fatal), live or not, exactly once, with a ConnectError
// that says why; an ordinary outage does not, and waits for the timeout.
func TestHealthRefused(t *testing.T) {
	c, err := New([]string{"127.0.0.1:1"}, WithSASL("PLAIN", "alice", "s3cret-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ended []error
	h := &health{timeout: time.Hour, addr: c.addr, redact: c.redact, auth: c.failureAuthCause,
		fatal: func(err error) { ended = append(ended, err) }}
	h.giveUp = h.fatal
	defer h.close()

	h.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, syscall.ECONNREFUSED)
	h.OnBrokerRead(kgo.BrokerMetadata{}, 3, 0, 0, 0, io.EOF)
	if len(ended) != 0 {
		t.Fatalf("an outage ended the source: %v", ended)
	}
	h.OnBrokerRead(kgo.BrokerMetadata{}, 36, 0, 0, 0, io.EOF) // closed during SaslAuthenticate
	h.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, fmt.Errorf("x: %w", kerr.SaslAuthenticationFailed))
	if len(ended) != 1 {
		t.Fatalf("ended %d times, want once: %v", len(ended), ended)
	}
	var ce *bus.ConnectError
	if !errors.As(ended[0], &ce) || !errors.Is(ended[0], bus.ErrAuth) || !errors.Is(ended[0], bus.ErrConnect) ||
		!strings.Contains(ended[0].Error(), `authentication failed: the broker closed the connection during SASL PLAIN login as user "alice"`) {
		t.Fatalf("ended with %v", ended[0])
	}
}
