package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

func newSink(t *testing.T, c *kafka.Client, topic string, opts ...kafka.SinkOption) bus.Sink {
	t.Helper()
	s, err := c.Sink(topic, opts...)
	if err != nil {
		t.Fatalf("Sink: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// consumeAll reads every record of topic with a plain kgo consumer, so that
// what the Sink wrote is checked independently of the Source.
func consumeAll(t *testing.T, seeds []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := kafkatest.Client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consuming %s after %d of %d records: %v", topic, len(out), n, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestSinkWritesExactly: what Write produced is read back exactly by another
// client: null versus empty key and value, headers in order with duplicates
// and null values, the event's own timestamp, acks from all replicas.
func TestSinkWritesExactly(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 1)
		ts := time.UnixMilli(1_600_000_000_042)
		evs := []event.Event{
			{Key: nil, Value: nil, Timestamp: ts},
			{Key: []byte{}, Value: []byte{}, Timestamp: ts},
			{Key: []byte{0, 0xff}, Value: []byte("v"), Timestamp: ts, Headers: []event.Header{
				{Key: "h", Value: []byte("1")}, {Key: "n", Value: nil}, {Key: "h", Value: []byte{}}, {Key: "h", Value: []byte("3")},
			}},
		}
		if err := newSink(t, c, topic).Write(ctxT(t), evs); err != nil {
			t.Fatalf("Write: %v", err)
		}
		got := consumeAll(t, seeds, topic, len(evs))
		for i, r := range got {
			e := &evs[i]
			if (r.Key == nil) != (e.Key == nil) || !bytes.Equal(r.Key, e.Key) ||
				(r.Value == nil) != (e.Value == nil) || !bytes.Equal(r.Value, e.Value) || !r.Timestamp.Equal(ts) {
				t.Errorf("record %d: key %q value %q ts %v; wrote key %q value %q ts %v", i, r.Key, r.Value, r.Timestamp, e.Key, e.Value, ts)
			}
			if len(r.Headers) != len(e.Headers) {
				t.Fatalf("record %d: %d headers, wrote %d", i, len(r.Headers), len(e.Headers))
			}
			for j, h := range r.Headers {
				w := e.Headers[j]
				if h.Key != w.Key || (h.Value == nil) != (w.Value == nil) || !bytes.Equal(h.Value, w.Value) {
					t.Errorf("record %d header %d: %q=%q, wrote %q=%q", i, j, h.Key, h.Value, w.Key, w.Value)
				}
			}
		}
	})
}

func TestSinkNewTimestamps(t *testing.T) {
	seeds := newCluster(t)
	c := newClient(t, seeds)
	topic := kafkatest.NewTopic(t, seeds, 1)
	old := time.UnixMilli(1_000_000_000_000)
	before := time.Now().Add(-time.Second)
	if err := newSink(t, c, topic, kafka.WithNewTimestamps()).Write(ctxT(t), []event.Event{{Value: []byte("x"), Timestamp: old}}); err != nil {
		t.Fatal(err)
	}
	if r := consumeAll(t, seeds, topic, 1)[0]; r.Timestamp.Before(before) {
		t.Fatalf("timestamp %v, want the time of writing", r.Timestamp)
	}
}

// murmur2 is Kafka's Utils.murmur2, written out here so the test checks the
// Sink against the Java client's partitioning rather than against kgo.
func murmur2(data []byte) int32 {
	const seed, m, r = uint32(0x9747b28c), uint32(0x5bd1e995), 24
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func TestSinkPartitioning(t *testing.T) {
	// Kafka's own test vectors (UtilsTest.testMurmur2).
	for s, want := range map[string]int32{"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536, "abc": 479470107} {
		if got := murmur2([]byte(s)); got != want {
			t.Fatalf("murmur2(%q) = %d, want %d", s, got, want)
		}
	}
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		const n = 5
		topic := kafkatest.NewTopic(t, seeds, n)

		var evs []event.Event
		for i := range 20 {
			evs = append(evs, event.Event{Key: []byte(fmt.Sprintf("order-%d", i)), Value: []byte(fmt.Sprint(i)), Partition: 4})
		}
		if err := newSink(t, c, topic).Write(ctxT(t), evs); err != nil {
			t.Fatal(err)
		}
		for _, r := range consumeAll(t, seeds, topic, len(evs)) {
			if want := (murmur2(r.Key) & 0x7fffffff) % n; r.Partition != want {
				t.Errorf("key %s went to partition %d, the Java client would pick %d", r.Key, r.Partition, want)
			}
		}

		kept := kafkatest.NewTopic(t, seeds, n)
		if err := newSink(t, c, kept, kafka.WithKeepPartition()).Write(ctxT(t), evs); err != nil {
			t.Fatal(err)
		}
		for _, r := range consumeAll(t, seeds, kept, len(evs)) {
			if r.Partition != 4 {
				t.Errorf("WithKeepPartition: key %s went to partition %d, want the event's 4", r.Key, r.Partition)
			}
		}

		small := kafkatest.NewTopic(t, seeds, 2)
		err := newSink(t, c, small, kafka.WithKeepPartition()).Write(ctxT(t), evs)
		var we *bus.WriteError
		var nf *bus.NotFoundError
		if !errors.As(err, &we) || we.Written != 0 || !errors.As(err, &nf) || nf.Kind != "partition" || !strings.Contains(err.Error(), small+"/4") {
			t.Fatalf("keeping partition 4 on a 2-partition topic: %v, want WriteError{0} with NotFoundError %s/4", err, small)
		}
	})
}

// TestSinkEventTopics: with no topic, every event goes to its own.
func TestSinkEventTopics(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		a, b := kafkatest.NewTopic(t, seeds, 1), kafkatest.NewTopic(t, seeds, 1)
		s := newSink(t, c, "")
		if err := s.Write(ctxT(t), []event.Event{{Topic: a, Value: []byte("1")}, {Topic: b, Value: []byte("2")}, {Topic: a, Value: []byte("3")}}); err != nil {
			t.Fatal(err)
		}
		if got := consumeAll(t, seeds, a, 2); string(got[0].Value)+string(got[1].Value) != "13" {
			t.Fatalf("topic a got %q %q", got[0].Value, got[1].Value)
		}
		if got := consumeAll(t, seeds, b, 1); string(got[0].Value) != "2" {
			t.Fatalf("topic b got %q", got[0].Value)
		}
		err := s.Write(ctxT(t), []event.Event{{Topic: a}, {}})
		var we *bus.WriteError
		if !errors.As(err, &we) || we.Written != 0 || !strings.Contains(err.Error(), "event 1 has no topic") {
			t.Fatalf("event without topic: %v", err)
		}
	})
}

func TestSinkUnknownTopic(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		nope := "nope-" + kafkatest.UniqueName(t)
		err := newSink(t, c, nope).Write(ctxT(t), bustestEvents(3))
		var we *bus.WriteError
		var nf *bus.NotFoundError
		if !errors.As(err, &we) || we.Written != 0 || !errors.As(err, &nf) || nf.Name != nope || !errors.Is(err, bus.ErrNotFound) {
			t.Fatalf("err = %v, want WriteError{0} wrapping NotFoundError for %s", err, nope)
		}
	})
}

// TestLargeRecord: a 10 MB event is written and read back whole where the
// topic allows it; where it does not, Write says so and writes the events
// before it.
func TestLargeRecord(t *testing.T) {
	seeds := newCluster(t)
	testLargeRecord(t, seeds)
}

func TestLargeRecordRealBroker(t *testing.T) {
	testLargeRecord(t, kafkatest.Real(t))
}

func testLargeRecord(t *testing.T, seeds []string) {
	c := newClient(t, seeds)
	big := make([]byte, 10<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	topic := kafkatest.NewTopicWith(t, seeds, 1, map[string]string{"max.message.bytes": fmt.Sprint(16 << 20)})
	if err := newSink(t, c, topic).Write(ctxT(t), []event.Event{{Key: []byte("big"), Value: big}, {Value: []byte("small")}}); err != nil {
		t.Fatalf("writing 10 MB: %v", err)
	}
	got := readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, snapshot()))
	if len(got) != 2 || !bytes.Equal(got[0].Value, big) || string(got[1].Value) != "small" {
		t.Fatalf("read %d events back; first value %d bytes", len(got), len(got[0].Value))
	}

	strict := kafkatest.NewTopic(t, seeds, 1) // the default 1 MB limit
	s := newSink(t, c, strict)
	err := s.Write(ctxT(t), []event.Event{{Value: []byte("a")}, {Value: []byte("b")}, {Value: big}, {Value: []byte("c")}})
	var we *bus.WriteError
	if !errors.As(err, &we) || we.Written != 2 || !strings.Contains(err.Error(), "max.message.bytes") || !strings.Contains(err.Error(), "event 2") {
		t.Fatalf("10 MB into a 1 MB topic: %v, want WriteError{2} naming event 2 and max.message.bytes", err)
	}
	if err := s.Write(ctxT(t), []event.Event{{Value: []byte("after")}}); err != nil {
		t.Fatalf("a write after the refused one: %v", err)
	}
}

func TestSinkClosed(t *testing.T) {
	seeds := newCluster(t)
	c := newClient(t, seeds)
	s := newSink(t, c, kafkatest.NewTopic(t, seeds, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctxT(t), bustestEvents(1)); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}
