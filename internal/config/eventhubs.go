package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// Azure Event Hubs speaks Kafka on port 9093 of its namespace's host, over
// TLS, with SASL PLAIN: the user is the literal "$ConnectionString" and the
// password the namespace's (or an event hub's) connection string, which
// holds the access key. eddy takes the connection string from a file or an
// environment variable, never from a flag (ps would show it), and treats the
// whole of it as a secret: it is registered with the redactor before use, so
// that no error or --debug line can show it.

// EnvEventHubs is the environment variable that may hold an Event Hubs
// connection string.
const EnvEventHubs = "EDDY_EVENTHUBS_CONNECTION_STRING"

// EventHubsUser is the SASL PLAIN user name Event Hubs expects beside a
// connection string.
const EventHubsUser = "$ConnectionString"

// eventHubsPort is the Kafka endpoint's port on an Event Hubs namespace.
const eventHubsPort = "9093"

// EventHubsConfig makes a context an Azure Event Hubs namespace, reached
// through its Kafka endpoint with its connection string (from a file, or an
// environment variable named here).
type EventHubsConfig struct {
	ConnectionStringFile string `yaml:"connection-string-file,omitempty"`
	ConnectionStringEnv  string `yaml:"connection-string-env,omitempty"`
}

// EventHubsConn is a parsed Event Hubs connection string:
// Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=NAME;SharedAccessKey=KEY[;EntityPath=HUB]
// (or SharedAccessSignature=SIG instead of the key's name and key).
type EventHubsConn struct {
	Host       string // NAMESPACE.servicebus.windows.net
	KeyName    string
	Key        string // secret
	Signature  string // secret
	EntityPath string
}

// Broker is the namespace's Kafka endpoint, HOST:9093.
func (e EventHubsConn) Broker() string { return net.JoinHostPort(e.Host, eventHubsPort) }

// ParseEventHubs parses a connection string. Its errors say what is wrong
// and never contain the key or the signature.
func ParseEventHubs(s string) (EventHubsConn, error) {
	var e EventHubsConn
	var endpoint string
	s = strings.TrimSpace(s)
	if s == "" {
		return e, errors.New("it is empty")
	}
	for i, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			// Not echoed: a key pasted without its name would be shown.
			return e, fmt.Errorf("part %d has no '=': want KEY=VALUE parts separated by ';'", i+1)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "endpoint":
			endpoint = strings.TrimSpace(v)
		case "sharedaccesskeyname":
			e.KeyName = strings.TrimSpace(v)
		case "sharedaccesskey":
			e.Key = strings.TrimSpace(v)
		case "sharedaccesssignature":
			e.Signature = strings.TrimSpace(v)
		case "entitypath":
			e.EntityPath = strings.TrimSpace(v)
		}
		// Other keys are Azure's to add; the broker reads the whole string.
	}
	if endpoint == "" {
		return e, errors.New("no Endpoint=sb://NAMESPACE.servicebus.windows.net/ in it")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "sb" || u.Hostname() == "" {
		return e, fmt.Errorf("the Endpoint %s: want sb://NAMESPACE.servicebus.windows.net/", strconv.Quote(inspect.SafeString(endpoint)))
	}
	e.Host = u.Hostname()
	if e.Signature == "" {
		switch {
		case e.KeyName == "":
			return e, errors.New("no SharedAccessKeyName= in it (the name of the shared access policy)")
		case e.Key == "":
			return e, errors.New("no SharedAccessKey= in it (the policy's key)")
		}
	}
	return e, nil
}

// bindEventHubs declares the Event Hubs flag (see Options.Bind).
func (g *Options) bindEventHubs(fs *pflag.FlagSet) {
	fs.Var(fileFlag{&g.EventHubsFile, "the FILE holding the connection string"}, "event-hubs-connection-string-file",
		"file holding an Azure Event Hubs connection string: Kafka over TLS to its namespace on port 9093 (env "+EnvEventHubs+"; never a flag)")
}

// eventHubsString returns the Event Hubs connection string in force and
// where it came from: the flag's file, then EDDY_EVENTHUBS_CONNECTION_STRING,
// then the context's file or environment variable. ok is false when none
// names one.
func (r *Resolver) eventHubsString(kc *KafkaConfig) (s, where string, ok bool, err error) {
	file, env := r.Flags.EventHubsFile, ""
	if file == "" && r.Getenv(EnvEventHubs) != "" {
		return r.Getenv(EnvEventHubs), EnvEventHubs, true, nil
	}
	if file == "" && kc != nil && kc.EventHubs != nil {
		file, env = kc.EventHubs.ConnectionStringFile, kc.EventHubs.ConnectionStringEnv
		if file != "" && !filepath.IsAbs(file) && r.Dir != "" {
			file = filepath.Join(r.Dir, file)
		}
		if file == "" && env == "" {
			return "", "", false, cmdutil.Usagef("the context's kafka.event-hubs names neither connection-string-file nor connection-string-env")
		}
	}
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", true, cmdutil.Usagef("Event Hubs connection string file: %v", pathError(err))
		}
		return string(b), file, true, nil
	case env != "":
		if r.Getenv(env) == "" {
			return "", "", true, cmdutil.Usagef("Event Hubs connection string: environment variable %s (the context's connection-string-env) is empty", env)
		}
		return r.Getenv(env), "$" + env, true, nil
	}
	return "", "", false, nil
}

// eventHubs returns the parsed connection string in force and the string
// itself, registered as a secret; ok is false when none is in force.
func (r *Resolver) eventHubs(kc *KafkaConfig) (conn EventHubsConn, s string, ok bool, err error) {
	s, where, ok, err := r.eventHubsString(kc)
	if !ok || err != nil {
		return conn, "", ok, err
	}
	s = strings.TrimSpace(s)
	r.addSecret(s)
	conn, err = ParseEventHubs(s)
	if err != nil {
		return conn, "", true, cmdutil.Usagef("Event Hubs connection string (%s): %v", inspect.SafeString(where), err)
	}
	r.addSecret(conn.Key)
	r.addSecret(conn.Signature)
	return conn, s, true, nil
}

// addSecret registers s with the redactor, when there is one (a Resolver made
// only to find where Kafka is may have none).
func (r *Resolver) addSecret(s string) {
	if r.Secrets != nil {
		r.Secrets.Add(s)
	}
}

// eventHubsSet says whether an Event Hubs connection string is in force.
func (r *Resolver) eventHubsSet(kc *KafkaConfig) bool {
	return r.Flags.EventHubsFile != "" || r.Getenv(EnvEventHubs) != "" || (kc != nil && kc.EventHubs != nil)
}

// eventHubsSeeds is the Kafka endpoint of the namespace in force.
func (r *Resolver) eventHubsSeeds(kc *KafkaConfig) ([]string, error) {
	conn, _, _, err := r.eventHubs(kc)
	if err != nil {
		return nil, err
	}
	return []string{conn.Broker()}, nil
}

// eventHubsAuth is kafkaAuth for an Event Hubs connection string: TLS (the
// context's or the flags' CA and server name still apply) and SASL PLAIN as
// $ConnectionString. ok is false when no connection string is in force.
func (r *Resolver) eventHubsAuth(kc *KafkaConfig) (c kafkaCreds, ok bool, err error) {
	_, s, ok, err := r.eventHubs(kc)
	if !ok || err != nil {
		return c, ok, err
	}
	if m := strings.ToUpper(r.Flags.SASLMech); (m != "" && m != "PLAIN") || (r.Flags.SASLUser != "" && r.Flags.SASLUser != EventHubsUser) {
		return c, true, cmdutil.Usagef("an Event Hubs connection string logs in with SASL PLAIN as %s: drop --sasl-mechanism and --sasl-user", EventHubsUser)
	}
	var ctxTLS *TLSConfig
	if kc != nil {
		ctxTLS = kc.TLS
	}
	if c.tls, err = r.tlsConfig(ctxTLS, true); err != nil {
		return c, true, err
	}
	c.mech, c.user, c.pass = "PLAIN", EventHubsUser, s
	return c, true, nil
}

// setEventHubs makes the context an Event Hubs namespace when
// --event-hubs-connection-string-file is given to eddy config set: it
// checks the string, points the brokers at the namespace (unless --brokers
// says otherwise) and keeps the file's absolute path, never its content.
func setEventHubs(ctx *Context, o *Options) error {
	if o.EventHubsFile == "" {
		return nil
	}
	if o.SASLMech != "" || o.SASLUser != "" {
		return cmdutil.Usagef("--event-hubs-connection-string-file logs in with SASL PLAIN as %s: drop --sasl-mechanism and --sasl-user", EventHubsUser)
	}
	file, err := filepath.Abs(o.EventHubsFile)
	if err != nil {
		return cmdutil.Usagef("Event Hubs connection string file %s: %v", o.EventHubsFile, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return cmdutil.Usagef("Event Hubs connection string file: %v", pathError(err))
	}
	conn, err := ParseEventHubs(string(b))
	if err != nil {
		return cmdutil.Usagef("Event Hubs connection string (%s): %v", inspect.SafeString(file), err)
	}
	if ctx.Kafka == nil {
		ctx.Kafka = &KafkaConfig{}
	}
	if len(o.Brokers) == 0 {
		ctx.Kafka.Brokers = []string{conn.Broker()}
	}
	ctx.Kafka.SASL = nil // the connection string is the login
	ctx.Kafka.EventHubs = &EventHubsConfig{ConnectionStringFile: file}
	return nil
}

// pathError is an *os.PathError's path and reason, nothing else.
func pathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
