package main

import (
	"context"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/schema"
)

// SchemaCmdOptions are `eddy schema ls`'s and `eddy schema show`'s flags
// and arguments.
type SchemaCmdOptions struct {
	// Subject and Version are show's SUBJECT[@VERSION]; Version -1 is the
	// latest.
	Subject string
	Version int
	Output  string
}

// schemaShowOutput is eddy schema show's -o.
var schemaShowOutput = &outputSpec{formats: []string{"text", "json", "yaml"}, def: "text",
	usage: "text, json or yaml (default text)"}

func newCmdSchema(f *Factory, runF func(context.Context, string, *SchemaCmdOptions) error) *cobra.Command {
	lo, so := &SchemaCmdOptions{}, &SchemaCmdOptions{}
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "List and show the schemas of a Schema Registry",
		Long:  helptext.Schema,
		Example: `  eddy schema ls --schema-registry http://127.0.0.1:8081
  eddy schema show orders-value`,
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the registry's subjects: versions, type, references, the topics that use them",
		Long:  helptext.SchemaLs,
		Example: `  # every subject of the context's registry, and the topics that use them
  eddy schema ls
  # another registry, as JSON
  eddy schema ls --schema-registry http://127.0.0.1:8081 -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), "ls", lo)
			}
			return schemaLsRun(c.Context(), f, lo)
		},
	}
	tableOutput.bind(ls.Flags(), &lo.Output)
	show := &cobra.Command{
		Use:   "show SUBJECT[@VERSION]",
		Short: "Show a subject's schema (the latest version, or VERSION): id, type, references, text",
		Long:  helptext.SchemaShow,
		Example: `  # the latest version of orders' value schema
  eddy schema show orders-value
  # version 2, as JSON
  eddy schema show orders-value@2 -o json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("schema show needs one SUBJECT[@VERSION], e.g. orders-value@3 (eddy schema ls lists them)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			var err error
			if so.Subject, so.Version, err = parseSubjectVersion(args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), "show", so)
			}
			return schemaShowRun(c.Context(), f, so)
		},
	}
	schemaShowOutput.bind(show.Flags(), &so.Output)
	for _, c := range []*cobra.Command{ls, show} {
		bindSchemaRegistryFlag(c.Flags(), &f.Schemas)
	}
	cmd.AddCommand(ls, show)
	return cmd
}

// parseSubjectVersion splits SUBJECT[@VERSION]: VERSION is a number >= 1 or
// "latest" (-1). A subject may itself hold @ (only the last one counts).
func parseSubjectVersion(s string) (string, int, error) {
	subject, version := s, -1
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		subject = s[:i]
		v := s[i+1:]
		if v != "latest" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return "", 0, safeUsagef("schema show %s: the version after @ is a number >= 1 or latest", strconv.Quote(s))
			}
			version = n
		}
	}
	if subject == "" {
		return "", 0, safeUsagef("schema show %s: no subject before @", strconv.Quote(s))
	}
	return subject, version, nil
}

// registryClient is the configured registry's client; a usage error (exit
// 2) when none is configured.
func registryClient(f *Factory) (*schema.Client, error) {
	c, err := f.SchemaClient()
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, usagef("no schema registry: name one with --schema-registry URL, EDDY_SCHEMA_REGISTRY or the context's schema-registry.url")
	}
	return c, nil
}

func schemaLsRun(ctx context.Context, f *Factory, o *SchemaCmdOptions) error {
	format := tableOutput.resolve(o.Output, f.IO)
	c, err := registryClient(f)
	if err != nil {
		return err
	}
	subjects, err := c.List(ctx)
	if err != nil {
		return err
	}
	// Which topics use a subject: TopicNameStrategy's TOPIC-value and
	// TOPIC-key, for the topics of the Kafka that is configured. A Kafka
	// that does not answer leaves the column empty, said on stderr (exit 3).
	var failures []error
	users := map[string][]string{}
	if _, _, explicit, err := f.kafkaSettings(); err != nil {
		return err
	} else if explicit {
		if topics, err := kafkaTopicNames(ctx, f); err != nil {
			failures = append(failures, err)
		} else {
			for _, t := range topics {
				users[t+"-value"] = append(users[t+"-value"], t)
				users[t+"-key"] = append(users[t+"-key"], t)
			}
		}
	}
	rows := make([]inspect.SchemaRow, len(subjects))
	for i, s := range subjects {
		rows[i] = inspect.SchemaRow{Subject: s.Name, Versions: s.Versions, ID: s.Latest.ID, Format: s.Latest.Format,
			References: inspectRefs(s.Latest.References), Topics: users[s.Name]}
	}
	if err := inspect.WriteSchemas(f.IO.Out, format, rows); err != nil {
		return err
	}
	return partial(f, failures)
}

// kafkaTopicNames lists the configured Kafka's non-internal topics.
func kafkaTopicNames(ctx context.Context, f *Factory) ([]string, error) {
	kc, err := f.Kafka()
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	ts, err := kc.Topics(ctx, false)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names, nil
}

func schemaShowRun(ctx context.Context, f *Factory, o *SchemaCmdOptions) error {
	c, err := registryClient(f)
	if err != nil {
		return err
	}
	s, err := c.Schema(ctx, o.Subject, o.Version)
	if err != nil {
		return err
	}
	versions, err := c.Versions(ctx, o.Subject)
	if err != nil {
		return err
	}
	return inspect.WriteSchema(f.IO.Out, o.Output, inspect.RegisteredSchema{Subject: s.Subject, Version: s.Version, Versions: versions,
		ID: s.ID, Format: s.Format, References: inspectRefs(s.References), Text: s.Text})
}

func inspectRefs(refs []schema.Reference) []inspect.SchemaRef {
	out := make([]inspect.SchemaRef, len(refs))
	for i, r := range refs {
		out[i] = inspect.SchemaRef{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return out
}
