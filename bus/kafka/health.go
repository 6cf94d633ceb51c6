package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
)

// health watches a Source's own connections through kgo's hooks. kgo retries
// a lost broker forever and says nothing, so without it a live tail of a
// dead cluster sits silent. A failed dial, write or read starts an outage; a
// response read again ends it. An outage that lasts the dial timeout is
// reported once (a source with an end fails instead); its end is reported
// once if its start was. A dial that succeeds does not end an
// outage: a broker that accepts and then drops every request is down.
type health struct {
	timeout time.Duration
	addr    string
	redact  func(string) string
	notify  func(bus.Health) // may be nil
	giveUp  func(error)      // may be nil: called, instead of notify, when an outage lasts the timeout
	// auth words an authentication failure (nil: not one; sasl: the
	// failure was reading a SASL response); fatal, when set, is called
	// with it at once, live source or not: retrying cannot help.
	auth  func(err error, sasl bool) error
	fatal func(error)

	mu     sync.Mutex
	since  time.Time // start of the current outage; zero when none
	last   error     // its latest failure
	timer  *time.Timer
	down   bool // the current outage was reported
	closed bool
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *health) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil && !h.refused(err, false) {
		h.failed(err)
	}
}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (h *health) OnBrokerWrite(_ kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		h.failed(err)
	}
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (h *health) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		if h.refused(err, key == 17 || key == 36) { // SaslHandshake, SaslAuthenticate
			return
		}
		h.failed(err)
	} else {
		h.answered()
	}
}

// refused ends the source at once when err is an authentication failure,
// and says whether it was one.
func (h *health) refused(err error, sasl bool) bool {
	if h.auth == nil {
		return false
	}
	ac := h.auth(err, sasl)
	if ac == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.fatal == nil {
		return true
	}
	fatal := h.fatal
	h.fatal, h.giveUp = nil, nil
	if h.timer != nil {
		h.timer.Stop()
	}
	fatal(&bus.ConnectError{Transport: transport, Addr: h.addr, Err: ac})
	return true
}

func (h *health) failed(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // kgo gave up on a request itself (a closing client, a changed assignment), not the broker
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.last = err
	if !h.since.IsZero() {
		return
	}
	h.since = time.Now()
	h.timer = time.AfterFunc(h.timeout, h.expire)
}

// expire runs when an outage has lasted the timeout.
func (h *health) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.since.IsZero() || h.down {
		return
	}
	h.down = true
	why := outageCause(h.last, h.redact)
	if h.giveUp != nil {
		// Not unwrapping to the cause: a source's io.EOF means its end.
		h.giveUp(&bus.ConnectError{Transport: transport, Addr: h.addr,
			Err: errors.New("lost the connection and could not reach the cluster again within " + h.timeout.String() + " (" + why.Error() + ")")})
		h.giveUp, h.fatal = nil, nil // both end the source: only once
		return
	}
	if h.notify != nil {
		h.notify(bus.Health{Transport: transport, Addr: h.addr, Down: true, Since: h.since, Err: why})
	}
}

func (h *health) answered() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.since.IsZero() {
		return
	}
	h.timer.Stop()
	if h.down && h.notify != nil {
		h.notify(bus.Health{Transport: transport, Addr: h.addr, Since: h.since})
	}
	h.since, h.last, h.down = time.Time{}, nil, false
}

// close stops all reporting; nothing is reported after it returns.
func (h *health) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
}

// outageCause words a failure of an established client: shorter than
// dialCause, which guesses at TLS and SASL for a first connection.
func outageCause(err error, redact func(string) string) error {
	switch {
	case err == nil:
		return errors.New("no answer")
	case errors.Is(err, syscall.ECONNREFUSED):
		return &cause{msg: "connection refused", err: err}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return &cause{msg: "the broker closed the connection", err: err}
	}
	if dc := dialCause(err, redact); dc != nil {
		return dc
	}
	return &cause{msg: redact(err.Error()), err: err}
}
