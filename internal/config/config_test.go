package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/internal/iostreams"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestKafkaSettingsPrecedence: brokers come from --brokers, then
// EDDY_BROKERS, then the context, then the default; only the default is
// not explicit.
func TestKafkaSettingsPrecedence(t *testing.T) {
	ctx := &Context{Kafka: &KafkaConfig{Brokers: []string{"ctx:9092"}}}
	for _, tc := range []struct {
		name     string
		flags    []string
		env      map[string]string
		ctx      *Context
		want     string
		explicit bool
	}{
		{"flag", []string{"flag:9092"}, map[string]string{"EDDY_BROKERS": "env:9092"}, ctx, "flag:9092", true},
		{"env", nil, map[string]string{"EDDY_BROKERS": " env:9092 , env2:9092 ,"}, ctx, "env:9092,env2:9092", true},
		{"context", nil, nil, ctx, "ctx:9092", true},
		{"default", nil, nil, &Context{}, DefaultBrokers, false},
	} {
		r := &Resolver{Flags: &Options{Brokers: tc.flags}, Getenv: env(tc.env), Context: tc.ctx}
		seeds, _, explicit, err := r.KafkaSettings()
		if err != nil || strings.Join(seeds, ",") != tc.want || explicit != tc.explicit {
			t.Errorf("%s: got %v explicit=%v err=%v, want %s explicit=%v", tc.name, seeds, explicit, err, tc.want, tc.explicit)
		}
	}
}

// TestKafkaSettingsBadSeed: a broker that is not HOST:PORT is a usage
// error that says where it came from.
func TestKafkaSettingsBadSeed(t *testing.T) {
	r := &Resolver{Flags: &Options{}, Getenv: env(map[string]string{"EDDY_BROKERS": "kafka://h:9092"}), Context: &Context{}}
	_, _, _, err := r.KafkaSettings()
	var ue *cmdutil.UsageError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), `EDDY_BROKERS: broker "kafka://h:9092": want HOST:PORT`) {
		t.Fatalf("err = %v", err)
	}
}

// TestAMQPSettingsPrecedence: the URL comes from --amqp-url, then
// EDDY_AMQP_URL, then the context, then the default.
func TestAMQPSettingsPrecedence(t *testing.T) {
	ctx := &Context{AMQP: &AMQPConfig{URL: "amqp://ctx/"}}
	e := env(map[string]string{"EDDY_AMQP_URL": "amqp://env/"})
	for _, tc := range []struct {
		flag, want string
		getenv     func(string) string
		ctx        *Context
		explicit   bool
	}{
		{"amqp://flag/", "amqp://flag/", e, ctx, true},
		{"", "amqp://env/", e, ctx, true},
		{"", "amqp://ctx/", env(nil), ctx, true},
		{"", DefaultAMQPURL, env(nil), &Context{}, false},
	} {
		r := &Resolver{Flags: &Options{AMQPURL: tc.flag}, Getenv: tc.getenv, Context: tc.ctx}
		if url, _, explicit := r.AMQPSettings(); url != tc.want || explicit != tc.explicit {
			t.Errorf("got %s explicit=%v, want %s explicit=%v", url, explicit, tc.want, tc.explicit)
		}
	}
}

// TestSASLPassword: the password file flag wins over EDDY_SASL_PASSWORD,
// which wins over the context's password-env, then its inline password; the
// password is registered with the redactor.
func TestSASLPassword(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kc := &KafkaConfig{SASL: &SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u", PasswordEnv: "MY_PW", Password: "inline"}}
	for _, tc := range []struct {
		passFile string
		env      map[string]string
		want     string
	}{
		{file, map[string]string{"EDDY_SASL_PASSWORD": "from-eddy-env"}, "from-file"},
		{"", map[string]string{"EDDY_SASL_PASSWORD": "from-eddy-env", "MY_PW": "from-my-env"}, "from-eddy-env"},
		{"", map[string]string{"MY_PW": "from-my-env"}, "from-my-env"},
	} {
		red := &iostreams.Redactor{}
		r := &Resolver{Flags: &Options{SASLPassFile: tc.passFile}, Getenv: env(tc.env), Context: &Context{}, Secrets: red}
		c, err := r.kafkaAuth(kc)
		if err != nil || c.pass != tc.want || c.mech != "SCRAM-SHA-256" || c.user != "u" {
			t.Errorf("got %+v, %v; want password %s", c, err, tc.want)
		}
		if got := red.Redact("pw=" + tc.want); got != "pw=****" {
			t.Errorf("redactor: %q", got)
		}
	}
	kc.SASL.PasswordEnv = ""
	r := &Resolver{Flags: &Options{}, Getenv: env(nil), Context: &Context{}, Secrets: &iostreams.Redactor{}}
	if c, _ := r.kafkaAuth(kc); c.pass != "inline" {
		t.Errorf("inline password: got %q", c.pass)
	}
}

// TestCurrentContext: --context wins over EDDY_CONTEXT over the file's
// current-context; a name that is not in the file is a usage error.
func TestCurrentContext(t *testing.T) {
	c := &Config{CurrentContext: "file", Contexts: map[string]*Context{"file": {}, "env": {}, "flag": {}}, path: "/x/config.yaml"}
	e := env(map[string]string{"EDDY_CONTEXT": "env"})
	for flag, want := range map[string]string{"flag": "flag", "": "env"} {
		if _, name, err := c.Current(flag, e); err != nil || name != want {
			t.Errorf("Current(%q) = %q, %v; want %q", flag, name, err, want)
		}
	}
	if _, name, _ := c.Current("", env(nil)); name != "file" {
		t.Errorf("from the file: %q", name)
	}
	_, _, err := c.Current("nosuch", e)
	var ue *cmdutil.UsageError
	if !errors.As(err, &ue) || err.Error() != `context "nosuch" is not in /x/config.yaml (eddy config list shows them)` {
		t.Errorf("unknown context: %v", err)
	}
}

// TestSaveLoad: Save writes mode 0600 (the file may hold credentials) and
// Load reads back what was saved; Masked hides the passwords.
func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eddy", "config.yaml")
	c, err := Load(path)
	if err != nil || len(c.Contexts) != 0 {
		t.Fatalf("missing file: %v, %v", c, err)
	}
	o := &Options{Brokers: []string{"k:9092"}, SASLMech: "PLAIN", SASLUser: "u", AMQPURL: "amqp://u:secret@h/"}
	if err := c.Set("dev", o, "PW_ENV", "", false); err != nil {
		t.Fatal(err)
	}
	c.Contexts["dev"].Kafka.SASL.Password = "inline-secret"
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v, %v", st, err)
	}
	back, err := Load(path)
	if err != nil || back.CurrentContext != "dev" || strings.Join(back.Names(), ",") != "dev" {
		t.Fatalf("load: %+v, %v", back, err)
	}
	m := back.Contexts["dev"].Masked()
	if m.Kafka.SASL.Password != "****" || strings.Contains(m.AMQP.URL, "secret") || m.Kafka.SASL.PasswordEnv != "PW_ENV" {
		t.Errorf("masked: %+v %+v", m.Kafka.SASL, m.AMQP)
	}
	if back.Contexts["dev"].Kafka.SASL.Password != "inline-secret" {
		t.Error("Masked changed the context itself")
	}
}

// TestLoadUnknownField: a key the file may not have is a usage error that
// says where, worded as eddy has always worded it (yaml names the Go types,
// which were package main's).
func TestLoadUnknownField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("contexts:\n  x:\n    kafka: {nope: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var ue *cmdutil.UsageError
	want := "config " + path + ": yaml: unmarshal errors:\n  line 3: field nope not found in type main.KafkaConfig"
	if !errors.As(err, &ue) || err.Error() != want {
		t.Errorf("got %v, want usage error %q", err, want)
	}
}

// TestSetAMQPTLS: the --tls-* flags given with an amqps:// URL (or an https
// management API) are the RabbitMQ connection's, not Kafka's; with brokers as
// well, both get them, as on the command line.
func TestSetAMQPTLS(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{AMQPURL: "amqps://rabbit:5671/", TLSCA: "ca.pem", TLSCert: "c.pem", TLSKey: "c.key"}
	if err := c.Set("r", o, "", "", false); err != nil {
		t.Fatal(err)
	}
	r := c.Contexts["r"]
	if r.Kafka != nil || r.AMQP.TLS == nil || r.AMQP.TLS.CA != "ca.pem" || r.AMQP.TLS.Cert != "c.pem" || r.AMQP.TLS.Key != "c.key" {
		t.Fatalf("amqps with --tls-*: kafka %+v, amqp %+v", r.Kafka, r.AMQP)
	}
	o = &Options{AMQPURL: "amqp://rabbit/", AMQPMgmtURL: "https://rabbit:15671", TLSCA: "ca.pem", Brokers: []string{"k:9093"}}
	if err := c.Set("both", o, "", "", false); err != nil {
		t.Fatal(err)
	}
	both := c.Contexts["both"]
	if both.Kafka == nil || both.Kafka.TLS == nil || both.Kafka.TLS.CA != "ca.pem" || both.AMQP.TLS == nil || both.AMQP.TLS.CA != "ca.pem" {
		t.Fatalf("https management and brokers with --tls-ca: kafka %+v, amqp %+v", both.Kafka, both.AMQP)
	}
	o = &Options{AMQPURL: "amqp://rabbit/", TLSCA: "ca.pem"}
	if err := c.Set("plain", o, "", "", false); err != nil {
		t.Fatal(err)
	}
	if p := c.Contexts["plain"]; p.AMQP.TLS != nil || p.Kafka == nil || p.Kafka.TLS.CA != "ca.pem" {
		t.Fatalf("plain amqp with --tls-ca: kafka %+v, amqp %+v", p.Kafka, p.AMQP)
	}
}

// TestSetRefusesPropertiesPassword: config set with a password that -F or -X
// gave, and no --password-file or --password-env to keep it by, is a usage
// error that creates nothing — not a context without its password.
func TestSetRefusesPropertiesPassword(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Brokers: []string{"k:9093"}, SASLMech: "PLAIN", SASLUser: "eddy"}
	o.propPass = "s3cret-from-properties"
	err = c.Set("p", o, "", "", false)
	if err == nil || !strings.Contains(err.Error(), "--password-file") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Set with a -F password: %v; want a usage error naming --password-file, without the password", err)
	}
	if _, ok := c.Contexts["p"]; ok {
		t.Fatal("the refused Set created a context")
	}
	if err := c.Set("p", o, "", "/etc/eddy/p.password", false); err != nil {
		t.Fatalf("Set with --password-file: %v", err)
	}
	if got := c.Contexts["p"].Kafka.SASL.PasswordFile; got != "/etc/eddy/p.password" {
		t.Fatalf("password-file %q", got)
	}
}
