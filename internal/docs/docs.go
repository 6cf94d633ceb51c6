// Package docs writes the man pages and shell completion scripts of a cobra
// command tree, as the release archives carry them (gh's internal/docs).
package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Generate writes root's man pages into dir/man and its shell completion
// scripts into dir/completions and returns both directories. root must be a
// tree of its own: its help text is rewritten for roff. version names the
// pages' source; date (RFC 3339) dates them.
func Generate(root *cobra.Command, dir, version, date string) (manDir, compDir string, err error) {
	manDir = filepath.Join(dir, "man")
	compDir = filepath.Join(dir, "completions")
	for _, d := range []string{manDir, compDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
	}
	root.DisableAutoGenTag = true
	manText(root)
	header := &doc.GenManHeader{Title: "EDDY", Section: "1", Source: "eddy " + version, Manual: "eddy manual", Date: docDate(date)}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return "", "", fmt.Errorf("man pages: %w", err)
	}
	scripts := map[string]func(*os.File) error{
		"eddy.bash": func(w *os.File) error { return root.GenBashCompletionV2(w, true) },
		"_eddy":     func(w *os.File) error { return root.GenZshCompletion(w) },
		"eddy.fish": func(w *os.File) error { return root.GenFishCompletion(w, true) },
		"eddy.ps1":  func(w *os.File) error { return root.GenPowerShellCompletionWithDesc(w) },
	}
	for name, gen := range scripts {
		w, err := os.Create(filepath.Join(compDir, name))
		if err != nil {
			return "", "", err
		}
		if err := gen(w); err != nil {
			w.Close()
			return "", "", fmt.Errorf("completion %s: %w", name, err)
		}
		if err := w.Close(); err != nil {
			return "", "", err
		}
	}
	return manDir, compDir, nil
}

// docDate dates the man pages: the build date the release injected, else
// SOURCE_DATE_EPOCH (cobra's convention for reproducible builds), else now.
func docDate(date string) *time.Time {
	if t, err := time.Parse(time.RFC3339, date); err == nil {
		return &t
	}
	return nil // cobra: SOURCE_DATE_EPOCH, else now
}

// manText rewrites every command's help for the markdown that cobra turns
// into roff: indented blocks (tables, file examples) become literal blocks
// instead of reflowed paragraphs, and EXIT STATUS becomes a man section.
func manText(c *cobra.Command) {
	c.Long = manMarkdown(c.Long)
	for _, sub := range c.Commands() {
		manText(sub)
	}
}

func manMarkdown(s string) string {
	var b strings.Builder
	lines := strings.Split(s, "\n")
	inBlock := false
	for i, line := range lines {
		indented := strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
		switch {
		case line == "EXIT STATUS":
			b.WriteString("# EXIT STATUS\n")
			continue
		case indented && !inBlock:
			b.WriteString("```\n")
			inBlock = true
		case !indented && inBlock && (line != "" || !nextIndented(lines, i)):
			b.WriteString("```\n")
			inBlock = false
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if inBlock {
		b.WriteString("```\n")
	}
	return b.String()
}

// nextIndented reports whether the first non-empty line after i is indented:
// a blank line inside an indented block does not end it.
func nextIndented(lines []string, i int) bool {
	for _, l := range lines[i+1:] {
		if l != "" {
			return strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		}
	}
	return false
}
