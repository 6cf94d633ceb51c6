package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/internal/faultproxy"
)

// completions runs `eddy __complete ARGS...` in process and returns the
// candidates (the lines before the directive) and everything else it wrote.
func completions(t *testing.T, env map[string]string, args ...string) (cands []string, stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runEddy(t, env, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d, stderr %q", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %v: no directive line in %q", args, stdout)
	}
	for _, l := range lines[:len(lines)-1] {
		cand, _, _ := strings.Cut(l, "\t")
		cands = append(cands, cand)
	}
	return cands, stdout, stderr
}

// TestCompletionKafka: topics and consumer groups of the cluster in force are
// offered, for arguments and for flags, and filtered by what was typed.
func TestCompletionKafka(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 2)
	group := kafkatest.UniqueName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offsets := kadm.Offsets{}
	offsets.AddOffset(topic, 0, 0, -1)
	if _, err := kafkatest.Admin(t, seeds).CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ",")}

	cands, _, _ := completions(t, env, "tail", "kafka:")
	if !slices.Contains(cands, "kafka:"+topic) {
		t.Errorf("tail kafka: offered %q, want kafka:%s", cands, topic)
	}
	cands, _, _ = completions(t, env, "tail", "kafka:"+topic[:len(topic)-3])
	if !slices.Equal(cands, []string{"kafka:" + topic}) {
		t.Errorf("tail with a prefix offered %q, want only kafka:%s", cands, topic)
	}
	cands, _, _ = completions(t, env, "tail", "")
	if !slices.Equal(cands, []string{"kafka:", "amqp:", "file:"}) {
		t.Errorf("tail with nothing typed offered %q", cands)
	}
	cands, _, _ = completions(t, env, "replay", "kafka:"+topic, "--to", "kafka:")
	if !slices.Contains(cands, "kafka:"+topic) {
		t.Errorf("replay --to kafka: offered %q", cands)
	}
	cands, _, _ = completions(t, env, "lag", "")
	if !slices.Contains(cands, group) {
		t.Errorf("lag offered %q, want group %s", cands, group)
	}
	cands, _, _ = completions(t, env, "trace", "")
	if !slices.Equal(cands, []string{"flows"}) { // the sub-command, and no topics: the argument is an id
		t.Errorf("trace's first argument is an id, yet %q was offered", cands)
	}
	cands, _, _ = completions(t, env, "trace", "o-1", "kafka:")
	if !slices.Contains(cands, "kafka:"+topic) {
		t.Errorf("trace ID kafka: offered %q", cands)
	}
}

// TestCompletionContexts: context names from the config file, for config use
// and for --context anywhere.
func TestCompletionContexts(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("current-context: b\ncontexts:\n  alpha: {}\n  beta: {}\n  b: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"EDDY_CONFIG": cfg}
	cands, _, _ := completions(t, env, "config", "use", "")
	if !slices.Equal(cands, []string{"alpha", "b", "beta"}) {
		t.Errorf("config use offered %q", cands)
	}
	cands, _, _ = completions(t, env, "tail", "--context", "b")
	if !slices.Equal(cands, []string{"b", "beta"}) {
		t.Errorf("--context b offered %q", cands)
	}
	cands, _, _ = completions(t, env, "ls", "--sasl-mechanism", "SCRAM")
	if !slices.Equal(cands, []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}) {
		t.Errorf("--sasl-mechanism offered %q", cands)
	}
}

// TestCompletionSilentOnFailure: a broker that accepts connections and never
// answers, a refused port, a broken config file: completion still ends (its
// own timeout, not the command's 10 s), offers nothing and prints no error —
// anything printed would land on the user's command line.
func TestCompletionSilentOnFailure(t *testing.T) {
	old := completionTimeout
	completionTimeout = 300 * time.Millisecond
	t.Cleanup(func() { completionTimeout = old })

	hole := faultproxy.Silent(t)
	badCfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(badCfg, []byte("contexts: [not a map\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"kafka black hole", map[string]string{"EDDY_BROKERS": hole}, []string{"tail", "kafka:"}},
		{"kafka groups black hole", map[string]string{"EDDY_BROKERS": hole}, []string{"lag", "x"}},
		{"kafka refused", map[string]string{"EDDY_BROKERS": "127.0.0.1:1"}, []string{"tail", "kafka:"}},
		{"amqp black hole", map[string]string{"EDDY_AMQP_URL": "amqp://guest:secret@" + hole + "/", "EDDY_AMQP_MGMT_URL": "http://guest:secret@" + hole}, []string{"tail", "amqp:"}},
		{"broken config", map[string]string{"EDDY_CONFIG": badCfg}, []string{"config", "use", ""}},
		{"broken config, topics", map[string]string{"EDDY_CONFIG": badCfg}, []string{"tail", "kafka:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				cands          []string
				stdout, stderr string
			}
			done := make(chan result, 1)
			go func() {
				c, o, e := completions(t, tc.env, tc.args...)
				done <- result{c, o, e}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(60 * time.Second): // a hang, not a speed limit
				t.Fatal("completion did not end while the broker never answered")
			}
			if len(r.cands) != 0 {
				t.Errorf("offered %q", r.cands)
			}
			for _, out := range []string{r.stdout, r.stderr} {
				if strings.Contains(out, "eddy:") || strings.Contains(strings.ToLower(out), "error") || strings.Contains(out, "secret") {
					t.Errorf("completion printed an error: %q", out)
				}
			}
		})
	}
}

// requireShell finds a shell for the completion tests; CI installs them all
// (.ci/run), so there a missing one fails instead of skipping.
func requireShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if requireBrokers() {
			t.Fatalf("%s is not installed, and CI requires it (apt-get install %s)", name, name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// TestCompletionScriptsLoad: the generated scripts load in their shells
// without a word on stderr, and in bash and fish the real completion
// machinery, calling the eddy binary, offers a topic of the cluster.
func TestCompletionScriptsLoad(t *testing.T) {
	bin := eddyBinary(t)
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	dir := filepath.Dir(bin)
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"EDDY_BROKERS="+strings.Join(seeds, ","), "XDG_CONFIG_HOME="+t.TempDir(), "HOME="+t.TempDir())
	script := func(shell string) string {
		code, out, errOut := runEddy(t, nil, "completion", shell)
		if code != 0 || errOut != "" {
			t.Fatalf("completion %s: exit %d, %s", shell, code, errOut)
		}
		p := filepath.Join(t.TempDir(), "eddy."+shell)
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(t *testing.T, shell string, args ...string) string {
		t.Helper()
		cmd := exec.Command(shell, args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%s %q: %v\nstderr: %s", shell, args, err, stderr.String())
		}
		return string(out)
	}

	t.Run("bash", func(t *testing.T) {
		sh := requireShell(t, "bash")
		const bc = "/usr/share/bash-completion/bash_completion"
		if _, err := os.Stat(bc); err != nil {
			if requireBrokers() {
				t.Fatalf("%s missing, and CI requires it (apt-get install bash-completion)", bc)
			}
			t.Skip("bash-completion is not installed")
		}
		f := script("bash")
		run(t, sh, "-c", "source "+f+" && complete -p eddy")
		// What bash does on TAB after "eddy tail kafka:": ':' is a word break.
		got := run(t, sh, "-c", `source `+bc+` && source `+f+` && COMP_LINE="eddy tail kafka:" COMP_POINT=16 COMP_WORDS=(eddy tail kafka :) COMP_CWORD=3 && __start_eddy 2>/dev/null; printf '%s\n' "${COMPREPLY[@]}"`)
		if !slices.Contains(strings.Fields(got), topic) {
			t.Errorf("bash offered %q, want %s", got, topic)
		}
	})
	t.Run("zsh", func(t *testing.T) {
		sh := requireShell(t, "zsh")
		f := script("zsh")
		run(t, sh, "-f", "-c", "autoload -U compinit && compinit -u -D && source "+f+" && whence -w _eddy")
	})
	t.Run("fish", func(t *testing.T) {
		sh := requireShell(t, "fish")
		f := script("fish")
		got := run(t, sh, "--no-config", "-c", "source "+f+"; complete -C'eddy tail kafka:'")
		if !strings.Contains(got, "kafka:"+topic) {
			t.Errorf("fish offered %q, want kafka:%s", got, topic)
		}
	})
}
