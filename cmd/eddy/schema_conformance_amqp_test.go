package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/internal/conformance"
)

// TestSchemaConformanceAMQP: the conformance table's rows on the real
// RabbitMQ: a queue's schema-encoded messages tailed (peeked, --backlog)
// decoded, local schemas mapped to the queue by its name; dlq show of its
// dead-letter queue groups the letters by the event ids inside them.
func TestSchemaConformanceAMQP(t *testing.T) {
	url := amqptest.URL(t)
	for _, f := range conformance.Formats(t) {
		t.Run(f.Name, func(t *testing.T) {
			tp := amqptest.Topology(t, url, amqptest.DeadLetter())
			orders, _, letters := conformance.Flow(f.Name)
			for _, e := range append(letters, orders...) {
				tp.Publish(t, amqp091.Publishing{Body: f.Encode(conformance.Orders, e)})
			}
			// The letters (published first) are rejected to the DLQ;
			// the orders stay.
			tp.Reject(t, len(letters))

			cfg := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(cfg, []byte("current-context: conf\ncontexts:\n  conf:\n    "+conformance.SchemaConfig), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"EDDY_AMQP_URL": url, "EDDY_AMQP_MGMT_URL": os.Getenv("EDDY_TEST_AMQP_MGMT"), "EDDY_CONFIG": cfg}
			eddy := func(t *testing.T, args ...string) string {
				t.Helper()
				code, out, stderr := runEddy(t, env, append(args, f.FlagsFor(tp.Queue, tp.DLQ)...)...)
				if code != 0 || stderr != "" {
					t.Fatalf("eddy %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, stderr)
				}
				return out
			}

			t.Run("tail-jsonl", func(t *testing.T) {
				out := eddy(t, "tail", "amqp:"+tp.Queue, "--backlog", "--from", "beginning", "--until", "end", "-o", "jsonl")
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != len(orders) {
					t.Fatalf("%d lines:\n%s", len(lines), out)
				}
				for i, l := range lines {
					var e struct {
						ValueDecoded json.RawMessage `json:"value_decoded"`
					}
					if err := json.Unmarshal([]byte(l), &e); err != nil {
						t.Fatal(err)
					}
					requireSameJSON(t, e.ValueDecoded, orders[i].JSON())
				}
			})

			t.Run("dlq-show", func(t *testing.T) {
				out := eddy(t, "dlq", "show", "amqp:"+tp.DLQ, "--backlog", "-o", "json")
				var r struct{ DLQs []dlq.Summary }
				if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.DLQs) != 1 || len(r.DLQs[0].Groups) != 1 {
					t.Fatalf("%v:\n%s", err, out)
				}
				if ids := r.DLQs[0].Groups[0].IDs; !slices.Equal(ids, []string{letters[0].ID, letters[1].ID}) {
					t.Errorf("group ids %q, want the letters' event ids:\n%s", ids, out)
				}
			})
		})
	}
}
