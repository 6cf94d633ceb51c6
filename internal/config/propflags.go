package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/internal/iostreams"
)

// propOpts are -F and -X, kcat's habit: Kafka client properties for one
// command, and what they resolved to that has no flag of its own.
type propOpts struct {
	propFile string
	props    []string

	propsDone bool
	// propPass is sasl.password or the password of sasl.jaas.config.
	propPass               string
	caPEM, certPEM, keyPEM []byte
	clientID               string
}

// bindProps declares -F and -X.
func (g *Options) bindProps(fs *pflag.FlagSet) {
	fs.VarP(fileFlag{&g.propFile, "a properties FILE"}, "properties", "F", "read Kafka client properties for this command from FILE (librdkafka's or Java's key=value, as kcat -F and client.properties)")
	fs.StringArrayVarP(&g.props, "property", "X", nil, "set a Kafka client property for this command, e.g. -X security.protocol=SASL_SSL (repeatable; over -F's)")
}

// fileFlag is a flag naming a file that cannot be given empty: -F "$PROPS"
// with the variable unset would otherwise read as "not given" and run the
// command against the current context's cluster instead of the file's.
type fileFlag struct {
	p    *string
	what string // "a properties FILE", for the error
}

func (f fileFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}
func (f fileFlag) Type() string { return "file" }
func (f fileFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("empty: give %s", f.what)
	}
	*f.p = v
	return nil
}

// secretKeys are the properties whose values are secrets: registered with
// the redactor before anything else reads them.
var secretKeys = []string{"sasl.password", "sasl.jaas.config", "ssl.truststore.password", "ssl.keystore.password",
	"ssl.key.password", "ssl.key.pem", "ssl.keystore.key", "basic.auth.user.info"}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if k == s {
			return true
		}
	}
	return false
}

// ApplyProperties reads -F's file and -X's properties (-X over -F, the
// last of a key over earlier ones) into the options, under the flags: an
// explicit --brokers or --sasl-user wins over bootstrap.servers or
// sasl.username. A property eddy does not map is a usage error naming it
// (exit 2). Runs once; cmd/eddy calls it before every command.
func (g *Options) ApplyProperties(warn io.Writer, secrets *iostreams.Redactor) error {
	if g.propsDone {
		return nil
	}
	g.propsDone = true
	var props []Property
	if g.propFile != "" {
		ps, err := ReadProperties(g.propFile)
		if err != nil {
			return err
		}
		props = append(props, ps...)
	}
	for _, x := range g.props {
		p, err := ParseProperty(x)
		if err != nil {
			return err
		}
		if isSecretKey(p.Key) {
			// Accepted, as kcat accepts it, but said: ps and the shell's
			// history show a command line to others.
			fmt.Fprintf(warn, "eddy: warning: -X %s: a secret on the command line is visible to other users (ps, shell history); put it in a -F file, or use --sasl-password-file or EDDY_SASL_PASSWORD\n", p.Key)
		}
		props = append(props, p)
	}
	if len(props) == 0 {
		return nil
	}
	for _, p := range props {
		if isSecretKey(p.Key) && secrets != nil {
			secrets.Add(p.Value)
		}
	}
	c, err := PropertiesToConn(props, true, func(s string) { fmt.Fprintf(warn, "eddy: warning: %s\n", s) })
	if err != nil {
		return err
	}
	if secrets != nil {
		secrets.Add(c.Password)
	}
	if len(g.Brokers) == 0 {
		g.Brokers = c.Brokers
	}
	g.TLS = g.TLS || c.TLS
	if g.TLSCA == "" {
		g.TLSCA = c.CA
		g.caPEM = c.CAPEM
	}
	if g.TLSCert == "" && g.TLSKey == "" {
		g.TLSCert, g.TLSKey = c.Cert, c.Key
		g.certPEM, g.keyPEM = c.CertPEM, c.KeyPEM
	}
	g.Insecure = g.Insecure || c.Insecure
	if g.SASLMech == "" {
		g.SASLMech = c.Mechanism
	}
	if g.SASLUser == "" {
		g.SASLUser = c.User
	}
	if g.AWS.Profile == "" {
		g.AWS.Profile = c.AWSProfile
	}
	g.propPass = c.Password
	// The Kerberos login, where no --sasl-kerberos-* flag says otherwise.
	if k := &g.Kerberos; k.Keytab == "" && k.CCache == "" {
		k.Keytab, k.CCache = c.Kerberos.Keytab, c.Kerberos.CCache
	}
	if k := &g.Kerberos; k.Principal == "" {
		k.Principal = c.Kerberos.Principal
	}
	if k := &g.Kerberos; k.ServiceName == "" {
		k.ServiceName = c.Kerberos.ServiceName
	}
	g.clientID = c.ClientID
	if c.SchemaRegistry != "" {
		fmt.Fprintln(warn, "eddy: warning: schema.registry.url is not used by -F/-X: pass --schema-registry (or keep it in a context: eddy config import properties)")
	}
	return nil
}

// propTLS reports whether -F/-X gave PEM that turns TLS on.
func (g *Options) propTLS() bool { return g.caPEM != nil || g.certPEM != nil }

// applyPropPEM puts -F/-X's in-memory PEM (converted from a Java store, or
// ssl.ca.pem) into c.
func (g *Options) applyPropPEM(c *tls.Config) error {
	if g.caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(g.caPEM) {
			return cmdutil.Usagef("properties: the CA certificates (ssl.ca.pem, ssl.truststore.*) hold no PEM certificate")
		}
		c.RootCAs = pool
	}
	if g.certPEM != nil {
		pair, err := tls.X509KeyPair(g.certPEM, g.keyPEM)
		if err != nil {
			return cmdutil.Usagef("properties: client certificate and key: %v", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return nil
}
