package main

import (
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/internal/config"
)

// The config file's types and connection resolution live in internal/config;
// these names keep the commands' spelling.
type (
	// GlobalOptions are the persistent flags every command shares.
	GlobalOptions = config.Options
	Context       = config.Context
	KafkaConfig   = config.KafkaConfig
	AMQPConfig    = config.AMQPConfig
	TLSConfig     = config.TLSConfig
)

func bindGlobal(fs *pflag.FlagSet, g *GlobalOptions) {
	fs.StringVar(&g.Context, "context", "", "use this named context from the config file (env EDDY_CONTEXT)")
	fs.StringSliceVar(&g.Brokers, "brokers", nil, "Kafka bootstrap brokers, host:port,... (env EDDY_BROKERS; default "+config.DefaultBrokers+")")
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

// Config is the config file (internal/config's), with the spellings the
// commands use.
type Config struct{ *config.Config }

func (c *Config) names() []string { return c.Names() }
func (c *Config) save() error     { return c.Save() }

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
	path, err := config.FilePath(f.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	f.cfg = &Config{c}
	return f.cfg, nil
}

// CurrentContext returns the context in force (--context, EDDY_CONTEXT, then the
// file's current-context) and its name; an empty context when none is set.
func (f *Factory) CurrentContext() (*Context, string, error) {
	c, err := f.Config()
	if err != nil {
		return nil, "", err
	}
	return c.Current(f.Global.Context, f.Getenv)
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

// resolver resolves connections for the current settings: flags, then env,
// then the context in force, then the defaults (internal/config).
func (f *Factory) resolver() (*config.Resolver, error) {
	ctx, _, err := f.CurrentContext()
	if err != nil {
		return nil, err
	}
	return &config.Resolver{Flags: &f.Global, Getenv: f.Getenv, Context: ctx, Warn: f.IO.ErrOut, Debug: f.debugWriter(), Secrets: f.Redactor}, nil
}

// kafkaSettings resolves where Kafka is (config.Resolver.KafkaSettings) and
// reports whether anything named Kafka explicitly.
func (f *Factory) kafkaSettings() (seeds []string, kc *KafkaConfig, explicit bool, err error) {
	r, err := f.resolver()
	if err != nil {
		return nil, nil, false, err
	}
	return r.KafkaSettings()
}

// Kafka connects a Kafka client for the current settings.
func (f *Factory) Kafka(extra ...kafka.Option) (*kafka.Client, error) {
	r, err := f.resolver()
	if err != nil {
		return nil, err
	}
	return r.Kafka(extra...)
}

// amqpSettings resolves the RabbitMQ URL like kafkaSettings does brokers.
func (f *Factory) amqpSettings() (url string, ac *AMQPConfig, explicit bool, err error) {
	r, err := f.resolver()
	if err != nil {
		return "", nil, false, err
	}
	url, ac, explicit = r.AMQPSettings()
	return url, ac, explicit, nil
}

// AMQP connects a RabbitMQ client for the current settings.
func (f *Factory) AMQP(extra ...amqp.Option) (*amqp.Client, error) {
	r, err := f.resolver()
	if err != nil {
		return nil, err
	}
	return r.AMQP(extra...)
}
