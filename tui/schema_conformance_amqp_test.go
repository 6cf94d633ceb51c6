package tui

import (
	"context"
	"slices"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/internal/conformance"
	"github.com/eddy-sh/eddy/schema"
)

// TestSchemaConformanceAMQP: the DLQ view of a RabbitMQ dead-letter queue
// (eddy tui --backlog: its messages peeked) groups letters whose bodies are
// schema-encoded by the event ids inside them, and opens one decoded, for
// each registry format, on the real RabbitMQ.
func TestSchemaConformanceAMQP(t *testing.T) {
	url := amqptest.URL(t)
	for _, f := range conformance.Formats(t) {
		if f.Registry == nil {
			continue // local schemas map topics; the Kafka table has them
		}
		t.Run(f.Name+"/dlq-view", func(t *testing.T) {
			tp := amqptest.Topology(t, url, amqptest.DeadLetter())
			_, _, letters := conformance.Flow(f.Name)
			for _, l := range letters {
				tp.Publish(t, amqp091.Publishing{Body: f.Encode(conformance.Orders, l)})
			}
			tp.Reject(t, len(letters))
			c, err := amqp.New(url, amqp.WithManagementURL(amqptest.ManagementURL(t, url)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			dec, err := schema.New(f.Config)
			if err != nil {
				t.Fatal(err)
			}
			// The naming makes only this test's DLQ one by its name (the
			// broker is shared); a queue that another test, in another
			// package running at the same time, made the dead-letter
			// target of its own queue is found too, and passed over here.
			be := &Backend{AMQP: c, Decoder: dec, Schema: conformance.EventSchema(), Backlog: true,
				Naming: convention.Naming{Suffixes: []string{tp.DLQ[1:]}}}
			ctx := context.Background()
			m := be.summarizeDLQs(ctx)
			i := slices.IndexFunc(m.sums, func(s dlq.Summary) bool { return s.Name == tp.DLQ })
			if i < 0 || len(m.sums[i].Groups) != 1 {
				t.Fatalf("summaries %+v, errors %v", m.sums, m.errs)
			}
			g := m.sums[i].Groups[0]
			if !slices.Equal(g.IDs, []string{letters[0].ID, letters[1].ID}) {
				t.Fatalf("group ids %q, want the letters' event ids", g.IDs)
			}
			e, err := be.dlqMessage(ctx, "amqp", tp.DLQ, g.Identities[1])
			if err != nil {
				t.Fatal(err)
			}
			if e.ValueDecoded == nil || e.ValueDecoded.Fail != "" || conformance.EventSchema().Extract(e).ID != letters[1].ID {
				t.Fatalf("the letter opened: %+v", e.ValueDecoded)
			}
		})
	}
}
