package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/kerberos"
)

// DefaultKerberosService is the first part of the brokers' service principal
// (SERVICE/HOST@REALM) when Kerberos.ServiceName is empty: Kafka's and
// librdkafka's default (sasl.kerberos.service.name).
const DefaultKerberosService = "kafka"

// Kerberos is how to log in with SASL GSSAPI (Kerberos v5), for WithKerberos:
// a keytab, or a credential cache that kinit filled, and the krb5.conf that
// says where the realm's KDCs are.
type Kerberos struct {
	// Principal is the client, user or user@REALM (the realm defaults to
	// krb5.conf's default_realm). A Keytab needs it; with a CCache it
	// defaults to the cache's principal and, when given, must be it.
	Principal string
	// Keytab is a keytab file holding the principal's keys. Give a Keytab
	// or a CCache, not both.
	Keytab string
	// CCache is a credential cache file ("FILE:" prefix allowed), as kinit
	// writes it. A renewable TGT (kinit -r) is renewed with the KDC, in
	// memory, once five sixths of its life have passed, until its renew
	// limit; when the TGT has expired, the file is read again, so that a
	// kinit (or k5start, or a sidecar) that refreshed it meanwhile is
	// taken at the next login. Without either, the next login after the
	// expiry fails, saying the tickets expired.
	CCache string
	// Config is the krb5.conf file (required): the realms and their KDCs.
	Config string
	// ServiceName is the brokers' service, the SERVICE of their principal
	// SERVICE/HOST@REALM; empty means DefaultKerberosService.
	ServiceName string
	// Host, when set, is the HOST of the service principal for every
	// broker. Empty: each broker's host as eddy dials it, the bootstrap
	// address as given for the first connection and the host a broker
	// advertises after that (no DNS canonicalization, like librdkafka).
	Host string
}

// WithKerberos authenticates with SASL GSSAPI as k says. New reads the
// krb5.conf and the keytab or credential cache, and fails on a missing or
// unreadable file; the KDC is first asked when a broker is. Keys are never
// written to an error or to the debug log.
func WithKerberos(k Kerberos) Option {
	return func(o *cfg) {
		o.saslMech, o.kerberos = "GSSAPI", &k
	}
}

// krbLogin is a loaded Kerberos login, shared by every kgo client of a
// Client (its Sources and Sinks too): one gokrb5 client keeps the TGT and the
// service tickets.
type krbLogin struct {
	k    Kerberos
	who  string         // principal@REALM, for messages
	cl   *client.Client // the keytab's, for keytabHolds; no login is made with it
	conf *krbconfig.Config
	// The keytab and its principal: what each mechanism's own gokrb5
	// client is made from (newClient).
	user, realm string
	kt          *keytab.Keytab
	last        atomic.Pointer[kerberosError] // the last failed login, nil after a success

	mu     sync.Mutex
	cc     *credentials.CCache // the credential cache's tickets now: replaced by reload
	tgtEnd time.Time           // the end of cc's TGT
	gen    int                 // counts reloads: a mechanism whose client is older makes a new one
}

// cache is the credential cache's tickets now, and their generation.
func (l *krbLogin) cache() (*credentials.CCache, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cc, l.gen
}

// validateKerberos loads the files of cfg's Kerberos login.
func (c *cfg) validateKerberos() error {
	if c.kerberos == nil {
		return fmt.Errorf("kafka: SASL mechanism %q needs Kerberos settings: a keytab or a credential cache, and a krb5.conf", c.saslMech)
	}
	l, err := loadKerberos(*c.kerberos)
	if err != nil {
		return err
	}
	c.krb = l
	return nil
}

func loadKerberos(k Kerberos) (*krbLogin, error) {
	if k.ServiceName == "" {
		k.ServiceName = DefaultKerberosService
	}
	k.CCache = strings.TrimPrefix(k.CCache, "FILE:")
	switch {
	case k.Config == "":
		return nil, errors.New("kafka: Kerberos needs a krb5.conf (--sasl-kerberos-config or KRB5_CONFIG)")
	case k.Keytab != "" && k.CCache != "":
		return nil, errors.New("kafka: Kerberos: give a keytab or a credential cache, not both")
	case k.Keytab == "" && k.CCache == "":
		return nil, errors.New("kafka: Kerberos needs a keytab (--sasl-kerberos-keytab) or a credential cache (--sasl-kerberos-ccache or KRB5CCNAME, as kinit made it)")
	case k.Keytab != "" && k.Principal == "":
		return nil, fmt.Errorf("kafka: Kerberos keytab %s: which principal? (--sasl-kerberos-principal)", k.Keytab)
	case strings.ContainsAny(k.ServiceName, "/@ \t"):
		return nil, fmt.Errorf("kafka: Kerberos service name %q: want a bare name such as kafka", k.ServiceName)
	case strings.ContainsAny(k.Host, "/@ \t"):
		return nil, fmt.Errorf("kafka: Kerberos host %q: want a bare host name", k.Host)
	}
	if i := strings.IndexByte(k.CCache, ':'); i > 0 && !strings.ContainsAny(k.CCache[:i], "/.") {
		// KEYRING:, KCM:, DIR:, API: name caches gokrb5 cannot read.
		return nil, fmt.Errorf("kafka: Kerberos credential cache %s: only FILE: caches are supported (run kinit with KRB5CCNAME=FILE:/some/path)", k.CCache)
	}
	raw, err := os.ReadFile(k.Config)
	if err != nil {
		return nil, fmt.Errorf("kafka: Kerberos config %s: %v", k.Config, fileErr(err))
	}
	conf, err := krbconfig.NewFromString(string(raw))
	var unsupported krbconfig.UnsupportedDirective
	if err != nil && !errors.As(err, &unsupported) {
		// gokrb5 reports, and skips, the directives it does not know:
		// the rest of a krb5.conf written for MIT or Heimdal still holds.
		return nil, fmt.Errorf("kafka: Kerberos config %s: %v", k.Config, err)
	}
	l := &krbLogin{k: k, conf: conf}
	if k.Keytab != "" {
		kt, err := keytab.Load(k.Keytab)
		if err != nil {
			return nil, fmt.Errorf("kafka: Kerberos keytab %s: %v", k.Keytab, fileErr(err))
		}
		user, realm := splitPrincipal(k.Principal)
		if realm == "" {
			realm = conf.LibDefaults.DefaultRealm
		}
		if realm == "" {
			return nil, fmt.Errorf("kafka: Kerberos principal %q has no @REALM and %s sets no default_realm", k.Principal, k.Config)
		}
		l.who = user + "@" + realm
		l.user, l.realm, l.kt = user, realm, kt
		l.cl = client.NewWithKeytab(user, realm, kt, conf, client.DisablePAFXFAST(true))
		return l, nil
	}
	cc, err := credentials.LoadCCache(k.CCache)
	if err != nil {
		return nil, fmt.Errorf("kafka: Kerberos credential cache %s: %v", k.CCache, fileErr(err))
	}
	l.who = cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
	if k.Principal != "" {
		want := k.Principal
		if _, realm := splitPrincipal(want); realm == "" {
			want += "@" + cc.DefaultPrincipal.Realm
		}
		if want != l.who {
			return nil, fmt.Errorf("kafka: Kerberos credential cache %s holds the tickets of %s, not of %s", k.CCache, l.who, want)
		}
	}
	if l.cl, err = client.NewFromCCache(cc, conf, client.DisablePAFXFAST(true)); err != nil {
		return nil, fmt.Errorf("kafka: Kerberos credential cache %s: %v (run kinit again)", k.CCache, err)
	}
	// A client made from a cache has a session, and a goroutine renewing
	// it, from the start: this one only checked the cache. Each mechanism
	// handed to kgo makes its own (newClient) and destroys it on Close.
	l.cl.Destroy()
	l.cc, l.tgtEnd = cc, tgtEnd(cc)
	return l, nil
}

// tgtEnd is when the TGT of cc's principal ends (zero: none).
func tgtEnd(cc *credentials.CCache) time.Time {
	realm := cc.DefaultPrincipal.Realm
	for _, c := range cc.GetEntries() {
		if n := c.Server.PrincipalName.NameString; len(n) == 2 && n[0] == "krbtgt" && n[1] == realm {
			return c.EndTime
		}
	}
	return time.Time{}
}

// reload reads the credential cache again after a failed login, and takes
// its tickets when they are of the same principal and its TGT lasts longer
// than the one in use, and has not ended: gokrb5 reads a cache once, where
// MIT's library reads it at each use, so a kinit during a long run would
// otherwise go unseen. It reports whether newer tickets are in place (each
// mechanism then makes its gokrb5 client again from them).
func (l *krbLogin) reload() bool {
	if l.k.CCache == "" {
		return false
	}
	cc, err := credentials.LoadCCache(l.k.CCache)
	if err != nil || cc.DefaultPrincipal.PrincipalName.PrincipalNameString()+"@"+cc.DefaultPrincipal.Realm != l.who {
		return false
	}
	end := tgtEnd(cc)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !end.After(l.tgtEnd) || !end.After(time.Now()) {
		return false
	}
	l.cc, l.tgtEnd = cc, end
	l.gen++
	return true
}

// fileErr keeps the part of a gokrb5 load error that says what is wrong with
// the file: its messages already name the path.
func fileErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// splitPrincipal splits user@REALM at its last @.
func splitPrincipal(p string) (user, realm string) {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

// kerberosMechanism is the SASL GSSAPI mechanism of the Client's login.
func (c *Client) kerberosMechanism() sasl.Mechanism {
	return &krbMech{login: c.cfg.krb, dials: c.dials}
}

// newClient is a gokrb5 client of the login, not yet logged in: from the
// keytab, or from the credential cache's tickets now; gen is their
// generation.
func (l *krbLogin) newClient() (cl *client.Client, gen int, err error) {
	if l.kt != nil {
		return client.NewWithKeytab(l.user, l.realm, l.kt, l.conf, client.DisablePAFXFAST(true)), 0, nil
	}
	cc, gen := l.cache()
	cl, err = client.NewFromCCache(cc, l.conf, client.DisablePAFXFAST(true))
	return cl, gen, err
}

// krbMech is franz-go's GSSAPI mechanism with eddy's choice of the broker host
// in the service principal, and login failures explained and reported at once
// (kgo would otherwise retry them until the dial timeout).
//
// Each kgo client gets its own krbMech (baseOpts), and with it, at its first
// login, its own gokrb5 client, which Close (kgo calls it when the kgo client
// closes) destroys: gokrb5 renews a login's ticket in a goroutine of its own
// until then, and a client never destroyed left that goroutine, holding the
// keytab's keys, behind every eddy client a long-lived process closed.
type krbMech struct {
	login *krbLogin
	dials *dialWatch

	mu     sync.Mutex
	cl     *client.Client // made at the first login
	gen    int            // the generation of the cache cl was made from
	inner  sasl.Mechanism
	closed bool
}

func (m *krbMech) Name() string { return "GSSAPI" }

// mechanism is franz-go's GSSAPI mechanism over m's gokrb5 client, made on
// first use, and made again from the credential cache's newer tickets after
// a reload.
func (m *krbMech) mechanism() (sasl.Mechanism, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("kafka: Kerberos: the client is closed")
	}
	if _, gen := m.login.cache(); m.inner != nil && m.login.kt == nil && gen != m.gen {
		m.cl.Destroy()
		m.cl, m.inner = nil, nil
	}
	if m.inner == nil {
		cl, gen, err := m.login.newClient()
		if err != nil {
			return nil, err
		}
		m.cl, m.gen = cl, gen
		m.inner = kerberos.Auth{Client: cl, Service: m.login.k.ServiceName}.AsMechanism()
	}
	return m.inner, nil
}

// Close implements sasl.ClosingMechanism: it ends the gokrb5 client's
// sessions and their renewal goroutines.
func (m *krbMech) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.cl != nil {
		m.cl.Destroy()
		m.cl = nil
	}
}

func (m *krbMech) Authenticate(ctx context.Context, addr string) (sasl.Session, []byte, error) {
	inner, err := m.mechanism()
	if err != nil {
		return nil, nil, err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	if m.login.k.Host != "" {
		host = m.login.k.Host
	}
	// franz-go's mechanism takes host:port and keeps the host.
	s, first, err := inner.Authenticate(ctx, net.JoinHostPort(host, port))
	if err != nil && m.login.reload() {
		// The cache file holds newer tickets than those that failed.
		if inner, err = m.mechanism(); err == nil {
			s, first, err = inner.Authenticate(ctx, net.JoinHostPort(host, port))
		}
	}
	if err != nil {
		ke := m.login.explain(err, m.login.k.ServiceName+"/"+host)
		m.login.last.Store(ke)
		m.dials.failSASL()
		return nil, nil, ke
	}
	m.login.last.Store(nil)
	return s, first, nil
}

// failSASL tells connect that a SASL exchange failed, as a failed read of a
// SASL response does.
func (d *dialWatch) failSASL() {
	d.sasl.Store(true)
	d.signal()
}

// kerberosError is a failed Kerberos login or service ticket, explained.
type kerberosError struct {
	msg  string
	auth bool // the KDC refused us (not: could not be reached)
	err  error
}

func (e *kerberosError) Error() string { return e.msg }
func (e *kerberosError) Unwrap() error { return e.err }

// kerberosCause is the connect cause of a failed Kerberos login: err itself,
// or the last failure the mechanism saw when connect gave up waiting.
func (c *Client) kerberosCause(err error) error {
	if c.cfg.krb == nil {
		return nil
	}
	var ke *kerberosError
	if !errors.As(err, &ke) {
		if ke = c.cfg.krb.last.Load(); ke == nil {
			return nil
		}
	}
	msg := ke.msg
	if ke.auth {
		msg = "authentication failed: " + msg
	}
	return &cause{msg: msg, err: ke}
}

// explain turns gokrb5's error chains ("[Root cause: KDC_Error] KDC_Error:
// AS Exchange Error: kerberos error response from KDC: KRB Error: (24)
// KDC_ERR_PREAUTH_FAILED ...") into a sentence that says what to check.
func (l *krbLogin) explain(err error, spn string) *kerberosError {
	s := err.Error()
	src := "the keytab " + l.k.Keytab
	if l.k.Keytab == "" {
		src = "the credential cache " + l.k.CCache
	}
	login := "Kerberos login as " + l.who + " with " + src + ": "
	e := &kerberosError{auth: true, err: err}
	switch {
	case strings.Contains(s, "KDC_ERR_S_PRINCIPAL_UNKNOWN"):
		e.msg = fmt.Sprintf("Kerberos: the KDC knows no service principal %s (the brokers' SERVICE/HOST: check --sasl-kerberos-service-name and --sasl-kerberos-host)", spn)
	case strings.Contains(s, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		e.msg = login + "the KDC knows no principal " + l.who
	case strings.Contains(s, "matching key not found in keytab"):
		e.msg = login + "it has no key for " + l.who + l.keytabHolds()
	case strings.Contains(s, "KDC_ERR_PREAUTH_FAILED"), strings.Contains(s, "integrity verification failed"),
		strings.Contains(s, "KRB_AP_ERR_BAD_INTEGRITY"):
		e.msg = login + "the KDC refused its key (KDC_ERR_PREAUTH_FAILED: a keytab exported before the principal's key changed, or one of another principal?)"
	case strings.Contains(s, "no valid existing session"), strings.Contains(s, "KRB_AP_ERR_TKT_EXPIRED"),
		strings.Contains(s, "no user credentials available"):
		e.msg = login + "its tickets have expired (run kinit again)"
	case strings.Contains(s, "SKEW"):
		e.msg = login + "the clocks of this machine and of the KDC differ too much"
	case strings.Contains(s, "Networking_Error"), strings.Contains(s, "failed to communicate with KDC"),
		strings.Contains(s, "error sending to KDC"):
		e.auth = false
		e.msg = "Kerberos: cannot reach a KDC of realm " + realmOf(l.who) + " (the kdc lines of " + l.k.Config + ")"
	default:
		e.msg = login + rootCause(s)
	}
	return e
}

// keytabHolds lists the principals a keytab has keys for, " (it holds a, b)":
// names only, never keys.
func (l *krbLogin) keytabHolds() string {
	if l.k.Keytab == "" || l.cl.Credentials == nil || !l.cl.Credentials.HasKeytab() {
		return ""
	}
	seen := map[string]bool{}
	for _, e := range l.cl.Credentials.Keytab().Entries {
		seen[strings.Join(e.Principal.Components, "/")+"@"+e.Principal.Realm] = true
	}
	if len(seen) == 0 {
		return " (it is empty)"
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 3 {
		names = append(names[:3], "…")
	}
	return " (it holds " + strings.Join(names, ", ") + ")"
}

func realmOf(who string) string {
	_, r := splitPrincipal(who)
	return r
}

// rootCause is the last link of a gokrb5 error chain, the one that says why.
func rootCause(s string) string {
	if i := strings.LastIndex(s, "KRB Error: "); i >= 0 {
		return s[i+len("KRB Error: "):]
	}
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}
