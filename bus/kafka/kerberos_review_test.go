package kafka_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// krbRenewers counts gokrb5's TGT renewal goroutines: one per Kerberos
// login session, running until the session's client is destroyed.
func krbRenewers() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "gokrb5/v8/client.(*Client).enableAutoSessionRenewal")
}

// TestKerberosReviewCloseEndsRenewal: a closed client leaves no Kerberos
// goroutine behind. gokrb5 starts a TGT renewal goroutine for every login,
// which runs (and renews, with the keytab's key) until the gokrb5 client
// is destroyed; eddy's kafka.Client used to never destroy it, so every
// client a long-lived process opened (the TUI reopening a tail) leaked two,
// holding the keytab's keys in memory.
func TestKerberosReviewCloseEndsRenewal(t *testing.T) {

	kdc := kafkatest.NewKDC(t)
	b := kafkatest.StartKerberosBroker(t, kdc)
	gss := []string{b.ListenerAddr("GSSAPI")}
	user := kdc.UniquePrincipal("leak")
	kdc.AddPrincipal(user)
	kt := kdc.Keytab(user)

	before := krbRenewers()
	for range 3 {
		c, err := kafka.New(gss, kafka.WithKerberos(kafka.Kerberos{Principal: user, Keytab: kt, Config: kdc.Config}), kafka.WithDialTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(ctxT(t)); err != nil {
			c.Close()
			t.Fatalf("Ping: %v\nbroker log:\n%s", err, b.Log())
		}
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for krbRenewers() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d Kerberos renewal goroutines before, %d after three clients were closed", before, krbRenewers())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
