package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/docs"
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
	// A tree of its own: the man pages get their text rewritten for roff.
	root := newRootCmd(newFactory(&IOStreams{In: f.IO.In, Out: f.IO.Out, ErrOut: f.IO.ErrOut}, f.Getenv, f.Redactor))
	manDir, compDir, err := docs.Generate(root, dir, version, date)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "eddy: wrote man pages to %s and completions to %s\n", manDir, compDir)
	return nil
}
