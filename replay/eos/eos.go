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
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
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
	// Worker, when set, names this process among the workers of the job:
	// its transactional id and static group instance id are WorkerID(Group,
	// Worker), so that several processes of one job share its partitions
	// (the group assigns them, and moves a dead worker's to the live ones)
	// instead of fencing each other. A worker rerun under the same name
	// fences its dead predecessor's open transaction at once; under another
	// name, the partitions it held move once the group has seen it die
	// (the session timeout) and are read once Kafka aborted its open
	// transaction (the transaction timeout). Empty: the group's name itself,
	// one process per job (a second one fences the first).
	Worker string
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
	// Worker is the worker name both runs share, if any.
	Worker string
	Err    error
}

func (e *ConcurrentRunError) Error() string {
	if e.Worker != "" {
		return fmt.Sprintf("another run of job %s is active as worker %s, or the job's group dropped this worker as dead (transactional id %s taken over); nothing was lost; rerun when it ends, or under another worker name to share the job",
			e.Job, e.Worker, WorkerID(e.Group, e.Worker))
	}
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

// WorkerID is the transactional id of worker in the job whose group is
// group: the group itself when worker is empty. A job's name holds no ':', so
// group+":" begins the ids of that job's workers and no other's.
func WorkerID(group, worker string) string {
	if worker == "" {
		return group
	}
	return group + ":" + worker
}

// instanceID is a worker's static member id in its job's group (unique
// within the group, and of the characters Kafka allows there).
func instanceID(group, worker string) string {
	if worker == "" {
		return group
	}
	return worker
}

// Run moves the records. It returns the summary in every case; the error is
// nil once every partition reached its end, ctx.Err() when stopped (the
// transaction in flight is committed first when it can be within a second),
// and otherwise the failure — after which the group's committed offsets
// still say exactly what landed, so the same job can be run again.
func Run(ctx context.Context, o Options) (replay.Summary, error) {
	r := &run{o: o, start: time.Now()}
	if o.Job == "" || len(o.Topics) == 0 {
		return r.sum, errors.New("eos: a job and at least one topic are needed")
	}
	if o.Client == nil {
		return r.sum, errors.New("eos: no Kafka client")
	}
	// The job names a consumer group and a transactional id.
	if err := replay.CheckJobName(o.Job); err != nil {
		return r.sum, fmt.Errorf("eos: job %q: %w", o.Job, err)
	}
	if o.Worker != "" {
		if err := replay.CheckJobName(o.Worker); err != nil {
			return r.sum, fmt.Errorf("eos: worker %q: %w", o.Worker, err)
		}
	}
	if r.o.MaxRecords <= 0 {
		r.o.MaxRecords = 10000
	}
	if !r.o.From.IsSet() {
		r.o.From = bus.Position{Kind: bus.PosBeginning}
	}
	r.group = o.Group
	if r.group == "" {
		r.group = GroupName(o.Job)
	}
	defer r.close()
	if err := r.setup(ctx); err != nil || len(r.remaining) == 0 {
		r.sum.Done = err == nil
		return r.sum, err
	}
	return r.finish(ctx, r.loop(ctx))
}

// run is one Run: its clients, what is left to move, and what was moved.
type run struct {
	o     Options
	start time.Time
	group string

	admCl *kgo.Client
	adm   *kadm.Client
	sess  *kgo.GroupTransactSession
	rt    *routes // per-record routing (Options.Route), else nil
	spans *recordSpans
	lim   *rate.Limiter
	// assignedAt is when the group last gave this run partitions (unix
	// nanos; 0: never).
	assignedAt atomic.Int64
	// mine are the partitions the group gives this worker now, with when
	// their offsets were resolved and fetching them could start (unix
	// nanos; 0: not yet: the offset fetch waits while another worker's
	// transaction holds offsets of them).
	mu   sync.Mutex
	mine map[tp]int64

	// remaining are the partitions with records left to move, and their end;
	// parts every partition of the job, with where the job starts it and
	// where it ends (the job's progress, all workers together).
	remaining   map[tp]int64
	parts       map[tp][2]int64
	refreshedAt time.Time
	// fencedAt is when this worker last looked for dead workers' open
	// transactions (fenceDead).
	fencedAt time.Time
	// lastRecs is when a poll last returned records.
	lastRecs time.Time
	// joinTrouble is when polls began to report a group session that
	// could not be joined for a transient cause (zero: none since).
	joinTrouble time.Time
	sum         replay.Summary
}

// setup opens the admin client, checks the topics exist, plans what is left
// and, when something is, opens the transactional session.
func (r *run) setup(ctx context.Context) error {
	conn := r.o.Client.KgoOpts()
	if r.o.RetryTimeout > 0 {
		conn = append(conn, kgo.RetryTimeout(r.o.RetryTimeout))
	}
	admCl, err := kgo.NewClient(conn...)
	if err != nil {
		return fmt.Errorf("eos: %w", err)
	}
	r.admCl, r.adm = admCl, kadm.NewClient(admCl)
	if err := exist(ctx, r.adm, r.o); err != nil {
		return err
	}
	batchMax := r.targetBatchMax(ctx)
	if r.remaining, r.parts, err = plan(ctx, r.adm, r.group, r.o); err != nil || len(r.remaining) == 0 {
		return err
	}
	r.mine = map[tp]int64{}
	sess, err := kgo.NewGroupTransactSession(r.sessionOpts(conn, batchMax)...)
	if err != nil {
		return fmt.Errorf("eos: %w", err)
	}
	r.sess = sess
	// Loading the producer id now aborts what a dead run under the same
	// transactional id left open: the group's offsets of its partitions are
	// unstable until then, and the session would wait on them until Kafka
	// timed the transaction out.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		if fenced(err) {
			return &ConcurrentRunError{Job: r.o.Job, Group: r.group, Worker: r.o.Worker, Err: err}
		}
		return fmt.Errorf("eos: %w", err)
	}
	if r.o.Tracer != nil {
		r.spans = &recordSpans{tracer: r.o.Tracer, by: map[string]*replay.EventSpans{}}
	}
	if r.o.Rate > 0 {
		r.lim = rate.NewLimiter(rate.Limit(r.o.Rate), max(1, int(math.Ceil(r.o.Rate/10))))
	}
	return nil
}

// close closes the session, then the admin client.
func (r *run) close() {
	if r.sess != nil {
		r.sess.Close()
	}
	if r.admCl != nil {
		r.admCl.Close()
	}
}

// targetBatchMax is the largest batch the target takes: kgo's default, or
// the target's max.message.bytes when larger (a 10 MB dead letter where the
// topic allows it).
func (r *run) targetBatchMax(ctx context.Context) int32 {
	batchMax := int32(1 << 20) // kgo's default, and Kafka's default max.message.bytes
	if r.o.Target == "" || r.o.Route != nil {
		return batchMax
	}
	rcs, err := r.adm.DescribeTopicConfigs(ctx, r.o.Target)
	if err != nil {
		return batchMax
	}
	for _, rc := range rcs {
		for _, kv := range rc.Configs {
			if kv.Key == "max.message.bytes" && kv.Value != nil {
				if n, err := strconv.ParseInt(*kv.Value, 10, 32); err == nil && n > int64(batchMax) {
					batchMax = int32(n)
				}
			}
		}
	}
	return batchMax
}

// sessionOpts are the options of the job's transactional session.
func (r *run) sessionOpts(conn []kgo.Opt, batchMax int32) []kgo.Opt {
	kopts := append(conn,
		kgo.TransactionalID(WorkerID(r.group, r.o.Worker)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumerGroup(r.group),
		// A worker is one member. A rerun after a crash (SIGKILL, power
		// loss) would otherwise wait for the dead member's session to
		// expire before the group rebalances: the static instance id makes
		// a rerun under the same name take its place at once, and the short
		// session bounds the wait for a worker that does not come back
		// (its partitions move to the live ones).
		kgo.InstanceID(instanceID(r.group, r.o.Worker)),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.ConsumeTopics(r.o.Topics...),
		kgo.ConsumeResetOffset(kafka.ResetOffset(r.o.From)),
		// Markers tell the run it passed the end of a transactional source.
		kgo.KeepControlRecords(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.assignedAt.Store(time.Now().UnixNano())
			r.assign(m, 0)
		}),
		// The offsets are resolved once no other worker's transaction
		// holds them: from then on an empty poll means nothing to read.
		kgo.AdjustFetchOffsetsFn(func(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			m := map[string][]int32{}
			for t, ps := range offs {
				for p := range ps {
					m[t] = append(m[t], p)
				}
			}
			r.assign(m, time.Now().UnixNano())
			return offs, nil
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { r.unassign(m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { r.unassign(m) }),
	)
	if r.o.Worker != "" {
		// A worker killed with a transaction open holds the offsets of its
		// partitions (and the last stable offset of its targets) until
		// Kafka aborts the transaction; a rerun under its name aborts it at
		// once, any other worker waits this long for the partitions it
		// took over.
		kopts = append(kopts, kgo.TransactionTimeout(txnTimeout))
	}
	switch {
	case r.o.Route != nil:
		// Each record's topic has its own limit, and its partition is
		// chosen here: kept, or by key.
		r.rt = newRoutes(r.adm)
		kopts = append(kopts, kgo.ProducerBatchMaxBytesFn(r.rt.maxBytes), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	case r.o.KeepPartition:
		kopts = append(kopts, kgo.ProducerBatchMaxBytes(batchMax), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	default:
		kopts = append(kopts, kgo.ProducerBatchMaxBytes(batchMax))
	}
	return kopts
}

// assign notes partitions the group gave this worker, resolved at (0: not
// yet).
func (r *run) assign(m map[string][]int32, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			r.mine[tp{t, p}] = at
		}
	}
}

// unassign forgets partitions the group took from this worker.
func (r *run) unassign(m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(r.mine, tp{t, p})
		}
	}
}

// loop polls and moves batches, one transaction each, until every partition
// of the job reached its end (nil), the run is stopped or it fails. Other
// workers of the job move the partitions the group gives them; their
// commits count from the group's offsets (refresh).
func (r *run) loop(ctx context.Context) error {
	for len(r.remaining) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		recs, timedOut, err := r.poll(ctx)
		if err != nil {
			return err
		}
		if timedOut {
			if r.idleEnd(ctx) {
				break
			}
			continue
		}
		if len(recs) == 0 {
			continue
		}
		if r.lim != nil {
			if err := r.lim.WaitN(ctx, min(len(recs), r.lim.Burst())); err != nil {
				return err
			}
		}
		if err := r.transact(ctx, recs); err != nil {
			return err
		}
		if time.Since(r.refreshedAt) >= time.Second {
			r.refresh(ctx)
		}
	}
	// The summary ends with the job's progress as the group has it now;
	// and a worker that ends leaves no dead worker's transaction open.
	r.fencedAt = time.Time{}
	r.refresh(ctx)
	r.sum.Done = true
	return nil
}

// refresh reads the group's committed offsets: partitions another worker
// finished are no longer remaining, and the job's progress (all workers)
// goes in the summary. A failed fetch changes nothing: it is tried again.
func (r *run) refresh(ctx context.Context) {
	r.refreshedAt = time.Now()
	offs, err := r.adm.FetchOffsets(ctx, r.group)
	if err != nil {
		return
	}
	var done, total int64
	for k, be := range r.parts {
		at := be[0]
		if c, ok := offs.Lookup(k.topic, k.partition); ok && c.Err == nil && c.At >= 0 {
			at = c.At
		}
		at = min(max(at, be[0]), be[1])
		done += at - be[0]
		total += be[1] - be[0]
		if end, ok := r.remaining[k]; ok && at >= end {
			delete(r.remaining, k)
		}
	}
	r.sum.JobDone, r.sum.JobTotal = done, total
	r.progress()
	if time.Since(r.fencedAt) >= fenceEvery {
		r.fenceDead(ctx)
	}
}

// fenceDead aborts the transactions that workers of the job no longer in its
// group left open (killed, or cut off long enough for the group to drop
// them). Kafka would abort them after their timeout, and until then they hold
// the last stable offset of the partitions they wrote to (read_committed
// readers of the targets wait) and, when the worker died while committing,
// its partitions' offsets. A worker that is a member is never touched; a
// zombie one is fenced, as KIP-447 would fence its commit. Best effort: a
// cluster that cannot list transactions (before Kafka 3.0, or no DESCRIBE on
// them) leaves them to their timeout.
func (r *run) fenceDead(ctx context.Context) {
	r.fencedAt = time.Now()
	if r.o.Worker == "" {
		return
	}
	prefix := r.group + ":"
	lt, _ := r.adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	var dead []string
	for id := range lt {
		if strings.HasPrefix(id, prefix) && id != WorkerID(r.group, r.o.Worker) {
			dead = append(dead, id)
		}
	}
	if len(dead) == 0 {
		return
	}
	dg, err := r.adm.DescribeGroups(ctx, r.group)
	if err != nil {
		return
	}
	g, ok := dg[r.group]
	// Members are certain only in a stable group.
	if !ok || g.Err != nil || g.State != "Stable" {
		return
	}
	live := map[string]bool{}
	for _, m := range g.Members {
		if m.InstanceID != nil {
			live[*m.InstanceID] = true
		}
	}
	for _, id := range dead {
		if live[strings.TrimPrefix(id, prefix)] {
			continue
		}
		r.fence(ctx, id)
	}
}

// fence aborts the open transaction of the transactional id: loading a
// producer id under it bumps its epoch, and Kafka aborts what the older
// epoch left open.
func (r *run) fence(ctx context.Context, id string) {
	cl, err := kgo.NewClient(append(r.o.Client.KgoOpts(), kgo.TransactionalID(id), kgo.TransactionTimeout(txnTimeout))...)
	if err != nil {
		return
	}
	defer cl.Close()
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl.ProducerID(fctx)
}

// idleEnd says whether a poll that found nothing ends the run: when the
// group's offsets say the job is done, or when no record came for idle and
// every partition left is this worker's and fetchable for idle. Markers make every partition
// reach its end, but one whose last offsets hold no record at all
// (compaction) never would. A partition another worker holds is that
// worker's to finish; if it died, the group moves the partition to a live
// worker once its session expired.
func (r *run) idleEnd(ctx context.Context) bool {
	r.refresh(ctx)
	if len(r.remaining) == 0 {
		return true
	}
	now := time.Now()
	if now.Sub(r.lastRecs) < idle {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.remaining {
		at, ok := r.mine[k]
		if !ok || at == 0 || now.Sub(time.Unix(0, at)) < idle {
			return false
		}
	}
	return true
}

// poll fetches the next batch; timedOut says it found nothing for a
// while (pollWait).
func (r *run) poll(ctx context.Context) (recs []*kgo.Record, timedOut bool, err error) {
	n := r.o.MaxRecords
	if r.lim != nil {
		n = r.lim.Burst()
	}
	// A short poll: the group's offsets are looked at after each empty
	// one, so that a worker whose partitions others finished ends soon.
	pctx, cancel := context.WithTimeout(ctx, min(idle, pollWait))
	fs := r.sess.PollRecords(pctx, n)
	timedOut = pctx.Err() != nil && ctx.Err() == nil
	cancel()
	if fs.IsClientClosed() {
		return nil, false, errors.New("eos: client closed")
	}
	fs.EachError(func(t string, p int32, ferr error) {
		// A poll that timed out says so as an error of no partition.
		if timedOut && errors.Is(ferr, context.DeadlineExceeded) {
			return
		}
		var gse *kgo.ErrGroupSession
		if errors.As(ferr, &gse) && transient(gse.Err) {
			// kgo goes on joining; a join that timed out once on a
			// busy cluster is not the end of a job (a worker died of
			// it at load 8). One that fails for the outage bound is.
			if r.joinTrouble.IsZero() || r.assignedAt.Load() > r.joinTrouble.UnixNano() {
				// The first failure since the last join that worked.
				r.joinTrouble = time.Now()
			}
			if time.Since(r.joinTrouble) < r.joinGrace() {
				return
			}
		}
		switch {
		case err != nil || errors.Is(ferr, context.Canceled):
		case gse != nil:
			// Of no partition: "fetching /0" said nothing.
			err = fmt.Errorf("eos: the job's group %s: %w", r.group, ferr)
		default:
			err = fmt.Errorf("eos: fetching %s/%d: %w", t, p, ferr)
		}
	})
	if err != nil {
		return nil, false, err
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	recs = fs.Records()
	if len(recs) > 0 {
		r.lastRecs = time.Now()
		r.joinTrouble = time.Time{}
	}
	if len(recs) > 0 || !timedOut {
		return recs, false, nil
	}
	// The time a slow group join takes is not idleness: nothing could be
	// fetched before the partitions were assigned.
	if r.assignedAt.Load() == 0 && time.Since(r.start) > assignWait {
		return nil, false, fmt.Errorf("eos: the group %s assigned this run no partitions within %s (is another run of the job alive?)", r.group, assignWait)
	}
	return nil, true, nil
}

// joinGrace is how long a group session may go on failing to be joined
// for a transient cause: the outage bound (--timeout), 30 s without one.
func (r *run) joinGrace() time.Duration {
	if r.o.Timeout > 0 {
		return r.o.Timeout
	}
	return 30 * time.Second
}

// transient says whether a group session's failure may pass: a network
// timeout, a dropped connection or an error Kafka calls retriable — not a
// refusal (fenced, unauthorized, an unknown member).
func transient(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || kerr.IsRetriable(err)
}

// txn is one transaction's records: what was read, passed over and
// produced, and how the produce requests ended.
type txn struct {
	read, filtered, filterErr, moved int64
	// seen is the next offset of each partition the batch read.
	seen map[tp]int64
	// err is the first failure (routing or producing): the transaction
	// aborts.
	err   error
	done  chan produced
	spans []oteltrace.Span
	errs  []error // per record produced, when spans are on
}

// produced is how the produce request of the i-th record produced ended.
type produced struct {
	i     int
	topic string
	err   error
}

// transact moves recs in one transaction: begin, produce, wait for the
// acknowledgements, prepare, end; then counts what committed.
func (r *run) transact(ctx context.Context, recs []*kgo.Record) error {
	if err := r.sess.Begin(); err != nil {
		return fmt.Errorf("eos: beginning a transaction: %w", err)
	}
	wctx, wcancel := graceful(ctx)
	tx := r.produce(ctx, wctx, recs)
	if err := r.await(tx); err != nil {
		// Ending the transaction would wait on the same cluster: leave
		// it open, uncommitted. The session's close and the rerun's
		// InitProducerID abort it.
		wcancel()
		return err
	}
	if tx.err == nil && r.o.Prepare != nil {
		if err := r.o.Prepare(); err != nil {
			tx.err = fmt.Errorf("preparing the commit: %w", err)
		}
	}
	committed, err := r.sess.End(wctx, kgo.TransactionEndTry(tx.err == nil))
	wcancel()
	endSpans(tx.spans, tx.errs, committed, err)
	if r.o.OnEnd != nil {
		r.o.OnEnd(committed)
	}
	if err != nil {
		return fmt.Errorf("eos: ending the transaction: %w", err)
	}
	if !committed {
		// Aborted: the session rewinds to the committed offsets and the
		// records come again, here or (the group moved the partitions
		// meanwhile: another worker joined or left) to another worker.
		if tx.err != nil {
			r.sum.Failed += tx.moved
			return fmt.Errorf("eos: %w", tx.err)
		}
		r.progress()
		return nil
	}
	r.sum.Read += tx.read
	r.sum.Filtered += tx.filtered
	r.sum.FilterErr += tx.filterErr
	r.sum.Moved += tx.moved
	for k, next := range tx.seen {
		if end, ok := r.remaining[k]; ok && next >= end {
			delete(r.remaining, k)
		}
	}
	r.progress()
	return nil
}

// produce routes or filters each record of the batch and produces what is
// to be moved within the open transaction (wctx bounds the requests). It
// stops at the first routing error (tx.err).
func (r *run) produce(ctx, wctx context.Context, recs []*kgo.Record) *txn {
	tx := &txn{seen: map[tp]int64{}, done: make(chan produced, len(recs))}
	for _, rec := range recs {
		k := tp{rec.Topic, rec.Partition}
		tx.seen[k] = max(tx.seen[k], rec.Offset+1)
		if rec.Attrs.IsControl() {
			continue
		}
		tx.read++
		e := toEvent(rec)
		out, ok, err := r.target(ctx, rec, &e, tx)
		if err != nil {
			tx.err = err
			break
		}
		if !ok {
			tx.filtered++
			continue
		}
		i := int(tx.moved)
		tx.moved++
		if r.spans != nil {
			tx.spans = append(tx.spans, r.spans.start(ctx, &e, out))
		}
		r.sess.Produce(wctx, out, func(_ *kgo.Record, err error) { tx.done <- produced{i, out.Topic, err} })
	}
	if r.spans != nil {
		tx.errs = make([]error, tx.moved)
	}
	return tx
}

// target is what rec (as e) becomes: routed (Options.Route) or filtered
// (Options.Filter); false passes it over.
func (r *run) target(ctx context.Context, rec *kgo.Record, e *event.Event, tx *txn) (*kgo.Record, bool, error) {
	if r.rt != nil {
		routed, ok, err := r.o.Route(e)
		if err != nil || !ok {
			return nil, false, err
		}
		out, err := r.rt.record(ctx, r.o, e, &routed)
		return out, err == nil, err
	}
	ok, err := match(r.o.Filter, e)
	if err != nil {
		tx.filterErr++
	}
	if !ok {
		return nil, false, nil
	}
	return r.o.record(rec, e), true, nil
}

// await waits for the acknowledgement of every record produced, recording
// the first failure in tx.err. With Options.Timeout, a cluster that
// acknowledges nothing for that long fails the run.
func (r *run) await(tx *txn) error {
	var stall <-chan time.Time
	if r.o.Timeout > 0 {
		stall = time.After(r.o.Timeout)
	}
	for range tx.moved {
		var p produced
		select {
		case p = <-tx.done:
		case <-stall:
			return fmt.Errorf("eos: the cluster acknowledged no record for --timeout %s; the transaction is not committed (outcome unknown: %d record(s) in it), the same command resumes from the job's committed offsets", r.o.Timeout, tx.moved)
		}
		if r.o.Timeout > 0 {
			stall = time.After(r.o.Timeout)
		}
		if p.err != nil && tx.err == nil {
			tx.err = fmt.Errorf("producing: %w", p.err)
			if errors.Is(p.err, kerr.TopicAuthorizationFailed) {
				// The sentence of every eddy write refused on a topic,
				// a dry run's included (bus/kafka's sink).
				tx.err = fmt.Errorf("kafka: not authorized to write to topic %s: %w", p.topic, p.err)
			}
		}
		if tx.errs != nil {
			tx.errs[p.i] = p.err
		}
	}
	return nil
}

// progress reports the summary so far.
func (r *run) progress() {
	if r.o.Progress != nil {
		s := r.sum
		s.Elapsed = time.Since(r.start)
		r.o.Progress(s)
	}
}

// finish ends the run with err: a stop as ctx.Err() (Stopped), a fence as a
// *ConcurrentRunError.
func (r *run) finish(ctx context.Context, err error) (replay.Summary, error) {
	r.sum.Elapsed = time.Since(r.start)
	if err != nil && ctx.Err() != nil {
		r.sum.Stopped = true
		return r.sum, ctx.Err()
	}
	if fenced(err) {
		err = &ConcurrentRunError{Job: r.o.Job, Group: r.group, Worker: r.o.Worker, Err: err}
	}
	return r.sum, err
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
	pollWait   = time.Second
)

// txnTimeout bounds a worker's transaction (Options.Worker): a transaction
// moves at most MaxRecords records already fetched, well under it.
const txnTimeout = 20 * time.Second

// fenceEvery is how often a worker looks for dead workers' open
// transactions.
const fenceEvery = 3 * time.Second

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
// they end (the last stable offset now); and every partition with where the
// job starts it (its From) and ends it.
func plan(ctx context.Context, adm *kadm.Client, group string, o Options) (map[tp]int64, map[tp][2]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, o.Topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("eos: listing end offsets: %w", err)
	}
	// ListEndOffsets is read_uncommitted; the last stable offset is what a
	// read_committed reader reaches.
	lso, err := adm.ListCommittedOffsets(ctx, o.Topics...)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("eos: listing last stable offsets: %w", err)
	}
	starts, err := startOffsets(ctx, adm, o)
	if err != nil {
		return nil, nil, err
	}
	committed, err := FetchOffsets(ctx, adm, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a new job
	}
	if err != nil {
		return nil, nil, fmt.Errorf("eos: fetching the offsets of group %s: %w", group, err)
	}
	out, parts := map[tp]int64{}, map[tp][2]int64{}
	lso.Each(func(l kadm.ListedOffset) {
		base := l.Offset // nothing to do unless a start says otherwise
		var from int64
		if s, ok := starts.Lookup(l.Topic, l.Partition); ok {
			base = min(s.Offset, l.Offset)
		}
		if c, ok := committed.Lookup(l.Topic, l.Partition); ok && c.Err == nil && c.At >= 0 {
			from = c.At
		} else {
			from = base
		}
		parts[tp{l.Topic, l.Partition}] = [2]int64{min(base, from), l.Offset}
		if from < l.Offset {
			out[tp{l.Topic, l.Partition}] = l.Offset
		}
	})
	return out, parts, nil
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
