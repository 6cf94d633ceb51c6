package main

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
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// Defaults used when nothing names a broker: where `eddy demo` and a stock local
// Kafka or RabbitMQ listen, so a newcomer needs no configuration.
const (
	defaultBrokers = "127.0.0.1:9092"
	defaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
)

// GlobalOptions are the persistent flags every command shares.
type GlobalOptions struct {
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
}

func (g *GlobalOptions) bind(fs *pflag.FlagSet) {
	fs.StringVar(&g.Context, "context", "", "use this named context from the config file (env EDDY_CONTEXT)")
	fs.StringSliceVar(&g.Brokers, "brokers", nil, "Kafka bootstrap brokers, host:port,... (env EDDY_BROKERS; default "+defaultBrokers+")")
	fs.StringVar(&g.AMQPURL, "amqp-url", "", "RabbitMQ URL amqp[s]://user:pass@host:port/vhost (env EDDY_AMQP_URL; default amqp://guest:****@127.0.0.1:5672/)")
	fs.StringVar(&g.AMQPMgmtURL, "amqp-mgmt-url", "", "RabbitMQ management API URL (env EDDY_AMQP_MGMT_URL; default: the AMQP host on port 15672)")
	fs.DurationVar(&g.Timeout, "timeout", 10*time.Second, "give up connecting to a broker after this long; a live Kafka reader warns after this long without its cluster")
	fs.BoolVar(&g.Debug, "debug", false, "log client internals to stderr (secrets are masked)")
	fs.BoolVar(&g.TLS, "tls", false, "connect to Kafka over TLS (implied by the other --tls-* flags)")
	fs.StringVar(&g.TLSCA, "tls-ca", "", "PEM file of CA certificates to trust (Kafka and amqps)")
	fs.StringVar(&g.TLSCert, "tls-cert", "", "PEM client certificate for mutual TLS")
	fs.StringVar(&g.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&g.TLSServer, "tls-server-name", "", "expected server name in the broker's certificate")
	fs.BoolVar(&g.Insecure, "insecure", false, "do not verify the broker's TLS certificate (prints a warning; never the default)")
	fs.StringVar(&g.SASLMech, "sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&g.SASLUser, "sasl-user", "", "Kafka SASL user name")
	fs.StringVar(&g.SASLPassFile, "sasl-password-file", "", "file holding the SASL password (or env EDDY_SASL_PASSWORD; never a flag, which ps would show)")
}

// Factory hands commands what they need, lazily, so a command that needs only
// Kafka never touches RabbitMQ settings and tests can swap any piece.
type Factory struct {
	IO       *IOStreams
	Getenv   func(string) string
	Now      func() time.Time
	Redactor *Redactor
	Global   GlobalOptions

	cfg *Config
}

func newFactory(io *IOStreams, getenv func(string) string, r *Redactor) *Factory {
	return &Factory{IO: io, Getenv: getenv, Now: time.Now, Redactor: r}
}

// Config loads the config file once.
func (f *Factory) Config() (*Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	path, err := configPath(f.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	f.cfg = c
	return c, nil
}

// CurrentContext returns the context in force (--context, EDDY_CONTEXT, then the
// file's current-context) and its name; an empty context when none is set.
func (f *Factory) CurrentContext() (*Context, string, error) {
	c, err := f.Config()
	if err != nil {
		return nil, "", err
	}
	name := f.Global.Context
	if name == "" {
		name = f.Getenv("EDDY_CONTEXT")
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
			return nil, "", usagef("context %q is not in %s (eddy config list shows them)", name, c.path)
		}
		return nil, "", usagef("current-context %q is not in %s", name, c.path)
	}
	return ctx, name, nil
}

// Schema returns the context's schema, or the default one.
func (f *Factory) Schema() (*event.Schema, error) {
	ctx, _, err := f.CurrentContext()
	if err != nil {
		return nil, err
	}
	if ctx.Schema != nil {
		return ctx.Schema, nil
	}
	return event.DefaultSchema(), nil
}

func (f *Factory) debugWriter() io.Writer {
	if !f.Global.Debug {
		return nil
	}
	return f.IO.ErrOut
}

// kafkaSettings resolves where Kafka is: flags, then env, then the context, then
// the default. It reports whether anything named Kafka explicitly.
func (f *Factory) kafkaSettings() (seeds []string, kc *KafkaConfig, explicit bool, err error) {
	ctx, _, err := f.CurrentContext()
	if err != nil {
		return nil, nil, false, err
	}
	kc = &KafkaConfig{}
	if ctx.Kafka != nil {
		kc = ctx.Kafka
	}
	where := ""
	switch {
	case len(f.Global.Brokers) > 0:
		seeds, explicit, where = f.Global.Brokers, true, "--brokers"
	case f.Getenv("EDDY_BROKERS") != "":
		seeds, explicit, where = splitList(f.Getenv("EDDY_BROKERS")), true, "EDDY_BROKERS"
	case len(kc.Brokers) > 0:
		seeds, explicit, where = kc.Brokers, true, "the context's kafka.brokers"
	default:
		seeds = []string{defaultBrokers}
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
			return usagef("%s: broker %s: want HOST:PORT (e.g. 127.0.0.1:9092), several separated by commas, no scheme", where, strconv.Quote(inspect.SafeString(s)))
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

func (f *Factory) tlsConfig(ctxTLS *TLSConfig, force bool) (*tls.Config, error) {
	files := bus.TLSFiles{CA: f.Global.TLSCA, Cert: f.Global.TLSCert, Key: f.Global.TLSKey, ServerName: f.Global.TLSServer, Insecure: f.Global.Insecure}
	enabled := force || f.Global.TLS || files != (bus.TLSFiles{})
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
		fmt.Fprintln(f.IO.ErrOut, "eddy: warning: --insecure: the broker's TLS certificate is NOT verified; anyone on the path can read and change this traffic")
	}
	c, err := files.Config()
	if err != nil {
		return nil, asUsage(err)
	}
	return c, nil
}

// Kafka connects a Kafka client for the current settings.
func (f *Factory) Kafka(extra ...kafka.Option) (*kafka.Client, error) {
	seeds, kc, _, err := f.kafkaSettings()
	if err != nil {
		return nil, err
	}
	opts := []kafka.Option{kafka.WithDialTimeout(f.Global.Timeout)}
	auth, err := f.kafkaAuth(kc)
	if err != nil {
		return nil, err
	}
	if auth.tls != nil {
		opts = append(opts, kafka.WithTLS(auth.tls))
	}
	if auth.mech != "" {
		opts = append(opts, kafka.WithSASL(auth.mech, auth.user, auth.pass))
	}
	if w := f.debugWriter(); w != nil {
		opts = append(opts, kafka.WithLogger(w))
	}
	c, err := kafka.New(seeds, append(opts, extra...)...)
	if err != nil {
		return nil, asUsage(err)
	}
	return c, nil
}

// kafkaCreds is how to log in to Kafka: TLS and SASL as flags, environment and
// context resolve them. mech is empty when SASL is off.
type kafkaCreds struct {
	tls              *tls.Config
	mech, user, pass string
}

// kafkaAuth resolves TLS and SASL for Kafka, for the bus/kafka client every
// Kafka path uses (the exactly-once ones too, through Client.KgoOpts); the
// password is registered with the redactor.
func (f *Factory) kafkaAuth(kc *KafkaConfig) (kafkaCreds, error) {
	var c kafkaCreds
	var err error
	if c.tls, err = f.tlsConfig(kc.TLS, false); err != nil {
		return c, err
	}
	c.mech, c.user = f.Global.SASLMech, f.Global.SASLUser
	var s SASLConfig
	if kc.SASL != nil {
		s = *kc.SASL
	}
	if c.mech == "" {
		c.mech = s.Mechanism
	}
	if c.user == "" {
		c.user = s.Username
	}
	if c.mech == "" && c.user == "" {
		return c, nil
	}
	if c.pass, err = f.saslPassword(s); err != nil {
		return c, err
	}
	f.Redactor.Add(c.pass)
	if c.mech == "" {
		c.mech = "PLAIN"
	}
	return c, nil
}

func (f *Factory) saslPassword(s SASLConfig) (string, error) {
	file := f.Global.SASLPassFile
	if file == "" {
		file = s.PasswordFile
	}
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("SASL password file: %v", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case f.Getenv("EDDY_SASL_PASSWORD") != "":
		return f.Getenv("EDDY_SASL_PASSWORD"), nil
	case s.PasswordEnv != "":
		return f.Getenv(s.PasswordEnv), nil
	}
	return s.Password, nil
}

// amqpSettings resolves the RabbitMQ URL like kafkaSettings does brokers.
func (f *Factory) amqpSettings() (url string, ac *AMQPConfig, explicit bool, err error) {
	ctx, _, err := f.CurrentContext()
	if err != nil {
		return "", nil, false, err
	}
	ac = &AMQPConfig{}
	if ctx.AMQP != nil {
		ac = ctx.AMQP
	}
	switch {
	case f.Global.AMQPURL != "":
		url, explicit = f.Global.AMQPURL, true
	case f.Getenv("EDDY_AMQP_URL") != "":
		url, explicit = f.Getenv("EDDY_AMQP_URL"), true
	case ac.URL != "":
		url, explicit = ac.URL, true
	default:
		url = defaultAMQPURL
	}
	return url, ac, explicit, nil
}

// AMQP connects a RabbitMQ client for the current settings.
func (f *Factory) AMQP(extra ...amqp.Option) (*amqp.Client, error) {
	url, ac, _, err := f.amqpSettings()
	if err != nil {
		return nil, err
	}
	registerURLSecret(f.Redactor, url)
	opts := []amqp.Option{amqp.WithDialTimeout(f.Global.Timeout)}
	mgmt := f.Global.AMQPMgmtURL
	if mgmt == "" {
		mgmt = f.Getenv("EDDY_AMQP_MGMT_URL")
	}
	if mgmt == "" {
		mgmt = ac.ManagementURL
	}
	if mgmt != "" {
		registerURLSecret(f.Redactor, mgmt)
		opts = append(opts, amqp.WithManagementURL(mgmt))
	}
	if strings.HasPrefix(url, "amqps:") {
		tc, err := f.tlsConfig(ac.TLS, true)
		if err != nil {
			return nil, err
		}
		opts = append(opts, amqp.WithTLS(tc))
	}
	if w := f.debugWriter(); w != nil {
		opts = append(opts, amqp.WithLogger(w))
	}
	c, err := amqp.New(url, append(opts, extra...)...)
	if err != nil {
		return nil, asUsage(err)
	}
	return c, nil
}
