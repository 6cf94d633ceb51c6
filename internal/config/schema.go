package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/schema"
)

// SchemaRegistryConfig is a context's Schema Registry (the Confluent REST
// API: Confluent, Apicurio's ccompat API, Karapace, Redpanda). Secrets are
// given as Kafka's SASL password is: by the name of an environment variable
// or a file that holds them (or inline, which config show masks).
type SchemaRegistryConfig struct {
	URL string `yaml:"url,omitempty"`
	// Username and a password are HTTP basic auth.
	Username     string `yaml:"username,omitempty"`
	Password     string `yaml:"password,omitempty"`
	PasswordEnv  string `yaml:"password-env,omitempty"`
	PasswordFile string `yaml:"password-file,omitempty"`
	// A token is a bearer token, instead of basic auth.
	Token     string `yaml:"token,omitempty"`
	TokenEnv  string `yaml:"token-env,omitempty"`
	TokenFile string `yaml:"token-file,omitempty"`
	// TLS is for an https URL: a CA, a client certificate, as Kafka's.
	TLS *TLSConfig `yaml:"tls,omitempty"`
}

// SchemaMapping maps a topic (or a queue) to local schema files, for teams
// without a registry: its records' keys and values are the bare encoding.
type SchemaMapping struct {
	Topic string             `yaml:"topic"`
	Key   *LocalSchemaConfig `yaml:"key,omitempty"`
	Value *LocalSchemaConfig `yaml:"value,omitempty"`
}

// LocalSchemaConfig is one schema file: an .avsc, a .proto (or a directory
// of them), a .binpb/.pb descriptor set, or a JSON Schema .json. A relative
// path is relative to the config file's directory.
type LocalSchemaConfig struct {
	File string `yaml:"file"`
	// Message is the Protobuf message's full name, when the file defines
	// several.
	Message string `yaml:"message,omitempty"`
	// Format is avro, protobuf or json; empty infers it from the file name.
	Format string `yaml:"format,omitempty"`
}

// SchemaOptions are the schema flags of the commands that read payloads
// (tail, trace, trace flows, expect, dlq show, tui).
type SchemaOptions struct {
	// Registry is --schema-registry.
	Registry string
	// ValueSchemas and KeySchemas are --value-schema and --key-schema,
	// each TOPIC=FILE[#MESSAGE].
	ValueSchemas, KeySchemas []string
	// Validate is --validate: JSON Schema payloads are checked.
	Validate bool
	// NoDecode is --no-decode: no decoding at all, whatever is configured.
	NoDecode bool
}

// Schema resolves where schemas come from, for schema.New: the registry
// from --schema-registry, then EDDY_SCHEMA_REGISTRY, then the context's
// schema-registry; the local mappings of the context, with the flags'
// replacing the context's for the same topic and part. ok is false when
// nothing is configured (or --no-decode): nothing is decoded. Every error
// is the user's (exit 2), in one line.
func (r *Resolver) Schema(o *SchemaOptions) (cfg schema.Config, ok bool, err error) {
	if o == nil {
		o = &SchemaOptions{}
	}
	if o.NoDecode {
		return schema.Config{}, false, nil
	}
	cfg.Timeout, cfg.Validate = r.Flags.Timeout, o.Validate
	if cfg.Registry, err = r.SchemaRegistry(o.Registry); err != nil {
		return schema.Config{}, false, err
	}
	if cfg.Local, err = r.localSchemas(o); err != nil {
		return schema.Config{}, false, err
	}
	ok = cfg.Registry != nil || len(cfg.Local) > 0
	if o.Validate && !ok {
		return schema.Config{}, false, cmdutil.Usagef("--validate checks payloads against their JSON Schema: name a registry (--schema-registry) or local schemas (--value-schema) too")
	}
	return cfg, ok, nil
}

// SchemaRegistry resolves the registry (flag, then EDDY_SCHEMA_REGISTRY,
// then the context); nil when none is configured. The context's credentials
// and TLS go only to the context's own registry: a registry named by a flag
// or the environment gets what its URL carries, and nothing else, so a
// password is never sent to a host it was not given for. Every secret is
// registered with the redactor before it is used.
func (r *Resolver) SchemaRegistry(flag string) (*schema.RegistryConfig, error) {
	sc := r.Context.SchemaRegistry
	raw, where := flag, "--schema-registry"
	if raw == "" {
		raw, where = r.Getenv("EDDY_SCHEMA_REGISTRY"), "EDDY_SCHEMA_REGISTRY"
	}
	fromContext := false
	if raw == "" && sc != nil && sc.URL != "" {
		raw, where, fromContext = sc.URL, "the context's schema-registry.url", true
	}
	if raw == "" {
		return nil, nil
	}
	r.Secrets.AddURL(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, cmdutil.Usagef("%s: %s is not a registry URL: want http[s]://HOST[:PORT][/PATH]", where, strconv.Quote(inspect.SafeString(redactedURL(raw))))
	}
	rc := &schema.RegistryConfig{URL: raw}
	if !fromContext || sc == nil {
		return rc, nil
	}
	if rc.Username, rc.Password, rc.Token, err = r.registryCreds(sc); err != nil {
		return nil, err
	}
	if sc.TLS != nil && u.Scheme == "https" {
		files := bus.TLSFiles{CA: r.path(sc.TLS.CA), Cert: r.path(sc.TLS.Cert), Key: r.path(sc.TLS.Key), ServerName: sc.TLS.ServerName, Insecure: sc.TLS.Insecure}
		if files.Insecure {
			fmt.Fprintln(r.Warn, "eddy: warning: schema-registry.tls.insecure: the registry's TLS certificate is NOT verified; anyone on the path can read and change this traffic")
		}
		if rc.TLS, err = files.Config(); err != nil {
			return nil, cmdutil.Usagef("schema-registry: %v", err)
		}
	}
	return rc, nil
}

// registryCreds reads the context's registry secrets: basic auth's
// password, or a bearer token, from a file, else an environment variable,
// else inline.
func (r *Resolver) registryCreds(sc *SchemaRegistryConfig) (user, pass, token string, err error) {
	hasToken := sc.Token != "" || sc.TokenEnv != "" || sc.TokenFile != ""
	hasPass := sc.Password != "" || sc.PasswordEnv != "" || sc.PasswordFile != ""
	if hasToken && (sc.Username != "" || hasPass) {
		return "", "", "", cmdutil.Usagef("schema-registry: both a username/password and a token: give basic auth or a bearer token, not both")
	}
	if hasToken {
		token, err = r.secret("schema-registry token", sc.Token, sc.TokenEnv, sc.TokenFile)
		r.Secrets.Add(token)
		return "", "", token, err
	}
	if hasPass && sc.Username == "" {
		return "", "", "", cmdutil.Usagef("schema-registry: a password without a username")
	}
	pass, err = r.secret("schema-registry password", sc.Password, sc.PasswordEnv, sc.PasswordFile)
	r.Secrets.Add(pass)
	return sc.Username, pass, "", err
}

// secret is a secret given inline, by an environment variable's name or by
// a file: the file, then the variable, then inline, as the SASL password.
func (r *Resolver) secret(what, inline, env, file string) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(r.path(file))
		if err != nil {
			return "", cmdutil.Usagef("%s file: %v", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case env != "":
		v := r.Getenv(env)
		if v == "" {
			return "", cmdutil.Usagef("%s: environment variable %s is not set", what, env)
		}
		return v, nil
	}
	return inline, nil
}

// localSchemas are the context's mappings with the flags' over them: a
// flag replaces the context's schema of the same topic and part.
func (r *Resolver) localSchemas(o *SchemaOptions) ([]schema.Mapping, error) {
	var out []schema.Mapping
	index := map[string]int{}
	at := func(topic string) *schema.Mapping {
		i, ok := index[topic]
		if !ok {
			i = len(out)
			index[topic] = i
			out = append(out, schema.Mapping{Topic: topic})
		}
		return &out[i]
	}
	for i, m := range r.Context.Schemas {
		where := fmt.Sprintf("the context's schemas[%d]", i)
		if m.Topic == "" {
			return nil, cmdutil.Usagef("%s: no topic", where)
		}
		if m.Key == nil && m.Value == nil {
			return nil, cmdutil.Usagef("%s (%s): neither key nor value has a schema", where, inspect.SafeString(m.Topic))
		}
		for part, ls := range map[string]*LocalSchemaConfig{"key": m.Key, "value": m.Value} {
			if ls == nil {
				continue
			}
			s, err := r.localSchema(where+"."+part, ls.File, ls.Message, ls.Format, true)
			if err != nil {
				return nil, err
			}
			if mp := at(m.Topic); part == "key" {
				mp.Key = s
			} else {
				mp.Value = s
			}
		}
	}
	for _, f := range []struct {
		name  string
		specs []string
	}{{"--value-schema", o.ValueSchemas}, {"--key-schema", o.KeySchemas}} {
		for _, spec := range f.specs {
			topic, file, message, err := ParseSchemaFlag(spec)
			if err != nil {
				return nil, cmdutil.Usagef("%s %s: %v", f.name, strconv.Quote(inspect.SafeString(spec)), err)
			}
			s, err := r.localSchema(f.name+" "+strconv.Quote(inspect.SafeString(spec)), file, message, "", false)
			if err != nil {
				return nil, err
			}
			if mp := at(topic); f.name == "--key-schema" {
				mp.Key = s
			} else {
				mp.Value = s
			}
		}
	}
	return out, nil
}

// ParseSchemaFlag splits --value-schema's and --key-schema's
// TOPIC=FILE[#MESSAGE].
func ParseSchemaFlag(spec string) (topic, file, message string, err error) {
	topic, rest, found := strings.Cut(spec, "=")
	if !found || topic == "" || rest == "" {
		return "", "", "", fmt.Errorf("want TOPIC=FILE[#MESSAGE], e.g. orders=orders.proto#shop.Order")
	}
	topic = strings.TrimPrefix(topic, "kafka:")
	if topic == "" {
		return "", "", "", fmt.Errorf("no topic before =")
	}
	file = rest
	if i := strings.LastIndexByte(rest, '#'); i >= 0 {
		file, message = rest[:i], rest[i+1:]
		if message == "" {
			return "", "", "", fmt.Errorf("nothing after #: name the Protobuf message, or leave the # out")
		}
	}
	if file == "" {
		return "", "", "", fmt.Errorf("no file after =")
	}
	return topic, file, message, nil
}

// localSchema checks one schema file (it exists; the format, when given, is
// known) before schema.New compiles it, so that a typo is one line naming
// where it was written.
func (r *Resolver) localSchema(where, file, message, format string, fromConfig bool) (*schema.LocalSchema, error) {
	if file == "" {
		return nil, cmdutil.Usagef("%s: no file", where)
	}
	if fromConfig {
		file = r.path(file)
	}
	switch format {
	case "", "avro", "protobuf", "json":
	default:
		return nil, cmdutil.Usagef("%s: format %s: want avro, protobuf or json", where, strconv.Quote(inspect.SafeString(format)))
	}
	if _, err := os.Stat(file); err != nil {
		return nil, cmdutil.Usagef("%s: %s", where, inspect.SafeString(statReason(file, err)))
	}
	return &schema.LocalSchema{Path: file, Message: message, Format: format}, nil
}

func statReason(file string, err error) string {
	if os.IsNotExist(err) {
		return file + ": no such file or directory"
	}
	if pe, ok := err.(*os.PathError); ok {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// path is p relative to the config file's directory, when it is relative
// and there is one: a context's files are where the config file says,
// whatever directory eddy runs in.
func (r *Resolver) path(p string) string {
	if p == "" || filepath.IsAbs(p) || r.Dir == "" {
		return p
	}
	return filepath.Join(r.Dir, p)
}

// redactedURL is raw without its password, even when it does not parse.
func redactedURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.User == nil {
			return raw // as given: url.URL.String drops an empty host's "//"
		}
		return u.Redacted()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "xxxxx@" + raw[i+1:]
		}
	}
	return raw
}
