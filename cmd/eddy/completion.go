package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/internal/completion"
)

// completionTimeout bounds how long a TAB may wait for a broker: a shell that
// hangs on completion is worse than one that offers nothing. A variable so a
// test can shorten it.
var completionTimeout = 2 * time.Second

// argKinds says, by command path, what each command's arguments are. A
// command missing here is classified from its Use line (commandArgKind), so a
// new command whose usage says SOURCE, TARGET, DLQ, GROUP or CONTEXT completes
// without an entry.
var argKinds = map[string]completion.Kind{
	"eddy tail":        completion.Addresses,
	"eddy ls":          completion.Brokers,
	"eddy trace":       completion.Trace,
	"eddy trace flows": completion.Addresses,
	"eddy expect":      completion.Addresses,
	"eddy lag":         completion.Groups,
	"eddy lag serve":   completion.Groups,
	"eddy replay":      completion.Addresses,
	"eddy dlq ls":      completion.Transport,
	"eddy dlq show":    completion.Addresses,
	"eddy dlq redrive": completion.Addresses,
	"eddy config use":  completion.Contexts,
	"eddy config show": completion.Contexts,
	"eddy config set":  completion.Contexts,
	"eddy demo":        completion.None,
	"eddy version":     completion.None,
}

// flagKinds says what a flag's value names, wherever the flag appears.
var flagKinds = map[string]completion.Kind{
	"context": completion.Contexts,
	"to":      completion.Addresses,
	"group":   completion.Groups,
}

// flagValues are the fixed choices of flags whose values are a closed set.
var flagValues = map[string][]string{
	"sasl-mechanism": {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
}

// commandArgKind classifies a command from the table, else from its usage.
func commandArgKind(c *cobra.Command) completion.Kind {
	if k, ok := argKinds[c.CommandPath()]; ok {
		return k
	}
	use := strings.TrimPrefix(c.Use, c.Name())
	switch {
	case strings.Contains(use, "GROUP"):
		return completion.Groups
	case strings.Contains(use, "SOURCE"), strings.Contains(use, "TARGET"), strings.Contains(use, "DLQ"),
		strings.Contains(use, "kafka:"), strings.Contains(use, "amqp:"):
		return completion.Addresses
	case strings.Contains(use, "CONTEXT"):
		return completion.Contexts
	}
	return completion.None
}

// addCompletions gives every command in the tree dynamic completion of its
// arguments and of the flags in flagKinds, unless the command set its own.
// Applied once over the whole tree so commands need no completion code.
func addCompletions(root *cobra.Command, f *Factory) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 && c.Runnable() && c != root {
			kind := commandArgKind(c)
			c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				k := kind
				if k == completion.Trace {
					if len(args) == 0 {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					k = completion.Addresses
				}
				return complete(cmd.Context(), f, k, toComplete)
			}
		}
		registerFlagCompletions(c, c.LocalNonPersistentFlags().VisitAll, f)
		registerFlagCompletions(c, c.PersistentFlags().VisitAll, f)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func registerFlagCompletions(c *cobra.Command, visit func(func(*pflag.Flag)), f *Factory) {
	visit(func(fl *pflag.Flag) {
		if _, done := c.GetFlagCompletionFunc(fl.Name); done {
			return
		}
		values, ok := flagValues[fl.Name]
		if of, isOutput := fl.Value.(*outputFlag); isOutput {
			values, ok = of.spec.completions(), true
		}
		if ok {
			_ = c.RegisterFlagCompletionFunc(fl.Name, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				out, d := completion.Prefixed(values, "", toComplete), cobra.ShellCompDirectiveNoFileComp
				if len(out) == 1 && strings.HasSuffix(out[0], "=") {
					d |= cobra.ShellCompDirectiveNoSpace // template=TEXT: the text follows
				}
				return out, d
			})
			return
		}
		kind, ok := flagKinds[fl.Name]
		if !ok {
			return
		}
		// The error is "already registered" at worst (a persistent flag seen
		// from a sub-command), which leaves the first registration in force.
		_ = c.RegisterFlagCompletionFunc(fl.Name, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return complete(cmd.Context(), f, kind, toComplete)
		})
	})
}

// complete answers one completion request (completion.Candidates) within
// completionTimeout. It never fails: whatever goes wrong (no config, an
// unreachable broker, a refused login) yields no candidates and no text,
// since anything printed would land in the user's command line.
func complete(parent context.Context, f *Factory, kind completion.Kind, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, completionTimeout)
	defer cancel()
	qf := f.quiet()
	src := completion.Sources{Kafka: qf.Kafka, AMQP: qf.AMQP, Contexts: func() ([]string, error) {
		c, err := qf.Config()
		if err != nil {
			return nil, err
		}
		return c.names(), nil
	}}
	names, noSpace := completion.Candidates(ctx, src, kind, toComplete)
	directive := cobra.ShellCompDirectiveNoFileComp
	if noSpace {
		directive |= cobra.ShellCompDirectiveNoSpace
	}
	return names, directive
}

// quiet returns a copy of f whose streams discard everything: warnings (say,
// --insecure's) and debug logs must not reach a shell that is completing.
func (f *Factory) quiet() *Factory {
	q := *f
	streams := *f.IO
	streams.Out, streams.ErrOut = io.Discard, io.Discard
	q.IO = &streams
	q.Global.Debug = false
	return &q
}
