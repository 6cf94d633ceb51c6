// Package cmdtree is what eddy applies once over its finished cobra command
// tree, so that no command file carries it: argument errors that are usage
// errors (exit 2) and say what is wrong, `help TOPIC` that refuses what is
// not a command, examples from a table, and a section (EXIT STATUS) that
// ends every runnable command's help. A command gets it all by being
// registered.
package cmdtree

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// StrictArgs makes every wrong use of a command's arguments a usage error
// (exit 2) that says what is wrong, over the whole tree. cobra's own argument
// checks return plain errors (exit 1), a command group given an unknown
// subcommand prints its help and exits 0, and `eddy help nosuch` shows the
// root's help: a script's typo would pass unnoticed.
func StrictArgs(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.Name() == "help" && c.Parent() == root:
			c.Run = nil
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(_ *cobra.Command, args []string) error { return helpTopic(root, args) }
		case !c.Runnable() && c != root:
			// A group or a help topic: `eddy dlq` alone shows its help,
			// `eddy dlq nosuch` is wrong.
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) > 0 && c.HasSubCommands() {
					return unknownSubcommand(c, args[0])
				}
				if len(args) > 0 {
					return cmdutil.Usagef("%s takes no arguments, got %q", commandName(c), args[0])
				}
				return c.Help()
			}
		case c.Args != nil:
			check := c.Args
			c.Args = func(c *cobra.Command, args []string) error {
				err := check(c, args)
				var ue *cmdutil.UsageError
				if err == nil || errors.As(err, &ue) {
					return err
				}
				if c.HasSubCommands() && len(args) > 0 {
					return unknownSubcommand(c, args[0])
				}
				return cmdutil.Usagef("%s %s (usage: %s)", commandName(c), argsWording(err), strings.TrimSuffix(c.UseLine(), " [flags]"))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// argsWording rewords cobra's argument errors: NoArgs says "unknown command",
// which reads as if a command were missing rather than an argument extra.
func argsWording(err error) string {
	msg := err.Error()
	if q, ok := strings.CutPrefix(msg, "unknown command "); ok {
		if i := strings.Index(q, " for "); i > 0 {
			return "takes no arguments, got " + q[:i]
		}
	}
	var want, got int
	if _, err := fmt.Sscanf(msg, "accepts %d arg(s), received %d", &want, &got); err == nil {
		return fmt.Sprintf("takes %d argument(s), got %d", want, got)
	}
	return msg
}

// commandName is c's path without the leading "eddy", as errors name it
// after their "eddy: " prefix.
func commandName(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

func unknownSubcommand(c *cobra.Command, name string) error {
	return cmdutil.Usagef("unknown command %q for %s ('%s --help' lists them)", name, commandName(c), c.CommandPath())
}

// helpTopic is `eddy help [COMMAND...]`: the command's help, or a usage error
// for a topic that is not a command.
func helpTopic(root *cobra.Command, args []string) error {
	c, rest, err := root.Find(args)
	if err != nil || c == nil || len(rest) > 0 {
		return cmdutil.Usagef("help: no command %q (eddy --help lists them)", strings.Join(args, " "))
	}
	c.InitDefaultHelpFlag()
	c.InitDefaultVersionFlag()
	return c.Help()
}

// AddExamples sets the Example of every command in the tree that has none
// from examples, keyed by command path.
func AddExamples(c *cobra.Command, examples map[string]string) {
	if c.Example == "" {
		c.Example = examples[c.CommandPath()]
	}
	for _, sub := range c.Commands() {
		AddExamples(sub, examples)
	}
}

// AddSection ends every runnable command's help with section (restic's
// habit for EXIT STATUS), so no one needs to hunt for it, unless its help
// already has heading.
func AddSection(c *cobra.Command, heading, section string) {
	if c.Runnable() && !strings.Contains(c.Long, heading) {
		long := c.Long
		if long == "" {
			long = c.Short
		}
		c.Long = long + "\n\n" + section
	}
	for _, sub := range c.Commands() {
		AddSection(sub, heading, section)
	}
}
