package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// testIdP is an OIDC provider on loopback: a JWKS endpoint the broker
// validates tokens with, and a client-credentials token endpoint issuing
// RS256 JWTs signed with a key made here. No JWT library is in eddy's
// module graph, so the few lines of RS256 signing are written out.
type testIdP struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey // the key the JWKS publishes
	wrongKey *rsa.PrivateKey // signs tokens the broker must refuse
	lifetime atomic.Int64    // of the endpoint's tokens, in seconds
	calls    atomic.Int64    // token endpoint requests that got a token

	mu     sync.Mutex
	scopes []string // the scopes each token request asked for
	tokens []string // the tokens it issued
}

const (
	idpAudience     = "kafka-test"
	idpClientID     = "eddy-client"
	idpClientSecret = "Cl13nt-S3cret-0f-the-IdP"
)

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	p := &testIdP{}
	var err error
	if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if p.wrongKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	p.lifetime.Store(3600)
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
			"n": b64(p.key.N.Bytes()), "e": b64(big.NewInt(int64(p.key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "client_credentials" || id != idpClientID || secret != idpClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		p.mu.Lock()
		life := p.lifetime.Load()
		tok := p.mint(t, p.key, idpAudience, time.Duration(life)*time.Second)
		p.scopes = append(p.scopes, r.PostForm.Get("scope"))
		p.tokens = append(p.tokens, tok)
		p.mu.Unlock()
		p.calls.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": life})
	})
	p.srv = httptest.NewServer(mux)
	return p
}

func (p *testIdP) issuer() string { return p.srv.URL }

// mint is a JWT for audience signed with key, valid from now for life (a
// negative life: expired that long ago).
func (p *testIdP) mint(t testing.TB, key *rsa.PrivateKey, audience string, life time.Duration) string {
	now := time.Now()
	iat := now
	if life < 0 {
		iat = now.Add(2 * life)
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Error(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." +
		enc(map[string]any{"sub": "eddy", "aud": audience, "iss": p.issuer(), "iat": iat.Unix(), "exp": now.Add(life).Unix(), "scope": "kafka"})
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Error(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// oauthBroker is a real Apache Kafka with an OAUTH listener that validates
// OAUTHBEARER JWTs with its built-in validator against the IdP's JWKS, and
// demands re-authentication every 10 s at most (and at each token's
// expiry).
func oauthBroker(t *testing.T, idp *testIdP) *kafkatest.Broker {
	jwks := idp.srv.URL + "/jwks"
	prefix := "listener.name.oauth.oauthbearer."
	return kafkatest.StartBrokerWith(t, kafkatest.Config{
		Listeners: []kafkatest.Listener{{Name: "OAUTH", Protocol: "SASL_PLAINTEXT", Props: []string{
			"listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER",
			prefix + "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;",
			prefix + "sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
			prefix + "sasl.oauthbearer.jwks.endpoint.url=" + jwks,
			prefix + "sasl.oauthbearer.expected.audience=" + idpAudience,
			prefix + "sasl.oauthbearer.expected.issuer=" + idp.issuer(),
			prefix + "connections.max.reauth.ms=10000",
		}}},
		Props: []string{
			"sasl.oauthbearer.jwks.endpoint.url=" + jwks,
			"sasl.oauthbearer.expected.audience=" + idpAudience,
			"sasl.oauthbearer.expected.issuer=" + idp.issuer(),
			"connections.max.reauth.ms=10000",
		},
		JVMOpts: []string{"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=" + jwks},
	})
}

// runEddyRedactor is runEddy that also returns the redactor, to check what
// eddy registered with it.
func runEddyRedactor(t *testing.T, ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string, red *Redactor) {
	t.Helper()
	io, _, _, _ := TestStreams(false)
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" || k == "XDG_STATE_HOME" {
			return t.TempDir()
		}
		return env[k]
	}
	red = &Redactor{}
	code = run(ctx, args, io, getenv, red)
	return code, io.Out.(*syncWriter).String(), io.ErrOut.(*syncWriter).String(), red
}

// TestKafkaOAuth: SASL OAUTHBEARER against the real Apache Kafka's own JWT
// validation, with every way of getting a token; refused tokens end at once
// with exit 4 and say why; a long tail re-authenticates with fresh tokens;
// no token or client secret is ever shown. One broker serves every case.
func TestKafkaOAuth(t *testing.T) {
	idp := newTestIdP(t)
	defer idp.srv.Close()
	b := oauthBroker(t, idp)
	addr := b.ListenerAddr("OAUTH")
	topic := kafkatest.NewTopic(t, b.Seeds(), 1)
	kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("hello")})
	tailArgs := []string{"tail", "kafka:" + topic, "--brokers", addr, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "20s", "--debug"}
	noSecrets := func(t *testing.T, out string, secrets ...string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("the output shows a secret:\n%s", out)
			}
		}
	}

	t.Run("token from the environment: tail and ls", func(t *testing.T) {
		tok := idp.mint(t, idp.key, idpAudience, time.Hour)
		env := map[string]string{"EDDY_SASL_OAUTH_TOKEN": tok}
		code, out, errOut, red := runEddyRedactor(t, context.Background(), env, append(tailArgs, "--sasl-mechanism", "OAUTHBEARER")...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("tail: exit %d, stdout %q, stderr %s\nbroker log:\n%s", code, out, errOut, b.Log())
		}
		noSecrets(t, out+errOut, tok)
		if red.Redact(tok) != "****" {
			t.Error("the token is not registered with the redactor")
		}
		code, out, errOut, _ = runEddyRedactor(t, context.Background(), env, "ls", "kafka:", "--brokers", addr, "--sasl-mechanism", "oauthbearer", "--timeout", "20s")
		if code != 0 || !strings.Contains(out, topic) {
			t.Fatalf("ls: exit %d, stdout %q, stderr %s", code, out, errOut)
		}
	})

	t.Run("token file", func(t *testing.T) {
		tok := idp.mint(t, idp.key, idpAudience, time.Hour)
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// --sasl-oauth-* flags imply OAUTHBEARER.
		code, out, errOut, red := runEddyRedactor(t, context.Background(), nil, append(tailArgs, "--sasl-oauth-token-file", file)...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
		}
		noSecrets(t, out+errOut, tok)
		if red.Redact(tok) != "****" {
			t.Error("the token is not registered with the redactor")
		}
	})

	t.Run("token command", func(t *testing.T) {
		tok := idp.mint(t, idp.key, idpAudience, time.Hour)
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut, red := runEddyRedactor(t, context.Background(), nil, append(tailArgs, "--sasl-mechanism", "OAUTHBEARER", "--sasl-oauth-token-command", "cat '"+file+"'")...)
		if code != 0 || out != "hello\n" {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
		}
		noSecrets(t, out+errOut, tok)
		if red.Redact(tok) != "****" {
			t.Error("the token is not registered with the redactor")
		}
	})

	t.Run("client credentials from a context", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(idpClientSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`current-context: idp
contexts:
  idp:
    kafka:
      brokers: [%s]
      sasl:
        mechanism: OAUTHBEARER
        oauth:
          token-endpoint: %s/token
          client-id: %s
          client-secret-file: secret
          scope: kafka read
          extensions: {traceId: abc123}
`, addr, idp.srv.URL, idpClientID)
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		before := idp.calls.Load()
		env := map[string]string{"EDDY_CONFIG": filepath.Join(dir, "config.yaml")}
		code, out, errOut, red := runEddyRedactor(t, context.Background(), env, "tail", "kafka:"+topic, "--from", "beginning", "--until", "end", "-o", "raw", "--timeout", "20s", "--debug")
		if code != 0 || out != "hello\n" {
			t.Fatalf("exit %d, stdout %q, stderr %s\nbroker log:\n%s", code, out, errOut, b.Log())
		}
		if idp.calls.Load() == before {
			t.Fatal("the token endpoint was not asked")
		}
		idp.mu.Lock()
		scope := idp.scopes[len(idp.scopes)-1]
		idp.mu.Unlock()
		if scope != "kafka read" {
			t.Errorf("the token endpoint was asked for scope %q", scope)
		}
		idp.mu.Lock()
		issued := slices.Clone(idp.tokens)
		idp.mu.Unlock()
		noSecrets(t, out+errOut, append(issued, idpClientSecret)...)
		if red.Redact(idpClientSecret) != "****" || red.Redact(issued[len(issued)-1]) != "****" {
			t.Error("the client secret or the token is not registered with the redactor")
		}

		code, out, errOut = runEddy(t, map[string]string{"EDDY_CONFIG": filepath.Join(dir, "config.yaml"), "EDDY_SASL_OAUTH_CLIENT_SECRET": "Wr0ng-S3cret"}, "ls", "kafka:", "--timeout", "20s")
		if code != ExitConnect || !strings.Contains(errOut, "authentication failed: could not get an OAUTHBEARER token: token endpoint "+idp.srv.URL+"/token: HTTP 401, invalid_client") {
			t.Fatalf("wrong client secret: exit %d, stderr %q; want 4 and the endpoint's refusal", code, errOut)
		}
		noSecrets(t, out+errOut, "Wr0ng-S3cret")
	})

	t.Run("refused tokens", func(t *testing.T) {
		for _, tc := range []struct {
			name, tok, says, brokerSays string
		}{
			{"expired", idp.mint(t, idp.key, idpAudience, -5*time.Minute), "the token expired at ", "Expiration Time"},
			{"wrongly signed", idp.mint(t, idp.wrongKey, idpAudience, time.Hour), "the token has not expired, so the broker did not accept its signature, audience or issuer", "signature"},
			{"wrong audience", idp.mint(t, idp.key, "someone-else", time.Hour), `the token is for audience "someone-else"`, "someone-else"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				brokerLog := func() string {
					log, _ := os.ReadFile(filepath.Join(b.Dir(), "kafka.log"))
					return string(log)
				}
				logged := len(brokerLog())
				start := time.Now()
				code, out, errOut := runEddy(t, map[string]string{"EDDY_SASL_OAUTH_TOKEN": tc.tok}, slices.Concat(tailArgs[:len(tailArgs)-1], []string{"--sasl-mechanism", "OAUTHBEARER"})...)
				took := time.Since(start)
				if code != ExitConnect || !strings.Contains(errOut, "authentication failed: the broker refused the OAUTHBEARER token (invalid_token): ") ||
					!strings.Contains(errOut, tc.says) || strings.Count(errOut, "\n") != 1 {
					t.Fatalf("exit %d, stderr %q; want exit 4 and one line saying %q", code, errOut, tc.says)
				}
				if took > 15*time.Second {
					t.Errorf("the refusal took %v: it should end the command at once, not at the 20s timeout", took)
				}
				noSecrets(t, out+errOut, tc.tok)
				t.Logf("after %v: %s", took.Round(time.Millisecond), errOut)
				// Kafka tells the client only "invalid_token"; its log says why.
				kafkatest.WaitFor(t, 10*time.Second, "the broker to log why it refused the token", func() bool {
					return strings.Contains(brokerLog()[logged:], tc.brokerSays)
				})
			})
		}
	})

	t.Run("a live tail whose token cannot be renewed ends with exit 4", func(t *testing.T) {
		// A static token that expires mid-run: when the broker demands a
		// new login (connections.max.reauth.ms) and refuses the expired
		// token, the tail must say so and end, not sit silent.
		const life = 6 * time.Second
		tok := idp.mint(t, idp.key, idpAudience, life)
		topic := kafkatest.NewTopic(t, b.Seeds(), 1)
		kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("before")})
		ctx, cancel := context.WithCancel(context.Background())
		io, _, _, _ := TestStreams(false)
		// The streams' writers and the directories are taken here, not
		// from the command's goroutine, which may outlive a failed test.
		stdout, stderr := io.Out.(*syncWriter), io.ErrOut.(*syncWriter)
		dir := t.TempDir()
		env := map[string]string{"EDDY_SASL_OAUTH_TOKEN": tok, "XDG_CONFIG_HOME": dir, "XDG_STATE_HOME": dir}
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"tail", "kafka:" + topic, "--brokers", addr, "--from", "beginning", "-o", "raw",
				"--timeout", "10s", "--sasl-mechanism", "OAUTHBEARER"}, io, func(k string) string { return env[k] }, &Redactor{})
		}()
		defer func() {
			// A failed wait must not leave the tail running past the test.
			cancel()
			<-done
		}()
		kafkatest.WaitFor(t, 30*time.Second, "the tail to show the first record", func() bool { return strings.Contains(stdout.String(), "before") })
		select {
		case code := <-done:
			done <- code
			if code != ExitConnect || !strings.Contains(stderr.String(), "authentication failed") || !strings.Contains(stderr.String(), "expired") {
				t.Fatalf("exit %d, stderr %q; want exit 4 saying the token expired", code, stderr.String())
			}
			noSecrets(t, stdout.String()+stderr.String(), tok)
		case <-time.After(life + 90*time.Second):
			// Generous: what is checked is that it ends, and says why.
			t.Fatalf("the live tail is still running %v after its token expired (stderr %q): it should end with exit 4", 90*time.Second, stderr.String())
		}
	})

	t.Run("a long tail re-authenticates with fresh tokens", func(t *testing.T) {
		const life = 6 * time.Second
		idp.lifetime.Store(int64(life / time.Second))
		defer idp.lifetime.Store(3600)
		topic := kafkatest.NewTopic(t, b.Seeds(), 1)
		kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("before")})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		io, _, _, _ := TestStreams(false)
		red := &Redactor{}
		env := map[string]string{"EDDY_SASL_OAUTH_CLIENT_SECRET": idpClientSecret}
		getenv := func(k string) string {
			if k == "XDG_CONFIG_HOME" || k == "XDG_STATE_HOME" {
				return t.TempDir()
			}
			return env[k]
		}
		before := idp.calls.Load()
		idp.mu.Lock()
		issuedBefore := len(idp.tokens)
		idp.mu.Unlock()
		start := time.Now()
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"tail", "kafka:" + topic, "--brokers", addr, "--from", "beginning", "-o", "raw", "--timeout", "20s",
				"--sasl-oauth-token-endpoint", idp.srv.URL + "/token", "--sasl-oauth-client-id", idpClientID, "--debug"}, io, getenv, red)
		}()
		out := func() string { return io.Out.(*syncWriter).String() }
		errOut := func() string { return io.ErrOut.(*syncWriter).String() }
		kafkatest.WaitFor(t, 30*time.Second, "the tail to show the first record", func() bool { return strings.Contains(out(), "before") })
		// The first token has expired, and the broker has made the tail
		// log in again (with a token fetched after the first).
		kafkatest.WaitFor(t, 30*time.Second, "the first token to expire and a second one to be fetched", func() bool {
			return time.Since(start) > life+time.Second && idp.calls.Load()-before >= 2
		})
		kafkatest.Produce(t, b.Seeds(), &kgo.Record{Topic: topic, Value: []byte("after")})
		kafkatest.WaitFor(t, 30*time.Second, "the tail to show the record produced after the first token expired", func() bool {
			return strings.Contains(out(), "after")
		})
		cancel()
		<-done
		if got := out(); got != "before\nafter\n" {
			t.Errorf("the tail showed %q", got)
		}
		if strings.Contains(errOut(), "authentication failed") || strings.Contains(errOut(), idpClientSecret) {
			t.Errorf("stderr: %s", errOut())
		}
		t.Logf("token endpoint called %d times in %v", idp.calls.Load()-before, time.Since(start).Round(time.Second))
		// franz-go's --debug log: the broker set a session lifetime (the
		// token's) and the tail logged in again on the same connection.
		if !strings.Contains(errOut(), "sasl expiry limit reached") {
			t.Errorf("the tail never re-authenticated:\n%s", errOut())
		}
		idp.mu.Lock()
		issued := slices.Clone(idp.tokens[issuedBefore:])
		idp.mu.Unlock()
		noSecrets(t, out()+errOut(), issued...)
		for _, tok := range issued {
			if red.Redact(tok) != "****" {
				t.Error("a token fetched during the run is not registered with the redactor")
			}
		}
	})
}
