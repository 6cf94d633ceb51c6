package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// mskClasspath is the class path of AWS's Java MSK IAM library and the
// program that prints its payload (scripts/interop/msk-iam.sh). Without it
// the interop test skips, except in CI (EDDY_REQUIRE_BROKERS=1 or CI=true),
// where it fails.
func mskClasspath(t *testing.T) string {
	cp := os.Getenv("EDDY_TEST_MSK_IAM_CLASSPATH")
	if cp == "" {
		msg := "EDDY_TEST_MSK_IAM_CLASSPATH is not set: scripts/interop/msk-iam.sh fetches AWS's aws-msk-iam-auth and prints it"
		if os.Getenv("EDDY_REQUIRE_BROKERS") == "1" || os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("EDDY_TEST_MSK_IAM_CLASSPATH is set but there is no java: %v", err)
	}
	return cp
}

// javaMSKPayload is the payload AWS's Java library makes for the same
// inputs, signed at now.
func javaMSKPayload(t *testing.T, cp string, creds aws.Credentials, host, userAgent string, now time.Time) []byte {
	t.Helper()
	cmd := exec.Command("java", "-cp", cp, "MskIamPayload", host, userAgent, strconv.FormatInt(now.Unix(), 10))
	cmd.Env = append(os.Environ(), "MSK_TEST_ACCESS_KEY_ID="+creds.AccessKeyID,
		"MSK_TEST_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "MSK_TEST_SESSION_TOKEN="+creds.SessionToken)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java MskIamPayload: %v\n%s", err, stderr.String())
	}
	return out
}

// TestMSKIAMPayloadMatchesJava: for fixed credentials (with and without a
// session token), host and clock, eddy's SASL AWS_MSK_IAM client-first
// message is, field by field, the one AWS's own Java client
// (software.amazon.msk:aws-msk-iam-auth 2.4.0) sends — the signature
// included, so the canonical request, the string to sign and the key
// derivation agree with the library MSK is built against.
func TestMSKIAMPayloadMatchesJava(t *testing.T) {
	cp := mskClasspath(t)
	// AWS's documented example keys; the token has the characters
	// (+ / =) that query encoding must get right.
	withToken := aws.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken: "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQD+example/token+with/slashes=="}
	longTerm := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	at := time.Date(2026, 12, 5, 4, 30, 15, 0, time.UTC)
	for _, tc := range []struct {
		name, host, region string
		creds              aws.Credentials
	}{
		{"provisioned broker, session token", "b-1.eddy-test.a1b2c3.c2.kafka.us-east-1.amazonaws.com", "us-east-1", withToken},
		{"provisioned broker, long-term keys", "b-2.eddy-test.a1b2c3.c2.kafka.eu-central-1.amazonaws.com", "eu-central-1", longTerm},
		{"serverless cluster", "boot-abcd1234.c1.kafka-serverless.ap-southeast-2.amazonaws.com", "ap-southeast-2", withToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := regionOfHost(tc.host); got != tc.region {
				t.Fatalf("region of %s: %q, want %q", tc.host, got, tc.region)
			}
			const ua = "eddy/interop-test"
			ours, err := mskIAMPayload(context.Background(), tc.creds, tc.host, tc.region, ua, at)
			if err != nil {
				t.Fatal(err)
			}
			java := javaMSKPayload(t, cp, tc.creds, tc.host, ua, at)
			var o, j map[string]string
			if err := json.Unmarshal(ours, &o); err != nil {
				t.Fatalf("eddy's payload is not a JSON object of strings: %v\n%s", err, ours)
			}
			if err := json.Unmarshal(java, &j); err != nil {
				t.Fatalf("the Java payload is not a JSON object of strings: %v\n%s", err, java)
			}
			for k, jv := range j {
				if o[k] != jv {
					t.Errorf("%s: eddy %q, Java %q", k, o[k], jv)
				}
			}
			for k, ov := range o {
				if _, ok := j[k]; !ok {
					t.Errorf("eddy sends %s=%q, which the Java library does not", k, ov)
				}
			}
			if j["x-amz-signature"] == "" || j["x-amz-date"] != "20261205T043015Z" || j["x-amz-expires"] != "900" {
				t.Errorf("the Java payload is not signed at the fixed time: %s", java)
			}
			if tc.creds.SessionToken != "" && j["x-amz-security-token"] != tc.creds.SessionToken {
				t.Errorf("the Java payload lacks the session token: %s", java)
			}
			if bytes.Contains(ours, []byte(tc.creds.SecretAccessKey)) {
				t.Error("the payload holds the secret key")
			}
		})
	}
}

// TestRegionOfHost: the region is the label before AWS's DNS suffix, and
// only there (a cluster named after another region does not fool it).
func TestRegionOfHost(t *testing.T) {
	for host, want := range map[string]string{
		"b-1.us-west-1-cluster.x1y2z3.c4.kafka.us-west-2.amazonaws.com": "us-west-2",
		"b-3.c.x.c2.kafka.cn-north-1.amazonaws.com.cn":                  "cn-north-1",
		"B-1.C.X.C2.KAFKA.EU-WEST-3.AMAZONAWS.COM.":                     "eu-west-3",
		"b-1.c.x.c2.kafka.us-gov-west-1.amazonaws.com":                  "us-gov-west-1",
		"127.0.0.1":                            "",
		"kafka.example.com":                    "",
		"amazonaws.com":                        "",
		"b-1.c.kafka.notaregion.amazonaws.com": "",
	} {
		if got := regionOfHost(host); got != want {
			t.Errorf("regionOfHost(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestMSKIAMNoRegionNoCredentials: a broker whose name has no region, with
// none given, and a chain without credentials, are refused before anything
// is sent, in a sentence that says what to give — never a secret.
func TestMSKIAMNoRegionNoCredentials(t *testing.T) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "s3cr3t-key-never-shown"}, nil
	})
	m := &mskIAM{a: &AWSMSKIAM{Credentials: creds, UserAgent: "eddy", now: time.Now}, timeout: time.Second}
	_, _, err := m.Authenticate(context.Background(), "127.0.0.1:9098")
	if err == nil || !strings.Contains(err.Error(), "--sasl-aws-region") {
		t.Fatalf("no region: %v", err)
	}
	var secrets []string
	m.a.Region = "us-east-1"
	m.a.OnSecret = func(s string) { secrets = append(secrets, s) }
	if _, first, err := m.Authenticate(context.Background(), "127.0.0.1:9098"); err != nil || !bytes.Contains(first, []byte(`"x-amz-credential":"AKIAIOSFODNN7EXAMPLE/`)) {
		t.Fatalf("with a region: %v %s", err, first)
	}
	if len(secrets) != 1 || secrets[0] != "s3cr3t-key-never-shown" {
		t.Errorf("OnSecret was told %q, want the secret key", secrets)
	}
}

// isolateAWS points the AWS SDK's default chain at the given variables and
// nowhere else: no ~/.aws files, no instance metadata (not on loopback).
func isolateAWS(t *testing.T, kv ...string) {
	none := t.TempDir() + "/none"
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		vars[kv[i]] = kv[i+1]
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// TestMSKIAMDefaultChain: with no credentials given, the AWS SDK's default
// chain supplies them at each login — from a profile of the shared files
// here — and says where it looked when it finds none; a seed broker whose
// region nothing tells makes New fail before any connection.
func TestMSKIAMDefaultChain(t *testing.T) {
	const seed = "b-1.eddy.a1b2c3.c2.kafka.us-east-1.amazonaws.com:9098"
	login := func(t *testing.T, a AWSMSKIAM, seeds ...string) ([]byte, error) {
		t.Helper()
		c, err := New(seeds, WithAWSMSKIAM(a))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		_, first, err := c.mechanism().Authenticate(context.Background(), seeds[0])
		return first, err
	}

	t.Run("no credentials", func(t *testing.T) {
		isolateAWS(t)
		_, err := login(t, AWSMSKIAM{}, seed)
		if _, ok := errors.AsType[*awsIAMError](err); !ok || !strings.Contains(err.Error(), "no AWS credentials") {
			t.Fatalf("got %v, want an awsIAMError saying there are no credentials", err)
		}
		t.Log(err)
	})

	t.Run("a profile", func(t *testing.T) {
		dir := t.TempDir()
		const secret = "pr0file-s3cret/0f+the-credentials-file"
		if err := os.WriteFile(dir+"/credentials", []byte("[eddy-msk]\naws_access_key_id = AKIAPROFILEEXAMPLE\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/config", []byte("[profile eddy-msk]\nregion = eu-west-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		isolateAWS(t, "AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials", "AWS_CONFIG_FILE", dir+"/config")
		var told []string
		first, err := login(t, AWSMSKIAM{Profile: "eddy-msk", OnSecret: func(s string) { told = append(told, s) }}, seed)
		if err != nil {
			t.Fatal(err)
		}
		var kv map[string]string
		if err := json.Unmarshal(first, &kv); err != nil {
			t.Fatal(err)
		}
		// The host's region wins over the profile's.
		if !strings.HasPrefix(kv["x-amz-credential"], "AKIAPROFILEEXAMPLE/") || !strings.Contains(kv["x-amz-credential"], "/us-east-1/kafka-cluster/") {
			t.Errorf("credential %q: want the profile's key and the host's region", kv["x-amz-credential"])
		}
		if len(told) != 1 || told[0] != secret || bytes.Contains(first, []byte(secret)) {
			t.Errorf("OnSecret told %q; the payload must not hold the secret", told)
		}
		// A loopback name (a tunnel): the profile's region.
		first, err = login(t, AWSMSKIAM{Profile: "eddy-msk"}, "127.0.0.1:9098")
		if err != nil || !bytes.Contains(first, []byte("/eu-west-1/kafka-cluster/")) {
			t.Fatalf("loopback seed: %v %s; want the profile's region", err, first)
		}
		if _, err := New([]string{seed}, WithAWSMSKIAM(AWSMSKIAM{Profile: "no-such-profile"})); err == nil || !strings.Contains(err.Error(), "no-such-profile") {
			t.Errorf("unknown profile: %v", err)
		}
	})

	t.Run("no region", func(t *testing.T) {
		isolateAWS(t, "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY", "s3cr3t")
		if _, err := New([]string{"127.0.0.1:9098"}, WithAWSMSKIAM(AWSMSKIAM{})); err == nil || !strings.Contains(err.Error(), "--sasl-aws-region") {
			t.Fatalf("no region: %v", err)
		}
		if _, err := New([]string{"127.0.0.1:9098"}, WithAWSMSKIAM(AWSMSKIAM{Region: "us-east-1"})); err != nil {
			t.Fatalf("a given region: %v", err)
		}
		if _, err := New([]string{"127.0.0.1:9098"}, WithAWSMSKIAM(AWSMSKIAM{Region: "US East"})); err == nil {
			t.Fatal("a malformed region is taken")
		}
	})
}

// TestMSKIAMWebIdentityRefresh: web identity (an EKS service account's
// AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN) buys temporary credentials
// from STS — a stand-in on loopback, named by AWS_ENDPOINT_URL_STS — and a
// login after they expire signs with new ones, bought again: credentials are
// asked of the chain at each login.
func TestMSKIAMWebIdentityRefresh(t *testing.T) {
	var calls atomic.Int32
	const life = 2 * time.Second
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity" ||
			r.PostForm.Get("WebIdentityToken") != "the-web-identity-jwt" || r.PostForm.Get("RoleArn") != "arn:aws:iam::123456789012:role/eddy" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		n := calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAWEBIDENTITY%04d</AccessKeyId>
      <SecretAccessKey>web-identity-secret-%d</SecretAccessKey>
      <SessionToken>web-identity-session-token-%d</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/eddy/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r-%d</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, n, n, n, time.Now().Add(life).UTC().Format(time.RFC3339), n)
	}))
	defer sts.Close()
	tokenFile := t.TempDir() + "/token"
	if err := os.WriteFile(tokenFile, []byte("the-web-identity-jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	isolateAWS(t, "AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/eddy",
		"AWS_ROLE_SESSION_NAME", "eddy-test", "AWS_REGION", "us-east-1", "AWS_ENDPOINT_URL_STS", sts.URL)

	var told []string
	c, err := New([]string{"b-1.eddy.a1b2c3.c2.kafka.us-east-1.amazonaws.com:9098"}, WithAWSMSKIAM(AWSMSKIAM{OnSecret: func(s string) { told = append(told, s) }}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	login := func() map[string]string {
		t.Helper()
		_, first, err := c.mechanism().Authenticate(context.Background(), "b-1.eddy.a1b2c3.c2.kafka.us-east-1.amazonaws.com:9098")
		if err != nil {
			t.Fatal(err)
		}
		var kv map[string]string
		if err := json.Unmarshal(first, &kv); err != nil {
			t.Fatal(err)
		}
		return kv
	}
	first := login()
	if !strings.HasPrefix(first["x-amz-credential"], "ASIAWEBIDENTITY0001/") || first["x-amz-security-token"] != "web-identity-session-token-1" {
		t.Fatalf("first login: %v", first)
	}
	if again := login(); again["x-amz-credential"] != first["x-amz-credential"] || calls.Load() != 1 {
		t.Fatalf("a login before they expire: %v, STS called %d times; want the same credentials, bought once", again, calls.Load())
	}
	start := time.Now()
	kafkatest.WaitFor(t, life+10*time.Second, "the credentials to expire", func() bool { return time.Since(start) > life+500*time.Millisecond })
	later := login()
	if !strings.HasPrefix(later["x-amz-credential"], "ASIAWEBIDENTITY0002/") || later["x-amz-security-token"] != "web-identity-session-token-2" || calls.Load() != 2 {
		t.Fatalf("a login after they expired: %v (STS called %d times); want new credentials", later, calls.Load())
	}
	if !slices.Contains(told, "web-identity-secret-1") || !slices.Contains(told, "web-identity-session-token-2") {
		t.Errorf("OnSecret was told %q; want every secret key and token", told)
	}
}
