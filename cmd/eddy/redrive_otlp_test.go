package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

// origTrace is the traceparent a test's message i was first published with:
// a trace of its own per message, the producer span 00f067aa0ba902bN.
func origTrace(i int) (traceID, spanID, header string) {
	traceID = fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", i)
	spanID = fmt.Sprintf("00f067aa0ba902b%x", i%16)
	return traceID, spanID, "00-" + traceID + "-" + spanID + "-01"
}

// checkRedriveSpans checks what a redrive --otlp exported: one run span
// "eddy redrive", and for each moved message (by key: its outgoing
// traceparent, and the index of its original trace, -1 for none) one
// producer span named send that, with an original trace, continues it (its
// trace id, the original span as parent, links to the original and to the
// run) and, without one, is a child of the run span; the outgoing
// traceparent is the message's span in that trace.
func checkRedriveSpans(t *testing.T, spans []*tracepb.Span, send string, out map[string]string, orig map[string]int) {
	t.Helper()
	checkRunSpans(t, spans, "eddy redrive", send, out, orig)
}

// checkRunSpans is checkRedriveSpans for a run span of any name (eddy.dlq
// only for a redrive).
func checkRunSpans(t *testing.T, spans []*tracepb.Span, runName, send string, out map[string]string, orig map[string]int) {
	t.Helper()
	var run *tracepb.Span
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		switch s.Name {
		case runName:
			if run != nil {
				t.Fatalf("two run spans")
			}
			run = s
		case send:
			byID[hex.EncodeToString(s.SpanId)] = s
		default:
			t.Errorf("unexpected span %q", s.Name)
		}
	}
	if run == nil || len(byID) != len(out) {
		t.Fatalf("run span %v, %d %q spans; want one and %d (all: %d spans)", run != nil, len(byID), send, len(out), len(spans))
	}
	if a := otlptest.Attrs(run.Attributes); a["eddy.replay.moved"] != strconv.Itoa(len(out)) || (runName == "eddy redrive" && a["eddy.dlq"] == "") {
		t.Errorf("run span attributes %v", a)
	}
	for key, tp := range out {
		parts := strings.Split(tp, "-")
		if len(parts) != 4 {
			t.Fatalf("%s: outgoing traceparent %q", key, tp)
		}
		s := byID[parts[2]]
		if s == nil {
			t.Fatalf("%s: outgoing traceparent %q names no exported span", key, tp)
		}
		if hex.EncodeToString(s.TraceId) != parts[1] || s.Kind != tracepb.Span_SPAN_KIND_PRODUCER ||
			s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("%s: span %x/%x kind %v status %v; outgoing %q", key, s.TraceId, s.SpanId, s.Kind, s.Status, tp)
		}
		i := orig[key]
		if i < 0 {
			if string(s.TraceId) != string(run.TraceId) || string(s.ParentSpanId) != string(run.SpanId) || len(s.Links) != 0 {
				t.Errorf("%s (no traceparent): span under %x in trace %x, want under the run span %x", key, s.ParentSpanId, s.TraceId, run.SpanId)
			}
			continue
		}
		tid, sid, _ := origTrace(i)
		if hex.EncodeToString(s.TraceId) != tid || hex.EncodeToString(s.ParentSpanId) != sid {
			t.Errorf("%s: span in trace %x under %x, want the original %s under %s", key, s.TraceId, s.ParentSpanId, tid, sid)
		}
		if len(s.Links) != 2 || hex.EncodeToString(s.Links[0].TraceId) != tid || hex.EncodeToString(s.Links[0].SpanId) != sid ||
			string(s.Links[1].SpanId) != string(run.SpanId) || string(s.Links[1].TraceId) != string(run.TraceId) {
			t.Errorf("%s: links %v, want the original %s/%s and the run", key, s.Links, tid, sid)
		}
	}
}

// TestRedriveOTLPKafka: eddy dlq redrive --otlp on a Kafka DLT (the
// transactional path): the run span, one span per redriven record continuing
// the record's original trace, and the record in the origin topic carrying
// that span as its traceparent.
func TestRedriveOTLPKafka(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		origin := kafkatest.NewTopic(t, seeds, 1)
		dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 1)
		const n = 4
		orig := map[string]int{}
		var recs []*kgo.Record
		for i := range n {
			v := "v" + strconv.Itoa(i)
			var extra []kgo.RecordHeader
			orig[v] = -1
			if i > 0 {
				_, _, tp := origTrace(i)
				extra = append(extra, kgo.RecordHeader{Key: "traceparent", Value: []byte(tp)})
				orig[v] = i
			}
			recs = append(recs, springLetter(dlt, origin, 0, int64(i), "boom", v, extra...))
		}
		kafkatest.Produce(t, seeds, recs...)
		rcv, url := otlptest.Start(t)
		rep, stderr, err := redriveOut(t, seeds, t.TempDir()+"/l.db", RedriveOptions{DLQ: "kafka:" + dlt, OTLP: url})
		if err != nil || rep.Redriven != n || rep.Mode != "transactional" {
			t.Fatalf("redrive: %v, %+v, %s", err, rep, stderr)
		}
		out := map[string]string{}
		for _, r := range waitRecords(t, seeds, origin, n) {
			tp, _ := header(r, "traceparent")
			out[string(r.Value)] = tp
		}
		checkRedriveSpans(t, rcv.Spans(), "send "+origin, out, orig)
	})
}

// TestRedriveOTLPRabbitMQ: the same for a RabbitMQ DLQ the broker
// dead-lettered into: spans "publish EXCHANGE", and the messages back in the
// origin queue carry them as traceparent.
func TestRedriveOTLPRabbitMQ(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	const n = 4
	orig := map[string]int{}
	for i := range n {
		id := "m" + strconv.Itoa(i)
		p := amqp091.Publishing{MessageId: id, Body: []byte(id), DeliveryMode: amqp091.Persistent}
		orig[id] = -1
		if i > 0 {
			_, _, h := origTrace(i)
			p.Headers = amqp091.Table{"traceparent": h}
			orig[id] = i
		}
		tp.Publish(t, p)
	}
	rejectAll(t, url, tp.Queue, n)
	amqptest.Eventually(t, 10*time.Second, "the dead letters", func() bool { return amqptest.Depth(t, url, tp.DLQ) == n })
	rcv, ourl := otlptest.Start(t)
	rep, stderr, err := redriveAMQPOut(t, url, t.TempDir()+"/l.db", RedriveOptions{DLQ: "amqp:" + tp.DLQ, OTLP: ourl})
	if err != nil || rep.Redriven != n {
		t.Fatalf("redrive: %v, %+v, %s", err, rep, stderr)
	}
	amqptest.Eventually(t, 10*time.Second, "the redriven messages", func() bool { return amqptest.Depth(t, url, tp.Queue) == n })
	ch, err := amqptest.Dial(t, url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for range n {
		d, ok, err := ch.Get(tp.Queue, true)
		if err != nil || !ok {
			t.Fatalf("get: %v %v", ok, err)
		}
		switch v := d.Headers["traceparent"].(type) {
		case string:
			out[d.MessageId] = v
		case []byte:
			out[d.MessageId] = string(v)
		}
	}
	checkRedriveSpans(t, rcv.Spans(), "publish "+tp.Exchange, out, orig)
}

// TestReplayOTLPTransactional: eddy replay --otlp on the transactional
// Kafka → Kafka path traces each record as the ledger path does.
func TestReplayOTLPTransactional(t *testing.T) {
	seeds := kafkatest.Real(t)
	from := kafkatest.NewTopic(t, seeds, 1)
	to := kafkatest.NewTopic(t, seeds, 1)
	const n = 3
	orig := map[string]int{}
	var recs []*kgo.Record
	for i := range n {
		v := "v" + strconv.Itoa(i)
		r := &kgo.Record{Topic: from, Value: []byte(v)}
		orig[v] = -1
		if i > 0 {
			_, _, tp := origTrace(i)
			r.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte(tp)}}
			orig[v] = i
		}
		recs = append(recs, r)
	}
	kafkatest.Produce(t, seeds, recs...)
	rcv, url := otlptest.Start(t)
	code, stdout, stderr := runEddy(t, nil, "replay", "kafka:"+from, "--to", "kafka:"+to, "--brokers", strings.Join(seeds, ","),
		"--ledger", t.TempDir()+"/l.db", "--otlp", url, "-o", "json")
	if code != 0 || !strings.Contains(stdout, `"mode":"transactional"`) || !strings.Contains(stdout, `"moved":3`) {
		t.Fatalf("replay: exit %d %s %s", code, stdout, stderr)
	}
	out := map[string]string{}
	for _, r := range waitRecords(t, seeds, to, n) {
		tp, _ := header(r, "traceparent")
		out[string(r.Value)] = tp
	}
	checkRunSpans(t, rcv.Spans(), "eddy replay", "send "+to, out, orig)
}
