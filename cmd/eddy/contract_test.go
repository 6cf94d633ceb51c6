package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// TestReadingNeverChangesBrokers holds the README's "what eddy does to your
// brokers": every reading command, run as a user would without a flag that
// asks for a change by name (--backlog, --group), leaves RabbitMQ and Kafka as
// they were — RabbitMQ: every queue's message count, no message marked
// redelivered (checked by a final get), no consumer left, no queue left
// behind (taps are gone); Kafka: no consumer group, no committed offset, no
// topic created. Commands that cannot read a classic queue's past without a
// peek must refuse (exit 2) and name --backlog.
func TestReadingNeverChangesBrokers(t *testing.T) {
	base := amqptest.URL(t)
	var rb [4]byte
	rand.Read(rb[:])
	url := tuiVhost(t, base, "eddy-test-contract-"+hex.EncodeToString(rb[:]))
	mgmt := amqptest.ManagementURL(t, base)

	// RabbitMQ: a classic queue with a dead-letter queue holding two
	// dead letters, and a stream.
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	stream := amqptest.Topology(t, url, amqptest.Stream())
	msg := func(i int) amqp091.Publishing {
		return amqp091.Publishing{MessageId: fmt.Sprintf("evt-%d", i), CorrelationId: "o-1", Type: "OrderPlaced",
			Timestamp: time.Now(), Body: []byte(fmt.Sprintf(`{"id":"evt-%d","type":"OrderPlaced","correlation_id":"o-1"}`, i))}
	}
	tp.Publish(t, msg(1), msg(2), msg(3), msg(4), msg(5))
	stream.Publish(t, msg(6), msg(7))
	tp.Reject(t, 2)
	queuesBefore := rabbitQueues(t, url)

	// Kafka (kfake): a topic and a Spring-style DLT with records.
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders", "orders.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	seeds := strings.Join(kc.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, topic := range []string{"orders", "orders", "orders.DLT"} {
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf(`{"id":"k-%d","type":"OrderPlaced","correlation_id":"o-1"}`, i)),
			Headers: []kgo.RecordHeader{{Key: "kafka_dlt-exception-message", Value: []byte("boom")}, {Key: "kafka_dlt-original-topic", Value: []byte("orders")}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	topicsBefore := contractTopics(t, adm)

	soon := func() string { return time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano) }
	q, dq, sq := "amqp:"+tp.Queue, "amqp:"+tp.DLQ, "amqp:"+stream.Queue
	for _, tc := range []struct {
		args []string
		code int    // -1: any
		says string // on stderr, when set
	}{
		{[]string{"tail", q, "--until", soon()}, 0, ""},
		{[]string{"tail", q, "--from", "beginning", "--until", "end"}, ExitUsage, "--backlog"},
		{[]string{"tail", q, "--from", "-1h", "--until", "end"}, ExitUsage, "--backlog"},
		// --until end without --backlog would show nothing, as if the queue were empty.
		{[]string{"tail", q, "--until", "end"}, ExitUsage, "would show nothing, whatever the queue holds"},
		{[]string{"tail", dq, "--from", "end", "--until", "end"}, ExitUsage, "--backlog"},
		{[]string{"tail", sq, "--until", "end"}, 0, ""},
		{[]string{"tail", dq, "--from", "beginning", "--until", "end"}, ExitUsage, "--backlog"},
		{[]string{"tail", sq, "--from", "beginning", "--until", "end"}, 0, ""},
		{[]string{"tail", "kafka:orders", "kafka:orders.DLT", "--from", "beginning", "--until", "end"}, 0, ""},
		{[]string{"trace", "o-1", q}, ExitUsage, "--backlog"},
		{[]string{"trace", "o-1", sq}, -1, ""},
		{[]string{"trace", "o-1", "kafka:orders"}, -1, ""},
		{[]string{"trace", "o-1"}, -1, ""},
		{[]string{"trace", "flows", q, sq, "kafka:orders", "--until", soon()}, 0, ""},
		{[]string{"trace", "flows", q, "--from", "beginning", "--until", "end"}, ExitUsage, "--backlog"},
		{[]string{"trace", "flows", "kafka:orders", "--from", "beginning", "--until", "end"}, 0, ""},
		{[]string{"expect", "OrderPlaced -> PaymentAuthorized within 5s", q}, ExitUsage, "--backlog"},
		{[]string{"expect", "OrderPlaced -> PaymentAuthorized within 5s", "kafka:orders"}, -1, ""},
		{[]string{"lag"}, -1, ""},
		{[]string{"lag", "amqp:"}, 0, ""},
		{[]string{"lag", q}, 0, ""},
		{[]string{"ls"}, 0, ""},
		{[]string{"ls", q, dq}, 0, ""},
		{[]string{"dlq", "ls"}, 0, ""},
		{[]string{"dlq", "ls", "amqp:", "-o", "json"}, 0, `"read":"management"`},
		{[]string{"dlq", "show", dq}, ExitUsage, "--backlog"},
		{[]string{"dlq", "show", "kafka:orders.DLT"}, 0, ""},
		{[]string{"dlq", "ledger", "ls"}, -1, ""},
	} {
		args := append(tc.args, "--brokers", seeds, "--amqp-url", url, "--amqp-mgmt-url", mgmt, "--timeout", "10s")
		code, stdout, stderr := runEddyCtx(t, context.Background(), nil, args...)
		if tc.code >= 0 && code != tc.code {
			t.Errorf("eddy %s: exit %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr)
		}
		where := stderr
		if strings.HasPrefix(tc.says, `"`) {
			where = stdout
		}
		if tc.says != "" && !strings.Contains(where, tc.says) {
			t.Errorf("eddy %s: output does not say %q; stdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), tc.says, stdout, stderr)
		}
		if tc.code == ExitUsage && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("eddy %s: want one line on stderr, got:\n%s", strings.Join(tc.args, " "), stderr)
		}
	}

	// RabbitMQ as it was: the same queues (no tap left) with the same
	// depths and no consumer, and no message marked redelivered.
	amqptest.Eventually(t, 10*time.Second, "the taps to go", func() bool {
		return slices.Equal(queueNames(rabbitQueues(t, url)), queueNames(queuesBefore))
	})
	for _, qi := range []struct {
		name  string
		depth int
	}{{tp.Queue, 3}, {tp.DLQ, 2}} {
		c := amqptest.Dial(t, url)
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		st, err := ch.QueueDeclarePassive(qi.name, false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.Messages != qi.depth || st.Consumers != 0 {
			t.Errorf("queue %s: %d messages and %d consumers, want %d and 0", qi.name, st.Messages, st.Consumers, qi.depth)
		}
		for range qi.depth {
			d, ok, err := ch.Get(qi.name, false)
			if err != nil || !ok {
				t.Fatalf("final get from %s: ok %v, %v", qi.name, ok, err)
			}
			if d.Redelivered {
				t.Errorf("queue %s: message %s is marked redelivered: a reading command handed it out", qi.name, d.MessageId)
			}
		}
		c.Close() // the gets go back
	}
	// Kafka as it was.
	groups, err := adm.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Errorf("consumer groups created by reading commands: %v", groups.Groups())
	}
	if after := contractTopics(t, adm); !slices.Equal(after, topicsBefore) {
		t.Errorf("topics after the reading commands %v, before %v", after, topicsBefore)
	}
}

type rabbitQueue struct {
	Name      string `json:"name"`
	Consumers int    `json:"consumers"`
}

func rabbitQueues(t *testing.T, url string) []rabbitQueue {
	t.Helper()
	vhost := url[strings.LastIndexByte(url, '/')+1:]
	var qs []rabbitQueue
	if st := amqptest.Get(t, url, "/api/queues/"+amqptest.Escape(vhost)+"?columns=name,consumers", &qs); st != 200 {
		t.Fatalf("listing queues: HTTP %d", st)
	}
	return qs
}

func queueNames(qs []rabbitQueue) []string {
	var out []string
	for _, q := range qs {
		out = append(out, q.Name)
	}
	slices.Sort(out)
	return out
}

func contractTopics(t *testing.T, adm *kadm.Client) []string {
	t.Helper()
	ts, err := adm.ListTopicsWithInternal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts.Names()
}
