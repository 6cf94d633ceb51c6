package eos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// routes is what a routed run knows about the topics it writes to: their
// partition counts and record size limits, looked up once per topic.
type routes struct {
	adm    *kadm.Client
	mu     sync.Mutex
	topics map[string]*topicInfo
	limits sync.Map // topic -> int32 max.message.bytes, read by kgo
	hash   kgo.Partitioner
	tps    map[string]kgo.TopicPartitioner
}

type topicInfo struct {
	partitions int32
	next       int32 // round robin for records without a key
}

func newRoutes(adm *kadm.Client) *routes {
	return &routes{adm: adm, topics: map[string]*topicInfo{}, hash: kgo.StickyKeyPartitioner(nil), tps: map[string]kgo.TopicPartitioner{}}
}

func (rt *routes) maxBytes(topic string) int32 {
	if v, ok := rt.limits.Load(topic); ok {
		return v.(int32)
	}
	return 1 << 20
}

// info looks topic up once: a missing topic is a *bus.NotFoundError.
func (rt *routes) info(ctx context.Context, topic string) (*topicInfo, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if ti, ok := rt.topics[topic]; ok {
		return ti, nil
	}
	tds, err := rt.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing topic %s: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: topic}
	}
	if td.Err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, td.Err)
	}
	limit := int32(1 << 20)
	if rcs, err := rt.adm.DescribeTopicConfigs(ctx, topic); err == nil {
		for _, rc := range rcs {
			for _, kv := range rc.Configs {
				if kv.Key == "max.message.bytes" && kv.Value != nil {
					if n, err := strconv.ParseInt(*kv.Value, 10, 32); err == nil && n > int64(limit) {
						limit = int32(n)
					}
				}
			}
		}
	}
	rt.limits.Store(topic, limit)
	ti := &topicInfo{partitions: int32(len(td.Partitions))}
	rt.topics[topic] = ti
	return ti, nil
}

// record is the routed record out (read as e) in the target.
func (rt *routes) record(ctx context.Context, o Options, e, out *event.Event) (*kgo.Record, error) {
	ti, err := rt.info(ctx, out.Topic)
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Topic: out.Topic, Key: out.Key, Value: out.Value}
	if !o.NewTimestamps {
		r.Timestamp = out.Timestamp
	}
	switch {
	case out.Partition >= 0 && out.Partition < ti.partitions:
		r.Partition = out.Partition
	case out.Partition >= 0:
		return nil, fmt.Errorf("%s has %d partition(s), no partition %d", out.Topic, ti.partitions, out.Partition)
	case r.Key != nil:
		rt.mu.Lock()
		tp, ok := rt.tps[out.Topic]
		if !ok {
			tp = rt.hash.ForTopic(out.Topic)
			rt.tps[out.Topic] = tp
		}
		rt.mu.Unlock()
		r.Partition = int32(tp.Partition(r, int(ti.partitions)))
	default:
		rt.mu.Lock()
		r.Partition = ti.next % ti.partitions
		ti.next++
		rt.mu.Unlock()
	}
	rid := replay.RedriveID(o.Job, replay.DefaultIdentity(e))
	r.Headers = make([]kgo.RecordHeader, 0, len(out.Headers)+1)
	for _, h := range out.Headers {
		if h.Key != replay.HeaderRedriveID {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: replay.HeaderRedriveID, Value: []byte(rid)})
	return r, nil
}
