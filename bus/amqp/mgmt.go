package amqp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eddy-sh/eddy/bus"
)

// mgmtClient is the little of the RabbitMQ management HTTP API that eddy needs:
// queue types, arguments and rates, bindings (to tap), and whether the firehose
// is on. Credentials travel in the Authorization header only, so no URL built
// here holds a password.
type mgmtClient struct {
	c          *Client
	base       string // scheme://host:port[/prefix], no userinfo, no trailing slash
	user, pass string
	hc         *http.Client

	// A management API that accepted a connection and never answered costs a
	// whole --timeout per request; a command asks it several things in a row,
	// so after one such request the next ones fail at once with the same
	// error until deadUntil. The bound is then --timeout per command step,
	// not per request, and a long-running reader (lag --watch) asks again
	// once deadUntil passed.
	mu        sync.Mutex
	dead      *mgmtError
	deadUntil time.Time
}

func newMgmt(c *Client) (*mgmtClient, error) {
	m := &mgmtClient{c: c, user: c.uri.Username, pass: c.uri.Password}
	if c.external {
		// A certificate login has no password to give the API (which takes
		// none but basic auth): only the management URL's credentials, if any.
		m.user, m.pass = "", ""
	}
	if c.cfg.mgmtURL == "" {
		scheme, port := "http", "15672"
		if c.uri.Scheme == "amqps" {
			scheme, port = "https", "15671"
		}
		m.base = scheme + "://" + net.JoinHostPort(c.uri.Host, port)
	} else {
		u, err := url.Parse(c.cfg.mgmtURL) // validated by cfg.validate
		if err != nil {
			return nil, fmt.Errorf("amqp: management URL %s: malformed", Redact(c.cfg.mgmtURL))
		}
		if u.User != nil {
			m.user = u.User.Username()
			if p, ok := u.User.Password(); ok {
				m.pass = p
				c.secrets = append(c.secrets, secretForms(p)...)
			}
			u.User = nil
		}
		u.RawQuery, u.Fragment = "", ""
		m.base = strings.TrimRight(u.String(), "/")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: c.cfg.dialTimeout}).DialContext
	tr.TLSHandshakeTimeout = c.cfg.dialTimeout
	tr.ResponseHeaderTimeout = c.cfg.dialTimeout
	if c.cfg.tls != nil {
		tr.TLSClientConfig = c.cfg.tls.Clone()
		// A server name set for the AMQP host does not fit another API host.
		if u, err := url.Parse(m.base); err == nil && u.Hostname() != c.uri.Host {
			tr.TLSClientConfig.ServerName = ""
		}
	}
	m.hc = &http.Client{Transport: tr}
	return m, nil
}

// mgmtError is a failed management API request. Status is 0 when the API
// could not be reached at all.
type mgmtError struct {
	base   string
	Status int
	msg    string
	err    error
	// untrusted: the API's TLS certificate failed verification.
	untrusted bool
}

func (e *mgmtError) Error() string {
	if e.untrusted {
		return fmt.Sprintf("the management API at %s: %s", e.base, e.msg)
	}
	if e.Status == 0 {
		return fmt.Sprintf("the management API at %s is unreachable (%s)", e.base, e.msg)
	}
	return fmt.Sprintf("the management API at %s answered %d: %s", e.base, e.Status, e.msg)
}

// Unwrap returns ErrManagement, the cause, and bus.ErrConnect when the API
// could not be reached at all (a connect failure, exit 4, like a broker's).
func (e *mgmtError) Unwrap() []error {
	errs := []error{ErrManagement}
	if e.Status == 0 {
		errs = append(errs, bus.ErrConnect)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// unusable reports a failure that is about the API, not about what was asked:
// callers fall back to AMQP (passive declares) or explain what needs the API.
func (e *mgmtError) unusable() bool {
	if e.untrusted {
		return false // fail closed: see get
	}
	return e.Status == 0 || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status >= 500
}

// isMgmtUntrusted reports a management API whose TLS certificate failed
// verification: every caller fails closed on it, even those that otherwise go
// on without the API.
func isMgmtUntrusted(err error) bool {
	var me *mgmtError
	return errors.As(err, &me) && me.untrusted
}

func isMgmtUnusable(err error) bool {
	var me *mgmtError
	return errors.As(err, &me) && me.unusable()
}

var errMgmtNotFound = errors.New("not found")

func (m *mgmtClient) path(parts ...string) string {
	var b strings.Builder
	b.WriteString("/api")
	for _, p := range parts {
		b.WriteByte('/')
		// PathEscape leaves nothing that would split a segment: vhost "/" is %2F.
		b.WriteString(strings.ReplaceAll(url.PathEscape(p), "/", "%2F"))
	}
	return b.String()
}

func (m *mgmtClient) vhost() string { return m.c.uri.Vhost }

// get fetches path (already escaped) and decodes the JSON answer into out.
//
// The whole request, answer included, is bounded by the client's timeout
// (--timeout): a server that accepts and never answers ends it then.
func (m *mgmtClient) get(ctx context.Context, path string, out any) error {
	m.mu.Lock()
	dead, until := m.dead, m.deadUntil
	m.mu.Unlock()
	if dead != nil && time.Now().Before(until) {
		m.c.logf("GET %s%s: skipped: %s", m.base, path, dead.msg)
		return dead
	}
	timeout := m.c.cfg.dialTimeout
	// start is taken before the deadline is set, so that a deadline of our
	// own is never mistaken below for a caller's earlier one (under load the
	// request can take a few ms to build).
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return &mgmtError{base: m.base, msg: "bad request: " + scrub(err.Error(), m.c.secrets)}
	}
	if m.user != "" {
		req.SetBasicAuth(m.user, m.pass)
	}
	req.Header.Set("Accept", "application/json")
	unanswered := func(prefix string, err error) error {
		took := time.Since(start)
		me := &mgmtError{base: m.base, msg: prefix + scrub(netCause(err, took), m.c.secrets), err: err}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			// Say the bound that was hit, not a few milliseconds past it.
			me.msg = fmt.Sprintf("%sno answer within %s (--timeout)", prefix, timeout)
			if d, ok := ctx.Deadline(); ok && d.Sub(start) < timeout-time.Millisecond {
				me.msg = fmt.Sprintf("%sno answer within %s", prefix, took.Round(time.Millisecond))
			}
			m.mu.Lock()
			m.dead, m.deadUntil = me, time.Now().Add(timeout)
			m.mu.Unlock()
		}
		m.c.logf("GET %s%s: %s", m.base, path, me.msg)
		return me
	}
	resp, err := m.hc.Do(req)
	if err != nil && isUntrusted(err) {
		// Fail closed: not a reason to fall back to AMQP quietly but a
		// misconfiguration, or someone else's server, to say at once.
		me := &mgmtError{base: m.base, msg: untrusted("the management API's", err), err: err, untrusted: true}
		m.c.logf("GET %s%s: %s", m.base, path, me.msg)
		return me
	}
	if err != nil {
		return unanswered("", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	m.c.logf("GET %s%s: %d (%d bytes, %s)", m.base, path, resp.StatusCode, len(body), time.Since(start).Round(time.Millisecond))
	if err != nil {
		return unanswered("reading the answer: ", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return errMgmtNotFound
	case http.StatusUnauthorized:
		msg := "the username or password was refused, or the user lacks the management or monitoring tag"
		if m.user == "" {
			msg = "it needs a user and password (a client certificate login has none to lend it): put them in the management URL, https://USER:PASSWORD@HOST:15671"
		}
		return &mgmtError{base: m.base, Status: resp.StatusCode, err: ErrAuth, msg: msg}
	default:
		var why struct{ Error, Reason string }
		_ = json.Unmarshal(body, &why)
		msg := strings.TrimSpace(why.Error + ": " + why.Reason)
		if why.Reason == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &mgmtError{base: m.base, Status: resp.StatusCode, msg: scrub(msg, m.c.secrets)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &mgmtError{base: m.base, Status: resp.StatusCode, msg: "unexpected answer (is this the management API?): " + err.Error()}
	}
	return nil
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func netCause(err error, took time.Duration) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "gave up: context canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within " + took.Round(time.Millisecond).String()
	case errors.As(err, &dnsErr):
		return "unknown host " + strconv.Quote(dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "no answer within " + took.Round(time.Millisecond).String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error() // url.Error repeats the URL; the cause is enough
	}
	return err.Error()
}

// jsonObject accepts {} and also [], which older management APIs send for an
// empty arguments or policy table.
type jsonObject map[string]any

func (o *jsonObject) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		*o = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	*o = m
	return nil
}

type mgmtRate struct {
	Rate *float64 `json:"rate"`
}

type mgmtQueue struct {
	Name                   string     `json:"name"`
	Vhost                  string     `json:"vhost"`
	Type                   string     `json:"type"`
	Messages               int64      `json:"messages"`
	MessagesReady          int64      `json:"messages_ready"`
	MessagesUnacknowledged int64      `json:"messages_unacknowledged"`
	Consumers              int64      `json:"consumers"`
	Arguments              jsonObject `json:"arguments"`
	Policy                 jsonObject `json:"effective_policy_definition"`
	MessageStats           *struct {
		Publish    *mgmtRate `json:"publish_details"`
		DeliverGet *mgmtRate `json:"deliver_get_details"`
		Ack        *mgmtRate `json:"ack_details"`
	} `json:"message_stats"`
}

// kind is the queue type: "classic", "quorum" or "stream".
func (q *mgmtQueue) kind() string {
	if q.Type != "" {
		return q.Type
	}
	if t, ok := q.Arguments["x-queue-type"].(string); ok {
		return t
	}
	return "classic"
}

// setting returns a queue argument, or the policy key that sets the same thing
// (an x-argument wins over a policy, as in RabbitMQ).
func (q *mgmtQueue) setting(arg, policyKey string) (any, bool) {
	if v, ok := q.Arguments[arg]; ok {
		return v, true
	}
	v, ok := q.Policy[policyKey]
	return v, ok
}

func (q *mgmtQueue) deliveryLimit() (int64, bool) {
	v, ok := q.setting("x-delivery-limit", "delivery-limit")
	if !ok {
		return 0, false
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i, true
		}
	}
	return 0, false
}

func (q *mgmtQueue) info(vhost string) QueueInfo {
	qi := QueueInfo{Name: q.Name, Vhost: q.Vhost, Type: q.kind(), Ready: q.MessagesReady, Unacked: q.MessagesUnacknowledged,
		Consumers: q.Consumers, Via: "management"}
	if qi.Vhost == "" {
		qi.Vhost = vhost
	}
	if v, ok := q.setting("x-dead-letter-exchange", "dead-letter-exchange"); ok {
		qi.DeadLetterExchange, _ = v.(string)
	}
	if s := q.MessageStats; s != nil {
		rate := func(r *mgmtRate) *float64 {
			if r == nil {
				return nil
			}
			return r.Rate
		}
		qi.PublishRate, qi.DeliverRate, qi.AckRate = rate(s.Publish), rate(s.DeliverGet), rate(s.Ack)
	}
	return qi
}

func (m *mgmtClient) queue(ctx context.Context, name string) (*mgmtQueue, error) {
	var q mgmtQueue
	err := m.get(ctx, m.path("queues", m.vhost(), name), &q)
	if errors.Is(err, errMgmtNotFound) {
		return nil, &bus.NotFoundError{Transport: "amqp", Kind: "queue", Name: name, Hint: "in vhost " + strconv.Quote(m.vhost())}
	}
	if err != nil {
		return nil, err
	}
	return &q, nil
}

const queueColumns = "name,vhost,type,messages,messages_ready,messages_unacknowledged,consumers,arguments," +
	"effective_policy_definition,message_stats.publish_details.rate,message_stats.deliver_get_details.rate,message_stats.ack_details.rate"

func (m *mgmtClient) queues(ctx context.Context) ([]mgmtQueue, error) {
	var qs []mgmtQueue
	err := m.get(ctx, m.path("queues", m.vhost())+"?columns="+queueColumns, &qs)
	if errors.Is(err, errMgmtNotFound) {
		return nil, &bus.NotFoundError{Transport: "amqp", Kind: "vhost", Name: m.vhost()}
	}
	return qs, err
}

type mgmtBinding struct {
	Source          string     `json:"source"`
	Destination     string     `json:"destination"`
	DestinationType string     `json:"destination_type"`
	RoutingKey      string     `json:"routing_key"`
	Arguments       jsonObject `json:"arguments"`
}

func (m *mgmtClient) bindings(ctx context.Context, queue string) ([]mgmtBinding, error) {
	var bs []mgmtBinding
	err := m.get(ctx, m.path("queues", m.vhost(), queue, "bindings"), &bs)
	if errors.Is(err, errMgmtNotFound) {
		return nil, &bus.NotFoundError{Transport: "amqp", Kind: "queue", Name: queue}
	}
	return bs, err
}

// tracing reports whether the vhost's firehose tracer is on.
func (m *mgmtClient) tracing(ctx context.Context) (bool, error) {
	var v struct {
		Tracing bool `json:"tracing"`
	}
	err := m.get(ctx, m.path("vhosts", m.vhost()), &v)
	if errors.Is(err, errMgmtNotFound) {
		return false, &bus.NotFoundError{Transport: "amqp", Kind: "vhost", Name: m.vhost()}
	}
	return v.Tracing, err
}
