package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-sh/eddy/bus"
)

// GroupOffsets is one consumer group as eddy lag sees it at one moment: who is
// in it, what it has committed, and how far each partition is behind.
type GroupOffsets struct {
	Group string
	// Type is "classic" (JoinGroup/SyncGroup) or "consumer" (KIP-848, the
	// broker assigns partitions); empty when the broker does not say (before
	// Kafka 3.8).
	Type string
	// ProtocolType is "consumer" for Kafka consumers, "connect" for Kafka
	// Connect workers, empty for a group that only has committed offsets.
	ProtocolType string
	// State is the broker's word: Stable, Empty, PreparingRebalance,
	// CompletingRebalance, Reconciling, Assigning, Dead.
	State   string
	Members []GroupMember
	// Partitions are every partition of every topic the group has committed
	// to or is assigned, sorted by topic and partition.
	Partitions []PartitionOffsets
	// Err is set when the group could not be described or its offsets
	// fetched; Partitions is then empty.
	Err error
}

// GroupMember is one member of a group and what it is assigned.
type GroupMember struct {
	ID, InstanceID, ClientID, Host string
	// Assigned maps topics to the member's partitions, sorted.
	Assigned map[string][]int32
}

// PartitionOffsets is one partition of a group.
type PartitionOffsets struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset (the next record it will
	// read), -1 when it has committed nothing for this partition.
	Committed int64
	// LogStart is the oldest offset still in the log and End the end that a
	// consumer of the client's isolation sees: the last stable offset for
	// read_committed (the default), the high watermark for read_uncommitted.
	// Both are -1 when unknown (a deleted topic, a partition without leader).
	LogStart, End int64
	// OffsetLag is End-Committed, what kafka-consumer-groups shows as LAG;
	// -1 when unknown. Transaction markers and aborted records count in it.
	OffsetLag int64
	// Lag is the number of records a consumer of the client's isolation
	// still has to read: transaction markers (and, read_committed, aborted
	// records) are not lag. It is exact when Head.Exact, which eddy arranges
	// whenever the rest of the partition fits in one small fetch; otherwise
	// it is End minus the offset of the first unread record, which can count
	// the markers of the transactions still ahead. A committed offset below
	// LogStart counts from LogStart, since the records before it are gone.
	// -1 when unknown (no commit, deleted topic).
	Lag int64
	// Head is the first record the group has not read, nil when the group
	// is at the end (or Lag is unknown).
	Head *Head
	// Owner is the member id the partition is assigned to, "" when none.
	Owner string
	// Err says why offsets are unknown: kerr.UnknownTopicOrPartition for a
	// deleted topic, or a broker error.
	Err error
}

// Head is the first unread record of a partition, read with one small fetch at
// the committed offset (or the log start, when the committed offset is below
// it).
type Head struct {
	// From is the offset the fetch asked for.
	From int64
	// Offset and Timestamp are those of the first data record at or after
	// From; Offset is -1 when there is none before the end (only transaction
	// markers or aborted records remain).
	Offset    int64
	Timestamp time.Time
	// Exact says the fetch saw every batch up to End, so Records is the
	// exact number of data records between From and End.
	Exact   bool
	Records int64
	// end is the End the head was read against (for the cache).
	end int64
}

// LagReader samples consumer groups. It caches the first unread record of
// each partition, so a repeated Read fetches records only where a committed
// offset moved (or, for partitions whose rest was counted exactly, where the
// end moved). It is safe for concurrent use, though Reads are meant to be
// sequential samples.
type LagReader struct {
	c *Client

	mu    sync.Mutex
	heads map[headKey]*Head
}

type headKey struct {
	topic     string
	partition int32
	from      int64
}

// headFetchBytes bounds the bytes each partition returns in a head fetch:
// enough to see a small rest of the partition whole (exact lag), little
// enough that thousands of partitions answer in one round trip.
const headFetchBytes = 32 << 10

// LagReader returns a reader of consumer lag through c.
func (c *Client) LagReader() *LagReader {
	return &LagReader{c: c, heads: map[headKey]*Head{}}
}

// Read samples the named groups, or every consumer group when groups is empty.
// A named group that does not exist is a *bus.NotFoundError; an unreachable
// cluster a *bus.ConnectError. A group that fails alone carries its error in
// GroupOffsets.Err. Groups come back sorted by name.
func (r *LagReader) Read(ctx context.Context, groups []string) ([]GroupOffsets, error) {
	c := r.c
	listed, err := connect(ctx, c, func(ctx context.Context) (map[string]kmsg.ListGroupsResponseGroup, error) {
		return c.listGroups(ctx)
	})
	if err != nil {
		return nil, err
	}
	names := slices.Clone(groups) // sorted below; the caller keeps its order
	if len(names) == 0 {
		for g, lg := range listed {
			if lg.GroupType == "share" || lg.GroupType == "streams" {
				continue // no committed offsets of this kind
			}
			names = append(names, g)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]GroupOffsets, len(names))
	var classic, consumer []string
	for i, g := range names {
		lg, ok := listed[g]
		if !ok {
			return nil, &bus.NotFoundError{Transport: transport, Kind: "consumer group", Name: g}
		}
		out[i] = GroupOffsets{Group: g, Type: lg.GroupType, ProtocolType: lg.ProtocolType, State: lg.GroupState}
		if lg.GroupType == "consumer" {
			consumer = append(consumer, g)
		} else {
			classic = append(classic, g)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	index := make(map[string]int, len(out))
	for i, g := range out {
		index[g.Group] = i
	}

	// Describe (both protocols) and fetch the commits concurrently.
	var (
		wg                sync.WaitGroup
		described         kadm.DescribedGroups
		describedConsumer []consumerGroup
		dErr, dcErr       error
		fetched           kadm.FetchOffsetsResponses
	)
	if len(classic) > 0 {
		wg.Go(func() { described, dErr = c.adm.DescribeGroups(ctx, classic...) })
	}
	if len(consumer) > 0 {
		wg.Go(func() { describedConsumer, dcErr = c.describeConsumerGroups(ctx, consumer) })
	}
	wg.Go(func() { fetched = c.adm.FetchManyOffsets(ctx, names...) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range []error{dErr, dcErr} {
		var se *kadm.ShardErrors
		if err != nil && !errors.As(err, &se) {
			return nil, fmt.Errorf("kafka: describing groups: %w", c.scrub(err))
		}
	}
	for _, d := range described {
		g := &out[index[d.Group]]
		if d.Err != nil {
			g.Err = d.Err
			continue
		}
		if d.State != "" {
			g.State = d.State
		}
		g.ProtocolType = d.ProtocolType
		for _, m := range d.Members {
			gm := GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: map[string][]int32{}}
			if m.InstanceID != nil {
				gm.InstanceID = *m.InstanceID
			}
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range a.Topics {
					gm.Assigned[t.Topic] = append(gm.Assigned[t.Topic], t.Partitions...)
				}
			}
			g.Members = append(g.Members, gm)
		}
	}
	for _, d := range describedConsumer {
		g := &out[index[d.group]]
		if d.err != nil {
			g.Err = d.err
			continue
		}
		g.State, g.ProtocolType, g.Members = d.state, "consumer", d.members
	}
	for _, f := range fetched {
		if f.Err != nil && out[index[f.Group]].Err == nil {
			out[index[f.Group]].Err = f.Err
		}
	}

	// Every topic any group committed to or is assigned.
	type groupTopics = map[string]map[int32]int64 // topic -> partition -> committed
	perGroup := make([]groupTopics, len(out))
	topicSet := map[string]bool{}
	for i := range out {
		g := &out[i]
		if g.Err != nil {
			continue
		}
		gt := groupTopics{}
		for _, m := range g.Members {
			for t, ps := range m.Assigned {
				slices.Sort(ps)
				if gt[t] == nil {
					gt[t] = map[int32]int64{}
				}
				for _, p := range ps {
					gt[t][p] = -1
				}
			}
		}
		if f, ok := fetched[g.Group]; ok {
			f.Fetched.Each(func(o kadm.OffsetResponse) {
				if gt[o.Topic] == nil {
					gt[o.Topic] = map[int32]int64{}
				}
				at := o.At
				if o.Err != nil {
					at = -1
				}
				gt[o.Topic][o.Partition] = at
			})
		}
		perGroup[i] = gt
		for t := range gt {
			topicSet[t] = true
		}
	}
	if len(topicSet) == 0 {
		return out, nil
	}
	topics := make([]string, 0, len(topicSet))
	for t := range topicSet {
		topics = append(topics, t)
	}
	meta, err := c.metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	tps := map[string][]int32{}
	for t, td := range meta {
		if td.Err != nil {
			continue
		}
		for p := range td.Partitions {
			tps[t] = append(tps[t], p)
		}
	}
	var listed2 []map[string]map[int32]int64
	if len(tps) > 0 {
		listed2, err = c.listOffsets(ctx, tps, offsetLookup{ts: tsEarliest, isolation: readUncommitted, lenient: true},
			offsetLookup{ts: tsLatest, isolation: c.isolation(), lenient: true})
		if err != nil {
			return nil, err
		}
	} else {
		listed2 = []map[string]map[int32]int64{{}, {}}
	}
	offsetOf := func(m map[string]map[int32]int64, t string, p int32) int64 {
		if o, ok := m[t][p]; ok {
			return o
		}
		return -1
	}

	// Assemble the partitions and collect the heads to read.
	var need []*PartitionOffsets
	for i := range out {
		g := &out[i]
		gt := perGroup[i]
		if gt == nil {
			continue
		}
		owner := map[string]map[int32]string{}
		for _, m := range g.Members {
			for t, ps := range m.Assigned {
				if owner[t] == nil {
					owner[t] = map[int32]string{}
				}
				for _, p := range ps {
					owner[t][p] = m.ID
				}
			}
		}
		for t, commits := range gt {
			td, ok := meta[t]
			parts := map[int32]bool{}
			if ok && td.Err == nil {
				for p := range td.Partitions {
					parts[p] = true
				}
			} else {
				for p := range commits {
					parts[p] = true
				}
			}
			for p := range parts {
				po := PartitionOffsets{Topic: t, Partition: p, Committed: -1, LogStart: -1, End: -1, OffsetLag: -1, Lag: -1, Owner: owner[t][p]}
				if c, ok := commits[p]; ok {
					po.Committed = c
				}
				switch {
				case !ok:
					po.Err = kerr.UnknownTopicOrPartition
				case td.Err != nil:
					po.Err = td.Err
				default:
					po.LogStart, po.End = offsetOf(listed2[0], t, p), offsetOf(listed2[1], t, p)
					if po.End < 0 {
						po.Err = errors.New("no end offset (partition without leader?)")
					}
				}
				if po.Err == nil && po.Committed >= 0 {
					po.OffsetLag = max(po.End-po.Committed, 0)
					from := max(po.Committed, po.LogStart)
					if from >= po.End {
						po.Lag = 0
					}
				}
				g.Partitions = append(g.Partitions, po)
			}
		}
		sort.Slice(g.Partitions, func(a, b int) bool {
			pa, pb := &g.Partitions[a], &g.Partitions[b]
			if pa.Topic != pb.Topic {
				return pa.Topic < pb.Topic
			}
			return pa.Partition < pb.Partition
		})
		for j := range g.Partitions {
			po := &g.Partitions[j]
			if po.Err == nil && po.Committed >= 0 && po.Lag < 0 {
				need = append(need, po)
			}
		}
	}
	if err := r.readHeads(ctx, meta, need); err != nil {
		return nil, err
	}
	for _, po := range need {
		if po.Lag < 0 { // the head could not be read: count offsets
			po.Lag = max(po.End-max(po.Committed, po.LogStart), 0)
		}
	}
	return out, nil
}

// listGroups lists every group with its type and state.
func (c *Client) listGroups(ctx context.Context) (map[string]kmsg.ListGroupsResponseGroup, error) {
	req := kmsg.NewPtrListGroupsRequest()
	out := map[string]kmsg.ListGroupsResponseGroup{}
	for _, shard := range c.cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, fmt.Errorf("kafka: listing groups: %w", err)
		}
		for _, g := range resp.Groups {
			if g.GroupType == "" && g.ProtocolType == "consumer" {
				g.GroupType = "classic"
			}
			out[g.Group] = g
		}
	}
	return out, nil
}

// headWant is one head to read: a partition from an offset, and the
// partitions of groups waiting for it.
type headWant struct {
	key  headKey
	end  int64
	pos  []*PartitionOffsets
	head *Head
	at   int64 // where its head is still to be looked for; -1: given up
}

// readHeads fills Head and Lag of each partition in need, from the cache where
// it still holds, else with fetch requests: one per leader, each partition in
// it once, from the lowest offset any group needs there. Groups at different
// offsets of one partition are usually served by that one answer (the rest of
// a partition that is not far behind fits in it); those past what it covered
// are asked again from their own offset.
func (r *LagReader) readHeads(ctx context.Context, meta kadm.TopicDetails, need []*PartitionOffsets) error {
	wants := map[headKey]*headWant{}
	r.mu.Lock()
	for _, po := range need {
		k := headKey{po.Topic, po.Partition, max(po.Committed, po.LogStart)}
		// A cached head holds while the end it was counted against is the
		// same; a head that was not exact holds while the end is past it.
		if h, ok := r.heads[k]; ok && (h.end == po.End || !h.Exact && h.Offset >= 0 && h.Offset < po.End) {
			setHead(po, h)
			continue
		}
		w := wants[k]
		if w == nil {
			w = &headWant{key: k, end: po.End, at: k.from}
			wants[k] = w
		}
		w.pos = append(w.pos, po)
	}
	r.mu.Unlock()
	if len(wants) == 0 {
		return nil
	}

	byLeader := map[int32]map[headTP][]*headWant{}
	for _, w := range wants {
		pd, ok := meta[w.key.topic].Partitions[w.key.partition]
		if !ok || pd.Leader < 0 {
			continue
		}
		if byLeader[pd.Leader] == nil {
			byLeader[pd.Leader] = map[headTP][]*headWant{}
		}
		k := headTP{w.key.topic, w.key.partition}
		byLeader[pd.Leader][k] = append(byLeader[pd.Leader][k], w)
	}
	iso := kgo.ReadCommitted()
	if r.c.cfg.uncommitted {
		iso = kgo.ReadUncommitted()
	}
	dec := kgo.DefaultDecompressor()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for leader, parts := range byLeader {
		wg.Go(func() {
			if err := r.fetchHeads(ctx, meta, leader, parts, iso, dec); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Heads of offsets no group is at any more are dropped, so a long watch
	// keeps one entry per group and partition.
	live := make(map[headKey]*Head, len(r.heads))
	for _, po := range need {
		k := headKey{po.Topic, po.Partition, max(po.Committed, po.LogStart)}
		if h, ok := r.heads[k]; ok {
			live[k] = h
		}
	}
	for _, w := range wants {
		if w.head == nil {
			delete(live, w.key)
			continue
		}
		live[w.key] = w.head
		for _, po := range w.pos {
			setHead(po, w.head)
		}
	}
	r.heads = live
	return nil
}

type headTP struct {
	topic     string
	partition int32
}

// setHead derives Lag from the head read against po's end.
func setHead(po *PartitionOffsets, h *Head) {
	switch {
	case h.Exact && h.end == po.End:
		po.Lag = h.Records
	case h.Offset < 0:
		po.Lag = 0
	default:
		po.Lag = max(po.End-h.Offset, 0)
	}
	if h.Offset >= 0 {
		po.Head = h
	}
}

// maxHeadFetches bounds the fetch requests spent on one leader: a partition
// whose rest starts with many records that are not data (a long aborted
// transaction), or groups far apart on one partition, are left with heads
// unknown past it rather than read at any cost (their lag is then counted in
// offsets).
const maxHeadFetches = 4

// fetchHeads reads the heads of the wanted offsets of parts from their leader.
func (r *LagReader) fetchHeads(ctx context.Context, meta kadm.TopicDetails, leader int32, parts map[headTP][]*headWant, iso kgo.IsolationLevel, dec kgo.Decompressor) error {
	for attempt := 0; attempt < maxHeadFetches; attempt++ {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MinBytes = 1
		req.MaxBytes = 256 << 20
		req.IsolationLevel = 1
		if r.c.cfg.uncommitted {
			req.IsolationLevel = 0
		}
		req.SessionEpoch = -1 // no fetch session
		byTopic := map[string]int{}
		byID := map[[16]byte]string{}
		asked := map[headTP]int64{}
		for k, ws := range parts {
			from := int64(-1)
			for _, w := range ws {
				if w.head == nil && (from < 0 || w.at < from) {
					from = w.at
				}
			}
			if from < 0 {
				continue
			}
			asked[k] = from
			i, ok := byTopic[k.topic]
			if !ok {
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic = k.topic
				rt.TopicID = meta[k.topic].ID
				byID[rt.TopicID] = k.topic
				req.Topics = append(req.Topics, rt)
				i = len(req.Topics) - 1
				byTopic[k.topic] = i
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = k.partition
			rp.FetchOffset = from
			rp.CurrentLeaderEpoch = -1
			rp.LastFetchedEpoch = -1
			rp.LogStartOffset = -1
			// Room for the rest of every group on this partition.
			rp.PartitionMaxBytes = int32(headFetchBytes * min(len(ws), 32))
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		if len(asked) == 0 {
			return nil
		}
		kresp, err := r.c.cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("kafka: fetching the first unread records from broker %d: %w", leader, r.c.scrub(err))
		}
		resp := kresp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("kafka: fetching the first unread records from broker %d: %w", leader, err)
		}
		for i := range resp.Topics {
			rt := &resp.Topics[i]
			topic := rt.Topic
			if topic == "" {
				topic = byID[rt.TopicID]
			}
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				k := headTP{topic, rp.Partition}
				from, ok := asked[k]
				if !ok {
					continue
				}
				ws := parts[k]
				if kerr.ErrorForCode(rp.ErrorCode) == kerr.OffsetOutOfRange && rp.LogStartOffset > from {
					// Deleted under us (retention, DeleteRecords): the
					// first records left are at the new log start.
					for _, w := range ws {
						w.at = max(w.at, rp.LogStartOffset)
					}
					continue
				}
				if rp.ErrorCode != 0 {
					for _, w := range ws {
						w.at = -1 // head unknown; lag stays an offset count
					}
					continue
				}
				fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
					KeepControlRecords: true,
					Offset:             from,
					IsolationLevel:     iso,
					Topic:              topic,
					Partition:          rp.Partition,
				}, rp, dec, nil)
				resolve(ws, fp.Records, from, next)
			}
		}
		// Wants whose leader gave no answer, or that are done or unknown,
		// leave the loop.
		for k, ws := range parts {
			open := false
			for _, w := range ws {
				if w.head == nil && w.at >= 0 && w.at < w.end {
					open = true
				}
			}
			if !open {
				delete(parts, k)
			}
		}
		if len(parts) == 0 {
			return nil
		}
	}
	return nil
}

// resolve finds, for each want of one partition not yet resolved, the first
// data record at or after its offset among recs (fetched from `from`, up to
// next), counting the data records before the end when next reaches it.
func resolve(ws []*headWant, recs []*kgo.Record, from, next int64) {
	for _, w := range ws {
		if w.head != nil || w.at < from || w.at < 0 {
			continue
		}
		if w.at >= next && next < w.end {
			continue // past what this answer covered: asked again from w.at
		}
		h := &Head{From: w.key.from, Offset: -1, end: w.end}
		for _, rec := range recs {
			if rec.Offset < w.at || rec.Attrs.IsControl() {
				continue
			}
			if rec.Offset >= w.end {
				break
			}
			if h.Offset < 0 {
				h.Offset, h.Timestamp = rec.Offset, rec.Timestamp
			}
			h.Records++
		}
		switch {
		case next >= w.end:
			h.Exact = true
			w.head = h
		case h.Offset >= 0:
			w.head = h // the head is known; the rest is counted by offsets
		case next > w.at:
			w.at = next // nothing but markers or aborted records so far
		default:
			w.at = -1 // no progress: leave it unknown
		}
	}
}

// consumerGroup is a KIP-848 group as ConsumerGroupDescribe tells it.
type consumerGroup struct {
	group, state string
	members      []GroupMember
	err          error
}

// describeConsumerGroups describes KIP-848 groups. Unlike kadm's, it names
// assigned topics given only by id (as some brokers send them), through
// metadata.
func (c *Client) describeConsumerGroups(ctx context.Context, groups []string) ([]consumerGroup, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = groups
	var out []consumerGroup
	type idAssign struct {
		m  *GroupMember
		id [16]byte
		ps []int32
	}
	var unnamed []idAssign
	for _, shard := range c.cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		for _, rg := range shard.Resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
			cg := consumerGroup{group: rg.Group, state: rg.State, err: kerr.ErrorForCode(rg.ErrorCode)}
			for _, rm := range rg.Members {
				gm := GroupMember{ID: rm.MemberID, ClientID: rm.ClientID, Host: rm.ClientHost, Assigned: map[string][]int32{}}
				if rm.InstanceID != nil {
					gm.InstanceID = *rm.InstanceID
				}
				cg.members = append(cg.members, gm)
			}
			out = append(out, cg)
			for i, rm := range rg.Members {
				m := &out[len(out)-1].members[i]
				for _, tp := range rm.Assignment.TopicPartitions {
					if tp.Topic != "" {
						m.Assigned[tp.Topic] = append(m.Assigned[tp.Topic], tp.Partitions...)
					} else {
						unnamed = append(unnamed, idAssign{m, tp.TopicID, tp.Partitions})
					}
				}
			}
		}
	}
	if len(unnamed) > 0 {
		all, err := c.metadata(ctx)
		if err != nil {
			return nil, err
		}
		names := map[[16]byte]string{}
		for t, td := range all {
			names[td.ID] = t
		}
		for _, u := range unnamed {
			if t, ok := names[u.id]; ok {
				u.m.Assigned[t] = append(u.m.Assigned[t], u.ps...)
			}
		}
	}
	return out, nil
}
