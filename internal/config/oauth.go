package config

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// OAuthConfig is a context's SASL OAUTHBEARER login (sasl.mechanism
// OAUTHBEARER): one way of getting the token — the token itself (better by
// the name of an environment variable or a file), a command that prints
// it, or an OIDC token endpoint with the client-credentials grant — and
// the SASL extensions sent with it. Secrets are given as the SASL password
// is: by an environment variable's name or a file (inline values are
// masked by config show).
type OAuthConfig struct {
	Token        string `yaml:"token,omitempty"`
	TokenEnv     string `yaml:"token-env,omitempty"`
	TokenFile    string `yaml:"token-file,omitempty"`
	TokenCommand string `yaml:"token-command,omitempty"`
	// TokenEndpoint is the OIDC/OAuth 2 token endpoint's URL; ClientID
	// and the client secret log in to it.
	TokenEndpoint    string `yaml:"token-endpoint,omitempty"`
	ClientID         string `yaml:"client-id,omitempty"`
	ClientSecret     string `yaml:"client-secret,omitempty"`
	ClientSecretEnv  string `yaml:"client-secret-env,omitempty"`
	ClientSecretFile string `yaml:"client-secret-file,omitempty"`
	// Scope is the space-separated scopes to ask the endpoint for.
	Scope      string            `yaml:"scope,omitempty"`
	Extensions map[string]string `yaml:"extensions,omitempty"`
}

// OAuthOptions are the --sasl-oauth-* flags.
type OAuthOptions struct {
	TokenFile        string
	TokenCommand     string
	TokenEndpoint    string
	ClientID         string
	ClientSecretFile string
	Scope            string
	Extensions       []string
}

// set reports whether any --sasl-oauth-* flag is given.
func (o *OAuthOptions) set() bool {
	return o.TokenFile != "" || o.TokenCommand != "" || o.TokenEndpoint != "" || o.ClientID != "" ||
		o.ClientSecretFile != "" || o.Scope != "" || len(o.Extensions) > 0
}

// bindOAuth declares the --sasl-oauth-* flags.
func (g *Options) bindOAuth(fs *pflag.FlagSet) {
	o := &g.OAuth
	fs.StringVar(&o.TokenFile, "sasl-oauth-token-file", "", "file holding the OAUTHBEARER token, read again when it nears expiry (or env EDDY_SASL_OAUTH_TOKEN; a token is a secret: never a flag value, which ps would show)")
	fs.StringVar(&o.TokenCommand, "sasl-oauth-token-command", "", "shell command whose standard output is the OAUTHBEARER token, run again when the token nears expiry")
	fs.StringVar(&o.TokenEndpoint, "sasl-oauth-token-endpoint", "", "OIDC token endpoint URL: get OAUTHBEARER tokens with the client-credentials grant, refreshed before they expire")
	fs.StringVar(&o.ClientID, "sasl-oauth-client-id", "", "OAuth client id for --sasl-oauth-token-endpoint")
	fs.StringVar(&o.ClientSecretFile, "sasl-oauth-client-secret-file", "", "file holding the OAuth client secret (or env EDDY_SASL_OAUTH_CLIENT_SECRET; a secret: never a flag value)")
	fs.StringVar(&o.Scope, "sasl-oauth-scope", "", "scopes to ask the token endpoint for, separated by spaces")
	fs.StringArrayVar(&o.Extensions, "sasl-oauth-extension", nil, "SASL OAUTHBEARER extension KEY=VALUE sent with the token (repeatable; e.g. logicalCluster=lkc-abc12)")
}

// kafkaOAuth resolves the OAUTHBEARER login when the mechanism (*mech,
// upper-cased here) is OAUTHBEARER, or when a --sasl-oauth-* flag names
// none (they imply it); nil when the login is not OAUTHBEARER. The flags'
// way of getting a token replaces the context's, and then the context's
// client secret is not used: a secret goes only to the endpoint it was
// given for. Every secret, and every token fetched later, is registered
// with the redactor before it is used.
func (r *Resolver) kafkaOAuth(mech *string, ctxOAuth *OAuthConfig) (*kafka.OAuth, error) {
	f := &r.Flags.OAuth
	*mech = strings.ToUpper(strings.TrimSpace(*mech))
	switch {
	case *mech == "" && (f.set() || ctxOAuth != nil):
		*mech = "OAUTHBEARER"
	case *mech != "OAUTHBEARER" && f.set():
		return nil, cmdutil.Usagef("--sasl-oauth-* flags are for --sasl-mechanism OAUTHBEARER, not %s", *mech)
	case *mech != "OAUTHBEARER":
		return nil, nil
	}
	o := &kafka.OAuth{OnToken: r.Secrets.Add}
	flagWays := 0
	for _, s := range []string{f.TokenFile, f.TokenCommand, f.TokenEndpoint} {
		if s != "" {
			flagWays++
		}
	}
	if flagWays > 1 {
		return nil, cmdutil.Usagef("--sasl-oauth-token-file, --sasl-oauth-token-command and --sasl-oauth-token-endpoint are ways of getting the token: give one")
	}
	var err error
	switch {
	case f.TokenFile != "":
		o.TokenFile, err = r.tokenFile("--sasl-oauth-token-file", f.TokenFile)
	case f.TokenCommand != "":
		o.TokenCommand = f.TokenCommand
	case f.TokenEndpoint != "":
		o.ClientCredentials, err = r.clientCredentials("--sasl-oauth-token-endpoint", f.TokenEndpoint, f.ClientID, f.Scope, nil)
	case r.Getenv("EDDY_SASL_OAUTH_TOKEN") != "":
		o.Token = r.Getenv("EDDY_SASL_OAUTH_TOKEN")
	case ctxOAuth != nil:
		err = r.contextOAuth(o, ctxOAuth)
	default:
		return nil, cmdutil.Usagef("SASL OAUTHBEARER needs a token: --sasl-oauth-token-file, env EDDY_SASL_OAUTH_TOKEN, --sasl-oauth-token-command, --sasl-oauth-token-endpoint, or the context's sasl.oauth")
	}
	if err != nil {
		return nil, err
	}
	if o.ClientCredentials == nil && (f.ClientID != "" || f.ClientSecretFile != "" || f.Scope != "") && f.TokenEndpoint == "" {
		return nil, cmdutil.Usagef("--sasl-oauth-client-id, --sasl-oauth-client-secret-file and --sasl-oauth-scope go with --sasl-oauth-token-endpoint")
	}
	r.Secrets.Add(o.Token)
	if len(f.Extensions) > 0 {
		o.Extensions = map[string]string{}
		for _, kv := range f.Extensions {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, cmdutil.Usagef("--sasl-oauth-extension %s: want KEY=VALUE", strconv.QuoteToASCII(k))
			}
			o.Extensions[k] = v
		}
	} else if ctxOAuth != nil && len(ctxOAuth.Extensions) > 0 {
		o.Extensions = ctxOAuth.Extensions
	}
	return o, nil
}

// contextOAuth is the context's way of getting a token.
func (r *Resolver) contextOAuth(o *kafka.OAuth, c *OAuthConfig) error {
	var ways []string
	for _, w := range []struct {
		name string
		set  bool
	}{
		{"token", c.Token != "" || c.TokenEnv != ""}, {"token-file", c.TokenFile != ""},
		{"token-command", c.TokenCommand != ""}, {"token-endpoint", c.TokenEndpoint != ""},
	} {
		if w.set {
			ways = append(ways, w.name)
		}
	}
	sort.Strings(ways)
	switch {
	case len(ways) == 0:
		return cmdutil.Usagef("the context's sasl.oauth: no token, token-env, token-file, token-command or token-endpoint")
	case len(ways) > 1:
		return cmdutil.Usagef("the context's sasl.oauth: give one way of getting the token, not %s", strings.Join(ways, " and "))
	}
	var err error
	switch {
	case c.TokenFile != "":
		o.TokenFile, err = r.tokenFile("the context's sasl.oauth.token-file", r.path(c.TokenFile))
	case c.TokenCommand != "":
		o.TokenCommand = c.TokenCommand
	case c.TokenEndpoint != "":
		o.ClientCredentials, err = r.clientCredentials("the context's sasl.oauth.token-endpoint", c.TokenEndpoint, c.ClientID, c.Scope, c)
	default:
		o.Token, err = r.secret("the context's sasl.oauth token", c.Token, c.TokenEnv, "")
	}
	return err
}

// tokenFile checks that the file can be read now, for a usage error
// (exit 2) naming it; it is read again at each login that needs a token.
func (r *Resolver) tokenFile(where, file string) (string, error) {
	tok, err := readSecretFile(where, file)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return "", cmdutil.Usagef("%s: %s is empty", where, file)
	}
	r.Secrets.Add(tok)
	return file, nil
}

// readSecretFile reads a secret from a file named as it was given (a
// flag's: relative to the working directory).
func readSecretFile(where, file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", cmdutil.Usagef("%s: %v", where, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// clientCredentials resolves the client-credentials grant: the client
// secret from --sasl-oauth-client-secret-file, else
// EDDY_SASL_OAUTH_CLIENT_SECRET, else (for the context's own endpoint) the
// context's.
func (r *Resolver) clientCredentials(where, endpoint, clientID, scope string, c *OAuthConfig) (*kafka.ClientCredentials, error) {
	f := &r.Flags.OAuth
	if f.ClientID != "" {
		clientID = f.ClientID
	}
	if f.Scope != "" {
		scope = f.Scope
	}
	if clientID == "" {
		return nil, cmdutil.Usagef("%s: no client id (--sasl-oauth-client-id)", where)
	}
	var secret string
	var err error
	switch {
	case f.ClientSecretFile != "":
		secret, err = readSecretFile("--sasl-oauth-client-secret-file", f.ClientSecretFile)
	case r.Getenv("EDDY_SASL_OAUTH_CLIENT_SECRET") != "":
		secret = r.Getenv("EDDY_SASL_OAUTH_CLIENT_SECRET")
	case c != nil:
		secret, err = r.secret("the context's sasl.oauth client secret", c.ClientSecret, c.ClientSecretEnv, c.ClientSecretFile)
	}
	if err != nil {
		return nil, err
	}
	r.Secrets.Add(secret)
	if secret == "" {
		return nil, cmdutil.Usagef("%s: no client secret (--sasl-oauth-client-secret-file FILE or env EDDY_SASL_OAUTH_CLIENT_SECRET)", where)
	}
	return &kafka.ClientCredentials{TokenURL: endpoint, ClientID: clientID, ClientSecret: secret, Scopes: strings.Fields(scope)}, nil
}

// config is the flags as a context's sasl.oauth, for config set (nil when
// none is given): files made absolute, since the context's relative paths
// are relative to the config file.
func (o *OAuthOptions) config() *OAuthConfig {
	if !o.set() {
		return nil
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil && p != "" {
			return a
		}
		return p
	}
	c := &OAuthConfig{TokenFile: abs(o.TokenFile), TokenCommand: o.TokenCommand, TokenEndpoint: o.TokenEndpoint,
		ClientID: o.ClientID, ClientSecretFile: abs(o.ClientSecretFile), Scope: o.Scope}
	for _, kv := range o.Extensions {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			if c.Extensions == nil {
				c.Extensions = map[string]string{}
			}
			c.Extensions[k] = v
		}
	}
	return c
}

// masked is o with its inline secrets replaced, for config show.
func (o *OAuthConfig) masked() *OAuthConfig {
	if o == nil {
		return nil
	}
	m := *o
	if m.Token != "" {
		m.Token = masked
	}
	if m.ClientSecret != "" {
		m.ClientSecret = masked
	}
	return &m
}
