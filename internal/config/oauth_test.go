package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/internal/iostreams"
)

// TestKafkaOAuth: the OAUTHBEARER login from the flags, then the
// environment, then the context; the flags' way of getting a token replaces
// the context's, whose client secret then stays home; every secret is
// registered with the redactor.
func TestKafkaOAuth(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"tok": "F1le-T0ken\n", "secret": "Ctx-S3cret\n", "flag-secret": "Fl4g-S3cret\n", "empty": "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctxEndpoint := &OAuthConfig{TokenEndpoint: "https://idp/token", ClientID: "ctx-client", ClientSecretFile: "secret", Scope: "a b",
		Extensions: map[string]string{"logicalCluster": "lkc-1"}}
	for _, tc := range []struct {
		name   string
		flags  Options
		env    map[string]string
		sasl   *SASLConfig
		want   kafka.OAuth
		secret string // registered with the redactor
	}{
		{name: "flag token file implies OAUTHBEARER", flags: Options{OAuth: OAuthOptions{TokenFile: filepath.Join(dir, "tok")}},
			want: kafka.OAuth{TokenFile: filepath.Join(dir, "tok")}, secret: "F1le-T0ken"},
		{name: "env token", flags: Options{SASLMech: "oauthbearer"}, env: map[string]string{"EDDY_SASL_OAUTH_TOKEN": "Env-T0ken"},
			sasl: &SASLConfig{OAuth: ctxEndpoint}, want: kafka.OAuth{Token: "Env-T0ken", Extensions: ctxEndpoint.Extensions}, secret: "Env-T0ken"},
		{name: "flag command", flags: Options{OAuth: OAuthOptions{TokenCommand: "vault read -field=token x", Extensions: []string{"a=1", "b=x=y"}}},
			want: kafka.OAuth{TokenCommand: "vault read -field=token x", Extensions: map[string]string{"a": "1", "b": "x=y"}}},
		{name: "flag endpoint: the context's secret stays home", sasl: &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: ctxEndpoint},
			flags: Options{OAuth: OAuthOptions{TokenEndpoint: "https://other/token", ClientID: "flag-client", ClientSecretFile: filepath.Join(dir, "flag-secret"), Scope: "kafka"}},
			want: kafka.OAuth{ClientCredentials: &kafka.ClientCredentials{TokenURL: "https://other/token", ClientID: "flag-client", ClientSecret: "Fl4g-S3cret", Scopes: []string{"kafka"}},
				Extensions: ctxEndpoint.Extensions}, secret: "Fl4g-S3cret"},
		{name: "context endpoint, secret file relative to the config", sasl: &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: ctxEndpoint},
			want: kafka.OAuth{ClientCredentials: &kafka.ClientCredentials{TokenURL: "https://idp/token", ClientID: "ctx-client", ClientSecret: "Ctx-S3cret", Scopes: []string{"a", "b"}},
				Extensions: ctxEndpoint.Extensions}, secret: "Ctx-S3cret"},
		{name: "context endpoint, secret from the environment", sasl: &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: ctxEndpoint},
			env: map[string]string{"EDDY_SASL_OAUTH_CLIENT_SECRET": "Env-S3cret"},
			want: kafka.OAuth{ClientCredentials: &kafka.ClientCredentials{TokenURL: "https://idp/token", ClientID: "ctx-client", ClientSecret: "Env-S3cret", Scopes: []string{"a", "b"}},
				Extensions: ctxEndpoint.Extensions}, secret: "Env-S3cret"},
		{name: "context token-env", sasl: &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: &OAuthConfig{TokenEnv: "MY_TOKEN"}},
			env: map[string]string{"MY_TOKEN": "My-T0ken"}, want: kafka.OAuth{Token: "My-T0ken"}, secret: "My-T0ken"},
		{name: "a context's sasl.oauth implies OAUTHBEARER", sasl: &SASLConfig{OAuth: &OAuthConfig{TokenCommand: "gcloud auth print-access-token"}},
			want: kafka.OAuth{TokenCommand: "gcloud auth print-access-token"}},
		{name: "context token file", sasl: &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: &OAuthConfig{TokenFile: "tok"}},
			want: kafka.OAuth{TokenFile: filepath.Join(dir, "tok")}, secret: "F1le-T0ken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			red := &iostreams.Redactor{}
			flags := tc.flags
			r := &Resolver{Flags: &flags, Getenv: env(tc.env), Context: &Context{}, Dir: dir, Secrets: red}
			c, err := r.kafkaAuth(&KafkaConfig{SASL: tc.sasl})
			if err != nil {
				t.Fatal(err)
			}
			if c.mech != "OAUTHBEARER" || c.oauth == nil {
				t.Fatalf("mechanism %q, oauth %+v", c.mech, c.oauth)
			}
			if c.oauth.OnToken == nil {
				t.Fatal("OnToken is not set: tokens fetched later would not be redacted")
			}
			c.oauth.OnToken("L4ter-T0ken")
			if red.Redact("L4ter-T0ken") != "****" {
				t.Error("OnToken does not register tokens with the redactor")
			}
			got := *c.oauth
			got.OnToken = nil
			if !oauthEqual(got, tc.want) {
				t.Fatalf("got %+v (%+v)\nwant %+v (%+v)", got, got.ClientCredentials, tc.want, tc.want.ClientCredentials)
			}
			if tc.secret != "" && red.Redact(tc.secret) != "****" {
				t.Errorf("%q is not registered with the redactor", tc.secret)
			}
		})
	}

	for _, tc := range []struct {
		name  string
		flags Options
		env   map[string]string
		sasl  *SASLConfig
		want  string
	}{
		{"two flag ways", Options{OAuth: OAuthOptions{TokenFile: "f", TokenCommand: "c"}}, nil, nil, "are ways of getting the token: give one"},
		{"oauth flags with PLAIN", Options{SASLMech: "PLAIN", OAuth: OAuthOptions{TokenCommand: "c"}}, nil, nil, "--sasl-oauth-* flags are for --sasl-mechanism OAUTHBEARER, not PLAIN"},
		{"nothing", Options{SASLMech: "OAUTHBEARER"}, nil, nil, "SASL OAUTHBEARER needs a token"},
		{"two context ways", Options{}, nil, &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: &OAuthConfig{Token: "Inl1ne-T0ken", TokenCommand: "c"}}, "give one way of getting the token, not token and token-command"},
		{"context env unset", Options{}, nil, &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: &OAuthConfig{TokenEnv: "NOPE"}}, "environment variable NOPE is not set"},
		{"missing file", Options{OAuth: OAuthOptions{TokenFile: "/nonexistent/tok"}}, nil, nil, "--sasl-oauth-token-file: open /nonexistent/tok"},
		{"empty file", Options{OAuth: OAuthOptions{TokenFile: "EMPTY"}}, nil, nil, "is empty"},
		{"no client id", Options{OAuth: OAuthOptions{TokenEndpoint: "https://idp/token"}}, map[string]string{"EDDY_SASL_OAUTH_CLIENT_SECRET": "Env-S3cret"}, nil, "no client id (--sasl-oauth-client-id)"},
		{"no secret", Options{OAuth: OAuthOptions{TokenEndpoint: "https://idp/token", ClientID: "c"}}, nil, &SASLConfig{OAuth: &OAuthConfig{ClientSecret: "Inl1ne-S3cret"}}, "no client secret"},
		{"client id without endpoint", Options{OAuth: OAuthOptions{TokenCommand: "c", ClientID: "x"}}, nil, nil, "go with --sasl-oauth-token-endpoint"},
		{"bad extension", Options{OAuth: OAuthOptions{TokenCommand: "c", Extensions: []string{"novalue"}}}, nil, nil, `--sasl-oauth-extension "novalue": want KEY=VALUE`},
	} {
		if tc.flags.OAuth.TokenFile == "EMPTY" {
			tc.flags.OAuth.TokenFile = filepath.Join(dir, "empty")
		}
		r := &Resolver{Flags: &tc.flags, Getenv: env(tc.env), Context: &Context{}, Dir: dir, Secrets: &iostreams.Redactor{}}
		_, err := r.kafkaAuth(&KafkaConfig{SASL: tc.sasl})
		var ue *cmdutil.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a usage error containing %q", tc.name, err, tc.want)
			continue
		}
		for _, s := range []string{"Inl1ne-T0ken", "Env-S3cret", "Inl1ne-S3cret"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error shows a secret: %v", tc.name, err)
			}
		}
	}
}

func oauthEqual(a, b kafka.OAuth) bool {
	if a.Token != b.Token || a.TokenFile != b.TokenFile || a.TokenCommand != b.TokenCommand || len(a.Extensions) != len(b.Extensions) {
		return false
	}
	for k, v := range a.Extensions {
		if b.Extensions[k] != v {
			return false
		}
	}
	if (a.ClientCredentials == nil) != (b.ClientCredentials == nil) {
		return false
	}
	if a.ClientCredentials == nil {
		return true
	}
	x, y := a.ClientCredentials, b.ClientCredentials
	return x.TokenURL == y.TokenURL && x.ClientID == y.ClientID && x.ClientSecret == y.ClientSecret && strings.Join(x.Scopes, " ") == strings.Join(y.Scopes, " ")
}

// TestOAuthMasked: config show masks an inline token and client secret.
func TestOAuthMasked(t *testing.T) {
	ctx := &Context{Kafka: &KafkaConfig{SASL: &SASLConfig{Mechanism: "OAUTHBEARER", OAuth: &OAuthConfig{Token: "Inl1ne-T0ken", ClientSecret: "Inl1ne-S3cret", ClientID: "c"}}}}
	m := ctx.Masked().Kafka.SASL.OAuth
	if m.Token != masked || m.ClientSecret != masked || m.ClientID != "c" {
		t.Fatalf("masked: %+v", m)
	}
	if ctx.Kafka.SASL.OAuth.Token != "Inl1ne-T0ken" {
		t.Fatal("Masked changed the context itself")
	}
}

// TestOAuthConfigSet: config set keeps the --sasl-oauth-* flags in the
// context (files made absolute, secrets only by file), and the context then
// logs in as the flags did.
func TestOAuthConfigSet(t *testing.T) {
	c := &Config{Contexts: map[string]*Context{}}
	o := &Options{Brokers: []string{"k:9094"}, OAuth: OAuthOptions{TokenEndpoint: "https://idp/token", ClientID: "eddy",
		ClientSecretFile: "secret", Scope: "kafka", Extensions: []string{"logicalCluster=lkc-1"}}}
	if err := c.Set("idp", o, "", "", false); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	got := c.Contexts["idp"].Kafka.SASL
	if got.Mechanism != "" || got.OAuth == nil || got.OAuth.TokenEndpoint != "https://idp/token" || got.OAuth.ClientID != "eddy" ||
		got.OAuth.ClientSecretFile != filepath.Join(wd, "secret") || got.OAuth.Scope != "kafka" || got.OAuth.Extensions["logicalCluster"] != "lkc-1" {
		t.Fatalf("config set stored %+v %+v", got, got.OAuth)
	}
}
