package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestKerberos runs eddy against a real Kafka's SASL GSSAPI listener and the
// test KDC: ls and tail with a keytab (flags, and a context), with the
// credential cache kinit made (KRB5CCNAME, KRB5_CONFIG), and a stale keytab
// ends at once with exit 4 and one line that says why. No key of a keytab is
// ever printed, --debug included. One broker serves every case.
func TestKerberos(t *testing.T) {
	kdc := kafkatest.NewKDC(t)
	b := kafkatest.StartKerberosBroker(t, kdc)
	gss := b.ListenerAddr("GSSAPI")
	topic := kafkatest.NewTopic(t, b.Seeds(), 1)
	kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("over kerberos")})

	user := kdc.UniquePrincipal("eddy-cli")
	kdc.AddPrincipal(user)
	kt := kdc.Keytab(user)
	keys := keytabKeys(t, kt)
	tail := []string{"tail", "kafka:" + topic, "--from", "beginning", "--until", "end", "-o", "raw"}
	withKeytab := []string{"--brokers", gss, "--sasl-mechanism", "GSSAPI", "--sasl-kerberos-config", kdc.Config,
		"--sasl-kerberos-principal", user, "--sasl-kerberos-keytab", kt, "--timeout", "30s"}

	// shows fails the test when any output shows a key.
	shows := func(t *testing.T, outs ...string) {
		t.Helper()
		for _, out := range outs {
			for _, k := range keys {
				if strings.Contains(out, k) {
					t.Fatalf("a keytab key is printed: %q", out)
				}
			}
		}
	}

	t.Run("keytab", func(t *testing.T) {
		code, out, errOut := runEddy(t, nil, append([]string{"ls"}, withKeytab...)...)
		if code != 0 || !strings.Contains(out, topic) {
			t.Fatalf("eddy ls: exit %d, stdout %q, stderr %q; want %s listed\nbroker log:\n%s", code, out, errOut, topic, b.Log())
		}
		code, out, errOut = runEddy(t, nil, append(append(tail, withKeytab...), "--debug")...)
		if code != 0 || out != "over kerberos\n" {
			t.Fatalf("eddy tail: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if !strings.Contains(errOut, "GSSAPI") {
			t.Errorf("the --debug log does not show the GSSAPI exchange: %q", errOut)
		}
		shows(t, out, errOut)
	})
	t.Run("ccache", func(t *testing.T) {
		// As after `KRB5CCNAME=FILE:... kinit -k -t KEYTAB PRINCIPAL`:
		// only the mechanism is named (by its alias), the rest is the
		// environment the Kerberos tools use.
		cache := kdc.Kinit(kt, user)
		env := map[string]string{"KRB5CCNAME": "FILE:" + cache, "KRB5_CONFIG": kdc.Config}
		code, out, errOut := runEddy(t, env, append(tail, "--brokers", gss, "--sasl-mechanism", "KERBEROS", "--timeout", "30s")...)
		if code != 0 || out != "over kerberos\n" {
			t.Fatalf("eddy tail with a credential cache: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		// --sasl-kerberos-ccache alone implies GSSAPI.
		code, out, errOut = runEddy(t, map[string]string{"KRB5_CONFIG": kdc.Config}, "ls", "--brokers", gss, "--sasl-kerberos-ccache", cache, "--timeout", "30s")
		if code != 0 || !strings.Contains(out, topic) {
			t.Fatalf("eddy ls --sasl-kerberos-ccache: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("context", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		yaml := fmt.Sprintf(`current-context: corp
contexts:
  corp:
    kafka:
      brokers: [%q]
      sasl:
        mechanism: GSSAPI
        kerberos: {principal: %q, keytab: %q, config: %q, service-name: kafka}
`, gss, user+"@"+kdc.Realm, kt, kdc.Config)
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"EDDY_CONFIG": cfg}
		code, out, errOut := runEddy(t, env, append(tail, "--timeout", "30s")...)
		if code != 0 || out != "over kerberos\n" {
			t.Fatalf("eddy tail with the context: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, errOut = runEddy(t, env, "config", "show", "corp")
		if code != 0 || !strings.Contains(out, "keytab: "+kt) || !strings.Contains(out, "service-name: kafka") {
			t.Fatalf("eddy config show: exit %d, stdout %q, stderr %q; want the kerberos settings", code, out, errOut)
		}
		shows(t, out, errOut)
		// eddy config set records the --sasl-kerberos-* flags.
		code, out, errOut = runEddy(t, env, "config", "set", "corp2", "--brokers", gss, "--sasl-kerberos-config", kdc.Config,
			"--sasl-kerberos-principal", user, "--sasl-kerberos-keytab", kt)
		if code != 0 {
			t.Fatalf("eddy config set: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, errOut = runEddy(t, env, "ls", "--context", "corp2", "--timeout", "30s")
		if code != 0 || !strings.Contains(out, topic) {
			t.Fatalf("eddy ls --context corp2 (made by config set): exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("stale keytab", func(t *testing.T) {
		stale := kdc.UniquePrincipal("eddy-stale")
		kdc.AddPrincipal(stale)
		old := kdc.Keytab(stale)
		kdc.Rekey(stale)
		staleKeys := keytabKeys(t, old)
		args := []string{"ls", "--brokers", gss, "--sasl-kerberos-config", kdc.Config,
			"--sasl-kerberos-principal", stale, "--sasl-kerberos-keytab", old, "--timeout", "30s"}
		code, out, errOut := runEddy(t, nil, args...)
		want := "eddy: kafka: cannot connect to " + gss + ": authentication failed: Kerberos login as " + stale + "@" + kdc.Realm +
			" with the keytab " + old + ": the KDC refused its key (KDC_ERR_PREAUTH_FAILED"
		if code != ExitConnect || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("stale keytab: exit %d, stdout %q, stderr %q; want exit %d and one line starting %q", code, out, errOut, ExitConnect, want)
		}
		t.Logf("eddy ls with a stale keytab: exit %d: %s", code, errOut)
		code, out, errOut = runEddy(t, nil, append(args, "--debug")...)
		if code != ExitConnect {
			t.Fatalf("stale keytab, --debug: exit %d, stderr %q", code, errOut)
		}
		for _, o := range []string{out, errOut} {
			for _, k := range append(staleKeys, keys...) {
				if strings.Contains(o, k) {
					t.Fatalf("--debug prints a keytab key: %q", o)
				}
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.keytab")
		code, _, errOut := runEddy(t, nil, "ls", "--brokers", gss, "--sasl-kerberos-config", kdc.Config,
			"--sasl-kerberos-principal", user, "--sasl-kerberos-keytab", missing)
		if code != ExitUsage || !strings.Contains(errOut, "Kerberos keytab "+missing+": no such file") {
			t.Errorf("missing keytab: exit %d, stderr %q; want %d naming the file", code, errOut, ExitUsage)
		}
		code, _, errOut = runEddy(t, nil, "ls", "--brokers", gss, "--sasl-kerberos-config", kdc.Config,
			"--sasl-kerberos-keytab", kt, "--sasl-kerberos-ccache", kt)
		if code != ExitUsage || !strings.Contains(errOut, "give one, not both") {
			t.Errorf("keytab and ccache: exit %d, stderr %q", code, errOut)
		}
		code, _, errOut = runEddy(t, nil, "ls", "--brokers", gss, "--sasl-mechanism", "PLAIN", "--sasl-user", "u",
			"--sasl-kerberos-keytab", kt)
		if code != ExitUsage || !strings.Contains(errOut, "--sasl-kerberos-* flags are for --sasl-mechanism GSSAPI") {
			t.Errorf("kerberos flags with PLAIN: exit %d, stderr %q", code, errOut)
		}
	})
}

// keytabKeys are the keys of a keytab as they could leak: raw, hex, base64.
func keytabKeys(t *testing.T, path string) []string {
	t.Helper()
	k, err := keytab.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range k.Entries {
		v := e.Key.KeyValue
		out = append(out, string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v))
	}
	if len(out) == 0 {
		t.Fatalf("the keytab %s holds no key", path)
	}
	return out
}
