package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestKerberosPropsReview: a Java client.properties for Kerberos, as
// Kafka's documentation writes it (sasl.mechanism=GSSAPI,
// sasl.kerberos.service.name, a Krb5LoginModule JAAS config with keyTab and
// principal), and kcat's librdkafka spelling (sasl.kerberos.keytab,
// sasl.kerberos.principal) log in to the real Kafka's GSSAPI listener
// through -F, and import into a context that does. They used to be
// refused: "login module com.sun.security.auth.module.Krb5LoginModule is
// not supported", and "sasl.kerberos.keytab is not a property eddy
// supports", although eddy logs in with a keytab itself.
func TestKerberosPropsReview(t *testing.T) {
	kdc := kafkatest.NewKDC(t)
	b := kafkatest.StartKerberosBroker(t, kdc)
	gss := b.ListenerAddr("GSSAPI")
	topic := kafkatest.NewTopic(t, b.Seeds(), 1)
	kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("over kerberos")})
	user := kdc.UniquePrincipal("eddy-props")
	kdc.AddPrincipal(user)
	kt := kdc.Keytab(user)
	keys := keytabKeys(t, kt)
	env := map[string]string{"KRB5_CONFIG": kdc.Config}

	dir := t.TempDir()
	java := filepath.Join(dir, "client.properties")
	os.WriteFile(java, []byte(`bootstrap.servers=`+gss+`
security.protocol=SASL_PLAINTEXT
sasl.mechanism=GSSAPI
sasl.kerberos.service.name=kafka
sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required \
    useKeyTab=true \
    storeKey=true \
    keyTab="`+kt+`" \
    principal="`+user+`@`+kdc.Realm+`";
`), 0o600)
	kcat := filepath.Join(dir, "kcat.conf")
	os.WriteFile(kcat, []byte(`metadata.broker.list=`+gss+`
security.protocol=sasl_plaintext
sasl.mechanisms=GSSAPI
sasl.kerberos.service.name=kafka
sasl.kerberos.keytab=`+kt+`
sasl.kerberos.principal=`+user+`
`), 0o600)

	for _, f := range []string{java, kcat} {
		code, out, errOut := runEddy(t, env, "tail", "kafka:"+topic, "-F", f, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "30s")
		if code != 0 || out != "over kerberos\n" {
			t.Errorf("-F %s: exit %d, stdout %q, stderr %q", filepath.Base(f), code, out, errOut)
		}
		for _, k := range keys {
			if strings.Contains(out+errOut, k) {
				t.Errorf("a keytab key is printed")
			}
		}
	}

	ienv, cfgPath := importEnv(t)
	ienv["KRB5_CONFIG"] = kdc.Config
	if code, _, errOut := runEddy(t, ienv, "config", "import", "properties", java, "--name", "krb"); code != 0 {
		t.Fatalf("import: exit %d, %s", code, errOut)
	}
	c := loadConfig(t, cfgPath)
	s := c.Contexts["krb"].Kafka.SASL
	if s == nil || s.Mechanism != "GSSAPI" || s.Kerberos == nil || s.Kerberos.Keytab != kt || s.Kerberos.ServiceName != "kafka" {
		t.Fatalf("imported SASL %+v", s)
	}
	code, out, errOut := runEddy(t, ienv, "--context", "krb", "tail", "kafka:"+topic, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "30s")
	if code != 0 || out != "over kerberos\n" {
		t.Errorf("the imported context: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
