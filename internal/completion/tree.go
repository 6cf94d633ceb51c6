package completion

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// argKinds says, by command path, what each command's arguments are. A
// command missing here is classified from its Use line (commandArgKind), so a
// new command whose usage says SOURCE, TARGET, DLQ, GROUP or CONTEXT completes
// without an entry.
var argKinds = map[string]Kind{
	"eddy tail":        Addresses,
	"eddy ls":          Brokers,
	"eddy trace":       Trace,
	"eddy trace flows": Addresses,
	"eddy expect":      Addresses,
	"eddy lag":         Groups,
	"eddy lag serve":   Groups,
	"eddy replay":      Addresses,
	"eddy send":        Addresses,
	"eddy dlq ls":      Transport,
	"eddy dlq show":    Addresses,
	"eddy dlq redrive": Addresses,
	"eddy config use":  Contexts,
	"eddy config show": Contexts,
	"eddy config set":  Contexts,
	"eddy demo":        None,
	"eddy schema ls":   None,
	"eddy schema show": Subjects,
	"eddy version":     None,
}

// flagKinds says what a flag's value names, wherever the flag appears.
var flagKinds = map[string]Kind{
	"context": Contexts,
	"to":      Addresses,
	"group":   Groups,
}

// flagValues are the fixed choices of flags whose values are a closed set.
var flagValues = map[string][]string{
	"sasl-mechanism": {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"},
}

// commandArgKind classifies a command from the table, else from its usage.
func commandArgKind(c *cobra.Command) Kind {
	if k, ok := argKinds[c.CommandPath()]; ok {
		return k
	}
	use := strings.TrimPrefix(c.Use, c.Name())
	switch {
	case strings.Contains(use, "GROUP"):
		return Groups
	case strings.Contains(use, "SOURCE"), strings.Contains(use, "TARGET"), strings.Contains(use, "DLQ"),
		strings.Contains(use, "kafka:"), strings.Contains(use, "amqp:"):
		return Addresses
	case strings.Contains(use, "CONTEXT"):
		return Contexts
	}
	return None
}

// Func answers one completion request for a kind of name.
type Func func(ctx context.Context, kind Kind, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective)

// AddToTree gives every command in the tree dynamic completion of its
// arguments and of the flags that name something (a context, an address, a
// group), unless the command set its own; complete answers them. A flag
// whose values are a closed set completes them: sasl-mechanism's, and those
// choices returns for a flag (ok true). Applied once over the whole tree so
// commands need no completion code.
func AddToTree(root *cobra.Command, complete Func, choices func(*pflag.Flag) (values []string, ok bool)) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 && c.Runnable() && c != root {
			kind := commandArgKind(c)
			c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				k := kind
				if k == Trace {
					if len(args) == 0 {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					k = Addresses
				}
				return complete(cmd.Context(), k, toComplete)
			}
		}
		registerFlags(c, c.LocalNonPersistentFlags().VisitAll, complete, choices)
		registerFlags(c, c.PersistentFlags().VisitAll, complete, choices)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func registerFlags(c *cobra.Command, visit func(func(*pflag.Flag)), complete Func, choices func(*pflag.Flag) ([]string, bool)) {
	visit(func(fl *pflag.Flag) {
		if _, done := c.GetFlagCompletionFunc(fl.Name); done {
			return
		}
		values, ok := flagValues[fl.Name]
		if v, isChoice := choices(fl); isChoice {
			values, ok = v, true
		}
		if ok {
			_ = c.RegisterFlagCompletionFunc(fl.Name, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				out, d := Prefixed(values, "", toComplete), cobra.ShellCompDirectiveNoFileComp
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
			return complete(cmd.Context(), kind, toComplete)
		})
	})
}
