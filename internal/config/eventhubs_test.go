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

const ehKey = "c2VjcmV0LWtleS1vZi10aGUtbmFtZXNwYWNlLTEyMzQ1Ng=="

// TestParseEventHubs: a namespace's and an event hub's connection strings
// parse; malformed ones say what is wrong without the key.
func TestParseEventHubs(t *testing.T) {
	for _, s := range []string{
		"Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + ehKey,
		" endpoint=sb://shop.servicebus.windows.net/ ; SharedAccessKeyName=send;SharedAccessKey=" + ehKey + ";EntityPath=orders;\n",
	} {
		c, err := ParseEventHubs(s)
		if err != nil || c.Host != "shop.servicebus.windows.net" || c.Broker() != "shop.servicebus.windows.net:9093" || c.Key != ehKey {
			t.Errorf("%q: %+v, %v", s, c, err)
		}
	}
	if c, err := ParseEventHubs("Endpoint=sb://x.servicebus.chinacloudapi.cn/;SharedAccessSignature=SharedAccessSignature sr=x&sig=abc"); err != nil || c.Broker() != "x.servicebus.chinacloudapi.cn:9093" {
		t.Errorf("a signature instead of a key: %+v, %v", c, err)
	}
	for _, tc := range []struct{ s, want string }{
		{"", "empty"},
		{"SharedAccessKeyName=k;SharedAccessKey=" + ehKey, "no Endpoint="},
		{"Endpoint=https://shop.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + ehKey, "want sb://"},
		{"Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKey=" + ehKey, "no SharedAccessKeyName="},
		{"Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=k", "no SharedAccessKey="},
		{"Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=k;" + strings.TrimRight(ehKey, "="), "part 3 has no '='"},
	} {
		_, err := ParseEventHubs(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), strings.TrimRight(ehKey, "=")) {
			t.Errorf("%q: err %v, want %q and no key", tc.s, err, tc.want)
		}
	}
}

// TestEventHubsResolve: a connection string from the flag's file, the
// environment or the context makes Kafka the namespace's endpoint over TLS
// with SASL PLAIN as $ConnectionString, the string registered as a secret;
// --brokers still overrides where.
func TestEventHubsResolve(t *testing.T) {
	dir := t.TempDir()
	conn := "Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + ehKey
	file := filepath.Join(dir, "eh.txt")
	if err := os.WriteFile(file, []byte(conn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags Options
		env   map[string]string
		ctx   *Context
		seeds string
	}{
		{"flag", Options{EventHubsFile: file}, nil, &Context{}, "shop.servicebus.windows.net:9093"},
		{"env", Options{}, map[string]string{EnvEventHubs: conn}, &Context{}, "shop.servicebus.windows.net:9093"},
		{"context file", Options{}, nil, &Context{Kafka: &KafkaConfig{EventHubs: &EventHubsConfig{ConnectionStringFile: file}}}, "shop.servicebus.windows.net:9093"},
		{"context env", Options{}, map[string]string{"SHOP": conn}, &Context{Kafka: &KafkaConfig{EventHubs: &EventHubsConfig{ConnectionStringEnv: "SHOP"}}}, "shop.servicebus.windows.net:9093"},
		{"brokers override", Options{EventHubsFile: file, Brokers: []string{"127.0.0.1:1"}}, nil, &Context{}, "127.0.0.1:1"},
	} {
		red := &iostreams.Redactor{}
		r := &Resolver{Flags: &tc.flags, Getenv: env(tc.env), Context: tc.ctx, Secrets: red}
		seeds, kc, explicit, err := r.KafkaSettings()
		if err != nil || strings.Join(seeds, ",") != tc.seeds || !explicit {
			t.Errorf("%s: seeds %v explicit %v err %v, want %s", tc.name, seeds, explicit, err, tc.seeds)
			continue
		}
		c, err := r.kafkaAuth(kc)
		if err != nil || c.tls == nil || c.mech != "PLAIN" || c.user != EventHubsUser || c.pass != conn {
			t.Errorf("%s: auth tls=%v mech=%q user=%q pass is the string: %v, err %v", tc.name, c.tls != nil, c.mech, c.user, c.pass == conn, err)
		}
		if got := red.Redact("x " + conn + " y " + ehKey); strings.Contains(got, ehKey) {
			t.Errorf("%s: the connection string is not a registered secret: %q", tc.name, got)
		}
	}

	r := &Resolver{Flags: &Options{EventHubsFile: filepath.Join(dir, "missing.txt")}, Getenv: env(nil), Context: &Context{}, Secrets: &iostreams.Redactor{}}
	var ue *cmdutil.UsageError
	if _, _, _, err := r.KafkaSettings(); !errors.As(err, &ue) || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("a missing file: %v, want a usage error naming it", err)
	}
}

// TestSetEventHubs: eddy config set --event-hubs-connection-string-file
// points the context at the namespace and keeps the file's path, not the
// string; SASL flags beside it are refused.
func TestSetEventHubs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "eh.txt")
	os.WriteFile(file, []byte("Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey="+ehKey), 0o600)
	c := &Config{path: filepath.Join(dir, "config.yaml"), Contexts: map[string]*Context{
		"azure": {Kafka: &KafkaConfig{SASL: &SASLConfig{Mechanism: "PLAIN", Username: "old"}}},
	}}
	if err := c.Set("azure", &Options{EventHubsFile: file}, "", "", false); err != nil {
		t.Fatal(err)
	}
	k := c.Contexts["azure"].Kafka
	if strings.Join(k.Brokers, ",") != "shop.servicebus.windows.net:9093" || k.SASL != nil || k.EventHubs == nil || k.EventHubs.ConnectionStringFile != file {
		t.Fatalf("context: %+v (event hubs %+v)", k, k.EventHubs)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(c.path); strings.Contains(string(b), ehKey) || !strings.Contains(string(b), "connection-string-file: "+file) {
		t.Fatalf("config file:\n%s", b)
	}
	var ue *cmdutil.UsageError
	if err := c.Set("x", &Options{EventHubsFile: file, SASLUser: "bob"}, "", "", false); !errors.As(err, &ue) {
		t.Fatalf("--sasl-user beside it: %v, want a usage error", err)
	}
}
