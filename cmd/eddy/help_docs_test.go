//go:build gendocs

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestGenDocs: `eddy gen-docs` writes a man page for every visible command
// and the four completion scripts; every page renders with man -l without a
// single warning from groff.
func TestGenDocs(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runEddy(t, nil, "gen-docs", dir); code != 0 {
		t.Fatalf("gen-docs: exit %d: %s", code, stderr)
	}
	f, _, _ := testFactory(false)
	var want []string
	visibleCommands(newRootCmd(f), func(c *cobra.Command) {
		if c.IsAvailableCommand() || c.Parent() == nil {
			want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		}
	})
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dir, "man", name)); err != nil {
			t.Errorf("no man page %s", name)
		}
	}
	for _, name := range []string{"eddy.bash", "_eddy", "eddy.fish", "eddy.ps1"} {
		if st, err := os.Stat(filepath.Join(dir, "completions", name)); err != nil || st.Size() < 1000 {
			t.Errorf("completion script %s missing or short: %v", name, err)
		}
	}

	man := requireShell(t, "man")
	pages, _ := filepath.Glob(filepath.Join(dir, "man", "*.1"))
	for _, p := range pages {
		cmd := exec.Command(man, "--warnings", "-l", p)
		cmd.Env = append(os.Environ(), "MANWIDTH=100", "LC_ALL=C.UTF-8", "MANPAGER=cat", "PAGER=cat")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v: %s", filepath.Base(p), err, stderr.String())
			continue
		}
		if !strings.Contains(string(out), "NAME") || !strings.Contains(string(out), "SYNOPSIS") {
			t.Errorf("man -l %s rendered no NAME/SYNOPSIS:\n%s", filepath.Base(p), out)
		}
	}
	if out, err := os.ReadFile(filepath.Join(dir, "man", "eddy-tail.1")); err != nil || !strings.Contains(string(out), ".SH EXIT STATUS") {
		t.Errorf("eddy-tail.1 has no EXIT STATUS section: %v", err)
	}
}
