package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// completionTimeout bounds how long a TAB may wait for a broker: a shell that
// hangs on completion is worse than one that offers nothing. A variable so a
// test can shorten it.
var completionTimeout = 2 * time.Second

// argKind is what a command's positional arguments name, for completion.
type argKind int

const (
	argNone      argKind = iota
	argAddresses         // kafka:TOPIC, amqp:QUEUE, file:PATH
	argBrokers           // kafka:TOPIC, amqp:QUEUE, and the bare kafka: / amqp:
	argTransport         // only kafka: and amqp:
	argGroups            // consumer group names, kafka:, amqp:, amqp:QUEUE
	argContexts          // context names from the config file
	argTrace             // an id first (nothing to offer), then addresses
)

// argKinds says, by command path, what each command's arguments are. A
// command missing here is classified from its Use line (commandArgKind), so a
// new command whose usage says SOURCE, TARGET, DLQ, GROUP or CONTEXT completes
// without an entry.
var argKinds = map[string]argKind{
	"eddy tail":        argAddresses,
	"eddy ls":          argBrokers,
	"eddy trace":       argTrace,
	"eddy trace flows": argAddresses,
	"eddy expect":      argAddresses,
	"eddy lag":         argGroups,
	"eddy lag serve":   argGroups,
	"eddy replay":      argAddresses,
	"eddy dlq ls":      argTransport,
	"eddy dlq show":    argAddresses,
	"eddy dlq redrive": argAddresses,
	"eddy config use":  argContexts,
	"eddy config show": argContexts,
	"eddy config set":  argContexts,
	"eddy demo":        argNone,
	"eddy version":     argNone,
}

// flagKinds says what a flag's value names, wherever the flag appears.
var flagKinds = map[string]argKind{
	"context": argContexts,
	"to":      argAddresses,
	"group":   argGroups,
}

// flagValues are the fixed choices of flags whose values are a closed set.
var flagValues = map[string][]string{
	"sasl-mechanism": {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
}

// commandArgKind classifies a command from the table, else from its usage.
func commandArgKind(c *cobra.Command) argKind {
	if k, ok := argKinds[c.CommandPath()]; ok {
		return k
	}
	use := strings.TrimPrefix(c.Use, c.Name())
	switch {
	case strings.Contains(use, "GROUP"):
		return argGroups
	case strings.Contains(use, "SOURCE"), strings.Contains(use, "TARGET"), strings.Contains(use, "DLQ"),
		strings.Contains(use, "kafka:"), strings.Contains(use, "amqp:"):
		return argAddresses
	case strings.Contains(use, "CONTEXT"):
		return argContexts
	}
	return argNone
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
				if k == argTrace {
					if len(args) == 0 {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					k = argAddresses
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
				out, d := prefixed(values, "", toComplete), cobra.ShellCompDirectiveNoFileComp
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

// complete answers one completion request. It never fails: whatever goes wrong
// (no config, an unreachable broker, a refused login) yields no candidates
// and no text, since anything printed would land in the user's command line.
func complete(parent context.Context, f *Factory, kind argKind, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, completionTimeout)
	defer cancel()
	qf := f.quiet()
	noFiles := cobra.ShellCompDirectiveNoFileComp
	switch kind {
	case argContexts:
		c, err := qf.Config()
		if err != nil {
			return nil, noFiles
		}
		return prefixed(c.names(), "", toComplete), noFiles
	case argTransport:
		return prefixed([]string{"kafka:", "amqp:"}, "", toComplete), noFiles
	case argGroups:
		if strings.HasPrefix(toComplete, "amqp:") {
			return completeAddress(ctx, qf, toComplete, false)
		}
		out := prefixed([]string{"kafka:", "amqp:"}, "", toComplete)
		if !strings.Contains(toComplete, ":") {
			out = append(out, withTimeout(ctx, func(ctx context.Context) []string { return kafkaGroups(ctx, qf) }, toComplete)...)
		}
		return out, noFiles
	case argAddresses, argBrokers:
		return completeAddress(ctx, qf, toComplete, kind == argAddresses)
	}
	return nil, noFiles
}

// completeAddress completes kafka:TOPIC, amqp:QUEUE and (when files is set)
// file:PATH; before the colon it offers the transports.
func completeAddress(ctx context.Context, f *Factory, toComplete string, files bool) ([]cobra.Completion, cobra.ShellCompDirective) {
	noFiles := cobra.ShellCompDirectiveNoFileComp
	scheme, _, found := strings.Cut(toComplete, ":")
	if !found {
		schemes := []string{"kafka:", "amqp:"}
		if files {
			schemes = append(schemes, "file:")
		}
		// No space after a scheme: the name follows it directly.
		return prefixed(schemes, "", toComplete), noFiles | cobra.ShellCompDirectiveNoSpace
	}
	switch scheme {
	case "kafka":
		return withTimeout(ctx, func(ctx context.Context) []string { return kafkaTopics(ctx, f) }, toComplete), noFiles
	case "amqp":
		return withTimeout(ctx, func(ctx context.Context) []string { return amqpQueues(ctx, f) }, toComplete), noFiles
	case "file":
		if files {
			return completeFiles(strings.TrimPrefix(toComplete, "file:")), noFiles | cobra.ShellCompDirectiveNoSpace
		}
	}
	return nil, noFiles
}

// withTimeout runs list in the background and gives up when ctx ends, so a
// client that ignores its context still cannot hold the shell; the results are
// filtered by prefix.
func withTimeout(ctx context.Context, list func(context.Context) []string, toComplete string) []string {
	done := make(chan []string, 1) // buffered: an abandoned lister still finishes
	go func() { done <- list(ctx) }()
	select {
	case names := <-done:
		return prefixed(names, "", toComplete)
	case <-ctx.Done():
		return nil
	}
}

func kafkaTopics(ctx context.Context, f *Factory) []string {
	c, err := f.Kafka()
	if err != nil {
		return nil
	}
	defer c.Close()
	topics, err := c.Topics(ctx, false)
	if err != nil {
		return nil
	}
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = "kafka:" + t.Name
	}
	return out
}

func kafkaGroups(ctx context.Context, f *Factory) []string {
	c, err := f.Kafka()
	if err != nil {
		return nil
	}
	defer c.Close()
	groups, err := c.Groups(ctx)
	if err != nil {
		return nil
	}
	return groups
}

func amqpQueues(ctx context.Context, f *Factory) []string {
	c, err := f.AMQP()
	if err != nil {
		return nil
	}
	defer func() { _ = c.Close() }()
	qs, err := c.Queues(ctx, nil)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(qs))
	for _, q := range qs {
		out = append(out, "amqp:"+q.Name)
	}
	slices.Sort(out)
	return out
}

// completeFiles lists the directory entries that start with partial, as
// file: addresses; directories end in / so completion can go on into them.
func completeFiles(partial string) []string {
	dir, base := filepath.Split(partial)
	readDir := dir
	if readDir == "" {
		readDir = "."
	}
	entries, err := os.ReadDir(readDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		out = append(out, "file:"+dir+name)
	}
	return out
}

// prefixed returns prefix+name for each name that, so prefixed, starts with
// toComplete. Names that would drive a terminal are left out rather than
// escaped: an escaped name would not be the real name on the command line.
func prefixed(names []string, prefix, toComplete string) []string {
	var out []string
	for _, n := range names {
		s := prefix + n
		if strings.HasPrefix(s, toComplete) && printable(s) {
			out = append(out, s)
		}
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\t' {
			return false
		}
	}
	return true
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
