package lag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/twmb/franz-go/pkg/kerr"
)

// LagMonitor samples Kafka groups and RabbitMQ queues and judges each group's
// status over a sliding window of samples (see [Evaluator]). Sample is not
// safe for concurrent use; one goroutine samples, others may read snapshots.
type LagMonitor struct {
	// Kafka reads groups; nil leaves Kafka out.
	Kafka *kafka.LagReader
	// Groups are the groups to read, nil for every group.
	Groups []string
	// Isolation is reported in snapshots ("read_committed" by default).
	Isolation string
	// AMQP lists queues; nil leaves RabbitMQ out.
	AMQP *amqp.Client
	// Queues are the queues to list, nil for every queue of the vhost.
	Queues []string
	// Window is how many samples the status rules look at (default 10).
	Window int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Skip, when set and Groups is nil, leaves out the groups it is true
	// for (counted in LagSnapshot.Hidden): eddy's own redrive and replay
	// jobs, which are not consumers and must not trip a gate or a metric
	// by Burrow's rules. A group named in Groups is always read.
	Skip func(group string) bool

	eval *Evaluator
}

// Sample reads every transport once. If every transport asked fails, it
// returns the first error; if some answer, the others' failures are in
// LagSnapshot.Errors.
func (m *LagMonitor) Sample(ctx context.Context) (*inspect.LagSnapshot, error) {
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.eval == nil {
		m.eval = NewEvaluator(m.Window)
	}
	s := &inspect.LagSnapshot{Isolation: m.Isolation, Window: m.eval.Window}
	if s.Isolation == "" {
		s.Isolation = "read_committed"
	}
	var errs []error
	asked := 0
	if m.Kafka != nil {
		asked++
		gs, err := m.Kafka.Read(ctx, m.Groups)
		s.Time = m.Now()
		if err != nil {
			errs = append(errs, err)
		} else {
			s.Groups = buildGroups(gs, s.Time)
			if m.Skip != nil && m.Groups == nil {
				kept := s.Groups[:0]
				for _, g := range s.Groups {
					if m.Skip(g.Group) {
						s.Hidden++
						continue
					}
					kept = append(kept, g)
				}
				s.Groups = kept
			}
		}
	}
	if m.AMQP != nil {
		asked++
		qs, err := m.queues(ctx)
		if s.Time.IsZero() {
			s.Time = m.Now()
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			s.Queues = qs
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if len(errs) == asked && asked > 0 {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		s.Errors = append(s.Errors, err.Error())
	}
	s.Samples = m.eval.Observe(s.Time, s.Groups)
	return s, nil
}

func (m *LagMonitor) queues(ctx context.Context) ([]inspect.QueueLag, error) {
	qs, err := m.AMQP.Queues(ctx, m.Queues)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	var heads map[string]time.Time
	headsErr := errors.New("no management API")
	for _, q := range qs {
		if q.Via == "management" {
			heads, headsErr = m.AMQP.QueueHeads(ctx, m.Queues)
			break
		}
	}
	out := make([]inspect.QueueLag, 0, len(qs))
	for _, q := range qs {
		ql := inspect.QueueLag{Queue: q.Name, Vhost: q.Vhost, Type: q.Type, Ready: q.Ready, Unacked: q.Unacked, Consumers: q.Consumers,
			PublishRate: q.PublishRate, DeliverRate: q.DeliverRate, AckRate: q.AckRate, HeadAge: -1, Via: q.Via}
		switch {
		case q.Ready == 0 && q.Via == "management":
			ql.HeadAge = 0
		case headsErr != nil:
			ql.Note = "head age unknown: needs the management API"
		case !heads[q.Name].IsZero():
			ql.HeadTime = heads[q.Name]
			if age := now.Sub(ql.HeadTime); age < -inspect.FutureTolerance {
				// Not 0: a message dated ahead hides the backlog behind it.
				ql.Reason = inspect.ReasonFutureTimestamp
				ql.Note = fmt.Sprintf("head age unknown: the head message is timestamped %s in the future (a publisher's clock?)", inspect.FormatLagDuration(-age))
			} else {
				ql.HeadAge = max(age, 0)
			}
		case q.Type != "classic":
			ql.Note = "head age unknown: RabbitMQ reports it for classic queues only"
		default:
			ql.Note = "head age unknown: the head message has no timestamp property"
		}
		if q.Via != "management" {
			ql.Note = "unacked and rates unknown: management API unreachable (passive declare)"
		}
		out = append(out, ql)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out, nil
}

func buildGroups(gs []kafka.GroupOffsets, now time.Time) []inspect.GroupLag {
	out := make([]inspect.GroupLag, 0, len(gs))
	for _, g := range gs {
		gl := inspect.GroupLag{Group: g.Group, Type: g.Type, State: g.State, TimeLag: -1}
		if g.Err != nil {
			gl.Err = g.Err.Error()
		}
		clients := map[string]*inspect.MemberLag{}
		for _, m := range g.Members {
			ml := inspect.MemberLag{ID: m.ID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.Host, Assigned: m.Assigned}
			gl.Members = append(gl.Members, ml)
			clients[m.ID] = &gl.Members[len(gl.Members)-1]
		}
		var topic *inspect.TopicLag
		for _, p := range g.Partitions {
			pl := partitionLag(p, clients[p.Owner], now)
			if topic == nil || topic.Topic != p.Topic {
				gl.Topics = append(gl.Topics, inspect.TopicLag{Topic: p.Topic, TimeLag: -1})
				topic = &gl.Topics[len(gl.Topics)-1]
			}
			addPartition(&gl, topic, p, pl)
		}
		slices.Sort(gl.Reasons)
		out = append(out, gl)
	}
	return out
}

// partitionLag is p for people: its figures, its time lag from its head's
// timestamp at now, its reason and notes; c is its owner, nil when none.
func partitionLag(p kafka.PartitionOffsets, c *inspect.MemberLag, now time.Time) inspect.PartitionLag {
	pl := inspect.PartitionLag{Topic: p.Topic, Partition: p.Partition, Committed: p.Committed, LogStart: p.LogStart, End: p.End,
		HighWatermark: p.HighWatermark, Lag: p.Lag, LagMin: p.LagMin, LagInexact: p.Lag >= 0 && !p.LagExact, OffsetLag: p.OffsetLag,
		TimeLag: -1, HeadOffset: -1, Member: p.Owner}
	if c != nil {
		pl.ClientID, pl.Host = c.ClientID, c.Host
	}
	var notes []string
	switch {
	case p.Err != nil && errors.Is(p.Err, kerr.UnknownTopicOrPartition):
		notes = append(notes, "topic deleted")
	case p.Err != nil:
		notes = append(notes, p.Err.Error())
	case p.Committed < 0:
		notes = append(notes, "no committed offset")
	case p.BeyondEnd:
		pl.Reason = inspect.ReasonBeyondEnd
		notes = append(notes, fmt.Sprintf("committed offset %d beyond the log end %d: the consumer will reset (auto.offset.reset)", p.Committed, p.HighWatermark))
	case p.Committed < p.LogStart:
		notes = append(notes, fmt.Sprintf("committed offset below the log start %d: %d records were deleted before being read", p.LogStart, p.LogStart-p.Committed))
	}
	switch {
	case p.Lag == 0 && p.LagExact:
		pl.TimeLag = 0
	case p.Head != nil:
		pl.HeadOffset, pl.HeadTime = p.Head.Offset, p.Head.Timestamp
		switch age := now.Sub(p.Head.Timestamp); {
		case p.Head.Timestamp.UnixMilli() < 0:
			pl.HeadTime = time.Time{} // not 1969: there is none
			pl.Reason = inspect.ReasonNoTimestamp
			notes = append(notes, fmt.Sprintf("record %d has no timestamp (-1): time lag unknown", p.Head.Offset))
		case age < -inspect.FutureTolerance:
			pl.Reason = inspect.ReasonFutureTimestamp
			notes = append(notes, fmt.Sprintf("record %d is timestamped %s in the future: time lag unknown", p.Head.Offset, inspect.FormatLagDuration(-age)))
		default:
			pl.TimeLag = max(age, 0)
		}
	case p.Lag != 0 && p.Committed >= 0 && !p.BeyondEnd && p.Err == nil && !p.LagExact:
		notes = append(notes, "first unread record not reached: time lag unknown")
	}
	if !p.LagExact && p.Lag > 0 && p.ReadNote != "" {
		notes = append(notes, fmt.Sprintf("lag %d to %d: %s", p.LagMin, p.Lag, p.ReadNote))
	}
	pl.Note = strings.Join(notes, "; ")
	return pl
}

// addPartition adds pl (p as read) to its group's and its topic's totals and
// to the group's partitions.
func addPartition(gl *inspect.GroupLag, topic *inspect.TopicLag, p kafka.PartitionOffsets, pl inspect.PartitionLag) {
	topic.Partitions++
	if pl.Lag > 0 {
		topic.Lag += pl.Lag
		gl.Lag += pl.Lag
	}
	if pl.LagMin > 0 {
		topic.LagMin += pl.LagMin
		gl.LagMin += pl.LagMin
	}
	if pl.LagInexact {
		topic.LagInexact, gl.LagInexact = true, true
	}
	if p.BeyondEnd && p.End >= 0 && p.LogStart >= 0 {
		// After the reset the consumer reads nothing (latest) or
		// the whole log (earliest): the totals are a range that
		// spans both, not a sum that leaves the partition out.
		topic.Lag += p.End - p.LogStart
		gl.Lag += p.End - p.LogStart
		topic.LagInexact, gl.LagInexact = true, true
	}
	if pl.OffsetLag > 0 {
		topic.OffsetLag += pl.OffsetLag
		gl.OffsetLag += pl.OffsetLag
	}
	if pl.Lag > 0 && pl.TimeLag < 0 {
		// A lagging partition without a time lag: the maximum
		// over the others is only a lower bound.
		topic.TimeLagInexact, gl.TimeLagInexact = true, true
	}
	if pl.Reason != "" && !slices.Contains(gl.Reasons, pl.Reason) {
		gl.Reasons = append(gl.Reasons, pl.Reason)
	}
	topic.TimeLag = max(topic.TimeLag, pl.TimeLag)
	gl.TimeLag = max(gl.TimeLag, pl.TimeLag)
	gl.Partitions = append(gl.Partitions, pl)
}
