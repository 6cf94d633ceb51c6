package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/eos"
)

// RedriveGroup is the consumer group (and transactional id) of a Kafka
// redrive job.
func RedriveGroup(job string) string { return "eddy-redrive-" + job }

// Report says what a redrive did (or, dry, would do).
type Report struct {
	replay.Summary
	// Targets counts the messages written per target, the parking target
	// included.
	Targets []replay.TargetCount
	// Parked, Unknown and Unselected count messages by outcome; Already
	// those other jobs had removed.
	Redriven, Parked, Unknown, Unselected, Already int64
	// Left is the first messages left in the DLQ for an unknown or
	// unwritable origin, with the reason.
	Left []LeftRecord
	// First is a dry run's first message positions.
	First []string
	// Notes are warnings for the person running the redrive.
	Notes []string
	// OutcomeUnknown lists the identities whose write was in flight when
	// the connection was lost for good (RabbitMQ): in progress in the
	// ledger, a rerun moves them again with the same eddy-redrive-id.
	OutcomeUnknown []string
	// Arrived counts the messages a pinned run (Selection.Pin from a plan)
	// left because they arrived in the DLQ after the plan read it; they are
	// also in Unselected.
	Arrived int64
	// Pin is a dry run's plan, when asked for (RecordPin): run with it as
	// Selection.Pin, a redrive writes exactly what the plan counted.
	Pin *Pin
}

// maxLeft bounds Report.Left.
const maxLeft = 100

// tally counts the outcomes of one transaction, and adds them to the report
// once it committed.
type tally struct {
	mu      sync.Mutex
	pending Report
	total   Report
}

func (t *tally) add(d Decision, target string, left *LeftRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.pending
	switch d.Outcome {
	case Redrive:
		p.Redriven++
	case Park:
		p.Parked++
	case Unknown:
		p.Unknown++
	case Unselected:
		p.Unselected++
		if d.Arrived {
			p.Arrived++
		}
	}
	if target != "" {
		t.count(p, target, 1)
	}
	if left != nil && len(p.Left)+len(t.total.Left) < maxLeft {
		p.Left = append(p.Left, *left)
	}
}

func (t *tally) already() {
	t.mu.Lock()
	t.pending.Already++
	t.mu.Unlock()
}

func (t *tally) count(r *Report, target string, n int64) {
	for i := range r.Targets {
		if r.Targets[i].Target == target {
			r.Targets[i].Count += n
			return
		}
	}
	r.Targets = append(r.Targets, replay.TargetCount{Target: target, Count: n})
}

// end adds the transaction's counts when it committed, and drops them else.
func (t *tally) end(committed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if committed {
		p, r := &t.pending, &t.total
		r.Redriven += p.Redriven
		r.Parked += p.Parked
		r.Unknown += p.Unknown
		r.Unselected += p.Unselected
		r.Arrived += p.Arrived
		r.Already += p.Already
		r.Left = append(r.Left, p.Left...)
		for _, c := range p.Targets {
			t.count(r, c.Target, c.Count)
		}
	}
	t.pending = Report{}
}

// forgetLeft drops the counts of messages left unacked in a RabbitMQ DLQ
// (unknown origin, not selected): after a reconnect the broker delivers
// them again and they are counted again.
func (t *tally) forgetLeft() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total.Unknown, t.total.Unselected, t.total.Arrived, t.total.Left = 0, 0, 0, nil
}

func (t *tally) report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// KafkaRedrive configures RedriveKafka.
type KafkaRedrive struct {
	// Job names the job: its group is RedriveGroup(Job). The same DLQ and
	// selection should give the same job, so that a rerun resumes.
	Job string
	// Worker names this process among the job's workers (eos.Options.Worker):
	// processes of one job under distinct names share its partitions.
	Worker string
	// LogDir holds the job logs (see JobLogDir).
	LogDir string
	Route  RouterOptions
	// NewTimestamps stamps redriven records with the time of writing.
	NewTimestamps bool
	Rate          float64
	Progress      func(replay.Summary)
	// DryRun reads and decides the same, and writes nothing: not to the
	// targets, not to the group, not to the log. Its Report counts what a
	// real run would do now.
	DryRun bool
	// RecordPin makes a dry run return its plan as Report.Pin. A run with
	// it as Route.Select.Pin (and a job of its own: Pin.Hash) writes
	// exactly the records the plan counted, and leaves the letters that
	// arrived since (Report.Arrived).
	RecordPin bool
	// OnEnd, when set, is called after every transaction (tests).
	OnEnd func(committed bool)
	// Client is the cluster of the DLQ and the targets: the run connects as
	// it does (Client.KgoOpts), and a dry run reads the DLQ with it.
	Client *kafka.Client
	// Tracer, when set, traces each redriven or parked record (see
	// eos.Options.Tracer) in the run span found in the context.
	Tracer oteltrace.Tracer
	// Timeout bounds an outage (eos.Options.Timeout), and each request is
	// retried for at most as long (eos.Options.RetryTimeout).
	Timeout time.Duration
	// MaxRecords bounds one transaction (default 50,000: a DLQ's records are
	// small and a commit costs a round of requests; fewer, larger
	// transactions moved a 300,000-record DLT ~20% faster than 10,000).
	MaxRecords int
}

// RedriveKafka redrives the Kafka DLQ k.Route.DLQ exactly once: each
// transaction writes the routed records and commits the job group's offsets
// past every record it read (see JobLog for those it leaves). Records other
// jobs removed are passed over without being written.
func RedriveKafka(ctx context.Context, k KafkaRedrive) (Report, error) {
	topic := k.Route.DLQ.Name
	if err := replay.CheckJobName(k.Job); err != nil {
		return Report{}, fmt.Errorf("redrive: job %q: %w", k.Job, err)
	}
	if k.Client == nil {
		return Report{}, errors.New("redrive: no Kafka client")
	}
	group := RedriveGroup(k.Job)
	conn := k.Client.KgoOpts()
	if k.Timeout > 0 {
		conn = append(conn, kgo.RetryTimeout(k.Timeout))
	}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		return Report{}, fmt.Errorf("redrive: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	jobs, err := LoadJobs(ctx, adm, k.LogDir, topic)
	if err != nil {
		return Report{}, err
	}
	others := jobs.Without(group)
	var self *Job
	for i := range jobs {
		if jobs[i].Group == group {
			self = &jobs[i]
		}
	}

	ro := k.Route
	ro.Writable = func(t string) (bool, error) { return topicExists(ctx, adm, t) }
	router := NewRouter(ro)
	park := router.ParkTarget()
	var parkReady bool
	t := &tally{}

	decide := func(e *event.Event) (Decision, bool, error) {
		if others.Removed(e.Partition, e.Offset) {
			t.already()
			return Decision{}, false, nil
		}
		d, err := router.Decide(e)
		if err != nil {
			return d, false, err
		}
		if d.Outcome == Park && !parkReady && park.Transport == "kafka" && !k.DryRun {
			if err := ensureTopic(ctx, cl, park.Name); err != nil {
				return d, false, err
			}
			parkReady = true
		}
		return d, true, nil
	}
	leftOf := func(e *event.Event, d Decision) *LeftRecord {
		if d.Outcome != Unknown {
			return nil
		}
		return &LeftRecord{Partition: e.Partition, Offset: e.Offset, Outcome: d.Outcome, ID: Position(e), Reason: d.Reason}
	}

	if k.DryRun {
		return dryRunKafka(ctx, k, self, decide, leftOf, t)
	}

	if k.MaxRecords <= 0 {
		k.MaxRecords = 50000
	}
	log, err := OpenJobLog(k.LogDir, group, topic)
	if err != nil {
		return Report{}, err
	}
	defer log.Close()
	sum, err := eos.Run(ctx, eos.Options{
		Client: k.Client, RetryTimeout: k.Timeout, Job: k.Job, Group: group, Worker: k.Worker, Topics: []string{topic},
		From: bus.Position{Kind: bus.PosBeginning}, NewTimestamps: k.NewTimestamps, Rate: k.Rate,
		Progress: k.Progress, MaxRecords: k.MaxRecords, Tracer: k.Tracer, Timeout: k.Timeout,
		Route: func(e *event.Event) (event.Event, bool, error) {
			d, ok, err := decide(e)
			if err != nil || !ok {
				return event.Event{}, false, err
			}
			switch d.Outcome {
			case Redrive, Park:
				t.add(d, d.Target.String(), nil)
				return Rewrite(e, d), true, nil
			}
			l := leftOf(e, d)
			if l == nil {
				l = &LeftRecord{Partition: e.Partition, Offset: e.Offset, Outcome: d.Outcome}
				t.add(d, "", nil)
			} else {
				t.add(d, "", l)
			}
			log.Add(*l)
			return event.Event{}, false, nil
		},
		Prepare: log.Flush,
		OnEnd: func(committed bool) {
			if !committed {
				log.Drop()
			}
			t.end(committed)
			if k.OnEnd != nil {
				k.OnEnd(committed)
			}
		},
	})
	rep := t.report()
	rep.Summary = sum
	return rep, err
}

// dryRunKafka is the run through replay.Run with a DryRun sink: the records
// the job has not committed yet, decided by the same router.
func dryRunKafka(ctx context.Context, k KafkaRedrive, self *Job, decide func(*event.Event) (Decision, bool, error),
	leftOf func(*event.Event, Decision) *LeftRecord, t *tally) (Report, error) {
	if k.Client == nil {
		return Report{}, errors.New("redrive: a dry run needs a client")
	}
	src, err := k.Client.Source(ctx, []bus.Address{k.Route.DLQ},
		bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	if err != nil {
		return Report{}, err
	}
	defer src.Close()
	var mu sync.Mutex
	decided := map[string]Decision{}
	var pin *pinRecorder
	if k.RecordPin {
		pin = newPinRecorder(false)
	}
	filter := matchFunc(func(e *event.Event) (bool, error) {
		pin.read(e)
		if self != nil {
			if pos, ok := self.Position[e.Partition]; ok && e.Offset < pos {
				return false, nil // this job did it already
			}
		}
		d, ok, err := decide(e)
		if err != nil || !ok {
			return false, err
		}
		switch d.Outcome {
		case Redrive, Park:
			mu.Lock()
			decided[Position(e)] = d
			mu.Unlock()
			pin.write(e)
			return true, nil
		}
		t.add(d, "", leftOf(e, d))
		return false, nil
	})
	target := func(e *event.Event) string {
		mu.Lock()
		defer mu.Unlock()
		d := decided[Position(e)]
		t.add(d, "", nil)
		return d.Target.String()
	}
	dry := replay.NewDryRun(target, Position, 10)
	// Each topic a letter would go back to (or be parked on) is checked as
	// the real run's first write to it would be: it exists, the user may
	// write to it.
	dry.Check = func(ctx context.Context, e *event.Event) error {
		mu.Lock()
		to := decided[Position(e)].Target
		mu.Unlock()
		if to.Transport != "kafka" || to.Name == "" {
			return nil
		}
		s, err := k.Client.Sink(to.Name)
		if err != nil {
			return err
		}
		defer s.Close()
		if p, ok := s.(bus.Preflighter); ok {
			return p.Preflight(ctx)
		}
		return nil
	}
	sum, err := replay.Run(ctx, src, dry, replay.Options{Filter: filter, Progress: k.Progress})
	t.end(true)
	rep := t.report()
	rep.Summary = sum
	pl := dry.Plan()
	rep.Targets, rep.First = pl.Targets, pl.FirstIDs
	rep.Pin = pin.result()
	return rep, err
}

type matchFunc func(e *event.Event) (bool, error)

func (f matchFunc) Match(e *event.Event) (bool, error) { return f(e) }

func topicExists(ctx context.Context, adm *kadm.Client, topic string) (bool, error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("listing topic %s: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return false, nil
	}
	return td.Err == nil, td.Err
}

// ensureTopic creates the parking topic with the broker's defaults when it is
// missing, and returns once the cluster's metadata gives every partition a
// leader.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	adm := kadm.NewClient(cl)
	ok, err := topicExists(ctx, adm, topic)
	if err != nil || ok {
		return err
	}
	_, err = adm.CreateTopic(ctx, -1, -1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating the parking topic %s: %w", topic, err)
	}
	return awaitLeaders(ctx, cl, topic, parkingTopicWait)
}

// parkingTopicWait bounds how long a new parking topic may take to get
// leaders; a healthy cluster needs well under a second.
const parkingTopicWait = 30 * time.Second

// awaitLeaders asks for topic's metadata until all its partitions have a
// leader. A real broker answers CreateTopics before its metadata (or another
// broker's) knows the topic: the transaction that parks would otherwise fail
// with "topic not found" on the first letter ever parked. The requests bypass
// kgo's metadata cache (kadm.Metadata reads it, and would repeat the
// "unknown topic" that topicExists just saw for up to five seconds); their
// answers refresh it.
func awaitLeaders(parent context.Context, cl *kgo.Client, topic string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && ready(resp, topic) {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if parent.Err() != nil {
				return parent.Err()
			}
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("the parking topic %s was created but has no leader after %s: %w", topic, limit, err)
		case <-t.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// ready: the response knows topic, and every partition of it has a leader.
func ready(resp *kmsg.MetadataResponse, topic string) bool {
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if t.ErrorCode != 0 || len(t.Partitions) == 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 || p.ErrorCode != 0 {
				return false
			}
		}
		return true
	}
	return false
}

// Incomplete says what a finished run left in the DLQ d for a reason a
// rerun may not change (origin unknown, held by another run), as one error
// ("… (listed above)"); nil when it left nothing so.
func (r Report) Incomplete(d bus.Address) error {
	var partial []string
	if r.Unknown > 0 {
		partial = append(partial, fmt.Sprintf("%d message(s) left in %s: origin unknown, not writable or unroutable", r.Unknown, d))
	}
	if r.Held > 0 {
		partial = append(partial, fmt.Sprintf("%d message(s) left in %s: in progress in another run sharing the ledger, which acks them once it moved them (a rerun after it ended moves what it did not)", r.Held, d))
	}
	if len(partial) == 0 {
		return nil
	}
	return fmt.Errorf("%s (listed above)", strings.Join(partial, "; "))
}
