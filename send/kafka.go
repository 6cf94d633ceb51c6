package send

import (
	"context"
	"fmt"
	"sync/atomic"
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

	// The outage watch: kgo retries an idempotent record for ever, and
	// one sent on a connection that died cannot be failed safely, so
	// without it send waited for a cluster that had gone, unreported.
	sent      atomic.Int64 // events handed to kgo (Send's goroutine)
	_         [56]byte     // apart: kgo's promise goroutine writes settled
	settled   atomic.Int64 // events settled by a promise
	gone      atomic.Pointer[error]
	stopWatch context.CancelFunc
	abandon   context.CancelFunc // fails a Produce waiting for buffer space
	pctx      context.Context
}

// NewKafka returns a producer to topic that reports to t. It checks the
// topic (and partition, when >= 0) exists first: a *bus.NotFoundError.
// ctx is the producer's life: Send's ctx must be it or within it. When
// events are outstanding and none settles for the client's --timeout while
// the cluster does not answer, every event not confirmed fails as
// unreachable.
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
	p := &KafkaProducer{cl: cl, c: c, topic: topic, t: t}
	p.pctx, p.abandon = context.WithCancel(ctx)
	wctx, stop := context.WithCancel(ctx)
	p.stopWatch = stop
	go p.watch(wctx, c.Timeout())
	return p, nil
}

// watch gives up on the cluster when events are outstanding, none has
// settled for timeout, and the cluster does not answer a ping within
// timeout either: every event not yet confirmed then fails as unreachable
// (exit 4). Those that were on the wire may have landed; they are reported
// not confirmed, never as landed. A slow cluster that answers is waited for.
func (p *KafkaProducer) watch(ctx context.Context, timeout time.Duration) {
	tick := time.NewTicker(max(timeout/4, 50*time.Millisecond))
	defer tick.Stop()
	// Progress is seen here, from the count, not stamped per event: a
	// clock read per record costs send's hot path a few per cent.
	var seen int64
	since := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n := p.settled.Load(); n != seen || n == p.sent.Load() {
			seen, since = n, time.Now()
			continue
		}
		if time.Since(since) < timeout {
			continue
		}
		err := p.c.Ping(ctx)
		if err == nil {
			// It answers: the wait starts again.
			since = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		err = fmt.Errorf("no event confirmed for %v and %w", timeout, err)
		p.gone.Store(&err)
		p.abandon()
		// Unsafe only for this client, which is never used again: the
		// records it held fail now, not when the cluster comes back.
		p.cl.UnsafeAbortBufferedRecords()
		return
	}
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
			p.settled.Add(1)
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
	if g := p.gone.Load(); g != nil {
		return *g
	}
	p.sent.Add(1)
	// kgo blocks in Produce while its buffer is full: pctx (NewKafka's
	// ctx, and the watch) ends that wait.
	p.cl.Produce(p.pctx, r, p.cur.promise)
	return nil
}

func (p *KafkaProducer) why(ctx context.Context, err error) error {
	if g := p.gone.Load(); g != nil {
		return *g
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return p.c.ProduceError(p.topic, err)
}

// Flush implements Producer.
func (p *KafkaProducer) Flush(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	if g := p.gone.Load(); g != nil {
		return *g
	}
	return err
}

// Close implements Producer.
func (p *KafkaProducer) Close() error {
	p.stopWatch()
	p.abandon()
	p.cl.Close()
	return nil
}
