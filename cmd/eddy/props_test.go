package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

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
