package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newCmdGenDocs is the hidden `eddy gen-docs DIR` the release build runs
// (.goreleaser.yaml's before hook): man pages into DIR/man and shell
// completion scripts into DIR/completions, from the same command tree users
// get, so they cannot drift from the binary.
func newCmdGenDocs(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write man pages and shell completions into DIR (for packaging)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(f, args[0])
		},
	}
}

func genDocs(f *Factory, dir string) error {
	manDir := filepath.Join(dir, "man")
	compDir := filepath.Join(dir, "completions")
	for _, d := range []string{manDir, compDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// A tree of its own: the man pages get their text rewritten for roff.
	root := newRootCmd(newFactory(&IOStreams{In: f.IO.In, Out: f.IO.Out, ErrOut: f.IO.ErrOut}, f.Getenv, f.Redactor))
	root.DisableAutoGenTag = true
	manText(root)
	header := &doc.GenManHeader{Title: "EDDY", Section: "1", Source: "eddy " + version, Manual: "eddy manual", Date: docDate()}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return fmt.Errorf("man pages: %w", err)
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
			return err
		}
		if err := gen(w); err != nil {
			w.Close()
			return fmt.Errorf("completion %s: %w", name, err)
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(f.IO.ErrOut, "eddy: wrote man pages to %s and completions to %s\n", manDir, compDir)
	return nil
}

// docDate dates the man pages: the build date the release injected, else
// SOURCE_DATE_EPOCH (cobra's convention for reproducible builds), else now.
func docDate() *time.Time {
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
