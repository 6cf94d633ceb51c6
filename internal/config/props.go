package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// Property is one key=value of a librdkafka or Java client properties file
// (kcat's -F, client.properties) or of -X, with where it was written, for
// messages.
type Property struct {
	Key, Value string
	Where      string // "client.properties:3", "-X"
}

// ReadProperties reads a properties file: the Java .properties syntax,
// which librdkafka's and kcat's key=value files are a subset of (# and !
// comments, key=value, key: value or key value, a trailing backslash
// continuing the line, \t \n \uXXXX escapes).
func ReadProperties(path string) ([]Property, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cmdutil.Usagef("properties file: %v", err)
	}
	defer f.Close()
	return ParseProperties(f, path)
}

// ParseProperties parses r, named name in messages (see ReadProperties).
func ParseProperties(r io.Reader, name string) ([]Property, error) {
	var out []Property
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		start := n
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// An odd number of trailing backslashes continues the logical line
		// on the next one, whose leading blanks are dropped.
		for continues(line) && sc.Scan() {
			n++
			line = line[:len(line)-1] + strings.TrimLeft(sc.Text(), " \t\f")
		}
		if continues(line) {
			// The file ended on it: dropped, as java.util.Properties does.
			line = line[:len(line)-1]
		}
		key, value := splitProperty(line)
		k, err := unescapeProperty(key)
		if err != nil {
			return nil, cmdutil.Usagef("%s:%d: %v", name, start, err)
		}
		v, err := unescapeProperty(value)
		if err != nil {
			return nil, cmdutil.Usagef("%s:%d: %s: %v", name, start, inspect.SafeString(k), err)
		}
		out = append(out, Property{Key: k, Value: v, Where: fmt.Sprintf("%s:%d", name, start)})
	}
	if err := sc.Err(); err != nil {
		return nil, cmdutil.Usagef("properties file %s: %v", name, err)
	}
	return out, nil
}

func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line at the first unescaped '=', ':' or
// blank, as java.util.Properties does.
func splitProperty(line string) (key, value string) {
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
	}
	if i >= len(line) {
		return line, ""
	}
	key, rest := line[:i], line[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i == len(s)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", fmt.Errorf(`malformed \uXXXX escape`)
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`malformed \uXXXX escape`)
			}
			i += 4
			r := rune(v)
			if utf16.IsSurrogate(r) {
				// Properties.store writes a character outside the Basic
				// Multilingual Plane as two escapes, a UTF-16 surrogate pair.
				if i+6 >= len(s) || s[i+1] != '\\' || s[i+2] != 'u' {
					return "", errors.New(`a \uXXXX escape of half a UTF-16 surrogate pair, without the other half`)
				}
				lo, err := strconv.ParseUint(s[i+3:i+7], 16, 16)
				if r = utf16.DecodeRune(r, rune(lo)); err != nil || r == utf8.RuneError {
					return "", errors.New(`a \uXXXX escape of half a UTF-16 surrogate pair, without the other half`)
				}
				i += 6
			}
			b.WriteRune(r)
		default:
			b.WriteByte(s[i])
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("not UTF-8")
	}
	return b.String(), nil
}

// ParseProperty parses one -X argument, KEY=VALUE.
func ParseProperty(arg string) (Property, error) {
	k, v, ok := strings.Cut(arg, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		// Only the key is named: what follows it, after a ':' or a blank
		// written for '=', is the value, and may be a password.
		key, _, _ := strings.Cut(strings.TrimSpace(arg), "=")
		if i := strings.IndexAny(key, ": \t"); i >= 0 {
			key = key[:i]
		}
		if key == "" {
			return Property{}, cmdutil.Usagef("-X: want KEY=VALUE, e.g. -X security.protocol=SASL_SSL")
		}
		return Property{}, cmdutil.Usagef("-X %s: want KEY=VALUE, e.g. -X security.protocol=SASL_SSL", strconv.Quote(inspect.SafeString(key)))
	}
	return Property{Key: k, Value: strings.TrimSpace(v), Where: "-X"}, nil
}

// Conn is a Kafka connection as another tool's configuration describes it
// (a properties file, -X, kaf, kafkactl, rpk), before it becomes an eddy
// context (import) or one command's options (-F, -X).
type Conn struct {
	Brokers []string
	// TLS is on; TLSSet says the source said so either way
	// (security.protocol), not only implied it by a CA file.
	TLS, TLSSet   bool
	CA, Cert, Key string // PEM files
	// CAPEM, CertPEM and KeyPEM are PEM read from a Java trust or key store
	// (JKS, PKCS#12) or given inline: an import writes them to files.
	CAPEM, CertPEM, KeyPEM []byte
	Insecure               bool
	Mechanism, User        string
	Password               string // a secret: never printed
	AWSProfile             string // AWS_MSK_IAM's IAMLoginModule awsProfileName (awsiam.go)
	// Kerberos is the GSSAPI login: Java's Krb5LoginModule options
	// (keyTab, principal, ticketCache) or librdkafka's sasl.kerberos.*,
	// and the brokers' service name.
	Kerberos KerberosConfig
	ClientID string
	// SchemaRegistry is the Schema Registry URL, when the source names one.
	SchemaRegistry string
}

// propKeys are the properties eddy maps onto its connection settings, by
// the names librdkafka (kcat) and the Java client give them.
var propKeys = []string{
	"bootstrap.servers", "metadata.broker.list", "security.protocol",
	"sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password", "sasl.jaas.config",
	"sasl.client.callback.handler.class",
	"sasl.kerberos.service.name", "sasl.kerberos.keytab", "sasl.kerberos.principal",
	"ssl.ca.location", "ssl.ca.pem", "ssl.certificate.location", "ssl.certificate.pem", "ssl.key.location", "ssl.key.pem",
	"ssl.truststore.location", "ssl.truststore.type", "ssl.truststore.password", "ssl.truststore.certificates",
	"ssl.keystore.location", "ssl.keystore.type", "ssl.keystore.password", "ssl.key.password",
	"ssl.keystore.certificate.chain", "ssl.keystore.key",
	"enable.ssl.certificate.verification", "ssl.endpoint.identification.algorithm", "client.id",
	"schema.registry.url",
}

// ignoredKeys are client tuning properties that say nothing about where
// a cluster is or how to log in to it (a Confluent Cloud client.properties
// carries several): eddy reads past them with a warning instead of
// refusing the file.
var ignoredKeys = []string{
	"acks", "client.dns.lookup", "session.timeout.ms", "request.timeout.ms", "default.api.timeout.ms",
	"retries", "retry.backoff.ms", "linger.ms", "batch.size", "compression.type", "group.id",
	"auto.offset.reset", "enable.auto.commit", "key.serializer", "value.serializer",
	"key.deserializer", "value.deserializer", "max.poll.records", "api.version.request",
	"socket.timeout.ms", "metadata.max.age.ms", "debug", "basic.auth.credentials.source",
}

// PropertyKeys are the properties -F, -X and eddy config import map, for
// help and completion.
func PropertyKeys() []string { return slices.Clone(propKeys) }

// PropertiesToConn maps properties onto a connection. A property eddy does
// not map is an error naming it (exit 2) when strict (-F, -X), a warning
// when not (import); the client tuning ones are warnings either way.
// Secrets (sasl.password, the store passwords) never appear in a message.
func PropertiesToConn(props []Property, strict bool, warn func(string)) (*Conn, error) {
	c := &Conn{}
	last := map[string]Property{}
	pos := map[string]int{} // where the last of each key was: the later of two spellings wins
	for i, p := range props {
		k := strings.ToLower(p.Key)
		switch {
		case slices.Contains(propKeys, k):
		case slices.Contains(ignoredKeys, k) || strings.HasPrefix(k, "basic.auth.user.info"):
			warn(fmt.Sprintf("%s: %s does not apply to eddy; ignored", p.Where, inspect.SafeString(p.Key)))
			continue
		case strict:
			return nil, cmdutil.Usagef("%s: %s is not a property eddy supports (supported: %s)", p.Where, strconv.Quote(inspect.SafeString(p.Key)), strings.Join(propKeys, ", "))
		default:
			warn(fmt.Sprintf("%s: %s is not supported by eddy; not imported", p.Where, inspect.SafeString(p.Key)))
			continue
		}
		last[k], pos[k] = p, i // the last one wins, as in both clients
	}
	get := func(k string) (Property, bool) { p, ok := last[k]; return p, ok }
	val := func(k string) string { return last[k].Value }
	bad := func(p Property, format string, a ...any) error {
		return cmdutil.Usagef("%s: %s: %s", p.Where, p.Key, fmt.Sprintf(format, a...))
	}

	for _, k := range []string{"bootstrap.servers", "metadata.broker.list"} {
		if p, ok := get(k); ok && len(c.Brokers) == 0 {
			c.Brokers = splitList(p.Value)
			if len(c.Brokers) == 0 {
				return nil, bad(p, "no broker in it")
			}
		}
	}
	sasl := false
	if p, ok := get("security.protocol"); ok {
		switch strings.ToUpper(p.Value) {
		case "PLAINTEXT":
			c.TLSSet = true
		case "SSL":
			c.TLS, c.TLSSet = true, true
		case "SASL_PLAINTEXT":
			c.TLSSet, sasl = true, true
		case "SASL_SSL":
			c.TLS, c.TLSSet, sasl = true, true, true
		default:
			return nil, bad(p, "%s: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", strconv.Quote(inspect.SafeString(p.Value)))
		}
	}
	if c.TLSSet && !sasl {
		// PLAINTEXT or SSL: both clients ignore the sasl.* settings (a
		// template's leftovers); logging in with them would be refused by a
		// listener that takes no SASL.
		var keys []string
		for _, k := range []string{"sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password", "sasl.jaas.config",
			"sasl.kerberos.service.name", "sasl.kerberos.keytab", "sasl.kerberos.principal"} {
			if _, ok := get(k); ok {
				keys = append(keys, k)
				delete(last, k)
			}
		}
		if len(keys) > 0 {
			sp := last["security.protocol"]
			warn(fmt.Sprintf("%s: security.protocol=%s: %s ignored (SASL_PLAINTEXT or SASL_SSL logs in with SASL)", sp.Where, strings.ToUpper(sp.Value), strings.Join(keys, ", ")))
		}
	}
	for _, k := range []string{"sasl.mechanism", "sasl.mechanisms"} {
		if p, ok := get(k); ok {
			c.Mechanism = strings.ToUpper(strings.TrimSpace(p.Value))
		}
	}
	c.User, c.Password = val("sasl.username"), val("sasl.password")
	if p, ok := get("sasl.jaas.config"); ok {
		j, err := parseJAAS(p.Value)
		if err != nil {
			return nil, bad(p, "%v", err)
		}
		krb := strings.HasSuffix(j.module, ".Krb5LoginModule")
		switch {
		case krb:
			// Java's Kerberos login: a keytab and its principal, or the
			// ticket cache kinit filled.
			if c.Mechanism == "" {
				c.Mechanism = "GSSAPI"
			}
			if !isKerberos(c.Mechanism) {
				return nil, bad(p, "Krb5LoginModule needs sasl.mechanism GSSAPI")
			}
			c.Kerberos.Principal = j.opts["principal"]
			if strings.EqualFold(j.opts["useKeyTab"], "true") || j.opts["keyTab"] != "" {
				c.Kerberos.Keytab = expandHome(j.opts["keyTab"])
			} else if strings.EqualFold(j.opts["useTicketCache"], "true") {
				c.Kerberos.CCache = expandHome(j.opts["ticketCache"])
			}
		case strings.HasSuffix(j.module, ".PlainLoginModule"):
			if c.Mechanism == "" {
				c.Mechanism = "PLAIN"
			}
		case strings.HasSuffix(j.module, ".ScramLoginModule"):
			if !strings.HasPrefix(c.Mechanism, "SCRAM-") {
				return nil, bad(p, "ScramLoginModule needs sasl.mechanism SCRAM-SHA-256 or SCRAM-SHA-512")
			}
		case j.module == mskIAMLoginModule:
			if err := awsIAMJAAS(c, j.opts, j.keys, func(msg string) { warn(p.Where + ": " + msg) }); err != nil {
				return nil, bad(p, "%v", err)
			}
			j.keys = nil // awsIAMJAAS said what it did with each
		default:
			return nil, bad(p, "login module %s is not supported (PlainLoginModule, ScramLoginModule, Krb5LoginModule and MSK's IAMLoginModule are)", inspect.SafeString(j.module))
		}
		// sasl.username and sasl.password (librdkafka's) against the
		// JAAS options (Java's): the one written last wins, so -X
		// sasl.password=... overrides a -F file's JAAS password.
		_, userSet := get("sasl.username")
		_, passSet := get("sasl.password")
		if u := j.opts["username"]; u != "" && (!userSet || pos["sasl.jaas.config"] > pos["sasl.username"]) {
			c.User = u
		}
		if pw := j.opts["password"]; pw != "" && (!passSet || pos["sasl.jaas.config"] > pos["sasl.password"]) {
			c.Password = pw
		}
		for _, k := range j.keys {
			// The Krb5LoginModule options that only say how Java keeps
			// what it read: nothing for eddy to do or to say.
			quiet := krb && slices.Contains([]string{"useKeyTab", "keyTab", "principal", "useTicketCache", "ticketCache",
				"storeKey", "doNotPrompt", "debug", "refreshKrb5Config", "isInitiator"}, k)
			if k != "username" && k != "password" && !quiet {
				warn(fmt.Sprintf("%s: sasl.jaas.config option %s is not supported; ignored", p.Where, inspect.SafeString(k)))
			}
		}
	}
	if p, ok := get("sasl.client.callback.handler.class"); ok && strings.TrimSpace(p.Value) != mskIAMCallbackHandler {
		return nil, bad(p, "callback handler %s is not supported (MSK's IAMClientCallbackHandler is, with AWS_MSK_IAM)", strconv.Quote(inspect.SafeString(p.Value)))
	}
	// librdkafka's (kcat's) Kerberos settings; its default, kinit run by
	// librdkafka itself, is a ticket cache to eddy.
	if v := val("sasl.kerberos.keytab"); v != "" {
		c.Kerberos.Keytab, c.Kerberos.CCache = expandHome(v), ""
	}
	if v := val("sasl.kerberos.principal"); v != "" {
		c.Kerberos.Principal = v
	}
	c.Kerberos.ServiceName = val("sasl.kerberos.service.name")
	if c.Kerberos != (KerberosConfig{}) && c.Mechanism == "" {
		c.Mechanism = "GSSAPI"
	}
	if sasl && c.Mechanism == "" {
		// Both clients' default mechanism: GSSAPI in Java, in librdkafka
		// too; neither is what a user with a user name means.
		if c.User != "" {
			c.Mechanism = "PLAIN"
		}
	}

	// TLS: files, inline PEM, Java stores.
	c.CA, c.Cert, c.Key = expandHome(val("ssl.ca.location")), expandHome(val("ssl.certificate.location")), expandHome(val("ssl.key.location"))
	if v := val("ssl.ca.pem") + val("ssl.truststore.certificates"); v != "" {
		c.CAPEM = []byte(v)
	}
	if v := val("ssl.certificate.pem") + val("ssl.keystore.certificate.chain"); v != "" {
		c.CertPEM = []byte(v)
	}
	if v := val("ssl.key.pem") + val("ssl.keystore.key"); v != "" {
		c.KeyPEM = []byte(v)
	}
	if p, ok := get("ssl.truststore.location"); ok && p.Value != "" {
		path := expandHome(p.Value)
		pemCA, isPEM, err := TrustStorePEM(path, val("ssl.truststore.type"), val("ssl.truststore.password"))
		if err != nil {
			return nil, bad(p, "%v", err)
		}
		if isPEM {
			c.CA = path
		} else {
			c.CAPEM = pemCA
		}
	}
	if p, ok := get("ssl.keystore.location"); ok && p.Value != "" {
		keyPass := val("ssl.key.password")
		if keyPass == "" {
			keyPass = val("ssl.keystore.password")
		}
		certPEM, keyPEM, err := KeyStorePEM(expandHome(p.Value), val("ssl.keystore.type"), val("ssl.keystore.password"), keyPass)
		if err != nil {
			return nil, bad(p, "%v", err)
		}
		c.CertPEM, c.KeyPEM = certPEM, keyPEM
	} else if p, ok := get("ssl.key.password"); ok && p.Value != "" && c.Key != "" {
		return nil, bad(p, "encrypted PEM keys are not supported: decrypt the key (openssl pkey -in KEY -out KEY.pem)")
	}
	if p, ok := get("enable.ssl.certificate.verification"); ok {
		on, err := strconv.ParseBool(p.Value)
		if err != nil {
			return nil, bad(p, "want true or false")
		}
		c.Insecure = !on
	}
	if p, ok := get("ssl.endpoint.identification.algorithm"); ok {
		switch strings.ToLower(p.Value) {
		case "https":
		default:
			// eddy always checks the host name when it checks the
			// certificate; turning only the name check off is not offered.
			warn(fmt.Sprintf("%s: ssl.endpoint.identification.algorithm=%s is not supported: eddy verifies the broker's host name (--tls-server-name names another)", p.Where, inspect.SafeString(p.Value)))
		}
	}
	hasTLSFiles := c.CA != "" || c.Cert != "" || c.CAPEM != nil || c.CertPEM != nil || c.Insecure
	if c.TLSSet && !c.TLS && hasTLSFiles {
		warn(fmt.Sprintf("%s: security.protocol=%s: the ssl.* settings are ignored", last["security.protocol"].Where, last["security.protocol"].Value))
		c.CA, c.Cert, c.Key, c.CAPEM, c.CertPEM, c.KeyPEM, c.Insecure = "", "", "", nil, nil, nil, false
	} else if hasTLSFiles {
		c.TLS = true
	}
	if (c.Cert != "" || c.CertPEM != nil) != (c.Key != "" || c.KeyPEM != nil) {
		return nil, cmdutil.Usagef("properties: a client certificate needs its key and a key its certificate (ssl.certificate.location with ssl.key.location, or ssl.keystore.location)")
	}
	c.ClientID = val("client.id")
	c.SchemaRegistry = val("schema.registry.url")
	return c, nil
}

// jaas is a parsed sasl.jaas.config: one login module and its options.
type jaas struct {
	module string
	opts   map[string]string
	keys   []string
}

// parseJAAS parses `Module flag key="value" key2=value2;`. Only the first
// module is read; a second is refused, as the Java client refuses it.
func parseJAAS(s string) (jaas, error) {
	j := jaas{opts: map[string]string{}}
	f := strings.Fields(strings.TrimSpace(s))
	if len(f) < 2 {
		return j, fmt.Errorf("want LoginModule required|requisite|sufficient|optional key=\"value\" ...;")
	}
	j.module = f[0]
	rest := strings.TrimSpace(s)[len(f[0]):]
	rest = strings.TrimSpace(rest)
	flag := rest
	if i := strings.IndexAny(rest, " \t\r\n;"); i >= 0 {
		flag, rest = rest[:i], rest[i:]
	} else {
		rest = ""
	}
	switch flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return j, fmt.Errorf("want a control flag (required) after %s", inspect.SafeString(j.module))
	}
	for {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" || rest[0] == ';' {
			if strings.TrimSpace(strings.TrimPrefix(rest, ";")) != "" {
				return j, fmt.Errorf("only one login module is supported")
			}
			return j, nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return j, fmt.Errorf("want key=value options after the control flag")
		}
		key := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var value string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			end := -1
			var b strings.Builder
			for i := 1; i < len(rest); i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if rest[i] == q {
					end = i
					break
				}
				b.WriteByte(rest[i])
			}
			if end < 0 {
				// Never quote the value: it may be the password.
				return j, fmt.Errorf("option %s: unterminated quote", inspect.SafeString(key))
			}
			value, rest = b.String(), rest[end+1:]
		} else {
			end := strings.IndexAny(rest, " \t;")
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		if _, dup := j.opts[key]; !dup {
			j.keys = append(j.keys, key)
		}
		j.opts[key] = value
	}
}

// expandHome turns a leading ~/ into $HOME (the tools' files are written
// by hand and often say ~/certs/ca.pem).
func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}
