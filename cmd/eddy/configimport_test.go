package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/eddy-sh/eddy/internal/config"
)

// importEnv is an environment whose eddy config is a file in a temporary
// directory, kept across the test's runs (runEddy gives each run a new
// XDG_CONFIG_HOME).
func importEnv(t *testing.T) (env map[string]string, cfgPath string) {
	t.Helper()
	cfgPath = filepath.Join(t.TempDir(), "eddy", "config.yaml")
	return map[string]string{"EDDY_CONFIG": cfgPath}, cfgPath
}

func loadConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noSecret fails when any of secrets is in what eddy printed or in the
// config file itself (a password is kept in a file of its own, or an
// environment variable, never inline).
func noSecret(t *testing.T, cfgPath, printed string, secrets ...string) {
	t.Helper()
	b, _ := os.ReadFile(cfgPath)
	for _, s := range secrets {
		if strings.Contains(printed, s) {
			t.Errorf("eddy printed the secret %q:\n%s", s, printed)
		}
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("the config file holds the secret %q:\n%s", s, b)
		}
	}
}

// secretFile checks that path holds want and has mode 0600.
func secretFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("password file: %v", err)
	}
	if string(b) != want {
		t.Errorf("%s holds %q, want %q", path, b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
}

func TestConfigImportKaf(t *testing.T) {
	env, cfgPath := importEnv(t)
	code, out, errOut := runEddy(t, env, "config", "import", "kaf", "testdata/import/kaf.yaml", "--all")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	noSecret(t, cfgPath, out+errOut, "kaf-p4ss-s3cret", "kaf-sr-s3cret", "kaf-oauth-s3cret")
	// What eddy cannot keep is named, by key.
	for _, w := range []string{"clientID", "clientSecret", "tokenURL"} {
		if !strings.Contains(errOut, "clusters[cloud-oauth].SASL: "+w+" is not supported by eddy") {
			t.Errorf("no warning naming SASL.%s:\n%s", w, errOut)
		}
	}
	c := loadConfig(t, cfgPath)
	if c.CurrentContext != "staging" {
		t.Errorf("current-context %q, want kaf's current-cluster staging", c.CurrentContext)
	}
	st := c.Contexts["staging"]
	if st == nil || st.Kafka == nil {
		t.Fatalf("no staging context: %+v", c.Contexts)
	}
	k := st.Kafka
	if strings.Join(k.Brokers, ",") != "kafka-1.staging:9093,kafka-2.staging:9093" || k.TLS == nil || !k.TLS.Enabled || k.TLS.CA != "/etc/kafka/staging-ca.pem" ||
		k.SASL == nil || k.SASL.Mechanism != "SCRAM-SHA-512" || k.SASL.Username != "eddy-staging" || k.SASL.Password != "" {
		t.Errorf("staging: %+v tls %+v sasl %+v", k, k.TLS, k.SASL)
	}
	secretFile(t, k.SASL.PasswordFile, "kaf-p4ss-s3cret")
	if sr := st.SchemaRegistry; sr == nil || sr.URL != "https://registry.staging:8081" || sr.Username != "sr-user" {
		t.Errorf("staging schema registry: %+v", sr)
	} else {
		secretFile(t, sr.PasswordFile, "kaf-sr-s3cret")
	}
	if l := c.Contexts["local"]; l == nil || l.Kafka == nil || strings.Join(l.Kafka.Brokers, ",") != "localhost:9092" || l.Kafka.TLS != nil || l.Kafka.SASL != nil {
		t.Errorf("local: %+v", l)
	}
	if o := c.Contexts["cloud-oauth"]; o == nil || o.Kafka.TLS == nil || o.Kafka.SASL == nil || o.Kafka.SASL.Mechanism != "OAUTHBEARER" {
		t.Errorf("cloud-oauth: %+v", o)
	}

	// kaf's own place, ~/.kaf/config, when no FILE is given.
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".kaf"), 0o700)
	b, _ := os.ReadFile("testdata/import/kaf.yaml")
	os.WriteFile(filepath.Join(home, ".kaf", "config"), b, 0o600)
	env2, cfg2 := importEnv(t)
	env2["HOME"] = home
	if code, _, errOut := runEddy(t, env2, "config", "import", "kaf"); code != 0 {
		t.Fatalf("from ~/.kaf/config: exit %d, %s", code, errOut)
	}
	if c := loadConfig(t, cfg2); len(c.Contexts) != 1 || c.Contexts["staging"] == nil {
		t.Errorf("without --all or --name, only kaf's current cluster: %v", c.Names())
	}
}

func TestConfigImportKafkactl(t *testing.T) {
	env, cfgPath := importEnv(t)
	const src = "testdata/import/kafkactl.yml"

	// --dry-run: the YAML it would write, secrets masked, nothing written.
	code, out, errOut := runEddy(t, env, "config", "import", "kafkactl", src, "--dry-run")
	if code != 0 || !strings.Contains(out, "remote-cluster:") || !strings.Contains(out, "password-file:") || !strings.Contains(out, "SCRAM-SHA-256") {
		t.Fatalf("--dry-run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
		t.Errorf("--dry-run wrote the config: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(cfgPath)); len(entries) != 0 {
		t.Errorf("--dry-run wrote files: %v", entries)
	}
	noSecret(t, cfgPath, out+errOut, "kafkactl-s3cret")

	// The current context only, without --all.
	code, out, errOut = runEddy(t, env, "config", "import", "kafkactl", src)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	noSecret(t, cfgPath, out+errOut, "kafkactl-s3cret")
	for _, w := range []string{"clientID", "defaultPartitioner"} {
		if !strings.Contains(errOut, "contexts.remote-cluster: "+w+" is not supported by eddy") {
			t.Errorf("no warning naming %s:\n%s", w, errOut)
		}
	}
	c := loadConfig(t, cfgPath)
	rc := c.Contexts["remote-cluster"]
	if len(c.Contexts) != 1 || rc == nil {
		t.Fatalf("contexts %v, want remote-cluster alone", c.Names())
	}
	k := rc.Kafka
	if len(k.Brokers) != 3 || k.TLS == nil || k.TLS.CA != "/etc/kafkactl/my-ca.pem" || k.TLS.Cert != "/etc/kafkactl/my-cert.pem" || k.TLS.Key != "/etc/kafkactl/my-key.pem" ||
		k.SASL == nil || k.SASL.Mechanism != "SCRAM-SHA-256" || k.SASL.Username != "admin" {
		t.Errorf("remote-cluster: %+v tls %+v sasl %+v", k, k.TLS, k.SASL)
	}
	secretFile(t, k.SASL.PasswordFile, "kafkactl-s3cret")
	if rc.SchemaRegistry == nil || rc.SchemaRegistry.URL != "http://localhost:8081" {
		t.Errorf("avro.schemaRegistry: %+v", rc.SchemaRegistry)
	}

	// An existing context is refused without --force.
	code, _, errOut = runEddy(t, env, "config", "import", "kafkactl", src)
	if code != ExitUsage || !strings.Contains(errOut, `context "remote-cluster" is already in`) || !strings.Contains(errOut, "--force") {
		t.Errorf("again: exit %d, stderr %q; want 2 naming the context and --force", code, errOut)
	}
	if code, _, errOut = runEddy(t, env, "config", "import", "kafkactl", src, "--force"); code != 0 {
		t.Errorf("--force: exit %d, stderr %q", code, errOut)
	}
	// --name picks another; an unknown one is named with the choices.
	if code, _, errOut = runEddy(t, env, "config", "import", "kafkactl", src, "--name", "default"); code != 0 {
		t.Errorf("--name default: exit %d, stderr %q", code, errOut)
	}
	if d := loadConfig(t, cfgPath).Contexts["default"]; d == nil || strings.Join(d.Kafka.Brokers, ",") != "localhost:9092" {
		t.Errorf("default: %+v", d)
	}
	code, _, errOut = runEddy(t, env, "config", "import", "kafkactl", src, "--name", "nope")
	if code != ExitUsage || !strings.Contains(errOut, `no cluster "nope"`) || !strings.Contains(errOut, "default, remote-cluster") {
		t.Errorf("--name nope: exit %d, stderr %q", code, errOut)
	}
}

func TestConfigImportRpk(t *testing.T) {
	env, cfgPath := importEnv(t)
	code, out, errOut := runEddy(t, env, "config", "import", "rpk", "testdata/import/rpk.yaml", "--all")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	noSecret(t, cfgPath, out+errOut, "rpk-s3cret")
	if !strings.Contains(errOut, "profiles[prod]: admin_api is not supported by eddy") {
		t.Errorf("no warning naming admin_api:\n%s", errOut)
	}
	c := loadConfig(t, cfgPath)
	if c.CurrentContext != "prod" {
		t.Errorf("current-context %q, want rpk's current_profile prod", c.CurrentContext)
	}
	k := c.Contexts["prod"].Kafka
	if strings.Join(k.Brokers, ",") != "seed-0.prod:9092,seed-1.prod:9092" || k.TLS == nil || !k.TLS.Enabled || k.TLS.CA != "/etc/redpanda/ca.crt" ||
		k.TLS.Cert != "/etc/redpanda/client.crt" || k.TLS.Key != "/etc/redpanda/client.key" ||
		k.SASL == nil || k.SASL.Mechanism != "SCRAM-SHA-256" || k.SASL.Username != "superuser" {
		t.Errorf("prod: %+v tls %+v sasl %+v", k, k.TLS, k.SASL)
	}
	secretFile(t, k.SASL.PasswordFile, "rpk-s3cret")
	if sr := c.Contexts["prod"].SchemaRegistry; sr == nil || sr.URL != "http://seed-0.prod:8081" {
		t.Errorf("prod schema registry: %+v", sr)
	}
	if d := c.Contexts["dev"].Kafka; strings.Join(d.Brokers, ",") != "127.0.0.1:19092" || d.TLS != nil || d.SASL != nil {
		t.Errorf("dev: %+v", d)
	}
}

func TestConfigImportKcat(t *testing.T) {
	env, cfgPath := importEnv(t)
	code, out, errOut := runEddy(t, env, "config", "import", "kcat", "testdata/import/kcat.conf")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	noSecret(t, cfgPath, out+errOut, "kcat-s3cret")
	if !strings.Contains(errOut, "kcat.conf:9: queued.min.messages is not supported by eddy") {
		t.Errorf("no warning naming queued.min.messages:\n%s", errOut)
	}
	k := loadConfig(t, cfgPath).Contexts["kcat"].Kafka
	if strings.Join(k.Brokers, ",") != "broker-a:9092,broker-b:9092" || k.TLS == nil || k.TLS.CA != "/etc/ssl/kafka-ca.pem" ||
		k.SASL == nil || k.SASL.Mechanism != "PLAIN" || k.SASL.Username != "kcat-user" {
		t.Errorf("kcat: %+v tls %+v sasl %+v", k, k.TLS, k.SASL)
	}
	secretFile(t, k.SASL.PasswordFile, "kcat-s3cret")
}

func TestConfigImportProperties(t *testing.T) {
	env, cfgPath := importEnv(t)
	code, out, errOut := runEddy(t, env, "config", "import", "properties", "testdata/import/client.properties",
		"--name", "ccloud", "--password-env", "CCLOUD_PASSWORD", "--use")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	noSecret(t, cfgPath, out+errOut, "cc/Pr0perties+s3cret")
	for _, w := range []string{"client.dns.lookup does not apply", "session.timeout.ms does not apply", "acks does not apply",
		"max.in.flight.requests.per.connection is not supported", "client.id is not kept"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("no warning %q:\n%s", w, errOut)
		}
	}
	c := loadConfig(t, cfgPath)
	k := c.Contexts["ccloud"].Kafka
	if c.CurrentContext != "ccloud" || k.Brokers[0] != "pkc-abc12.eu-west-1.aws.confluent.cloud:9092" || k.TLS == nil || !k.TLS.Enabled ||
		k.SASL == nil || k.SASL.Mechanism != "PLAIN" || k.SASL.Username != "ABCDEFGH12345678" || k.SASL.PasswordEnv != "CCLOUD_PASSWORD" || k.SASL.PasswordFile != "" {
		t.Errorf("ccloud: current %q, %+v tls %+v sasl %+v", c.CurrentContext, k, k.TLS, k.SASL)
	}
	if entries, _ := os.ReadDir(filepath.Dir(cfgPath)); len(entries) != 1 {
		t.Errorf("--password-env wrote a password file: %v", entries)
	}

	// Without --name, the file's base name; a password becomes a file.
	env2, cfg2 := importEnv(t)
	if code, _, errOut := runEddy(t, env2, "config", "import", "properties", "testdata/import/client.properties"); code != 0 {
		t.Fatalf("exit %d, %s", code, errOut)
	}
	k = loadConfig(t, cfg2).Contexts["client"].Kafka
	secretFile(t, k.SASL.PasswordFile, "cc/Pr0perties+s3cret")

	// properties needs its FILE.
	if code, _, errOut := runEddy(t, env2, "config", "import", "properties"); code != ExitUsage || !strings.Contains(errOut, "needs the FILE") {
		t.Errorf("no FILE: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runEddy(t, env2, "config", "import", "kafkacat"); code != ExitUsage || !strings.Contains(errOut, `"kafkacat" is not a source`) {
		t.Errorf("unknown source: exit %d, %q", code, errOut)
	}
}

// truststores writes the CA of caFile as a JKS and a PKCS#12 trust store
// (password "changeit"), made with keystore-go and go-pkcs12, and, where the
// JDK's keytool is installed, as keytool makes them too.
func truststores(t *testing.T, caFile string) map[string]string {
	t.Helper()
	b, _ := os.ReadFile(caFile)
	blk, _ := pem.Decode(b)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := map[string]string{}
	ks := keystore.New()
	if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(),
		Certificate: keystore.Certificate{Type: "X509", Content: ca.Raw}}); err != nil {
		t.Fatal(err)
	}
	var jks bytes.Buffer
	if err := ks.Store(&jks, []byte("changeit")); err != nil {
		t.Fatal(err)
	}
	out["jks"] = filepath.Join(dir, "truststore.jks")
	os.WriteFile(out["jks"], jks.Bytes(), 0o600)
	p12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca}, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	out["p12"] = filepath.Join(dir, "truststore.p12")
	os.WriteFile(out["p12"], p12, 0o600)
	out["pem"] = caFile
	if keytool, err := exec.LookPath("keytool"); err == nil {
		for _, typ := range []string{"JKS", "PKCS12"} {
			p := filepath.Join(dir, "keytool-"+typ)
			cmd := exec.Command(keytool, "-importcert", "-noprompt", "-alias", "ca", "-file", caFile,
				"-keystore", p, "-storetype", typ, "-storepass", "changeit")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("keytool: %v: %s", err, b)
			}
			out["keytool-"+typ] = p
		}
	}
	return out
}

func TestConfigImportTrustStores(t *testing.T) {
	_, caFile, _ := testCA(t)
	caPEM, _ := os.ReadFile(caFile)
	for name, store := range truststores(t, caFile) {
		t.Run(name, func(t *testing.T) {
			env, cfgPath := importEnv(t)
			props := filepath.Join(t.TempDir(), "client.properties")
			os.WriteFile(props, []byte("bootstrap.servers=127.0.0.1:9093\nsecurity.protocol=SSL\n"+
				"ssl.truststore.location="+store+"\nssl.truststore.password=changeit\n"), 0o600)
			code, out, errOut := runEddy(t, env, "config", "import", "properties", props)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			noSecret(t, cfgPath, out+errOut, "changeit")
			tl := loadConfig(t, cfgPath).Contexts["client"].Kafka.TLS
			if tl == nil || !tl.Enabled {
				t.Fatalf("tls %+v", tl)
			}
			got, err := os.ReadFile(tl.CA)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(caPEM)) {
				t.Errorf("CA file %s:\n%s\nwant\n%s", tl.CA, got, caPEM)
			}
			if name == "pem" && tl.CA != caFile {
				t.Errorf("a PEM trust store is referred to, not copied: ca %s", tl.CA)
			}
		})
	}
	// A wrong store password: exit 2 naming the key, never the password.
	stores := truststores(t, caFile)
	props := filepath.Join(t.TempDir(), "client.properties")
	os.WriteFile(props, []byte("bootstrap.servers=127.0.0.1:9093\nsecurity.protocol=SSL\nssl.truststore.location="+stores["p12"]+
		"\nssl.truststore.password=n0t-the-passw0rd\n"), 0o600)
	env, _ := importEnv(t)
	code, out, errOut := runEddy(t, env, "config", "import", "properties", props)
	if code != ExitUsage || !strings.Contains(errOut, "ssl.truststore.location") || !strings.Contains(errOut, "wrong password") ||
		strings.Contains(out+errOut, "n0t-the-passw0rd") {
		t.Errorf("wrong password: exit %d, stderr %q", code, errOut)
	}
}
