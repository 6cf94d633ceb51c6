package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// runEddy runs eddy in process with test streams and the given environment.
func runEddy(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, _, _, _ := TestStreams(false)
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return t.TempDir()
		}
		return env[k]
	}
	code = run(context.Background(), args, io, getenv, &Redactor{})
	return code, io.Out.(*syncWriter).String(), io.ErrOut.(*syncWriter).String()
}

// testCA makes a CA and a server certificate for 127.0.0.1, and writes the CA
// to a PEM file.
func testCA(t *testing.T) (serverTLS *tls.Config, caFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eddy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, caFile, pool
}

func TestKafkaTLS(t *testing.T) {
	serverTLS, caFile, pool := testCA(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverTLS), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("over tls")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	base := []string{"tail", "kafka:t", "--brokers", seeds, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "3s"}

	code, out, errOut := runEddy(t, nil, append(base, "--tls-ca", caFile)...)
	if code != 0 || out != "over tls\n" {
		t.Fatalf("with --tls-ca: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runEddy(t, nil, append(base, "--tls")...)
	if code != ExitConnect {
		t.Fatalf("TLS without trusting the CA: exit %d (stderr %q), want %d", code, errOut, ExitConnect)
	}
	code, out, errOut = runEddy(t, nil, append(base, "--insecure")...)
	if code != 0 || out != "over tls\n" || !strings.Contains(errOut, "NOT verified") {
		t.Fatalf("--insecure: exit %d, stdout %q, stderr %q; want the record and a warning", code, out, errOut)
	}
	code, _, errOut = runEddy(t, nil, append(base, "--tls-ca", filepath.Join(t.TempDir(), "missing.pem"))...)
	if code != ExitUsage || !strings.Contains(errOut, "missing.pem") {
		t.Fatalf("missing CA file: exit %d, stderr %q; want 2 naming the file", code, errOut)
	}
}

func TestKafkaSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			const user, pass = "admin", "c0rrect-h0rse"
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, user, pass), kfake.SeedTopics(1, "t"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			seeds := strings.Join(c.ListenAddrs(), ",")
			opts := []kgo.Opt{kgo.SeedBrokers(seeds), kgo.DefaultProduceTopic("t")}
			switch mech {
			case "SCRAM-SHA-256":
				opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
			case "SCRAM-SHA-512":
				opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
			default:
				opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("authed")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			args := []string{"tail", "kafka:t", "--brokers", seeds, "--from", "beginning", "--until", "end", "-o", "raw",
				"--sasl-mechanism", mech, "--sasl-user", user, "--timeout", "3s", "--debug"}
			code, out, errOut := runEddy(t, map[string]string{"EDDY_SASL_PASSWORD": pass}, args...)
			if code != 0 || out != "authed\n" {
				t.Fatalf("right password: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if strings.Contains(errOut, pass) {
				t.Fatal("--debug output contains the password")
			}
			const wrong = "wr0ng-passw0rd"
			code, out, errOut = runEddy(t, map[string]string{"EDDY_SASL_PASSWORD": wrong}, args...)
			if code != ExitConnect {
				t.Fatalf("wrong password: exit %d, stderr %q; want %d", code, errOut, ExitConnect)
			}
			if strings.Contains(out+errOut, wrong) {
				t.Fatalf("output contains the password: %q", out+errOut)
			}
		})
	}
}

// TestKafkaSASLExactlyOnce: the exactly-once paths (a transactional replay,
// a Kafka redrive, dlq show reading the redrive's job group) log in with the
// same SASL credentials as every other command, since they build their
// clients from bus/kafka's options: a mechanism missing there would leave the
// run unable to reach a cluster that requires it. --debug never shows the
// password.
func TestKafkaSASLExactlyOnce(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			const user, pass = "admin", "c0rrect-h0rse"
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, user, pass),
				kfake.SeedTopics(1, "t", "u", "o", "o.DLT"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			seeds := strings.Join(c.ListenAddrs(), ",")
			var auth sasl.Mechanism
			switch mech {
			case "SCRAM-SHA-256":
				auth = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
			case "SCRAM-SHA-512":
				auth = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
			default:
				auth = plain.Auth{User: user, Pass: pass}.AsMechanism()
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.SASL(auth))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			recs := []*kgo.Record{
				{Topic: "t", Value: []byte("a")}, {Topic: "t", Value: []byte("b")}, {Topic: "t", Value: []byte("c")},
				springLetter("o.DLT", "o", 0, 1, "boom", "x"), springLetter("o.DLT", "o", 0, 2, "boom", "y"),
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"EDDY_SASL_PASSWORD": pass}
			login := []string{"--brokers", seeds, "--sasl-mechanism", mech, "--sasl-user", user, "--timeout", "5s", "--debug"}
			ledger := t.TempDir() + "/l.db"
			eddy := func(args ...string) string {
				t.Helper()
				code, out, errOut := runEddy(t, env, append(args, login...)...)
				if code != 0 {
					t.Fatalf("eddy %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
				}
				if strings.Contains(out+errOut, pass) {
					t.Fatalf("eddy %s: the output contains the password", strings.Join(args, " "))
				}
				return out
			}

			if out := eddy("replay", "kafka:t", "--to", "kafka:u", "--ledger", ledger, "-o", "json"); !strings.Contains(out, `"mode":"transactional"`) || !strings.Contains(out, `"moved":3`) {
				t.Fatalf("replay: %s", out)
			}
			if out := eddy("tail", "kafka:u", "--from", "beginning", "--until", "end", "-o", "raw"); out != "a\nb\nc\n" {
				t.Fatalf("the replay's target holds %q", out)
			}
			if out := eddy("dlq", "redrive", "kafka:o.DLT", "--ledger", ledger, "-o", "json"); !strings.Contains(out, `"mode":"transactional"`) || !strings.Contains(out, `"redriven":2`) {
				t.Fatalf("redrive: %s", out)
			}
			if out := eddy("tail", "kafka:o", "--from", "beginning", "--until", "end", "-o", "raw"); out != "x\ny\n" {
				t.Fatalf("the redrive's origin holds %q", out)
			}
			var got dlqJSON
			if out := eddy("dlq", "show", "kafka:o.DLT", "--ledger", ledger, "-o", "json"); json.Unmarshal([]byte(out), &got) != nil ||
				len(got.DLQs) != 1 || got.DLQs[0].Count != 0 || got.DLQs[0].Redriven != 2 {
				t.Fatalf("dlq show: %s", out)
			}
		})
	}
}
