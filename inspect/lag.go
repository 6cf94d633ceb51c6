package inspect

import (
	"math"
	"time"
)

// LagSnapshot is one sample of eddy lag: every consumer group and queue asked
// for, with its status judged over the window of samples so far.
type LagSnapshot struct {
	Time time.Time
	// Isolation is the Kafka isolation level the ends are for:
	// "read_committed" (last stable offset) or "read_uncommitted" (high
	// watermark).
	Isolation string
	// Samples is how many samples the status window holds (this one
	// included), Window its size.
	Samples, Window int
	Groups          []GroupLag
	Queues          []QueueLag
	// Hidden counts the groups lag.LagMonitor.Sample left out by its Skip.
	Hidden int
	// Errors are the failures of a transport when another one answered
	// (eddy lag then exits 3).
	Errors []string
}

// GroupLag is one Kafka consumer group.
type GroupLag struct {
	Group string
	// Type is "classic" or "consumer" (KIP-848); State the broker's state.
	Type, State string
	// Status is Burrow's group status: OK, WARN or ERR (or Unknown while the
	// window is too short to tell); Worst is the worst partition status,
	// which says why (STOP, STALL, REWIND are ERR for the group).
	Status, Worst Status
	Members       []MemberLag
	// Lag and OffsetLag sum the partitions whose lag is known (a partition
	// committed beyond the log end adds 0 to LagMin and its whole log to
	// Lag, the two ways its consumer can reset); TimeLag is
	// the largest partition time lag, -1 when none is known. LagInexact
	// says a partition's lag is a range (LagMin to Lag; LagMin is only
	// meaningful then); TimeLagInexact says a partition that has records to
	// read has no time lag (TimeLag is then a lower bound, or -1). The zero
	// values say exact.
	Lag, LagMin, OffsetLag     int64
	LagInexact, TimeLagInexact bool
	TimeLag                    time.Duration
	// Reasons are the partitions' reasons, sorted, each once.
	Reasons    []string
	Topics     []TopicLag
	Partitions []PartitionLag
	Err        string
}

// MemberLag is a member of a group and how many partitions it holds.
type MemberLag struct {
	ID, InstanceID, ClientID, Host string
	Assigned                       map[string][]int32
}

// TopicLag totals one topic of a group.
type TopicLag struct {
	Topic                      string
	Partitions                 int
	Lag, LagMin, OffsetLag     int64
	LagInexact, TimeLagInexact bool
	TimeLag                    time.Duration // -1 when unknown
}

// PartitionLag is one partition of a group. Offsets and lags are -1 when
// unknown.
type PartitionLag struct {
	Topic                                   string
	Partition                               int32
	Committed, LogStart, End, HighWatermark int64
	// Lag is exact unless LagInexact; then it is an upper bound and LagMin
	// a lower bound (see kafka.PartitionOffsets).
	Lag, LagMin, OffsetLag int64
	LagInexact             bool
	TimeLag                time.Duration // -1 when unknown
	HeadOffset             int64         // first unread data record, -1 when none or unknown
	HeadTime               time.Time     // its timestamp, zero when none
	Member, ClientID, Host string
	Status                 Status
	// Reason names what is wrong with the partition or its figures, "" when
	// nothing is: ReasonBeyondEnd (status ERR), ReasonNoTimestamp,
	// ReasonFutureTimestamp (time lag unknown).
	Reason string
	Note   string
}

// Partition reasons (PartitionLag.Reason, "reason" in JSON).
const (
	// ReasonBeyondEnd: the committed offset is past the log end (a truncated
	// or recreated topic); the consumer's next fetch resets it by its
	// auto.offset.reset. Lag unknown, status ERR.
	ReasonBeyondEnd = "commit_beyond_end"
	// ReasonNoTimestamp: the first unread record's timestamp is Kafka's
	// "none" (-1). Time lag unknown.
	ReasonNoTimestamp = "no_timestamp"
	// ReasonFutureTimestamp: the first unread record's timestamp is later
	// than eddy's clock by more than FutureTolerance (a producer's clock
	// ahead, or a timestamp set by hand). Time lag unknown.
	ReasonFutureTimestamp = "future_timestamp"
)

// FutureTolerance is how far in the future a record's timestamp may be and
// still count as now (time lag 0): clocks of different hosts disagree by that
// much.
const FutureTolerance = time.Second

// QueueLag is one RabbitMQ queue.
type QueueLag struct {
	Queue, Vhost, Type        string
	Ready, Unacked, Consumers int64
	// Rates are messages per second from the management API, nil when
	// unknown.
	PublishRate, DeliverRate, AckRate *float64
	// HeadAge is how long the oldest ready message has waited, from its
	// timestamp property as the management API reports it (classic queues);
	// -1 when unknown, 0 for an empty queue.
	HeadAge  time.Duration
	HeadTime time.Time
	Via      string
	// Reason is ReasonFutureTimestamp when the head message's timestamp is
	// later than eddy's clock by more than FutureTolerance (head age
	// unknown), else "".
	Reason string
	Note   string
}

// Judged says a partition has a status: it has a committed offset and a lag,
// or its commit is beyond the log end (ERR).
func Judged(p PartitionLag) bool {
	return p.Committed >= 0 && p.Lag >= 0 || p.Reason == ReasonBeyondEnd
}

// LagMin is the lower bound of a lag: the lag itself when it is exact.
func LagMin(lag, min int64, inexact bool) int64 {
	if inexact {
		return min
	}
	return lag
}

// FiniteRate is r when it is a rate (nil when unknown, NaN or infinite).
func FiniteRate(r *float64) *float64 {
	if r == nil || math.IsNaN(*r) || math.IsInf(*r, 0) {
		return nil
	}
	return r
}
