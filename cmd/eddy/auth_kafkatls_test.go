package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// pkiCA is a certificate authority made by a test: its PEM file, and what
// it needs to sign more.
type pkiCA struct {
	file string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newPKICA makes a CA named name and writes its certificate to dir/name.pem.
func newPKICA(t *testing.T, dir, name string) *pkiCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &pkiCA{file: filepath.Join(dir, name+".pem"), cert: cert, key: key}
	if err := os.WriteFile(ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue signs a certificate for name (a server's for 127.0.0.1 and
// localhost, or a client's) and writes dir/name.pem (the certificate) and
// dir/name-key.pem (its unencrypted PKCS#8 key). It returns the files and
// their PEM.
func (ca *pkiCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string, certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	for f, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, certPEM, keyPEM
}

// propPEM is PEM as the value of a Java properties line: its newlines
// escaped. Kafka takes a PEM key store inline (ssl.keystore.key and
// ssl.keystore.certificate.chain) with an unencrypted key, where a PEM key
// store file would need an encrypted one.
func propPEM(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }

// authBroker is the real Kafka of TestKafkaAuthRealBroker and what its
// listeners were set up with.
type authBroker struct {
	b                   *kafkatest.Broker
	ca, otherCA         *pkiCA
	clientCert          string
	clientKey           string
	otherCert, otherKey string // a client certificate of the other CA
	eventHubs           string // the connection string the EVENTHUBS listener takes
}

// Credentials of the SASL listener.
const (
	plainUser, plainPass = "alice", "alice-s3cret-pw"
	scramUser, scramPass = "sam", "sam-s3cret-pw-scram"
	wrongPass            = "wr0ng-but-l0ng-pw"
	aclUser, aclPass     = "ro", "ro-s3cret-pw-acl" // a PLAIN user ACLs restrict
)

// startAuthBroker starts a Kafka broker with a SASL_PLAINTEXT listener
// (LOGIN: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), an SSL listener that requires a
// client certificate (MTLS), and a SASL_SSL PLAIN listener that takes an
// Event Hubs connection string as user $ConnectionString (EVENTHUBS), all
// with certificates made here; topic t holds one record, "hello".
func startAuthBroker(t *testing.T) *authBroker {
	t.Helper()
	dir := t.TempDir()
	ab := &authBroker{ca: newPKICA(t, dir, "ca"), otherCA: newPKICA(t, dir, "other-ca")}
	_, _, serverCert, serverKey := ab.ca.issue(t, dir, "server", true)
	ab.clientCert, ab.clientKey, _, _ = ab.ca.issue(t, dir, "client", false)
	ab.otherCert, ab.otherKey, _, _ = ab.otherCA.issue(t, dir, "other-client", false)
	key := make([]byte, 32)
	rand.Read(key)
	ab.eventHubs = "Endpoint=sb://eddy-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" +
		base64.StdEncoding.EncodeToString(key) + ";EntityPath=t"
	keystore := func(l string) []string {
		return []string{
			"listener.name." + l + ".ssl.keystore.type=PEM",
			"listener.name." + l + ".ssl.keystore.certificate.chain=" + propPEM(serverCert),
			"listener.name." + l + ".ssl.keystore.key=" + propPEM(serverKey),
		}
	}
	ab.b = kafkatest.StartBrokerWith(t, kafkatest.Config{Listeners: []kafkatest.Listener{
		{Name: "LOGIN", Protocol: "SASL_PLAINTEXT", Props: []string{
			"listener.name.login.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
			`listener.name.login.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_` + plainUser + `="` + plainPass + `" user_` + aclUser + `="` + aclPass + `";`,
			"listener.name.login.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
			"listener.name.login.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
		}},
		{Name: "MTLS", Protocol: "SSL", Props: append(keystore("mtls"),
			"listener.name.mtls.ssl.truststore.type=PEM",
			"listener.name.mtls.ssl.truststore.location="+ab.ca.file,
			"listener.name.mtls.ssl.client.auth=required",
		)},
		{Name: "EVENTHUBS", Protocol: "SASL_SSL", Props: append(keystore("eventhubs"),
			"listener.name.eventhubs.sasl.enabled.mechanisms=PLAIN",
			`listener.name.eventhubs.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$ConnectionString="`+ab.eventHubs+`";`,
		)},
	}, Props: []string{
		// ACLs on: a topic without any stays open to everyone, so only
		// the topics TestKafkaAuthRealBroker's DryRunACL gives ACLs to
		// are restricted. The set-up listener and the controller's are
		// PLAINTEXT (User:ANONYMOUS), which must stay a super user.
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"allow.everyone.if.no.acl.found=true",
		"super.users=User:ANONYMOUS",
	}})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ab.b.Addr()), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil || r.Err != nil {
		t.Fatalf("creating topic t: %v %v", err, r.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// One mechanism per request: Kafka refuses a user named twice in one.
	for _, m := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: scramUser, Mechanism: m, Iterations: 4096, Password: scramPass}})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("creating the SCRAM credentials: %v", err)
		}
	}
	// The credentials reach the SASL listener through the metadata log:
	// wait until a login with them works.
	for _, m := range []func() kgo.Opt{
		func() kgo.Opt { return kgo.SASL(scram.Auth{User: scramUser, Pass: scramPass}.AsSha256Mechanism()) },
		func() kgo.Opt { return kgo.SASL(scram.Auth{User: scramUser, Pass: scramPass}.AsSha512Mechanism()) },
	} {
		for {
			c, err := kgo.NewClient(kgo.SeedBrokers(ab.b.ListenerAddr("LOGIN")), m())
			if err != nil {
				t.Fatal(err)
			}
			err = c.Ping(ctx)
			c.Close()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("the SCRAM credentials never worked: %v\n%s", err, ab.b.Log())
			}
			time.Sleep(100 * time.Millisecond) // poll; the login working ends the wait
		}
	}
	return ab
}

// runEddyBounded runs eddy like runEddy and fails the test unless it has
// returned by within: an authentication failure must end a command at
// once, not at its --timeout.
func runEddyBounded(t *testing.T, within time.Duration, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		io, _, _, _ := TestStreams(false)
		getenv := func(k string) string { return env[k] }
		code := run(context.Background(), args, io, getenv, &Redactor{})
		done <- result{code, io.Out.(*syncWriter).String(), io.ErrOut.(*syncWriter).String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.errOut
	case <-time.After(within):
		t.Fatalf("eddy %s: still running after %v: an authentication failure must end it at once", strings.Join(args, " "), within)
		return 0, "", ""
	}
}

// TestKafkaAuthRealBroker: against a real Kafka, the right credentials and
// certificates connect, and refused ones end every command at once (well
// before --timeout) with exit 4 and one sentence that says
// "authentication failed" (or "TLS handshake failed"), names the broker and
// the mechanism and user, and never shows the password, even with --debug.
func TestKafkaAuthRealBroker(t *testing.T) {
	ab := startAuthBroker(t)
	// The timeout is long, and the limit half of it: a failure that
	// waited for the timeout would fail the test.
	const timeout, limit = "20s", 10 * time.Second
	cfgDir := t.TempDir()
	baseEnv := func(extra ...string) map[string]string {
		env := map[string]string{"XDG_CONFIG_HOME": cfgDir, "HOME": cfgDir}
		for i := 0; i+1 < len(extra); i += 2 {
			env[extra[i]] = extra[i+1]
		}
		return env
	}

	t.Run("SASL", func(t *testing.T) {
		sasl := ab.b.ListenerAddr("LOGIN")
		for _, c := range []struct{ mech, user, pass string }{
			{"PLAIN", plainUser, plainPass},
			{"SCRAM-SHA-256", scramUser, scramPass},
			{"SCRAM-SHA-512", scramUser, scramPass},
		} {
			t.Run(c.mech, func(t *testing.T) {
				login := []string{"--brokers", sasl, "--sasl-mechanism", c.mech, "--sasl-user", c.user, "--timeout", timeout, "--debug"}
				code, out, errOut := runEddyBounded(t, limit, baseEnv("EDDY_SASL_PASSWORD", c.pass),
					append([]string{"tail", "kafka:t", "--from", "beginning", "--until", "end", "-o", "raw"}, login...)...)
				if code != 0 || out != "hello\n" {
					t.Fatalf("right password: exit %d, stdout %q, stderr %q", code, out, errOut)
				}
				if strings.Contains(errOut, c.pass) {
					t.Fatal("--debug output contains the password")
				}
				ledger := filepath.Join(t.TempDir(), "l.db")
				for _, cmd := range [][]string{
					{"tail", "kafka:t", "--from", "beginning", "--until", "end", "-o", "raw"},
					{"tail", "kafka:t"}, // live: no end to fail at
					{"ls"},
					{"lag", "kafka:"},
					{"trace", "o-1", "kafka:t"},
					{"replay", "kafka:t", "--to", "kafka:u", "--ledger", ledger},
					{"dlq", "redrive", "kafka:t.DLT", "--ledger", ledger},
				} {
					code, out, errOut := runEddyBounded(t, limit, baseEnv("EDDY_SASL_PASSWORD", wrongPass), append(cmd, login...)...)
					checkAuthFailure(t, cmd, code, out, errOut, "authentication failed", sasl, c.mech, `"`+c.user+`"`)
					if strings.Contains(out+errOut, wrongPass) {
						t.Fatalf("eddy %s: the output contains the password:\n%s", strings.Join(cmd, " "), out+errOut)
					}
				}
			})
		}
	})

	// A dry run checks what the real run would: a target topic the user
	// may not write to is refused by the dry run, with the real run's
	// sentence and exit code, and a writable one passes. Kafka says which
	// operations the caller may do on a topic (Metadata's authorized
	// operations); nothing is written to ask.
	t.Run("DryRunACL", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admCl, err := kgo.NewClient(kgo.SeedBrokers(ab.b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer admCl.Close()
		adm := kadm.NewClient(admCl)
		for _, topic := range []string{"acl-ro", "acl-rw"} {
			if r, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil || r.Err != nil {
				t.Fatalf("creating topic %s: %v %v", topic, err, r.Err)
			}
		}
		acls := kadm.NewACLs().Allow("User:"+aclUser).ResourcePatternType(kadm.ACLPatternLiteral).Topics("acl-ro").Operations(kadm.OpDescribe, kadm.OpRead)
		rw := kadm.NewACLs().Allow("User:"+aclUser).ResourcePatternType(kadm.ACLPatternLiteral).Topics("acl-rw").Operations(kadm.OpDescribe, kadm.OpWrite)
		for _, b := range []*kadm.ACLBuilder{acls, rw} {
			res, err := adm.CreateACLs(ctx, b)
			if err == nil {
				for _, r := range res {
					err = errors.Join(err, r.Err)
				}
			}
			if err != nil {
				t.Fatalf("creating ACLs: %v", err)
			}
		}
		// The ACLs reach the listener through the metadata log: wait until
		// the user sees them (acl-ro: no WRITE; acl-rw: WRITE).
		ro, err := kgo.NewClient(kgo.SeedBrokers(ab.b.ListenerAddr("LOGIN")), kgo.SASL(plain.Auth{User: aclUser, Pass: aclPass}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		for {
			m, err := kadm.NewClient(ro).Metadata(kadm.WithAuthorizedOps(ctx), "acl-ro", "acl-rw")
			if err == nil && len(m.Topics["acl-ro"].AuthorizedOperations) > 0 && !slices.Contains(m.Topics["acl-ro"].AuthorizedOperations, kadm.OpWrite) &&
				slices.Contains(m.Topics["acl-rw"].AuthorizedOperations, kadm.OpWrite) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("the ACLs never applied: %v %+v\n%s", err, m.Topics, ab.b.Log())
			}
			time.Sleep(100 * time.Millisecond) // poll; the ACLs applying ends the wait
		}
		login := []string{"--brokers", ab.b.ListenerAddr("LOGIN"), "--sasl-mechanism", "PLAIN", "--sasl-user", aclUser, "--timeout", timeout}
		env := baseEnv("EDDY_SASL_PASSWORD", aclPass)
		replay := func(to string, extra ...string) (int, string, string) {
			return runEddyBounded(t, limit, env, append(append([]string{"replay", "kafka:t", "--to", "kafka:" + to, "--ledger", filepath.Join(t.TempDir(), "l.db")}, extra...), login...)...)
		}
		dryCode, dryOut, dryErr := replay("acl-ro", "--dry-run")
		if dryCode == 0 || !strings.Contains(dryErr, "not authorized to write to topic acl-ro") {
			t.Fatalf("dry run to a topic the user may not write: exit %d, stdout %q, stderr %q; want it refused", dryCode, dryOut, dryErr)
		}
		realCode, _, realErr := replay("acl-ro")
		if realCode != dryCode || !strings.Contains(realErr, "not authorized to write to topic acl-ro") {
			t.Fatalf("the real run: exit %d, stderr %q; the dry run: exit %d, %q: want the same refusal", realCode, realErr, dryCode, dryErr)
		}
		if code, out, errOut := replay("acl-rw", "--dry-run"); code != 0 {
			t.Fatalf("dry run to a writable topic: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if strings.Contains(dryOut+dryErr+realErr, aclPass) {
			t.Fatal("the output shows the password")
		}

		// dlq redrive: the topic each letter goes back to is checked as
		// the real run's first write to it would be.
		if r, err := adm.CreateTopic(ctx, 1, 1, nil, "acl-ro.DLT"); err != nil || r.Err != nil {
			t.Fatalf("creating topic acl-ro.DLT: %v %v", err, r.Err)
		}
		letter := &kgo.Record{Topic: "acl-ro.DLT", Value: []byte(`{"id":"o-1"}`), Headers: []kgo.RecordHeader{
			{Key: "kafka_dlt-original-topic", Value: []byte("acl-ro")}, {Key: "kafka_dlt-exception-message", Value: []byte("boom")}}}
		if err := admCl.ProduceSync(ctx, letter).FirstErr(); err != nil {
			t.Fatal(err)
		}
		redrive := func(extra ...string) (int, string, string) {
			return runEddyBounded(t, limit, env, append(append([]string{"dlq", "redrive", "kafka:acl-ro.DLT", "--ledger", filepath.Join(t.TempDir(), "l.db")}, extra...), login...)...)
		}
		dryCode, dryOut, dryErr = redrive("--dry-run")
		if dryCode == 0 || !strings.Contains(dryErr, "not authorized to write to topic acl-ro") {
			t.Fatalf("redrive dry run back to a topic the user may not write: exit %d, stdout %q, stderr %q; want it refused", dryCode, dryOut, dryErr)
		}
		realCode, _, realErr = redrive()
		if realCode != dryCode || !strings.Contains(realErr, "not authorized to write to topic acl-ro") {
			t.Fatalf("the real redrive: exit %d, stderr %q; the dry run: exit %d, %q: want the same refusal", realCode, realErr, dryCode, dryErr)
		}
	})

	t.Run("AWS_MSK_IAM", func(t *testing.T) { testKafkaAWSIAM(t, ab.b.ListenerAddr("LOGIN"), timeout, limit) }) // auth_awsiam_test.go

	t.Run("mTLS", func(t *testing.T) {
		mtls := ab.b.ListenerAddr("MTLS")
		ls := []string{"ls", "--brokers", mtls, "--timeout", timeout}
		tail := []string{"tail", "kafka:t", "--brokers", mtls, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", timeout}
		withCert := []string{"--tls-ca", ab.ca.file, "--tls-cert", ab.clientCert, "--tls-key", ab.clientKey}

		code, out, errOut := runEddyBounded(t, limit, baseEnv(), append(tail, withCert...)...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("client certificate: tail: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, errOut = runEddyBounded(t, limit, baseEnv(), append(ls, withCert...)...)
		if code != 0 || !strings.Contains(out, "t") {
			t.Fatalf("client certificate: ls: exit %d, stdout %q, stderr %q", code, out, errOut)
		}

		// No client certificate: the broker refuses the handshake.
		for _, cmd := range [][]string{tail, ls} {
			code, out, errOut = runEddyBounded(t, limit, baseEnv(), append(cmd, "--tls-ca", ab.ca.file)...)
			checkAuthFailure(t, cmd, code, out, errOut, "TLS handshake failed", mtls, "client certificate")
		}
		// A client certificate of a CA the broker does not trust.
		code, out, errOut = runEddyBounded(t, limit, baseEnv(), append(ls, "--tls-ca", ab.ca.file, "--tls-cert", ab.otherCert, "--tls-key", ab.otherKey)...)
		checkAuthFailure(t, ls, code, out, errOut, "TLS handshake failed", mtls)

		// The broker's certificate is not of the CA eddy trusts: fail
		// closed, unless --insecure, which warns.
		wrongCA := []string{"--tls-ca", ab.otherCA.file, "--tls-cert", ab.clientCert, "--tls-key", ab.clientKey}
		for _, cmd := range [][]string{tail, ls} {
			code, out, errOut = runEddyBounded(t, limit, baseEnv(), append(cmd, wrongCA...)...)
			checkAuthFailure(t, cmd, code, out, errOut, "TLS handshake failed", mtls, "certificate signed by unknown authority")
		}
		code, out, errOut = runEddyBounded(t, limit, baseEnv(), append(tail, "--insecure", "--tls-cert", ab.clientCert, "--tls-key", ab.clientKey)...)
		if code != 0 || out != "hello\n" || !strings.Contains(errOut, "NOT verified") {
			t.Fatalf("--insecure: exit %d, stdout %q, stderr %q; want the record and a warning", code, out, errOut)
		}
	})

	t.Run("EventHubs", func(t *testing.T) {
		eh := ab.b.ListenerAddr("EVENTHUBS")
		dir := t.TempDir()
		connFile := filepath.Join(dir, "eventhubs.txt")
		if err := os.WriteFile(connFile, []byte(ab.eventHubs+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		key := ab.eventHubs[strings.Index(ab.eventHubs, "SharedAccessKey=")+len("SharedAccessKey=") : strings.Index(ab.eventHubs, ";EntityPath")]
		// The real host is not servicebus: the brokers and the name
		// checked in the certificate are overridden, the login is the
		// connection string's.
		here := []string{"--brokers", eh, "--tls-ca", ab.ca.file, "--tls-server-name", "localhost", "--timeout", timeout}
		tail := []string{"tail", "kafka:t", "--from", "beginning", "--until", "end", "-o", "raw", "--debug"}
		noSecret := func(what, s string) {
			t.Helper()
			if strings.Contains(s, strings.TrimRight(key, "=")) {
				t.Fatalf("%s: the output shows the connection string's key:\n%s", what, s)
			}
		}

		code, out, errOut := runEddyBounded(t, limit, baseEnv(), append(append(tail, here...), "--event-hubs-connection-string-file", connFile)...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("--event-hubs-connection-string-file: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		noSecret("--event-hubs-connection-string-file", out+errOut)
		code, out, errOut = runEddyBounded(t, limit, baseEnv("EDDY_EVENTHUBS_CONNECTION_STRING", ab.eventHubs), append(tail, here...)...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("EDDY_EVENTHUBS_CONNECTION_STRING: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		noSecret("EDDY_EVENTHUBS_CONNECTION_STRING", out+errOut)

		// A context: eddy config set reads the namespace from the string
		// and keeps the file's path, never the string.
		env := baseEnv("EDDY_CONFIG", filepath.Join(dir, "config.yaml"))
		if code, _, errOut := runEddyBounded(t, limit, env, "config", "set", "azure", "--event-hubs-connection-string-file", connFile); code != 0 {
			t.Fatalf("config set: exit %d: %s", code, errOut)
		}
		code, out, errOut = runEddyBounded(t, limit, env, "config", "show", "azure")
		if code != 0 || !strings.Contains(out, "eddy-test.servicebus.windows.net:9093") || !strings.Contains(out, connFile) {
			t.Fatalf("config show: exit %d, stdout %q, stderr %q; want the namespace's endpoint and the file", code, out, errOut)
		}
		noSecret("config show", out+errOut)
		if b, _ := os.ReadFile(filepath.Join(dir, "config.yaml")); strings.Contains(string(b), key) {
			t.Fatalf("the config file holds the key:\n%s", b)
		}
		code, out, errOut = runEddyBounded(t, limit, env, append(append(tail, here...), "--context", "azure")...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("--context azure: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		noSecret("--context azure", out+errOut)

		// A wrong key: refused at once.
		wrong := strings.Replace(ab.eventHubs, key, base64.StdEncoding.EncodeToString([]byte("not the key, not at all!")), 1)
		wrongFile := filepath.Join(dir, "wrong.txt")
		os.WriteFile(wrongFile, []byte(wrong), 0o600)
		for _, cmd := range [][]string{tail, {"ls"}} {
			code, out, errOut = runEddyBounded(t, limit, baseEnv(), append(append(cmd, here...), "--event-hubs-connection-string-file", wrongFile)...)
			checkAuthFailure(t, cmd, code, out, errOut, "authentication failed", eh, "PLAIN", `"$ConnectionString"`)
			noSecret("a wrong key", out+errOut)
			if strings.Contains(out+errOut, "not the key") {
				t.Fatalf("a wrong key: the output shows it:\n%s", out+errOut)
			}
		}

		// Malformed strings: a usage error that does not echo the key.
		for _, c := range []struct{ s, want string }{
			{"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k", "no SharedAccessKey="},
			{"SharedAccessKeyName=k;SharedAccessKey=" + key, "no Endpoint="},
			{"Endpoint=https://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + key, "want sb://"},
			{"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;" + strings.TrimRight(key, "="), "has no '='"},
			{"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;" + key, "no SharedAccessKey="}, // a key pasted without its name
			{"", "empty"},
		} {
			bad := filepath.Join(dir, "bad.txt")
			os.WriteFile(bad, []byte(c.s), 0o600)
			for _, args := range [][]string{
				append([]string{"ls", "--event-hubs-connection-string-file", bad}, here...),
				{"config", "set", "bad", "--event-hubs-connection-string-file", bad},
			} {
				code, out, errOut := runEddyBounded(t, limit, env, args...)
				if code != ExitUsage || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "Event Hubs connection string") {
					t.Errorf("%q: eddy %s: exit %d, stderr %q; want %d and %q", c.s, args[0], code, errOut, ExitUsage, c.want)
				}
				noSecret("a malformed string", out+errOut)
			}
		}
		if code, _, errOut := runEddyBounded(t, limit, baseEnv(), append([]string{"ls", "--event-hubs-connection-string-file", connFile, "--sasl-user", "bob"}, here...)...); code != ExitUsage || !strings.Contains(errOut, "$ConnectionString") {
			t.Errorf("--sasl-user with a connection string: exit %d, stderr %q; want a usage error", code, errOut)
		}
	})
}

// checkAuthFailure fails the test unless eddy exited 4 with one error line
// that says why (what) and contains each of names.
func checkAuthFailure(t *testing.T, cmd []string, code int, out, errOut, what string, names ...string) {
	t.Helper()
	if code != ExitConnect {
		t.Fatalf("eddy %s: exit %d, stdout %q, stderr %q; want %d", strings.Join(cmd, " "), code, out, errOut, ExitConnect)
	}
	var errLines []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "eddy: ") && strings.Contains(l, "cannot connect to") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("eddy %s: want one error line, stderr:\n%s", strings.Join(cmd, " "), errOut)
	}
	line := errLines[0]
	t.Logf("eddy %s: %s", cmd[0], line)
	for _, want := range append([]string{what}, names...) {
		if !strings.Contains(line, want) {
			t.Fatalf("eddy %s: the error line %q does not say %q", strings.Join(cmd, " "), line, want)
		}
	}
	if strings.Contains(line, "deadline exceeded") {
		t.Fatalf("eddy %s: %q: an authentication failure waited for the deadline", strings.Join(cmd, " "), line)
	}
}
