package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOutputYAMLEveryFamily: every command that takes -o json takes -o yaml
// (TestOutputFlags lists them), and its YAML parses and says what its JSON
// says — one command of each output family beyond ls and lag
// (TestOutputYAML): trace, trace flows and expect (a capture), replay and
// the ledger's listings, dlq show and dlq redrive (kfake), schema ls and
// show (a fake registry). Run-specific values (times, durations, job ids)
// are left out of the comparison.
func TestOutputYAMLEveryFamily(t *testing.T) {
	const capture = "file:../../testdata/shop.jsonl"
	both := func(t *testing.T, env map[string]string, args []string, ignore ...string) {
		t.Helper()
		code, jsonOut, errOut := runEddy(t, env, append(args, "-o", "json")...)
		if code != 0 && code != ExitPartial {
			t.Fatalf("eddy %s -o json: exit %d, %s", strings.Join(args, " "), code, errOut)
		}
		code2, yamlOut, errOut := runEddy(t, env, append(args, "-o", "yaml")...)
		if code2 != code {
			t.Fatalf("eddy %s -o yaml: exit %d (json: %d), %s", strings.Join(args, " "), code2, code, errOut)
		}
		t.Logf("json: %s\nyaml:\n%s", jsonOut, yamlOut)
		sameJSONYAML(t, jsonOut, yamlOut, ignore...)
	}

	t.Run("trace", func(t *testing.T) { both(t, nil, []string{"trace", "o-0001", capture}) })
	t.Run("trace flows", func(t *testing.T) { both(t, nil, []string{"trace", "flows", capture}) })
	t.Run("expect", func(t *testing.T) {
		both(t, nil, []string{"expect", "OrderPlaced -> PaymentAuthorized within 1m", capture})
	})

	t.Run("replay and the ledger", func(t *testing.T) {
		dir := t.TempDir()
		ledger := filepath.Join(dir, "l.db")
		outs := map[string]string{}
		for _, format := range []string{"json", "yaml"} {
			code, out, errOut := runEddy(t, nil, "replay", capture, "--to", "file:"+filepath.Join(dir, format+".jsonl"),
				"--ledger", ledger, "--job", "yaml-"+format, "-o", format)
			if code != 0 {
				t.Fatalf("replay -o %s: exit %d, %s", format, code, errOut)
			}
			outs[format] = out
		}
		t.Logf("json: %s\nyaml:\n%s", outs["json"], outs["yaml"])
		sameJSONYAML(t, outs["json"], outs["yaml"], "job", "seconds")
		// Two jobs that moved the same events: their reports differ only in
		// the job's name, its target and its times.
		both(t, nil, []string{"dlq", "ledger", "ls", "--ledger", ledger})
		both(t, nil, []string{"dlq", "ledger", "show", "yaml-json", "--ledger", ledger})
	})

	t.Run("dlq", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "o", "o.DLT"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		seeds := strings.Join(c.ListenAddrs(), ",")
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(context.Background(), springLetter("o.DLT", "o", 0, 1, "boom", "x"), springLetter("o.DLT", "o", 0, 2, "boom", "y")).FirstErr(); err != nil {
			t.Fatal(err)
		}
		both(t, nil, []string{"dlq", "show", "kafka:o.DLT", "-b", seeds})
		both(t, nil, []string{"dlq", "ls", "kafka:", "-b", seeds})
		// A dry run moves nothing, so both runs see the same letters.
		both(t, nil, []string{"dlq", "redrive", "kafka:o.DLT", "-b", seeds, "--dry-run", "--ledger", filepath.Join(t.TempDir(), "l.db")}, "seconds")
	})

	t.Run("schema", func(t *testing.T) {
		env := map[string]string{"EDDY_SCHEMA_REGISTRY": seededRegistry(t).URL(), "EDDY_BROKERS": "127.0.0.1:1"}
		both(t, env, []string{"schema", "ls", "--timeout", "1s"})
		both(t, env, []string{"schema", "show", "orders-value@latest"})
	})
}
