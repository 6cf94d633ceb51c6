package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-sh/eddy/bus"
)

// Authentication failures end a command at once: the broker refused the
// SASL login, or the TLS handshake failed (a broker certificate eddy does
// not trust, a client certificate the broker does not accept). Retrying
// cannot help: the same credentials and certificates would be refused
// again, so waiting for --timeout would only hide the cause behind
// "deadline exceeded". Every such failure is a *bus.ConnectError (exit 4)
// whose cause unwraps to bus.ErrAuth and reads
//
//	kafka: cannot connect to ADDR: authentication failed: SASL MECH login as user "USER" refused (the broker said: ...)
//	kafka: cannot connect to ADDR: TLS handshake failed: ...
//
// and never contains the password.

// authCause is the cause of a ConnectError for an authentication failure.
type authCause struct {
	msg string
	err error
}

func (e *authCause) Error() string { return e.msg }

// Unwrap returns bus.ErrAuth and the original error.
func (e *authCause) Unwrap() []error { return []error{bus.ErrAuth, e.err} }

// isSASLRefusal says whether err is a broker's answer refusing a SASL login.
func isSASLRefusal(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState)
}

// isTLSFailure says whether err is a failed TLS handshake: the broker's
// certificate not verified here, or an alert from the broker (it refused
// the client certificate, or one is missing).
func isTLSFailure(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	return remoteAlert(err) != ""
}

// remoteAlert is the TLS alert the broker sent ("tls: bad certificate"), or
// "" when err is not one. crypto/tls reports a received alert as a
// *net.OpError with Op "remote error".
func remoteAlert(err error) string {
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" && oe.Err != nil {
		return oe.Err.Error()
	}
	return ""
}

// isAuthFailure says whether err ends a connection attempt for good.
func isAuthFailure(err error) bool {
	return err != nil && (isSASLRefusal(err) || isTLSFailure(err))
}

// authCause returns the cause to report when err is an authentication
// failure, nil otherwise.
func (c *Client) authCause(err error) error {
	if err == nil {
		return nil
	}
	if oe, ok := errors.AsType[*oauthError](err); ok {
		// OAUTHBEARER explains its own refusals (which token, why it may
		// have been refused, or why no token could be had): the broker
		// says no more than invalid_token.
		return &authCause{msg: "authentication failed: " + c.redact(oe.msg), err: err}
	}
	if ae, ok := errors.AsType[*awsIAMError](err); ok {
		return &authCause{msg: "authentication failed: " + c.redact(ae.msg), err: err} // no region, no credentials
	}
	if isSASLRefusal(err) {
		return &authCause{msg: "authentication failed: " + c.saslWho() + " refused" + brokerSaid(err, c.redact), err: err}
	}
	if ce, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return &authCause{msg: "TLS handshake failed: " + certProblem(ce.Err, c.redact), err: err}
	}
	if alert := remoteAlert(err); alert != "" {
		msg := "TLS handshake failed: the broker refused the connection (" + c.redact(alert) + ")"
		switch {
		case c.cfg.tls != nil && len(c.cfg.tls.Certificates) == 0 && c.cfg.tls.GetClientCertificate == nil:
			msg += "; it may require a client certificate (--tls-cert and --tls-key)"
		case c.cfg.tls != nil:
			msg += "; it did not accept the client certificate (is it signed by a CA the broker trusts?)"
		}
		return &authCause{msg: msg, err: err}
	}
	return nil
}

// saslWho names the login: mechanism and user, never the password.
// A mechanism set by its own option (WithOAuth, WithKerberos) is named by
// its sasl.Mechanism.
func (c *Client) saslWho() string {
	mech := c.cfg.saslMech
	if mech == "" {
		if m := c.mechanism(); m != nil {
			mech = m.Name()
		}
	}
	switch {
	case mech == "":
		return "the login"
	case c.cfg.saslUser == "":
		return "SASL " + mech + " login"
	}
	return fmt.Sprintf("SASL %s login as user %q", mech, c.cfg.saslUser)
}

// brokerSaid is the broker's own words about a refused login, if it sent
// any, as " (the broker said: ...)". franz-go puts them after the Kafka
// error's text.
func brokerSaid(err error, redact func(string) string) string {
	ke, ok := errors.AsType[*kerr.Error](err)
	if !ok {
		return ""
	}
	s := err.Error()
	i := strings.Index(s, ke.Error()+": ")
	if i < 0 {
		return " (" + ke.Message + ": " + ke.Description + ")"
	}
	said := strings.TrimSpace(s[i+len(ke.Error())+2:])
	if said == "" {
		return " (" + ke.Message + ": " + ke.Description + ")"
	}
	return " (the broker said: " + redact(said) + ")"
}

// certProblem words why the broker's certificate was not verified, with
// what to do about it.
func certProblem(err error, redact func(string) string) string {
	var ua x509.UnknownAuthorityError
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return "x509: certificate signed by unknown authority (the broker's certificate is not signed by a CA in --tls-ca, nor by the system's roots when --tls-ca is not given)"
	case errors.As(err, &host):
		return redact(host.Error()) + " (--tls-server-name sets the name to check)"
	case errors.As(err, &inv):
		return "the broker's certificate is not valid: " + redact(inv.Error())
	}
	return redact(err.Error())
}

// saslClosedCause is the cause for a connection the broker closed during
// the SASL exchange: some brokers (and kfake) do that instead of answering
// a failed login.
func (c *Client) saslClosedCause(err error) error {
	return &authCause{msg: "authentication failed: the broker closed the connection during " + c.saslWho() +
		" (wrong user or password?)", err: err}
}

// failureAuthCause is authCause for a failure a Source's own connections
// hear of (see health): sasl says it was the read of a SASL response.
func (c *Client) failureAuthCause(err error, sasl bool) error {
	if ac := c.authCause(err); ac != nil {
		return ac
	}
	if sasl && c.mechanism() != nil {
		return c.saslClosedCause(err)
	}
	return nil
}
