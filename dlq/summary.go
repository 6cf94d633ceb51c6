package dlq

import (
	"cmp"
	"slices"
	"time"

	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// Summary describes the messages of one DLQ: how many, how old, why they
// failed and where they came from.
type Summary struct {
	// Transport is "kafka", "amqp" or "file" (a capture).
	Transport string    `json:"transport"`
	Name      string    `json:"name"`
	Count     int64     `json:"count"`
	Oldest    time.Time `json:"oldest,omitzero"`
	Newest    time.Time `json:"newest,omitzero"`
	// Errors counts the messages by their error with ids, numbers and
	// quoted values masked (see MaskError), as Groups group them.
	Errors   []Count `json:"errors"`
	Origins  []Count `json:"origins"`
	Groups   []Group `json:"groups,omitempty"`
	Unparsed int64   `json:"unparsed"` // messages without dead-letter headers
	// Redriven counts the records (Kafka) that redrive jobs moved or
	// parked: still in the topic, but no longer in the DLQ, and not in
	// Count or anything else above.
	Redriven int64 `json:"redriven,omitempty"`
	// Read says where a RabbitMQ queue's figures come from: "messages" (its
	// messages were read) or "management" (the management API's counts and
	// head time, no message read: Errors and Groups are unknown, empty).
	Read string `json:"read,omitempty"`
	// InRate and OutRate are a RabbitMQ queue's messages per second in
	// (published or dead-lettered into it) and out (delivered or got), from
	// the management API; nil when unknown.
	InRate  *float64 `json:"in_rate,omitempty"`
	OutRate *float64 `json:"out_rate,omitempty"`
}

// Count is how many messages share one value (an error or an origin).
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Group is the messages that share an error (masked: Pattern), a class and
// an origin.
type Group struct {
	// Error is the error of the group's first message, as recorded.
	Error string `json:"error"`
	// Pattern is the error the group's messages share: theirs with ids,
	// numbers and quoted values masked (MaskError).
	Pattern string    `json:"pattern"`
	Class   string    `json:"class,omitempty"`
	Origin  string    `json:"origin"`
	Count   int64     `json:"count"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	// IDs are the first few message ids (or positions) of the group.
	IDs []string `json:"ids"`
	// Identities are the same messages' replay.DefaultIdentity (a Kafka
	// position, a RabbitMQ dead-lettering), one per id: unlike an event id,
	// one names one message (a Pin picks by them).
	Identities []string `json:"-"`
}

type groupKey struct{ err, class, origin string }

// Summarizer builds a Summary from a DLQ's messages, added in any order.
type Summarizer struct {
	name   string
	naming convention.Naming
	id     func(*event.Event) string
	keep   int
	sum    Summary
	errs   map[string]int64
	orig   map[string]int64
	groups map[groupKey]*Group
	jobs   Jobs
}

// NewSummarizer summarizes the DLQ called name. id names a message in a
// group's IDs (keep of them per group); nil uses its position.
func NewSummarizer(name string, naming convention.Naming, id func(*event.Event) string, keep int) *Summarizer {
	return &Summarizer{name: name, naming: naming, id: id, keep: keep,
		sum: Summary{Name: name}, errs: map[string]int64{}, orig: map[string]int64{}, groups: map[groupKey]*Group{}}
}

// Redriven makes s count the Kafka records that jobs removed as Redriven
// instead of as messages of the DLQ.
func (s *Summarizer) Redriven(jobs Jobs) { s.jobs = jobs }

// Add counts e.
func (s *Summarizer) Add(e *event.Event) {
	if e.Transport != event.AMQP && s.jobs.Removed(e.Partition, e.Offset) {
		s.sum.Redriven++
		return
	}
	s.sum.Count++
	ts := e.Timestamp
	if s.sum.Oldest.IsZero() || ts.Before(s.sum.Oldest) {
		s.sum.Oldest = ts
	}
	if ts.After(s.sum.Newest) {
		s.sum.Newest = ts
	}
	l, ok := convention.Read(e)
	if !ok {
		s.sum.Unparsed++
	}
	errText := l.Error
	if errText == "" {
		errText = l.Class
	}
	if errText == "" {
		errText = "(unknown)"
	}
	origin := l.Origin
	if origin == "" {
		if o, _ := s.naming.Origin(s.name); o != "" {
			origin = o
		} else {
			origin = "(unknown)"
		}
	}
	// Error texts carry order ids, SKUs and amounts: grouped verbatim,
	// every message was a group of its own.
	pattern := ErrorPattern(l)
	s.errs[pattern]++
	s.orig[origin]++
	k := groupKey{pattern, l.Class, origin}
	g := s.groups[k]
	if g == nil {
		g = &Group{Error: errText, Pattern: pattern, Class: l.Class, Origin: origin, First: ts, Last: ts}
		s.groups[k] = g
	}
	g.Count++
	if ts.Before(g.First) {
		g.First = ts
	}
	if ts.After(g.Last) {
		g.Last = ts
	}
	if len(g.IDs) < s.keep {
		g.IDs = append(g.IDs, s.idOf(e))
		g.Identities = append(g.Identities, replay.DefaultIdentity(e))
	}
}

func (s *Summarizer) idOf(e *event.Event) string {
	if s.id != nil {
		if id := s.id(e); id != "" {
			return id
		}
	}
	return Position(e)
}

// Summary returns the summary: errors and origins by count (most first, then
// by name), groups likewise.
func (s *Summarizer) Summary() Summary {
	out := s.sum
	out.Errors, out.Origins = counts(s.errs), counts(s.orig)
	out.Groups = make([]Group, 0, len(s.groups))
	for _, g := range s.groups {
		out.Groups = append(out.Groups, *g)
	}
	slices.SortFunc(out.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Pattern, b.Pattern), cmp.Compare(a.Origin, b.Origin), cmp.Compare(a.Class, b.Class))
	})
	return out
}

func counts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for v, n := range m {
		out = append(out, Count{v, n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
	return out
}
