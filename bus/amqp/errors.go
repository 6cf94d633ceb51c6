package amqp

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/eddy-sh/eddy/bus"
)

// Errors callers can test for with errors.Is. Richer failures are the struct
// types below, which wrap these.
var (
	// ErrAuth: the broker (or the management API) refused the username or
	// password. It comes wrapped in a *bus.ConnectError.
	ErrAuth = errors.New("authentication failed")
	// ErrUntappable: a queue's live traffic cannot be tapped by a binding
	// because it is fed only through the default exchange.
	ErrUntappable = errors.New("queue cannot be tapped")
	// ErrManagement: the management API, needed for what was asked, could not
	// be used (unreachable, or refused the credentials).
	ErrManagement = errors.New("management API unavailable")
	// ErrFirehoseOff: firehose mode was asked for but the vhost's tracer is off.
	ErrFirehoseOff = errors.New("firehose tracer is off")
	// ErrPeekRefused: a backlog peek would change the queue beyond the
	// redelivered flag (a quorum queue with a delivery limit), so eddy refuses.
	ErrPeekRefused = errors.New("peek refused")
	// ErrNoPosition: a classic or quorum queue has no offsets or times to start
	// or stop at; only stream queues do.
	ErrNoPosition = errors.New("position not supported by this queue type")
	// ErrUnroutable: a published message matched no queue (it was returned).
	ErrUnroutable = errors.New("unroutable")
	// ErrNacked: the broker refused a published message (basic.nack).
	ErrNacked = errors.New("nacked by the broker")
	// ErrConnectionLost: the connection to the broker was lost (closed by the
	// broker or an operator, or cut) while a sink was publishing; the outcome
	// of its unconfirmed messages is unknown. Trying again on a new
	// connection may succeed.
	ErrConnectionLost = errors.New("connection lost")
)

// Failure is one event of a Sink.Write batch that did not land.
type Failure struct {
	// Index is the event's position in the batch.
	Index int
	// Unroutable is true when the broker returned the message because no queue
	// matched; otherwise the broker nacked it.
	Unroutable bool
	// Reason is the broker's words (for a return: its reply text).
	Reason string
}

// PublishError is a Sink.Write whose messages reached the broker but some of
// which were returned as unroutable or nacked. Every event of the batch not
// listed in Failed was confirmed. It is wrapped in a *bus.WriteError whose
// Written is the index of the first failure.
type PublishError struct {
	Exchange string
	Failed   []Failure
	Total    int
}

func (e *PublishError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "amqp: %d of %d events not accepted by exchange %q: ", len(e.Failed), e.Total, e.Exchange)
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-5)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if f.Unroutable {
			fmt.Fprintf(&b, "event %d unroutable (%s)", f.Index, f.Reason)
		} else {
			fmt.Fprintf(&b, "event %d nacked (%s)", f.Index, f.Reason)
		}
	}
	return b.String()
}

// Unwrap returns ErrUnroutable and/or ErrNacked, whichever happened.
func (e *PublishError) Unwrap() []error {
	var errs []error
	var unroutable, nacked bool
	for _, f := range e.Failed {
		unroutable = unroutable || f.Unroutable
		nacked = nacked || !f.Unroutable
	}
	if unroutable {
		errs = append(errs, ErrUnroutable)
	}
	if nacked {
		errs = append(errs, ErrNacked)
	}
	return errs
}

// tipError is an explanation for a person, wrapping a sentinel for programs.
type tipError struct {
	msg string
	err error
}

func (e *tipError) Error() string { return e.msg }
func (e *tipError) Unwrap() error { return e.err }

// stallError is a channel operation the broker did not answer within the
// dial timeout (eddy's --timeout) on a connection that was open: it unwraps to
// bus.ErrConnect (exit 4) and os.ErrDeadlineExceeded.
type stallError struct{ msg string }

func (e *stallError) Error() string   { return e.msg }
func (e *stallError) Unwrap() []error { return []error{bus.ErrConnect, os.ErrDeadlineExceeded} }
