package main

import (
	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/cmdtree"
	"github.com/eddy-sh/eddy/internal/helptext"
)

// Command groups of `eddy --help`, kubectl-style: what a person wants to do,
// not how eddy is built.
var helpGroups = []*cobra.Group{
	{ID: "read", Title: "Reading events:"},
	{ID: "health", Title: "Checking health:"},
	{ID: "move", Title: "Moving events:"},
	{ID: "setup", Title: "Setting up:"},
}

// commandGroups moves top-level commands out of the group root.go registered
// them in. A command missing here keeps the group it was given.
var commandGroups = map[string]string{
	"lag":        "health",
	"expect":     "health",
	"replay":     "move",
	"send":       "move",
	"dlq":        "move",
	"demo":       "setup",
	"config":     "setup",
	"version":    "setup",
	"completion": "setup",
}

// helpExamples are the examples of commands that do not carry their own
// (helptext.Examples).
var helpExamples = helptext.Examples

// extraCommands are commands only some builds have: the gen-docs build
// (-tags gendocs, help_docs.go) adds its hidden `eddy gen-docs`, which links
// cobra/doc and md2man, to no released binary.
var extraCommands []func(*Factory) *cobra.Command

// finishTree is applied once to the whole command tree after every command is
// registered: groups, examples, EXIT STATUS sections, the completion command
// and dynamic completion. Doing it over the tree keeps command files free of
// it, and a new command gets it all by being registered.
func finishTree(root *cobra.Command, f *Factory) {
	for _, g := range helpGroups {
		if !root.ContainsGroup(g.ID) {
			root.AddGroup(g)
		}
	}
	for _, extra := range extraCommands {
		root.AddCommand(extra(f))
	}
	// cobra's completion command binds its output stream when it is made.
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetCompletionCommandGroupID("setup")
	root.SetHelpCommandGroupID("setup")
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag() // now, not at Execute: docs and tests see it
	cmdtree.StrictArgs(root)      // argument errors are exit 2
	for _, c := range root.Commands() {
		if g, ok := commandGroups[c.Name()]; ok {
			c.GroupID = g
		}
	}
	cmdtree.AddExamples(root, helpExamples)
	cmdtree.AddSection(root, "EXIT STATUS", exitCodesHelp)
	addCompletions(root, f)
}
