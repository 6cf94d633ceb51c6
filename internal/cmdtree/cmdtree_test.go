package cmdtree

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/cmdutil"
)

func tree() *cobra.Command {
	root := &cobra.Command{Use: "eddy", SilenceErrors: true, SilenceUsage: true}
	grp := &cobra.Command{Use: "dlq", Short: "dead letters"}
	grp.AddCommand(&cobra.Command{Use: "show DLQ", Short: "show", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(grp, &cobra.Command{Use: "version", Short: "version", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return nil }})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	StrictArgs(root)
	AddExamples(root, map[string]string{"eddy version": "  eddy version"})
	AddSection(root, "EXIT STATUS", "EXIT STATUS\n  0 ok")
	return root
}

// TestStrictArgs: every wrong use of arguments is a usage error that says
// what is wrong, groups included; help of what is not a command is refused.
func TestStrictArgs(t *testing.T) {
	for args, want := range map[string]string{
		"version x":     `version takes no arguments, got "x" (usage: eddy version)`,
		"dlq show":      "dlq show takes 1 argument(s), got 0 (usage: eddy dlq show DLQ)",
		"dlq nosuch":    `unknown command "nosuch" for dlq ('eddy dlq --help' lists them)`,
		"help dlq nope": `help: no command "dlq nope" (eddy --help lists them)`,
	} {
		root := tree()
		root.SetArgs(strings.Fields(args))
		err := root.Execute()
		var ue *cmdutil.UsageError
		if !errors.As(err, &ue) || err.Error() != want {
			t.Errorf("%s: got %v, want usage error %q", args, err, want)
		}
	}
}

// TestSectionsAndExamples: runnable commands (groups too, once StrictArgs
// made them show their help) end with the section, once; a command without
// examples gets the table's.
func TestSectionsAndExamples(t *testing.T) {
	root := tree()
	v, _, _ := root.Find([]string{"version"})
	g, _, _ := root.Find([]string{"dlq"})
	AddSection(root, "EXIT STATUS", "EXIT STATUS\n  0 ok")
	if v.Long != "version\n\nEXIT STATUS\n  0 ok" || g.Long != "dead letters\n\nEXIT STATUS\n  0 ok" {
		t.Errorf("version: %q, dlq: %q", v.Long, g.Long)
	}
	if v.Example != "  eddy version" {
		t.Errorf("example: %q", v.Example)
	}
}
