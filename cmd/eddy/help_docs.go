//go:build gendocs

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/docs"
)

func init() { extraCommands = append(extraCommands, newCmdGenDocs) }

// newCmdGenDocs is the hidden `eddy gen-docs DIR` of the gen-docs program,
// `go run -tags gendocs ./cmd/eddy gen-docs DIR`, that the release build runs
// (.goreleaser.yaml's before hook): man pages into DIR/man and shell
// completion scripts into DIR/completions, from the same command tree users
// get, so they cannot drift from the binary. The build tag keeps cobra/doc,
// md2man and blackfriday out of the eddy that ships; the command tree lives
// in package main, so the generator is this package built with one more
// file rather than a program of its own that would need the tree exported.
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
