// Package config is eddy's configuration: the config file of named contexts
// ($XDG_CONFIG_HOME/eddy/config.yaml) and the resolution of every connection
// setting from flags, then the environment, then the context in force, then
// the defaults — and the Kafka and RabbitMQ clients built from them. It knows
// nothing of cobra: the flags arrive as Options.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// Config is $XDG_CONFIG_HOME/eddy/config.yaml: named contexts, like kubectl's.
type Config struct {
	CurrentContext string              `yaml:"current-context,omitempty"`
	Contexts       map[string]*Context `yaml:"contexts,omitempty"`

	path string
}

// Context is one named environment: where its brokers are and how to log in.
type Context struct {
	Kafka  *KafkaConfig  `yaml:"kafka,omitempty"`
	AMQP   *AMQPConfig   `yaml:"amqp,omitempty"`
	Schema *event.Schema `yaml:"schema,omitempty"`
	// SchemaRegistry decodes Avro, Protobuf and JSON Schema payloads in the
	// Confluent wire format; Schemas maps topics to local schema files.
	SchemaRegistry *SchemaRegistryConfig `yaml:"schema-registry,omitempty"`
	Schemas        []SchemaMapping       `yaml:"schemas,omitempty"`
}

// KafkaConfig is a context's Kafka connection.
type KafkaConfig struct {
	Brokers []string    `yaml:"brokers,omitempty"`
	TLS     *TLSConfig  `yaml:"tls,omitempty"`
	SASL    *SASLConfig `yaml:"sasl,omitempty"`
	// EventHubs: an Azure Event Hubs namespace (eventhubs.go).
	EventHubs *EventHubsConfig `yaml:"event-hubs,omitempty"`
}

// TLSConfig enables TLS; files are PEM.
type TLSConfig struct {
	Enabled    bool   `yaml:"enabled,omitempty"`
	CA         string `yaml:"ca,omitempty"`
	Cert       string `yaml:"cert,omitempty"`
	Key        string `yaml:"key,omitempty"`
	ServerName string `yaml:"server-name,omitempty"`
	Insecure   bool   `yaml:"insecure,omitempty"`
}

// SASLConfig holds credentials. The password may be given inline, or better by
// the name of an environment variable or a file that holds it.
type SASLConfig struct {
	Mechanism    string `yaml:"mechanism,omitempty"`
	Username     string `yaml:"username,omitempty"`
	Password     string `yaml:"password,omitempty"`
	PasswordEnv  string `yaml:"password-env,omitempty"`
	PasswordFile string `yaml:"password-file,omitempty"`
	// Kerberos is the login of mechanism GSSAPI.
	Kerberos *KerberosConfig `yaml:"kerberos,omitempty"`
	// OAuth is the OAUTHBEARER login (mechanism OAUTHBEARER; oauth.go).
	OAuth *OAuthConfig `yaml:"oauth,omitempty"`
	// AWS is the Amazon MSK IAM login (mechanism AWS_MSK_IAM; awsiam.go).
	AWS *AWSIAMConfig `yaml:"aws,omitempty"`
}

// AMQPConfig is a context's RabbitMQ connection. The URL may carry a password.
type AMQPConfig struct {
	URL           string     `yaml:"url,omitempty"`
	ManagementURL string     `yaml:"management-url,omitempty"`
	TLS           *TLSConfig `yaml:"tls,omitempty"`
}

// FilePath follows the XDG base directory spec; EDDY_CONFIG overrides it.
func FilePath(getenv func(string) string) (string, error) {
	if p := getenv("EDDY_CONFIG"); p != "" {
		return p, nil
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("config: no $XDG_CONFIG_HOME or $HOME")
			}
			home = h
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "eddy", "config.yaml"), nil
}

// Load reads the config file; a missing file is an empty config.
func Load(path string) (*Config, error) {
	c := &Config{path: path, Contexts: map[string]*Context{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, &cmdutil.UsageError{Err: fmt.Errorf("config %s: %s", path, yamlMessage(err))}
	}
	if c.Contexts == nil {
		c.Contexts = map[string]*Context{}
	}
	for name, ctx := range c.Contexts {
		if ctx == nil {
			c.Contexts[name] = &Context{}
			continue
		}
		if ctx.Schema != nil {
			if err := ctx.Schema.Compile(); err != nil {
				return nil, &cmdutil.UsageError{Err: fmt.Errorf("config %s: context %q: %v", path, name, err)}
			}
		}
	}
	return c, nil
}

// yamlMessage is err's text as eddy has always said it. yaml names the Go
// type of a mapping whose key it does not know ("field nope not found in type
// main.KafkaConfig"); these types were cmd/eddy's, package main, before they
// moved here, and a move does not change what eddy says.
func yamlMessage(err error) string {
	return strings.ReplaceAll(err.Error(), " in type config.", " in type main.")
}

// Path is the file the config was read from and is saved to.
func (c *Config) Path() string { return c.path }

// Save writes the config atomically (temp file + rename), mode 0600 because it
// may hold credentials.
func (c *Config) Save() error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Names returns the context names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const masked = "****"

// Masked returns a copy of the context with every secret replaced, for display.
func (ctx *Context) Masked() *Context {
	out := &Context{Schema: ctx.Schema, Schemas: ctx.Schemas}
	if ctx.SchemaRegistry != nil {
		sr := *ctx.SchemaRegistry
		sr.URL = amqp.Redact(sr.URL)
		if sr.Password != "" {
			sr.Password = masked
		}
		if sr.Token != "" {
			sr.Token = masked
		}
		out.SchemaRegistry = &sr
	}
	if ctx.Kafka != nil {
		k := *ctx.Kafka
		if k.SASL != nil {
			s := *k.SASL
			if s.Password != "" {
				s.Password = masked
			}
			s.OAuth = s.OAuth.masked()
			k.SASL = &s
		}
		out.Kafka = &k
	}
	if ctx.AMQP != nil {
		a := *ctx.AMQP
		a.URL = amqp.Redact(a.URL)
		a.ManagementURL = amqp.Redact(a.ManagementURL)
		out.AMQP = &a
	}
	return out
}

// PointAt points the context name at a Kafka bootstrap broker (kafkaAddr)
// or, when that is empty, at the RabbitMQ amqpURL, keeping the rest of the
// context (a schema), and saves the file.
func (c *Config) PointAt(name, kafkaAddr, amqpURL string) error {
	ctx := c.Contexts[name]
	if ctx == nil {
		ctx = &Context{}
	}
	if kafkaAddr != "" {
		ctx.Kafka, ctx.AMQP = &KafkaConfig{Brokers: []string{kafkaAddr}}, nil
	} else {
		ctx.Kafka, ctx.AMQP = nil, &AMQPConfig{URL: amqpURL}
	}
	c.Contexts[name] = ctx
	return c.Save()
}

func (o *Options) tlsConfig() *TLSConfig {
	return &TLSConfig{Enabled: true, CA: o.TLSCA, Cert: o.TLSCert, Key: o.TLSKey, ServerName: o.TLSServer, Insecure: o.Insecure}
}

// Set creates or updates the context name from the connection flags o (the
// SASL password by the name of an environment variable or a file, never
// itself) and makes it current when use is set or none is. It does not save.
func (c *Config) Set(name string, o *Options, passEnv, passFile string, use bool) error {
	if o.propPass != "" && passEnv == "" && passFile == "" {
		// A context never holds a password: storing the rest of -F's
		// settings without it would make a context that cannot log in.
		return cmdutil.Usagef("config set: the SASL password that -F/-X gave is not stored in a context; put it in a file and name it with --password-file FILE, or in an environment variable named with --password-env NAME")
	}
	ctx := c.Contexts[name]
	if ctx == nil {
		ctx = &Context{}
		c.Contexts[name] = ctx
	}
	// The --tls-* flags serve whichever connection is TLS: an amqps:// URL or
	// an https:// management API, Kafka otherwise (or as well, with brokers).
	tlsSet := o.TLS || o.TLSCA != "" || o.TLSCert != ""
	amqpTLS := tlsSet && (strings.HasPrefix(o.AMQPURL, "amqps:") || strings.HasPrefix(o.AMQPMgmtURL, "https:"))
	kafkaBrokersOrSASL := len(o.Brokers) > 0 || o.SASLMech != "" || o.SASLUser != "" ||
		o.Kerberos != (KerberosConfig{}) || o.OAuth.set() || o.AWS != (AWSIAMConfig{})
	kafkaTLS := tlsSet && (kafkaBrokersOrSASL || !amqpTLS)
	if (kafkaBrokersOrSASL || kafkaTLS) && ctx.Kafka == nil {
		ctx.Kafka = &KafkaConfig{}
	}
	if len(o.Brokers) > 0 {
		ctx.Kafka.Brokers = o.Brokers
	}
	if kafkaTLS {
		ctx.Kafka.TLS = o.tlsConfig()
	}
	if o.SASLMech != "" || o.SASLUser != "" || o.OAuth.set() {
		ctx.Kafka.SASL = &SASLConfig{Mechanism: o.SASLMech, Username: o.SASLUser, PasswordEnv: passEnv, PasswordFile: passFile, OAuth: o.OAuth.config()}
	}
	setKerberos(ctx.Kafka, o)
	setAWSIAM(ctx.Kafka, o)
	if err := setEventHubs(ctx, o); err != nil {
		return err
	}
	if o.AMQPURL != "" || o.AMQPMgmtURL != "" {
		if ctx.AMQP == nil {
			ctx.AMQP = &AMQPConfig{}
		}
		if o.AMQPURL != "" {
			if _, err := amqp.New(o.AMQPURL); err != nil {
				return cmdutil.AsUsage(err)
			}
			ctx.AMQP.URL = o.AMQPURL
		}
		if o.AMQPMgmtURL != "" {
			ctx.AMQP.ManagementURL = o.AMQPMgmtURL
		}
		if amqpTLS {
			ctx.AMQP.TLS = o.tlsConfig()
		}
	}
	if use || c.CurrentContext == "" {
		c.CurrentContext = name
	}
	return nil
}
