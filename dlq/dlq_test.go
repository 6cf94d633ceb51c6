package dlq_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
)

func be32(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
func be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

var origin = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func springHeaders(msg string, partition int32, offset int64) []event.Header {
	return []event.Header{
		{Key: "ce_id", Value: []byte("evt-1")},
		{Key: convention.SpringExceptionFQCN, Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
		{Key: convention.SpringExceptionCauseFQCN, Value: []byte("java.lang.IllegalStateException")},
		{Key: convention.SpringExceptionMessage, Value: []byte(msg)},
		{Key: convention.SpringOriginalTopic, Value: []byte("payments")},
		{Key: convention.SpringOriginalPartition, Value: be32(partition)},
		{Key: convention.SpringOriginalOffset, Value: be64(offset)},
		{Key: convention.SpringOriginalTimestamp, Value: be64(origin.UnixMilli())},
		{Key: convention.SpringOriginalGroup, Value: []byte("payments-svc")},
	}
}

func TestSummarizeKafkaGroupsByErrorAndOrigin(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 2)
	dlt := kafkatest.NamedTopic(t, seeds, topic+".DLT", 1)
	var recs []*kgo.Record
	for i := range 7 {
		msg := "card declined"
		if i%3 == 0 {
			msg = "timeout"
		}
		var hs []kgo.RecordHeader
		for _, h := range springHeaders(msg, int32(i%2), int64(i)) {
			hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		recs = append(recs, &kgo.Record{Topic: dlt, Value: []byte("x"), Headers: hs,
			Timestamp: origin.Add(time.Duration(i) * time.Minute)})
	}
	recs = append(recs, &kgo.Record{Topic: dlt, Value: []byte("no headers"), Timestamp: origin.Add(time.Hour)})
	kafkatest.Produce(t, seeds, recs...)

	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names, err := dlq.KafkaDLQs(context.Background(), c, convention.DefaultNaming())
	if err != nil || !slices.Contains(names, dlt) || slices.Contains(names, topic) {
		t.Fatalf("discovered %v, %v; want %s and not %s", names, err, dlt, topic)
	}
	s, err := dlq.SummarizeKafka(context.Background(), c, dlt, convention.DefaultNaming(), nil, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 8 || s.Unparsed != 1 || !s.Oldest.Equal(origin) || !s.Newest.Equal(origin.Add(time.Hour)) {
		t.Fatalf("summary: %+v", s)
	}
	if fmt.Sprint(s.Errors) != "[{card declined 4} {timeout 3} {(unknown) 1}]" {
		t.Fatalf("errors: %v", s.Errors)
	}
	// The unparsed one's origin comes from the DLT's name.
	if fmt.Sprint(s.Origins) != fmt.Sprintf("[{payments 7} {%s 1}]", topic) {
		t.Fatalf("origins: %v", s.Origins)
	}
	g := s.Groups[0]
	if g.Error != "card declined" || g.Origin != "payments" || g.Count != 4 || len(g.IDs) != 2 ||
		g.IDs[0] != dlt+"/0@1" || !g.First.Equal(origin.Add(time.Minute)) || !g.Last.Equal(origin.Add(5*time.Minute)) {
		t.Fatalf("first group: %+v", g)
	}
}

// TestSummaryGroupsByMaskedError: error texts that carry order ids, SKUs and
// amounts made every message a group of its own (3,095 groups for 3,102
// messages on the demo). Messages are grouped by the error with those masked,
// the top errors are counted the same way, each group keeps its first error
// as recorded, and a Selection by pattern picks a group's messages.
func TestSummaryGroupsByMaskedError(t *testing.T) {
	s := dlq.NewSummarizer("payments.DLT", convention.DefaultNaming(), nil, 100)
	var evs []event.Event
	for i := range 50 {
		msg := fmt.Sprintf("acme-pay: no answer within %d ms for order ord-%04x after %d attempts", 1000+i, i*7919, 1+i%3)
		if i%10 == 0 {
			msg = fmt.Sprintf("cannot reserve SKU-%d: quantity '%d' exceeds stock", i, i)
		}
		evs = append(evs, event.Event{Transport: event.Kafka, Topic: "payments.DLT", Offset: int64(i), Timestamp: origin,
			Headers: springHeaders(msg, 0, int64(i))})
	}
	for i := range evs {
		s.Add(&evs[i])
	}
	sum := s.Summary()
	if len(sum.Groups) != 2 || sum.Groups[0].Count != 45 || sum.Groups[1].Count != 5 {
		t.Fatalf("groups: %+v", sum.Groups)
	}
	g := sum.Groups[0]
	if g.Pattern != "acme-pay: no answer within <n> ms for order <id> after <n> attempts" || g.Error != "acme-pay: no answer within 1001 ms for order ord-1eef after 2 attempts" {
		t.Fatalf("group 0: pattern %q, error %q", g.Pattern, g.Error)
	}
	if sum.Errors[0] != (dlq.Count{Value: g.Pattern, Count: 45}) || sum.Groups[1].Pattern != "cannot reserve <id>: quantity '…' exceeds stock" {
		t.Fatalf("errors %+v, group 1 %q", sum.Errors, sum.Groups[1].Pattern)
	}
	sel := dlq.Selection{Patterns: map[string]bool{sum.Groups[1].Pattern: true}}
	n := 0
	for i := range evs {
		l, _ := convention.Read(&evs[i])
		if ok, _ := sel.Selected(&evs[i], l); ok {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("a selection by the pattern picked %d, want its group's 5", n)
	}
}

// TestSummaryOverDecodedLetters: dead letters whose payloads are Avro (the
// bytes binary, the event id only in the decoded JSON, nested) group by
// their errors as any do, and each group names its messages by the ids the
// schema finds in the decoded JSON, as dlq show's ID does.
func TestSummaryOverDecodedLetters(t *testing.T) {
	schema := &event.Schema{ID: []string{"header:ce_id", "json:meta.event_id"}}
	s := dlq.NewSummarizer("payments.DLT", convention.DefaultNaming(), func(e *event.Event) string { return schema.Extract(e).ID }, 3)
	var evs []event.Event
	for i := range 12 {
		msg := fmt.Sprintf("amount %d exceeds the limit for order ord-%d", 100+i, i)
		if i%4 == 3 {
			msg = fmt.Sprintf("unknown currency 'X%dY'", i)
		}
		var hs []event.Header
		for _, h := range springHeaders(msg, 0, int64(i)) {
			if h.Key != "ce_id" { // the id is in the payload alone
				hs = append(hs, h)
			}
		}
		e := event.Event{Transport: event.Kafka, Topic: "payments.DLT", Offset: int64(i), Timestamp: origin, Headers: hs,
			Value: []byte{0, 0, 0, 0, 5, 0x80, byte(i)},
			ValueDecoded: &event.Decoded{JSON: []byte(fmt.Sprintf(`{"meta":{"event_id":"pay-%d"},"amount":%d}`, i, 100+i)),
				Schema: event.SchemaRef{Format: "avro", ID: 5, Subject: "payments-value", Version: 2}}}
		if i == 11 {
			e.ValueDecoded = &event.Decoded{Fail: event.FailUnknownSchema} // no JSON: named by its position
		}
		evs = append(evs, e)
	}
	for i := range evs {
		s.Add(&evs[i])
	}
	sum := s.Summary()
	if len(sum.Groups) != 2 || sum.Groups[0].Count != 9 || sum.Groups[1].Count != 3 || sum.Errors[0].Count != 9 {
		t.Fatalf("groups: %+v", sum.Groups)
	}
	if got := sum.Groups[0].IDs; !slices.Equal(got, []string{"pay-0", "pay-1", "pay-2"}) {
		t.Fatalf("group 0 ids %q, want the decoded event ids", got)
	}
	if got := sum.Groups[1].IDs; len(got) != 3 || got[0] != "pay-3" || got[1] != "pay-7" || got[2] == "pay-11" || got[2] == "" {
		t.Fatalf("group 1 ids %q: want pay-3, pay-7 and the undecoded one by position", got)
	}
}
