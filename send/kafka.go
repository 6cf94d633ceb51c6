package send

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
)

// Kafka batching, the same as librdkafka's defaults (kcat's): batches of
// up to 1 MB, lingering 5 ms for more records.
const (
	kafkaLinger   = 5 * time.Millisecond
	kafkaBatchMax = 1_000_000
)

// KafkaProducer produces to one topic with kgo's defaults for safety: acks
// from all in-sync replicas and the idempotent producer (no duplicate, no
// reordering on retry), built from the client's connection (KgoOpts).
type KafkaProducer struct {
	cl    *kgo.Client
	c     *kafka.Client
	topic string
	t     *Tracker
	cur   *slab
	used  int
}

// NewKafka returns a producer to topic that reports to t. It checks the
// topic (and partition, when >= 0) exists first: a *bus.NotFoundError.
func NewKafka(ctx context.Context, c *kafka.Client, topic string, partition int32, t *Tracker) (*KafkaProducer, error) {
	tds, err := c.Admin().ListTopics(ctx, topic)
	if err != nil {
		if cerr := c.Ping(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("kafka: describing topic %s: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		return nil, &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: topic}
	}
	if partition >= int32(len(td.Partitions)) {
		return nil, &bus.NotFoundError{Transport: "kafka", Kind: "partition", Name: fmt.Sprintf("%s/%d", topic, partition),
			Hint: fmt.Sprintf("topic %s has partitions 0-%d", topic, len(td.Partitions)-1)}
	}
	opts := append(c.KgoOpts(),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // kgo's default, said again: the promise
		kgo.ProducerLinger(kafkaLinger),
		kgo.ProducerBatchMaxBytes(kafkaBatchMax),
	)
	if partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &KafkaProducer{cl: cl, c: c, topic: topic, t: t}, nil
}

// recSlab is how many records are allocated at once, with one promise for
// all of them: a record and a closure per event were a third of send's
// allocations on a million lines.
const recSlab = 1024

// slab is a run of records and the promise they share.
type slab struct {
	recs    [recSlab]kgo.Record
	base    int64 // the index of recs[0]'s event
	promise func(*kgo.Record, error)
}

// Send implements Producer.
func (p *KafkaProducer) Send(ctx context.Context, i int64, ev *event.Event) error {
	if p.cur == nil || p.used == recSlab {
		sl := &slab{base: i}
		start := uintptr(unsafe.Pointer(&sl.recs[0]))
		sl.promise = func(r *kgo.Record, err error) {
			// The record is one of this slab's: its index in the array
			// is its event's offset from base.
			k := sl.base + int64((uintptr(unsafe.Pointer(r))-start)/unsafe.Sizeof(*r))
			if err != nil {
				p.t.Failed(k, p.why(ctx, err))
				return
			}
			p.t.Landed(k)
		}
		p.cur, p.used = sl, 0
	}
	if i != p.cur.base+int64(p.used) {
		return fmt.Errorf("send: event %d out of order (want %d)", i, p.cur.base+int64(p.used))
	}
	r := &p.cur.recs[p.used]
	p.used++
	r.Key, r.Value, r.Timestamp = ev.Key, ev.Value, ev.Timestamp
	if ev.Partition >= 0 {
		r.Partition = ev.Partition
	}
	if len(ev.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(ev.Headers))
		for k, h := range ev.Headers {
			r.Headers[k] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	p.cl.Produce(ctx, r, p.cur.promise)
	return nil
}

func (p *KafkaProducer) why(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return p.c.ProduceError(p.topic, err)
}

// Flush implements Producer.
func (p *KafkaProducer) Flush(ctx context.Context) error { return p.cl.Flush(ctx) }

// Close implements Producer.
func (p *KafkaProducer) Close() error {
	p.cl.Close()
	return nil
}
