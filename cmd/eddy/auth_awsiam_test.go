package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Fake AWS credentials for the AWS_MSK_IAM tests (AWS's documented example
// key id; the secret and token are made up and long enough to be redacted).
const (
	awsTestKeyID  = "ASIAIOSFODNN7EXAMPLE"
	awsTestSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	awsTestToken  = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQD+eddy/test/session/token=="
	awsFileSecret = "pr0file-s3cret/0f+the-credentials-file"
)

// awsTestEnv points the AWS SDK's default chain, which reads the process
// environment, at what a case gives and nowhere else: no ~/.aws files, no
// instance metadata (which is not on loopback), and returns eddy's env
// with the same values.
func awsTestEnv(t *testing.T, cfgDir string, kv ...string) map[string]string {
	t.Helper()
	none := filepath.Join(cfgDir, "no-such-aws-file")
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		vars[kv[i]] = kv[i+1]
	}
	env := map[string]string{"XDG_CONFIG_HOME": cfgDir, "HOME": cfgDir}
	for k, v := range vars {
		t.Setenv(k, v)
		env[k] = v
	}
	return env
}

// testKafkaAWSIAM: SASL AWS_MSK_IAM fails closed against a real Kafka that
// does not take it (a SASL_PLAINTEXT listener with PLAIN and SCRAM: no MSK
// is reachable from here; the payload itself is proved against AWS's Java
// library in bus/kafka's TestMSKIAMPayloadMatchesJava): every command ends
// at once with exit 4 and a sentence naming the mechanism, and neither the
// secret key nor the session token is ever shown, --debug included. An
// unknown profile, or a broker whose region nothing tells, is a usage error
// (no credentials: bus/kafka's TestMSKIAMDefaultChain, since a broker that
// does not take AWS_MSK_IAM refuses it before the credentials are needed). Run by TestKafkaAuthRealBroker, whose
// broker it shares.
func testKafkaAWSIAM(t *testing.T, saslAddr string, timeout string, limit time.Duration) {
	cfgDir := t.TempDir()
	login := []string{"--brokers", saslAddr, "--sasl-mechanism", "AWS_MSK_IAM", "--timeout", timeout}
	noSecret := func(t *testing.T, cmd []string, out string, secrets ...string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("eddy %s: the output shows an AWS secret:\n%s", strings.Join(cmd, " "), out)
			}
		}
	}

	t.Run("refused by a broker without AWS_MSK_IAM", func(t *testing.T) {
		env := awsTestEnv(t, cfgDir, "AWS_ACCESS_KEY_ID", awsTestKeyID, "AWS_SECRET_ACCESS_KEY", awsTestSecret, "AWS_SESSION_TOKEN", awsTestToken)
		ledger := filepath.Join(t.TempDir(), "l.db")
		for _, cmd := range [][]string{
			{"ls"},
			{"tail", "kafka:t", "--from", "beginning", "--until", "end", "-o", "raw"},
			{"tail", "kafka:t"}, // live
			{"lag", "kafka:"},
			{"replay", "kafka:t", "--to", "kafka:u", "--ledger", ledger},
		} {
			args := append(append(cmd, login...), "--sasl-aws-region", "us-east-1", "--debug")
			code, out, errOut := runEddyBounded(t, limit, env, args...)
			checkAuthFailure(t, cmd, code, out, errOut, "authentication failed", saslAddr, "AWS_MSK_IAM")
			noSecret(t, cmd, out+errOut, awsTestSecret, awsTestToken)
		}
	})

	t.Run("the secrets are registered with the redactor", func(t *testing.T) {
		env := awsTestEnv(t, cfgDir, "AWS_ACCESS_KEY_ID", awsTestKeyID, "AWS_SECRET_ACCESS_KEY", awsTestSecret, "AWS_SESSION_TOKEN", awsTestToken)
		code, out, errOut, red := runEddyRedactor(t, t.Context(), env, append([]string{"ls"}, append(login, "--sasl-aws-region", "us-east-1", "--debug")...)...)
		if code != ExitConnect {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		noSecret(t, []string{"ls"}, out+errOut, awsTestSecret, awsTestToken)
		if red.Redact("k="+awsTestSecret) != "k=****" || red.Redact(awsTestToken) != "****" {
			t.Error("the secret key or the session token is not registered with the redactor")
		}
	})

	t.Run("a profile of the shared files", func(t *testing.T) {
		dir := t.TempDir()
		creds := filepath.Join(dir, "credentials")
		if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIADEFAULTEXAMPLE\naws_secret_access_key = default-secret-never-used\n\n"+
			"[eddy-msk]\naws_access_key_id = AKIAPROFILEEXAMPLE\naws_secret_access_key = "+awsFileSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "config")
		if err := os.WriteFile(conf, []byte("[profile eddy-msk]\nregion = eu-west-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := awsTestEnv(t, cfgDir, "AWS_SHARED_CREDENTIALS_FILE", creds, "AWS_CONFIG_FILE", conf)
		// The profile gives the region too: no --sasl-aws-region.
		cmd := []string{"ls"}
		code, out, errOut := runEddyBounded(t, limit, env, append(cmd, append(login, "--sasl-aws-profile", "eddy-msk", "--debug")...)...)
		checkAuthFailure(t, cmd, code, out, errOut, "authentication failed", "AWS_MSK_IAM")
		noSecret(t, cmd, out+errOut, awsFileSecret)
		code, _, errOut = runEddyBounded(t, limit, env, append([]string{"ls"}, append(login, "--sasl-aws-profile", "no-such-profile")...)...)
		if code != ExitUsage || !strings.Contains(errOut, "no-such-profile") {
			t.Fatalf("unknown profile: exit %d, stderr %q; want %d naming the profile", code, errOut, ExitUsage)
		}
	})

	t.Run("no region", func(t *testing.T) {
		// A loopback broker's name says no region, and none is given:
		// said before connecting (a broker that does not take
		// AWS_MSK_IAM would refuse it before the login is signed).
		env := awsTestEnv(t, cfgDir, "AWS_ACCESS_KEY_ID", awsTestKeyID, "AWS_SECRET_ACCESS_KEY", awsTestSecret)
		code, out, errOut := runEddyBounded(t, limit, env, append([]string{"ls"}, login...)...)
		if code != ExitUsage || !strings.Contains(errOut, "which AWS region is broker 127.0.0.1 in?") || !strings.Contains(errOut, "--sasl-aws-region") {
			t.Fatalf("exit %d, stderr %q; want %d asking for --sasl-aws-region", code, errOut, ExitUsage)
		}
		noSecret(t, []string{"ls"}, out+errOut, awsTestSecret)
	})

	t.Run("flags of another mechanism", func(t *testing.T) {
		env := awsTestEnv(t, cfgDir)
		code, _, errOut := runEddyBounded(t, limit, env, "ls", "--brokers", saslAddr, "--sasl-mechanism", "PLAIN", "--sasl-aws-region", "us-east-1")
		if code != ExitUsage || !strings.Contains(errOut, "--sasl-aws-* flags are for --sasl-mechanism AWS_MSK_IAM") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestImportMSKProperties: the client.properties AWS documents for MSK with
// IAM becomes a context whose login is AWS_MSK_IAM with the JAAS config's
// profile.
func TestImportMSKProperties(t *testing.T) {
	env, cfgPath := importEnv(t)
	props := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(props, []byte("bootstrap.servers=b-1.prod.a1b2c3.c2.kafka.us-east-1.amazonaws.com:9098\n"+
		"security.protocol=SASL_SSL\n"+
		"sasl.mechanism=AWS_MSK_IAM\n"+
		"sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName=\"prod\";\n"+
		"sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runEddy(t, env, "config", "import", "properties", props, "--name", "msk")
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	k := loadConfig(t, cfgPath).Contexts["msk"].Kafka
	if k == nil || k.SASL == nil || k.SASL.Mechanism != "AWS_MSK_IAM" || k.SASL.AWS == nil || k.SASL.AWS.Profile != "prod" || k.TLS == nil || !k.TLS.Enabled {
		t.Fatalf("context: %+v (sasl %+v)", k, k.SASL)
	}
}
