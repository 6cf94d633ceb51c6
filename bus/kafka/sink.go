package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// defaultMaxMessageBytes is Kafka's default max.message.bytes, used for a topic
// whose configuration cannot be described (no DescribeConfigs permission).
const defaultMaxMessageBytes = 1048588

// SinkOption configures a Sink.
type SinkOption func(*sinkCfg)

type sinkCfg struct {
	keepPartition bool
	newTimestamps bool
}

// WithKeepPartition produces every event to its own Partition (a replay to the
// partition it came from). The default partitions by key like the Java
// client: murmur2 of the key, and sticky batches for events without one.
func WithKeepPartition() SinkOption { return func(c *sinkCfg) { c.keepPartition = true } }

// WithNewTimestamps stamps events with the time they are produced. The default
// keeps each event's Timestamp (the time of produce for events without one).
func WithNewTimestamps() SinkOption { return func(c *sinkCfg) { c.newTimestamps = true } }

// Sink opens a writer to topic, or, when topic is "", to each event's own
// Topic. Events are produced idempotently with acks from all in-sync replicas;
// see Write.
func (c *Client) Sink(topic string, opts ...SinkOption) (bus.Sink, error) {
	s := &sink{c: c, topic: topic, topics: map[string]int32{}}
	for _, o := range opts {
		o(&s.cfg)
	}
	kopts := append(c.baseOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Write waits for every event anyway; lingering would only delay the
		// last batch of each Write.
		kgo.ProducerLinger(0),
		// Each topic's batches may be as large as the topic accepts, so
		// that a 10 MB event can be written where the topic allows it, and
		// small events never make a batch the broker would refuse.
		kgo.ProducerBatchMaxBytesFn(s.maxBytes),
	)
	if s.cfg.keepPartition {
		kopts = append(kopts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %s", c.redact(err.Error()))
	}
	s.cl = cl
	return s, nil
}

// Preflight checks that the sink's topic exists (bus.Preflighter), as the
// first Write does, and that the user may write to it: a dry run must
// refuse what the real run would be refused. Kafka answers the second
// without anything written (Metadata's authorized operations, KIP-430); a
// broker that does not say (before 2.3, or no answer) leaves it to the
// first Write. A sink without a topic has nothing to check up front.
func (s *sink) Preflight(ctx context.Context) error {
	if s.topic == "" {
		return nil
	}
	if err := s.check(ctx, []event.Event{{Topic: s.topic}}); err != nil {
		return err
	}
	ops, err := connect(ctx, s.c, func(ctx context.Context) ([]kadm.ACLOperation, error) {
		m, err := s.c.adm.Metadata(kadm.WithAuthorizedOps(ctx), s.topic)
		return m.Topics[s.topic].AuthorizedOperations, err
	})
	if err != nil || len(ops) == 0 {
		return err
	}
	if !slices.Contains(ops, kadm.OpWrite) && !slices.Contains(ops, kadm.OpAll) {
		return fmt.Errorf("kafka: not authorized to write to topic %s: %w", s.topic, kerr.TopicAuthorizationFailed)
	}
	return nil
}

type sink struct {
	c     *Client
	cl    *kgo.Client
	cfg   sinkCfg
	topic string

	mu     sync.Mutex
	topics map[string]int32 // checked topics: partition count
	limits sync.Map         // topic -> int32 max.message.bytes, read by kgo
}

func (s *sink) maxBytes(topic string) int32 {
	if v, ok := s.limits.Load(topic); ok {
		return v.(int32)
	}
	return defaultMaxMessageBytes
}

// Write produces evs and returns once the broker confirmed every one of them
// (acks from all in-sync replicas), or with a *bus.WriteError whose Written
// counts the leading events that were confirmed (later ones may have landed
// too when they went to other partitions). Key, value and header values keep
// nil apart from empty, headers keep their order and duplicates, and the
// event's Timestamp is kept unless WithNewTimestamps. A topic that does not
// exist is a *bus.NotFoundError (nothing is written); an event larger than its
// topic's max.message.bytes fails with an error saying so.
func (s *sink) Write(ctx context.Context, evs []event.Event) error {
	if s.cl == nil {
		return &bus.WriteError{Err: errors.New("kafka: write to a closed sink")}
	}
	if len(evs) == 0 {
		return nil
	}
	if err := s.check(ctx, evs); err != nil {
		return &bus.WriteError{Err: err}
	}

	recs := make([]kgo.Record, len(evs))
	nh := 0
	for i := range evs {
		nh += len(evs[i].Headers)
	}
	hdrs := make([]kgo.RecordHeader, 0, nh)
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	wg.Add(len(evs))
	for i := range evs {
		e, r := &evs[i], &recs[i]
		r.Topic = s.topicOf(e)
		r.Key, r.Value = e.Key, e.Value
		if s.cfg.keepPartition {
			r.Partition = e.Partition
		}
		if !s.cfg.newTimestamps {
			r.Timestamp = e.Timestamp // zero: kgo stamps it
		}
		if len(e.Headers) > 0 {
			start := len(hdrs)
			for _, h := range e.Headers {
				hdrs = append(hdrs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			r.Headers = hdrs[start:len(hdrs):len(hdrs)]
		}
		s.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return &bus.WriteError{Written: i, Err: s.produceErr(ctx, i, &recs[i], err)}
		}
	}
	return nil
}

func (s *sink) topicOf(e *event.Event) string {
	if s.topic != "" {
		return s.topic
	}
	return e.Topic
}

// check makes sure every event has a topic that exists (and, with
// WithKeepPartition, a partition that exists), and learns each new topic's
// max.message.bytes before kgo first asks for it. Nothing is produced when it
// fails.
func (s *sink) check(ctx context.Context, evs []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var unknown []string
	for i := range evs {
		t := s.topicOf(&evs[i])
		if t == "" {
			return fmt.Errorf("kafka: event %d has no topic, and the sink names none", i)
		}
		if _, ok := s.topics[t]; !ok && !slices.Contains(unknown, t) {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		tds, err := s.c.metadata(ctx, unknown...)
		if err != nil {
			return err
		}
		for _, t := range unknown {
			td, ok := tds[t]
			if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				return &bus.NotFoundError{Transport: transport, Kind: "topic", Name: t}
			}
			if td.Err != nil {
				return fmt.Errorf("kafka: topic %s: %w", t, td.Err)
			}
		}
		// Without DescribeConfigs permission the default stands.
		if rcs, err := s.c.adm.DescribeTopicConfigs(ctx, unknown...); err == nil {
			for _, rc := range rcs {
				if rc.Err != nil {
					continue
				}
				for _, kv := range rc.Configs {
					if kv.Key == "max.message.bytes" && kv.Value != nil {
						if n, err := strconv.ParseInt(*kv.Value, 10, 32); err == nil && n >= 512 {
							s.limits.Store(rc.Name, int32(n))
						}
					}
				}
			}
		}
		for _, t := range unknown {
			s.topics[t] = int32(len(tds[t].Partitions))
		}
	}
	if s.cfg.keepPartition {
		for i := range evs {
			t, p := s.topicOf(&evs[i]), evs[i].Partition
			if n := s.topics[t]; p < 0 || p >= n {
				return &bus.NotFoundError{Transport: transport, Kind: "partition", Name: fmt.Sprintf("%s/%d", t, p),
					Hint: fmt.Sprintf("event %d keeps its partition; topic %s has %s", i, t, partitionRange(n))}
			}
		}
	}
	return nil
}

// produceErr says what failed for event i in terms of the event.
func (s *sink) produceErr(ctx context.Context, i int, r *kgo.Record, err error) error {
	switch {
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return ctx.Err()
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Errorf("kafka: event %d (%s) is larger than topic %s accepts (max.message.bytes %d): %w",
			i, size(len(r.Key)+len(r.Value)), r.Topic, s.maxBytes(r.Topic), err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return &bus.NotFoundError{Transport: transport, Kind: "topic", Name: r.Topic, Hint: "deleted while writing"}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("kafka: not authorized to write to topic %s: %w", r.Topic, err)
	}
	if cause := s.c.connectCause(err, false); cause != nil {
		return &bus.ConnectError{Transport: transport, Addr: s.c.addr, Err: cause}
	}
	return fmt.Errorf("kafka: producing event %d to %s: %w", i, r.Topic, s.c.scrub(err))
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Close closes the sink's connections. Write has already waited for every
// event, so nothing is left to flush.
func (s *sink) Close() error {
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
	return nil
}
