package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/internal/faultproxy"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

// silentListener accepts connections and holds them, never answering, until
// the test ends. Accepted counts the connections.
type silentListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func silentAddr(t *testing.T) (string, *silentListener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentListener{Listener: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return l.Addr().String(), s
}

func (s *silentListener) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// badOTLPEndpoints are, per protocol, a receiver that refuses and one that
// accepts and never answers.
func badOTLPEndpoints(t *testing.T) map[string]string {
	silent, _ := silentAddr(t)
	refused := faultproxy.Refused(t)
	return map[string]string{
		"http-refused": "http://" + refused,
		"http-silent":  "http://" + silent,
		"grpc-refused": "grpc://" + refused,
		"grpc-silent":  "grpc://" + silent,
	}
}

// runEddyWithin runs eddy in process and fails the test if it has not ended
// within limit (a bound on a hang, not a speed assertion).
func runEddyWithin(t *testing.T, limit time.Duration, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type res struct {
		code           int
		stdout, stderr string
	}
	done := make(chan res, 1)
	go func() {
		c, o, e := runEddy(t, env, args...)
		done <- res{c, o, e}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(limit):
		t.Fatalf("eddy %s: still running after %v", strings.Join(args, " "), limit)
		return 0, "", ""
	}
}

// otlpFailLine is the one line a failed span export leaves on stderr.
var otlpFailLine = regexp.MustCompile(`^eddy: otlp: could not export \d+ span\(s\) to (http|grpc)://127\.0\.0\.1:\d+(/v1/traces)?: \S.*$`)

// checkOTLPFailure: exit 3, and of stderr's lines exactly one about OTLP,
// the prefixed one (no unprefixed log line of the SDK).
func checkOTLPFailure(t *testing.T, code int, stderr string) {
	t.Helper()
	if code != ExitPartial {
		t.Errorf("exit %d, want %d (partial: the export failed); stderr:\n%s", code, ExitPartial, stderr)
	}
	var otlp []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "eddy: ") {
			t.Errorf("unprefixed line on stderr: %q", l)
		}
		if strings.Contains(l, "otlp") || strings.Contains(l, "export") {
			otlp = append(otlp, l)
		}
	}
	if len(otlp) != 1 || !otlpFailLine.MatchString(otlp[0]) {
		t.Errorf("want one line 'eddy: otlp: could not export N span(s) to ENDPOINT: reason'; stderr:\n%s", stderr)
	}
}

// otlpTestTimeout is the --timeout of these tests; otlpTestLimit bounds a
// run: far below the 10 s OTLP/gRPC used to add past --timeout, far above
// what a run takes on a loaded machine.
const (
	otlpTestTimeout = "1s"
	otlpTestLimit   = 8 * time.Second
)

// TestOTLPExportFailureTrace: eddy trace and trace flows --otlp to a
// receiver that refuses or never answers (OTLP/HTTP and OTLP/gRPC) end
// within --timeout (bounded, not 10 s more) with exit 3 and one prefixed
// line saying how many spans were not exported where (issue 13 item 19).
func TestOTLPExportFailureTrace(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "c.jsonl")
	if err := os.WriteFile(capture, []byte(`{"v":1,"transport":"kafka","topic":"t","partition":0,"offset":0,"timestamp":"2026-01-01T00:00:00Z","key":null,"headers":[{"key":"ce_id","value":"e-1"}],"value":"one"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, ep := range badOTLPEndpoints(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{{"trace", "e-1", "file:" + capture}, {"trace", "flows", "file:" + capture}} {
				code, _, stderr := runEddyWithin(t, otlpTestLimit, nil, append(args, "--otlp", ep, "--timeout", otlpTestTimeout)...)
				checkOTLPFailure(t, code, stderr)
			}
		})
	}
}

// TestOTLPExportFailureReplay: the same for eddy replay (file to file).
func TestOTLPExportFailureReplay(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "c.jsonl")
	if err := os.WriteFile(capture, []byte(`{"v":1,"transport":"kafka","topic":"t","partition":0,"offset":0,"timestamp":"2026-01-01T00:00:00Z","key":null,"headers":[],"value":"one"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, ep := range badOTLPEndpoints(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.jsonl")
			env := map[string]string{"XDG_STATE_HOME": t.TempDir()}
			code, _, stderr := runEddyWithin(t, otlpTestLimit, env, "replay", "file:"+capture, "--to", "file:"+out,
				"--otlp", ep, "--timeout", otlpTestTimeout)
			checkOTLPFailure(t, code, stderr)
			// The replay itself was done.
			if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"one"`) {
				t.Errorf("replay's output: %q, %v", b, err)
			}
		})
	}
}

// TestOTLPExportFailureRedrive: the same for eddy dlq redrive of a Kafka DLT
// (kfake).
func TestOTLPExportFailureRedrive(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	for name, ep := range badOTLPEndpoints(t) {
		t.Run(name, func(t *testing.T) {
			origin := kafkatest.NewTopic(t, seeds, 1)
			dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 1)
			kafkatest.Produce(t, seeds, springLetter(dlt, origin, 0, 0, "boom", "v0"))
			env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "XDG_STATE_HOME": t.TempDir()}
			code, _, stderr := runEddyWithin(t, otlpTestLimit+5*time.Second, env, "dlq", "redrive", "kafka:"+dlt,
				"--otlp", ep, "--timeout", otlpTestTimeout)
			checkOTLPFailure(t, code, stderr)
			if recs := waitRecords(t, seeds, origin, 1); len(recs) != 1 || string(recs[0].Value) != "v0" {
				t.Errorf("origin has %d records, want the redriven v0", len(recs))
			}
		})
	}
}

// TestLagServeOTLPFailureOnce: lag serve --otlp to a receiver that never
// answers warns once for the whole run of failed pushes (not once per
// --interval), with the prefixed line, and its last push at the end is
// bounded by --timeout.
func TestLagServeOTLPFailureOnce(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	addr, silent := silentAddr(t)
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	f.Global.Timeout = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- lagServeRun(ctx, f, &LagServeOptions{Listen: "127.0.0.1:0", Interval: 100 * time.Millisecond, Window: 10, OTLP: "http://" + addr})
	}()
	// Several pushes failed (each opens a connection the receiver holds).
	for deadline := time.Now().Add(30 * time.Second); silent.accepted() < 4; {
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes reached the receiver in 30s; stderr: %s", silent.accepted(), errOut)
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v; stderr: %s", err, errOut)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(otlpTestLimit):
		t.Fatalf("serve still running %v after it was stopped", otlpTestLimit)
	}
	var warn []string
	for _, l := range strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "eddy: ") {
			t.Errorf("unprefixed line on stderr: %q", l)
		}
		if strings.Contains(l, "otlp") {
			warn = append(warn, l)
		}
	}
	want := regexp.MustCompile(`^eddy: otlp: could not export metrics to http://127\.0\.0\.1:\d+/v1/metrics: no answer within 300ms \(still trying`)
	if len(warn) != 1 || !want.MatchString(warn[0]) {
		t.Errorf("want one warning for the run of failures; stderr:\n%s", errOut)
	}
}

// TestLagServeOTLPRecovers: pushes that fail and then arrive again are one
// warning and one line saying they arrive again.
func TestLagServeOTLPRecovers(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	srv := &otlpMetricsServer{points: map[string]float64{}}
	var mu sync.Mutex
	failing := 3
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := failing > 0
		failing--
		mu.Unlock()
		if fail {
			http.Error(w, "not now", http.StatusBadRequest)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	errOut := serveUntilPushed(t, seeds, hs.URL, srv, "no push arrived in 30s")
	var otlp []string
	for _, l := range strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n") {
		if strings.Contains(l, "otlp") {
			otlp = append(otlp, l)
		}
	}
	if len(otlp) != 2 || !strings.HasPrefix(otlp[0], "eddy: otlp: could not export metrics to "+hs.URL+"/v1/metrics: ") ||
		otlp[1] != "eddy: otlp: metrics are exported to "+hs.URL+"/v1/metrics again" {
		t.Errorf("want one warning, then one line saying pushes arrive again; stderr:\n%s", errOut)
	}
}

// startOtelcol runs the real OpenTelemetry Collector (EDDY_TEST_OTELCOL,
// built by scripts/otelcol.sh) with OTLP/gRPC and OTLP/HTTP receivers that
// forward traces to traces and metrics to metrics (the test's receivers'
// base URLs), and returns the receivers' addresses once both listen.
func startOtelcol(t *testing.T, traces, metrics string) (grpcAddr, httpAddr string) {
	t.Helper()
	bin := os.Getenv("EDDY_TEST_OTELCOL")
	if bin == "" {
		if os.Getenv("EDDY_REQUIRE_BROKERS") != "" || os.Getenv("CI") == "true" {
			t.Fatal("EDDY_TEST_OTELCOL is not set, but CI / EDDY_REQUIRE_BROKERS require the real collector (scripts/otelcol.sh builds it)")
		}
		t.Skip("EDDY_TEST_OTELCOL not set (scripts/otelcol.sh builds a real OpenTelemetry Collector)")
	}
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	grpcAddr, httpAddr = free(), free()
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  otlphttp:
    traces_endpoint: %s/v1/traces
    metrics_endpoint: %s/v1/metrics
    compression: none
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
`, grpcAddr, httpAddr, traces, metrics)
	path := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuf
	cmd := exec.Command(bin, "--config=file:"+path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("collector output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range []string{grpcAddr, httpAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("collector not listening on %s after 60s", addr)
			}
			select {
			case <-exited:
				t.Fatalf("collector exited:\n%s", logs.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return grpcAddr, httpAddr
}

// TestOTLPRealCollectorExit0: exports the real collector accepts leave
// stderr quiet and the exit status 0: trace, trace flows and replay over
// OTLP/gRPC and OTLP/HTTP, and lag serve's pushes (no warning).
func TestOTLPRealCollectorExit0(t *testing.T) {
	rcv, traceURL := otlptest.Start(t)
	msrv := &otlpMetricsServer{points: map[string]float64{}}
	hs := httptest.NewServer(msrv)
	defer hs.Close()
	grpcAddr, httpAddr := startOtelcol(t, traceURL, hs.URL)

	dir := t.TempDir()
	capture := filepath.Join(dir, "c.jsonl")
	if err := os.WriteFile(capture, []byte(`{"v":1,"transport":"kafka","topic":"t","partition":0,"offset":0,"timestamp":"2026-01-01T00:00:00Z","key":null,"headers":[{"key":"ce_id","value":"e-1"}],"value":"one"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, ep := range []string{"grpc://" + grpcAddr, "http://" + httpAddr} {
		for _, args := range [][]string{
			{"trace", "e-1", "file:" + capture},
			{"trace", "flows", "file:" + capture},
			{"replay", "file:" + capture, "--to", "file:" + filepath.Join(t.TempDir(), "out.jsonl")},
		} {
			env := map[string]string{"XDG_STATE_HOME": t.TempDir()}
			code, _, stderr := runEddyWithin(t, 60*time.Second, env, append(args, "--otlp", ep, "--timeout", "10s")...)
			if code != 0 || strings.Contains(stderr, "otlp") {
				t.Errorf("eddy %s --otlp %s: exit %d, stderr:\n%s", strings.Join(args, " "), ep, code, stderr)
			}
			want += 2 // an event's span and a flow's root; a run's span and an event's
		}
	}
	// The collector forwards asynchronously.
	for deadline := time.Now().Add(30 * time.Second); len(rcv.Spans()) < want; {
		if time.Now().After(deadline) {
			t.Fatalf("%d spans arrived through the collector, want %d", len(rcv.Spans()), want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// lag serve: pushes through the collector, and no warning.
	seeds := kafkatest.Cluster(t)
	errOut := serveUntilPushed(t, seeds, "http://"+httpAddr, msrv, "no metrics arrived through the collector in 30s")
	if strings.Contains(errOut.String(), "otlp") {
		t.Errorf("lag serve warned about pushes that arrived:\n%s", errOut)
	}
}

// serveUntilPushed runs lag serve on seeds, pushing to otlp every 100ms,
// until srv has had two pushes (failing with none and the stderr after
// 30s, or when serve ends), then stops it and returns its stderr.
func serveUntilPushed(t *testing.T, seeds []string, otlp string, srv *otlpMetricsServer, none string) *lockedBuf {
	t.Helper()
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- lagServeRun(ctx, f, &LagServeOptions{Listen: "127.0.0.1:0", Interval: 100 * time.Millisecond, Window: 10, OTLP: otlp})
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		srv.mu.Lock()
		n := srv.pushes
		srv.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s; stderr: %s", none, errOut)
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v; stderr: %s", err, errOut)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	<-done
	return errOut
}
