package kafka_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestKerberos logs in to a real Kafka's SASL_PLAINTEXT GSSAPI listener
// through the test KDC: with a keytab, with a credential cache kinit filled,
// and fails at once, saying why, with a stale keytab, a keytab of another
// principal, a service principal the KDC does not know and an unreachable
// KDC. No key of a keytab reaches an error or the debug log. One broker
// serves every case.
func TestKerberos(t *testing.T) {
	kdc := kafkatest.NewKDC(t)
	b := kafkatest.StartKerberosBroker(t, kdc)
	gss := []string{b.ListenerAddr("GSSAPI")}
	topic := kafkatest.NewTopic(t, b.Seeds(), 1)
	kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("over kerberos")})

	user := kdc.UniquePrincipal("eddy")
	kdc.AddPrincipal(user)
	kt := kdc.Keytab(user)
	keys := keytabSecrets(t, kt)

	// connects logs in with k and lists the topics through the GSSAPI
	// listener; the debug log is returned.
	connects := func(t *testing.T, k kafka.Kerberos) string {
		t.Helper()
		log := &syncWriter{}
		c, err := kafka.New(gss, kafka.WithKerberos(k), kafka.WithDialTimeout(30*time.Second), kafka.WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		topics, err := c.Topics(ctxT(t), false)
		if err != nil {
			t.Fatalf("Topics: %v\nbroker log:\n%s", err, b.Log())
		}
		found := false
		for _, ti := range topics {
			found = found || ti.Name == topic
		}
		if !found {
			t.Fatalf("Topics through GSSAPI = %v, want %s among them", topics, topic)
		}
		return log.String()
	}
	// fails logs in with k, which must fail with a ConnectError saying want,
	// well before the dial timeout.
	fails := func(t *testing.T, k kafka.Kerberos, want ...string) {
		t.Helper()
		log := &syncWriter{}
		const dial = 30 * time.Second
		c, err := kafka.New(gss, kafka.WithKerberos(k), kafka.WithDialTimeout(dial), kafka.WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		err = c.Ping(ctxT(t))
		took := time.Since(start)
		t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		var ce *bus.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("Ping = %v, want a *bus.ConnectError", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if took > dial/2 {
			t.Errorf("failing took %v: it waited for the dial timeout instead of ending at the refusal", took)
		}
		noSecrets(t, keys, err.Error(), log.String())
	}

	t.Run("keytab", func(t *testing.T) {
		log := connects(t, kafka.Kerberos{Principal: user, Keytab: kt, Config: kdc.Config})
		noSecrets(t, keys, log)
		// With the realm spelled out, and the service name given.
		connects(t, kafka.Kerberos{Principal: user + "@" + kdc.Realm, Keytab: kt, Config: kdc.Config, ServiceName: "kafka"})
	})
	t.Run("ccache", func(t *testing.T) {
		cache := kdc.Kinit(kt, user)
		connects(t, kafka.Kerberos{CCache: "FILE:" + cache, Config: kdc.Config})
		connects(t, kafka.Kerberos{CCache: cache, Principal: user, Config: kdc.Config})
		_, err := kafka.New(gss, kafka.WithKerberos(kafka.Kerberos{CCache: cache, Principal: "someone-else", Config: kdc.Config}))
		if err == nil || !strings.Contains(err.Error(), "holds the tickets of "+user+"@"+kdc.Realm+", not of someone-else@"+kdc.Realm) {
			t.Errorf("a cache of another principal: err = %v", err)
		}
	})
	t.Run("stale keytab", func(t *testing.T) {
		other := kdc.UniquePrincipal("stale")
		kdc.AddPrincipal(other)
		old := kdc.Keytab(other)
		kdc.Rekey(other)
		fails(t, kafka.Kerberos{Principal: other, Keytab: old, Config: kdc.Config},
			"authentication failed: Kerberos login as "+other+"@"+kdc.Realm+" with the keytab "+old, "KDC_ERR_PREAUTH_FAILED")
		noSecrets(t, keytabSecrets(t, old), "")
	})
	t.Run("keytab of another principal", func(t *testing.T) {
		other := kdc.UniquePrincipal("other")
		kdc.AddPrincipal(other)
		fails(t, kafka.Kerberos{Principal: other, Keytab: kt, Config: kdc.Config},
			"authentication failed: Kerberos login as "+other+"@"+kdc.Realm,
			"has no key for "+other+"@"+kdc.Realm+" (it holds "+user+"@"+kdc.Realm+")")
	})
	t.Run("unknown principal", func(t *testing.T) {
		// A keytab for a principal the KDC never had: made by hand.
		ghost := filepath.Join(t.TempDir(), "ghost.keytab")
		k := keytab.New()
		if err := k.AddEntry("ghost", kdc.Realm, "not-a-real-password", time.Now(), 1, 18); err != nil {
			t.Fatal(err)
		}
		raw, err := k.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ghost, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		fails(t, kafka.Kerberos{Principal: "ghost", Keytab: ghost, Config: kdc.Config},
			"authentication failed: Kerberos login as ghost@"+kdc.Realm, "the KDC knows no principal ghost@"+kdc.Realm)
	})
	t.Run("service principal override", func(t *testing.T) {
		// The host of the service principal is the one given, not the
		// broker's: the KDC knows no kafka/nosuch.eddy.test.
		fails(t, kafka.Kerberos{Principal: user, Keytab: kt, Config: kdc.Config, Host: "nosuch.eddy.test"},
			"authentication failed: Kerberos: the KDC knows no service principal kafka/nosuch.eddy.test")
		fails(t, kafka.Kerberos{Principal: user, Keytab: kt, Config: kdc.Config, ServiceName: "notkafka"},
			"the KDC knows no service principal notkafka/"+kafkatest.KerberosServiceHost)
	})
	t.Run("no KDC", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().String()
		l.Close()
		conf := filepath.Join(t.TempDir(), "krb5.conf")
		text := fmt.Sprintf("[libdefaults]\n default_realm = %[1]s\n\n[realms]\n %[1]s = {\n  kdc = %[2]s\n }\n", kdc.Realm, closed)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		fails(t, kafka.Kerberos{Principal: user, Keytab: kt, Config: conf}, "Kerberos: cannot reach a KDC of realm "+kdc.Realm+" (the kdc lines of "+conf+")")
	})

	t.Run("ccache expiring mid-run", func(t *testing.T) {
		// A TGT of a few seconds that cannot be renewed (kinit -l without
		// -r): logins after it ends fail saying the tickets expired, until
		// a kinit refreshes the cache file, which the running client reads
		// again at its next login.
		cache := filepath.Join(t.TempDir(), "krb5cc")
		kinit := func(args ...string) time.Time {
			t.Helper()
			cmd := exec.Command("kinit", append(args, "-k", "-t", kt, user+"@"+kdc.Realm)...)
			cmd.Env = append(os.Environ(), "KRB5_CONFIG="+kdc.Config, "KRB5CCNAME=FILE:"+cache)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("kinit %v: %v\n%s", args, err, out)
			}
			cc, err := credentials.LoadCCache(cache)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cc.GetEntries() {
				if c.Server.PrincipalName.NameString[0] == "krbtgt" {
					return c.EndTime
				}
			}
			t.Fatal("kinit left no TGT")
			return time.Time{}
		}
		end := kinit("-l", "8s")
		c, err := kafka.New(gss, kafka.WithKerberos(kafka.Kerberos{CCache: cache, Config: kdc.Config}), kafka.WithDialTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Each kgo client of c (a Source's, a Sink's) makes connections of
		// its own, each logging in with c's Kerberos login.
		login := func() error {
			cl, err := kgo.NewClient(c.KgoOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			return cl.Ping(ctxT(t))
		}
		if err := login(); err != nil {
			t.Fatalf("login with a fresh TGT: %v", err)
		}
		kafkatest.WaitFor(t, time.Until(end)+10*time.Second, "the TGT to end", func() bool { return time.Now().After(end.Add(time.Second)) })
		err = login()
		if err == nil || !strings.Contains(err.Error(), "its tickets have expired (run kinit again)") {
			t.Fatalf("login after the TGT ended: %v, want it to say the tickets expired", err)
		}
		t.Log(err)
		kinit()
		if err := login(); err != nil {
			t.Fatalf("login after kinit refreshed the cache: %v", err)
		}
	})
}

// TestKerberosNew: New refuses what cannot work, before any connection,
// naming the file or setting.
func TestKerberosNew(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n default_realm = EDDY.TEST\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noRealm := filepath.Join(dir, "norealm.conf")
	if err := os.WriteFile(noRealm, []byte("[libdefaults]\n dns_lookup_kdc = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.keytab")
	if err := os.WriteFile(garbage, []byte("not a keytab"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		opt  kafka.Option
		want string
	}{
		{"GSSAPI without settings", kafka.WithSASL("GSSAPI", "", ""), `SASL mechanism "GSSAPI" needs Kerberos settings`},
		{"no config", kafka.WithKerberos(kafka.Kerberos{Principal: "u", Keytab: garbage}), "needs a krb5.conf"},
		{"no login", kafka.WithKerberos(kafka.Kerberos{Config: conf}), "needs a keytab (--sasl-kerberos-keytab) or a credential cache"},
		{"both", kafka.WithKerberos(kafka.Kerberos{Config: conf, Keytab: garbage, CCache: garbage}), "not both"},
		{"keytab without principal", kafka.WithKerberos(kafka.Kerberos{Config: conf, Keytab: garbage}), "which principal?"},
		{"missing config", kafka.WithKerberos(kafka.Kerberos{Config: missing, Principal: "u", Keytab: garbage}), "Kerberos config " + missing + ": no such file"},
		{"missing keytab", kafka.WithKerberos(kafka.Kerberos{Config: conf, Principal: "u", Keytab: missing}), "Kerberos keytab " + missing + ": no such file"},
		{"garbage keytab", kafka.WithKerberos(kafka.Kerberos{Config: conf, Principal: "u", Keytab: garbage}), "Kerberos keytab " + garbage},
		{"missing ccache", kafka.WithKerberos(kafka.Kerberos{Config: conf, CCache: "FILE:" + missing}), "Kerberos credential cache " + missing + ": no such file"},
		{"keyring ccache", kafka.WithKerberos(kafka.Kerberos{Config: conf, CCache: "KEYRING:persistent:0"}), "only FILE: caches are supported"},
		{"no realm", kafka.WithKerberos(kafka.Kerberos{Config: noRealm, Principal: "u", Keytab: writeKeytab(t, "u", "EDDY.TEST")}), `principal "u" has no @REALM`},
		{"bad service", kafka.WithKerberos(kafka.Kerberos{Config: conf, Principal: "u", Keytab: garbage, ServiceName: "kafka/x"}), "want a bare name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.New([]string{"127.0.0.1:9092"}, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	// A good keytab loads without any KDC: New does not connect.
	c, err := kafka.New([]string{"127.0.0.1:9092"}, kafka.WithKerberos(kafka.Kerberos{Config: conf, Principal: "u", Keytab: writeKeytab(t, "u", "EDDY.TEST")}))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func writeKeytab(t *testing.T, user, realm string) string {
	t.Helper()
	k := keytab.New()
	if err := k.AddEntry(user, realm, "pw-"+user, time.Now(), 1, 18); err != nil {
		t.Fatal(err)
	}
	raw, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), user+".keytab")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keytabSecrets are the keys of the keytab at path as they could leak:
// raw, hex and base64.
func keytabSecrets(t *testing.T, path string) []string {
	t.Helper()
	k, err := keytab.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range k.Entries {
		v := e.Key.KeyValue
		out = append(out, string(v), hex.EncodeToString(v), strings.ToUpper(hex.EncodeToString(v)),
			base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v))
	}
	if len(out) == 0 {
		t.Fatalf("the keytab %s holds no key", path)
	}
	return out
}

// noSecrets fails when any text shows a key.
func noSecrets(t *testing.T, keys []string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, k := range keys {
			if len(k) >= 8 && strings.Contains(s, k) {
				t.Fatalf("a keytab key appears in %q", s)
			}
		}
	}
}
