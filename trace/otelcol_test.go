package trace

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/eddy-sh/eddy/trace/otlptest"
)

// otelcolBinary returns the real OpenTelemetry Collector that
// scripts/otelcol.sh builds (EDDY_TEST_OTELCOL). Without one the test skips,
// except in CI (EDDY_REQUIRE_BROKERS or CI=true), where it must fail.
func otelcolBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("EDDY_TEST_OTELCOL")
	if bin == "" {
		if os.Getenv("EDDY_REQUIRE_BROKERS") != "" || os.Getenv("CI") == "true" {
			t.Fatal("EDDY_TEST_OTELCOL is not set, but CI / EDDY_REQUIRE_BROKERS require the real collector (scripts/otelcol.sh builds it)")
		}
		t.Skip("EDDY_TEST_OTELCOL not set (scripts/otelcol.sh builds a real OpenTelemetry Collector)")
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestOTLPRealCollector exports flows over OTLP/gRPC and OTLP/HTTP into a
// real OpenTelemetry Collector, which parses them and exports what it
// understood (its otlphttp exporter) to a test-local receiver: the spans must
// arrive intact, trace ids, parents, links and messaging attributes included.
func TestOTLPRealCollector(t *testing.T) {
	bin := otelcolBinary(t)
	srvGRPC, urlGRPC := otlptest.Start(t)
	srvHTTP, urlHTTP := otlptest.Start(t)
	grpcPort, httpPort := freePort(t), freePort(t)
	// One pipeline per protocol, each to its own receiver of the test.
	cfg := fmt.Sprintf(`receivers:
  otlp/grpc:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
  otlp/http:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  otlphttp/grpc:
    traces_endpoint: %s/v1/traces
    compression: none
    retry_on_failure:
      enabled: false
  otlphttp/http:
    traces_endpoint: %s/v1/traces
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
    traces/grpc:
      receivers: [otlp/grpc]
      exporters: [otlphttp/grpc]
    traces/http:
      receivers: [otlp/http]
      exporters: [otlphttp/http]
`, grpcPort, httpPort, urlGRPC, urlHTTP)
	dir := t.TempDir()
	path := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config=file:"+path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the collector has exited, waitErr then says how.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("collector output:\n%s", logs.String())
		}
	}()

	// Wait until both receivers listen (or the collector died).
	deadline := time.Now().Add(60 * time.Second)
	for _, port := range []int{grpcPort, httpPort} {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("collector exited: %v", waitErr)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("collector not listening on %d after 60s", port)
			}
		}
	}

	for _, to := range []struct {
		endpoint string
		srv      *otlptest.Receiver
	}{{fmt.Sprintf("grpc://127.0.0.1:%d", grpcPort), srvGRPC}, {fmt.Sprintf("http://127.0.0.1:%d", httpPort), srvHTTP}} {
		exportTestFlows(t, to.endpoint)
		// The collector forwards asynchronously: wait for all five spans.
		var spans []*tracepb.Span
		for deadline := time.Now().Add(30 * time.Second); ; {
			spans = to.srv.Spans()
			if len(spans) >= 5 || time.Now().After(deadline) {
				break
			}
			select {
			case <-exited:
				t.Fatalf("collector exited: %v", waitErr)
			case <-time.After(20 * time.Millisecond):
			}
		}
		endpoint := to.endpoint
		t.Run(endpoint[:4], func(t *testing.T) { checkExported(t, spans) })
	}
}
