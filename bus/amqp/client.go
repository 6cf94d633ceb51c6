package amqp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
)

// Option configures a Client. Each option's doc says the default it overrides.
type Option func(*cfg)

type cfg struct {
	mgmtURL     string
	tls         *tls.Config
	dialTimeout time.Duration
	log         io.Writer
	firehose    bool

	backlogMessages int
	backlogBytes    int64
	tapMessages     int
	tapBytes        int64
	tapExpires      time.Duration
	prefetch        int
	publishWindow   int
	streamQuiet     time.Duration
}

func defaultCfg() cfg {
	return cfg{
		dialTimeout:     10 * time.Second,
		backlogMessages: 10000,
		backlogBytes:    256 << 20,
		tapMessages:     100000,
		tapBytes:        64 << 20,
		tapExpires:      60 * time.Second,
		prefetch:        500,
		publishWindow:   512,
		streamQuiet:     300 * time.Millisecond,
	}
}

func (c *cfg) validate() error {
	switch {
	case c.dialTimeout <= 0:
		return errors.New("amqp: the dial timeout must be positive")
	case c.backlogMessages <= 0 || c.backlogBytes <= 0:
		return errors.New("amqp: the backlog limits must be positive")
	case c.tapMessages <= 0 || c.tapBytes <= 0:
		return errors.New("amqp: the tap limits must be positive")
	}
	if c.mgmtURL != "" {
		u, err := url.Parse(c.mgmtURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("amqp: management URL %s: want http://HOST:PORT or https://HOST:PORT", Redact(c.mgmtURL))
		}
	}
	return nil
}

// WithManagementURL sets the base URL of the RabbitMQ management HTTP API, which
// eddy uses to discover a queue's type and bindings and to list queues with their
// rates. Credentials in u are used for it; without them the AMQP URL's are.
// Default: http://HOST:15672 for an amqp:// URL and https://HOST:15671 for
// amqps://, where HOST is the AMQP URL's host.
func WithManagementURL(u string) Option { return func(c *cfg) { c.mgmtURL = u } }

// WithTLS sets the TLS configuration for amqps:// URLs (and for an https
// management URL). Default: the system roots and the URL's host as server name.
// The URL's cacertfile, certfile, keyfile and server_name_indication query
// parameters (RabbitMQ's URI spec) fill in what t leaves unset: its roots, its
// client certificate, its server name.
//
// A client certificate also changes how the client logs in: see New.
func WithTLS(t *tls.Config) Option { return func(c *cfg) { c.tls = t } }

// WithDialTimeout bounds connecting, including the TLS and AMQP handshakes, and
// each management API request. Default: 10s.
func WithDialTimeout(d time.Duration) Option { return func(c *cfg) { c.dialTimeout = d } }

// WithLogger writes a line for every connection, management API request, tap and
// peek to w (eddy's --debug). URLs in it are redacted; no password is ever
// written. Default: no logging.
func WithLogger(w io.Writer) Option { return func(c *cfg) { c.log = w } }

// WithFirehose makes sources tap live traffic of classic and quorum queues
// through the broker's firehose tracer (the amq.rabbitmq.trace exchange) instead
// of binding a tap to the queue's own exchanges. It is the only way to watch a
// queue fed through the default exchange. An operator must switch the tracer on
// (rabbitmqctl trace_on -p VHOST); it slows every publish on the vhost while on.
// Default: off (taps use the queue's bindings).
func WithFirehose() Option { return func(c *cfg) { c.firehose = true } }

// WithBacklogLimit caps how much of a classic or quorum queue a backlog peek
// reads (and holds unacknowledged) at once: at most messages messages and bytes
// payload bytes. A larger backlog is read from its head up to the cap, and
// Source.Notes says so. Default: 10,000 messages and 256 MiB.
func WithBacklogLimit(messages int, bytes int64) Option {
	return func(c *cfg) { c.backlogMessages, c.backlogBytes = messages, bytes }
}

// WithTapLimits caps the temporary tap queue on the broker (x-max-length and
// x-max-length-bytes, dropping the oldest when full), so a reader that falls
// behind never costs the broker more than this. Default: 100,000 messages and
// 64 MiB.
func WithTapLimits(messages int, bytes int64) Option {
	return func(c *cfg) { c.tapMessages, c.tapBytes = messages, bytes }
}

// Client talks to one RabbitMQ virtual host. It is safe for concurrent use.
//
// The client connects lazily. Every Source and Sink opens its own connection:
// a source's tap queues are exclusive to it and disappear with it, and a sink
// blocked by a broker alarm cannot stall a source's deliveries (replay reads and
// writes at once). Ping, Queues and passive declares share one admin connection.
type Client struct {
	cfg      cfg
	raw      string // never printed: it holds the password
	uri      amqp091.URI
	addr     string // host:port/vhost
	redacted string
	mgmt     *mgmtClient
	secrets  []string
	// external: log in with SASL EXTERNAL, as the client certificate's
	// subject (see New).
	external bool

	mu     sync.Mutex
	admin  *amqp091.Connection
	closed bool

	logMu sync.Mutex // one line at a time from concurrent sources and sinks

	ids atomic.Uint64
}

// New parses and validates an amqp:// or amqps:// URL and returns a client for
// it. It does not connect: see Ping. Errors never contain the password.
//
// The login mechanism is the URL's auth_mechanism query parameter when it has
// one (plain, amqplain or external, as in RabbitMQ's URI spec). Without it, an
// amqps:// URL that holds no password, given a client certificate (WithTLS or
// the certfile and keyfile parameters), logs in with EXTERNAL: the broker
// (with its rabbitmq_auth_mechanism_ssl plugin) takes the user name from the
// certificate, and a user name in the URL is ignored. Otherwise the user and
// password of the URL log in with PLAIN (guest and guest when absent, the URI
// spec's defaults).
func New(rawurl string, opts ...Option) (*Client, error) {
	uri, err := parseURL(rawurl)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: defaultCfg(), raw: rawurl, uri: uri, redacted: Redact(rawurl)}
	for _, o := range opts {
		o(&c.cfg)
	}
	if err := c.cfg.validate(); err != nil {
		return nil, err
	}
	if c.cfg.tls, err = tlsFromURL(uri, c.cfg.tls); err != nil {
		return nil, fmt.Errorf("amqp: URL %s: %w", c.redacted, err)
	}
	c.external = loginExternal(rawurl, uri, c.cfg.tls)
	c.addr = net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)) + "/"
	if uri.Vhost != "/" {
		c.addr += url.PathEscape(uri.Vhost)
	}
	c.secrets = secretForms(uri.Password)
	c.mgmt, err = newMgmt(c)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parseURL validates rawurl without ever echoing it: url.Parse errors quote the
// input, and with it the password.
func parseURL(rawurl string) (amqp091.URI, error) {
	var secrets []string
	bad := func(why string) (amqp091.URI, error) {
		return amqp091.URI{}, errors.New(scrub(fmt.Sprintf("amqp: URL %s: %s", Redact(rawurl), why), secrets))
	}
	if strings.ContainsAny(rawurl, " \t\r\n") {
		return bad("contains whitespace")
	}
	u, err := url.Parse(rawurl)
	if err != nil {
		var ee url.EscapeError
		var he url.InvalidHostError
		switch {
		case errors.As(err, &ee):
			return bad("invalid %-escape (a reserved character in the user or password must be percent-encoded)")
		case errors.As(err, &he):
			return bad("invalid character in the host")
		case strings.Contains(err.Error(), "invalid port"):
			return bad("invalid port (a ':', '/', '@', '?' or '#' in the password must be percent-encoded)")
		}
		return bad("malformed (reserved characters in the user or password must be percent-encoded)")
	}
	secrets = secretForms(passwordOf(u))
	// An '@' anywhere but between the credentials and the host means a
	// password with an unescaped reserved character that url.Parse read as
	// something else (amqp://u:123?x@h/ has host u and port 123): refuse it
	// before a piece of the password is shown as the address.
	if _, rest, _ := strings.Cut(rawurl, "://"); strings.Count(rest, "@") > 1 || (u.User == nil && strings.Contains(rest, "@")) {
		return bad("a reserved character (: / @ ? #) in the user or password must be percent-encoded")
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return bad("want amqp://USER:PASSWORD@HOST:PORT/VHOST or amqps://…")
	}
	if u.Host == "" || u.Hostname() == "" {
		return bad("no host")
	}
	uri, err := amqp091.ParseURI(rawurl)
	if err != nil {
		// ParseURI's remaining errors are about the port and query parameters.
		return bad(err.Error())
	}
	// amqp091-go would only find out at the first dial.
	for _, m := range uri.AuthMechanism {
		switch strings.ToUpper(m) {
		case "PLAIN", "AMQPLAIN", "EXTERNAL":
		default:
			return bad(fmt.Sprintf("auth_mechanism %q: want plain, amqplain or external", m))
		}
	}
	if (uri.CertFile == "") != (uri.KeyFile == "") {
		return bad("certfile and keyfile go together")
	}
	return uri, nil
}

// tlsFromURL fills in what t leaves unset from the URL's TLS query parameters
// (cacertfile, certfile, keyfile, server_name_indication). It returns t itself
// when the URL has none, and a config of the parameters alone when t is nil.
func tlsFromURL(uri amqp091.URI, t *tls.Config) (*tls.Config, error) {
	if uri.Scheme != "amqps" || (uri.CACertFile == "" && uri.CertFile == "" && uri.ServerName == "") {
		return t, nil
	}
	fromURL, err := bus.TLSFiles{CA: uri.CACertFile, Cert: uri.CertFile, Key: uri.KeyFile, ServerName: uri.ServerName}.Config()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return fromURL, nil
	}
	t = t.Clone()
	if t.RootCAs == nil {
		t.RootCAs = fromURL.RootCAs
	}
	if len(t.Certificates) == 0 && t.GetClientCertificate == nil {
		t.Certificates = fromURL.Certificates
	}
	if t.ServerName == "" {
		t.ServerName = fromURL.ServerName
	}
	return t, nil
}

// loginExternal says whether to log in with SASL EXTERNAL: the URL asks for it,
// or it asks for no mechanism, holds no password, and a client certificate
// goes with it. The certificate is then the credential; without this rule the
// login would be PLAIN with guest's password, amqp091-go's default, which
// fails with a confusing refusal.
func loginExternal(rawurl string, uri amqp091.URI, t *tls.Config) bool {
	for _, m := range uri.AuthMechanism {
		if strings.EqualFold(m, "EXTERNAL") {
			return true
		}
	}
	if len(uri.AuthMechanism) > 0 || uri.Scheme != "amqps" || t == nil {
		return false
	}
	if len(t.Certificates) == 0 && t.GetClientCertificate == nil {
		return false
	}
	u, err := url.Parse(rawurl)
	if err != nil {
		return false
	}
	_, hasPassword := u.User.Password() // nil-safe
	return !hasPassword
}

func passwordOf(u *url.URL) string {
	if u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// secretForms are the spellings of a password that might show up in text.
func secretForms(pw string) []string {
	if pw == "" {
		return nil
	}
	forms := []string{pw}
	for _, f := range []string{url.QueryEscape(pw), url.PathEscape(pw), url.UserPassword("u", pw).String()[2:]} {
		if f != pw {
			forms = append(forms, f)
		}
	}
	return forms
}

// scrub is the last line of defence: no text built by this package includes the
// URL, but a library error might one day quote it.
func scrub(s string, secrets []string) string {
	for _, p := range secrets {
		if len(p) >= 3 {
			s = strings.ReplaceAll(s, p, "****")
		}
	}
	return s
}

// Redact returns rawurl with its password replaced by ****, for showing a URL
// anywhere (errors, logs, eddy config show). A URL that does not parse is masked
// from the first ':' after the scheme to the last '@', so a password with an
// unescaped reserved character is hidden too.
func Redact(rawurl string) string {
	if u, err := url.Parse(rawurl); err == nil && strings.Count(rawurl, "@") == 0 {
		return rawurl
	} else if err == nil && strings.Count(rawurl, "@") == 1 && u.User != nil {
		if _, ok := u.User.Password(); !ok {
			return rawurl
		}
		u.User = url.UserPassword(u.User.Username(), "****")
		return strings.Replace(u.String(), "%2A%2A%2A%2A", "****", 1)
	}
	at := strings.LastIndexByte(rawurl, '@')
	if at < 0 {
		return rawurl
	}
	start := 0
	if i := strings.Index(rawurl, "://"); i >= 0 && i < at {
		start = i + 3
	}
	colon := strings.IndexByte(rawurl[start:at], ':')
	if colon < 0 {
		return rawurl
	}
	return rawurl[:start+colon+1] + "****" + rawurl[at:]
}

// String returns the client's URL with the password redacted.
func (c *Client) String() string { return c.redacted }

// Vhost returns the virtual host the client works in.
func (c *Client) Vhost() string { return c.uri.Vhost }

func (c *Client) logf(format string, args ...any) {
	if c.cfg.log == nil {
		return
	}
	line := scrub(fmt.Sprintf("amqp: "+format, args...), c.secrets)
	c.logMu.Lock()
	fmt.Fprintf(c.cfg.log, "%s %s\n", time.Now().Format("15:04:05.000"), line)
	c.logMu.Unlock()
}

// Ping connects (or reuses the admin connection) and reports whether the broker
// accepts the credentials and vhost. Failures are *bus.ConnectError; a refused
// password wraps ErrAuth.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.adminConn(ctx)
	return err
}

// Close closes the admin connection. Sources and sinks have their own and are
// closed by their Close.
func (c *Client) Close() error {
	c.mu.Lock()
	conn := c.admin
	c.admin, c.closed = nil, true
	c.mu.Unlock()
	if conn != nil && !conn.IsClosed() {
		if err := conn.Close(); err != nil && !errors.Is(err, amqp091.ErrClosed) {
			return fmt.Errorf("amqp: closing the connection to %s: %s", c.addr, scrub(err.Error(), c.secrets))
		}
	}
	return nil
}

var errClientClosed = errors.New("amqp: client closed")

func (c *Client) adminConn(ctx context.Context) (*amqp091.Connection, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClientClosed
	}
	if c.admin != nil && !c.admin.IsClosed() {
		conn := c.admin
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	conn, err := c.dial(ctx, "admin")
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, errClientClosed
	}
	if c.admin != nil && !c.admin.IsClosed() {
		conn.Close() // lost a race with another caller; keep theirs
		return c.admin, nil
	}
	c.admin = conn
	return conn, nil
}

// dial opens a new connection named for its purpose, so an operator can tell
// eddy's connections apart in the management UI.
func (c *Client) dial(ctx context.Context, purpose string) (*amqp091.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, &bus.ConnectError{Transport: "amqp", Addr: c.addr, Err: err}
	}
	timeout := c.cfg.dialTimeout
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	props := amqp091.NewConnectionProperties()
	props.SetClientConnectionName(fmt.Sprintf("eddy %s #%d", purpose, c.ids.Add(1)))
	var raw net.Conn
	var mu sync.Mutex
	config := amqp091.Config{
		Properties: props,
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The library clears this deadline once the AMQP handshake is done.
			conn.SetDeadline(deadline)
			mu.Lock()
			raw = conn
			mu.Unlock()
			return conn, nil
		},
	}
	if c.uri.Scheme == "amqps" && c.cfg.tls != nil {
		config.TLSClientConfig = c.cfg.tls.Clone()
	}
	if c.external && len(c.uri.AuthMechanism) == 0 {
		config.SASL = []amqp091.Authentication{&amqp091.ExternalAuth{}}
	}
	// Cancelling ctx aborts a handshake in progress: the library takes no context.
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		if raw != nil {
			raw.SetDeadline(time.Unix(1, 0))
		}
		mu.Unlock()
	})
	start := time.Now()
	conn, err := amqp091.DialConfig(c.raw, config)
	if !stop() && err == nil {
		conn.Close()
		err = ctx.Err()
	}
	if err != nil {
		// took is what a timeout is reported as: the bound that was hit
		// (--timeout, or the caller's deadline), not a few ms past it.
		took := time.Since(start)
		if bound := deadline.Sub(start); took >= bound {
			took = bound
		}
		cause := c.connectCause(ctx, err, took)
		c.logf("connect %s (%s): %v", c.redacted, purpose, cause)
		return nil, &bus.ConnectError{Transport: "amqp", Addr: c.addr, Err: cause}
	}
	c.logf("connected to %s (%s) in %s, broker %v", c.redacted, purpose, time.Since(start).Round(time.Millisecond), conn.Properties["version"])
	return conn, nil
}

// causeError is a short, password-free cause that still unwraps to what
// happened (and to ErrAuth), so callers can test for it.
type causeError struct {
	msg  string
	errs []error
}

func (e *causeError) Error() string   { return e.msg }
func (e *causeError) Unwrap() []error { return e.errs }

func (c *Client) connectCause(ctx context.Context, err error, took time.Duration) error {
	mk := func(msg string, errs ...error) error {
		return &causeError{msg: scrub(msg, c.secrets), errs: errs}
	}
	var ae *amqp091.Error
	var dnsErr *net.DNSError
	var netErr net.Error
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// An interrupt aborts the handshake by expiring the socket's
		// deadline, which the library reports as its own frame error: the
		// cause is the interrupt, whatever the error says.
		return mk("interrupted while connecting", context.Canceled)
	case ctx.Err() != nil:
		return mk(fmt.Sprintf("no answer within %s", took.Round(time.Millisecond)), ctx.Err())
	case errors.As(err, &ae) && ae.Code == amqp091.FrameError && strings.Contains(ae.Reason, "i/o timeout"):
		// The library wraps the read deadline expiring in a frame error: the
		// server accepted the TCP connection and then said nothing.
		return mk(fmt.Sprintf("the server accepted the connection but did not answer the AMQP handshake within %s (is it a RabbitMQ AMQP port?)",
			took.Round(time.Millisecond)), os.ErrDeadlineExceeded, ae)
	case errors.As(err, &ae) && ae.Code == amqp091.FrameError && (ae.Reason == io.EOF.Error() || ae.Reason == io.ErrUnexpectedEOF.Error() ||
		strings.Contains(ae.Reason, "connection reset")):
		return mk("the connection was closed during the handshake (not an AMQP port, or TLS expected?)", ae)
	case errors.As(err, &ae) && ae.Code == amqp091.AccessRefused:
		switch {
		case ae == amqp091.ErrSASL && c.external:
			return mk("the broker does not offer the EXTERNAL mechanism that a client certificate logs in with "+
				"(it needs the rabbitmq_auth_mechanism_ssl plugin and EXTERNAL in auth_mechanisms; or put a password in the URL)", ae)
		case ae == amqp091.ErrSASL:
			return mk("no authentication mechanism in common with the broker (see the auth_mechanism URL parameter)", ae)
		case c.external:
			return mk("authentication failed: the broker refused the client certificate "+
				"(with EXTERNAL the user is the certificate's subject, which must be a RabbitMQ user with access to the vhost)", ErrAuth, ae)
		}
		return mk("authentication failed: the broker refused the username or password", ErrAuth, ae)
	case errors.As(err, &ae) && ae.Code == amqp091.FrameError && strings.Contains(ae.Reason, "remote error: tls:"):
		// With TLS 1.3 the broker's verdict on the client certificate
		// arrives after the handshake, as an alert on the first read.
		return c.tlsRefused(ae.Reason, ae)
	case errors.As(err, &ae) && ae.Code == amqp091.NotAllowed:
		return mk(fmt.Sprintf("vhost %q: %s", c.uri.Vhost, ae.Reason), ae)
	case errors.As(err, &ae):
		return mk(fmt.Sprintf("the broker closed the connection: %s (%d)", ae.Reason, ae.Code), ae)
	case errors.As(err, &dnsErr):
		return mk(fmt.Sprintf("unknown host %q", c.uri.Host), err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return mk("connection refused", err)
	case errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH):
		return mk("network unreachable", err)
	case isUntrusted(err):
		return mk(untrusted("the broker's", err), err)
	case strings.Contains(err.Error(), "remote error: tls:"):
		// crypto/tls reports an alert from the server as a *net.OpError
		// around an unexported type: its text is all there is.
		return c.tlsRefused(err.Error(), err)
	case errors.As(err, &recordErr):
		return mk("TLS handshake failed: the port does not speak TLS (use amqp:// for a plain port)", err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return mk(fmt.Sprintf("no answer within %s", took.Round(time.Millisecond)), err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return mk("the connection was closed during the handshake (not an AMQP port, or TLS expected?)", err)
	}
	return mk(err.Error(), err)
}

// amqpError turns an error from a channel operation into eddy's errors: a 404 on
// a queue is a *bus.NotFoundError, others say what the broker said.
func (c *Client) amqpError(kind, name string, err error) error {
	if se := (*stallError)(nil); errors.As(err, &se) {
		return err
	}
	var ae *amqp091.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp091.NotFound:
			return &bus.NotFoundError{Transport: "amqp", Kind: kind, Name: name, Hint: "in vhost " + strconv.Quote(c.uri.Vhost)}
		case amqp091.AccessRefused:
			return fmt.Errorf("amqp: %s %q: access refused: %s", kind, name, scrub(ae.Reason, c.secrets))
		}
		return fmt.Errorf("amqp: %s %q: %s (%d)", kind, name, scrub(ae.Reason, c.secrets), ae.Code)
	}
	return fmt.Errorf("amqp: %s %q: %s", kind, name, scrub(err.Error(), c.secrets))
}

// passive declares a queue passively on a fresh channel (a failed declare closes
// its channel) and returns its ready count and consumers.
func (c *Client) passive(conn *amqp091.Connection, queue string) (amqp091.Queue, error) {
	var q amqp091.Queue
	err := c.bounded(conn, fmt.Sprintf("a passive declare of queue %q", queue), func() error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		q, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		return err
	})
	if err != nil {
		var ae *amqp091.Error
		// 405: the queue is exclusive to another connection. It exists; its
		// depth is not ours to see this way.
		if errors.As(err, &ae) && ae.Code == amqp091.ResourceLocked {
			return amqp091.Queue{Name: queue, Messages: -1, Consumers: -1}, nil
		}
		return amqp091.Queue{}, c.amqpError("queue", queue, err)
	}
	return q, nil
}

// bounded runs op, channel operations on conn, and gives up after the dial
// timeout (eddy's --timeout). amqp091-go takes no context and waits for the
// broker's answer for ever: a broker that stops answering after the handshake
// would only be noticed by missed heartbeats, or not at all while its socket
// stays open. On expiry conn is closed at once (its socket's deadline set to
// now), which ends op with an error and every other use of conn; the caller
// gets a *stallError naming what was asked.
func (c *Client) bounded(conn *amqp091.Connection, what string, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	t := time.NewTimer(c.cfg.dialTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	_ = conn.CloseDeadline(time.Now())
	<-done // op ends with the connection: nothing is left running
	err := &stallError{msg: scrub(fmt.Sprintf("amqp: the broker at %s accepted the connection but did not answer %s within %s (--timeout)",
		c.addr, what, c.cfg.dialTimeout), c.secrets)}
	c.logf("%v", err)
	return err
}

// untrusted says why a server's certificate failed verification, in one
// sentence that names the flag that fixes it. whose is "the broker's" or "the
// management API's".
func untrusted(whose string, err error) string {
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownAuth):
		return "TLS: " + whose + " certificate is not signed by a trusted CA (--tls-ca or the context's tls.ca names the CA to trust)"
	case errors.As(err, &hostErr):
		return "TLS: " + whose + " certificate is not valid for " + strconv.Quote(hostErr.Host) +
			" (--tls-server-name or the context's tls.server-name sets the name to expect)"
	case errors.As(err, &invalid):
		return "TLS: " + whose + " certificate is not valid: " + invalid.Error()
	}
	return "TLS: " + whose + " certificate is not trusted: " + err.Error()
}

// isUntrusted reports a server certificate that failed verification.
func isUntrusted(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalid)
}

// tlsRefused explains a TLS alert from the server. An alert about a
// certificate is the broker refusing the client's (none, or one it does not
// trust): an authentication failure.
func (c *Client) tlsRefused(alert string, err error) error {
	_, what, _ := strings.Cut(alert, "remote error: ")
	if what == "" {
		what = alert
	}
	if strings.Contains(what, "certificate") {
		return &causeError{errs: []error{ErrAuth, err}, msg: scrub("authentication failed: the broker refused the TLS handshake ("+what+
			"): it wants a client certificate signed by a CA it trusts (--tls-cert and --tls-key, or the context's tls.cert and tls.key)", c.secrets)}
	}
	return &causeError{errs: []error{err}, msg: scrub("the broker refused the TLS handshake ("+what+")", c.secrets)}
}
