package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// TestKerberosLogin: each Kerberos setting comes from its flag, then the
// context, then KRB5CCNAME / KRB5_CONFIG, then the MIT defaults; a keytab
// from a flag beats the context's cache and the other way round; GSSAPI is
// implied by the flags or the context's sasl.kerberos, refused beside another
// mechanism.
func TestKerberosLogin(t *testing.T) {
	ctx := &KerberosConfig{Principal: "ctx@R", Keytab: "/ctx.keytab", Config: "/ctx.conf", ServiceName: "ctxsvc", Host: "ctx.host"}
	krbEnv := map[string]string{"KRB5CCNAME": "FILE:/env.cc", "KRB5_CONFIG": "/env.conf:/other.conf"}
	defCache := fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	for _, tc := range []struct {
		name  string
		mech  string
		flags Options
		env   map[string]string
		ctx   *KerberosConfig
		want  kafka.Kerberos
		ok    bool
	}{
		{"nothing", "", Options{}, krbEnv, nil, kafka.Kerberos{}, false},
		{"another mechanism", "SCRAM-SHA-512", Options{}, krbEnv, ctx, kafka.Kerberos{}, false},
		{"defaults", "GSSAPI", Options{}, nil, nil, kafka.Kerberos{CCache: defCache, Config: DefaultKrb5Config}, true},
		{"environment", "kerberos", Options{}, krbEnv, nil, kafka.Kerberos{CCache: "FILE:/env.cc", Config: "/env.conf"}, true},
		{"context over environment", "", Options{}, krbEnv, ctx,
			kafka.Kerberos{Principal: "ctx@R", Keytab: "/ctx.keytab", Config: "/ctx.conf", ServiceName: "ctxsvc", Host: "ctx.host"}, true},
		{"flags over context", "GSSAPI", Options{Kerberos: KerberosConfig{Principal: "f", CCache: "/f.cc", Config: "/f.conf", ServiceName: "fsvc", Host: "f.host"}}, krbEnv, ctx,
			kafka.Kerberos{Principal: "f", CCache: "/f.cc", Config: "/f.conf", ServiceName: "fsvc", Host: "f.host"}, true},
		{"a flag implies GSSAPI", "", Options{Kerberos: KerberosConfig{Keytab: "/f.keytab"}, SASLUser: "user"}, nil, nil,
			kafka.Kerberos{Principal: "user", Keytab: "/f.keytab", Config: DefaultKrb5Config}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Resolver{Flags: &tc.flags, Getenv: env(tc.env), Context: &Context{}}
			got, ok, err := r.kerberosLogin(tc.mech, tc.ctx)
			if err != nil || ok != tc.ok || got != tc.want {
				t.Fatalf("got %+v ok=%v err=%v, want %+v ok=%v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		mech  string
		flags Options
		ctx   *KerberosConfig
		want  string
	}{
		{"both flags", "", Options{Kerberos: KerberosConfig{Keytab: "a", CCache: "b"}}, nil, "give one, not both"},
		{"both in the context", "GSSAPI", Options{}, &KerberosConfig{Keytab: "a", CCache: "b"}, "both a keytab and a ccache"},
		{"flags with PLAIN", "PLAIN", Options{Kerberos: KerberosConfig{Keytab: "a"}}, nil, "--sasl-kerberos-* flags are for --sasl-mechanism GSSAPI, not PLAIN"},
	} {
		r := &Resolver{Flags: &tc.flags, Getenv: env(nil), Context: &Context{}}
		_, _, err := r.kerberosLogin(tc.mech, tc.ctx)
		var ue *cmdutil.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a usage error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestSetKerberos: eddy config set keeps the --sasl-kerberos-* flags in the
// context, with mechanism GSSAPI.
func TestSetKerberos(t *testing.T) {
	c := &Config{Contexts: map[string]*Context{}}
	o := &Options{Brokers: []string{"k:9092"}, Kerberos: KerberosConfig{Principal: "p@R", Keytab: "/k.keytab"}}
	if err := c.Set("corp", o, "", "", false); err != nil {
		t.Fatal(err)
	}
	s := c.Contexts["corp"].Kafka.SASL
	if s == nil || s.Mechanism != "GSSAPI" || s.Kerberos == nil || *s.Kerberos != o.Kerberos {
		t.Fatalf("sasl = %+v", s)
	}
}
