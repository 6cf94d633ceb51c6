package main

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/internal/completion"
	"github.com/eddy-sh/eddy/internal/config"
)

// completionTimeout bounds how long a TAB may wait for a broker: a shell that
// hangs on completion is worse than one that offers nothing. A variable so a
// test can shorten it.
var completionTimeout = 2 * time.Second

// addCompletions gives every command in the tree dynamic completion of its
// arguments and of the flags that name something (completion.AddToTree);
// -o completes its command's formats.
func addCompletions(root *cobra.Command, f *Factory) {
	completion.AddToTree(root, func(ctx context.Context, kind completion.Kind, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return complete(ctx, f, kind, toComplete)
	}, func(fl *pflag.Flag) ([]string, bool) {
		if of, isOutput := fl.Value.(*outputFlag); isOutput {
			return of.spec.completions(), true
		}
		if fl.Name == "property" { // -X KEY=VALUE: the keys eddy maps
			keys := config.PropertyKeys()
			for i := range keys {
				keys[i] += "="
			}
			return keys, true
		}
		return nil, false
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
	}, Subjects: func(ctx context.Context) ([]string, error) {
		c, err := qf.SchemaClient()
		if err != nil || c == nil {
			return nil, err
		}
		return c.Subjects(ctx)
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
