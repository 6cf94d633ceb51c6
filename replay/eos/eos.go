// Package eos moves records from Kafka topics to a Kafka topic of the same
// cluster exactly once: each batch is produced in one transaction that also
// commits the source offsets of a consumer group dedicated to the job
// (franz-go's GroupTransactSession, KIP-447), and sources are read
// read_committed. A crash or a failed commit at any point aborts the
// transaction, so neither the records nor the offsets of the batch become
// visible to read_committed readers, and the next run (or the session itself,
// after an abort) resumes from the last committed offsets: nothing is lost,
// nothing is duplicated, and no ledger is needed.
//
// Across clusters, or to and from anything that is not Kafka, use package
// replay with a Ledger instead.
package eos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	oteltrace "go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// Options configure Run.
type Options struct {
	// Client is the cluster: the run's clients connect as it does
	// (Client.KgoOpts: seeds, TLS, SASL, client id, dial timeout, debug
	// log). Both source and target are on this cluster.
	Client *kafka.Client
	// RetryTimeout, when set, bounds how long each request is retried
	// (kgo.RetryTimeout); the default is franz-go's.
	RetryTimeout time.Duration
	// Timeout, when set, bounds an outage: when no record of a transaction
	// is acknowledged or failed for this long (the cluster went away), the
	// run fails with the transaction neither committed nor its offsets
	// moved; the rerun fences it and resumes from the committed offsets.
	Timeout time.Duration
	// Job names the job: its consumer group and transactional id are
	// "eddy-replay-" + Job, and its eddy-redrive-id headers derive from it.
	// Rerunning a job resumes from the group's committed offsets.
	Job string
	// Topics are read from; Target is written to ("" writes each record to
	// its own topic, which is only useful with a filter on another topic).
	Topics []string
	Target string
	// From is where a partition without a committed offset starts (default
	// beginning). The run ends once every partition reached its end as of
	// the start of the run (the last stable offset).
	From bus.Position
	// KeepPartition writes each record to its source partition number;
	// NewTimestamps stamps records with the time of the write.
	KeepPartition bool
	NewTimestamps bool
	// Filter, when set, moves only the records it matches; the others are
	// passed over (their offsets are committed with the batch).
	Filter replay.Matcher
	// Rate, when positive, limits the run to that many records per second.
	Rate float64
	// Progress, when set, is called after every transaction.
	Progress func(replay.Summary)
	// OnEnd, when set, is called after every transaction with whether it
	// committed (tests use it to look at the group's offsets).
	OnEnd func(committed bool)
	// MaxRecords bounds one transaction (default 10000).
	MaxRecords int

	// Group, when set, replaces GroupName(Job) as the job's consumer group
	// and transactional id (a redrive names its own).
	Group string
	// Route, when set, routes each record on its own (a redrive): it
	// returns what to write — Topic, Key, Value, Headers and Timestamp of
	// the returned event, and its Partition when >= 0 (else the partition
	// of its key, as the Java client's, or round robin without a key) — or
	// false to pass the record over (its offset is committed with the
	// transaction all the same). Target, KeepPartition and Filter are then
	// unused; every topic a record is routed to must exist.
	// An error aborts the transaction and ends the run.
	Route func(e *event.Event) (event.Event, bool, error)
	// Prepare, when set, is called once every record of a transaction was
	// produced and before it commits; an error aborts the transaction and
	// ends the run. A redrive records there what it passed over, so that
	// nothing it passed is ever committed without being recorded.
	Prepare func() error

	// Tracer, when set, gives every record moved its span, as replay.Traced
	// does on the other paths (replay.EventSpans): a child of the record's
	// original traceparent, linked to the run's span found in Run's context,
	// and injected into the written record as its traceparent. A span ends
	// once its transaction did: an error when it aborted.
	Tracer oteltrace.Tracer
}

// ConcurrentRunError is a run fenced by another run of the same job: a
// newer producer with the job's transactional id, or a newer member with its
// static instance id, took over. The fenced run's open transaction is aborted
// (nothing of it is visible to read_committed readers) and what it committed
// stands, so nothing was lost or duplicated; the other run goes on from the
// committed offsets.
type ConcurrentRunError struct {
	Job, Group string
	Err        error
}

func (e *ConcurrentRunError) Error() string {
	return fmt.Sprintf("another run of job %s is active (it took over the group and transactional id %s); nothing was lost; rerun when it ends", e.Job, e.Group)
}

func (e *ConcurrentRunError) Unwrap() error { return e.Err }

// fenced reports whether err is Kafka fencing this run for another with the
// same transactional id or group instance id.
func fenced(err error) bool {
	return err != nil && (errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.FencedInstanceID) ||
		errors.Is(err, kerr.InvalidProducerEpoch))
}

// GroupName is the consumer group (and transactional id) of a job.
func GroupName(job string) string { return "eddy-replay-" + job }

// Run moves the records. It returns the summary in every case; the error is
// nil once every partition reached its end, ctx.Err() when stopped (the
// transaction in flight is committed first when it can be within a second),
// and otherwise the failure — after which the group's committed offsets
// still say exactly what landed, so the same job can be run again.
func Run(ctx context.Context, o Options) (replay.Summary, error) {
	start := time.Now()
	var sum replay.Summary
	if o.Job == "" || len(o.Topics) == 0 {
		return sum, errors.New("eos: a job and at least one topic are needed")
	}
	if o.Client == nil {
		return sum, errors.New("eos: no Kafka client")
	}
	// The job names a consumer group and a transactional id.
	if err := replay.CheckJobName(o.Job); err != nil {
		return sum, fmt.Errorf("eos: job %q: %w", o.Job, err)
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 10000
	}
	if !o.From.IsSet() {
		o.From = bus.Position{Kind: bus.PosBeginning}
	}
	group := o.Group
	if group == "" {
		group = GroupName(o.Job)
	}

	conn := o.Client.KgoOpts()
	if o.RetryTimeout > 0 {
		conn = append(conn, kgo.RetryTimeout(o.RetryTimeout))
	}
	admCl, err := kgo.NewClient(conn...)
	if err != nil {
		return sum, fmt.Errorf("eos: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if err := exist(ctx, adm, o); err != nil {
		return sum, err
	}
	batchMax := int32(1 << 20) // kgo's default, and Kafka's default max.message.bytes
	if o.Target != "" && o.Route == nil {
		// A record may be as large as the target accepts (a 10 MB
		// dead letter where the topic allows it).
		if rcs, err := adm.DescribeTopicConfigs(ctx, o.Target); err == nil {
			for _, rc := range rcs {
				for _, kv := range rc.Configs {
					if kv.Key == "max.message.bytes" && kv.Value != nil {
						if n, err := strconv.ParseInt(*kv.Value, 10, 32); err == nil && n > int64(batchMax) {
							batchMax = int32(n)
						}
					}
				}
			}
		}
	}
	remaining, err := plan(ctx, adm, group, o)
	if err != nil {
		return sum, err
	}
	if len(remaining) == 0 {
		sum.Done = true
		return sum, nil
	}

	kopts := append(conn,
		kgo.TransactionalID(group),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumerGroup(group),
		// A job is one member. A rerun after a crash (SIGKILL, power loss)
		// would otherwise wait for the dead member's session to expire
		// before the group rebalances: the static instance id makes the
		// rerun take its place at once, and the short session bounds the
		// wait where static membership is not supported.
		kgo.InstanceID(group),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.ConsumeTopics(o.Topics...),
		kgo.ConsumeResetOffset(kafka.ResetOffset(o.From)),
		// Markers tell the run it passed the end of a transactional source.
		kgo.KeepControlRecords(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.DisableAutoCommit(),
	)
	// When the group last gave this run partitions (unix nanos; 0: never).
	var assignedAt atomic.Int64
	kopts = append(kopts, kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
		assignedAt.Store(time.Now().UnixNano())
	}))
	var rt *routes
	switch {
	case o.Route != nil:
		// Each record's topic has its own limit, and its partition is
		// chosen here: kept, or by key.
		rt = newRoutes(adm)
		kopts = append(kopts, kgo.ProducerBatchMaxBytesFn(rt.maxBytes), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	case o.KeepPartition:
		kopts = append(kopts, kgo.ProducerBatchMaxBytes(batchMax), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	default:
		kopts = append(kopts, kgo.ProducerBatchMaxBytes(batchMax))
	}
	sess, err := kgo.NewGroupTransactSession(kopts...)
	if err != nil {
		return sum, fmt.Errorf("eos: %w", err)
	}
	defer sess.Close()

	var spans *recordSpans
	if o.Tracer != nil {
		spans = &recordSpans{tracer: o.Tracer, by: map[string]*replay.EventSpans{}}
	}
	var lim *rate.Limiter
	if o.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.Rate), max(1, int(math.Ceil(o.Rate/10))))
	}
	progress := func() {
		if o.Progress != nil {
			s := sum
			s.Elapsed = time.Since(start)
			o.Progress(s)
		}
	}
	finish := func(err error) (replay.Summary, error) {
		sum.Elapsed = time.Since(start)
		if err != nil && ctx.Err() != nil {
			sum.Stopped = true
			return sum, ctx.Err()
		}
		if fenced(err) {
			err = &ConcurrentRunError{Job: o.Job, Group: group, Err: err}
		}
		return sum, err
	}

	for len(remaining) > 0 {
		if ctx.Err() != nil {
			return finish(ctx.Err())
		}
		n := o.MaxRecords
		if lim != nil {
			n = lim.Burst()
		}
		// Markers make every partition reach its end; a partition whose last
		// offsets hold no record at all (compaction) never would, so a
		// poll that finds nothing for idle, once the group has given this
		// run its partitions, ends the run.
		pctx, cancel := context.WithTimeout(ctx, idle)
		fs := sess.PollRecords(pctx, n)
		timedOut := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if fs.IsClientClosed() {
			return finish(errors.New("eos: client closed"))
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			// A poll that timed out says so as an error of no partition.
			if timedOut && errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if fetchErr == nil && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("eos: fetching %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return finish(fetchErr)
		}
		if ctx.Err() != nil {
			return finish(ctx.Err())
		}
		recs := fs.Records()
		if len(recs) == 0 {
			if !timedOut {
				continue
			}
			// The time a slow group join takes is not idleness: nothing
			// could be fetched before the partitions were assigned.
			at := assignedAt.Load()
			if at != 0 && time.Since(time.Unix(0, at)) >= idle {
				break
			}
			if at == 0 && time.Since(start) > assignWait {
				return finish(fmt.Errorf("eos: the group %s assigned this run no partitions within %s (is another run of the job alive?)", group, assignWait))
			}
			continue
		}
		if lim != nil {
			if err := lim.WaitN(ctx, min(len(recs), lim.Burst())); err != nil {
				return finish(err)
			}
		}

		if err := sess.Begin(); err != nil {
			return finish(fmt.Errorf("eos: beginning a transaction: %w", err))
		}
		var read, filtered, filterErr, moved int64
		seen := map[tp]int64{}
		var prodErr error
		type produced struct {
			i   int
			err error
		}
		done := make(chan produced, len(recs))
		var txSpans []oteltrace.Span
		var txErrs []error
		wctx, wcancel := graceful(ctx)
		for _, r := range recs {
			k := tp{r.Topic, r.Partition}
			seen[k] = max(seen[k], r.Offset+1)
			if r.Attrs.IsControl() {
				continue
			}
			read++
			e := toEvent(r)
			var out *kgo.Record
			if rt != nil {
				routed, ok, err := o.Route(&e)
				if err != nil {
					prodErr = err
					break
				}
				if !ok {
					filtered++
					continue
				}
				if out, err = rt.record(ctx, o, &e, &routed); err != nil {
					prodErr = err
					break
				}
			} else {
				ok, err := match(o.Filter, &e)
				if err != nil {
					filterErr++
				}
				if !ok {
					filtered++
					continue
				}
				out = o.record(r, &e)
			}
			i := int(moved)
			moved++
			if spans != nil {
				txSpans = append(txSpans, spans.start(ctx, &e, out))
			}
			sess.Produce(wctx, out, func(_ *kgo.Record, err error) { done <- produced{i, err} })
		}
		if spans != nil {
			txErrs = make([]error, moved)
		}
		var stall <-chan time.Time
		if o.Timeout > 0 {
			stall = time.After(o.Timeout)
		}
		for range moved {
			var p produced
			select {
			case p = <-done:
			case <-stall:
				// Ending the transaction would wait on the same cluster:
				// leave it open, uncommitted. The session's close and the
				// rerun's InitProducerID abort it.
				wcancel()
				return finish(fmt.Errorf("eos: the cluster acknowledged no record for --timeout %s; the transaction is not committed (outcome unknown: %d record(s) in it), the same command resumes from the job's committed offsets", o.Timeout, moved))
			}
			if o.Timeout > 0 {
				stall = time.After(o.Timeout)
			}
			if p.err != nil && prodErr == nil {
				prodErr = fmt.Errorf("producing: %w", p.err)
			}
			if txErrs != nil {
				txErrs[p.i] = p.err
			}
		}
		if prodErr == nil && o.Prepare != nil {
			if err := o.Prepare(); err != nil {
				prodErr = fmt.Errorf("preparing the commit: %w", err)
			}
		}
		committed, err := sess.End(wctx, kgo.TransactionEndTry(prodErr == nil))
		wcancel()
		endSpans(txSpans, txErrs, committed, err)
		if o.OnEnd != nil {
			o.OnEnd(committed)
		}
		if err != nil {
			return finish(fmt.Errorf("eos: ending the transaction: %w", err))
		}
		if !committed {
			// Aborted: the session rewinds to the committed offsets and
			// the records come again.
			sum.Failed += moved
			if prodErr != nil {
				return finish(fmt.Errorf("eos: %w", prodErr))
			}
			progress()
			continue
		}
		sum.Read += read
		sum.Filtered += filtered
		sum.FilterErr += filterErr
		sum.Moved += moved
		for k, next := range seen {
			if end, ok := remaining[k]; ok && next >= end {
				delete(remaining, k)
			}
		}
		progress()
	}
	sum.Done = true
	return finish(nil)
}

// recordSpans starts the span of each record moved, per target topic.
type recordSpans struct {
	tracer oteltrace.Tracer
	by     map[string]*replay.EventSpans
}

// start starts the span of src written as r, and injects it into r's
// headers.
func (rs *recordSpans) start(ctx context.Context, src *event.Event, r *kgo.Record) oteltrace.Span {
	es, ok := rs.by[r.Topic]
	if !ok {
		es = replay.NewEventSpans(rs.tracer, bus.Address{Transport: "kafka", Name: r.Topic})
		rs.by[r.Topic] = es
	}
	// The record as written, at its source's position (eddy.source).
	e := *src
	e.Key, e.Value = r.Key, r.Value
	e.Headers = make([]event.Header, len(r.Headers))
	for i, h := range r.Headers {
		e.Headers[i] = event.Header{Key: h.Key, Value: h.Value}
	}
	span := es.Start(ctx, &e)
	r.Headers = make([]kgo.RecordHeader, len(e.Headers))
	for i, h := range e.Headers {
		r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return span
}

// endSpans ends the spans of one transaction's records: landed when it
// committed, else failed with why.
func endSpans(spans []oteltrace.Span, errs []error, committed bool, endErr error) {
	for i, span := range spans {
		failure := ""
		switch {
		case errs[i] != nil:
			failure = errs[i].Error()
		case endErr != nil:
			failure = "transaction not committed: " + endErr.Error()
		case !committed:
			failure = "transaction aborted"
		}
		replay.EndEventSpan(span, failure)
	}
}

// idle is how long a poll may find nothing, once the run has its
// partitions, before the run ends; assignWait how long the group may take to
// give them. Variables so that tests can shorten them.
var (
	idle       = 5 * time.Second
	assignWait = 2 * time.Minute
)

// graceful returns a context for finishing a transaction: not ended by ctx,
// but by a second after ctx is done (a stop commits what it produced when it
// can), or after a minute.
func graceful(ctx context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(time.Second, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	return wctx, func() { stop(); cancel() }
}

type tp struct {
	topic     string
	partition int32
}

// exist checks that the source topics and the target exist: a
// *bus.NotFoundError names the first missing one.
func exist(ctx context.Context, adm *kadm.Client, o Options) error {
	names := append([]string{}, o.Topics...)
	if o.Target != "" {
		names = append(names, o.Target)
	}
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("eos: listing topics: %w", err)
	}
	for _, n := range names {
		if td, ok := tds[n]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return &bus.NotFoundError{Transport: "kafka", Kind: "topic", Name: n}
		} else if td.Err != nil {
			return fmt.Errorf("eos: topic %s: %w", n, td.Err)
		}
	}
	return nil
}

// plan returns the partitions that still have records to move, and where
// they end (the last stable offset now).
func plan(ctx context.Context, adm *kadm.Client, group string, o Options) (map[tp]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, o.Topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("eos: listing end offsets: %w", err)
	}
	// ListEndOffsets is read_uncommitted; the last stable offset is what a
	// read_committed reader reaches.
	lso, err := adm.ListCommittedOffsets(ctx, o.Topics...)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("eos: listing last stable offsets: %w", err)
	}
	starts, err := startOffsets(ctx, adm, o)
	if err != nil {
		return nil, err
	}
	committed, err := FetchOffsets(ctx, adm, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a new job
	}
	if err != nil {
		return nil, fmt.Errorf("eos: fetching the offsets of group %s: %w", group, err)
	}
	out := map[tp]int64{}
	lso.Each(func(l kadm.ListedOffset) {
		from := l.Offset // nothing to do unless a start says otherwise
		if c, ok := committed.Lookup(l.Topic, l.Partition); ok && c.Err == nil && c.At >= 0 {
			from = c.At
		} else if s, ok := starts.Lookup(l.Topic, l.Partition); ok {
			from = s.Offset
		}
		if from < l.Offset {
			out[tp{l.Topic, l.Partition}] = l.Offset
		}
	})
	return out, nil
}

// FetchOffsets fetches group's committed offsets, retrying for up to ten
// seconds while the broker answers with a retriable error: a group
// coordinator that is loading or moving answers COORDINATOR_NOT_AVAILABLE or
// COORDINATOR_LOAD_IN_PROGRESS for a moment, which kadm returns as is.
func FetchOffsets(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	deadline := time.Now().Add(10 * time.Second)
	backoff := 50 * time.Millisecond
	for {
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil || !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return offs, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return offs, err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// startOffsets are where partitions without a committed offset start.
func startOffsets(ctx context.Context, adm *kadm.Client, o Options) (kadm.ListedOffsets, error) {
	var (
		l   kadm.ListedOffsets
		err error
	)
	switch o.From.Kind {
	case bus.PosBeginning:
		l, err = adm.ListStartOffsets(ctx, o.Topics...)
	case bus.PosTime:
		l, err = adm.ListOffsetsAfterMilli(ctx, kafka.CeilMilli(o.From.Time), o.Topics...)
	case bus.PosOffset, bus.PosRelative:
		var st, en kadm.ListedOffsets
		if st, err = adm.ListStartOffsets(ctx, o.Topics...); err == nil {
			en, err = adm.ListCommittedOffsets(ctx, o.Topics...)
		}
		if err == nil {
			l = st
			for t, ps := range l {
				for p, s := range ps {
					e := en[t][p].Offset
					want := o.From.Offset
					if o.From.Kind == bus.PosRelative {
						want = e - o.From.Offset
					}
					s.Offset = min(max(want, s.Offset), e)
					l[t][p] = s
				}
			}
		}
	default: // end: only records written from now on, of which there are none to move
		l, err = adm.ListCommittedOffsets(ctx, o.Topics...)
	}
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("eos: listing start offsets: %w", err)
	}
	return l, nil
}

// record is what r becomes in the target.
func (o *Options) record(r *kgo.Record, e *event.Event) *kgo.Record {
	out := &kgo.Record{Topic: o.Target, Key: r.Key, Value: r.Value}
	if out.Topic == "" {
		out.Topic = r.Topic
	}
	if o.KeepPartition {
		out.Partition = r.Partition
	}
	if !o.NewTimestamps {
		out.Timestamp = r.Timestamp
	}
	rid := replay.RedriveID(o.Job, replay.DefaultIdentity(e))
	out.Headers = make([]kgo.RecordHeader, 0, len(r.Headers)+1)
	for _, h := range r.Headers {
		if h.Key != replay.HeaderRedriveID {
			out.Headers = append(out.Headers, h)
		}
	}
	out.Headers = append(out.Headers, kgo.RecordHeader{Key: replay.HeaderRedriveID, Value: []byte(rid)})
	return out
}

func toEvent(r *kgo.Record) event.Event {
	e := event.Event{Transport: event.Kafka, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		e.Headers = make([]event.Header, len(r.Headers))
		for i, h := range r.Headers {
			e.Headers[i] = event.Header{Key: h.Key, Value: h.Value}
		}
	}
	return e
}

func match(m replay.Matcher, e *event.Event) (bool, error) {
	if m == nil {
		return true, nil
	}
	return m.Match(e)
}
