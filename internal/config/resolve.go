package config

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/internal/iostreams"
)

// Defaults used when nothing names a broker: where `eddy demo` and a stock local
// Kafka or RabbitMQ listen, so a newcomer needs no configuration.
const (
	DefaultBrokers = "127.0.0.1:9092"
	DefaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
)

// Options are the connection flags every command shares (cmd/eddy binds them
// as the root's persistent flags).
type Options struct {
	Context      string
	Brokers      []string
	AMQPURL      string
	AMQPMgmtURL  string
	Timeout      time.Duration
	Debug        bool
	TLS          bool
	TLSCA        string
	TLSCert      string
	TLSKey       string
	TLSServer    string
	Insecure     bool
	SASLMech     string
	SASLUser     string
	SASLPassFile string
	Kerberos     KerberosConfig // --sasl-kerberos-*
	OAuth        OAuthOptions   // the --sasl-oauth-* flags (oauth.go)
	AWS          AWSIAMConfig   // --sasl-aws-* (awsiam.go)

	propOpts // -F and -X (propflags.go)
	// EventHubsFile is --event-hubs-connection-string-file (eventhubs.go).
	EventHubsFile string
}

// Bind declares the options as flags of fs (eddy's root's persistent flags),
// their help naming the environment variables and defaults that resolution
// falls back on.
func (g *Options) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&g.Context, "context", "", "use this named context from the config file (env EDDY_CONTEXT)")
	fs.StringSliceVarP(&g.Brokers, "brokers", "b", nil, "Kafka bootstrap brokers, host:port,... (env EDDY_BROKERS; default "+DefaultBrokers+")")
	fs.StringVar(&g.AMQPURL, "amqp-url", "", "RabbitMQ URL amqp[s]://user:pass@host:port/vhost (env EDDY_AMQP_URL; default amqp://guest:****@127.0.0.1:5672/)")
	fs.StringVar(&g.AMQPMgmtURL, "amqp-mgmt-url", "", "RabbitMQ management API URL (env EDDY_AMQP_MGMT_URL; default: the AMQP host on port 15672)")
	fs.DurationVar(&g.Timeout, "timeout", 10*time.Second, "give up connecting to a broker after this long; a live Kafka reader warns after this long without its cluster; send gives up on events the cluster has not confirmed for this long")
	fs.BoolVar(&g.Debug, "debug", false, "log client internals to stderr (secrets are masked)")
	fs.BoolVar(&g.TLS, "tls", false, "connect to Kafka over TLS (implied by the other --tls-* flags)")
	fs.StringVar(&g.TLSCA, "tls-ca", "", "PEM file of CA certificates to trust (Kafka, amqps, an https management API)")
	fs.StringVar(&g.TLSCert, "tls-cert", "", "PEM client certificate for mutual TLS (amqps without a password in the URL: also the login, SASL EXTERNAL)")
	fs.StringVar(&g.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&g.TLSServer, "tls-server-name", "", "expected server name in the broker's certificate")
	fs.BoolVar(&g.Insecure, "insecure", false, "do not verify the broker's TLS certificate (prints a warning; never the default)")
	fs.StringVar(&g.SASLMech, "sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI (Kerberos) or AWS_MSK_IAM")
	fs.StringVar(&g.SASLUser, "sasl-user", "", "Kafka SASL user name")
	fs.StringVar(&g.SASLPassFile, "sasl-password-file", "", "file holding the SASL password (or env EDDY_SASL_PASSWORD; never a flag, which ps would show)")
	g.bindOAuth(fs)
	g.bindKerberos(fs)
	g.bindAWSIAM(fs)
	g.bindProps(fs)
	g.bindEventHubs(fs)
}

// Current returns the context in force and its name: flag (--context), else
// EDDY_CONTEXT, else the file's current-context; an empty context when none
// is set.
func (c *Config) Current(flag string, getenv func(string) string) (*Context, string, error) {
	name := flag
	if name == "" {
		name = getenv("EDDY_CONTEXT")
	}
	explicit := name != ""
	if name == "" {
		name = c.CurrentContext
	}
	if name == "" {
		return &Context{}, "", nil
	}
	ctx, ok := c.Contexts[name]
	if !ok {
		if explicit {
			return nil, "", cmdutil.Usagef("context %q is not in %s (eddy config list shows them)", name, c.path)
		}
		return nil, "", cmdutil.Usagef("current-context %q is not in %s", name, c.path)
	}
	return ctx, name, nil
}

// Resolver resolves one command's connections: each setting from the flags,
// then the environment, then the context in force, then the default.
type Resolver struct {
	Flags   *Options
	Getenv  func(string) string
	Context *Context // the context in force (Config.Current)
	// Dir is the config file's directory: the context's schema files are
	// relative to it.
	Dir string
	// Warn receives the --insecure warning; Debug the clients' debug logs
	// (nil: none).
	Warn, Debug io.Writer
	// Secrets is told every password a connection uses, before it is used.
	Secrets *iostreams.Redactor
}

// KafkaSettings resolves where Kafka is: flags, then env, then the context,
// then the default. It reports whether anything named Kafka explicitly.
func (r *Resolver) KafkaSettings() (seeds []string, kc *KafkaConfig, explicit bool, err error) {
	kc = &KafkaConfig{}
	if r.Context.Kafka != nil {
		kc = r.Context.Kafka
	}
	where := ""
	switch {
	case len(r.Flags.Brokers) > 0:
		seeds, explicit, where = r.Flags.Brokers, true, "--brokers"
	case r.Getenv("EDDY_BROKERS") != "":
		seeds, explicit, where = splitList(r.Getenv("EDDY_BROKERS")), true, "EDDY_BROKERS"
	case len(kc.Brokers) > 0:
		seeds, explicit, where = kc.Brokers, true, "the context's kafka.brokers"
	case r.eventHubsSet(kc):
		if seeds, err = r.eventHubsSeeds(kc); err != nil {
			return nil, nil, false, err
		}
		explicit, where = true, "the Event Hubs connection string"
	default:
		seeds = []string{DefaultBrokers}
	}
	if err := checkSeeds(where, seeds); err != nil {
		return nil, nil, false, err
	}
	return seeds, kc, explicit, nil
}

// checkSeeds refuses a bootstrap broker that is not HOST or HOST:PORT (a URL,
// a port that is not a number): the client would otherwise try to resolve it
// as a host name and report a connection failure (exit 4) for a typo.
func checkSeeds(where string, seeds []string) error {
	for _, s := range seeds {
		host, port := s, ""
		if strings.Contains(s, ":") {
			var err error
			if host, port, err = net.SplitHostPort(s); err != nil {
				host = ""
			}
		}
		bad := host == "" || strings.ContainsAny(host, "/ \t@?#")
		if port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				bad = true
			}
		}
		if bad {
			return cmdutil.Usagef("%s: broker %s: want HOST:PORT (e.g. 127.0.0.1:9092), several separated by commas, no scheme", where, strconv.Quote(inspect.SafeString(s)))
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// tlsConfig resolves TLS: the flags' files over the context's; nil when TLS
// is off (force turns it on, for amqps).
func (r *Resolver) tlsConfig(ctxTLS *TLSConfig, force bool) (*tls.Config, error) {
	g := r.Flags
	files := bus.TLSFiles{CA: g.TLSCA, Cert: g.TLSCert, Key: g.TLSKey, ServerName: g.TLSServer, Insecure: g.Insecure}
	enabled := force || g.TLS || files != (bus.TLSFiles{}) || g.propTLS()
	if ctxTLS != nil {
		enabled = enabled || ctxTLS.Enabled || ctxTLS.CA != "" || ctxTLS.Cert != ""
		if files.CA == "" {
			files.CA = ctxTLS.CA
		}
		if files.Cert == "" {
			files.Cert, files.Key = ctxTLS.Cert, ctxTLS.Key
		}
		if files.ServerName == "" {
			files.ServerName = ctxTLS.ServerName
		}
		files.Insecure = files.Insecure || ctxTLS.Insecure
	}
	if !enabled {
		return nil, nil
	}
	if files.Insecure {
		fmt.Fprintln(r.Warn, "eddy: warning: --insecure: the broker's TLS certificate is NOT verified; anyone on the path can read and change this traffic")
	}
	c, err := files.Config()
	if err != nil {
		return nil, cmdutil.AsUsage(err)
	}
	return c, g.applyPropPEM(c)
}

// Kafka connects a Kafka client for the resolved settings.
func (r *Resolver) Kafka(extra ...kafka.Option) (*kafka.Client, error) {
	seeds, kc, _, err := r.KafkaSettings()
	if err != nil {
		return nil, err
	}
	opts := []kafka.Option{kafka.WithDialTimeout(r.Flags.Timeout)}
	auth, err := r.kafkaAuth(kc)
	if err != nil {
		return nil, err
	}
	if auth.tls != nil {
		opts = append(opts, kafka.WithTLS(auth.tls))
	}
	if auth.opt != nil {
		opts = append(opts, auth.opt)
	} else if auth.mech != "" {
		opts = append(opts, kafka.WithSASL(auth.mech, auth.user, auth.pass))
	}
	if auth.oauth != nil {
		opts = append(opts, kafka.WithOAuth(*auth.oauth))
	}
	if r.Debug != nil {
		opts = append(opts, kafka.WithLogger(r.Debug))
	}
	if r.Flags.clientID != "" {
		opts = append(opts, kafka.WithClientID(r.Flags.clientID))
	}
	c, err := kafka.New(seeds, append(opts, extra...)...)
	if err != nil {
		return nil, cmdutil.AsUsage(err)
	}
	return c, nil
}

// kafkaCreds is how to log in to Kafka: TLS and SASL as flags, environment and
// context resolve them. mech is empty when SASL is off.
type kafkaCreds struct {
	tls              *tls.Config
	mech, user, pass string
	opt              kafka.Option // a mechanism without a password: GSSAPI
	oauth            *kafka.OAuth // OAUTHBEARER's (oauth.go)
}

// kafkaAuth resolves TLS and SASL for Kafka, for the bus/kafka client every
// Kafka path uses (the exactly-once ones too, through Client.KgoOpts); the
// password is registered with the redactor.
func (r *Resolver) kafkaAuth(kc *KafkaConfig) (kafkaCreds, error) {
	if c, ok, err := r.eventHubsAuth(kc); ok || err != nil {
		return c, err
	}
	var c kafkaCreds
	var err error
	if c.tls, err = r.tlsConfig(kc.TLS, false); err != nil {
		return c, err
	}
	c.mech, c.user = r.Flags.SASLMech, r.Flags.SASLUser
	var s SASLConfig
	if kc.SASL != nil {
		s = *kc.SASL
	}
	if c.mech == "" {
		c.mech = s.Mechanism
	}
	if c.oauth, err = r.kafkaOAuth(&c.mech, s.OAuth); c.oauth != nil || err != nil {
		return c, err
	}
	if c.user == "" {
		c.user = s.Username
	}
	if a, ok, err := r.awsIAMLogin(c.mech, s.AWS); ok || err != nil {
		c.opt, c.mech = kafka.WithAWSMSKIAM(a), "AWS_MSK_IAM"
		return c, err
	}
	if k, ok, err := r.kerberosLogin(c.mech, s.Kerberos); ok || err != nil {
		c.opt, c.mech = kafka.WithKerberos(k), "GSSAPI"
		return c, err
	}
	if c.mech == "" && c.user == "" {
		return c, nil
	}
	if c.pass, err = r.saslPassword(s); err != nil {
		return c, err
	}
	r.Secrets.Add(c.pass)
	if c.mech == "" {
		c.mech = "PLAIN"
	}
	return c, nil
}

func (r *Resolver) saslPassword(s SASLConfig) (string, error) {
	file := r.Flags.SASLPassFile
	if file == "" && r.Flags.propPass != "" {
		return r.Flags.propPass, nil
	}
	if file == "" {
		file = s.PasswordFile
	}
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", cmdutil.Usagef("SASL password file: %v", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case r.Getenv("EDDY_SASL_PASSWORD") != "":
		return r.Getenv("EDDY_SASL_PASSWORD"), nil
	case s.PasswordEnv != "":
		return r.Getenv(s.PasswordEnv), nil
	}
	return s.Password, nil
}

// AMQPSettings resolves the RabbitMQ URL like KafkaSettings does brokers.
func (r *Resolver) AMQPSettings() (url string, ac *AMQPConfig, explicit bool) {
	ac = &AMQPConfig{}
	if r.Context.AMQP != nil {
		ac = r.Context.AMQP
	}
	switch {
	case r.Flags.AMQPURL != "":
		url, explicit = r.Flags.AMQPURL, true
	case r.Getenv("EDDY_AMQP_URL") != "":
		url, explicit = r.Getenv("EDDY_AMQP_URL"), true
	case ac.URL != "":
		url, explicit = ac.URL, true
	default:
		url = DefaultAMQPURL
	}
	return url, ac, explicit
}

// AMQP connects a RabbitMQ client for the resolved settings.
func (r *Resolver) AMQP(extra ...amqp.Option) (*amqp.Client, error) {
	url, ac, _ := r.AMQPSettings()
	r.Secrets.AddURL(url)
	opts := []amqp.Option{amqp.WithDialTimeout(r.Flags.Timeout)}
	mgmt := r.Flags.AMQPMgmtURL
	if mgmt == "" {
		mgmt = r.Getenv("EDDY_AMQP_MGMT_URL")
	}
	if mgmt == "" {
		mgmt = ac.ManagementURL
	}
	if mgmt != "" {
		r.Secrets.AddURL(mgmt)
		opts = append(opts, amqp.WithManagementURL(mgmt))
	}
	// The TLS settings serve an https management API too, behind a plain
	// amqp:// URL as well.
	if strings.HasPrefix(url, "amqps:") || strings.HasPrefix(mgmt, "https:") {
		tc, err := r.tlsConfig(ac.TLS, true)
		if err != nil {
			return nil, err
		}
		opts = append(opts, amqp.WithTLS(tc))
	}
	if r.Debug != nil {
		opts = append(opts, amqp.WithLogger(r.Debug))
	}
	c, err := amqp.New(url, append(opts, extra...)...)
	if err != nil {
		return nil, cmdutil.AsUsage(err)
	}
	return c, nil
}
