package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// ImportKinds are the configurations eddy config import reads.
var ImportKinds = []string{"kaf", "kafkactl", "rpk", "kcat", "properties"}

// Imported is one cluster read from another tool's configuration.
type Imported struct {
	Name string
	Conn *Conn
	// Current is the source's own current cluster, context or profile.
	Current bool
	// SRUser and SRPassword are the Schema Registry's basic auth (kaf).
	SRUser, SRPassword string
}

// DefaultImportPath is where kind keeps its configuration: kaf's
// ~/.kaf/config, kafkactl's ~/.config/kafkactl/config.yml ($KAFKA_CTL_CONFIG),
// rpk's ~/.config/rpk/rpk.yaml, kcat's ~/.config/kcat.conf ($KCAT_CONFIG). A
// properties file has no default.
func DefaultImportPath(kind string, getenv func(string) string) (string, error) {
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	cfgDir := getenv("XDG_CONFIG_HOME")
	if cfgDir == "" {
		cfgDir = filepath.Join(home, ".config")
	}
	switch kind {
	case "kaf":
		return filepath.Join(home, ".kaf", "config"), nil
	case "kafkactl":
		if p := getenv("KAFKA_CTL_CONFIG"); p != "" {
			return p, nil
		}
		return filepath.Join(cfgDir, "kafkactl", "config.yml"), nil
	case "rpk":
		return filepath.Join(cfgDir, "rpk", "rpk.yaml"), nil
	case "kcat":
		if p := getenv("KCAT_CONFIG"); p != "" {
			return p, nil
		}
		return filepath.Join(cfgDir, "kcat.conf"), nil
	}
	return "", cmdutil.Usagef("eddy config import properties needs the FILE to read, e.g. client.properties")
}

// ReadImport reads the configuration of kind at path. name names the
// context of a kcat or properties file (one cluster each; default: kcat,
// or the file's base name). Settings eddy cannot keep are reported to warn
// by their key, never their value.
func ReadImport(kind, path, name string, warn func(string)) ([]Imported, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cmdutil.Usagef("eddy config import %s: %v", kind, pathErr(err))
	}
	switch kind {
	case "kcat", "properties":
		props, err := ParseProperties(bytes.NewReader(b), path)
		if err != nil {
			return nil, err
		}
		c, err := PropertiesToConn(props, false, warn)
		if err != nil {
			return nil, err
		}
		if c.ClientID != "" {
			warn(fmt.Sprintf("%s: client.id is not kept in a context (-X client.id=ID sets it for one command); not imported", path))
		}
		if name == "" {
			name = "kcat"
			if kind == "properties" {
				name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			}
		}
		return []Imported{{Name: name, Conn: c, Current: true}}, nil
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, cmdutil.Usagef("eddy config import %s: %s: %s", kind, path, inspect.SafeString(err.Error()))
	}
	top := &ymap{m: doc, where: path, warn: warn, top: true}
	switch kind {
	case "kaf":
		return readKaf(top)
	case "kafkactl":
		return readKafkactl(top)
	case "rpk":
		return readRpk(top)
	}
	return nil, cmdutil.Usagef("eddy config import: %s is not a source: want %s", quoteSafe(kind), strings.Join(ImportKinds, ", "))
}

func quoteSafe(s string) string { return fmt.Sprintf("%q", inspect.SafeString(s)) }

// ymap walks one YAML mapping of another tool's file, remembering the keys
// read, so that done can name every other one in a warning: a setting eddy
// cannot keep is said, not dropped in silence.
type ymap struct {
	m     map[string]any
	where string // "kaf.yaml: clusters[prod].TLS"
	warn  func(string)
	used  map[string]bool
	top   bool // the file itself: "kaf.yaml: clusters[prod]", not "kaf.yaml.clusters"
}

// at names the key k under y, for warnings.
func (y *ymap) at(k string) string {
	if y.top {
		return y.where + ": " + k
	}
	return y.where + "." + k
}

func (y *ymap) get(k string) any {
	if y == nil {
		return nil
	}
	if y.used == nil {
		y.used = map[string]bool{}
	}
	y.used[k] = true
	return y.m[k]
}

func (y *ymap) str(k string) string {
	switch v := y.get(k).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

func (y *ymap) bool(k string) bool {
	v, _ := y.get(k).(bool)
	return v
}

func (y *ymap) strs(k string) []string {
	switch v := y.get(k).(type) {
	case []any:
		var out []string
		for _, e := range v {
			if s := strings.TrimSpace(fmt.Sprint(e)); s != "" {
				out = append(out, s)
			}
		}
		return out
	case string:
		return splitList(v)
	}
	return nil
}

// sub is the mapping under k, nil when there is none.
func (y *ymap) sub(k string) *ymap {
	m, ok := y.get(k).(map[string]any)
	if !ok {
		return nil
	}
	return &ymap{m: m, where: y.at(k), warn: y.warn}
}

// done warns about every key with a value that nothing read.
func (y *ymap) done() {
	if y == nil {
		return
	}
	var keys []string
	for k, v := range y.m {
		if !y.used[k] && !empty(v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		y.warn(fmt.Sprintf("%s: %s is not supported by eddy; not imported", y.where, inspect.SafeString(k)))
	}
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		for _, e := range v {
			if !empty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func list(y *ymap, k string) []*ymap {
	l, _ := y.get(k).([]any)
	var out []*ymap
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		where := fmt.Sprintf("%s[%d]", y.at(k), i)
		if n, ok := m["name"].(string); ok {
			where = fmt.Sprintf("%s[%s]", y.at(k), inspect.SafeString(n))
		}
		out = append(out, &ymap{m: m, where: where, warn: y.warn})
	}
	return out
}

// readKaf reads kaf's ~/.kaf/config: current-cluster and clusters, each with
// name, brokers, SASL (mechanism, username, password), TLS (cafile,
// clientfile, clientkeyfile, insecure), security-protocol and the schema
// registry.
func readKaf(top *ymap) ([]Imported, error) {
	current := top.str("current-cluster")
	var out []Imported
	for _, cl := range list(top, "clusters") {
		name := cl.str("name")
		c := &Conn{Brokers: cl.strs("brokers")}
		proto := strings.ToUpper(cl.str("security-protocol"))
		if t := cl.sub("TLS"); t != nil {
			c.TLS = true
			c.CA, c.Cert, c.Key = expandHome(t.str("cafile")), expandHome(t.str("clientfile")), expandHome(t.str("clientkeyfile"))
			c.Insecure = t.bool("insecure")
			t.done()
		}
		c.TLS = c.TLS || proto == "SSL" || proto == "SASL_SSL"
		if s := cl.sub("SASL"); s != nil {
			c.Mechanism, c.User, c.Password = strings.ToUpper(s.str("mechanism")), s.str("username"), s.str("password")
			s.get("version") // the SASL handshake version: franz-go negotiates it
			s.done()
		}
		if c.Mechanism == "" && c.User != "" {
			c.Mechanism = "PLAIN"
		}
		c.SchemaRegistry = cl.str("schema-registry-url")
		im := Imported{Name: name, Conn: c, Current: name == current}
		if sc := cl.sub("schema-registry-credentials"); sc != nil {
			im.SRUser, im.SRPassword = sc.str("username"), sc.str("password")
			sc.done()
		}
		cl.get("version") // the Kafka version: franz-go negotiates it
		cl.done()
		out = append(out, im)
	}
	return out, nil
}

// readKafkactl reads kafkactl's config.yml: current-context and contexts,
// each with brokers, tls (enabled, ca, cert, certKey, insecure), sasl
// (enabled, username, password, mechanism plaintext|scram-sha256|
// scram-sha512|oauth), clientID and the schema registry.
func readKafkactl(top *ymap) ([]Imported, error) {
	current := top.str("current-context")
	ctxs := top.sub("contexts")
	if ctxs == nil {
		return nil, nil
	}
	names := make([]string, 0, len(ctxs.m))
	for n := range ctxs.m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Imported
	for _, name := range names {
		cx := ctxs.sub(name)
		if cx == nil {
			continue
		}
		cx.where = fmt.Sprintf("%s: contexts.%s", top.where, inspect.SafeString(name))
		c := &Conn{Brokers: cx.strs("brokers")}
		if t := cx.sub("tls"); t != nil {
			if t.bool("enabled") {
				c.TLS = true
				c.CA, c.Cert, c.Key = expandHome(t.str("ca")), expandHome(t.str("cert")), expandHome(t.str("certKey"))
				c.Insecure = t.bool("insecure")
			}
			t.done()
		}
		if s := cx.sub("sasl"); s != nil {
			if s.bool("enabled") {
				c.User, c.Password = s.str("username"), s.str("password")
				switch m := strings.ToLower(s.str("mechanism")); m {
				case "", "plaintext", "plain":
					c.Mechanism = "PLAIN"
				case "scram-sha256":
					c.Mechanism = "SCRAM-SHA-256"
				case "scram-sha512":
					c.Mechanism = "SCRAM-SHA-512"
				case "oauth":
					c.Mechanism = "OAUTHBEARER"
				default:
					c.Mechanism = strings.ToUpper(m)
				}
			}
			s.done()
		}
		if a := cx.sub("avro"); a != nil {
			c.SchemaRegistry = a.str("schemaRegistry")
			a.done()
		}
		if sr := cx.sub("schemaRegistry"); sr != nil && c.SchemaRegistry == "" {
			c.SchemaRegistry = sr.str("url")
			sr.done()
		}
		if c.SchemaRegistry != "" && !strings.Contains(c.SchemaRegistry, "://") {
			c.SchemaRegistry = "http://" + c.SchemaRegistry
		}
		cx.get("kafkaVersion") // franz-go negotiates versions
		cx.done()
		out = append(out, Imported{Name: name, Conn: c, Current: name == current})
	}
	return out, nil
}

// readRpk reads rpk's rpk.yaml: current_profile and profiles, each with
// name and kafka_api (brokers, tls: ca_file, cert_file, key_file,
// insecure_skip_verify; sasl: user, password, mechanism) and the schema
// registry's addresses.
func readRpk(top *ymap) ([]Imported, error) {
	current := top.str("current_profile")
	var out []Imported
	for _, p := range list(top, "profiles") {
		name := p.str("name")
		p.get("description")
		p.get("prompt")
		c := &Conn{}
		if k := p.sub("kafka_api"); k != nil {
			c.Brokers = k.strs("brokers")
			// rpk: a tls mapping, even an empty one, turns TLS on.
			if _, ok := k.m["tls"].(map[string]any); ok {
				t := k.sub("tls")
				c.TLS = true
				c.CA, c.Cert, c.Key = expandHome(t.str("ca_file")), expandHome(t.str("cert_file")), expandHome(t.str("key_file"))
				c.Insecure = t.bool("insecure_skip_verify")
				t.get("enabled")
				t.done()
			}
			if s := k.sub("sasl"); s != nil {
				c.User, c.Password, c.Mechanism = s.str("user"), s.str("password"), strings.ToUpper(s.str("mechanism"))
				s.done()
			}
			k.done()
		}
		if sr := p.sub("schema_registry"); sr != nil {
			if a := sr.strs("addresses"); len(a) > 0 {
				scheme := "http://"
				if _, ok := sr.m["tls"].(map[string]any); ok {
					scheme = "https://"
				}
				sr.get("tls")
				c.SchemaRegistry = scheme + a[0]
			}
			sr.done()
		}
		p.done()
		out = append(out, Imported{Name: name, Conn: c, Current: name == current})
	}
	return out, nil
}

// ImportOptions are eddy config import's choices.
type ImportOptions struct {
	Force, DryRun, Use bool
	// PasswordEnv names the environment variable that will hold the SASL
	// password, instead of a file written beside the config.
	PasswordEnv string
}

// Import adds the imported clusters to c as contexts. A password becomes a
// file of mode 0600 beside the config file (or PasswordEnv), a certificate
// converted from a Java store a PEM file there: the config holds only their
// names. With DryRun nothing is written; the contexts are what would be.
// An existing context is refused unless Force.
func (c *Config) Import(items []Imported, o ImportOptions) (map[string]*Context, error) {
	dir := filepath.Dir(c.path)
	made := map[string]*Context{}
	type file struct {
		path string
		data []byte
	}
	var files []file
	planned := map[string]bool{} // the files this import writes
	for _, it := range items {
		if it.Name == "" {
			return nil, cmdutil.Usagef("a cluster without a name: pass --name NAME")
		}
		if _, exists := c.Contexts[it.Name]; exists && !o.Force {
			return nil, cmdutil.Usagef("context %q is already in %s: pass --force to replace it", inspect.SafeString(it.Name), c.path)
		}
		cn := it.Conn
		if len(cn.Brokers) == 0 {
			return nil, cmdutil.Usagef("%s names no broker: nothing to import", quoteSafe(it.Name))
		}
		if err := checkSeeds(it.Name, cn.Brokers); err != nil {
			return nil, err
		}
		base := importBase(dir, fileSafe(it.Name), planned, c.Contexts[it.Name])
		k := &KafkaConfig{Brokers: cn.Brokers}
		if cn.TLS {
			t := &TLSConfig{Enabled: true, CA: abs(cn.CA), Cert: abs(cn.Cert), Key: abs(cn.Key), Insecure: cn.Insecure}
			if cn.CAPEM != nil {
				t.CA = base + "-ca.pem"
				files = append(files, file{t.CA, cn.CAPEM})
			}
			if cn.CertPEM != nil {
				t.Cert, t.Key = base+"-client-cert.pem", base+"-client-key.pem"
				files = append(files, file{t.Cert, cn.CertPEM}, file{t.Key, cn.KeyPEM})
			}
			k.TLS = t
		}
		if cn.Mechanism != "" || cn.User != "" {
			s := &SASLConfig{Mechanism: cn.Mechanism, Username: cn.User}
			if cn.AWSProfile != "" {
				s.AWS = &AWSIAMConfig{Profile: cn.AWSProfile}
			}
			if isKerberos(cn.Mechanism) && cn.Kerberos != (KerberosConfig{}) {
				k := cn.Kerberos
				k.Keytab, k.CCache = abs(k.Keytab), abs(k.CCache)
				s.Kerberos = &k
			}
			if cn.Password != "" {
				if o.PasswordEnv != "" {
					s.PasswordEnv = o.PasswordEnv
				} else {
					s.PasswordFile = base + "-kafka.password"
					files = append(files, file{s.PasswordFile, []byte(cn.Password)})
				}
			}
			k.SASL = s
		}
		ctx := &Context{Kafka: k}
		if cn.SchemaRegistry != "" {
			sr := &SchemaRegistryConfig{URL: cn.SchemaRegistry, Username: it.SRUser}
			if it.SRPassword != "" {
				sr.PasswordFile = base + "-schema-registry.password"
				files = append(files, file{sr.PasswordFile, []byte(it.SRPassword)})
			}
			ctx.SchemaRegistry = sr
		}
		made[it.Name] = ctx
	}
	if o.DryRun {
		return made, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	// Every file is written whole to a temporary 0600 file first, and only
	// when all of them are is each renamed into place: an import that fails
	// half-way leaves the existing files (the password of a context it would
	// have replaced) as they were, and a password is never written into an
	// existing file that may have a wider mode.
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	for _, f := range files {
		// A rename over a directory would fail after the others were
		// done: found before anything is renamed.
		if fi, err := os.Lstat(f.path); err == nil && !fi.Mode().IsRegular() {
			return nil, cmdutil.Usagef("config import: %s is in the way: not a regular file", f.path)
		}
		t, err := writeTemp(dir, f.data)
		if t != "" {
			temps = append(temps, t)
		}
		if err != nil {
			return nil, fmt.Errorf("config import: %w", pathErr(err))
		}
	}
	for i, f := range files {
		if err := os.Rename(temps[i], f.path); err != nil {
			return nil, fmt.Errorf("config import: %w", pathErr(err))
		}
	}
	names := make([]string, 0, len(made))
	for n := range made {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.Contexts[n] = made[n]
	}
	if len(names) > 0 && (o.Use || c.CurrentContext == "") {
		cur := names[0]
		for _, it := range items {
			if it.Current {
				cur = it.Name
				break
			}
		}
		c.CurrentContext = cur
	}
	return made, c.Save()
}

// importFiles are the files an import may write for a context of base.
func importFiles(base string) []string {
	return []string{base + "-ca.pem", base + "-client-cert.pem", base + "-client-key.pem",
		base + "-kafka.password", base + "-schema-registry.password"}
}

// importBase is the path prefix of the files of a context whose name is
// safe as a file name: dir/safe, or dir/safe-2, -3... when one of its files
// is another's. Two names can map to one file name ("prod eu" and
// "prod_eu"): sharing it, the second import would overwrite the first
// context's password. A file may be reused only when it is planned by
// nobody else and either does not exist or belongs to the context being
// replaced (replacing, nil when new).
func importBase(dir, safe string, planned map[string]bool, replacing *Context) string {
	own := map[string]bool{}
	if replacing != nil {
		if k := replacing.Kafka; k != nil {
			if t := k.TLS; t != nil {
				own[t.CA], own[t.Cert], own[t.Key] = true, true, true
			}
			if k.SASL != nil {
				own[k.SASL.PasswordFile] = true
			}
		}
		if sr := replacing.SchemaRegistry; sr != nil {
			own[sr.PasswordFile] = true
		}
	}
	for n := 1; ; n++ {
		base := filepath.Join(dir, safe)
		if n > 1 {
			base = fmt.Sprintf("%s-%d", base, n)
		}
		free := true
		for _, p := range importFiles(base) {
			// Case folded: on a case-insensitive file system (macOS's
			// default) "Prod" and "prod" would share one file.
			if planned[strings.ToLower(p)] {
				free = false
				break
			}
			if _, err := os.Lstat(p); err == nil && !own[p] {
				free = false
				break
			}
		}
		if free {
			for _, p := range importFiles(base) {
				planned[strings.ToLower(p)] = true
			}
			return base
		}
	}
}

// writeTemp writes data to a new 0600 file in dir and returns its name
// (also on an error after it was made, to be removed).
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".import-*")
	if err != nil {
		return "", err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return f.Name(), err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return f.Name(), err
	}
	return f.Name(), f.Close()
}

// SelectImport picks what to import: every cluster (all), the one named,
// or the source's current one.
func SelectImport(items []Imported, kind, path, name string, all bool) ([]Imported, error) {
	if kind == "kcat" || kind == "properties" || all {
		if len(items) == 0 {
			return nil, cmdutil.Usagef("%s: no cluster in it", path)
		}
		return items, nil
	}
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
		if name != "" && it.Name == name || name == "" && it.Current {
			return []Imported{it}, nil
		}
	}
	if len(names) == 0 {
		return nil, cmdutil.Usagef("%s: no cluster in it", path)
	}
	slices.Sort(names)
	for i := range names {
		names[i] = inspect.SafeString(names[i])
	}
	if name != "" {
		return nil, cmdutil.Usagef("%s has no cluster %q (it has %s)", path, inspect.SafeString(name), strings.Join(names, ", "))
	}
	return nil, cmdutil.Usagef("%s names no current cluster: pass --name NAME (one of %s) or --all", path, strings.Join(names, ", "))
}

// fileSafe is name as a file name: letters, digits, '.', '-' and '_'.
func fileSafe(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "context"
	}
	return s
}

// abs makes a file the source named relative to the working directory
// absolute: the eddy config is read from elsewhere.
func abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// WriteImported writes the contexts an import would make, as YAML with
// their secrets masked (--dry-run).
func WriteImported(w io.Writer, made map[string]*Context) error {
	masked := map[string]*Context{}
	for n, ctx := range made {
		masked[n] = ctx.Masked()
	}
	b, err := yaml.Marshal(map[string]any{"contexts": masked})
	if err != nil {
		return err
	}
	_, err = w.Write([]byte(inspect.SafeText(string(b))))
	return err
}
