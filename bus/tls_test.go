package bus_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
)

// writeCert writes a self-signed certificate and its key as PEM files and
// returns their paths.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSFilesConfig(t *testing.T) {
	dir := t.TempDir()
	ca, _ := writeCert(t, dir, "ca")
	cert, key := writeCert(t, dir, "client")
	_, otherKey := writeCert(t, dir, "other")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	t.Run("defaults", func(t *testing.T) {
		c, err := bus.TLSFiles{}.Config()
		if err != nil {
			t.Fatal(err)
		}
		if c.RootCAs != nil || c.InsecureSkipVerify || len(c.Certificates) != 0 || c.MinVersion != tls.VersionTLS12 {
			t.Fatalf("zero TLSFiles gave %+v, want system roots, verification, TLS 1.2+", c)
		}
	})
	t.Run("everything", func(t *testing.T) {
		c, err := bus.TLSFiles{CA: ca, Cert: cert, Key: key, ServerName: "kafka.internal", Insecure: true}.Config()
		if err != nil {
			t.Fatal(err)
		}
		if c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "kafka.internal" || !c.InsecureSkipVerify {
			t.Fatalf("config %+v misses a setting", c)
		}
	})
	for _, tc := range []struct {
		name  string
		files bus.TLSFiles
		want  []string // every string must be in the error
	}{
		{"missing CA", bus.TLSFiles{CA: missing}, []string{"CA", missing, "no such file"}},
		{"CA not PEM", bus.TLSFiles{CA: notPEM}, []string{"CA", notPEM, "no PEM certificate"}},
		{"cert without key", bus.TLSFiles{Cert: cert}, []string{cert, "without its key"}},
		{"key without cert", bus.TLSFiles{Key: key}, []string{key, "without its certificate"}},
		{"missing cert", bus.TLSFiles{Cert: missing, Key: key}, []string{"certificate", missing}},
		{"missing key", bus.TLSFiles{Cert: cert, Key: missing}, []string{"key", missing}},
		{"mismatched key", bus.TLSFiles{Cert: cert, Key: otherKey}, []string{cert, otherKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.files.Config()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
