package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

func writeProps(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPropertiesSCRAM: -F reads a Java client.properties whose JAAS config
// holds the SCRAM login; -X overrides one property of it. The password is
// never printed, --debug included.
func TestPropertiesSCRAM(t *testing.T) {
	const user, pass = "admin", "pr0ps-h0rse"
	c := kafkatest.NewCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, pass), kfake.SeedTopics(1, "t"))
	seeds := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.DefaultProduceTopic("t"), kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("authed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	props := writeProps(t,
		"bootstrap.servers="+seeds,
		"security.protocol=SASL_PLAINTEXT",
		"sasl.mechanism=SCRAM-SHA-256",
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="`+pass+`";`)
	tail := []string{"tail", "kafka:t", "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "5s", "--debug"}

	code, out, errOut := runEddy(t, nil, append(tail, "-F", props)...)
	if code != 0 || out != "authed\n" {
		t.Fatalf("-F: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, pass) {
		t.Fatal("--debug output contains the password")
	}

	// -X after -F: a wrong password there wins over the file's, and fails.
	const wrong = "wr0ng-x-passw0rd"
	code, out, errOut = runEddy(t, nil, append(tail, "-F", props, "-X", "sasl.password="+wrong, "--timeout", "3s")...)
	if code != ExitConnect {
		t.Fatalf("-X sasl.password (wrong): exit %d, stderr %q; want %d", code, errOut, ExitConnect)
	}
	if strings.Contains(out+errOut, wrong) || strings.Contains(out+errOut, pass) {
		t.Fatalf("the output holds a password: %q", out+errOut)
	}
	if !strings.Contains(errOut, "-X sasl.password: a secret on the command line is visible to other users") {
		t.Errorf("no warning about a password on the command line: %q", errOut)
	}

	// A flag wins over the file: --sasl-user names a user that is not there.
	code, _, errOut = runEddy(t, nil, append(tail, "-F", props, "--sasl-user", "nobody", "--timeout", "3s")...)
	if code != ExitConnect {
		t.Fatalf("--sasl-user over -F: exit %d, stderr %q; want %d", code, errOut, ExitConnect)
	}
}

// TestPropertiesRealKafka: -X and -F against the real Apache Kafka broker.
func TestPropertiesRealKafka(t *testing.T) {
	seeds := kafkatest.Real(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("from-real-kafka")})
	tail := []string{"tail", "kafka:" + topic, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "10s"}

	code, out, errOut := runEddy(t, nil, append(tail, "-X", "bootstrap.servers="+strings.Join(seeds, ","),
		"-X", "security.protocol=PLAINTEXT", "-X", "client.id=eddy-x-test")...)
	if code != 0 || out != "from-real-kafka\n" {
		t.Fatalf("-X: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	props := writeProps(t, "# kcat.conf style", "metadata.broker.list="+strings.Join(seeds, ","), "client.id=eddy-f-test")
	code, out, errOut = runEddy(t, nil, append(tail, "-F", props)...)
	if code != 0 || out != "from-real-kafka\n" {
		t.Fatalf("-F: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// --brokers (here -b) wins over bootstrap.servers.
	code, out, errOut = runEddy(t, nil, append(tail, "-X", "bootstrap.servers=127.0.0.1:1", "-b", strings.Join(seeds, ","))...)
	if code != 0 || out != "from-real-kafka\n" {
		t.Fatalf("-b over -X: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestPropertiesTLSTrustStore: a Java trust store (JKS, PKCS#12, PEM) read
// by -F for one command, against kfake over TLS.
func TestPropertiesTLSTrustStore(t *testing.T) {
	serverTLS, caFile, pool := testCA(t)
	c := kafkatest.NewCluster(t, kfake.TLS(serverTLS), kfake.SeedTopics(1, "t"))
	seeds := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("over-tls")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for name, store := range truststores(t, caFile) {
		t.Run(name, func(t *testing.T) {
			props := writeProps(t, "bootstrap.servers="+seeds, "security.protocol=SSL",
				"ssl.truststore.location="+store, "ssl.truststore.password=changeit")
			code, out, errOut := runEddy(t, nil, "tail", "kafka:t", "-F", props, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "5s", "--debug")
			if code != 0 || out != "over-tls\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if strings.Contains(errOut, "changeit") {
				t.Errorf("the store password was printed: %q", errOut)
			}
		})
	}
	// Without the trust store, the broker's certificate is not trusted.
	props := writeProps(t, "bootstrap.servers="+seeds, "security.protocol=SSL")
	if code, _, errOut := runEddy(t, nil, "tail", "kafka:t", "-F", props, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "3s"); code != ExitConnect {
		t.Errorf("no trust store: exit %d, stderr %q; want %d", code, errOut, ExitConnect)
	}
}

// TestPropertiesErrors: every bad -F or -X is one usage error (exit 2)
// naming the key, before anything connects; no value that may be a secret
// is echoed.
func TestPropertiesErrors(t *testing.T) {
	dir := t.TempDir()
	badLine := writeProps(t, "bootstrap.servers=127.0.0.1:9092", "# comment", "fetch.wait.max.ms=100")
	oauth := writeProps(t, `sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientSecret="0auth-s3cret";`)
	scramNoMech := writeProps(t, `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="scr4m-s3cret";`)
	unterminated := writeProps(t, `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="unt3rm-s3cret;`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown -X key", []string{"-X", "nope.key=1"}, `-X: "nope.key" is not a property eddy supports`},
		{"-X without =", []string{"-X", "bootstrap.servers"}, `-X "bootstrap.servers": want KEY=VALUE`},
		{"unknown key in -F", []string{"-F", badLine}, `client.properties:3: "fetch.wait.max.ms" is not a property eddy supports`},
		{"missing -F file", []string{"-F", filepath.Join(dir, "missing.properties")}, "missing.properties: no such file"},
		{"bad protocol", []string{"-X", "security.protocol=TLS"}, `security.protocol: "TLS": want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`},
		{"oauth login module", []string{"-F", oauth}, "login module org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule is not supported"},
		{"scram without mechanism", []string{"-F", scramNoMech}, "ScramLoginModule needs sasl.mechanism"},
		{"unterminated quote", []string{"-F", unterminated}, "option password: unterminated quote"},
		{"bad verification", []string{"-X", "enable.ssl.certificate.verification=maybe"}, "enable.ssl.certificate.verification: want true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runEddy(t, nil, append([]string{"ls", "kafka:"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", code, errOut, tc.want)
			}
			for _, s := range []string{"0auth-s3cret", "scr4m-s3cret", "unt3rm-s3cret"} {
				if strings.Contains(out+errOut, s) {
					t.Errorf("a secret was printed: %q", out+errOut)
				}
			}
		})
	}
}

// TestPropertiesMTLSKeyStore: a client certificate in a PKCS#12 key store
// (ssl.keystore.*) logs in to a broker that requires one, for one command
// (-F) and as an imported context, whose key becomes a 0600 PEM file.
func TestPropertiesMTLSKeyStore(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eddy mtls CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ip bool) (*ecdsa.PrivateKey, *x509.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return key, c
	}
	srvKey, srvCert := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, true)
	cliKey, cliCert := issue(3, "eddy-client", x509.ExtKeyUsageClientAuth, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := kafkatest.NewCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}), kfake.SeedTopics(1, "t"))
	seeds := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds), kgo.DefaultProduceTopic("t"), kgo.DialTLSConfig(&tls.Config{RootCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("mutual")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trust, _ := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca}, "changeit")
	keys, err := pkcs12.Modern.Encode(cliKey, cliCert, []*x509.Certificate{ca}, "k3ystore-pass")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "truststore.p12"), trust, 0o600)
	os.WriteFile(filepath.Join(dir, "keystore.p12"), keys, 0o600)
	base := []string{"bootstrap.servers=" + seeds, "security.protocol=SSL",
		"ssl.truststore.location=" + filepath.Join(dir, "truststore.p12"), "ssl.truststore.password=changeit"}
	withKey := writeProps(t, append(base, "ssl.keystore.location="+filepath.Join(dir, "keystore.p12"), "ssl.keystore.type=PKCS12",
		"ssl.keystore.password=k3ystore-pass")...)
	tail := []string{"tail", "kafka:t", "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "5s"}

	code, out, errOut := runEddy(t, nil, append(tail, "-F", withKey, "--debug")...)
	if code != 0 || out != "mutual\n" || strings.Contains(errOut, "k3ystore-pass") {
		t.Fatalf("-F with a key store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runEddy(t, nil, append(tail, "-F", writeProps(t, base...), "--timeout", "3s")...); code != ExitConnect {
		t.Errorf("without the key store: exit %d, stderr %q; want %d", code, errOut, ExitConnect)
	}

	// Imported: the context's certificate and key are PEM files beside the
	// config, and the context connects.
	env, cfgPath := importEnv(t)
	if code, _, errOut := runEddy(t, env, "config", "import", "properties", withKey, "--name", "mtls"); code != 0 {
		t.Fatalf("import: exit %d, %s", code, errOut)
	}
	k := loadConfig(t, cfgPath).Contexts["mtls"].Kafka
	if k.TLS == nil || k.TLS.Cert == "" || k.TLS.Key == "" || k.TLS.CA == "" {
		t.Fatalf("tls %+v", k.TLS)
	}
	if fi, err := os.Stat(k.TLS.Key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v %v", k.TLS.Key, err, fi)
	}
	code, out, errOut = runEddy(t, env, append(tail, "--context", "mtls")...)
	if code != 0 || out != "mutual\n" {
		t.Fatalf("the imported context: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
