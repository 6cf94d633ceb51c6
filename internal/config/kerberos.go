package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// DefaultKrb5Config is the krb5.conf read when neither --sasl-kerberos-config,
// the context nor KRB5_CONFIG names one: where MIT and Heimdal look.
const DefaultKrb5Config = "/etc/krb5.conf"

// KerberosConfig is a context's Kerberos login, for SASL GSSAPI: a keytab,
// or a credential cache that kinit filled. It holds file names only; the
// keytab's keys stay in their file.
type KerberosConfig struct {
	// Principal is user or user@REALM (the realm defaults to krb5.conf's
	// default_realm). A keytab needs it; a credential cache knows its own.
	Principal string `yaml:"principal,omitempty"`
	Keytab    string `yaml:"keytab,omitempty"`
	CCache    string `yaml:"ccache,omitempty"`
	// Config is the krb5.conf (default: KRB5_CONFIG, then /etc/krb5.conf).
	Config string `yaml:"config,omitempty"`
	// ServiceName is the brokers' Kerberos service (default kafka).
	ServiceName string `yaml:"service-name,omitempty"`
	// Host is the host of the brokers' service principal SERVICE/HOST, for
	// every broker (default: each broker's host as dialed).
	Host string `yaml:"host,omitempty"`
}

// bindKerberos declares the --sasl-kerberos-* flags.
func (g *Options) bindKerberos(fs *pflag.FlagSet) {
	k := &g.Kerberos
	fs.StringVar(&k.Principal, "sasl-kerberos-principal", "", "Kerberos principal, user or user@REALM, for --sasl-mechanism GSSAPI (with a keytab; a credential cache knows its own)")
	fs.StringVar(&k.Keytab, "sasl-kerberos-keytab", "", "Kerberos keytab file of the principal (GSSAPI)")
	fs.StringVar(&k.CCache, "sasl-kerberos-ccache", "", "Kerberos credential cache file, as kinit made it (GSSAPI; env KRB5CCNAME; default /tmp/krb5cc_UID)")
	fs.StringVar(&k.Config, "sasl-kerberos-config", "", "krb5.conf naming the realm's KDCs (GSSAPI; env KRB5_CONFIG; default "+DefaultKrb5Config+")")
	fs.StringVar(&k.ServiceName, "sasl-kerberos-service-name", "", "the brokers' Kerberos service name, SERVICE in SERVICE/HOST@REALM (GSSAPI; default "+kafka.DefaultKerberosService+")")
	fs.StringVar(&k.Host, "sasl-kerberos-host", "", "HOST in the brokers' service principal SERVICE/HOST@REALM, for every broker (GSSAPI; default: each broker's host as dialed)")
}

// isKerberos reports whether mech names SASL GSSAPI.
func isKerberos(mech string) bool {
	switch strings.ToUpper(strings.TrimSpace(mech)) {
	case "GSSAPI", "KERBEROS":
		return true
	}
	return false
}

// kerberosLogin resolves a Kerberos login when the mechanism is GSSAPI (alias
// KERBEROS), or when none is named but a --sasl-kerberos-* flag or the
// context's sasl.kerberos is there; ok is false otherwise. Each setting comes
// from its flag, then the context, then KRB5CCNAME / KRB5_CONFIG, then the
// MIT default: a context that names a file is more specific than those
// variables, which a login shell sets for every Kerberos program.
func (r *Resolver) kerberosLogin(mech string, ctx *KerberosConfig) (k kafka.Kerberos, ok bool, err error) {
	f := r.Flags.Kerberos
	if ctx == nil {
		ctx = &KerberosConfig{}
	}
	if !isKerberos(mech) && (mech != "" || (f == KerberosConfig{} && *ctx == KerberosConfig{})) {
		if mech != "" && f != (KerberosConfig{}) {
			return k, true, cmdutil.Usagef("--sasl-kerberos-* flags are for --sasl-mechanism GSSAPI, not %s", mech)
		}
		return k, false, nil
	}
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	k = kafka.Kerberos{
		Principal:   pick(f.Principal, ctx.Principal, r.Flags.SASLUser),
		Config:      pick(f.Config, ctx.Config, r.Getenv("KRB5_CONFIG"), DefaultKrb5Config),
		ServiceName: pick(f.ServiceName, ctx.ServiceName),
		Host:        pick(f.Host, ctx.Host),
	}
	switch {
	case f.Keytab != "" && f.CCache != "":
		return k, true, cmdutil.Usagef("--sasl-kerberos-keytab and --sasl-kerberos-ccache: give one, not both")
	case f.Keytab != "":
		k.Keytab = f.Keytab
	case f.CCache != "":
		k.CCache = f.CCache
	case ctx.Keytab != "" && ctx.CCache != "":
		return k, true, cmdutil.Usagef("the context's sasl.kerberos has both a keytab and a ccache: keep one")
	case ctx.Keytab != "":
		k.Keytab = ctx.Keytab
	default:
		k.CCache = pick(ctx.CCache, r.Getenv("KRB5CCNAME"), fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid()))
	}
	// KRB5_CONFIG may list several files (a:b); the first is the main one.
	k.Config, _, _ = strings.Cut(k.Config, ":")
	return k, true, nil
}

// setKerberos records eddy config set's --sasl-kerberos-* flags in kc's
// sasl.kerberos (mechanism GSSAPI unless the flags name another, which
// resolution then refuses).
func setKerberos(kc *KafkaConfig, o *Options) {
	if o.Kerberos == (KerberosConfig{}) {
		return
	}
	if kc.SASL == nil || (o.SASLMech == "" && !isKerberos(kc.SASL.Mechanism)) {
		kc.SASL = &SASLConfig{}
	}
	if kc.SASL.Mechanism == "" {
		kc.SASL.Mechanism = "GSSAPI"
	}
	k := o.Kerberos
	kc.SASL.Kerberos = &k
}
