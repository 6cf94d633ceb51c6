// Package bus is the only way eddy reaches a broker. It names places with
// addresses (kafka:orders, kafka:/orders\..*/, amqp:orders.dlq, file:capture.jsonl),
// defines the Source and Sink contracts that every transport adapter implements
// (bus/kafka, bus/amqp, bus/file), and the errors that callers map to exit codes.
//
// The conformance suite in bus/bustest runs against every adapter, so the
// contracts below are tested, not just written down.
//
// Code that drives franz-go itself for transactions (replay/eos, dlq's Kafka
// redrive) builds its clients from a bus/kafka Client (Client.KgoOpts), so it
// connects, authenticates and logs as every other Kafka client of eddy. The
// demo's simulated services are the one exception: they are clients of the
// demo's own in-process cluster (see package demo).
package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// Source is a stream of events read from one or more places of one transport.
//
// Contract, for every implementation:
//   - Next blocks until at least one event is available and returns a batch the
//     caller owns. Events of one Kafka partition, and of one queue, come in order.
//   - When ReadOptions.Until is set, Next returns io.EOF once every partition or
//     queue it reads has reached it, and io.EOF on every call after that.
//   - Next returns ctx.Err() promptly once ctx is done.
//   - Reading never changes the system: no consumer group is joined, no offset is
//     committed and no message is removed unless the source was opened in a
//     consume mode that names one (ReadOptions.Group).
//   - Next is not safe for concurrent use; Close may be called from another
//     goroutine and makes a blocked Next return.
type Source interface {
	Next(ctx context.Context) ([]event.Event, error)
	Close() error
}

// Sink writes events to one destination.
//
// Contract, for every implementation:
//   - Write returns nil only once the broker has confirmed every event in evs
//     (Kafka: acks from all in-sync replicas; AMQP: publisher confirms; file:
//     written and flushed). Events are written in order.
//   - On error some prefix of evs may have landed; a *WriteError says how many.
//   - Write is not safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, evs []event.Event) error
	Close() error
}

// Preflighter is a Sink that checks its destination before anything is
// written: that it exists and can be written to (a Kafka topic, a RabbitMQ
// exchange or queue). A run and its dry run both call it before they read,
// so a dry run fails where and as the real run would. It writes nothing.
type Preflighter interface {
	Preflight(ctx context.Context) error
}

// ReadOptions say where a Source starts and stops.
type ReadOptions struct {
	// From is where reading starts; the zero value means the end (live traffic).
	From Position
	// Until, when set, is where reading stops (io.EOF); the zero value follows
	// forever.
	Until Position
	// Partitions limits a Kafka source to these partitions (nil: all).
	Partitions []int32
	// Backlog makes an AMQP source also read the messages already in the queue
	// (see bus/amqp for what that does to a classic queue). It is the only
	// option that touches a queue's messages: From beginning without it
	// reads a stream queue from its first offset and is refused for others.
	Backlog bool
	// Group, when set, makes a Kafka source consume as this consumer group and
	// commit its progress. Empty means read without a group.
	Group string
	// Force allows Group to name a group that has active members.
	Force bool
	// CoPartitioned makes the members of Group share the partitions by
	// number (Kafka's range assignor): partition p of every topic with one
	// partition count goes to one member, so the events of one key meet
	// there. The default (cooperative sticky) balances the partitions but
	// not by number.
	CoPartitioned bool
	// SessionTimeout, for Group, is how long the group waits for a member
	// that stopped answering (a crash, kill -9, a lost host) before it moves
	// the member's partitions to the others; it must lie within the
	// brokers' group.min/max.session.timeout.ms (6 s to 30 min by
	// default). Zero: the client's default, 45 s.
	SessionTimeout time.Duration
	// SkipBad makes a file source skip malformed lines instead of failing;
	// Skipped reports how many.
	SkipBad bool
	// OnHealth, when set, hears from a broker source about its connection:
	// once when the broker has been unreachable for the client's timeout
	// (a source without Until keeps retrying; one with Until fails with a
	// *ConnectError), and once when it answers again after that. Not once
	// per retry. It is called from the source's goroutines, never after
	// Close returns, and must not block.
	OnHealth func(Health)
}

// Health is a source's word about its connection to the broker (see
// ReadOptions.OnHealth).
type Health struct {
	Transport string
	// Addr is the broker (or seed list) as given, without a password.
	Addr string
	// Down: unreachable since Since, Err the last failure. Otherwise it
	// answers again, after an outage that began at Since.
	Down  bool
	Since time.Time
	Err   error
	// Note, when set, is what the outage cost the reader, said with both
	// lines (a RabbitMQ tap does not see what was published meanwhile).
	Note string
}

// String is the line to show a person, without a program prefix.
func (h Health) String() string {
	note := ""
	if h.Note != "" {
		note = "; " + h.Note
	}
	if h.Down {
		return fmt.Sprintf("%s: cannot reach %s since %s (%v); still trying, Ctrl-C to stop%s",
			h.Transport, h.Addr, h.Since.Format("15:04:05"), h.Err, note)
	}
	return fmt.Sprintf("%s: %s is reachable again (down since %s); reading on%s",
		h.Transport, h.Addr, h.Since.Format("15:04:05"), note)
}

// Errors callers map to exit codes (see cmd/eddy). Adapters wrap them.
var (
	// ErrConnect: a broker could not be reached, or refused the credentials.
	ErrConnect = errors.New("cannot connect")
	// ErrAuth: the broker refused the credentials, or the TLS handshake
	// failed. A *ConnectError's cause unwraps to it (besides ErrConnect):
	// trying again with the same credentials cannot help, so it ends a
	// command at once (exit 4).
	ErrAuth = errors.New("authentication failed")
	// ErrNotFound: a named topic, queue or file does not exist.
	ErrNotFound = errors.New("not found")
)

// ConnectError says which broker could not be reached. Addr never contains a
// password.
type ConnectError struct {
	Transport string
	Addr      string
	Err       error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%s: cannot connect to %s: %v", e.Transport, e.Addr, e.Err)
}

// Unwrap returns both ErrConnect and the cause, so errors.Is works with either.
func (e *ConnectError) Unwrap() []error { return []error{ErrConnect, e.Err} }

// NotFoundError names the missing topic, queue or file.
type NotFoundError struct {
	Transport string // "kafka", "amqp", "file"
	Kind      string // "topic", "queue", "file", "exchange"
	Name      string
	Hint      string // optional: what might help
}

func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("%s: %s %q not found", e.Transport, e.Kind, e.Name)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// WriteError is a Sink failure after Written events of the batch had landed.
type WriteError struct {
	Written int
	Err     error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("write failed after %d events: %v", e.Written, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }
