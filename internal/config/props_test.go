package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	in := "# comment\n" +
		"! also a comment\n" +
		"\n" +
		"bootstrap.servers=a:9092,b:9092\n" +
		"  security.protocol : SASL_SSL\n" +
		"sasl.mechanism SCRAM-SHA-512\n" +
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n" +
		"    username=\"u\" \\\n" +
		"    password=\"p\\\\w\";\n" +
		"client.id=caf\\u00e9\\tid\n" +
		"key\\=with\\:seps=v\n" +
		"empty=\n"
	got, err := ParseProperties(strings.NewReader(in), "c.properties")
	if err != nil {
		t.Fatal(err)
	}
	want := []Property{
		{"bootstrap.servers", "a:9092,b:9092", "c.properties:4"},
		{"security.protocol", "SASL_SSL", "c.properties:5"},
		{"sasl.mechanism", "SCRAM-SHA-512", "c.properties:6"},
		{"sasl.jaas.config", `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p\w";`, "c.properties:7"},
		{"client.id", "café\tid", "c.properties:10"},
		{"key=with:seps", "v", "c.properties:11"},
		{"empty", "", "c.properties:12"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if _, err := ParseProperties(strings.NewReader("k=\\u12\n"), "x"); err == nil || !strings.Contains(err.Error(), "x:1") {
		t.Errorf("a short \\u escape: %v", err)
	}
}

func TestParseJAAS(t *testing.T) {
	for _, tc := range []struct {
		in      string
		module  string
		opts    map[string]string
		wantErr string
	}{
		{`org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="a;b c\"d";`,
			"org.apache.kafka.common.security.plain.PlainLoginModule", map[string]string{"username": "alice", "password": `a;b c"d`}, ""},
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username='bob' password=plain tokenauth=true`,
			"org.apache.kafka.common.security.scram.ScramLoginModule", map[string]string{"username": "bob", "password": "plain", "tokenauth": "true"}, ""},
		{`Mod mandatory username="x";`, "", nil, "control flag"},
		{`Mod required username="x"; Other required;`, "", nil, "only one login module"},
		{`Mod required password="secret`, "", nil, "unterminated quote"},
	} {
		j, err := parseJAAS(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: err %v, want %q (without the value)", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || j.module != tc.module || !reflect.DeepEqual(j.opts, tc.opts) {
			t.Errorf("%s: %+v, %v", tc.in, j, err)
		}
	}
}

func TestPropertiesToConn(t *testing.T) {
	props := []Property{
		{Key: "metadata.broker.list", Value: "a:1, b:2", Where: "-X"},
		{Key: "security.protocol", Value: "sasl_ssl", Where: "-X"},
		{Key: "sasl.username", Value: "u", Where: "-X"},
		{Key: "sasl.password", Value: "p", Where: "-X"},
		{Key: "enable.ssl.certificate.verification", Value: "false", Where: "-X"},
		{Key: "linger.ms", Value: "5", Where: "-X"},
	}
	var warnings []string
	c, err := PropertiesToConn(props, true, func(s string) { warnings = append(warnings, s) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Brokers, []string{"a:1", "b:2"}) || !c.TLS || c.Mechanism != "PLAIN" || c.User != "u" || c.Password != "p" || !c.Insecure {
		t.Errorf("%+v", c)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "linger.ms does not apply") {
		t.Errorf("warnings %q", warnings)
	}
	// PLAINTEXT drops the ssl settings, saying so.
	warnings = nil
	c, err = PropertiesToConn([]Property{{Key: "security.protocol", Value: "PLAINTEXT", Where: "f:1"}, {Key: "ssl.ca.location", Value: "/ca.pem", Where: "f:2"}},
		false, func(s string) { warnings = append(warnings, s) })
	if err != nil || c.TLS || c.CA != "" || len(warnings) != 1 || !strings.Contains(warnings[0], "ssl.* settings are ignored") {
		t.Errorf("PLAINTEXT with a CA: %+v %v %q", c, err, warnings)
	}
	// Not strict (import): an unknown key is a warning.
	warnings = nil
	if _, err := PropertiesToConn([]Property{{Key: "foo.bar", Value: "1", Where: "f:1"}}, false, func(s string) { warnings = append(warnings, s) }); err != nil ||
		len(warnings) != 1 || !strings.Contains(warnings[0], "foo.bar is not supported") {
		t.Errorf("lenient: %v %q", err, warnings)
	}
}
