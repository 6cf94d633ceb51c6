package config

import (
	"io"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/internal/iostreams"
)

// TestAWSIAMLogin: AWS_MSK_IAM's region and profile come from their flags,
// then the context's sasl.aws; the mechanism is implied by either, refused
// beside another mechanism or a user and password; the secrets the chain
// will give go to the redactor; eddy config set keeps the flags.
func TestAWSIAMLogin(t *testing.T) {
	ctx := &AWSIAMConfig{Region: "eu-west-1", Profile: "ctx-profile"}
	for _, tc := range []struct {
		name            string
		mech            string
		flags           Options
		ctx             *AWSIAMConfig
		region, profile string
		ok              bool
	}{
		{"nothing", "", Options{}, nil, "", "", false},
		{"another mechanism", "PLAIN", Options{}, ctx, "", "", false},
		{"named, the chain's defaults", "aws_msk_iam", Options{}, nil, "", "", true},
		{"the context", "", Options{}, ctx, "eu-west-1", "ctx-profile", true},
		{"flags over the context", "AWS_MSK_IAM", Options{AWS: AWSIAMConfig{Region: "us-east-2", Profile: "p"}}, ctx, "us-east-2", "p", true},
		{"a flag implies the mechanism", "", Options{AWS: AWSIAMConfig{Profile: "p"}}, nil, "", "p", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			red := &iostreams.Redactor{}
			r := &Resolver{Flags: &tc.flags, Getenv: env(nil), Context: &Context{}, Secrets: red}
			got, ok, err := r.awsIAMLogin(tc.mech, tc.ctx)
			if err != nil || ok != tc.ok || got.Region != tc.region || got.Profile != tc.profile {
				t.Fatalf("got %+v ok=%v err=%v, want region %q profile %q ok=%v", got, ok, err, tc.region, tc.profile, tc.ok)
			}
			if ok {
				got.OnSecret("a-secret-access-key")
				if red.Redact("a-secret-access-key") == "a-secret-access-key" {
					t.Error("OnSecret does not register with the redactor")
				}
			}
		})
	}
	for _, tc := range []struct {
		name  string
		mech  string
		flags Options
		want  string
	}{
		{"flags with PLAIN", "PLAIN", Options{AWS: AWSIAMConfig{Region: "us-east-1"}}, "--sasl-aws-* flags are for --sasl-mechanism AWS_MSK_IAM, not PLAIN"},
		{"a user", "AWS_MSK_IAM", Options{SASLUser: "u"}, "AWS_MSK_IAM takes no --sasl-user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Resolver{Flags: &tc.flags, Getenv: env(nil), Context: &Context{}, Secrets: &iostreams.Redactor{}}
			_, _, err := r.awsIAMLogin(tc.mech, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}

	t.Run("config set", func(t *testing.T) {
		c := &Config{Contexts: map[string]*Context{}}
		o := &Options{Brokers: []string{"b-1.x.kafka.us-east-1.amazonaws.com:9098"}, TLS: true, SASLMech: "AWS_MSK_IAM", AWS: AWSIAMConfig{Profile: "prod"}}
		if err := c.Set("msk", o, "", "", true); err != nil {
			t.Fatal(err)
		}
		s := c.Contexts["msk"].Kafka.SASL
		if s == nil || s.Mechanism != "AWS_MSK_IAM" || s.AWS == nil || s.AWS.Profile != "prod" {
			t.Fatalf("context sasl %+v", s)
		}
	})
}

// TestAWSIAMProperties: the client.properties AWS documents for MSK with
// IAM (sasl.mechanism=AWS_MSK_IAM, MSK's IAMLoginModule, its callback
// handler) is read by -F and config import: the mechanism, and the profile
// of awsProfileName; an option eddy has no setting for is a warning; a
// login module that contradicts the mechanism, or another callback handler,
// is refused.
func TestAWSIAMProperties(t *testing.T) {
	parse := func(t *testing.T, text string) (*Conn, []string, error) {
		t.Helper()
		props, err := ParseProperties(strings.NewReader(text), "client.properties")
		if err != nil {
			t.Fatal(err)
		}
		var warnings []string
		c, err := PropertiesToConn(props, true, func(s string) { warnings = append(warnings, s) })
		return c, warnings, err
	}
	const base = "bootstrap.servers=b-1.prod.a1b2c3.c2.kafka.us-east-1.amazonaws.com:9098\n" +
		"security.protocol=SASL_SSL\n" +
		"sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n"

	c, warnings, err := parse(t, base+"sasl.mechanism=AWS_MSK_IAM\nsasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n")
	if err != nil || c.Mechanism != "AWS_MSK_IAM" || c.AWSProfile != "" || !c.TLS || len(warnings) != 0 {
		t.Fatalf("the default chain: %+v %v %q", c, err, warnings)
	}
	c, warnings, err = parse(t, base+"sasl.mechanism=AWS_MSK_IAM\nsasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName=\"prod\" awsDebugCreds=true;\n")
	if err != nil || c.AWSProfile != "prod" || len(warnings) != 1 || !strings.Contains(warnings[0], "awsDebugCreds") {
		t.Fatalf("a profile: %+v %v %q", c, err, warnings)
	}
	o := &Options{}
	o.props = []string{"sasl.mechanism=AWS_MSK_IAM", `sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName="prod";`}
	if err := o.ApplyProperties(io.Discard, nil); err != nil || o.SASLMech != "AWS_MSK_IAM" || o.AWS.Profile != "prod" {
		t.Fatalf("-X: mechanism %q profile %q, %v", o.SASLMech, o.AWS.Profile, err)
	}
	if _, _, err := parse(t, base+"sasl.mechanism=PLAIN\nsasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n"); err == nil || !strings.Contains(err.Error(), "IAMLoginModule needs sasl.mechanism AWS_MSK_IAM, not PLAIN") {
		t.Errorf("IAMLoginModule with PLAIN: %v", err)
	}
	if _, _, err := parse(t, "sasl.client.callback.handler.class=com.example.Handler\n"); err == nil || !strings.Contains(err.Error(), `callback handler "com.example.Handler" is not supported`) {
		t.Errorf("another callback handler: %v", err)
	}
}
