package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// oneLine checks stderr is one line that holds want and none of the secrets
// (the management password, any private key).
func oneLine(t *testing.T, what, stderr, want string) {
	t.Helper()
	t.Logf("%s: %s", what, stderr)
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) {
		t.Errorf("%s: stderr %q; want one line saying %q", what, stderr, want)
	}
	for _, secret := range []string{"PRIVATE KEY", "mgmt-s3cret"} {
		if strings.Contains(stderr, secret) {
			t.Errorf("%s: stderr shows %q: %q", what, secret, stderr)
		}
	}
}

// TestAMQPSTailAndLs: eddy tail and eddy ls over amqps:// and the HTTPS
// management API, verified against --tls-ca; another CA is exit 4 with one
// sentence naming the flag, for the AMQP port and for the management API
// alike (behind a plain amqp:// URL too).
func TestAMQPSTailAndLs(t *testing.T) {
	b := amqptest.TLS(t)
	plain := amqptest.URL(t)
	tp := amqptest.Topology(t, plain)
	tp.Publish(t, amqp091.Publishing{Body: []byte("tls-1")}, amqp091.Publishing{Body: []byte("tls-2")})
	env := map[string]string{}
	conn := []string{"--amqp-url", b.URL, "--amqp-mgmt-url", b.ManagementURL, "--timeout", "5s"}

	code, out, errOut := runEddy(t, env, append([]string{"tail", "amqp:" + tp.Queue, "--backlog", "--until", "end", "-o", "template={{.Value}}", "--tls-ca", b.File("ca.pem")}, conn...)...)
	if code != ExitOK || out != "tls-1\ntls-2\n" {
		t.Fatalf("tail over amqps: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runEddy(t, env, append([]string{"ls", "amqp:", "-o", "json", "--tls-ca", b.File("ca.pem")}, conn...)...)
	if code != ExitOK || !strings.Contains(out, `"queue":"`+tp.Queue+`"`) {
		t.Fatalf("ls over the HTTPS management API: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = runEddy(t, env, append([]string{"tail", "amqp:" + tp.Queue, "--backlog", "--until", "end", "--tls-ca", b.File("other-ca.pem")}, conn...)...)
	if code != ExitConnect || out != "" {
		t.Fatalf("tail over amqps with another CA: exit %d, stdout %q; want exit 4", code, out)
	}
	oneLine(t, "tail, other CA", errOut, "the broker's certificate is not signed by a trusted CA (--tls-ca")

	mgmt := strings.Replace(b.ManagementURL, "https://", "https://guest:mgmt-s3cret@", 1)
	code, out, errOut = runEddy(t, env, "ls", "amqp:", "--amqp-url", plain, "--amqp-mgmt-url", mgmt, "--tls-ca", b.File("other-ca.pem"), "--timeout", "5s")
	if code != ExitConnect || out != "" {
		t.Fatalf("ls with the HTTPS management API and another CA: exit %d, stdout %q; want exit 4", code, out)
	}
	oneLine(t, "ls, management API, other CA", errOut, "the management API's certificate is not signed by a trusted CA (--tls-ca")

	// A live tail finds the queue's bindings through the API: with its CA,
	// over HTTPS behind plain AMQP; with another, exit 4, not a tail
	// without them.
	mgmt = strings.Replace(b.ManagementURL, "https://", "https://guest:guest@", 1)
	code, out, errOut = runEddy(t, env, "tail", "amqp:"+tp.Queue, "--backlog", "--until", "end", "-o", "template={{.Value}}",
		"--amqp-url", plain, "--amqp-mgmt-url", mgmt, "--tls-ca", b.File("ca.pem"), "--timeout", "5s")
	if code != ExitOK || out != "tls-1\ntls-2\n" {
		t.Fatalf("tail with the HTTPS management API behind amqp://: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runEddy(t, env, "tail", "amqp:"+tp.Queue, "--backlog", "--until", "end",
		"--amqp-url", plain, "--amqp-mgmt-url", mgmt, "--tls-ca", b.File("other-ca.pem"), "--timeout", "5s")
	if code != ExitConnect || out != "" {
		t.Fatalf("tail with the HTTPS management API and another CA: exit %d, stdout %q; want exit 4", code, out)
	}
	oneLine(t, "tail, management API, other CA", errOut, "the management API's certificate is not signed by a trusted CA (--tls-ca")
}

// TestAMQPSExternal: a client certificate and an amqps:// URL without a
// password log in with EXTERNAL, from flags and from a context's amqp.tls; a
// certificate whose CN is no RabbitMQ user is exit 4, "authentication failed".
func TestAMQPSExternal(t *testing.T) {
	b := amqptest.TLS(t)
	plain := amqptest.URL(t)
	tp := amqptest.Topology(t, plain)
	tp.Publish(t, amqp091.Publishing{Body: []byte("ext-1")})
	bu, err := url.Parse(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	certURL := "amqps://" + bu.Host + "/"
	// The management API takes basic auth only: its own credentials.
	mgmt := strings.Replace(b.ManagementURL, "https://", "https://guest:guest@", 1)
	tail := []string{"tail", "amqp:" + tp.Queue, "--backlog", "--until", "end", "-o", "template={{.Value}}", "--timeout", "5s"}

	code, out, errOut := runEddy(t, nil, append(tail, "--amqp-url", certURL, "--amqp-mgmt-url", mgmt,
		"--tls-ca", b.File("ca.pem"), "--tls-cert", b.File("client.pem"), "--tls-key", b.File("client.key"))...)
	if code != ExitOK || out != "ext-1\n" {
		t.Fatalf("tail with a client certificate (flags): exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	yaml := "current-context: tls\ncontexts:\n  tls:\n    amqp:\n      url: " + certURL + "\n      management-url: " + mgmt +
		"\n      tls: {ca: " + b.File("ca.pem") + ", cert: " + b.File("client.pem") + ", key: " + b.File("client.key") + "}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runEddy(t, map[string]string{"EDDY_CONFIG": cfg}, tail...)
	if code != ExitOK || out != "ext-1\n" {
		t.Fatalf("tail with a client certificate (context): exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = runEddy(t, nil, append(tail, "--amqp-url", certURL, "--amqp-mgmt-url", mgmt,
		"--tls-ca", b.File("ca.pem"), "--tls-cert", b.File("stranger.pem"), "--tls-key", b.File("stranger.key"))...)
	if code != ExitConnect || out != "" {
		t.Fatalf("tail with a certificate whose CN is no user: exit %d, stdout %q, stderr %q; want exit 4", code, out, errOut)
	}
	oneLine(t, "stranger's certificate", errOut, "authentication failed: the broker refused the client certificate")
}
