package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/eddy-sh/eddy/event"
)

// Consumer tuning. eddy reads to show, so it favours throughput on large reads
// (`--from beginning --until end`) while an idle live tail costs nothing.
const (
	// Fetches in flight or buffered, over all brokers: with the fetch
	// sizes (fetchsize.go: about 32 MiB of decompressed records each),
	// bounds what a read of a large cluster holds in memory. kgo keeps one
	// fetch in flight per broker and issues the next one only once the
	// previous one has been polled. Kafka returns a batch larger than the
	// fetch limits anyway (KIP-74), so they bound memory, not the largest
	// record.
	maxConcurrentFetches = 4
	// Each Next returns at most this many events: enough to amortise the
	// channel hand-off, small enough that a printer starts writing while the
	// rest of a large fetch is still being converted.
	batchMax = 4096
	// Batches converted ahead of the caller.
	batchQueue = 8
	// After this long without any record while partitions still have an
	// Until to reach, probeEnd checks whether nothing visible is left before
	// it (see probeEnd).
	probeIdle = 500 * time.Millisecond
)

// Errors a Source returns.
var (
	// ErrClosed is returned by Next after Close.
	ErrClosed = errors.New("kafka: source closed")
)

// part is the reading state of one partition. It is owned by the source's
// poll goroutine once reading starts.
type part struct {
	topic     string
	partition int32
	next      int64 // the offset after the last record or marker seen
	stop      int64 // Until as an offset (exclusive); -1 for none
	epoch     int32 // leader epoch of the last record, for commits
	done      bool  // reached Until: nothing more is read from it
	touched   bool  // has events in the batch being built (group mode)
}

// source is a bus.Source over one kgo consumer. A goroutine polls, converts
// records to events and queues batches, so that the next fetch and its
// conversion overlap with the caller's work on the previous batch.
type source struct {
	c     *Client
	cl    *kgo.Client
	opts  bus.ReadOptions
	group bool
	// serverAssigned: the group uses the KIP-848 protocol, so eddy joins
	// with it too (a classic join of such a group is refused).
	serverAssigned bool
	ids            map[string][16]byte // topic IDs, for probeEnd
	names          map[[16]byte]string

	untilTime    time.Time
	hasUntilTime bool
	bounded      bool // Until is set: partitions finish and Next ends with io.EOF

	// Owned by the poll goroutine once started.
	parts    map[string][]*part // by topic, indexed by partition
	pending  int                // partitions not done (bounded only)
	finished []*part            // done since the consumer last heard of it
	arena    []event.Header     // backing array that event headers are cut from

	ctx    context.Context // the poll goroutine's
	cancel context.CancelFunc
	wg     sync.WaitGroup
	out    chan batch

	// health reports outages of the source's connections (OnHealth); for a
	// bounded source, one that lasts the dial timeout closes down, after
	// lost is set.
	health *health
	down   chan struct{}
	lost   error

	// Next's state.
	err   error                                // returned by every later Next
	marks map[string]map[int32]kgo.EpochOffset // the previous batch (group)

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

type batch struct {
	evs   []event.Event
	marks map[string]map[int32]kgo.EpochOffset
	err   error
}

// Source opens a reader of addrs, which may mix kafka:TOPIC and kafka:/REGEX/
// addresses; all are read by one set of connections.
//
// Regexes are matched against the topics that exist when the source opens
// (topics created later are not picked up). They skip topics whose name starts
// with "__" (Kafka's own: __consumer_offsets, __transaction_state) unless the
// regex itself starts with "__". A literal topic that does not exist, and a
// regex that matches nothing, are a *bus.NotFoundError; so is a partition in
// opts.Partitions that one of the topics lacks.
//
// Positions, per partition:
//   - From end (the default): only records written after opening (read_committed:
//     from the last stable offset, so transactions that commit later are shown).
//   - From beginning: the oldest retained record.
//   - From OFFSET: that offset, clamped to the partition's retained range.
//   - From -N: the last N offsets of each partition (fewer when records are
//     compacted or are transaction markers).
//   - From TIME: the first record whose timestamp is at or after TIME.
//   - Until end: the end of each partition as of opening, so reading "everything
//     so far" finishes with io.EOF even while producers keep writing, and even
//     when the last offsets before the end hold no record (transaction markers,
//     aborted or compacted records).
//   - Until OFFSET: stops before that offset (exclusive).
//   - Until TIME: a partition stops at its first record stamped after TIME; when
//     TIME is already past at opening, also at the end as of opening.
//
// A partition whose start is already at or past its Until is done at once;
// when every partition is done Next returns io.EOF, then io.EOF again on every
// call.
//
// Without opts.Group the source assigns itself the partitions: it joins no
// group and commits nothing. With opts.Group it first describes the group and
// returns a *GroupActiveError if the group has members and !opts.Force; then it
// joins the group and consumes the resolved topics as a member: partitions
// start from the group's committed offsets (From applies only to partitions
// without one), opts.Partitions is not allowed, and progress is committed
// with at-least-once semantics: a batch is marked for commit when Next is
// called again (the caller has finished with it), marked offsets are
// committed every 5 seconds, on rebalance and on Close. With Force and other
// members in the group, Until may never be reached for partitions assigned to
// them.
func (c *Client) Source(ctx context.Context, addrs []bus.Address, opts bus.ReadOptions) (bus.Source, error) {
	if len(addrs) == 0 {
		return nil, errors.New("kafka: no topics to read")
	}
	for _, a := range addrs {
		if a.Transport != transport {
			return nil, fmt.Errorf("kafka: cannot read %s: not a kafka address", a)
		}
	}
	switch opts.Until.Kind {
	case bus.PosRelative, bus.PosBeginning:
		return nil, fmt.Errorf("kafka: --until %s: want end, an offset or a time", opts.Until)
	}
	if opts.Group != "" && len(opts.Partitions) > 0 {
		return nil, errors.New("kafka: --partitions cannot be used with a consumer group: the group assigns partitions")
	}
	for _, p := range opts.Partitions {
		if p < 0 {
			return nil, fmt.Errorf("kafka: partition %d: partitions are numbered from 0", p)
		}
	}

	topics, err := c.resolve(ctx, addrs)
	if err != nil {
		return nil, err
	}

	// The partitions to read, per topic, checked against what exists.
	tps := make(map[string][]int32, len(topics))
	for _, td := range topics {
		n := int32(len(td.Partitions))
		if len(opts.Partitions) == 0 {
			for p := range n {
				tps[td.Topic] = append(tps[td.Topic], p)
			}
			continue
		}
		for _, p := range opts.Partitions {
			if _, ok := td.Partitions[p]; !ok {
				return nil, &bus.NotFoundError{Transport: transport, Kind: "partition", Name: fmt.Sprintf("%s/%d", td.Topic, p),
					Hint: fmt.Sprintf("topic %s has %s", td.Topic, partitionRange(n))}
			}
			if !slices.Contains(tps[td.Topic], p) {
				tps[td.Topic] = append(tps[td.Topic], p)
			}
		}
	}

	s := &source{
		c:      c,
		opts:   opts,
		group:  opts.Group != "",
		parts:  make(map[string][]*part, len(tps)),
		ids:    make(map[string][16]byte, len(topics)),
		names:  make(map[[16]byte]string, len(topics)),
		out:    make(chan batch, batchQueue),
		closed: make(chan struct{}),
	}
	for _, td := range topics {
		s.ids[td.Topic], s.names[td.ID] = td.ID, td.Topic
	}
	if err := s.positions(ctx, tps); err != nil {
		return nil, err
	}
	if s.group {
		if err := s.checkGroup(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// partitionRange describes a topic's partitions for an error message.
func partitionRange(n int32) string {
	switch n {
	case 0:
		return "no partitions"
	case 1:
		return "only partition 0"
	}
	return fmt.Sprintf("partitions 0-%d", n-1)
}

// resolve turns addresses into the topics they name, in a stable order.
func (c *Client) resolve(ctx context.Context, addrs []bus.Address) ([]kadm.TopicDetail, error) {
	var names []string
	anyRegex := false
	for _, a := range addrs {
		if a.Regex != nil {
			anyRegex = true
		} else {
			names = append(names, a.Name)
		}
	}
	var tds kadm.TopicDetails
	var err error
	if anyRegex {
		tds, err = c.metadata(ctx) // every topic
	} else {
		tds, err = c.metadata(ctx, names...)
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []kadm.TopicDetail
	add := func(td kadm.TopicDetail) {
		if !seen[td.Topic] {
			seen[td.Topic] = true
			out = append(out, td)
		}
	}
	for _, a := range addrs {
		if a.Regex == nil {
			td, ok := tds[a.Name]
			if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				return nil, &bus.NotFoundError{Transport: transport, Kind: "topic", Name: a.Name}
			}
			if td.Err != nil {
				return nil, fmt.Errorf("kafka: topic %s: %w", a.Name, td.Err)
			}
			add(td)
			continue
		}
		internalToo := strings.HasPrefix(userPattern(a), "__")
		var matched []string
		for name, td := range tds {
			if td.Err != nil || !a.Regex.MatchString(name) {
				continue
			}
			if (td.IsInternal || strings.HasPrefix(name, "__")) && !internalToo {
				continue
			}
			matched = append(matched, name)
		}
		if len(matched) == 0 {
			return nil, &bus.NotFoundError{Transport: transport, Kind: "topic", Name: a.String(),
				Hint: "no topic matches the pattern; it must match whole names, and `eddy ls` lists the topics"}
		}
		sort.Strings(matched)
		for _, name := range matched {
			add(tds[name])
		}
	}
	return out, nil
}

// userPattern is the regex as the user typed it, without the anchoring that
// bus.ParseAddress adds.
func userPattern(a bus.Address) string {
	s := a.Regex.String()
	if strings.HasPrefix(s, "^(?:") && strings.HasSuffix(s, ")$") {
		return s[len("^(?:") : len(s)-len(")$")]
	}
	return s
}

// positions lists the offsets the positions need and sets every partition's
// start and stop.
func (s *source) positions(ctx context.Context, tps map[string][]int32) error {
	iso := s.c.isolation()
	lookups := []offsetLookup{{ts: tsEarliest, isolation: iso}, {ts: tsLatest, isolation: iso}}
	from, until := s.opts.From, s.opts.Until
	fromTime, untilTime := -1, -1
	if from.Kind == bus.PosTime {
		fromTime = len(lookups)
		lookups = append(lookups, offsetLookup{ts: CeilMilli(from.Time), isolation: iso})
	}
	if until.Kind == bus.PosTime {
		// The first record stamped after the time: at or after its next
		// millisecond (Kafka timestamps are milliseconds).
		untilTime = len(lookups)
		lookups = append(lookups, offsetLookup{ts: floorMilli(until.Time) + 1, isolation: iso})
		s.untilTime, s.hasUntilTime = until.Time, true
	}
	listed, err := s.c.listOffsets(ctx, tps, lookups...)
	if err != nil {
		return err
	}
	now := time.Now()
	s.bounded = until.IsSet()
	for t, ps := range tps {
		slices.Sort(ps)
		for _, p := range ps {
			start, end := listed[0][t][p], listed[1][t][p]
			next := end
			switch from.Kind {
			case bus.PosBeginning:
				next = start
			case bus.PosOffset:
				next = min(max(from.Offset, start), end)
			case bus.PosRelative:
				next = max(start, end-from.Offset)
			case bus.PosTime:
				if o := listed[fromTime][t][p]; o >= 0 {
					next = min(max(o, start), end)
				}
			}
			stop := int64(-1)
			switch until.Kind {
			case bus.PosEnd:
				stop = end
			case bus.PosOffset:
				stop = until.Offset
			case bus.PosTime:
				if o := listed[untilTime][t][p]; o >= 0 && o < end {
					stop = o
				} else if !until.Time.After(now) {
					// Nothing after the time exists yet and the time has
					// passed: records written from now on come after it.
					stop = end
				}
			}
			s.add(&part{topic: t, partition: p, next: next, stop: stop, epoch: -1})
		}
	}
	return nil
}

func (s *source) add(ps *part) {
	list := s.parts[ps.topic]
	for int(ps.partition) >= len(list) {
		list = append(list, nil)
	}
	list[ps.partition] = ps
	s.parts[ps.topic] = list
	if s.bounded {
		s.pending++
		s.checkDone(ps)
	}
}

// checkDone marks ps done once it has reached its stop offset.
func (s *source) checkDone(ps *part) {
	if !ps.done && ps.stop >= 0 && ps.next >= ps.stop {
		s.finish(ps)
	}
}

func (s *source) finish(ps *part) {
	ps.done = true
	s.pending--
	s.finished = append(s.finished, ps)
}

// CeilMilli is t in Unix milliseconds, rounded up: Kafka indexes time by the
// millisecond, and "the first record at or after t" must not include one
// stamped in t's millisecond but before t.
func CeilMilli(t time.Time) int64 {
	ns := t.UnixNano()
	ms := ns / 1e6
	if ns%1e6 > 0 {
		ms++
	}
	return max(ms, 0)
}

func floorMilli(t time.Time) int64 {
	ns := t.UnixNano()
	ms := ns / 1e6
	if ns%1e6 < 0 {
		ms--
	}
	return ms
}

// checkGroup refuses a group with active members unless Force, and starts
// partitions from the group's committed offsets, so that Until is judged from
// where the group really is.
func (s *source) checkGroup(ctx context.Context) error {
	g := s.opts.Group
	dg, err := s.c.adm.DescribeGroups(ctx, g)
	if err != nil {
		return fmt.Errorf("kafka: describing group %q: %w", g, s.c.scrub(err))
	}
	d := dg[g]
	if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
		return fmt.Errorf("kafka: describing group %q: %w", g, d.Err)
	}
	members := len(d.Members)
	if members == 0 {
		// DescribeGroups only sees classic groups. A KIP-848 group
		// (group.protocol=consumer, Kafka 4+) answers GROUP_ID_NOT_FOUND
		// there and shows its members through ConsumerGroupDescribe,
		// which older brokers do not have: then there is no such group.
		if cg, err := s.c.adm.DescribeConsumerGroups(ctx, g); err == nil && cg[g].Err == nil {
			members = len(cg[g].Members)
			s.serverAssigned = true // join it the way its members did
		}
	}
	if members > 0 && !s.opts.Force {
		return &GroupActiveError{Group: g, Members: members}
	}
	committed, err := s.c.adm.FetchOffsets(ctx, g)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // a new group: nothing committed
	}
	if err != nil {
		return fmt.Errorf("kafka: fetching the offsets of group %q: %w", g, s.c.scrub(err))
	}
	for t, list := range s.parts {
		for _, ps := range list {
			if ps == nil {
				continue
			}
			if o, ok := committed.Lookup(t, ps.partition); ok && o.Err == nil && o.At >= 0 {
				ps.next = o.At
				if s.bounded {
					s.checkDone(ps)
				}
			}
		}
	}
	return nil
}

// start opens the consumer and the poll goroutine.
func (s *source) start() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.bounded && s.pending == 0 {
		s.err = io.EOF // nothing to read: no connection needed
		return nil
	}
	iso := kgo.ReadCommitted()
	if s.c.cfg.uncommitted {
		iso = kgo.ReadUncommitted()
	}
	s.health = &health{timeout: s.c.cfg.dialTimeout, addr: s.c.addr, redact: s.c.redact, notify: s.opts.OnHealth,
		auth: s.c.failureAuthCause}
	s.down = make(chan struct{})
	end := func(err error) {
		s.lost = err
		close(s.down)
	}
	// Refused credentials end every source at once (health calls one of
	// fatal and giveUp, once).
	s.health.fatal = end
	if s.bounded {
		// A read with an end does not wait for a lost cluster past the
		// timeout: it fails (exit 4), as a first connection would.
		s.health.giveUp = end
	}
	opts := append(s.c.baseOpts(),
		kgo.WithHooks(s.health),
		kgo.FetchIsolationLevel(iso),
		kgo.MaxConcurrentFetches(maxConcurrentFetches),
	)
	sizer := newFetchSizer()
	opts = append(opts, sizer.opts()...)
	if !s.c.cfg.noControlRecords {
		// Transaction markers are how a reader sees that it has passed the
		// last offsets of a partition when they hold no record: the Until
		// end of a transactional topic is usually a marker.
		opts = append(opts, kgo.KeepControlRecords())
	}
	if s.group {
		topics := make([]string, 0, len(s.parts))
		for t := range s.parts {
			topics = append(topics, t)
		}
		opts = append(opts,
			kgo.ConsumerGroup(s.opts.Group),
			kgo.ConsumeTopics(topics...),
			kgo.ConsumeResetOffset(ResetOffset(s.opts.From)),
			kgo.AutoCommitMarks(),
		)
		if d := s.opts.SessionTimeout; d > 0 {
			// Heartbeats at a third of the session at most, as Kafka
			// advises: a live member missing one is not taken for dead.
			opts = append(opts, kgo.SessionTimeout(d), kgo.HeartbeatInterval(min(3*time.Second, d/3)))
		}
		if s.serverAssigned {
			opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
		} else if s.opts.CoPartitioned {
			// Range gives partition p of each topic to the same member;
			// sticky would balance them without regard to their number.
			opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
		}
	} else {
		assign := make(map[string]map[int32]kgo.Offset, len(s.parts))
		for t, list := range s.parts {
			for _, ps := range list {
				if ps == nil || ps.done {
					continue
				}
				if assign[t] == nil {
					assign[t] = make(map[int32]kgo.Offset)
				}
				assign[t][ps.partition] = kgo.NewOffset().At(ps.next)
			}
		}
		opts = append(opts,
			kgo.ConsumePartitions(assign),
			// Offsets were listed a moment ago, so out of range means
			// retention deleted them since: go on from the oldest left.
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		s.cancel()
		return fmt.Errorf("kafka: %s", s.c.redact(err.Error()))
	}
	s.cl = cl
	sizer.cl.Store(cl)
	if s.group {
		s.dropFinished() // the group would assign them: keep them paused
	}
	s.finished = s.finished[:0] // not assigned in the first place
	s.wg.Add(1)
	go s.run()
	return nil
}

// ResetOffset is where a group member starts a partition the group has no
// committed offset for: p as a kgo offset, for code that runs its own group
// client (replay/eos) and must start exactly where a Source would. A time
// rounds up to the next millisecond, so "at or after" never includes an
// earlier record.
func ResetOffset(p bus.Position) kgo.Offset {
	switch p.Kind {
	case bus.PosBeginning:
		return kgo.NewOffset().AtStart()
	case bus.PosOffset:
		return kgo.NewOffset().At(p.Offset)
	case bus.PosRelative:
		return kgo.NewOffset().AtEnd().Relative(-p.Offset)
	case bus.PosTime:
		return kgo.NewOffset().AfterMilli(CeilMilli(p.Time))
	}
	return kgo.NewOffset().AtEnd()
}

// Next returns the next batch of events (see bus.Source).
func (s *source) Next(ctx context.Context) ([]event.Event, error) {
	if s.marks != nil {
		// The caller is back for more: it is done with the previous batch.
		s.cl.MarkCommitOffsets(s.marks)
		s.marks = nil
	}
	if s.err != nil {
		return nil, s.err
	}
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	var b batch
	select {
	case b = <-s.out:
	default:
		select {
		case b = <-s.out:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, ErrClosed
		case <-s.down:
			// What was read before the outage came first.
			s.err = s.lost
			return nil, s.err
		}
	}
	if b.err != nil {
		s.err = b.err
		return nil, b.err
	}
	s.marks = b.marks
	return b.evs, nil
}

// Close stops reading and closes the connections; a Next blocked in another
// goroutine returns ErrClosed. In group mode the offsets of batches already
// finished with are committed first.
func (s *source) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.cancel()
		if s.cl == nil {
			return
		}
		s.health.close()
		if s.group {
			ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.dialTimeout)
			if err := s.cl.CommitMarkedOffsets(ctx); err != nil {
				s.closeErr = fmt.Errorf("kafka: committing the offsets of group %q: %w", s.opts.Group, s.c.scrub(err))
			}
			cancel()
		}
		s.cl.Close()
		s.wg.Wait()
	})
	return s.closeErr
}

// run is the poll goroutine.
func (s *source) run() {
	defer s.wg.Done()
	for {
		pctx, cancel := s.ctx, context.CancelFunc(nil)
		if s.bounded {
			pctx, cancel = context.WithTimeout(s.ctx, probeIdle)
		}
		fs := s.cl.PollFetches(pctx)
		if cancel != nil {
			cancel()
		}
		if s.ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		var idle bool
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
				idle = true
			case errors.As(err, &loss):
				// kgo has already moved to what is left of the
				// partition; the records lost were never readable.
			case fatal == nil:
				fatal = s.fetchErr(t, p, err)
			}
		})
		if !s.deliver(fs) {
			return
		}
		if fatal != nil {
			s.send(batch{err: fatal})
			return
		}
		if idle && s.pending > 0 {
			s.probeEnd()
		}
		s.dropFinished()
		if s.bounded && s.pending == 0 {
			s.send(batch{err: io.EOF})
			return
		}
	}
}

func (s *source) send(b batch) bool {
	select {
	case s.out <- b:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *source) fetchErr(t string, p int32, err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return &bus.NotFoundError{Transport: transport, Kind: "topic", Name: t, Hint: "deleted while reading"}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("kafka: not authorized to read topic %s: %w", t, err)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("kafka: not authorized to use group %q: %w", s.opts.Group, err)
	}
	if p < 0 {
		return fmt.Errorf("kafka: reading: %w", s.c.scrub(err))
	}
	return fmt.Errorf("kafka: reading %s partition %d: %w", t, p, s.c.scrub(err))
}

// dropFinished stops fetching partitions that reached their Until, so that the
// consumer neither fetches nor buffers what would be thrown away.
func (s *source) dropFinished() {
	if len(s.finished) == 0 {
		return
	}
	m := make(map[string][]int32)
	for _, ps := range s.finished {
		m[ps.topic] = append(m[ps.topic], ps.partition)
	}
	s.finished = s.finished[:0]
	if s.group {
		s.cl.PauseFetchPartitions(m)
	} else {
		s.cl.RemoveConsumePartitions(m)
	}
}

// deliver converts the records of fs into batches of events and queues them.
// It returns false when the source is closing.
//
// The events' Key, Value and header values alias the records' buffers: kgo
// does not reuse them (no pools are configured), and copying would cost more
// than everything else here.
func (s *source) deliver(fs kgo.Fetches) bool {
	remaining := fs.NumRecords()
	if remaining == 0 {
		return true
	}
	var evs []event.Event
	var touched []*part
	nh := 0
	fs.EachRecord(func(r *kgo.Record) { nh += len(r.Headers) })
	if nh > 0 {
		s.arena = make([]event.Header, 0, nh)
	}
	flush := func() bool {
		if len(evs) == 0 {
			return true
		}
		b := batch{evs: evs}
		if s.group {
			b.marks = marksOf(touched)
			touched = touched[:0]
		}
		evs = nil
		return s.send(b)
	}
	for i := range fs {
		for j := range fs[i].Topics {
			ft := &fs[i].Topics[j]
			list := s.parts[ft.Topic]
			for k := range ft.Partitions {
				fp := &ft.Partitions[k]
				remaining -= len(fp.Records)
				if int(fp.Partition) >= len(list) || list[fp.Partition] == nil || list[fp.Partition].done {
					continue // finished: what is still buffered for it is past Until
				}
				ps := list[fp.Partition]
				for _, r := range fp.Records {
					if r.Attrs.IsControl() {
						ps.next = r.Offset + 1
						continue
					}
					if ps.stop >= 0 && r.Offset >= ps.stop || s.hasUntilTime && r.Timestamp.After(s.untilTime) {
						s.finish(ps)
						break
					}
					if len(evs) == cap(evs) {
						if !flush() {
							return false
						}
						evs = make([]event.Event, 0, min(batchMax, remaining+len(fp.Records)))
					}
					evs = evs[:len(evs)+1]
					e := &evs[len(evs)-1]
					e.Transport = event.Kafka
					e.Topic = r.Topic
					e.Partition = r.Partition
					e.Offset = r.Offset
					e.Timestamp = r.Timestamp
					e.Key = r.Key
					e.Value = r.Value
					if n := len(r.Headers); n > 0 {
						e.Headers = s.headers(r.Headers)
					}
					ps.next = r.Offset + 1
					ps.epoch = r.LeaderEpoch
					if s.group && !ps.touched {
						ps.touched = true
						touched = append(touched, ps)
					}
				}
				if !ps.done {
					if s.group && !ps.touched {
						// Markers only: commit past them with the batch.
						ps.touched = true
						touched = append(touched, ps)
					}
					if s.bounded {
						s.checkDone(ps)
					}
				}
			}
		}
	}
	if len(evs) == 0 && len(touched) > 0 {
		// Nothing for the caller to finish with: mark right away.
		s.cl.MarkCommitOffsets(marksOf(touched))
		return true
	}
	return flush()
}

// headers copies kgo's headers into one backing array per fetch (sized by
// deliver), so that a fetch costs one allocation for its headers instead of
// one per event. Each event's slice is capped, so appending to it never
// overwrites a neighbour's.
func (s *source) headers(hs []kgo.RecordHeader) []event.Header {
	n := len(hs)
	if len(s.arena)+n > cap(s.arena) {
		s.arena = make([]event.Header, 0, n)
	}
	start := len(s.arena)
	for _, h := range hs {
		s.arena = append(s.arena, event.Header{Key: h.Key, Value: h.Value})
	}
	return s.arena[start:len(s.arena):len(s.arena)]
}

func marksOf(parts []*part) map[string]map[int32]kgo.EpochOffset {
	m := make(map[string]map[int32]kgo.EpochOffset)
	for _, ps := range parts {
		ps.touched = false
		if m[ps.topic] == nil {
			m[ps.topic] = make(map[int32]kgo.EpochOffset)
		}
		m[ps.topic][ps.partition] = kgo.EpochOffset{Epoch: ps.epoch, Offset: ps.next}
	}
	return m
}

// probeEnd finds partitions that have nothing visible left before their Until
// although the consumer never delivered a record or marker at or past it, and
// marks them done. It runs when no records arrived for probeIdle.
//
// That happens when the offsets just before the Until hold no record a reader
// can see: records removed by compaction (the batch header survives, its
// records do not), or transaction markers when control records are not kept.
// kgo moves its fetch position past such offsets but has nothing to hand back,
// so the consumer alone cannot tell "at the end" from "waiting for data". The
// probe asks the partition leaders directly, from each partition's next
// offset, and decodes the answer with kgo's own ProcessFetchPartition: if no
// record below the Until is visible there, there never will be.
type tp struct {
	t string
	p int32
}

func (s *source) probeEnd() {
	byLeader := map[int32][]*part{}
	for _, list := range s.parts {
		for _, ps := range list {
			if ps == nil || ps.done || ps.stop < 0 {
				continue
			}
			leader, _, err := s.cl.PartitionLeader(ps.topic, ps.partition)
			if err != nil || leader < 0 {
				continue // no leader known yet: try again when next idle
			}
			byLeader[leader] = append(byLeader[leader], ps)
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.c.cfg.dialTimeout)
	defer cancel()
	iso := kgo.ReadCommitted()
	if s.c.cfg.uncommitted {
		iso = kgo.ReadUncommitted()
	}
	for leader, parts := range byLeader {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis = 0
		req.MinBytes = 0
		req.MaxBytes = 1 << 20
		req.IsolationLevel = s.c.isolation()
		byTP := map[tp]*part{}
		idx := map[string]int{}
		for _, ps := range parts {
			i, ok := idx[ps.topic]
			if !ok {
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic = ps.topic
				rt.TopicID = s.ids[ps.topic]
				req.Topics = append(req.Topics, rt)
				i = len(req.Topics) - 1
				idx[ps.topic] = i
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = ps.partition
			rp.FetchOffset = ps.next
			rp.PartitionMaxBytes = 256 << 10
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
			byTP[tp{ps.topic, ps.partition}] = ps
		}
		// Through the Client's own connections: the consumer's fetch
		// connection is busy with a long poll that would delay the answer.
		kresp, err := s.c.cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			continue // the consumer will see the same trouble and report it
		}
		resp := kresp.(*kmsg.FetchResponse)
		for _, rt := range resp.Topics {
			topic := rt.Topic
			if topic == "" {
				topic = s.names[rt.TopicID]
			}
			for k := range rt.Partitions {
				rp := &rt.Partitions[k]
				ps := byTP[tp{topic, rp.Partition}]
				if ps == nil || ps.done {
					continue
				}
				if rp.ErrorCode == kerr.OffsetOutOfRange.Code && rp.LogStartOffset > ps.next {
					// Retention removed what was left: the consumer
					// resets to the log start and reads from there.
					ps.next = rp.LogStartOffset
					s.checkDone(ps)
					continue
				}
				fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
					Offset: ps.next, IsolationLevel: iso, Topic: topic, Partition: rp.Partition,
				}, rp, kgo.DefaultDecompressor(), nil)
				if fp.Err != nil {
					continue
				}
				visible := false
				for _, r := range fp.Records {
					if r.Offset < ps.stop {
						visible = true
						break
					}
				}
				if !visible && next > ps.next {
					// Nothing a reader can see in [ps.next, next): skip it,
					// as the consumer does.
					ps.next = next
					s.checkDone(ps)
				}
			}
		}
	}
}
