package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/internal/iostreams"
	"github.com/eddy-sh/eddy/schema"
)

// TestSchemaRegistryPrecedence: the registry is --schema-registry, then
// EDDY_SCHEMA_REGISTRY, then the context's; the context's credentials go to
// the context's URL only, never to a registry a flag or the environment
// names.
func TestSchemaRegistryPrecedence(t *testing.T) {
	ctx := &Context{SchemaRegistry: &SchemaRegistryConfig{URL: "http://ctx:8081", Username: "eddy", PasswordEnv: "REG_PW"}}
	e := map[string]string{"EDDY_SCHEMA_REGISTRY": "http://env:8081", "REG_PW": "s3cret-pw"}
	noEnv := map[string]string{"REG_PW": "s3cret-pw"}
	for _, tc := range []struct {
		name, flag string
		env        map[string]string
		ctx        *Context
		url, user  string
		pass       string
	}{
		{"flag", "http://flag:8081", e, ctx, "http://flag:8081", "", ""},
		{"env", "", e, ctx, "http://env:8081", "", ""},
		{"context", "", noEnv, ctx, "http://ctx:8081", "eddy", "s3cret-pw"},
		{"none", "", noEnv, &Context{}, "", "", ""},
	} {
		red := &iostreams.Redactor{}
		r := &Resolver{Flags: &Options{Timeout: 3 * time.Second}, Getenv: env(tc.env), Context: tc.ctx, Secrets: red}
		cfg, ok, err := r.Schema(&SchemaOptions{Registry: tc.flag})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.url == "" {
			if ok || cfg.Registry != nil {
				t.Errorf("%s: nothing configured, got ok=%v %+v", tc.name, ok, cfg.Registry)
			}
			continue
		}
		if !ok || cfg.Registry == nil || cfg.Registry.URL != tc.url || cfg.Registry.Username != tc.user || cfg.Registry.Password != tc.pass {
			t.Errorf("%s: got ok=%v %+v, want %s user %q pass %q", tc.name, ok, cfg.Registry, tc.url, tc.user, tc.pass)
		}
		if cfg.Timeout != 3*time.Second {
			t.Errorf("%s: timeout %v, want --timeout's 3s", tc.name, cfg.Timeout)
		}
		if tc.pass != "" && red.Redact("x s3cret-pw x") != "x **** x" {
			t.Errorf("%s: the password is not registered with the redactor", tc.name)
		}
	}
}

// TestSchemaRegistrySecrets: a password or token from a file, an
// environment variable or inline; a URL's password is registered with the
// redactor; bad values are usage errors that never show a secret.
func TestSchemaRegistrySecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("tok-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	red := &iostreams.Redactor{}
	r := &Resolver{Flags: &Options{}, Getenv: env(nil), Dir: dir, Secrets: red,
		Context: &Context{SchemaRegistry: &SchemaRegistryConfig{URL: "https://reg", TokenFile: "token"}}}
	rc, err := r.SchemaRegistry("")
	if err != nil || rc.Token != "tok-from-file" || rc.Username != "" {
		t.Fatalf("token file (relative to the config's directory): %+v, %v", rc, err)
	}
	if red.Redact("tok-from-file") != "****" {
		t.Error("the token is not registered with the redactor")
	}

	r.Getenv = env(map[string]string{"EDDY_SCHEMA_REGISTRY": "http://u:url-pass@reg:8081"})
	if rc, err := r.SchemaRegistry(""); err != nil || rc.Token != "" || rc.URL != "http://u:url-pass@reg:8081" {
		t.Fatalf("env URL with userinfo: %+v %v (the context's token must not go to it)", rc, err)
	}
	if red.Redact("url-pass") != "****" {
		t.Error("the URL's password is not registered with the redactor")
	}

	for _, tc := range []struct {
		name string
		sc   *SchemaRegistryConfig
		flag string
		want string
	}{
		{"both", &SchemaRegistryConfig{URL: "http://reg", Username: "u", Password: "inline-pw", Token: "t0k"}, "", "give basic auth or a bearer token, not both"},
		{"no user", &SchemaRegistryConfig{URL: "http://reg", Password: "inline-pw"}, "", "a password without a username"},
		{"env unset", &SchemaRegistryConfig{URL: "http://reg", Username: "u", PasswordEnv: "NOPE"}, "", "environment variable NOPE is not set"},
		{"file missing", &SchemaRegistryConfig{URL: "http://reg", Username: "u", PasswordFile: "/nonexistent/pw"}, "", "schema-registry password file:"},
		{"scheme", &SchemaRegistryConfig{}, "ftp://u:flag-pw@reg", `--schema-registry: "ftp://u:xxxxx@reg" is not a registry URL`},
		{"no host", &SchemaRegistryConfig{}, "http://", `--schema-registry: "http://" is not a registry URL`},
		{"context url", &SchemaRegistryConfig{URL: "reg:8081"}, "", `the context's schema-registry.url: "reg:8081" is not a registry URL`},
	} {
		r := &Resolver{Flags: &Options{}, Getenv: env(nil), Context: &Context{SchemaRegistry: tc.sc}, Secrets: &iostreams.Redactor{}}
		_, err := r.SchemaRegistry(tc.flag)
		var ue *cmdutil.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a usage error containing %q", tc.name, err, tc.want)
			continue
		}
		for _, secret := range []string{"inline-pw", "t0k", "flag-pw"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error shows a secret: %v", tc.name, err)
			}
		}
	}
}

// TestLocalSchemas: the context's mappings (files relative to the config
// file) with the flags' over them, topic by topic and part by part; --no-decode
// turns everything off; bad values are usage errors naming where they were.
func TestLocalSchemas(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"order.avsc", "key.avsc", "shop.proto", "other.avsc"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := &Context{Schemas: []SchemaMapping{
		{Topic: "orders", Value: &LocalSchemaConfig{File: "order.avsc"}, Key: &LocalSchemaConfig{File: "key.avsc", Format: "avro"}},
		{Topic: "payments", Value: &LocalSchemaConfig{File: "shop.proto", Message: "shop.Payment"}},
	}}
	r := &Resolver{Flags: &Options{}, Getenv: env(nil), Context: ctx, Dir: dir, Secrets: &iostreams.Redactor{}}
	other := filepath.Join(dir, "other.avsc")
	cfg, ok, err := r.Schema(&SchemaOptions{ValueSchemas: []string{"orders=" + other, "kafka:refunds=" + filepath.Join(dir, "shop.proto") + "#shop.Refund"}, Validate: true})
	if err != nil || !ok || !cfg.Validate || cfg.Registry != nil {
		t.Fatalf("ok=%v validate=%v registry=%v err=%v", ok, cfg.Validate, cfg.Registry, err)
	}
	want := map[string][2]schema.LocalSchema{
		"orders":   {{Path: filepath.Join(dir, "key.avsc"), Format: "avro"}, {Path: other}},
		"payments": {{}, {Path: filepath.Join(dir, "shop.proto"), Message: "shop.Payment"}},
		"refunds":  {{}, {Path: filepath.Join(dir, "shop.proto"), Message: "shop.Refund"}},
	}
	if len(cfg.Local) != len(want) {
		t.Fatalf("mappings: %+v", cfg.Local)
	}
	for _, m := range cfg.Local {
		w, found := want[m.Topic]
		if !found {
			t.Errorf("unexpected mapping %q", m.Topic)
			continue
		}
		for i, got := range []*schema.LocalSchema{m.Key, m.Value} {
			switch {
			case got == nil && w[i] != (schema.LocalSchema{}):
				t.Errorf("%s part %d: none, want %+v", m.Topic, i, w[i])
			case got != nil && *got != w[i]:
				t.Errorf("%s part %d: %+v, want %+v", m.Topic, i, *got, w[i])
			}
		}
	}
	if _, ok, err := r.Schema(&SchemaOptions{NoDecode: true, ValueSchemas: []string{"nope"}}); ok || err != nil {
		t.Errorf("--no-decode: ok=%v err=%v, want nothing and no error", ok, err)
	}

	for _, tc := range []struct {
		o    SchemaOptions
		ctx  *Context
		want string
	}{
		{SchemaOptions{ValueSchemas: []string{"orders"}}, &Context{}, `--value-schema "orders": want TOPIC=FILE[#MESSAGE]`},
		{SchemaOptions{Validate: true}, &Context{}, "--validate checks payloads against their JSON Schema: name a registry"},
		{SchemaOptions{KeySchemas: []string{"=x.avsc"}}, &Context{}, `--key-schema "=x.avsc": want TOPIC=FILE[#MESSAGE]`},
		{SchemaOptions{ValueSchemas: []string{"orders=" + other + "#"}}, &Context{}, "nothing after #"},
		{SchemaOptions{ValueSchemas: []string{"orders=/nonexistent/o.avsc"}}, &Context{}, "/nonexistent/o.avsc: no such file or directory"},
		{SchemaOptions{}, &Context{Schemas: []SchemaMapping{{Value: &LocalSchemaConfig{File: "order.avsc"}}}}, "the context's schemas[0]: no topic"},
		{SchemaOptions{}, &Context{Schemas: []SchemaMapping{{Topic: "t"}}}, "neither key nor value"},
		{SchemaOptions{}, &Context{Schemas: []SchemaMapping{{Topic: "t", Value: &LocalSchemaConfig{File: "order.avsc", Format: "thrift"}}}}, `schemas[0].value: format "thrift": want avro, protobuf or json`},
	} {
		r := &Resolver{Flags: &Options{}, Getenv: env(nil), Context: tc.ctx, Dir: dir, Secrets: &iostreams.Redactor{}}
		_, _, err := r.Schema(&tc.o)
		var ue *cmdutil.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: err = %v, want one usage line containing %q", tc.o, err, tc.want)
		}
	}
}

// TestLoadSchemaContext: the config file's schema-registry and schemas
// load, and config show masks the registry's inline secrets.
func TestLoadSchemaContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	yml := `contexts:
  prod:
    schema-registry:
      url: https://u:url-secret@reg.example:8081
      username: eddy
      password: inline-secret
      tls: {ca: ca.pem}
    schemas:
      - topic: orders
        value: {file: order.proto, message: shop.Order, format: protobuf}
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := c.Contexts["prod"]
	if ctx.SchemaRegistry == nil || ctx.SchemaRegistry.Password != "inline-secret" || ctx.SchemaRegistry.TLS.CA != "ca.pem" ||
		len(ctx.Schemas) != 1 || ctx.Schemas[0].Value.Message != "shop.Order" {
		t.Fatalf("loaded %+v", ctx)
	}
	var out strings.Builder
	if err := WriteContext(&out, "prod", ctx); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "inline-secret") || strings.Contains(s, "url-secret") || !strings.Contains(s, "schema-registry:") || !strings.Contains(s, "message: shop.Order") {
		t.Errorf("config show:\n%s", s)
	}
}
