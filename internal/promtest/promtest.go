// Package promtest starts a real, throwaway Prometheus server (Debian's
// prometheus package; scripts/brokers.sh installs it and exports its path in
// EDDY_TEST_PROMETHEUS) that scrapes a test's targets, and queries it through
// its HTTP API: what a user's Prometheus would compute from eddy's /metrics
// (histogram_quantile over classic and native histograms, rate, ratios) is
// what a test asserts on, not eddy's own reading of its registry.
//
// Without the binary a test is skipped, except in CI (CI=true or
// EDDY_REQUIRE_BROKERS set), where it fails.
package promtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// EnvPrometheus and EnvPromtool name the environment variables that hold the
// paths of the prometheus and promtool binaries (scripts/brokers.sh sets
// them).
const (
	EnvPrometheus = "EDDY_TEST_PROMETHEUS"
	EnvPromtool   = "EDDY_TEST_PROMTOOL"
)

// Config is what Start's Prometheus scrapes and how.
type Config struct {
	// Targets are the host:port addresses scraped, loopback only.
	Targets []string
	// MetricsPath is the path scraped on each target; "/metrics" when empty.
	MetricsPath string
	// JobName is the job label of the scraped series; "eddy" when empty.
	JobName string
	// ScrapeInterval is how often each target is scraped; 200ms when zero.
	// It is also the rule evaluation interval.
	ScrapeInterval time.Duration
	// RuleFiles are rule files (recording and alerting) the server loads.
	RuleFiles []string
	// ClassicHistograms keeps only the classic buckets (_bucket, _sum,
	// _count series) of histograms that have native buckets too: the server
	// runs without the native-histograms feature. By default it runs with it
	// and such a histogram is stored as a native histogram.
	ClassicHistograms bool
	// ExtraFlags are more command-line flags for prometheus.
	ExtraFlags []string
}

// Server is a running Prometheus of the test's own, on a free loopback port
// with its own data directory; it is killed when the test ends.
type Server struct {
	t      testing.TB
	dir    string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	api    v1.API
}

// Binary is the path of the prometheus binary from EDDY_TEST_PROMETHEUS; it
// skips the test without it, or fails it in CI.
func Binary(t testing.TB) string { t.Helper(); return binary(t, EnvPrometheus, "prometheus") }

// Promtool is the path of the promtool binary from EDDY_TEST_PROMTOOL; it
// skips the test without it, or fails it in CI.
func Promtool(t testing.TB) string { t.Helper(); return binary(t, EnvPromtool, "promtool") }

func binary(t testing.TB, env, name string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		if os.Getenv("EDDY_REQUIRE_BROKERS") != "" || os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: a real %s is required here (scripts/brokers.sh up installs Debian's prometheus and sets it)", env, name)
		}
		t.Skipf("%s is not set: no %s (scripts/brokers.sh up installs Debian's prometheus and sets it)", env, name)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v", env, path, err)
	}
	return path
}

// Start writes a configuration scraping cfg.Targets and starts prometheus,
// waiting (up to a minute) until it is ready. A port taken between choosing
// it and prometheus binding it is retried on another.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := Binary(t)
	for _, target := range cfg.Targets {
		host, _, err := net.SplitHostPort(target)
		if err != nil {
			t.Fatalf("promtest: target %q: %v", target, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("promtest: target %q is not a loopback address", target)
		}
	}
	if cfg.ScrapeInterval <= 0 {
		cfg.ScrapeInterval = 200 * time.Millisecond
	}
	if cfg.MetricsPath == "" {
		cfg.MetricsPath = "/metrics"
	}
	if cfg.JobName == "" {
		cfg.JobName = "eddy"
	}
	dir := t.TempDir()
	major, minor := version(t, bin)
	// From 3.8 on native histograms are scraped per scrape config (3.9 drops
	// the feature flag's effect); before, the flag alone turns them on.
	nativeSetting := major > 3 || major == 3 && minor >= 8
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(configYAML(cfg, nativeSetting)), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastLog string
	for attempt := 0; attempt < 3; attempt++ {
		s := &Server{t: t, dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))}
		err := s.start(bin, cfg)
		if err == nil {
			return s
		}
		lastLog = s.Log()
		if !strings.Contains(lastLog, "address already in use") {
			t.Fatalf("promtest: %v\n%s", err, lastLog)
		}
	}
	t.Fatalf("promtest: no free port for prometheus after 3 attempts:\n%s", lastLog)
	return nil
}

func (s *Server) start(bin string, cfg Config) error {
	args := []string{
		"--config.file=" + filepath.Join(s.dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(s.dir, "data"),
		"--web.listen-address=" + s.addr,
		// No look-up of the latest version, no console templates to find.
		"--web.console.templates=" + s.dir, "--web.console.libraries=" + s.dir,
		"--log.level=warn",
	}
	if !cfg.ClassicHistograms {
		// Prometheus 2.40 to 3.8: native histograms are a feature flag, and with
		// it on the scrape asks for the protobuf exposition that carries them.
		args = append(args, "--enable-feature=native-histograms")
	}
	args = append(args, cfg.ExtraFlags...)
	logf, err := os.OpenFile(s.file("prometheus.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting prometheus: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}(s.exited)
	s.t.Cleanup(s.Kill)
	client, err := api.NewClient(api.Config{Address: s.URL()})
	if err != nil {
		return err
	}
	s.api = v1.NewAPI(client)
	deadline := time.Now().Add(time.Minute)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.exited:
			s.cmd = nil
			return errors.New("prometheus exited while starting")
		default:
		}
		if resp, err := hc.Get(s.URL() + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("prometheus was not ready on %s within a minute", s.addr)
		}
		time.Sleep(50 * time.Millisecond) // poll /-/ready; the answer, not the time, ends the wait
	}
}

// version is prometheus's major and minor version, from --version
// ("prometheus, version 2.42.0+ds (branch: ...").
func version(t testing.TB, bin string) (major, minor int) {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%s --version: no version in %q", bin, out)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor
}

var versionRE = regexp.MustCompile(`version (\d+)\.(\d+)\.`)

func configYAML(cfg Config, nativeSetting bool) string {
	var b strings.Builder
	// %q quoting is valid YAML for these plain strings.
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		model.Duration(cfg.ScrapeInterval), model.Duration(cfg.ScrapeInterval), model.Duration(cfg.ScrapeInterval))
	if len(cfg.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range cfg.RuleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %q\n    metrics_path: %q\n", cfg.JobName, cfg.MetricsPath)
	if nativeSetting {
		fmt.Fprintf(&b, "    scrape_native_histograms: %t\n", !cfg.ClassicHistograms)
	}
	b.WriteString("    static_configs:\n      - targets: [")
	for i, target := range cfg.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", target)
	}
	b.WriteString("]\n")
	return b.String()
}

// Addr is the server's host:port; URL its base URL.
func (s *Server) Addr() string { return s.addr }

// URL is the server's base URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return "http://" + s.addr }

// API is the client_golang HTTP API client of the server, for what Query
// and WaitFor do not cover (range queries, rules, alerts, series).
func (s *Server) API() v1.API { return s.api }

// Log is the tail of what prometheus has logged so far, for a test's
// failure message.
func (s *Server) Log() string {
	log, _ := os.ReadFile(s.file("prometheus.log"))
	if len(log) > 8000 {
		log = log[len(log)-8000:]
	}
	return string(log)
}

// Kill ends prometheus with SIGKILL and waits for it to be gone; killing
// a server that is not running does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// Query evaluates an instant PromQL query now and returns its samples; a
// query whose result is a scalar comes back as one sample without labels.
// A result of another type (a matrix, a string) is an error.
func (s *Server) Query(ctx context.Context, promql string) (model.Vector, error) {
	val, _, _, err := s.api.Query(ctx, promql, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", promql, err)
	}
	switch v := val.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Metric: model.Metric{}, Value: v.Value, Timestamp: v.Timestamp}}, nil
	default:
		return nil, fmt.Errorf("query %s: a %s, not a vector", promql, val.Type())
	}
}

// QueryFloat evaluates promql and returns its single value: a result of
// no sample or of several is an error naming them.
func (s *Server) QueryFloat(ctx context.Context, promql string) (float64, error) {
	vec, err := s.Query(ctx, promql)
	if err != nil {
		return 0, err
	}
	return single(promql, vec)
}

func single(promql string, vec model.Vector) (float64, error) {
	if len(vec) != 1 {
		return 0, fmt.Errorf("query %s: %d samples, want 1: %v", promql, len(vec), vec)
	}
	if vec[0].Histogram != nil {
		return 0, fmt.Errorf("query %s: a native histogram sample, not a float: %v", promql, vec[0].Histogram)
	}
	return float64(vec[0].Value), nil
}

// WaitFor evaluates promql until cond holds for its result and returns that
// result. It gives up at ctx's deadline, or after a minute when ctx has
// none, with an error that says the last result (or query error) and the
// targets' health.
func (s *Server) WaitFor(ctx context.Context, promql string, cond func(model.Vector) bool) (model.Vector, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var (
		last    model.Vector
		lastErr error
	)
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		vec, err := s.Query(qctx, promql)
		cancel()
		if err == nil && cond(vec) {
			return vec, nil
		}
		// A query cut short by the deadline says nothing of the condition:
		// the error keeps what the last whole query answered.
		if ctx.Err() == nil || (lastErr == nil && last == nil) {
			last, lastErr = vec, err
		}
		select {
		case <-ctx.Done():
			what := fmt.Sprintf("last result %v", last)
			if lastErr != nil {
				what = "last error: " + lastErr.Error()
			}
			return last, fmt.Errorf("waiting for %s: %w (%s; targets: %s)", promql, ctx.Err(), what, s.targetsSummary())
		case <-tick.C:
		}
	}
}

// WaitForFloat waits until promql has a single float value for which cond
// holds, and returns it.
func (s *Server) WaitForFloat(ctx context.Context, promql string, cond func(float64) bool) (float64, error) {
	vec, err := s.WaitFor(ctx, promql, func(v model.Vector) bool {
		f, err := single(promql, v)
		return err == nil && cond(f)
	})
	if err != nil {
		return 0, err
	}
	return single(promql, vec)
}

// Target is one scrape target's state as the server sees it.
type Target struct {
	ScrapeURL  string
	Health     string // "up", "down" or "unknown" (not scraped yet)
	LastError  string
	LastScrape time.Time
}

// Targets is the health of the server's active targets.
func (s *Server) Targets(ctx context.Context) ([]Target, error) {
	res, err := s.api.Targets(ctx)
	if err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	out := make([]Target, 0, len(res.Active))
	for _, a := range res.Active {
		out = append(out, Target{ScrapeURL: a.ScrapeURL, Health: string(a.Health), LastError: a.LastError, LastScrape: a.LastScrape})
	}
	return out, nil
}

// WaitUp waits until every configured target has been scraped successfully
// at least once.
func (s *Server) WaitUp(ctx context.Context) error {
	_, err := s.WaitFor(ctx, `up`, func(v model.Vector) bool {
		ts, err := s.Targets(ctx)
		if err != nil || len(ts) == 0 {
			return false
		}
		for _, target := range ts {
			if target.Health != string(v1.HealthGood) {
				return false
			}
		}
		return true
	})
	return err
}

func (s *Server) targetsSummary() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ts, err := s.Targets(ctx)
	if err != nil {
		return err.Error()
	}
	parts := make([]string, 0, len(ts))
	for _, target := range ts {
		p := target.ScrapeURL + " " + target.Health
		if target.LastError != "" {
			p += " (" + target.LastError + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

func (s *Server) file(name string) string { return filepath.Join(s.dir, name) }

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
