package kafka_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/internal/faultproxy"
)

// TestUnreachable: every operation that connects fails with a ConnectError
// that names the address and a short cause, within the dial timeout; New
// itself never blocks.
func TestUnreachable(t *testing.T) {
	const dial = time.Second
	for _, tc := range []struct {
		name  string
		addr  string
		cause string
		errno error
	}{
		{"port 1", "127.0.0.1:1", "connection refused", syscall.ECONNREFUSED},
		{"closed port", faultproxy.Refused(t), "connection refused", syscall.ECONNREFUSED},
		{"silent broker", faultproxy.Silent(t), "no answer within 1s", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, []string{tc.addr}, kafka.WithDialTimeout(dial))
			ops := map[string]func(context.Context) error{
				"Ping": c.Ping,
				"Source": func(ctx context.Context) error {
					_, err := c.Source(ctx, []bus.Address{topicAddr("orders")}, bus.ReadOptions{})
					return err
				},
				"Topics": func(ctx context.Context) error {
					_, err := c.Topics(ctx, false)
					return err
				},
				"Write": func(ctx context.Context) error {
					s, err := c.Sink("orders")
					if err != nil {
						return err
					}
					defer s.Close()
					return s.Write(ctx, bustestEvents(1))
				},
			}
			for name, op := range ops {
				start := time.Now()
				err := op(ctxT(t))
				took := time.Since(start)
				var ce *bus.ConnectError
				if !errors.As(err, &ce) || !errors.Is(err, bus.ErrConnect) {
					t.Fatalf("%s: err = %v, want a ConnectError", name, err)
				}
				if ce.Transport != "kafka" || ce.Addr != tc.addr || ce.Err.Error() != tc.cause {
					t.Errorf("%s: ConnectError{%q, %q, %q}, want {kafka, %q, %q}", name, ce.Transport, ce.Addr, ce.Err, tc.addr, tc.cause)
				}
				if tc.errno != nil && !errors.Is(err, tc.errno) {
					t.Errorf("%s: %v does not unwrap to %v", name, err, tc.errno)
				}
				// Generous slack for a loaded machine; the point is that it
				// does not wait for kgo's own retries (30s and more).
				if took > dial+3*time.Second {
					t.Errorf("%s took %v, want about the dial timeout %v", name, took, dial)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seeds []string
		opts  []kafka.Option
		want  string
	}{
		{"no seeds", nil, nil, "no brokers"},
		{"blank seeds", []string{" , "}, nil, "no brokers"},
		{"bad mechanism", []string{"x:9092"}, []kafka.Option{kafka.WithSASL("GSSAPI", "u", "secret-password")}, `SASL mechanism "GSSAPI"`},
		{"no user", []string{"x:9092"}, []kafka.Option{kafka.WithSASL("plain", "", "secret-password")}, "user name"},
		{"zero dial timeout", []string{"x:9092"}, []kafka.Option{kafka.WithDialTimeout(0)}, "dial timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.New(tc.seeds, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-password") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
	c, err := kafka.New([]string{"a:1, b:2", "c:3"}, kafka.WithSASL("scram-sha-512", "u", "p"))
	if err != nil {
		t.Fatalf("comma-separated seeds and a lower-case mechanism: %v", err)
	}
	c.Close()
}

// TestSASL: good credentials work for every mechanism; bad ones are a
// ConnectError "authentication failed", and the password appears in no error
// and no debug log line.
func TestSASL(t *testing.T) {
	const user, pass = "eddy", "correct-horse-battery"
	const wrong = "wrong-horse-battery-staple"
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			seeds := newCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, user, pass), kfake.SeedTopics(1, "orders"))

			log := &syncWriter{}
			good := newClient(t, seeds, kafka.WithSASL(strings.ToLower(mech), user, pass), kafka.WithLogger(log))
			if err := good.Ping(ctxT(t)); err != nil {
				t.Fatalf("Ping with good credentials: %v", err)
			}
			src := open(t, good, []bus.Address{topicAddr("orders")}, snapshot())
			readAll(t, src)
			if log.String() == "" {
				t.Errorf("WithLogger got no debug log")
			}

			badLog := &syncWriter{}
			bad := newClient(t, seeds, kafka.WithSASL(mech, user, wrong), kafka.WithDialTimeout(3*time.Second), kafka.WithLogger(badLog))
			for name, op := range map[string]func() error{
				"Ping": func() error { return bad.Ping(ctxT(t)) },
				"Source": func() error {
					_, err := bad.Source(ctxT(t), []bus.Address{topicAddr("orders")}, bus.ReadOptions{})
					return err
				},
				"Topics": func() error { _, err := bad.Topics(ctxT(t), true); return err },
			} {
				err := op()
				var ce *bus.ConnectError
				if !errors.As(err, &ce) || !strings.HasPrefix(ce.Err.Error(), "authentication failed") {
					t.Fatalf("%s with a wrong password: %v, want ConnectError with cause authentication failed", name, err)
				}
				for _, secret := range []string{pass, wrong} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("%s: error shows a password: %v", name, err)
					}
				}
			}
			for _, secret := range []string{pass, wrong} {
				if strings.Contains(log.String(), secret) || strings.Contains(badLog.String(), secret) {
					t.Fatalf("debug log shows a password")
				}
			}
		})
	}
}

// syncWriter lets the test read a buffer that kgo's goroutines write to.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTLS: a TLS listener is reached with the CA from bus.TLSFiles; without
// it the certificate is refused, with a ConnectError that says so.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCfg, caFile := testCerts(t, dir)
	seeds := newCluster(t, kfake.TLS(serverCfg), kfake.SeedTopics(1, "orders"))

	cfg, err := bus.TLSFiles{CA: caFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	good := newClient(t, seeds, kafka.WithTLS(cfg))
	if err := good.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping over TLS with the CA: %v", err)
	}
	if _, err := good.Topics(ctxT(t), false); err != nil {
		t.Fatalf("Topics over TLS: %v", err)
	}

	untrusted, err := bus.TLSFiles{}.Config()
	if err != nil {
		t.Fatal(err)
	}
	bad := newClient(t, seeds, kafka.WithTLS(untrusted), kafka.WithDialTimeout(3*time.Second))
	err = bad.Ping(ctxT(t))
	var ce *bus.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(ce.Err.Error(), "TLS") {
		t.Fatalf("Ping with an untrusted certificate: %v, want a ConnectError about TLS", err)
	}

	insecure, err := bus.TLSFiles{Insecure: true}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, seeds, kafka.WithTLS(insecure)).Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping with Insecure: %v", err)
	}

	plain := newClient(t, seeds, kafka.WithDialTimeout(3*time.Second))
	if err := plain.Ping(ctxT(t)); !errors.As(err, &ce) {
		t.Fatalf("plaintext Ping of a TLS listener: %v, want a ConnectError", err)
	}
}

// testCerts writes a CA and returns a server TLS config for 127.0.0.1 signed
// by it, and the CA's path.
func testCerts(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eddy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caKey, caDER := newCert(t, caTmpl, nil, nil)
	ca, _ := x509.ParseCertificate(caDER)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	key, der := newCert(t, tmpl, ca, caKey)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, caFile
}

// newCert makes a P-256 key and a certificate of it from tmpl, signed by
// parent with signer (self-signed when parent is nil).
func newCert(t *testing.T, tmpl, parent *x509.Certificate, signer *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}
