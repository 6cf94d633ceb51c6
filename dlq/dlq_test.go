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
