package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/config"
	"github.com/eddy-sh/eddy/replay"
)

// Flags that several commands share are declared here, once, as groups
// (restic's habit): a bind that declares them with one help text, and what
// resolves their values lives next to it (bus.ParseRange for positions,
// Factory.OpenLedger for the ledger, outputSpec.resolve for -o).

// Positions: --from and --until, where a read starts and where it stops.
const (
	fromHelp  = "where to start: beginning, end, OFFSET, -N, RFC3339 time or -DURATION"
	untilHelp = "where to stop: end, OFFSET, RFC3339 time or -DURATION"
)

// bindPositions declares --from (unless from is nil: expect starts at
// --since) and --until with their defaults. An empty default is a behaviour,
// not a value (tail starts at the end and follows), which the help says;
// pflag shows any other default itself.
func bindPositions(fs *pflag.FlagSet, from, until *string, fromDefault, untilDefault string) {
	if from != nil {
		fs.StringVar(from, "from", fromDefault, fromHelp+emptyDefault(fromDefault, "end"))
	}
	fs.StringVar(until, "until", untilDefault, untilHelp+emptyDefault(untilDefault, "follow"))
}

func emptyDefault(def, means string) string {
	if def != "" {
		return ""
	}
	return " (default: " + means + ")"
}

// Ledger: --ledger and, on the commands that write it, --ledger-ttl.

// ledgerFlagHelp is --ledger's help, the same for every command that has it.
const ledgerFlagHelp = "the ledger: a bbolt file (default $XDG_STATE_HOME/eddy/ledger.db) or a shared redis://[:PASSWORD@]HOST:PORT/DB (env EDDY_LEDGER)"

// bindLedgerFlags defines --ledger, and --ledger-ttl unless ttl is nil (only
// writers set an entry's TTL: replay and dlq redrive have it, dlq ls, show
// and ledger do not). Factory.OpenLedger resolves them.
func bindLedgerFlags(fs *pflag.FlagSet, spec *string, ttl *time.Duration) {
	fs.StringVar(spec, "ledger", "", ledgerFlagHelp)
	if ttl == nil {
		return
	}
	*ttl = replay.DefaultLedgerTTL
	fs.Var((*days)(ttl), "ledger-ttl", "forget ledger entries this long after they were last written (e.g. 30d, 12h; 0: never)")
}

// days is a duration flag that also takes whole days ("30d"), which is how
// ledger ages are thought of.
type days time.Duration

func (d *days) String() string { return formatDays(time.Duration(*d)) }
func (d *days) Type() string   { return "duration" }
func (d *days) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if v, err := strconv.ParseUint(n, 10, 16); err == nil {
			return time.Duration(v) * 24 * time.Hour, nil
		}
	} else if v, err := time.ParseDuration(s); err == nil && v >= 0 {
		return v, nil
	}
	return 0, fmt.Errorf("%q is not a duration like 30d, 12h or 90m", s)
}

func formatDays(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// Output: -o/--output, gh's StringEnumFlag. What a command writes is a
// closed set of formats, named in its help and completed by the shell
// (completion.go); any other value is refused when the flag is parsed, with
// one wording for every command (exit 2, before anything connects).

// outputSpec is one command's -o: its formats and its default.
type outputSpec struct {
	formats []string // listed in the error and completed
	also    []string // accepted too, not offered (older spellings)
	// accept replaces the check against formats and also, for a format
	// that takes a value (tail's template=TEXT).
	accept func(string) bool
	// def is the flag's value when not given. When it is "", the format is
	// chosen at run time (resolve): onTTY when stdout is a terminal, else
	// inPipe; and -o "" means that too.
	def, onTTY, inPipe string
	usage              string
}

var (
	// tableOutput is -o of the listings: ls, dlq ls and show, dlq ledger
	// ls and show.
	tableOutput = &outputSpec{formats: []string{"table", "tsv", "json", "yaml"}, onTTY: "table", inPipe: "tsv",
		usage: "table, tsv, json or yaml (default: table on a terminal, tsv in a pipe)"}
	// lagOutput: lagRun also makes jsonl the default in a pipe with --watch.
	lagOutput = &outputSpec{formats: []string{"table", "tsv", "json", "jsonl", "yaml"}, onTTY: "table", inPipe: "tsv",
		usage: "table, tsv, json, jsonl or yaml (default: table on a terminal; tsv in a pipe, jsonl with --watch)"}
	tailOutput = &outputSpec{formats: []string{"pretty", "jsonl", "raw", "template=TEXT"}, onTTY: "pretty", inPipe: "jsonl",
		accept: func(s string) bool { _, _, err := inspect.ParseFormat(s); return err == nil },
		usage:  "pretty, jsonl, raw or template=TEXT (default: pretty on a terminal, jsonl in a pipe)"}
	// traceOutput is trace's, trace flows' and expect's: "" is text.
	traceOutput = &outputSpec{formats: []string{"text", "json", "yaml"}, also: []string{"pretty"},
		usage: "text, json or yaml (default text)"}
	// summaryOutput is replay's and dlq redrive's.
	summaryOutput = &outputSpec{formats: []string{"text", "json", "yaml"}, def: "text",
		usage: "the summary as text (on stderr), json or yaml (on stdout)"}
)

// bind declares -o/--output bound to p, set to the default, and, where
// the formats include tsv, --no-headers.
func (s *outputSpec) bind(fs *pflag.FlagSet, p *string) {
	*p = s.def
	v := &outputFlag{p: p, spec: s}
	fs.VarP(v, "output", "o", s.usage)
	if slices.Contains(s.formats, "tsv") {
		fs.BoolVar(&v.noHeaders, "no-headers", false, "table and tsv: leave out the header lines (kubectl's)")
	}
}

// resolve is the format to write: the one given, else the default for where
// stdout goes.
func (s *outputSpec) resolve(v string, io *IOStreams) string {
	switch {
	case v != "":
		return v
	case io.OutTTY:
		return s.onTTY
	}
	return s.inPipe
}

// completions are the formats as a shell offers them: template= without
// its placeholder.
func (s *outputSpec) completions() []string {
	out := make([]string, len(s.formats))
	for i, f := range s.formats {
		if name, _, takesValue := strings.Cut(f, "="); takesValue {
			f = name + "="
		}
		out[i] = f
	}
	return out
}

// outputFlag is the pflag.Value of -o: a string that must be one of the
// spec's formats.
type outputFlag struct {
	p    *string
	spec *outputSpec
	// yaml: -o yaml, which the command sees as json and cmd/eddy converts
	// as it is written (yamlout.go), so YAML says exactly what JSON says.
	// noHeaders: --no-headers.
	yaml, noHeaders bool
}

func (v *outputFlag) Type() string { return "string" }
func (v *outputFlag) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (v *outputFlag) Set(s string) error {
	ok := s == "" && v.spec.def == ""
	switch {
	case ok:
	case v.spec.accept != nil:
		ok = v.spec.accept(s)
	default:
		ok = slices.Contains(v.spec.formats, s) || slices.Contains(v.spec.also, s)
	}
	if !ok {
		// A usage error (exit 2) also where no root maps flag errors.
		return usagef("want %s", orList(v.spec.formats))
	}
	v.yaml = s == "yaml"
	if v.yaml {
		s = "json"
	}
	*v.p = s
	return nil
}

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Schemas: --schema-registry, --value-schema, --key-schema, --validate and
// --no-decode, on the commands that read payloads (tail, trace, trace flows,
// expect, dlq show, tui). Factory.Decoder resolves them (flags, then
// EDDY_SCHEMA_REGISTRY, then the context; internal/config's
// Resolver.Schema). replay and dlq redrive have none: they copy bytes.

// schemaRegistryHelp is --schema-registry's help, the same everywhere.
const schemaRegistryHelp = "the Schema Registry (Confluent API): http[s]://HOST:PORT[/PATH] (env EDDY_SCHEMA_REGISTRY; default: the context's schema-registry)"

// bindSchemaFlags declares the schema flags on fs, bound to o (the
// Factory's: one command runs per process).
func bindSchemaFlags(fs *pflag.FlagSet, o *config.SchemaOptions) {
	fs.Var(registryFlag{&o.Registry}, "schema-registry", "decode Avro, Protobuf and JSON Schema payloads with "+strings.TrimPrefix(schemaRegistryHelp, "the "))
	fs.StringArrayVar(&o.ValueSchemas, "value-schema", nil, "decode TOPIC's values with a local schema: TOPIC=FILE[#MESSAGE] (.avsc, .proto or a directory of them, .binpb, .json; repeatable)")
	fs.StringArrayVar(&o.KeySchemas, "key-schema", nil, "decode TOPIC's keys with a local schema: TOPIC=FILE[#MESSAGE] (repeatable)")
	fs.BoolVar(&o.Validate, "validate", false, "JSON Schema: check payloads against their schema; one that does not match shows as invalid")
	fs.BoolVar(&o.NoDecode, "no-decode", false, "decode no payload with a schema, whatever the flags, environment or context configure")
}

// bindSchemaRegistryFlag declares --schema-registry alone: eddy schema ls
// and show, and eddy ls's subject column.
func bindSchemaRegistryFlag(fs *pflag.FlagSet, o *config.SchemaOptions) {
	fs.Var(registryFlag{&o.Registry}, "schema-registry", schemaRegistryHelp)
}

// registryFlag is --schema-registry: a string that cannot be given empty.
// Unset falls back to the environment and the context; an explicit
// --schema-registry= (an unset shell variable, most often) would otherwise
// silently fall back too, and decode with a registry the user meant to
// replace. --no-decode is how to say "no registry".
type registryFlag struct{ p *string }

func (f registryFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}
func (f registryFlag) Type() string { return "url" }
func (f registryFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty: give http[s]://HOST:PORT[/PATH], or --no-decode to decode nothing with a schema")
	}
	*f.p = v
	return nil
}
