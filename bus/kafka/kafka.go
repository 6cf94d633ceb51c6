// Package kafka is eddy's Kafka adapter: a Source that reads any mix of topics
// and topic patterns from exact positions, a Sink that produces with acks from
// all in-sync replicas, and the metadata `eddy ls` shows. It is built on
// franz-go (kgo for the wire, kadm for admin requests).
//
// # Reading never changes the system
//
// Without ReadOptions.Group a Source assigns itself partitions directly: it joins
// no consumer group and commits nothing, so consumers, their lag and their
// committed offsets are exactly as they were. With a Group it consumes as that
// group (after refusing a group that has active members, unless Force) and
// commits what it has returned; see [Client.Source].
//
// # Isolation
//
// A Source reads read_committed by default, like kcat and librdkafka, and like
// the consumers of an exactly-once pipeline: records of aborted transactions
// are never shown (a replay must not resurrect them), and records of open
// transactions appear once committed. The
// end of a partition is then its last stable offset. [WithReadUncommitted]
// shows every record as soon as it is written, aborted ones included, like the
// Java consumer's default.
//
// # Connections
//
// New does not connect. Ping, Source, Topics and the first Write connect, and
// an unreachable broker comes back as a *bus.ConnectError within the dial
// timeout; refused credentials and failed TLS handshakes come back as one at
// once, unwrapping to bus.ErrAuth (see auth.go). Passwords never appear in
// errors or in the debug log.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-sh/eddy/bus"
)

const transport = "kafka"

// Defaults, named so that option docs and code agree.
const (
	defaultDialTimeout = 10 * time.Second
	defaultClientID    = "eddy"
)

// Option configures a Client.
type Option func(*cfg)

// cfg is everything New needs; validate checks it once, so options can stay
// simple setters.
type cfg struct {
	tls         *tls.Config
	saslMech    string
	saslUser    string
	saslPass    string
	kerberos    *Kerberos    // WithKerberos (GSSAPI)
	krb         *krbLogin    // kerberos, loaded by validate
	oauth       *oauthSource // OAUTHBEARER's tokens (WithOAuth)
	awsIAM      *AWSMSKIAM   // WithAWSMSKIAM (AWS_MSK_IAM)
	awsRegion   string       // awsIAM's fallback region, from the AWS configuration
	dialTimeout time.Duration
	logger      io.Writer
	clientID    string
	uncommitted bool

	// noControlRecords makes Sources drop transaction markers instead of
	// using them to see the end of a partition, so that tests can exercise
	// the fallback (probeEnd) that handles other gaps at the end of a log.
	noControlRecords bool
}

func (c *cfg) validate() error {
	if c.dialTimeout <= 0 {
		return fmt.Errorf("kafka: dial timeout must be positive, not %v", c.dialTimeout)
	}
	if c.clientID == "" {
		return errors.New("kafka: empty client id")
	}
	if c.saslMech != "" || c.saslUser != "" || c.saslPass != "" {
		switch c.saslMech {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		case "GSSAPI", "KERBEROS":
			return c.validateKerberos()
		case "OAUTHBEARER":
			return c.oauth.validate()
		case "AWS_MSK_IAM":
			return c.validateAWSIAM()
		default:
			return fmt.Errorf("kafka: SASL mechanism %q: want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI or AWS_MSK_IAM", c.saslMech)
		}
		if c.saslUser == "" {
			return fmt.Errorf("kafka: SASL %s needs a user name", c.saslMech)
		}
	}
	return nil
}

// WithTLS connects to the brokers over TLS with c (see bus.TLSFiles.Config).
// The default is plaintext.
func WithTLS(c *tls.Config) Option { return func(o *cfg) { o.tls = c } }

// WithSASL authenticates with SASL: mechanism is PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512 (in any case), or OAUTHBEARER with WithOAuth's token; any
// other makes New fail. GSSAPI (Kerberos) is WithKerberos, AWS_MSK_IAM is
// WithAWSMSKIAM. The default is no authentication. The password is kept out
// of every error and log line.
func WithSASL(mechanism, user, password string) Option {
	return func(o *cfg) {
		o.saslMech, o.saslUser, o.saslPass = strings.ToUpper(strings.TrimSpace(mechanism)), user, password
	}
}

// WithDialTimeout bounds connecting: Ping, and the first metadata request of
// Source, Topics and Sink.Write, fail with a *bus.ConnectError after d.
// The default is 10s.
func WithDialTimeout(d time.Duration) Option { return func(o *cfg) { o.dialTimeout = d } }

// WithLogger writes franz-go's debug log to w (eddy's --debug). Passwords are
// never written. The default is no log.
func WithLogger(w io.Writer) Option { return func(o *cfg) { o.logger = w } }

// WithClientID sets the client id brokers see in their logs and quotas. The
// default is "eddy".
func WithClientID(id string) Option { return func(o *cfg) { o.clientID = id } }

// WithReadUncommitted makes Sources read read_uncommitted: records of open and
// aborted transactions are shown, and the end of a partition is its high
// watermark. The default is read_committed (see the package doc).
func WithReadUncommitted() Option { return func(o *cfg) { o.uncommitted = true } }

// Client is a connection to one Kafka cluster. It is safe for concurrent use;
// each Source and Sink it opens has its own connections, so closing one does
// not disturb the others.
type Client struct {
	cfg   cfg
	seeds []string
	addr  string // seeds, comma-joined, for errors
	dials *dialWatch
	cl    *kgo.Client // metadata and admin requests
	adm   *kadm.Client
}

// New returns a client for the cluster reachable at seeds (host:port). It does
// not connect, so it never blocks on an unreachable broker; errors are about
// the arguments (no seeds, a bad SASL mechanism).
func New(seeds []string, opts ...Option) (*Client, error) {
	c := &Client{cfg: cfg{dialTimeout: defaultDialTimeout, clientID: defaultClientID}, dials: new(dialWatch)}
	for _, o := range opts {
		o(&c.cfg)
	}
	if err := c.cfg.validate(); err != nil {
		return nil, err
	}
	for _, s := range seeds {
		for s := range strings.SplitSeq(s, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.seeds = append(c.seeds, s)
			}
		}
	}
	if len(c.seeds) == 0 {
		return nil, errors.New("kafka: no brokers given (--brokers host:port or EDDY_BROKERS)")
	}
	c.addr = strings.Join(c.seeds, ",")
	if err := c.cfg.checkAWSRegions(c.seeds); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(c.baseOpts()...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %s", c.redact(err.Error()))
	}
	c.cl, c.adm = cl, kadm.NewClient(cl)
	return c, nil
}

// baseOpts are the options every kgo client of c shares: where and how to
// connect.
func (c *Client) baseOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.seeds...),
		kgo.ClientID(c.cfg.clientID),
		kgo.DialTimeout(c.cfg.dialTimeout),
		kgo.WithHooks(c.dials),
	}
	if c.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.cfg.tls.Clone()))
	}
	if m := c.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	if c.cfg.logger != nil {
		w := &redactWriter{w: c.cfg.logger, secret: c.cfg.saslPass}
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(w, kgo.LogLevelDebug, func() string { return "kafka: " })))
	}
	return opts
}

// KgoOpts returns the franz-go options that connect to c's cluster: its seeds,
// client id, dial timeout, TLS, SASL, the hook that tells why a dial failed,
// and the password-redacting debug log. Code that drives franz-go itself (the
// exactly-once paths: replay/eos, dlq) builds its clients from these, so
// that every client eddy makes connects and authenticates the same way.
// Each call returns a new slice, for the caller to append to.
func (c *Client) KgoOpts() []kgo.Opt { return c.baseOpts() }

// Admin returns the admin client of c's own connection (closed by Close).
func (c *Client) Admin() *kadm.Client { return c.adm }

func (c *Client) mechanism() sasl.Mechanism {
	u, p := c.cfg.saslUser, c.cfg.saslPass
	switch c.cfg.saslMech {
	case "PLAIN":
		return plain.Auth{User: u, Pass: p}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: u, Pass: p}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: u, Pass: p}.AsSha512Mechanism()
	case "GSSAPI", "KERBEROS":
		return c.kerberosMechanism()
	case "OAUTHBEARER":
		return c.cfg.oauth.mechanism(c.cfg.dialTimeout)
	case "AWS_MSK_IAM":
		return c.awsIAMMechanism()
	}
	return nil
}

// Close closes the client's connections. Sources and Sinks have their own and
// are closed with their own Close; close the Client after them, since a Source
// that reads to an end uses it to check where partitions end.
func (c *Client) Close() { c.cl.Close() }

// Timeout is how long the client waits for a broker to answer (--timeout).
func (c *Client) Timeout() time.Duration { return c.cfg.dialTimeout }

// Ping checks that a broker answers (and accepts the credentials), within the
// dial timeout. A failure is a *bus.ConnectError.
func (c *Client) Ping(ctx context.Context) error {
	_, err := connect(ctx, c, func(ctx context.Context) (struct{}, error) { return struct{}{}, c.cl.Ping(ctx) })
	return err
}

// connect runs fn, the first request of an operation, bounded by the dial
// timeout, and turns a failure to reach or authenticate to the cluster into a
// *bus.ConnectError with a short cause. Other errors pass through.
//
// fn runs in its own goroutine and is abandoned at the deadline: kgo honours
// a context between requests but not while a connection is being set up,
// where a broker that accepts and then never answers holds it for its own
// read timeout (10s and more).
func connect[T any](ctx context.Context, c *Client, fn func(context.Context) (T, error)) (T, error) {
	tctx, cancel := context.WithTimeout(ctx, c.cfg.dialTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)      // buffered: an abandoned fn still finishes
	refused := c.dials.authFailures() // before fn: a failure while it runs must be seen
	go func() {
		v, err := fn(tctx)
		done <- result{v, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-tctx.Done():
		r.err = tctx.Err()
	case <-refused:
		// kgo may retry until the deadline, but the same credentials
		// and certificates will be refused again: end now.
		if r.err = c.dials.authErr(); r.err == nil {
			r.err = errSASLClosed
		}
	}
	if r.err == nil {
		return r.v, nil
	}
	var zero T
	if ctx.Err() != nil {
		return zero, ctx.Err() // the caller gave up (Ctrl-C): not a broker problem
	}
	if cause := c.connectCause(r.err, tctx.Err() != nil); cause != nil {
		return zero, &bus.ConnectError{Transport: transport, Addr: c.addr, Err: cause}
	}
	return zero, c.scrub(r.err)
}

// connectCause returns a short, password-free cause when err means the cluster
// could not be reached or refused us, and nil otherwise.
func (c *Client) connectCause(err error, timedOut bool) error {
	if kc := c.kerberosCause(err); kc != nil {
		return kc
	}
	if ac := c.authCause(err); ac != nil {
		return ac
	}
	if c.mechanism() != nil && c.dials.saslFailed() {
		return c.saslClosedCause(err)
	}
	if timedOut || errors.Is(err, context.DeadlineExceeded) {
		// The hook saw why dials failed; a bare "deadline exceeded" says less.
		if d := c.dials.last(); d != nil {
			if ac := c.authCause(d); ac != nil {
				return ac
			}
			if dc := dialCause(d, c.redact); dc != nil {
				return dc
			}
		}
		msg := fmt.Sprintf("no answer within %v", c.cfg.dialTimeout)
		if c.cfg.tls != nil {
			// A plaintext listener waits for more of what it takes for a
			// request and never answers a TLS hello.
			msg += " (is the listener plaintext? then connect without TLS)"
		}
		return &cause{msg: msg, err: err}
	}
	if dc := dialCause(err, c.redact); dc != nil {
		return dc
	}
	return nil
}

// dialCause classifies network-level failures.
func dialCause(err error, redact func(string) string) error {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &cause{msg: "connection refused", err: err}
	case errors.As(err, &dnsErr):
		return &cause{msg: "unknown host " + dnsErr.Name, err: err}
	case errors.As(err, &certErr):
		return &cause{msg: "TLS: " + redact(certErr.Err.Error()), err: err}
	case errors.As(err, &recErr):
		return &cause{msg: "TLS handshake failed: the broker does not speak TLS on this port", err: err}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &cause{msg: "connection closed by the broker (does the listener expect TLS or SASL?)", err: err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &cause{msg: "timed out connecting", err: err}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return &cause{msg: "host unreachable", err: err}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return &cause{msg: redact(opErr.Err.Error()), err: err}
	}
	return nil
}

// cause is a ConnectError's short message that still unwraps to the original
// error, so errors.Is(err, syscall.ECONNREFUSED) keeps working.
type cause struct {
	msg string
	err error
}

func (e *cause) Error() string { return e.msg }
func (e *cause) Unwrap() error { return e.err }

// redact removes the SASL password from s. Brokers and franz-go never put it
// in a message; this is a second line of defence. Very short passwords are not
// searched for, since replacing every occurrence of, say, "a" would garble
// messages without protecting anything.
func (c *Client) redact(s string) string {
	if len(c.cfg.saslPass) < 4 {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.saslPass, "***")
}

// scrub returns err unchanged unless its message contains the password.
func (c *Client) scrub(err error) error {
	if err == nil {
		return nil
	}
	if s := err.Error(); c.redact(s) != s {
		return errors.New(c.redact(s))
	}
	return err
}

// dialWatch remembers how the most recent connection attempt failed, so that
// a timeout can say what went wrong ("connection refused") instead of
// "deadline exceeded", a closed connection can be told apart from a
// rejected password, and an authentication failure ends the wait at once
// (see auth.go).
type dialWatch struct {
	err  atomic.Pointer[error]
	sasl atomic.Bool           // the last attempt failed in the SASL exchange
	auth atomic.Pointer[error] // the latest authentication failure

	mu     sync.Mutex
	authCh chan struct{} // closed at the next authentication failure
}

// errSASLClosed stands for the error of a connection the broker closed during
// SASL, when connect stops waiting for kgo's retries.
var errSASLClosed = errors.New("connection closed during SASL authentication")

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (d *dialWatch) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		d.err.Store(&err)
		if isAuthFailure(err) {
			d.auth.Store(&err)
			d.signal()
		}
	} else {
		d.err.Store(nil)
		d.sasl.Store(false)
	}
}

// OnBrokerRead implements kgo.HookBrokerRead: a failed read of a
// SaslHandshake (17) or SaslAuthenticate (36) response is a rejected login.
func (d *dialWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && (key == 17 || key == 36) {
		d.sasl.Store(true)
		d.signal()
	}
}

// signal closes the channel authFailures returned.
func (d *dialWatch) signal() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.authCh != nil {
		close(d.authCh)
		d.authCh = nil
	}
}

// authFailures returns a channel that is closed at the next authentication
// failure (a refused SASL login, a connection closed during SASL, a failed
// TLS handshake).
func (d *dialWatch) authFailures() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.authCh == nil {
		d.authCh = make(chan struct{})
	}
	return d.authCh
}

// authErr is the latest refused login or failed handshake, nil when the
// only failure seen is a connection closed during SASL.
func (d *dialWatch) authErr() error {
	if p := d.auth.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *dialWatch) last() error {
	if p := d.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *dialWatch) saslFailed() bool { return d.sasl.Load() }

// redactWriter is the debug log's writer: it serializes lines from kgo's
// goroutines and removes the password.
type redactWriter struct {
	mu     sync.Mutex
	w      io.Writer
	secret string
}

func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.secret) >= 4 && strings.Contains(string(p), r.secret) {
		if _, err := io.WriteString(r.w, strings.ReplaceAll(string(p), r.secret, "***")); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return r.w.Write(p)
}

// GroupActiveError refuses to read as a consumer group that has active
// members: joining would take partitions from them, and their records would be
// read (and committed) by eddy instead. ReadOptions.Force overrides it.
type GroupActiveError struct {
	Group   string
	Members int
}

func (e *GroupActiveError) Error() string {
	members := "members"
	if e.Members == 1 {
		members = "member"
	}
	return fmt.Sprintf("kafka: group %q has %d active %s; reading as it would steal their partitions (use --force)", e.Group, e.Members, members)
}
