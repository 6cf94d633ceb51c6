package kafka

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/eddy-sh/eddy/event"
)

// OAuth is where an OAUTHBEARER login (RFC 7628, KIP-255/768) gets its
// token: exactly one of Token, TokenFile, TokenCommand and
// ClientCredentials. A token whose lifetime is known (the token endpoint's
// expires_in, else the JWT's exp claim) is reused until 80% of it has passed
// and fetched anew after that, so a long-running reader re-authenticates
// (the broker's connections.max.reauth.ms) with a fresh one; a token of
// unknown lifetime is fetched again at every login.
type OAuth struct {
	// Token is a token given as it is.
	Token string
	// TokenFile is a file holding the token, read again at every login
	// that needs a new token (a token a sidecar rotates).
	TokenFile string
	// TokenCommand is run by /bin/sh -c at every login that needs a new
	// token; its standard output is the token (like kubectl's exec
	// credentials).
	TokenCommand string
	// ClientCredentials gets the token from an OIDC/OAuth 2 token endpoint
	// with the client-credentials grant.
	ClientCredentials *ClientCredentials
	// Extensions are SASL extensions (key=value) sent with the token
	// (Confluent Cloud's logicalCluster and identityPoolId).
	Extensions map[string]string
	// OnToken is told every new token before it is sent: eddy registers it
	// with its redactor, so that no log line or error can show it.
	OnToken func(token string)
}

// ClientCredentials is the OAuth 2 client-credentials grant (RFC 6749
// 4.4): the client's id and secret buy a token at TokenURL.
type ClientCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// WithOAuth authenticates with SASL OAUTHBEARER, the token from o. The
// token and the client secret are kept out of every error and log line.
func WithOAuth(o OAuth) Option {
	return func(c *cfg) {
		c.saslMech = "OAUTHBEARER"
		c.oauth = newOAuthSource(o, time.Now)
	}
}

// extensionKey is RFC 7628's key (1*ALPHA); Kafka reserves "auth".
var extensionKey = regexp.MustCompile(`^[A-Za-z]+$`)

// validate checks what New can check without fetching a token.
func (s *oauthSource) validate() error {
	if s == nil {
		return errors.New("kafka: SASL OAUTHBEARER needs a token: a token, a token file, a token command or a token endpoint")
	}
	o := s.o
	n := 0
	for _, set := range []bool{o.Token != "", o.TokenFile != "", o.TokenCommand != "", o.ClientCredentials != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("kafka: SASL OAUTHBEARER needs a token: a token, a token file, a token command or a token endpoint")
	case n > 1:
		return errors.New("kafka: SASL OAUTHBEARER: give one way of getting the token, not several")
	}
	if cc := o.ClientCredentials; cc != nil {
		u, err := url.Parse(cc.TokenURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("kafka: OAUTHBEARER token endpoint %s: want an http[s]:// URL", strconv.QuoteToASCII(redactURL(cc.TokenURL)))
		}
		if cc.ClientID == "" {
			return errors.New("kafka: OAUTHBEARER token endpoint: no client id")
		}
		if cc.ClientSecret == "" {
			return errors.New("kafka: OAUTHBEARER token endpoint: no client secret")
		}
	}
	for k, v := range o.Extensions {
		if !extensionKey.MatchString(k) || k == "auth" {
			return fmt.Errorf("kafka: OAUTHBEARER extension %s: the key must be letters only, and not \"auth\"", strconv.QuoteToASCII(k))
		}
		if v == "" || strings.IndexFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r > 0x7e }) >= 0 {
			return fmt.Errorf("kafka: OAUTHBEARER extension %s: the value must be printable ASCII, and not empty", k)
		}
	}
	return nil
}

// oauthSource hands out tokens: the cached one while less than 80% of its
// lifetime has passed, else a new one. One source serves every connection
// of a Client (its Sources and Sinks too), so they share one token.
type oauthSource struct {
	o   OAuth
	now func() time.Time
	// fetch gets a new token and, when the issuer says, its expiry.
	fetch func(ctx context.Context) (token string, expiry time.Time, err error)

	mu        sync.Mutex
	tok       string
	exp       time.Time // zero: unknown
	refreshAt time.Time // zero: fetch at every login
	fetches   int
}

func newOAuthSource(o OAuth, now func() time.Time) *oauthSource {
	s := &oauthSource{o: o, now: now}
	switch {
	case o.Token != "":
		s.fetch = func(context.Context) (string, time.Time, error) { return o.Token, time.Time{}, nil }
	case o.TokenFile != "":
		s.fetch = s.fromFile
	case o.TokenCommand != "":
		s.fetch = s.fromCommand
	case o.ClientCredentials != nil:
		s.fetch = s.fromEndpoint
	}
	return s
}

// token returns the token to log in with.
func (s *oauthSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.tok != "" && !s.refreshAt.IsZero() && now.Before(s.refreshAt) {
		return s.tok, nil
	}
	tok, exp, err := s.fetch(ctx)
	s.fetches++
	if err == nil && tok == "" {
		err = errors.New("the token is empty")
	}
	if err != nil {
		// A failed refresh while the token in hand is still valid: go on
		// with it, and try again at the next login.
		if s.tok != "" && !s.exp.IsZero() && now.Before(s.exp) {
			return s.tok, nil
		}
		return "", &oauthError{msg: "could not get an OAUTHBEARER token: " + s.scrub(err.Error()), err: err}
	}
	if exp.IsZero() {
		exp = jwtClaims(tok).expiry()
	}
	if s.o.OnToken != nil {
		s.o.OnToken(tok)
	}
	s.tok, s.exp, s.refreshAt = tok, exp, refreshTime(now, exp)
	return tok, nil
}

// refreshTime is when a token fetched at fetched and expiring at exp is
// replaced: after 80% of its lifetime, as Kafka's own login module does
// (sasl.login.refresh.window.factor). Zero (fetch at every login) when
// the lifetime is unknown or already over.
func refreshTime(fetched, exp time.Time) time.Time {
	if exp.IsZero() || !exp.After(fetched) {
		return time.Time{}
	}
	return fetched.Add(exp.Sub(fetched) * 8 / 10)
}

func (s *oauthSource) fromFile(context.Context) (string, time.Time, error) {
	b, err := os.ReadFile(s.o.TokenFile)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("token file %s is empty", s.o.TokenFile)
	}
	return tok, time.Time{}, nil
}

func (s *oauthSource) fromCommand(ctx context.Context) (string, time.Time, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.o.TokenCommand)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A command that leaves a process behind holding its output (a helper
	// started in the background) would keep Run waiting for ever once the
	// command itself has exited; its token is what it printed by then.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil && !(errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success()) {
		msg := "the token command failed: " + err.Error()
		if last := lastLine(stderr.String()); last != "" {
			msg += ": " + last
		}
		return "", time.Time{}, errors.New(msg)
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		return "", time.Time{}, errors.New("the token command printed no token")
	}
	return tok, time.Time{}, nil
}

func (s *oauthSource) fromEndpoint(ctx context.Context) (string, time.Time, error) {
	cc := s.o.ClientCredentials
	conf := &clientcredentials.Config{ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, TokenURL: cc.TokenURL, Scopes: cc.Scopes}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		// The client secret goes where it was given for, nowhere else.
		return http.ErrUseLastResponse
	}})
	t, err := conf.Token(ctx)
	where := redactURL(cc.TokenURL)
	if err != nil {
		var re *oauth2.RetrieveError
		var ue *url.Error
		switch {
		case errors.As(err, &re):
			msg := fmt.Sprintf("token endpoint %s: HTTP %d", where, re.Response.StatusCode)
			if re.ErrorCode != "" {
				msg += ", " + safeText(re.ErrorCode)
			}
			if re.ErrorDescription != "" {
				msg += ": " + safeText(re.ErrorDescription)
			}
			if re.Response.StatusCode == http.StatusUnauthorized || re.ErrorCode == "invalid_client" {
				msg += " (wrong client id or secret?)"
			}
			return "", time.Time{}, errors.New(msg)
		case errors.As(err, &ue):
			return "", time.Time{}, fmt.Errorf("token endpoint %s: %v", where, ue.Err)
		}
		return "", time.Time{}, fmt.Errorf("token endpoint %s: %s", where, safeText(strings.TrimPrefix(err.Error(), "oauth2: ")))
	}
	if t.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("token endpoint %s: the answer has no access_token", where)
	}
	return t.AccessToken, t.Expiry, nil
}

// scrub masks the token and the client secret in s: a second line of
// defence, since no message is built from them.
func (s *oauthSource) scrub(msg string) string {
	for _, sec := range []string{s.tok, s.o.Token, s.clientSecret()} {
		if len(sec) >= 4 {
			msg = strings.ReplaceAll(msg, sec, "***")
		}
	}
	return msg
}

func (s *oauthSource) clientSecret() string {
	if s.o.ClientCredentials == nil {
		return ""
	}
	return s.o.ClientCredentials.ClientSecret
}

// mechanism is the franz-go OAUTHBEARER mechanism with s's tokens. timeout
// bounds getting a token: franz-go asks for it with its client's context,
// which only ends at Close.
func (s *oauthSource) mechanism(timeout time.Duration) sasl.Mechanism {
	return &oauthMechanism{inner: oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		tok, err := s.token(ctx)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok, Extensions: s.o.Extensions}, nil
	}), src: s}
}

// oauthMechanism is franz-go's OAUTHBEARER, with a session that turns the
// broker's refusal into a sentence saying why.
type oauthMechanism struct {
	inner sasl.Mechanism
	src   *oauthSource
}

func (m *oauthMechanism) Name() string { return m.inner.Name() }

func (m *oauthMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	_, first, err := m.inner.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	m.src.mu.Lock()
	tok := m.src.tok
	m.src.mu.Unlock()
	return &oauthSession{tok: tok, now: m.src.now}, first, nil
}

type oauthSession struct {
	tok string
	now func() time.Time
}

// Challenge: an empty answer is success; anything else is the broker's
// error (RFC 7628 3.2.2: {"status":"invalid_token",...}).
func (s *oauthSession) Challenge(resp []byte) (bool, []byte, error) {
	if len(resp) == 0 {
		return true, nil, nil
	}
	return false, nil, rejected(resp, s.tok, s.now())
}

// rejected explains a refused token. Kafka's validator answers only
// "invalid_token" and writes the reason (expired, bad signature, wrong
// audience or issuer) to the broker's log, so what eddy can tell from the
// token itself is added: that it expired, else what it claims to be (its
// audience, issuer and key), to compare with the broker's expectations.
func rejected(resp []byte, tok string, now time.Time) error {
	var e struct {
		Status string `json:"status"`
		Scope  string `json:"scope"`
	}
	status := "refused"
	if json.Unmarshal(resp, &e) == nil && e.Status != "" {
		status = safeText(e.Status)
	}
	msg := "the broker refused the OAUTHBEARER token (" + status + ")"
	if e.Scope != "" {
		msg += ", it requires scope " + strconv.QuoteToASCII(safeText(e.Scope))
	}
	c := jwtClaims(tok)
	switch exp := c.expiry(); {
	case c == nil:
		msg += ": the token is not a JWT, which Kafka's validator needs"
	case !exp.IsZero() && !now.Before(exp):
		msg += fmt.Sprintf(": the token expired at %s, %s ago", exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second))
	default:
		msg += ": the token has not expired, so the broker did not accept its signature, audience or issuer (its log says which); the token is for " + c.describe()
	}
	return &oauthError{msg: msg, err: errors.New(string(resp))}
}

// oauthError is a refused login or a token that could not be had: for
// errors.Is it is kerr.SaslAuthenticationFailed, so that it ends a command
// at once as an authentication failure (exit 4) instead of being retried.
type oauthError struct {
	msg string
	err error
}

func (e *oauthError) Error() string   { return e.msg }
func (e *oauthError) Unwrap() []error { return []error{kerr.SaslAuthenticationFailed, e.err} }

// claims are a JWT's header and payload, read without checking the
// signature: only to explain a refusal and to know when the token expires.
type claims struct {
	Exp json.Number     `json:"exp"`
	Aud json.RawMessage `json:"aud"`
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Kid string          `json:"-"`
	Alg string          `json:"-"`
}

// jwtClaims reads tok as a JWT; nil when it is not one.
func jwtClaims(tok string) *claims {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	var c claims
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &c) != nil {
		return nil
	}
	c.Kid, c.Alg = h.Kid, h.Alg
	return &c
}

func (c *claims) expiry() time.Time {
	if c == nil {
		return time.Time{}
	}
	f, err := c.Exp.Float64()
	if err != nil || f <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(f), 0)
}

// describe names what the token claims: audience, issuer, key and
// algorithm. The values are the token's (untrusted) bytes, quoted.
func (c *claims) describe() string {
	var aud []string
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		aud = []string{one}
	} else {
		_ = json.Unmarshal(c.Aud, &aud)
	}
	q := func(s string) string {
		if s == "" {
			return "none"
		}
		return strconv.QuoteToASCII(safeText(s))
	}
	var qa []string
	for _, a := range aud {
		qa = append(qa, q(a))
	}
	audience := "none"
	if len(qa) > 0 {
		audience = strings.Join(qa, ", ")
	}
	return fmt.Sprintf("audience %s, issuer %s, signed %s with key %s", audience, q(c.Iss), q(c.Alg), q(c.Kid))
}

// safeText keeps an untrusted string to one printable line of reasonable
// length.
func safeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		// C0 controls, DEL, and what else a terminal acts on or that
		// reorders text (event.UnsafeRune: C1 controls, line and
		// paragraph separators, bidirectional controls).
		if r < 0x20 || r == 0x7f || event.UnsafeRune(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut-- // never half a character
		}
		s = s[:cut] + "…"
	}
	return strings.TrimSpace(s)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return safeText(lines[len(lines)-1])
}

// redactURL is raw without a password in it.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}
