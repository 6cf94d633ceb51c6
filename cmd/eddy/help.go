package main

import (
	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/cmdtree"
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
	"dlq":        "move",
	"demo":       "setup",
	"config":     "setup",
	"version":    "setup",
	"completion": "setup",
}

// helpExamples are the examples of commands that do not carry their own
// (Example set in the command wins), keyed by command path. Every line that
// starts with "eddy" must parse (TestHelpExamplesParse), and the commands run
// against `eddy demo` unless the comment above them says otherwise.
var helpExamples = map[string]string{
	"eddy": `  # try everything on the embedded demo (another terminal for the rest)
  eddy demo
  eddy ls --context demo
  eddy tail 'kafka:/.*/' --context demo
  eddy trace ord-0a41b51cd6 --context demo --flow shop
  eddy lag --context demo
  eddy dlq ls --context demo`,
	"eddy version": `  eddy version
  eddy --version`,
	"eddy config": `  eddy config set local --brokers 127.0.0.1:9092 --use
  eddy config list
  eddy config show`,
	"eddy config list": `  eddy config list`,
	"eddy config use": `  eddy config use demo
  # one command in another context, without switching
  eddy ls --context staging`,
	"eddy config show": `  # the current context, secrets masked
  eddy config show
  eddy config show demo`,
	"eddy dlq": `  eddy dlq ls --context demo
  eddy dlq show kafka:payments.DLT --context demo`,
	"eddy dlq ls": `  # dead-letter topics of the demo: count, age, top error, origins
  eddy dlq ls --context demo
  # RabbitMQ's dead-letter queues too, as JSON
  eddy dlq ls kafka: amqp: -o json
  # names of your own convention
  eddy dlq ls --suffix .failed --contains parking-lot`,
	"eddy dlq show": `  # why did payments fail?
  eddy dlq show kafka:payments.DLT --context demo
  eddy dlq show amqp:orders.dlq -o json --ids 20
  eddy dlq show file:dlt.jsonl`,
	"eddy dlq ledger": `  # the jobs that replays and redrives recorded
  eddy dlq ledger
  # a shared ledger on Redis, as JSON
  eddy dlq ledger ls --ledger redis://127.0.0.1:6379/0 -o json`,
	"eddy dlq ledger ls": `  eddy dlq ledger ls
  eddy dlq ledger ls -o json`,
	"eddy dlq ledger show": `  # one job's counts and the ids whose outcome is unknown
  eddy dlq ledger show r-1f2e3d4c --limit 20`,
	"eddy dlq ledger prune": `  # forget completed entries older than a week
  eddy dlq ledger prune --older-than 7d --completed-only
  # everything of one job
  eddy dlq ledger prune --job r-1f2e3d4c`,
	"eddy completion": `  # bash, this shell only
  source <(eddy completion bash)
  # zsh, every new shell
  eddy completion zsh > "${fpath[1]}/_eddy"`,
	"eddy completion bash": `  source <(eddy completion bash)
  eddy completion bash > /etc/bash_completion.d/eddy`,
	"eddy completion zsh": `  source <(eddy completion zsh)
  eddy completion zsh > "${fpath[1]}/_eddy"`,
	"eddy completion fish": `  eddy completion fish | source
  eddy completion fish > ~/.config/fish/completions/eddy.fish`,
	"eddy completion powershell": `  eddy completion powershell | Out-String | Invoke-Expression`,
}

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
	root.AddCommand(newCmdGenDocs(f))
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
