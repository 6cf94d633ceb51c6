package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestOutputFlags: every command's -o is one enum flag (issue 15): its help
// names each value, the shell completes exactly the values the command
// takes, and any other value is refused while the flags are parsed, with
// one wording and exit 2, whatever the command.
func TestOutputFlags(t *testing.T) {
	want := map[string][]string{
		"eddy ls":              {"table", "tsv", "json", "yaml"},
		"eddy dlq ls":          {"table", "tsv", "json", "yaml"},
		"eddy dlq show":        {"table", "tsv", "json", "yaml"},
		"eddy dlq ledger":      {"table", "tsv", "json", "yaml"},
		"eddy dlq ledger ls":   {"table", "tsv", "json", "yaml"},
		"eddy dlq ledger show": {"table", "tsv", "json", "yaml"},
		"eddy lag":             {"table", "tsv", "json", "jsonl", "yaml"},
		"eddy tail":            {"pretty", "jsonl", "raw", "template="},
		"eddy trace":           {"text", "json", "yaml"},
		"eddy trace flows":     {"text", "json", "yaml"},
		"eddy expect":          {"text", "json", "yaml"},
		"eddy replay":          {"text", "json", "yaml"},
		"eddy dlq redrive":     {"text", "json", "yaml"},
		"eddy schema ls":       {"table", "tsv", "json", "yaml"},
		"eddy schema show":     {"text", "json", "yaml"},
	}
	f, _, _ := testFactory(false)
	seen := map[string]bool{}
	visibleCommands(newRootCmd(f), func(c *cobra.Command) {
		fl := c.Flags().Lookup("output")
		if fl == nil {
			return
		}
		path := c.CommandPath()
		seen[path] = true
		values, ok := want[path]
		if !ok {
			t.Errorf("%s has -o but no entry in this test", path)
			return
		}
		for _, v := range values {
			if !strings.Contains(fl.Usage, strings.TrimSuffix(v, "=")) {
				t.Errorf("%s: -o's help %q does not name %s", path, fl.Usage, v)
			}
		}
		words := strings.Fields(path)[1:]
		code, out, _ := runEddy(t, nil, append(append([]string{"__complete"}, words...), "-o", "")...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				got = append(got, l)
			}
		}
		if code != 0 || !slices.Equal(got, values) {
			t.Errorf("%s -o <TAB>: exit %d, %q; want %q", path, code, got, values)
		}
		code, _, stderr := runEddy(t, nil, append(words, "-o", "xml")...)
		wantErr := "eddy: invalid argument \"xml\" for \"-o, --output\" flag: want " + orList(fl.Value.(*outputFlag).spec.formats) +
			" (see '" + path + " --help')\n"
		if code != ExitUsage || stderr != wantErr {
			t.Errorf("%s -o xml: exit %d, stderr %q; want exit 2, %q", path, code, stderr, wantErr)
		}
	})
	for path := range want {
		if !seen[path] {
			t.Errorf("%s has no -o", path)
		}
	}
}

// TestOutputDefaults: a command's -o keeps its value set and its default,
// on a terminal and in a pipe: "" picks the default (tables and tail by
// where stdout goes), replay's and redrive's default is text, and tail
// takes what its printer takes (any case, json for jsonl, template=TEXT).
func TestOutputDefaults(t *testing.T) {
	tty, _, _, _ := TestStreams(true)
	pipe, _, _, _ := TestStreams(false)
	for _, c := range []struct {
		spec      *outputSpec
		v         string
		tty, pipe string
	}{
		{tableOutput, "", "table", "tsv"},
		{tableOutput, "json", "json", "json"},
		{lagOutput, "", "table", "tsv"},
		{tailOutput, "", "pretty", "jsonl"},
		{tailOutput, "raw", "raw", "raw"},
	} {
		if got := c.spec.resolve(c.v, tty); got != c.tty {
			t.Errorf("%v %q on a terminal: %q, want %q", c.spec.formats, c.v, got, c.tty)
		}
		if got := c.spec.resolve(c.v, pipe); got != c.pipe {
			t.Errorf("%v %q in a pipe: %q, want %q", c.spec.formats, c.v, got, c.pipe)
		}
	}
	for spec, vals := range map[*outputSpec]map[string]bool{
		tableOutput:   {"": true, "table": true, "tsv": true, "json": true, "yaml": true, "jsonl": false, "TABLE": false},
		lagOutput:     {"": true, "jsonl": true, "text": false},
		tailOutput:    {"": true, "PRETTY": true, "json": true, "template={{.Key}}": true, "go-template=x": true, "yaml": false},
		traceOutput:   {"": true, "text": true, "pretty": true, "json": true, "jsonl": false},
		summaryOutput: {"": false, "text": true, "json": true},
	} {
		for v, ok := range vals {
			var s string
			err := (&outputFlag{p: &s, spec: spec}).Set(v)
			if (err == nil) != ok {
				t.Errorf("%v: -o %q: %v; want accepted %v", spec.formats, v, err, ok)
			}
		}
	}
}

// TestSharedFlagsOneHelp: --from, --until and --ledger are declared once
// (flags.go), so every command that has one says the same about it; only
// the default differs.
func TestSharedFlagsOneHelp(t *testing.T) {
	f, _, _ := testFactory(false)
	count := map[string]int{}
	visibleCommands(newRootCmd(f), func(c *cobra.Command) {
		for name, help := range map[string]string{"from": fromHelp, "until": untilHelp, "ledger": ledgerFlagHelp} {
			if fl := c.LocalFlags().Lookup(name); fl != nil {
				count[name]++
				if !strings.HasPrefix(fl.Usage, help) {
					t.Errorf("%s --%s: %q, want the shared help %q", c.CommandPath(), name, fl.Usage, help)
				}
			}
		}
	})
	// tail, trace flows, replay, serve (and expect: --until); replay, dlq
	// ls, show, redrive and ledger with its three sub-commands.
	if count["from"] != 4 || count["until"] != 4 || count["ledger"] != 8 {
		t.Errorf("shared flags seen %v; want from 4, until 4, ledger 8", count)
	}
}

// TestSchemaRegistryEmpty: --schema-registry= (an unset shell variable) is
// refused while the flags are parsed, on every command that has it, rather
// than falling back to the environment's or the context's registry.
func TestSchemaRegistryEmpty(t *testing.T) {
	f, _, _ := testFactory(false)
	n := 0
	visibleCommands(newRootCmd(f), func(c *cobra.Command) {
		if c.Flags().Lookup("schema-registry") == nil {
			return
		}
		n++
		words := strings.Fields(c.CommandPath())[1:]
		code, _, stderr := runEddy(t, map[string]string{"EDDY_SCHEMA_REGISTRY": "http://127.0.0.1:1"}, append(words, "--schema-registry=")...)
		if code != ExitUsage || !strings.Contains(stderr, `invalid argument "" for "--schema-registry" flag: empty`) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s --schema-registry=: exit %d, stderr %q; want exit 2 and one line saying it is empty", c.CommandPath(), code, stderr)
		}
	})
	if n < 5 {
		t.Fatalf("only %d commands have --schema-registry", n)
	}
}

// TestConnectionFlagsEmpty: a connection or login flag given empty (a
// script's variable that came out empty) is refused with exit 2 and one
// line naming it, before anything connects, instead of falling back to
// the environment's, the context's or 127.0.0.1's cluster and login.
func TestConnectionFlagsEmpty(t *testing.T) {
	env := map[string]string{"EDDY_BROKERS": "127.0.0.1:1", "EDDY_AMQP_URL": "amqp://127.0.0.1:1/"}
	for _, fl := range []string{"brokers", "amqp-url", "amqp-mgmt-url", "context", "sasl-mechanism", "sasl-user",
		"sasl-password-file", "tls-ca", "tls-cert", "tls-key", "tls-server-name", "sasl-oauth-token-file",
		"sasl-oauth-token-command", "sasl-oauth-token-endpoint", "sasl-oauth-client-id", "sasl-oauth-client-secret-file",
		"sasl-kerberos-keytab", "sasl-kerberos-ccache", "sasl-kerberos-config", "sasl-kerberos-principal",
		"sasl-kerberos-service-name", "sasl-kerberos-host", "sasl-aws-region", "sasl-aws-profile"} {
		code, _, stderr := runEddy(t, env, "ls", "--"+fl+"=")
		if code != ExitUsage || !strings.HasPrefix(stderr, "eddy: --"+fl+" is empty: give ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("eddy ls --%s=: exit %d, stderr %q; want exit 2 and one line saying it is empty", fl, code, stderr)
		}
	}
	for _, args := range [][]string{{"serve", "--listen="}, {"lag", "serve", "--listen="}, {"serve", "--otlp-spans="}} {
		fl := strings.TrimSuffix(args[len(args)-1], "=")
		if code, _, stderr := runEddy(t, env, args...); code != ExitUsage || !strings.HasPrefix(stderr, "eddy: "+fl+" is empty: give ") {
			t.Errorf("eddy %s: exit %d, stderr %q; want exit 2 saying it is empty", strings.Join(args, " "), code, stderr)
		}
	}
	if code, _, stderr := runEddy(t, env, "ls", "-b", ""); code != ExitUsage || !strings.Contains(stderr, "--brokers is empty") {
		t.Errorf("eddy ls -b '': exit %d, stderr %q", code, stderr)
	}
}
