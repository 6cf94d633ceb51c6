// Package amqptest gives tests a real RabbitMQ: the broker's URL from the
// environment (skipping, or failing in CI, without one) and throwaway topology
// that is deleted when the test ends. bus/amqp's tests and eddy's CLI tests use
// it alike.
package amqptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// URL returns the AMQP URL of the test broker, from EDDY_TEST_AMQP. Without
// it the test is skipped with a reason that says how to get a broker — unless
// CI is true, where a missing broker fails the test rather than letting a
// green run hide untested code.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("EDDY_TEST_AMQP")
	if u == "" {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal("EDDY_TEST_AMQP is not set and CI=true: a missing RabbitMQ fails CI (eval \"$(scripts/brokers.sh up)\")")
		}
		t.Skip("EDDY_TEST_AMQP is not set: skipping a RabbitMQ test (eval \"$(scripts/brokers.sh up)\" to run it)")
	}
	return u
}

// TLSBroker is the test broker's TLS side, set up by scripts/brokers.sh on the
// node EDDY_TEST_AMQP reaches (so topology made through URL is there too).
type TLSBroker struct {
	// URL is amqps:// with guest's user and password (PLAIN over TLS).
	URL string
	// ManagementURL is the management API over HTTPS, without credentials.
	ManagementURL string
	// Dir holds ca.pem, which signs the broker's certificate (localhost,
	// 127.0.0.1) and the clients'; client.pem/client.key, whose CN is a
	// RabbitMQ user that logs in with EXTERNAL (ExternalUser);
	// stranger.pem/stranger.key, whose CN is no user; and other-ca.pem, a CA
	// that signed none of them.
	Dir string
}

// ExternalUser is the RabbitMQ user named by the CN of TLSBroker's client.pem.
const ExternalUser = "eddy-tls-client"

// File returns the path of one of the broker's certificate files (see Dir).
func (b TLSBroker) File(name string) string { return filepath.Join(b.Dir, name) }

// TLS returns the test broker's TLS side, from EDDY_TEST_AMQPS,
// EDDY_TEST_AMQPS_MGMT and EDDY_TEST_TLS_DIR. Without them the test is skipped
// with the reason, or fails when CI is true, like URL.
func TLS(t testing.TB) TLSBroker {
	t.Helper()
	URL(t)
	b := TLSBroker{URL: os.Getenv("EDDY_TEST_AMQPS"), ManagementURL: strings.TrimRight(os.Getenv("EDDY_TEST_AMQPS_MGMT"), "/"), Dir: os.Getenv("EDDY_TEST_TLS_DIR")}
	if b.URL == "" || b.ManagementURL == "" || b.Dir == "" {
		const why = "EDDY_TEST_AMQPS, EDDY_TEST_AMQPS_MGMT and EDDY_TEST_TLS_DIR are not all set (a RabbitMQ with TLS listeners, from scripts/brokers.sh up)"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(why + " and CI=true: a missing TLS broker fails CI")
		}
		t.Skip(why + ": skipping a RabbitMQ TLS test")
	}
	return b
}

// ManagementURL returns the test broker's management API base URL, from
// EDDY_TEST_AMQP_MGMT, or else http://HOST:15672 for URL's host. Credentials
// are not in it: use the AMQP URL's (see Get).
func ManagementURL(t testing.TB, amqpURL string) string {
	t.Helper()
	if m := os.Getenv("EDDY_TEST_AMQP_MGMT"); m != "" {
		return strings.TrimRight(m, "/")
	}
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatalf("amqptest: bad AMQP URL")
	}
	return "http://" + u.Hostname() + ":15672"
}

// Dial connects to the broker and closes the connection when the test ends.
func Dial(t testing.TB, amqpURL string) *amqp091.Connection {
	t.Helper()
	conn, err := amqp091.Dial(amqpURL)
	if err != nil {
		t.Fatalf("amqptest: connecting to the test broker: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Topo is a unique exchange and queue bound to it, made for one test.
type Topo struct {
	URL string
	// Exchange (of kind Kind) routes Key to Queue.
	Exchange, Kind, Queue, Key string
	// BindArgs are the binding's arguments (for a headers exchange).
	BindArgs amqp091.Table
	// DLX and DLQ are set with DeadLetter: Queue dead-letters to exchange DLX
	// (fanout), which routes to queue DLQ.
	DLX, DLQ string
}

type spec struct {
	queueArgs amqp091.Table
	kind      string
	bindArgs  amqp091.Table
	noBind    bool
	dlx       bool
	durable   bool
}

// Option varies the topology Topology makes.
type Option func(*spec)

// Stream makes the queue a stream queue.
func Stream() Option {
	return func(s *spec) { s.queueArgs["x-queue-type"] = "stream"; s.durable = true }
}

// Quorum makes the queue a quorum queue.
func Quorum() Option {
	return func(s *spec) { s.queueArgs["x-queue-type"] = "quorum"; s.durable = true }
}

// QueueArg sets one queue argument (x-delivery-limit, x-max-priority, …).
func QueueArg(key string, v any) Option { return func(s *spec) { s.queueArgs[key] = v } }

// DeadLetter gives the queue a dead-letter exchange (fanout) with a queue
// bound to it: Topo.DLX and Topo.DLQ.
func DeadLetter() Option { return func(s *spec) { s.dlx = true } }

// DefaultExchangeOnly binds the queue to nothing: it is fed only through the
// default exchange, by its name. Topo.Exchange is still made (unbound).
func DefaultExchangeOnly() Option { return func(s *spec) { s.noBind = true } }

// Headers makes the exchange a headers exchange and binds with args (add
// "x-match"), instead of a topic exchange with a routing key.
func Headers(args amqp091.Table) Option {
	return func(s *spec) { s.kind, s.bindArgs = "headers", args }
}

// Topology declares a topic exchange and a classic queue with unique names and
// binds them with a unique routing key, varied by opts; all of it is deleted
// when the test ends.
func Topology(t testing.TB, amqpURL string, opts ...Option) *Topo {
	t.Helper()
	sp := spec{queueArgs: amqp091.Table{}, kind: "topic"}
	for _, o := range opts {
		o(&sp)
	}
	base := uniqueName(t)
	tp := &Topo{URL: amqpURL, Exchange: base + ".x", Kind: sp.kind, Queue: base + ".q", Key: base + ".key", BindArgs: sp.bindArgs}
	conn := Dial(t, amqpURL)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("amqptest: %v", err)
	}
	defer ch.Close()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("amqptest: %s: %v", what, err)
		}
	}
	t.Cleanup(func() { tp.delete(t) })
	must("declare exchange", ch.ExchangeDeclare(tp.Exchange, sp.kind, false, false, false, false, nil))
	if sp.dlx {
		tp.DLX, tp.DLQ = base+".dlx", base+".dlq"
		must("declare dead-letter exchange", ch.ExchangeDeclare(tp.DLX, "fanout", false, false, false, false, nil))
		_, err := ch.QueueDeclare(tp.DLQ, false, false, false, false, nil)
		must("declare dead-letter queue", err)
		must("bind dead-letter queue", ch.QueueBind(tp.DLQ, "", tp.DLX, false, nil))
		sp.queueArgs["x-dead-letter-exchange"] = tp.DLX
	}
	_, err = ch.QueueDeclare(tp.Queue, sp.durable, false, false, false, sp.queueArgs)
	must("declare queue", err)
	if !sp.noBind {
		must("bind queue", ch.QueueBind(tp.Queue, tp.Key, tp.Exchange, false, sp.bindArgs))
	}
	return tp
}

func (tp *Topo) delete(t testing.TB) {
	conn, err := amqp091.Dial(tp.URL)
	if err != nil {
		t.Logf("amqptest: cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	// Each delete of something absent would close the channel; reopen as needed.
	for _, q := range []string{tp.Queue, tp.DLQ} {
		if q != "" {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				ch, _ = conn.Channel()
			}
		}
	}
	for _, x := range []string{tp.Exchange, tp.DLX} {
		if x != "" && ch != nil {
			if err := ch.ExchangeDelete(x, false, false); err != nil {
				ch, _ = conn.Channel()
			}
		}
	}
}

func uniqueName(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 80 {
		name = name[:80]
	}
	return "eddy-test." + name + "." + hex.EncodeToString(b[:])
}

// Publish sends msgs to the topology's exchange with its key (and, for a
// headers exchange, its binding arguments as headers unless the message has
// headers), and waits for the broker's confirms.
func (tp *Topo) Publish(t testing.TB, msgs ...amqp091.Publishing) {
	t.Helper()
	for i := range msgs {
		if tp.Kind == "headers" && msgs[i].Headers == nil {
			msgs[i].Headers = amqp091.Table{}
			for k, v := range tp.BindArgs {
				if !strings.HasPrefix(k, "x-") {
					msgs[i].Headers[k] = v
				}
			}
		}
	}
	PublishTo(t, tp.URL, tp.Exchange, tp.Key, msgs...)
}

// Reject takes n messages off the topology's queue and rejects them without
// requeueing, so that the broker dead-letters them (with x-death) into the
// DLQ (a Topology made with DeadLetter), and waits until the DLQ, empty
// before, holds the n.
func (tp *Topo) Reject(t testing.TB, n int) {
	t.Helper()
	ch, err := Dial(t, tp.URL).Channel()
	if err != nil {
		t.Fatalf("amqptest: %v", err)
	}
	defer ch.Close()
	for range n {
		d, ok, err := ch.Get(tp.Queue, false)
		if err != nil || !ok {
			t.Fatalf("amqptest: get from %s to dead-letter: ok %v, %v", tp.Queue, ok, err)
		}
		if err := d.Reject(false); err != nil {
			t.Fatalf("amqptest: %v", err)
		}
	}
	Eventually(t, 10*time.Second, fmt.Sprintf("%d dead letters in %s", n, tp.DLQ), func() bool { return Depth(t, tp.URL, tp.DLQ) == n })
}

// PublishTo sends msgs to exchange with routing key and waits for the broker's
// confirms; exchange "" is the default exchange (key is then a queue name).
func PublishTo(t testing.TB, amqpURL, exchange, key string, msgs ...amqp091.Publishing) {
	t.Helper()
	conn, ch := dialChannel(t, amqpURL)
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("amqptest: %v", err)
	}
	var dcs []*amqp091.DeferredConfirmation
	for _, m := range msgs {
		dc, err := ch.PublishWithDeferredConfirm(exchange, key, false, false, m)
		if err != nil {
			t.Fatalf("amqptest: publish: %v", err)
		}
		dcs = append(dcs, dc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dc := range dcs {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			t.Fatalf("amqptest: publish not confirmed (ok=%v, err=%v)", ok, err)
		}
	}
}

// dialChannel connects to amqpURL and opens a channel on it; the caller
// closes the connection (which closes the channel).
func dialChannel(t testing.TB, amqpURL string) (*amqp091.Connection, *amqp091.Channel) {
	t.Helper()
	conn, err := amqp091.Dial(amqpURL)
	if err != nil {
		t.Fatalf("amqptest: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		t.Fatalf("amqptest: %v", err)
	}
	return conn, ch
}

// Depth returns the number of ready messages in queue (a passive declare).
func Depth(t testing.TB, amqpURL, queue string) int {
	t.Helper()
	conn, ch := dialChannel(t, amqpURL)
	defer conn.Close()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("amqptest: depth of %q: %v", queue, err)
	}
	return q.Messages
}

// Get fetches path (e.g. "/api/queues/%2F/q/bindings") from the management
// API with the AMQP URL's credentials and decodes the JSON into out. It
// returns the HTTP status; 404 leaves out untouched.
func Get(t testing.TB, amqpURL, path string, out any) int {
	t.Helper()
	return do(t, amqpURL, http.MethodGet, path, nil, out)
}

// Do sends a management API request with a JSON body (nil for none) and
// decodes a JSON answer into out (nil to ignore it); it returns the status.
func Do(t testing.TB, amqpURL, method, path string, body, out any) int {
	t.Helper()
	return do(t, amqpURL, method, path, body, out)
}

func do(t testing.TB, amqpURL, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, ManagementURL(t, amqpURL)+path, rd)
	if err != nil {
		t.Fatalf("amqptest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp := send(t, amqpURL, req, "management API")
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("amqptest: %s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// send sends a management API request with amqpURL's credentials; no
// answer (what was being done) fails the test.
func send(t testing.TB, amqpURL string, req *http.Request, what string) *http.Response {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal("amqptest: bad AMQP URL")
	}
	pw, _ := u.User.Password()
	req.SetBasicAuth(u.User.Username(), pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("amqptest: %s: %v", what, err)
	}
	return resp
}

// Eventually polls cond every 50 ms until it is true, failing the test with
// what after the deadline. Tests wait for the broker this way, never with a
// fixed sleep.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		<-tick.C
	}
}

// Escape escapes one management API path segment (a vhost "/" is %2F).
func Escape(s string) string { return strings.ReplaceAll(url.PathEscape(s), "/", "%2F") }

// Name returns a unique name for something a test creates itself.
func Name(t testing.TB, what string) string { return fmt.Sprintf("%s.%s", uniqueName(t), what) }

// CloseConnections force-closes, through the management API, every client
// connection whose client-provided name contains match (eddy names its
// connections "eddy PURPOSE #N", e.g. "eddy consume QUEUE #3"), as a broker
// restart or a network cut would, without touching the shared broker's other
// connections. It returns how many it closed.
func CloseConnections(t testing.TB, amqpURL, match string) int {
	t.Helper()
	var conns []struct {
		Name  string `json:"name"`
		Props struct {
			Name string `json:"connection_name"`
		} `json:"client_properties"`
	}
	Get(t, amqpURL, "/api/connections?columns=name,client_properties", &conns)
	n := 0
	for _, c := range conns {
		if strings.Contains(c.Props.Name, match) {
			req, _ := http.NewRequest(http.MethodDelete, ManagementURL(t, amqpURL)+"/api/connections/"+Escape(c.Name), nil)
			req.Header.Set("X-Reason", "eddy test: simulated outage")
			resp := send(t, amqpURL, req, "closing connection")
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				n++
			}
		}
	}
	return n
}
