package kafka

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// fakeClock is the time an oauthSource sees, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// unsignedJWT is a JWT with claims and a dummy signature: the client never
// checks signatures, it only reads the claims.
func unsignedJWT(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + ".c2lnbmF0dXJl"
}

// TestOAuthRefresh: a token of known lifetime is reused until 80% of it
// has passed, then fetched anew; every new token is told to OnToken first.
func TestOAuthRefresh(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)}
	var told []string
	s := newOAuthSource(OAuth{Token: "unused", OnToken: func(tok string) { told = append(told, tok) }}, clock.now)
	n := 0
	s.fetch = func(context.Context) (string, time.Time, error) {
		n++
		return fmt.Sprintf("tok-%d", n), clock.now().Add(100 * time.Second), nil
	}
	want := func(step, tok string, fetches int) {
		t.Helper()
		got, err := s.token(context.Background())
		if err != nil || got != tok || n != fetches {
			t.Fatalf("%s: token %q (err %v) after %d fetches; want %q after %d", step, got, err, n, tok, fetches)
		}
	}
	want("first login", "tok-1", 1)
	clock.add(79 * time.Second)
	want("at 79% of the lifetime", "tok-1", 1)
	clock.add(time.Second)
	want("at 80%", "tok-2", 2)
	clock.add(50 * time.Second)
	want("at 50% of the second token's lifetime", "tok-2", 2)
	clock.add(30 * time.Second)
	want("at 80% of the second's", "tok-3", 3)
	if strings.Join(told, ",") != "tok-1,tok-2,tok-3" {
		t.Fatalf("OnToken was told %v", told)
	}
}

// TestOAuthRefreshFromJWT: without an expires_in the JWT's exp claim gives
// the lifetime; a token of unknown lifetime is fetched at every login.
func TestOAuthRefreshFromJWT(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)}
	s := newOAuthSource(OAuth{Token: "unused"}, clock.now)
	n := 0
	s.fetch = func(context.Context) (string, time.Time, error) {
		n++
		return unsignedJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"n": n, "exp": clock.now().Add(50 * time.Second).Unix()}), time.Time{}, nil
	}
	first, _ := s.token(context.Background())
	clock.add(39 * time.Second)
	if tok, _ := s.token(context.Background()); tok != first || n != 1 {
		t.Fatalf("at 78%% of the exp claim's lifetime: %d fetches, token changed %v", n, tok != first)
	}
	clock.add(time.Second)
	if tok, _ := s.token(context.Background()); tok == first || n != 2 {
		t.Fatalf("at 80%% of the exp claim's lifetime: %d fetches, token changed %v", n, tok != first)
	}

	s = newOAuthSource(OAuth{Token: "unused"}, clock.now)
	n = 0
	s.fetch = func(context.Context) (string, time.Time, error) { n++; return "opaque-token", time.Time{}, nil }
	for range 3 {
		if _, err := s.token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Fatalf("a token of unknown lifetime was fetched %d times for 3 logins", n)
	}
}

// TestOAuthRefreshFailure: a failed refresh while the token in hand is
// valid keeps it; once it has expired the failure is an authentication
// failure (kerr.SaslAuthenticationFailed, so not retried) without secrets.
func TestOAuthRefreshFailure(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)}
	s := newOAuthSource(OAuth{ClientCredentials: &ClientCredentials{TokenURL: "http://127.0.0.1:1/t", ClientID: "c", ClientSecret: "Cl13ntS3cret"}}, clock.now)
	fail := false
	s.fetch = func(context.Context) (string, time.Time, error) {
		if fail {
			return "", time.Time{}, errors.New("token endpoint http://127.0.0.1:1/t: connection refused (Cl13ntS3cret)")
		}
		return "G00dT0ken", clock.now().Add(10 * time.Second), nil
	}
	if tok, err := s.token(context.Background()); tok != "G00dT0ken" || err != nil {
		t.Fatal(tok, err)
	}
	fail = true
	clock.add(9 * time.Second)
	if tok, err := s.token(context.Background()); tok != "G00dT0ken" || err != nil {
		t.Fatalf("refresh failed before expiry: %q, %v; want the old token", tok, err)
	}
	clock.add(time.Second)
	_, err := s.token(context.Background())
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "could not get an OAUTHBEARER token: token endpoint http://127.0.0.1:1/t: connection refused") {
		t.Fatalf("refresh failed after expiry: %v", err)
	}
	if strings.Contains(err.Error(), "Cl13ntS3cret") || strings.Contains(err.Error(), "G00dT0ken") {
		t.Fatalf("the error shows a secret: %v", err)
	}
}

// TestOAuthRejected: the broker's refusal says what eddy can tell from
// the token: that it expired, else what it claims, to compare with what
// the broker expects; the token itself never appears.
func TestOAuthRejected(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	resp := []byte(`{"status":"invalid_token"}`)
	expired := unsignedJWT(t, map[string]any{"alg": "RS256", "kid": "k1"}, map[string]any{"exp": now.Add(-90 * time.Second).Unix(), "aud": "kafka"})
	valid := unsignedJWT(t, map[string]any{"alg": "RS256", "kid": "k1"}, map[string]any{"exp": now.Add(time.Hour).Unix(), "aud": []string{"other", "x\x1b[31m"}, "iss": "https://idp"})
	for _, tc := range []struct {
		name, tok, want string
	}{
		{"expired", expired, "the broker refused the OAUTHBEARER token (invalid_token): the token expired at 2026-12-05T00:58:30Z, 1m30s ago"},
		{"not expired", valid, `the broker refused the OAUTHBEARER token (invalid_token): the token has not expired, so the broker did not accept its signature, audience or issuer (its log says which); the token is for audience "other", "x [31m", issuer "https://idp", signed "RS256" with key "k1"`},
		{"opaque", "0paqueT0ken", "the broker refused the OAUTHBEARER token (invalid_token): the token is not a JWT, which Kafka's validator needs"},
	} {
		err := rejected(resp, tc.tok, now)
		if err.Error() != tc.want || !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), tc.tok) {
			t.Errorf("%s: the error shows the token", tc.name)
		}
	}
}

// TestOAuthValidate: one way of getting a token, well-formed extensions,
// a usable endpoint; errors show no secret.
func TestOAuthValidate(t *testing.T) {
	cc := &ClientCredentials{TokenURL: "https://idp/token", ClientID: "eddy", ClientSecret: "Cl13ntS3cret"}
	for _, tc := range []struct {
		o    OAuth
		want string
	}{
		{OAuth{Token: "t0k"}, ""},
		{OAuth{ClientCredentials: cc, Extensions: map[string]string{"logicalCluster": "lkc-1"}}, ""},
		{OAuth{}, "needs a token"},
		{OAuth{Token: "t0k", TokenFile: "f"}, "give one way"},
		{OAuth{Token: "t0k", Extensions: map[string]string{"auth": "x"}}, `extension "auth"`},
		{OAuth{Token: "t0k", Extensions: map[string]string{"a-b": "x"}}, `extension "a-b"`},
		{OAuth{Token: "t0k", Extensions: map[string]string{"ab": "\x01"}}, "printable ASCII"},
		{OAuth{ClientCredentials: &ClientCredentials{TokenURL: "idp/token", ClientID: "eddy", ClientSecret: "Cl13ntS3cret"}}, `"idp/token": want an http[s]:// URL`},
		{OAuth{ClientCredentials: &ClientCredentials{TokenURL: "https://idp/token", ClientSecret: "Cl13ntS3cret"}}, "no client id"},
		{OAuth{ClientCredentials: &ClientCredentials{TokenURL: "https://idp/token", ClientID: "eddy"}}, "no client secret"},
	} {
		c, err := New([]string{"127.0.0.1:9092"}, WithOAuth(tc.o))
		if c != nil {
			c.Close()
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: err %v, want %q", tc.o, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "Cl13ntS3cret") || strings.Contains(err.Error(), "t0k")) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
	if _, err := New([]string{"127.0.0.1:9092"}, WithSASL("oauthbearer", "", "")); err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Errorf("OAUTHBEARER without WithOAuth: %v", err)
	}
}

// TestOAuthEndpoint: the client-credentials grant against a token endpoint
// served here: the client id, secret and scopes are sent, expires_in sets
// the refresh, and a refusal says so without the secret.
func TestOAuthEndpoint(t *testing.T) {
	var mu sync.Mutex
	var forms []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		mu.Lock()
		forms = append(forms, r.PostForm.Get("grant_type")+" "+r.PostForm.Get("scope")+" "+id)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if secret != "Cl13ntS3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"bad\nsecret"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"Acc3ssT0ken","token_type":"Bearer","expires_in":300}`)
	}))
	defer srv.Close()
	before := time.Now()
	s := newOAuthSource(OAuth{ClientCredentials: &ClientCredentials{TokenURL: srv.URL, ClientID: "eddy", ClientSecret: "Cl13ntS3cret", Scopes: []string{"kafka", "read"}}}, time.Now)
	tok, err := s.token(context.Background())
	if err != nil || tok != "Acc3ssT0ken" {
		t.Fatalf("token %q, %v", tok, err)
	}
	if got := s.refreshAt.Sub(before); got < 239*time.Second || got > 241*time.Second+time.Since(before) {
		t.Errorf("refresh %v after the fetch; want 80%% of expires_in 300s", got)
	}
	if strings.Join(forms, "|") != "client_credentials kafka read eddy" {
		t.Errorf("the endpoint got %q", forms)
	}

	s = newOAuthSource(OAuth{ClientCredentials: &ClientCredentials{TokenURL: srv.URL, ClientID: "eddy", ClientSecret: "Wr0ngS3cret"}}, time.Now)
	_, err = s.token(context.Background())
	want := "could not get an OAUTHBEARER token: token endpoint " + srv.URL + ": HTTP 401, invalid_client: bad secret (wrong client id or secret?)"
	if err == nil || err.Error() != want || !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong secret:\n got %v\nwant %s", err, want)
	}
}

// TestOAuthCommandAndFile: a token command's output is the token; its
// failure says how, with the last line of its stderr; a token file is read
// again at every login that needs a token.
func TestOAuthCommandAndFile(t *testing.T) {
	s := newOAuthSource(OAuth{TokenCommand: "printf ' C0mmandT0ken\\n'"}, time.Now)
	if tok, err := s.token(context.Background()); tok != "C0mmandT0ken" || err != nil {
		t.Fatalf("command: %q, %v", tok, err)
	}
	s = newOAuthSource(OAuth{TokenCommand: "echo starting >&2; echo 'not logged in' >&2; exit 3"}, time.Now)
	if _, err := s.token(context.Background()); err == nil || err.Error() != "could not get an OAUTHBEARER token: the token command failed: exit status 3: not logged in" {
		t.Fatalf("failing command: %v", err)
	}
	// A command that leaves a process behind holding its stdout: its token
	// is what it printed, not a wait for the process left behind.
	s = newOAuthSource(OAuth{TokenCommand: "sleep 120 & echo B4ckgr0undT0ken"}, time.Now)
	got := make(chan error, 1)
	go func() {
		tok, err := s.token(context.Background())
		if err == nil && tok != "B4ckgr0undT0ken" {
			err = fmt.Errorf("token %q", tok)
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("command leaving a process behind: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a command that left a process behind holding its output: still waiting after 60 s")
	}
	s = newOAuthSource(OAuth{TokenCommand: "true"}, time.Now)
	if _, err := s.token(context.Background()); err == nil || !strings.Contains(err.Error(), "printed no token") {
		t.Fatalf("silent command: %v", err)
	}

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("F1leT0ken-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = newOAuthSource(OAuth{TokenFile: file}, time.Now)
	if tok, err := s.token(context.Background()); tok != "F1leT0ken-1" || err != nil {
		t.Fatalf("file: %q, %v", tok, err)
	}
	if err := os.WriteFile(file, []byte("F1leT0ken-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.token(context.Background()); tok != "F1leT0ken-2" || err != nil {
		t.Fatalf("file rotated: %q, %v", tok, err)
	}
}
