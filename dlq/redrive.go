package dlq

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// Headers a redrive writes.
const (
	// HeaderRedriveCount counts how often a message was redriven: a redrive
	// writes the count it read plus one. Frameworks copy a failed message's
	// headers into the dead letter, so the count survives another failure.
	HeaderRedriveCount = "eddy-redrive-count"
	// HeaderParkReason says why a message was parked instead of redriven.
	HeaderParkReason = "eddy-park-reason"
	// HeaderCC and HeaderBCC are RabbitMQ's sender-selected distribution:
	// more routing keys (case-sensitive). A redrive removes them.
	HeaderCC  = "CC"
	HeaderBCC = "BCC"
)

// DefaultMaxRedrives is how often a message is redriven before it is parked.
const DefaultMaxRedrives = 3

// ParkSuffix names a DLQ's parking topic or queue: the DLQ's name and this.
// A parked message has been redriven MaxRedrives times and failed again.
const ParkSuffix = ".parked"

// ParkingName is the default parking topic or queue of the DLQ named dlq.
func ParkingName(dlq string) string { return dlq + ParkSuffix }

// Outcome is what a redrive does with one message.
type Outcome uint8

// Outcomes of a redrive decision.
const (
	// Redrive: the message goes back to its origin (or the --to target).
	Redrive Outcome = iota
	// Park: it was redriven MaxRedrives times already; it goes to the
	// parking topic or queue with a reason.
	Park
	// Unknown: its origin is unknown or cannot be written to; it is left
	// in the DLQ and reported.
	Unknown
	// Unselected: the selection (--filter, --ids, --error) passed it over;
	// it is left in the DLQ.
	Unselected
	// Held: another live run sharing the ledger (Redis) holds it in
	// progress; this run left it to that one, in the DLQ (RabbitMQ).
	Held
)

func (o Outcome) String() string {
	switch o {
	case Redrive:
		return "redrive"
	case Park:
		return "park"
	case Unknown:
		return "unknown-origin"
	case Held:
		return "held"
	}
	return "unselected"
}

// MarshalText writes the outcome by name (job logs, JSON reports).
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome by name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for _, x := range []Outcome{Redrive, Park, Unknown, Unselected, Held} {
		if x.String() == string(b) {
			*o = x
			return nil
		}
	}
	return fmt.Errorf("unknown redrive outcome %q", b)
}

// Decision is where one message goes.
type Decision struct {
	Outcome Outcome
	// Target is the topic, queue or exchange (Redrive, Park).
	Target bus.Address
	// Partition is the Kafka partition to write to, -1 for the key's.
	Partition int32
	// Reason says why a message is parked or left.
	Reason string
	// Count is the eddy-redrive-count the message carries.
	Count int64
	// Arrived (Unselected): the selection is a plan's Pin, and the message
	// arrived in the DLQ after the plan read it.
	Arrived bool
}

// Selection picks the messages of a DLQ to redrive. The zero value picks all.
type Selection struct {
	// Filter, when set, must match (an *inspect.Filter).
	Filter replay.Matcher
	// IDs, when set, name the messages: by their id (see ID) or position.
	IDs map[string]bool
	// Error, when set, must match the recorded error message or class.
	Error *regexp.Regexp
	// ID names a message by its content (a schema's event id); nil uses
	// positions only.
	ID func(*event.Event) string
	// Pin, when set, selects only the messages it pins (a plan's, or a
	// hand-made pick), and the other selections must match too.
	Pin *Pin
	// Patterns, when set, selects only the messages whose error, masked
	// as Summary groups them (ErrorPattern), is one of these.
	Patterns map[string]bool
}

// ErrorPattern is the masked error a Summary groups l's message by: its
// error message, else its exception class, else "(unknown)", through
// MaskError.
func ErrorPattern(l convention.Letter) string {
	return MaskError(orUnknown(l.Error, l.Class))
}

// Selected reports whether s picks e, whose letter is l.
func (s *Selection) Selected(e *event.Event, l convention.Letter) (bool, error) {
	if s.Pin != nil && !s.Pin.Has(e) {
		return false, nil
	}
	if len(s.IDs) > 0 && !s.IDs[Position(e)] && (s.ID == nil || !s.IDs[s.ID(e)]) {
		return false, nil
	}
	if s.Error != nil && !s.Error.MatchString(l.Error) && !s.Error.MatchString(l.Class) {
		return false, nil
	}
	if s.Patterns != nil && !s.Patterns[ErrorPattern(l)] {
		return false, nil
	}
	if s.Filter != nil {
		return s.Filter.Match(e)
	}
	return true, nil
}

// Position names a message by where it is: TOPIC/PARTITION@OFFSET for Kafka,
// QUEUE#TIME for RabbitMQ (as dlq show lists messages without an id).
func Position(e *event.Event) string {
	if e.Transport == event.AMQP {
		return e.Queue + "#" + e.Timestamp.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	return e.Topic + "/" + strconv.FormatInt(int64(e.Partition), 10) + "@" + strconv.FormatInt(e.Offset, 10)
}

// RouterOptions configure a Router.
type RouterOptions struct {
	// DLQ is the dead-letter topic or queue read; Naming may name its
	// origin when a message's headers do not.
	DLQ    bus.Address
	Naming convention.Naming
	// To, when set, is where every selected message goes instead of its
	// origin.
	To *bus.Address
	// KeepPartition writes Kafka messages to their original partition
	// (Spring's kafka_dlt-original-partition, Connect's
	// __connect.errors.partition).
	KeepPartition bool
	// MaxRedrives: a message whose eddy-redrive-count is this or more is
	// parked (0 is DefaultMaxRedrives; negative never parks).
	MaxRedrives int
	// Park is the parking topic or queue (default: ParkingName of the DLQ,
	// same transport).
	Park   *bus.Address
	Select Selection
	// Writable, when set, says whether a Kafka topic exists to be written
	// to; a message whose origin does not is left as Unknown.
	Writable func(topic string) (bool, error)
}

// Router decides, message by message, where a redrive sends each message of
// a DLQ, and rewrites it for there. It is safe for concurrent use.
type Router struct {
	o     RouterOptions
	named string // the origin the DLQ's name says, "" when it says none
	mu    sync.Mutex
	seen  map[string]bool
}

// NewRouter returns a router.
func NewRouter(o RouterOptions) *Router {
	if o.MaxRedrives == 0 {
		o.MaxRedrives = DefaultMaxRedrives
	}
	if o.Park == nil {
		p := bus.Address{Transport: o.DLQ.Transport, Name: ParkingName(o.DLQ.Name)}
		o.Park = &p
	}
	named, _ := o.Naming.Origin(o.DLQ.Name)
	return &Router{o: o, named: named, seen: map[string]bool{}}
}

// ParkTarget is where parked messages go.
func (r *Router) ParkTarget() bus.Address { return *r.o.Park }

// RedriveCount reads e's eddy-redrive-count (0 when absent or unreadable).
func RedriveCount(e *event.Event) int64 {
	v, ok := e.Header(HeaderRedriveCount)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Decide says where e goes. An error is the selection's filter failing or
// Writable failing; the message is then not redriven.
func (r *Router) Decide(e *event.Event) (Decision, error) {
	l, _ := convention.Read(e)
	d := Decision{Partition: -1, Count: RedriveCount(e)}
	ok, err := r.o.Select.Selected(e, l)
	if err != nil || !ok {
		d.Outcome = Unselected
		d.Arrived = r.o.Select.Pin != nil && r.o.Select.Pin.arrived(e)
		return d, err
	}
	if r.o.MaxRedrives > 0 && d.Count >= int64(r.o.MaxRedrives) {
		d.Outcome, d.Target = Park, *r.o.Park
		d.Reason = fmt.Sprintf("redriven %d time(s), max %d; last error: %s", d.Count, r.o.MaxRedrives, orUnknown(l.Error, l.Class))
		return d, nil
	}
	if r.o.To != nil {
		d.Outcome, d.Target = Redrive, *r.o.To
		return d, nil
	}
	return r.origin(e, l, d)
}

func orUnknown(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return "(unknown)"
}

// origin resolves where e came from, in one place for every convention.
func (r *Router) origin(e *event.Event, l convention.Letter, d Decision) (Decision, error) {
	d.Outcome = Unknown
	switch e.Transport {
	case event.AMQP:
		if l.Convention != convention.XDeath {
			d.Reason = "no x-death header"
			return d, nil
		}
		if len(l.RoutingKeys) == 0 && l.Exchange == "" {
			d.Reason = "x-death records neither exchange nor routing key"
			return d, nil
		}
		key := ""
		if len(l.RoutingKeys) > 0 {
			key = l.RoutingKeys[0]
		}
		d.Outcome = Redrive
		switch {
		case len(l.RoutingKeys) > 1 && l.Origin != "":
			// Published with CC keys (sender-selected distribution):
			// the broker put a copy in every queue the keys matched, and
			// each queue dead-letters its own. x-death records all the
			// keys, but this copy failed in its queue alone; the others
			// were consumed, or have their own dead letter. Publishing
			// again to the exchange with the keys (or only the first, a
			// queue this copy never failed in) would duplicate, so it goes
			// through the default exchange to the queue it died in.
			d.Target = bus.Address{Transport: "amqp", Name: l.Origin}
		case l.Exchange == "":
			// The default exchange routes by queue name.
			d.Target = bus.Address{Transport: "amqp", Name: key}
		default:
			d.Target = bus.Address{Transport: "amqp", Exchange: l.Exchange, RoutingKey: key}
		}
		if d.Target.Exchange == "" && d.Target.Name == r.o.DLQ.Name {
			// Through the default exchange to the DLQ itself: the message
			// would be a dead letter again at once.
			d.Outcome, d.Target = Unknown, bus.Address{}
			d.Reason = "its origin is the DLQ itself"
		}
		return d, nil
	}
	topic := l.Origin
	if topic == "" {
		topic = r.named
	}
	if topic == "" {
		d.Reason = "no origin topic recorded"
		return d, nil
	}
	if topic == r.o.DLQ.Name {
		// Redriven there, it would be a dead letter again at once.
		d.Reason = "its origin is the DLQ itself"
		return d, nil
	}
	if r.o.Writable != nil {
		ok, err := r.writable(topic)
		if err != nil {
			return d, err
		}
		if !ok {
			d.Reason = "origin topic " + topic + " does not exist"
			return d, nil
		}
	}
	d.Outcome, d.Target = Redrive, bus.Address{Transport: "kafka", Name: topic}
	if r.o.KeepPartition && l.OriginPartition >= 0 {
		d.Partition = l.OriginPartition
	}
	return d, nil
}

func (r *Router) writable(topic string) (bool, error) {
	r.mu.Lock()
	ok, seen := r.seen[topic]
	r.mu.Unlock()
	if seen {
		return ok, nil
	}
	ok, err := r.o.Writable(topic)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	r.seen[topic] = ok
	r.mu.Unlock()
	return ok, nil
}

// Rewrite returns e as it is written for d: its eddy-redrive-count one more
// (a redrive) or kept with an eddy-park-reason (a park), its topic and
// partition (Kafka) or exchange and routing key (RabbitMQ, without CC and BCC
// headers) those of the target. e itself is not modified.
func Rewrite(e *event.Event, d Decision) event.Event {
	out := *e
	hs := make([]event.Header, 0, len(e.Headers)+1)
	for _, h := range e.Headers {
		if h.Key == HeaderRedriveCount || h.Key == HeaderParkReason {
			continue
		}
		if d.Target.Transport == "amqp" && (h.Key == HeaderCC || h.Key == HeaderBCC) {
			// A dead letter keeps its CC header when its queue has no
			// x-dead-letter-routing-key: published again with it, the
			// broker would route it to every CC key once more.
			continue
		}
		hs = append(hs, h)
	}
	switch d.Outcome {
	case Park:
		hs = append(hs, event.Header{Key: HeaderRedriveCount, Value: []byte(strconv.FormatInt(d.Count, 10))},
			event.Header{Key: HeaderParkReason, Value: []byte(d.Reason)})
	default:
		hs = append(hs, event.Header{Key: HeaderRedriveCount, Value: []byte(strconv.FormatInt(d.Count+1, 10))})
	}
	out.Headers = hs
	out.Partition = d.Partition
	switch d.Target.Transport {
	case "kafka":
		out.Topic = d.Target.Name
	case "amqp":
		out.Exchange, out.RoutingKey = d.Target.Exchange, d.Target.RoutingKey
		if d.Target.Exchange == "" {
			out.RoutingKey = d.Target.Name
		}
	}
	return out
}
