package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// amqpEnv points eddy at the test RabbitMQ.
func amqpEnv(t *testing.T, url string) map[string]string {
	t.Helper()
	return map[string]string{"EDDY_AMQP_URL": url, "EDDY_AMQP_MGMT_URL": amqptest.ManagementURL(t, url)}
}

// dlqTopo is a queue (the DLQ) fed through the default exchange, and a
// target topology: an exchange routing Key to Queue.
func dlqTopo(t *testing.T, url string, n int) (dlq string, target *amqptest.Topo) {
	t.Helper()
	target = amqptest.Topology(t, url)
	src := amqptest.Topology(t, url, amqptest.DefaultExchangeOnly())
	amqptest.PublishTo(t, url, "", src.Queue, dlqMessages(n)...)
	return src.Queue, target
}

func dlqMessages(n int) []amqp091.Publishing {
	msgs := make([]amqp091.Publishing, n)
	for i := range msgs {
		msgs[i] = amqp091.Publishing{Body: []byte("payload " + strconv.Itoa(i)), DeliveryMode: amqp091.Persistent}
		if i%2 == 0 { // half without a message id: identified by a hash of the body
			msgs[i].MessageId = "id-" + strconv.Itoa(i)
		}
	}
	return msgs
}

// TestReplayAMQPQueue: a RabbitMQ queue consumed to an exchange with the
// ledger — everything lands once, the source ends empty, a rerun moves
// nothing, and a dry run before changed nothing.
func TestReplayAMQPQueue(t *testing.T) {
	url := amqptest.URL(t)
	env := amqpEnv(t, url)
	dlq, tp := dlqTopo(t, url, 300)
	ledger := t.TempDir() + "/ledger.db"
	args := []string{"replay", "amqp:" + dlq, "--to", "amqp:exchange/" + tp.Exchange + "/" + tp.Key, "--ledger", ledger, "-o", "json"}

	code, out, errOut := runEddy(t, env, append(args, "--dry-run")...)
	if code != 0 || !strings.Contains(out, `"total":300`) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if d := amqptest.Depth(t, url, dlq); d != 300 {
		t.Fatalf("a dry run changed the queue: depth %d", d)
	}

	code, out, errOut = runEddy(t, env, args...)
	var rep replayReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Moved != 300 {
		t.Fatalf("replay: exit %d, %+v\n%s\n%s", code, rep, out, errOut)
	}
	if d := amqptest.Depth(t, url, dlq); d != 0 {
		t.Fatalf("source depth %d after the replay", d)
	}
	amqptest.Eventually(t, 10e9, "300 messages in the target", func() bool { return amqptest.Depth(t, url, tp.Queue) == 300 })

	// Put the same messages back: the same job skips them as done (their
	// identities are in the ledger) and acks them away.
	amqptest.PublishTo(t, url, "", dlq, dlqMessages(300)...)
	code, out, errOut = runEddy(t, env, args...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Moved != 0 || rep.Skipped != 300 {
		t.Fatalf("rerun: exit %d, %+v\n%s\n%s", code, rep, out, errOut)
	}
	if d := amqptest.Depth(t, url, dlq); d != 0 {
		t.Fatalf("source depth %d after the rerun", d)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 300 {
		t.Fatalf("target depth %d after the rerun, want still 300", d)
	}
}

// TestReplayAMQPUnroutable: a target exchange with no binding for the key —
// every message is returned, none is acked away (the source keeps them all),
// and eddy exits 3 listing them.
func TestReplayAMQPUnroutable(t *testing.T) {
	url := amqptest.URL(t)
	env := amqpEnv(t, url)
	dlq, tp := dlqTopo(t, url, 20)
	code, out, errOut := runEddy(t, env, "replay", "amqp:"+dlq, "--to", "amqp:exchange/"+tp.Exchange+"/no.such.key",
		"--ledger", t.TempDir()+"/ledger.db")
	if code != ExitPartial {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "amqp:"+dlq+"/id-0 (unroutable)") || !strings.Contains(errOut, "refused 20 event(s)") {
		t.Fatalf("the refused ids are not listed:\n%s", errOut)
	}
	if d := amqptest.Depth(t, url, dlq); d != 20 {
		t.Fatalf("source depth %d, want all 20 still there", d)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 0 {
		t.Fatalf("target depth %d", d)
	}
}
