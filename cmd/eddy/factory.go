package main

import (
	"io"
	"path/filepath"
	"time"

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
)

// Config is the config file (internal/config's), with the spellings the
// commands use.
type Config struct{ *config.Config }

func (c *Config) names() []string { return c.Names() }

// Factory hands commands what they need, lazily, so a command that needs only
// Kafka never touches RabbitMQ settings and tests can swap any piece.
type Factory struct {
	IO       *IOStreams
	Getenv   func(string) string
	Now      func() time.Time
	Redactor *Redactor
	Global   GlobalOptions
	// Schemas are the schema flags of the command that runs
	// (bindSchemaFlags), resolved by Decoder.
	Schemas config.SchemaOptions

	cfg *Config
	// dec is the decoder made for this factory's settings (Decoder); a
	// copy of the factory for another context (tuiConn) gets its own.
	dec *decoderState
}

func newFactory(io *IOStreams, getenv func(string) string, r *Redactor) *Factory {
	return &Factory{IO: io, Getenv: getenv, Now: time.Now, Redactor: r, dec: &decoderState{}}
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
	dir := ""
	if c, err := f.Config(); err == nil && c.Path() != "" {
		dir = filepath.Dir(c.Path())
	}
	return &config.Resolver{Flags: &f.Global, Getenv: f.Getenv, Context: ctx, Dir: dir, Warn: f.IO.ErrOut, Debug: f.debugWriter(), Secrets: f.Redactor}, nil
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
