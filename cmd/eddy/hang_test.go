package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// silentServer is a loopback listener that accepts connections and never
// sends a byte: a hung broker or management API. accepted receives one
// value per connection.
type silentServer struct {
	addr     string
	accepted chan struct{}
}

func newSilentServer(t *testing.T) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{addr: ln.Addr().String(), accepted: make(chan struct{}, 1024)}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case s.accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return s
}

// runEddyCtx is runEddy with a parent context (cancelling it is an interrupt).
func runEddyCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, _, _, _ := TestStreams(false)
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" || k == "XDG_STATE_HOME" {
			return t.TempDir()
		}
		return env[k]
	}
	code = run(ctx, args, io, getenv, &Redactor{})
	return code, io.Out.(*syncWriter).String(), io.ErrOut.(*syncWriter).String()
}

// TestAMQPConnectInterrupted: an interrupt while eddy waits for a server that
// accepted the TCP connection but never speaks AMQP is exit 130 and says so,
// not a connection failure (exit 4, "the broker closed the connection … i/o
// timeout").
func TestAMQPConnectInterrupted(t *testing.T) {
	srv := newSilentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-srv.accepted
		cancel()
	}()
	code, _, stderr := runEddyCtx(t, ctx, nil, "tail", "amqp:q", "--amqp-url", "amqp://guest:guest@"+srv.addr+"/",
		"--amqp-mgmt-url", "http://127.0.0.1:1/", "--timeout", "10m")
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want %d (interrupted); stderr:\n%s", code, ExitInterrupted, stderr)
	}
	if strings.Contains(stderr, "closed the connection") || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("stderr does not say the connect was interrupted:\n%s", stderr)
	}
}

// TestAMQPConnectSilentServer: a server that accepts and never answers the
// AMQP handshake is exit 4 after --timeout, with words saying it did not
// answer within that time (it closed nothing).
func TestAMQPConnectSilentServer(t *testing.T) {
	srv := newSilentServer(t)
	code, _, stderr := runEddy(t, nil, "tail", "amqp:q", "--amqp-url", "amqp://guest:guest@"+srv.addr+"/",
		"--amqp-mgmt-url", "http://127.0.0.1:1/", "--timeout", "1s")
	if code != ExitConnect {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitConnect, stderr)
	}
	if strings.Contains(stderr, "closed the connection") || !strings.Contains(stderr, "did not answer the AMQP handshake within 1s") {
		t.Fatalf("stderr does not say the server did not answer within --timeout:\n%s", stderr)
	}
	if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
		t.Fatalf("want one line on stderr, got:\n%s", stderr)
	}
}

// TestAMQPHungManagementAPI: every command that asks RabbitMQ's management
// API ends within --timeout when the API accepts connections and never
// answers (it used to allow --timeout + 20 s per request, twice for dlq show),
// with the connect exit code (or partial, where other parts were reached)
// and a line naming the management API and the timeout.
func TestAMQPHungManagementAPI(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	srv := newSilentServer(t)
	common := []string{"--amqp-url", url, "--amqp-mgmt-url", "http://" + srv.addr + "/", "--timeout", "2s"}
	want := "the management API at http://" + srv.addr + " is unreachable (no answer within 2s (--timeout))"
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"ls", "amqp:"}, ExitConnect},
		{[]string{"lag", "amqp:"}, ExitConnect},
		{[]string{"dlq", "ls", "amqp:"}, ExitConnect},
		{[]string{"tail", "amqp:" + tp.Queue}, ExitConnect},
		{[]string{"dlq", "show", "amqp:" + tp.Queue}, ExitConnect},
		{[]string{"trace", "flows", "amqp:" + tp.Queue}, ExitConnect},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, _, stderr := runEddy(t, nil, append(tc.args, common...)...)
			if code != tc.code {
				t.Fatalf("eddy %s: exit %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			if !strings.Contains(stderr, want) {
				t.Fatalf("eddy %s: stderr does not say %q:\n%s", strings.Join(tc.args, " "), want, stderr)
			}
		})
	}
}

// TestDLQLsOneTransportDown: dlq ls with RabbitMQ unreachable still lists
// the Kafka DLQs, says on stderr what failed, and exits 3 (it used to exit 4
// with no rows), as ls and lag do.
func TestDLQLsOneTransportDown(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	seeds := strings.Join(kc.ListenAddrs(), ",")
	code, stdout, stderr := runEddy(t, nil, "dlq", "ls", "--brokers", seeds, "--amqp-url", "amqp://guest:guest@127.0.0.1:1/",
		"--amqp-mgmt-url", "http://127.0.0.1:1/", "--timeout", "2s")
	if code != ExitPartial {
		t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, ExitPartial, stdout, stderr)
	}
	if !regexpLine(stdout, `^kafka:orders\.DLT\t0\t`) {
		t.Fatalf("the Kafka DLQ is not listed:\n%s", stdout)
	}
	if !strings.Contains(stderr, "amqp: cannot connect to 127.0.0.1:1") {
		t.Fatalf("stderr does not say RabbitMQ was not reached:\n%s", stderr)
	}
	// Both down: nothing to list, the connect failure decides (exit 4).
	code, _, stderr = runEddy(t, nil, "dlq", "ls", "--brokers", "127.0.0.1:1", "--amqp-url", "amqp://guest:guest@127.0.0.1:1/",
		"--amqp-mgmt-url", "http://127.0.0.1:1/", "--timeout", "2s")
	if code != ExitConnect {
		t.Fatalf("both down: exit %d, want %d; stderr:\n%s", code, ExitConnect, stderr)
	}
}
