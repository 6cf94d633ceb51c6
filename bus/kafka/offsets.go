package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-sh/eddy/bus"
)

// Timestamps with special meaning in a ListOffsets request.
const (
	tsLatest   = -1 // the end: high watermark, or last stable offset when read_committed
	tsEarliest = -2 // the log start offset
)

// Isolation levels on the wire.
const (
	readUncommitted int8 = 0
	readCommitted   int8 = 1
)

func (c *Client) isolation() int8 {
	if c.cfg.uncommitted {
		return readUncommitted
	}
	return readCommitted
}

// metadata loads topic metadata (all topics when none are named), bounded by
// the dial timeout: it is the first request of an operation, so it is where an
// unreachable cluster shows.
func (c *Client) metadata(ctx context.Context, topics ...string) (kadm.TopicDetails, error) {
	return connect(ctx, c, func(ctx context.Context) (kadm.TopicDetails, error) {
		m, err := c.adm.Metadata(ctx, topics...)
		return m.Topics, err
	})
}

// offsetLookup is one ListOffsets question asked of every partition in tps.
type offsetLookup struct {
	ts        int64 // tsLatest, tsEarliest or milliseconds
	isolation int8
	// lenient leaves partitions that answered with an error out of the
	// result instead of failing.
	lenient bool
}

// listOffsets answers several lookups concurrently. Results are indexed like
// lookups; an offset is -1 where a time lookup found no record at or after the
// time. Unlike kadm's List*Offsets it issues no metadata request per lookup:
// the caller already has metadata, and opening a Source should cost few round
// trips.
func (c *Client) listOffsets(ctx context.Context, tps map[string][]int32, lookups ...offsetLookup) ([]map[string]map[int32]int64, error) {
	out := make([]map[string]map[int32]int64, len(lookups))
	errs := make([]error, len(lookups))
	var wg sync.WaitGroup
	for i, l := range lookups {
		wg.Go(func() { out[i], errs[i] = c.listOffsetsOnce(ctx, tps, l) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listOffsetsOnce answers one lookup, asking again for partitions that
// answered with a retriable error: a topic created a moment ago reports
// NOT_LEADER until its leader has caught up with the controller.
func (c *Client) listOffsetsOnce(ctx context.Context, tps map[string][]int32, l offsetLookup) (map[string]map[int32]int64, error) {
	res := make(map[string]map[int32]int64, len(tps))
	todo := tps
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		retry, err := c.listOffsetsAsk(ctx, todo, l, res)
		if err != nil {
			return nil, err
		}
		if len(retry) == 0 {
			break
		}
		if attempt == 8 {
			for t, ps := range retry {
				if l.lenient {
					break
				}
				return nil, fmt.Errorf("kafka: listing offsets of %s partition %d: %w", t, ps[0].p, ps[0].err)
			}
			break
		}
		todo = make(map[string][]int32, len(retry))
		for t, ps := range retry {
			for _, p := range ps {
				todo[t] = append(todo[t], p.p)
			}
		}
		c.cl.ForceMetadataRefresh()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	for t, ps := range tps {
		for _, p := range ps {
			if _, ok := res[t][p]; !ok && !l.lenient {
				return nil, fmt.Errorf("kafka: listing offsets: no answer for %s partition %d", t, p)
			}
		}
	}
	return res, nil
}

type partErr struct {
	p   int32
	err error
}

// listOffsetsAsk issues one sharded ListOffsets request for tps, adds the
// answers to res and returns the partitions to ask again.
func (c *Client) listOffsetsAsk(ctx context.Context, tps map[string][]int32, l offsetLookup, res map[string]map[int32]int64) (map[string][]partErr, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = l.isolation
	req.ReplicaID = -1
	for t, ps := range tps {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t
		for _, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = l.ts
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	var retry map[string][]partErr
	for _, shard := range c.cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if cause := c.connectCause(shard.Err, false); cause != nil {
				return nil, &bus.ConnectError{Transport: transport, Addr: c.addr, Err: cause}
			}
			// A Kafka error here is about the topics of this shard alone (their
			// metadata failed): on a busy cluster a topic listed a moment ago may
			// be gone or leaderless now. That must not fail the other topics.
			var kerrv *kerr.Error
			if sreq, ok := shard.Req.(*kmsg.ListOffsetsRequest); ok && errors.As(shard.Err, &kerrv) {
				for _, t := range sreq.Topics {
					for _, p := range t.Partitions {
						switch {
						case errors.Is(shard.Err, kerr.UnknownTopicOrPartition):
							// Deleted since it was listed: nothing to wait for.
							if !l.lenient {
								return nil, fmt.Errorf("kafka: listing offsets: %w", shard.Err)
							}
						case kerr.IsRetriable(shard.Err):
							if retry == nil {
								retry = map[string][]partErr{}
							}
							retry[t.Topic] = append(retry[t.Topic], partErr{p.Partition, shard.Err})
						case l.lenient:
						default:
							return nil, fmt.Errorf("kafka: listing offsets of %s partition %d: %w", t.Topic, p.Partition, shard.Err)
						}
					}
				}
				continue
			}
			return nil, fmt.Errorf("kafka: listing offsets: %w", c.scrub(shard.Err))
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			m := res[t.Topic]
			if m == nil {
				m = make(map[int32]int64, len(t.Partitions))
				res[t.Topic] = m
			}
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					if kerr.IsRetriable(err) {
						if retry == nil {
							retry = map[string][]partErr{}
						}
						retry[t.Topic] = append(retry[t.Topic], partErr{p.Partition, err})
						continue
					}
					if l.lenient {
						continue
					}
					return nil, fmt.Errorf("kafka: listing offsets of %s partition %d: %w", t.Topic, p.Partition, err)
				}
				m[p.Partition] = p.Offset
			}
		}
	}
	return retry, nil
}
