package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

func selfSigned(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "eddy client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

// TestKeyStorePEM: a client certificate and key in a PKCS#12 or JKS key
// store come out as a PEM pair that crypto/tls loads; a wrong password is
// said as such, without the password.
func TestKeyStorePEM(t *testing.T) {
	key, cert := selfSigned(t)
	dir := t.TempDir()
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "st0re-pass")
	if err != nil {
		t.Fatal(err)
	}
	p12Path := filepath.Join(dir, "client.p12")
	os.WriteFile(p12Path, p12, 0o600)

	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry("client", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: pkcs8,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: cert.Raw}}}, []byte("k3y-pass")); err != nil {
		t.Fatal(err)
	}
	var jks bytes.Buffer
	if err := ks.Store(&jks, []byte("st0re-pass")); err != nil {
		t.Fatal(err)
	}
	jksPath := filepath.Join(dir, "client.jks")
	os.WriteFile(jksPath, jks.Bytes(), 0o600)

	for _, tc := range []struct{ path, keyPass string }{{p12Path, "st0re-pass"}, {jksPath, "k3y-pass"}} {
		certPEM, keyPEM, err := KeyStorePEM(tc.path, "", "st0re-pass", tc.keyPass)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil || !bytes.Equal(pair.Certificate[0], cert.Raw) {
			t.Errorf("%s: %v", tc.path, err)
		}
		if _, _, err := KeyStorePEM(tc.path, "", "wr0ng-pass", tc.keyPass); err == nil || strings.Contains(err.Error(), "wr0ng-pass") ||
			!strings.Contains(err.Error(), "password") {
			t.Errorf("%s with a wrong password: %v", tc.path, err)
		}
	}

	// A JKS trust store read without its password cannot be checked.
	if _, _, err := TrustStorePEM(jksPath, "JKS", ""); err == nil || !strings.Contains(err.Error(), "ssl.truststore.password is needed") {
		t.Errorf("JKS without a password: %v", err)
	}
}
