package kafkatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The environment scripts/brokers.sh sets for the test KDC (an MIT krb5kdc on
// loopback, its realm and database its own).
const (
	// EnvKDCConfig is the krb5.conf clients use: the realm and its KDC.
	EnvKDCConfig = "EDDY_TEST_KDC_CONFIG"
	// EnvKDCProfile is the KDC's kdc.conf, which kadmin.local needs to
	// find the database, to make principals and keytabs.
	EnvKDCProfile = "EDDY_TEST_KDC_PROFILE"
	// EnvKDCRealm is the realm.
	EnvKDCRealm = "EDDY_TEST_KDC_REALM"
)

// KerberosServiceHost is the host of the service principal of the brokers
// StartKerberosBroker runs, kafka/127.0.0.1@REALM: the host clients dial,
// so that a client that derives it from the broker's address finds it.
const KerberosServiceHost = "127.0.0.1"

// KDC is the test KDC, for principals and keytabs of a test's own.
type KDC struct {
	t       testing.TB
	Config  string // krb5.conf for clients (and the broker's JVM)
	Realm   string
	profile string
}

// NewKDC returns the test KDC that scripts/brokers.sh started. Without one
// (EDDY_TEST_KDC_CONFIG unset) the test is skipped, except in CI
// (EDDY_REQUIRE_BROKERS=1 or CI=true), where it fails.
func NewKDC(t testing.TB) *KDC {
	t.Helper()
	k := &KDC{t: t, Config: os.Getenv(EnvKDCConfig), profile: os.Getenv(EnvKDCProfile), Realm: os.Getenv(EnvKDCRealm)}
	if k.Config == "" || k.profile == "" || k.Realm == "" {
		if os.Getenv("EDDY_REQUIRE_BROKERS") == "1" || os.Getenv("CI") == "true" {
			t.Fatalf("%s, %s and %s are not all set: the Kerberos tests need the test KDC (scripts/brokers.sh up starts it)", EnvKDCConfig, EnvKDCProfile, EnvKDCRealm)
		}
		t.Skipf("%s is not set: no test KDC (scripts/brokers.sh up, or scripts/brokers.sh kdc, starts one)", EnvKDCConfig)
	}
	for _, tool := range []string{"kadmin.local", "kinit"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is set but %s is not installed (Debian: krb5-admin-server, krb5-user): %v", EnvKDCConfig, tool, err)
		}
	}
	return k
}

var principalSeq atomic.Int64

// UniquePrincipal is a principal name (no realm) no other test run uses: the
// KDC's database outlives a test run.
func (k *KDC) UniquePrincipal(prefix string) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, principalSeq.Add(1))
}

// AddPrincipal creates name (no realm) with a random key; an existing one is
// kept as it is.
func (k *KDC) AddPrincipal(name string) {
	k.t.Helper()
	k.kadmin("addprinc -randkey "+name, "already exists")
}

// Rekey gives name a new random key (its key version goes up by one): keytabs
// exported before hold a stale key.
func (k *KDC) Rekey(name string) {
	k.t.Helper()
	k.kadmin("cpw -randkey "+name, "")
}

// Keytab writes the current keys of names into a new keytab file and
// returns its path. The keys are not changed (ktadd -norandkey), so
// keytabs made before stay good.
func (k *KDC) Keytab(names ...string) string {
	k.t.Helper()
	path := filepath.Join(k.t.TempDir(), "test.keytab")
	k.kadmin("ktadd -norandkey -k "+path+" "+strings.Join(names, " "), "")
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		k.t.Fatalf("kadmin.local ktadd wrote no keytab at %s: %v", path, err)
	}
	return path
}

// Kinit logs principal (no realm) in with keytab, as a user would with
// kinit -k -t, into a new credential cache file, and returns the file.
func (k *KDC) Kinit(keytab, principal string) string {
	k.t.Helper()
	cache := filepath.Join(k.t.TempDir(), "krb5cc")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kinit", "-k", "-t", keytab, principal+"@"+k.Realm)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.Config, "KRB5CCNAME=FILE:"+cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("kinit -k -t %s %s: %v\n%s", keytab, principal, err, out)
	}
	return cache
}

// kadmin runs one kadmin.local query; its complaints fail the test, except
// one containing ok (when not empty).
func (k *KDC) kadmin(query, ok string) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kadmin.local", "-r", k.Realm, "-q", query)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.Config, "KRB5_KDC_PROFILE="+k.profile)
	out, err := cmd.CombinedOutput()
	// kadmin.local exits 0 after most failed queries: read what it says.
	failed := err != nil
	for _, line := range strings.Split(string(out), "\n") {
		low := strings.ToLower(line)
		if strings.Contains(low, "while ") || strings.Contains(low, "error") || strings.Contains(low, "unable") {
			failed = true
		}
	}
	if failed && (ok == "" || !strings.Contains(string(out), ok)) {
		k.t.Fatalf("kadmin.local -q %q: %v\n%s", query, err, out)
	}
}

// StartKerberosBroker starts a broker of the test's own (StartBrokerWith)
// with a SASL_PLAINTEXT listener named GSSAPI whose service principal is
// kafka/127.0.0.1@REALM, its keytab made here.
func StartKerberosBroker(t testing.TB, kdc *KDC) *Broker {
	t.Helper()
	service := "kafka/" + KerberosServiceHost
	kdc.AddPrincipal(service)
	keytab := kdc.Keytab(service)
	jaas := fmt.Sprintf(`com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true keyTab="%s" principal="%s@%s";`,
		keytab, service, kdc.Realm)
	return StartBrokerWith(t, Config{
		Listeners: []Listener{{Name: "GSSAPI", Protocol: "SASL_PLAINTEXT", Props: []string{
			"listener.name.gssapi.sasl.enabled.mechanisms=GSSAPI",
			"listener.name.gssapi.gssapi.sasl.jaas.config=" + jaas,
		}}},
		Props:   []string{"sasl.kerberos.service.name=kafka"},
		JVMOpts: []string{"-Djava.security.krb5.conf=" + kdc.Config},
	})
}
