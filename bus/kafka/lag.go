package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
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
	// HighWatermark is the high watermark whatever the isolation. All are -1
	// when unknown (a deleted topic, a partition without leader).
	LogStart, End, HighWatermark int64
	// OffsetLag is HighWatermark-Committed, what kafka-consumer-groups shows
	// as LAG (it lists the end read_uncommitted); -1 when unknown or when the
	// committed offset is beyond the log end. Transaction markers, aborted
	// records and records of open transactions count in it.
	OffsetLag int64
	// Lag is the number of records a consumer of the client's isolation
	// still has to read before End: transaction markers (and,
	// read_committed, aborted records) and offsets compaction removed are not
	// lag. eddy reads the records to count them; when LagExact is false (the
	// read budget or the timeout cut the reading) Lag is an upper bound (the
	// records counted plus every offset not read) and LagMin a lower bound
	// (the records counted). A committed offset below LogStart counts from
	// LogStart, since the records before it are gone. -1 when unknown (no
	// commit, deleted topic, committed offset beyond the log end).
	Lag, LagMin int64
	LagExact    bool
	// BeyondEnd says the committed offset is past the high watermark (the
	// log was truncated or recreated): the consumer's next fetch is out of
	// range and it resets by its auto.offset.reset. Lag and OffsetLag are
	// then unknown.
	BeyondEnd bool
	// Head is the first record the group has not read, nil when the group
	// is at the end or it could not be reached.
	Head *Head
	// ReadNote says why Lag is not exact, or the head unknown, when it is
	// (the read budget, the timeout, a broker error).
	ReadNote string
	// Owner is the member id the partition is assigned to, "" when none.
	Owner string
	// Err says why offsets are unknown: kerr.UnknownTopicOrPartition for a
	// deleted topic, or a broker error.
	Err error
}

// Head is what reading a partition from the committed offset (or the log
// start, when the committed offset is below it) found.
type Head struct {
	// From is the offset reading started at.
	From int64
	// Offset and Timestamp are those of the first data record at or after
	// From; Offset is -1 when there is none before the end (only transaction
	// markers or aborted records remain) or reading did not reach it.
	// Timestamp is as the record carries it: Kafka's "none" (-1) is
	// time.UnixMilli(-1).
	Offset    int64
	Timestamp time.Time
	// Records is the number of data records from From up to Upto, where
	// reading stopped; Exact says Upto is the end.
	Records, Upto int64
	Exact         bool
	// Note says why reading stopped before the end.
	Note string
	// end is the End the head was read against (for the cache); budget says
	// the read budget stopped it (a result the same log gives again).
	end    int64
	budget bool
}

// LagReader samples consumer groups. It caches what it read of each
// partition, so a repeated Read fetches records only where a committed offset
// or the end moved. It is safe for concurrent use, though Reads are meant to
// be sequential samples; set its fields before the first Read.
type LagReader struct {
	c *Client
	// Budget is the read budget of each partition: the bytes of record
	// batches read past the first unread record to count the records still
	// to read (DefaultLagBudget when 0). Reading stops at the first fetch that
	// reaches it; the count is then a range (PartitionOffsets.LagExact).
	Budget int64
	// Timeout bounds the reading of records in one Read (the client's dial
	// timeout, eddy's --timeout, by default; 0: only the context). What it
	// cuts is not exact and says so.
	Timeout time.Duration

	mu    sync.Mutex
	heads map[headKey]*Head
	// compacts says, per topic, whether its cleanup.policy compacts: the
	// cleaner removes records below the end without moving it, so a count
	// cached against an unchanged end would go stale. Read once per topic.
	compacts map[string]bool
}

type headKey struct {
	topic     string
	partition int32
	from      int64
}

// LagReader returns a reader of consumer lag through c.
func (c *Client) LagReader() *LagReader {
	return &LagReader{c: c, Timeout: c.cfg.dialTimeout, heads: map[headKey]*Head{}, compacts: map[string]bool{}}
}

// Read samples the named groups, or every consumer group when groups is empty.
// A named group that does not exist is a *bus.NotFoundError; an unreachable
// cluster a *bus.ConnectError. A group that fails alone carries its error in
// GroupOffsets.Err. Groups come back sorted by name.
//
// It reads in phases: the groups (listGroups), their members and commits
// (describe), the partitions they cover and those partitions' offsets
// (logOffsets), then the records still to read (readHeads).
func (r *LagReader) Read(ctx context.Context, groups []string) ([]GroupOffsets, error) {
	out, err := r.selectGroups(ctx, groups)
	if err != nil || len(out) == 0 {
		return out, err
	}
	fetched, err := r.describe(ctx, out)
	if err != nil {
		return nil, err
	}
	perGroup, topics := committedTopics(out, fetched)
	if len(topics) == 0 {
		return out, nil
	}
	meta, err := r.c.metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := r.c.logOffsets(ctx, meta)
	if err != nil {
		return nil, err
	}
	// Assemble the partitions and collect the heads to read.
	var need []*PartitionOffsets
	for i := range out {
		if perGroup[i] != nil {
			need = assemble(&out[i], perGroup[i], meta, ends, need)
		}
	}
	if err := r.readHeads(ctx, meta, need); err != nil {
		return nil, err
	}
	return out, nil
}

// selectGroups lists the cluster's groups and returns the named ones (every
// group with committed offsets when none is named), sorted, with what the
// listing says of each.
func (r *LagReader) selectGroups(ctx context.Context, groups []string) ([]GroupOffsets, error) {
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
	for i, g := range names {
		lg, ok := listed[g]
		if !ok {
			return nil, &bus.NotFoundError{Transport: transport, Kind: "consumer group", Name: g}
		}
		out[i] = GroupOffsets{Group: g, Type: lg.GroupType, ProtocolType: lg.ProtocolType, State: lg.GroupState}
	}
	return out, nil
}

// describe describes the groups (both protocols) and fetches their commits
// concurrently, and fills in each group's state, members and error.
func (r *LagReader) describe(ctx context.Context, out []GroupOffsets) (kadm.FetchOffsetsResponses, error) {
	c := r.c
	var names, classic, consumer []string
	index := make(map[string]int, len(out))
	for i, g := range out {
		index[g.Group] = i
		names = append(names, g.Group)
		if g.Type == "consumer" {
			consumer = append(consumer, g.Group)
		} else {
			classic = append(classic, g.Group)
		}
	}
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
		setClassic(&out[index[d.Group]], d)
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
	return fetched, nil
}

// setClassic fills g in from its description (the classic protocol).
func setClassic(g *GroupOffsets, d kadm.DescribedGroup) {
	if d.Err != nil {
		g.Err = d.Err
		return
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

// groupTopics are the partitions of one group: topic -> partition ->
// committed offset (-1: none).
type groupTopics = map[string]map[int32]int64

// committedTopics returns, per group (nil for a group that failed), every
// partition it committed to or is assigned, and every topic of them all.
func committedTopics(out []GroupOffsets, fetched kadm.FetchOffsetsResponses) ([]groupTopics, []string) {
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
	topics := make([]string, 0, len(topicSet))
	for t := range topicSet {
		topics = append(topics, t)
	}
	return perGroup, topics
}

// logEnds are the log start, the end (of the client's isolation) and the
// high watermark of every partition of the topics read, in that order.
type logEnds = []map[string]map[int32]int64

// logOffsets lists the log start, end and high watermark of every partition
// of the topics in meta that have metadata.
func (c *Client) logOffsets(ctx context.Context, meta kadm.TopicDetails) (logEnds, error) {
	tps := map[string][]int32{}
	for t, td := range meta {
		if td.Err != nil {
			continue
		}
		for p := range td.Partitions {
			tps[t] = append(tps[t], p)
		}
	}
	if len(tps) == 0 {
		return logEnds{{}, {}, {}}, nil
	}
	// The high watermark too: kafka-consumer-groups counts from it.
	return c.listOffsets(ctx, tps, offsetLookup{ts: tsEarliest, isolation: readUncommitted, lenient: true},
		offsetLookup{ts: tsLatest, isolation: c.isolation(), lenient: true},
		offsetLookup{ts: tsLatest, isolation: readUncommitted, lenient: true})
}

// assemble fills g's partitions (sorted by topic and partition) from its
// commits gt and the offsets of the log, and appends to need those whose lag
// is to be counted by reading.
func assemble(g *GroupOffsets, gt groupTopics, meta kadm.TopicDetails, ends logEnds, need []*PartitionOffsets) []*PartitionOffsets {
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
			po := PartitionOffsets{Topic: t, Partition: p, Committed: -1, LogStart: -1, End: -1, HighWatermark: -1, OffsetLag: -1, Lag: -1, LagMin: -1, Owner: owner[t][p]}
			if c, ok := commits[p]; ok {
				po.Committed = c
			}
			switch {
			case !ok:
				po.Err = kerr.UnknownTopicOrPartition
			case td.Err != nil:
				po.Err = td.Err
			default:
				po.LogStart, po.End, po.HighWatermark = offsetOf(ends[0], t, p), offsetOf(ends[1], t, p), offsetOf(ends[2], t, p)
				if po.End < 0 || po.HighWatermark < 0 {
					po.Err = errors.New("no end offset (partition without leader?)")
				}
			}
			po.setOffsetLag()
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
		if po.Err == nil && po.Committed >= 0 && !po.BeyondEnd && po.Lag < 0 {
			need = append(need, po)
		}
	}
	return need
}

// setOffsetLag sets OffsetLag and BeyondEnd from the offsets, and a lag of
// nothing when nothing is left to read.
func (po *PartitionOffsets) setOffsetLag() {
	switch {
	case po.Err != nil || po.Committed < 0:
	case po.Committed > po.HighWatermark:
		// Not "0 behind": the consumer is about to be reset.
		po.BeyondEnd = true
	default:
		po.OffsetLag = po.HighWatermark - po.Committed
		if max(po.Committed, po.LogStart) >= po.End {
			po.Lag, po.LagMin, po.LagExact = 0, 0, true
		}
	}
}

// offsetOf is partition t/p's offset in m, -1 when m has none.
func offsetOf(m map[string]map[int32]int64, t string, p int32) int64 {
	if o, ok := m[t][p]; ok {
		return o
	}
	return -1
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
// partitions of groups waiting for it. It is read on from where the last fetch
// left it until it is resolved.
type headWant struct {
	key headKey
	end int64
	pos []*PartitionOffsets
	// at is the next offset to read.
	at   int64
	head Head
	// past is the bytes of record batches read since the head was found,
	// which the budget bounds.
	past int64
	done bool
}

// finish ends the reading of w: exact when it reached the end.
func (w *headWant) finish(note string) {
	w.done = true
	w.head.Upto = min(w.at, w.end)
	w.head.Exact = w.at >= w.end
	if !w.head.Exact {
		w.head.Note = note
	}
}

// headChunk bounds the bytes one partition returns in a fetch that reads many
// partitions at once: thousands of partitions answer in a few round trips,
// and a partition with more to read is asked again.
const headChunk = 256 << 10

// compacted reports, for the topics of need, whether their cleanup.policy
// compacts, asking the cluster once per topic. A topic whose policy could not
// be read counts as compacting (its counts are then never cached: slower, but
// never stale) and is asked again next time.
func (r *LagReader) compacted(ctx context.Context, need []*PartitionOffsets) map[string]bool {
	r.mu.Lock()
	out := map[string]bool{}
	var ask []string
	for _, po := range need {
		if _, seen := out[po.Topic]; seen {
			continue
		}
		c, ok := r.compacts[po.Topic]
		out[po.Topic] = c || !ok
		if !ok {
			ask = append(ask, po.Topic)
		}
	}
	r.mu.Unlock()
	if len(ask) == 0 || r.c.adm == nil {
		return out
	}
	rcs, err := r.c.adm.DescribeTopicConfigs(ctx, ask...)
	if err != nil {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		compact := false
		for _, cfg := range rc.Configs {
			if cfg.Key == "cleanup.policy" && cfg.Value != nil && strings.Contains(*cfg.Value, "compact") {
				compact = true
			}
		}
		r.compacts[rc.Name] = compact
		out[rc.Name] = compact
	}
	return out
}

// DefaultLagBudget is the read budget of a partition (LagReader.Budget): the
// bytes of record batches eddy reads past the first unread record to count the
// records still to read exactly.
const DefaultLagBudget = 1 << 20

// readHeads fills Head, Lag, LagMin and LagExact of each partition in need,
// from the cache where it still holds, else by reading the partition from the
// group's offset: up to the first data record whatever it takes (bounded by
// r.Timeout), then on to the end within the read budget. Groups at different
// offsets of one partition share the reads from the lowest.
func (r *LagReader) readHeads(ctx context.Context, meta kadm.TopicDetails, need []*PartitionOffsets) error {
	wants := map[headKey]*headWant{}
	compacts := r.compacted(ctx, need)
	r.mu.Lock()
	for _, po := range need {
		k := headKey{po.Topic, po.Partition, max(po.Committed, po.LogStart)}
		// A cached head holds while the end it was read against is the
		// same, unless the topic compacts: then the cleaner may have removed
		// records since, and the count is read again.
		if h, ok := r.heads[k]; ok && h.end == po.End && !compacts[po.Topic] {
			setHead(po, h)
			continue
		}
		w := wants[k]
		if w == nil {
			w = &headWant{key: k, end: po.End, at: k.from, head: Head{From: k.from, Offset: -1, end: po.End}}
			wants[k] = w
		}
		w.pos = append(w.pos, po)
	}
	r.mu.Unlock()

	byLeader := map[int32]map[headTP][]*headWant{}
	for _, w := range wants {
		pd, ok := meta[w.key.topic].Partitions[w.key.partition]
		if !ok || pd.Leader < 0 {
			w.finish("no leader to read the records from")
			continue
		}
		if byLeader[pd.Leader] == nil {
			byLeader[pd.Leader] = map[headTP][]*headWant{}
		}
		k := headTP{w.key.topic, w.key.partition}
		byLeader[pd.Leader][k] = append(byLeader[pd.Leader][k], w)
	}
	rctx := ctx
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	budget := r.Budget
	if budget <= 0 {
		budget = DefaultLagBudget
	}
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for leader, parts := range byLeader {
		wg.Go(func() {
			if err := r.fetchHeads(rctx, meta, leader, parts, budget); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
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
		if h, ok := r.heads[k]; ok && wants[k] == nil {
			live[k] = h
		}
	}
	for _, w := range wants {
		if !w.done {
			w.finish(fmt.Sprintf("not read to the end within --timeout %v", r.Timeout))
		}
		h := w.head
		// What the same log gives again is kept: an exact count, or one
		// the budget cut. A read cut by the clock or an error is not.
		if h.Exact || h.budget {
			live[w.key] = &h
		}
		for _, po := range w.pos {
			setHead(po, &h)
		}
	}
	r.heads = live
	return nil
}

type headTP struct {
	topic     string
	partition int32
}

// setHead derives Lag, LagMin and LagExact from the head read against po's
// end.
func setHead(po *PartitionOffsets, h *Head) {
	po.LagMin = h.Records
	po.LagExact = h.Exact
	po.Lag = h.Records
	if !h.Exact {
		// Every offset not read may hold a record: an upper bound.
		po.Lag += max(po.End-h.Upto, 0)
	}
	if h.Offset >= 0 {
		po.Head = h
	}
	po.ReadNote = h.Note
}

// fetchHeads reads the wanted partitions of one leader until each is
// resolved, ctx ends, or the leader fails. Each round asks every partition
// that made progress in one request, in chunks of headChunk; a partition that
// got nothing there (its next batch is bigger than the chunk, and a broker
// returns an oversize batch only for the first partition of a response with
// data) is asked alone in the next round, where it is first.
func (r *LagReader) fetchHeads(ctx context.Context, meta kadm.TopicDetails, leader int32, parts map[headTP][]*headWant, budget int64) error {
	iso := kgo.ReadCommitted()
	if r.c.cfg.uncommitted {
		iso = kgo.ReadUncommitted()
	}
	dec := kgo.DefaultDecompressor()
	alone := map[headTP]bool{}
	for len(parts) > 0 {
		var bulk []headTP
		var solo [][]headTP
		for k := range parts {
			if alone[k] {
				solo = append(solo, []headTP{k})
			} else {
				bulk = append(bulk, k)
			}
		}
		reqs := solo
		if len(bulk) > 0 {
			reqs = append(reqs, bulk)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			rerr  error
			sem   = make(chan struct{}, 8)
			moved = map[headTP]bool{}
		)
		for _, ks := range reqs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				got, err := r.fetchOnce(ctx, meta, leader, parts, ks, budget, iso, dec)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && rerr == nil {
					rerr = err
				}
				for k := range got {
					moved[k] = true
				}
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil // the clock ran out: what is not done says so
		}
		if rerr != nil {
			return rerr
		}
		for k, ws := range parts {
			open := false
			for _, w := range ws {
				open = open || !w.done
			}
			switch {
			case !open:
				delete(parts, k)
			case moved[k]:
				delete(alone, k)
			case alone[k]:
				// Asked alone and still nothing: the broker gives no more.
				for _, w := range ws {
					if !w.done {
						w.finish(fmt.Sprintf("the broker returned no records at offset %d", w.at))
					}
				}
				delete(parts, k)
			default:
				alone[k] = true
			}
		}
	}
	return nil
}

// fetchOnce sends one fetch for the partitions ks of parts, each from the
// lowest offset a want of it still needs, and feeds the answer to the wants.
// It returns the partitions whose reading moved on.
func (r *LagReader) fetchOnce(ctx context.Context, meta kadm.TopicDetails, leader int32, parts map[headTP][]*headWant, ks []headTP, budget int64, iso kgo.IsolationLevel, dec kgo.Decompressor) (map[headTP]bool, error) {
	req, asked, byID := r.fetchRequest(meta, parts, ks, budget)
	if len(asked) == 0 {
		return nil, nil
	}
	kresp, err := r.c.cl.Broker(int(leader)).Request(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("kafka: reading the unread records from broker %d: %w", leader, r.c.scrub(err))
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("kafka: reading the unread records from broker %d: %w", leader, err)
	}
	moved := map[headTP]bool{}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		topic := rt.Topic
		if topic == "" {
			topic = byID[rt.TopicID]
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			k := headTP{topic, rp.Partition}
			if from, ok := asked[k]; ok && fetched(parts[k], rp, topic, from, budget, iso, dec) {
				moved[k] = true
			}
		}
	}
	return moved, nil
}

// fetchRequest is the fetch of the partitions ks of parts, each from the
// lowest offset a want of it still needs, with room for what the wants may
// still read. asked says where each partition asked for is read from; byID
// names the topics by id (a response may name them only so).
func (r *LagReader) fetchRequest(meta kadm.TopicDetails, parts map[headTP][]*headWant, ks []headTP, budget int64) (req *kmsg.FetchRequest, asked map[headTP]int64, byID map[[16]byte]string) {
	req = kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 64 << 20
	req.IsolationLevel = 1
	if r.c.cfg.uncommitted {
		req.IsolationLevel = 0
	}
	req.SessionEpoch = -1 // no fetch session
	byTopic := map[string]int{}
	byID = map[[16]byte]string{}
	asked = map[headTP]int64{}
	slices.SortFunc(ks, func(a, b headTP) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	for _, k := range ks {
		from := int64(-1)
		room := int64(0)
		for _, w := range parts[k] {
			if w.done {
				continue
			}
			if from < 0 || w.at < from {
				from = w.at
			}
			if w.head.Offset < 0 {
				room = headChunk
			} else {
				room = max(room, min(budget-w.past, headChunk))
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
		rp.PartitionMaxBytes = int32(max(room, 1))
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	return req, asked, byID
}

// fetched feeds the answer rp for one partition, asked from offset from, to
// the wants ws of it, and says whether their reading moved on.
func fetched(ws []*headWant, rp *kmsg.FetchResponseTopicPartition, topic string, from, budget int64, iso kgo.IsolationLevel, dec kgo.Decompressor) bool {
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		if errors.Is(err, kerr.OffsetOutOfRange) && rp.LogStartOffset > from {
			// Deleted under us (retention, DeleteRecords): the first
			// records left are at the new log start.
			for _, w := range ws {
				w.at = max(w.at, rp.LogStartOffset)
			}
			return true
		}
		for _, w := range ws {
			if !w.done {
				w.finish("reading the records: " + err.Error())
			}
		}
		return true
	}
	fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		KeepControlRecords: true,
		Offset:             from,
		IsolationLevel:     iso,
		Topic:              topic,
		Partition:          rp.Partition,
	}, rp, dec, nil)
	if fp.Err == nil && next > from {
		feed(ws, fp.Records, from, next, int64(len(rp.RecordBatches)), budget)
		return true
	}
	return false
}

// feed gives the records of one fetch of a partition (read from `from` up to
// next, size bytes of batches) to the wants that had read up to `from` or
// beyond: each counts the data records at or after its offset and before its
// end, notes the first, and is done at its end or when the head is known and
// its budget spent.
func feed(ws []*headWant, recs []*kgo.Record, from, next, size, budget int64) {
	for _, w := range ws {
		if w.done || w.at < from || w.at >= next {
			continue
		}
		for _, rec := range recs {
			if rec.Offset < w.at || rec.Attrs.IsControl() {
				continue
			}
			if rec.Offset >= w.end {
				break
			}
			if w.head.Offset < 0 {
				w.head.Offset, w.head.Timestamp = rec.Offset, rec.Timestamp
			}
			w.head.Records++
		}
		w.at = next
		if w.head.Offset >= 0 {
			w.past += size // the fetch that found the head counts whole
		}
		switch {
		case w.at >= w.end:
			w.finish("")
		case w.head.Offset >= 0 && w.past >= budget:
			w.finish(fmt.Sprintf("read budget (%d bytes) reached", budget))
			w.head.budget = true
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
