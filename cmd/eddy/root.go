package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/helptext"
)

// version, commit and date are set by the release build's -ldflags.
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func newRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "eddy",
		Short:         "Tail, trace and redrive events on Kafka and RabbitMQ",
		Long:          helptext.Root,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// The command tree is the whole interface; a bare `eddy` shows help.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for eddy (eddy --help lists them)", args[0])
			}
			return cmd.Help()
		},
		Args: cobra.ArbitraryArgs,
		// An empty selector never means "everything" (safety.go).
		// -F and -X fold into the connection flags before anything resolves them.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkEmptyFlags(cmd); err != nil {
				return err
			}
			wrapOutput(cmd, f) // yamlout.go: -o yaml, --no-headers
			return f.Global.ApplyProperties(f.IO.ErrOut, f.Redactor)
		},
	}
	root.SetVersionTemplate("eddy {{.Version}}\n")
	f.Global.Bind(root.PersistentFlags())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usagef("%v (see '%s --help')", err, cmd.CommandPath())
	})

	root.AddGroup(helpGroups...) // help.go: commandGroups moves commands between them
	readCmds := []*cobra.Command{
		newCmdTail(f, nil),
		newCmdLs(f, nil),
		newCmdDemo(f, nil),
		newCmdTrace(f, nil), newCmdExpect(f, nil),
		newCmdLag(f, nil),
		newCmdServe(f, nil),
		newCmdReplay(f, nil),
		newCmdSend(f, nil),
		newCmdDLQ(f, nil),
		newCmdTUI(f, nil),
		newCmdSchema(f, nil),
	}
	for _, c := range readCmds {
		c.GroupID = "read"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newCmdConfig(f), newCmdVersion(f)} {
		c.GroupID = "setup"
		root.AddCommand(c)
	}
	root.AddCommand(&cobra.Command{
		Use:     "exit-codes",
		GroupID: "setup",
		Short:   "The exit codes every eddy command uses",
		Example: "  eddy exit-codes\n  eddy help exit-codes",
		Long:    "Every eddy command exits with one of these codes, so scripts can tell failures apart.\n\n" + exitCodesHelp,
	})
	finishTree(root, f) // help.go: examples, EXIT STATUS, completion
	return root
}

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print eddy's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(f.IO.Out, "eddy %s (commit %s, built %s)\n", version, commit, date)
			return nil
		},
	}
}
