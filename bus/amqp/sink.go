package amqp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// Sink publishes events to an exchange or a queue with publisher confirms and
// the mandatory flag. It implements bus.Sink.
//
// Each event becomes one message:
//   - Body is the event's Value (a nil value is an empty body: AMQP has no null).
//   - Headers: a header with a Typed value is written with that AMQP type; a
//     plain header as a long string (binary-safe, so Kafka headers survive);
//     a plain header with a nil value as void. A key repeated in the event
//     keeps its last value, as AMQP tables cannot repeat keys.
//   - Properties are copied from the event, except a user_id other than the
//     connection's user, which RabbitMQ would refuse (it is dropped). An event
//     without properties (from Kafka) is published persistent (delivery mode 2),
//     so a replay survives a broker restart, and with the event's timestamp as
//     the timestamp property (AMQP keeps seconds).
//   - The key is not carried: AMQP messages have none.
//
// Write returns nil only once the broker confirmed every message and returned
// none. Mandatory publishing makes an unroutable message (no queue bound to
// match it) an error instead of a silent drop: it is a *bus.WriteError
// wrapping a *PublishError that lists every returned or nacked event, for
// redrive to leave its source unacked.
type Sink struct {
	c        *Client
	dest     string
	exchange string
	key      string // fixed routing key; "" means the event's RoutingKey
	queue    string // set for amqp:QUEUE

	conn    *amqp091.Connection
	ch      *amqp091.Channel
	returns chan amqp091.Return
	closes  chan *amqp091.Error
	checked bool

	// mu guards the channel and what is in flight on it, between Publish
	// and the Wait of earlier batches.
	mu   sync.Mutex
	fifo []inflight       // messages published and not settled, oldest first
	rets []amqp091.Return // returns not yet matched to their message
	// broken is why the channel was last reset (see reset).
	broken error

	blockMu   sync.Mutex
	blocked   string        // the broker's reason while it blocks publishers; "" when not
	unblocked chan struct{} // closed when it lifts the block
}

// Sink returns a sink for addr: amqp:exchange/EX/KEY publishes to exchange EX
// with routing key KEY, or with each event's RoutingKey when KEY is empty;
// amqp:QUEUE publishes to QUEUE through the default exchange. It connects on
// the first Write, which fails with a *bus.NotFoundError if the exchange or
// queue does not exist (checked passively).
func (c *Client) Sink(addr bus.Address) (bus.Sink, error) {
	if addr.Transport != "amqp" {
		return nil, fmt.Errorf("amqp: cannot write to %s: not an amqp: address", addr)
	}
	s := &Sink{c: c, dest: addr.String()}
	if addr.Name != "" {
		s.queue, s.key = addr.Name, addr.Name
	} else {
		s.exchange, s.key = addr.Exchange, addr.RoutingKey
	}
	return s, nil
}

func (s *Sink) open(ctx context.Context) error {
	if s.ch != nil && !s.ch.IsClosed() {
		return nil
	}
	s.ch = nil
	if s.conn == nil || s.conn.IsClosed() {
		conn, err := s.c.dial(ctx, "sink "+s.dest)
		if err != nil {
			return err
		}
		s.conn = conn
		go s.watchBlocked(conn.NotifyBlocked(make(chan amqp091.Blocking, 1)))
	}
	if !s.checked {
		if err := s.check(); err != nil {
			return err
		}
		s.checked = true
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return s.c.amqpError("exchange", s.exchange, err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return s.c.amqpError("exchange", s.exchange, err)
	}
	// Twice the window: returns come before the confirms of their messages, and
	// Write drains them while it waits, so this never fills (a full listener
	// would make the library drop a return after 5 s).
	s.returns = ch.NotifyReturn(make(chan amqp091.Return, 2*s.c.cfg.publishWindow+1))
	s.closes = ch.NotifyClose(make(chan *amqp091.Error, 1))
	s.ch, s.broken = ch, nil
	return nil
}

// watchBlocked follows connection.blocked/unblocked, which RabbitMQ sends
// while a memory or disk alarm stops it reading from publishers. It runs until
// the connection closes (the library then closes bl).
func (s *Sink) watchBlocked(bl <-chan amqp091.Blocking) {
	for b := range bl {
		s.blockMu.Lock()
		switch {
		case b.Active && s.blocked == "":
			s.unblocked = make(chan struct{})
			s.blocked = b.Reason
			s.c.logf("sink %s: the broker blocks publishing: %s", s.dest, b.Reason)
		case !b.Active && s.blocked != "":
			close(s.unblocked)
			s.blocked = ""
			s.c.logf("sink %s: the broker unblocked publishing", s.dest)
		}
		s.blockMu.Unlock()
	}
}

// waitUnblocked returns once publishing is not blocked, or with an error that
// says why nothing moves when ctx ends first.
func (s *Sink) waitUnblocked(ctx context.Context) error {
	s.blockMu.Lock()
	reason, unblocked := s.blocked, s.unblocked
	s.blockMu.Unlock()
	if reason == "" {
		return nil
	}
	select {
	case <-unblocked:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("amqp: publishing to %s: the broker blocks publishers (%s: a memory or disk alarm): %w", s.dest, reason, ctx.Err())
	}
}

// Preflight connects and checks (passively) that the exchange or queue
// exists, as the first Write does (bus.Preflighter). It publishes nothing.
func (s *Sink) Preflight(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open(ctx)
}

// waitUnblockedLocked is waitUnblocked with s.mu held, released while it
// waits so that earlier batches are settled meanwhile.
func (s *Sink) waitUnblockedLocked(ctx context.Context) error {
	s.blockMu.Lock()
	blocked := s.blocked != ""
	s.blockMu.Unlock()
	if !blocked {
		return nil
	}
	s.mu.Unlock()
	defer s.mu.Lock()
	return s.waitUnblocked(ctx)
}

// check makes a missing destination a NotFoundError up front, instead of a
// channel closed by the broker mid-batch (exchange) or every message returned
// (queue).
func (s *Sink) check() error {
	ch, err := s.conn.Channel()
	if err != nil {
		return s.c.amqpError("exchange", s.exchange, err)
	}
	defer ch.Close()
	switch {
	case s.queue != "":
		if _, err := ch.QueueDeclarePassive(s.queue, false, false, false, false, nil); err != nil {
			var ae *amqp091.Error
			if errors.As(err, &ae) && ae.Code == amqp091.ResourceLocked {
				return nil // exclusive to another connection: it exists
			}
			return s.c.amqpError("queue", s.queue, err)
		}
	case s.exchange != "":
		if err := ch.ExchangeDeclarePassive(s.exchange, "", false, false, false, false, nil); err != nil {
			return s.c.amqpError("exchange", s.exchange, err)
		}
	}
	return nil
}

type inflight struct {
	p   *Pending
	idx int
	dc  *amqp091.DeferredConfirmation
	key string
}

// Pending is a Publish in flight: its messages are published, and Wait
// settles them (their confirms and returns).
type Pending struct {
	s        *Sink
	evs      []event.Event
	n        int // messages published
	settled  int // of those, confirmed, nacked or returned
	ok       []bool
	returned []bool
	reason   []string
	fail     error // set when the rest of the batch has an unknown outcome
}

// Write publishes evs in order and waits for the broker's confirms. Up to a
// window of messages is in flight at once. See Sink for the mapping and errors.
func (s *Sink) Write(ctx context.Context, evs []event.Event) error {
	return s.Publish(ctx, evs).Wait(ctx)
}

// Publish publishes evs in order, as Write does, and returns once they are
// published — not yet confirmed — so that the caller can publish the next
// batch while the broker confirms this one: the window of messages in flight
// spans batches. Wait then returns what Write would have. Publish is called
// from one goroutine at a time; Wait may be called from another, in the
// order the batches were published. A failure (a lost channel, ctx ended)
// fails every batch still in flight: their unconfirmed messages have an
// unknown outcome.
func (s *Sink) Publish(ctx context.Context, evs []event.Event) *Pending {
	p := &Pending{s: s, evs: evs, ok: make([]bool, len(evs)), returned: make([]bool, len(evs)), reason: make([]string, len(evs))}
	if len(evs) == 0 {
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		p.fail = err
		return p
	}
	user := s.c.uri.Username
	for i := range evs {
		if err := ctx.Err(); err != nil {
			p.fail = err
			break
		}
		if err := s.waitUnblockedLocked(ctx); err != nil {
			p.fail = err
			break
		}
		for p.fail == nil && len(s.fifo) >= s.c.cfg.publishWindow {
			s.settleOldest(ctx)
		}
		if p.fail != nil {
			break
		}
		if s.ch == nil {
			// Reset by a failure of an earlier batch meanwhile.
			p.fail = s.broken
			if p.fail == nil {
				p.fail = s.closedErr()
			}
			break
		}
		key := s.key
		if key == "" {
			key = evs[i].RoutingKey
		}
		dc, err := s.ch.PublishWithDeferredConfirm(s.exchange, key, true, false, publishing(&evs[i], user))
		if err != nil {
			p.fail = s.closedErr()
			// A write the socket refused (reset, broken pipe) is a lost
			// connection even before the library has seen it and closed
			// the channel: the run retries it, as it does a closed one.
			if !s.ch.IsClosed() && !socketLost(err) {
				p.fail = fmt.Errorf("amqp: publishing to %s: %s", s.dest, scrub(err.Error(), s.c.secrets))
			}
			break
		}
		s.fifo = append(s.fifo, inflight{p: p, idx: i, dc: dc, key: key})
		p.n++
	}
	if p.fail != nil {
		s.reset(p.fail)
	}
	return p
}

// Failed is the failure that already ended the batch (a lost channel,
// ctx ended) or nil while it may still land: a caller that keeps batches
// in flight stops publishing at once rather than at its next Wait.
func (p *Pending) Failed() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.fail
}

// Wait returns once every message of the batch is settled, with what Write
// returns (see Sink).
func (p *Pending) Wait(ctx context.Context) error {
	s := p.s
	if len(p.evs) > 0 {
		s.mu.Lock()
		for p.fail == nil && p.settled < p.n {
			if len(s.fifo) == 0 {
				p.fail = s.closedErr() // cannot happen: its messages were dropped
				break
			}
			s.settleOldest(ctx)
		}
		s.mu.Unlock()
	}
	written := 0
	for written < len(p.evs) && p.ok[written] && !p.returned[written] {
		written++
	}
	if p.fail != nil {
		return &bus.WriteError{Written: written, Err: p.fail}
	}
	pe := &PublishError{Exchange: s.exchange, Total: len(p.evs)}
	for i := range p.evs {
		if p.returned[i] || !p.ok[i] {
			pe.Failed = append(pe.Failed, Failure{Index: i, Unroutable: p.returned[i], Reason: p.reason[i]})
		}
	}
	if len(pe.Failed) > 0 {
		return &bus.WriteError{Written: written, Err: pe}
	}
	return nil
}

// settleOldest waits, without holding s.mu, for the oldest message in
// flight to be settled, and settles every settled one. s.mu is held on entry
// and on return; the other goroutine may have settled them meanwhile.
func (s *Sink) settleOldest(ctx context.Context) {
	f := s.fifo[0]
	s.mu.Unlock()
	var err error
	select {
	case <-f.dc.Done():
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	if err != nil {
		s.reset(err) // fails every batch still in flight
		return
	}
	s.settleReady()
}

// settleReady settles the messages in flight whose confirm arrived, oldest
// first; s.mu is held. A return precedes its message's confirm on the wire,
// and the library delivers it before it processes that confirm: when a
// message is confirmed, its return (if any) is in the returns channel.
func (s *Sink) settleReady() {
	for len(s.fifo) > 0 {
		f := s.fifo[0]
		select {
		case <-f.dc.Done():
		default:
			return
		}
		if !f.dc.Acked() && (s.ch == nil || s.ch.IsClosed()) {
			s.reset(s.closedErr())
			return
		}
		s.fifo[0] = inflight{}
		s.fifo = s.fifo[1:]
		p := f.p
		p.settled++
		p.ok[f.idx] = f.dc.Acked()
		if !p.ok[f.idx] {
			p.reason[f.idx] = "basic.nack"
		}
		s.drainReturns()
		if len(s.rets) > 0 {
			s.matchReturn(p, f.idx, f.key)
		}
	}
}

// reset fails every batch in flight with err and closes the channel:
// confirms or returns of those messages may still arrive, and a fresh channel
// keeps them from being taken for the next batch's. s.mu is held.
func (s *Sink) reset(err error) {
	for _, f := range s.fifo {
		if f.p.fail == nil {
			f.p.fail = err
		}
	}
	s.fifo, s.rets, s.broken = nil, nil, err
	if s.ch != nil {
		s.ch.Close()
		s.ch = nil
	}
}

// drainReturns moves the returns that arrived into s.rets; s.mu is held.
func (s *Sink) drainReturns() {
	for s.returns != nil {
		select {
		case r, ok := <-s.returns:
			if !ok {
				s.returns = nil // closed: a select must not spin on it
				return
			}
			s.rets = append(s.rets, r)
		default:
			return
		}
	}
}

// matchReturn marks event i of p returned when a return not yet matched is
// a copy of it. Returns carry no delivery tag; two events identical in
// exchange, key, id and body route identically, so which of them is blamed
// is moot.
func (s *Sink) matchReturn(p *Pending, i int, key string) {
	var id string
	if p.evs[i].Properties != nil {
		id = p.evs[i].Properties.MessageID
	}
	for j, r := range s.rets {
		if r.Exchange == s.exchange && r.RoutingKey == key && r.MessageId == id && bytes.Equal(r.Body, p.evs[i].Value) {
			p.returned[i] = true
			p.reason[i] = fmt.Sprintf("%s: no queue bound to exchange %q matches routing key %q", r.ReplyText, r.Exchange, r.RoutingKey)
			s.rets = slices.Delete(s.rets, j, j+1)
			return
		}
	}
}

func (s *Sink) closedErr() error {
	select {
	case e, ok := <-s.closes:
		if ok && e != nil {
			if e.Code == amqp091.NotFound {
				return &bus.NotFoundError{Transport: "amqp", Kind: "exchange", Name: s.exchange, Hint: scrub(e.Reason, s.c.secrets)}
			}
			err := fmt.Errorf("amqp: publishing to %s: the broker closed the channel: %s (%d); the outcome of unconfirmed messages is unknown",
				s.dest, scrub(e.Reason, s.c.secrets), e.Code)
			if e.Code == amqp091.ConnectionForced || e.Code == amqp091.InternalError || e.Code == amqp091.FrameError {
				// Shut down, closed by an operator, or cut: worth a retry.
				err = &tipError{msg: err.Error(), err: ErrConnectionLost}
			}
			return err
		}
	default:
	}
	return &tipError{err: ErrConnectionLost,
		msg: fmt.Sprintf("amqp: publishing to %s: the connection was closed; the outcome of unconfirmed messages is unknown", s.dest)}
}

// Close closes the sink's connection.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	conn := s.conn
	s.conn, s.ch = nil, nil
	if err := conn.Close(); err != nil && !errors.Is(err, amqp091.ErrClosed) {
		return fmt.Errorf("amqp: closing the sink: %s", scrub(err.Error(), s.c.secrets))
	}
	return nil
}

// socketLost says whether a publish failed because the connection's socket
// did: closed by the library, at its end, or refused by the network.
func socketLost(err error) bool {
	var oe *net.OpError
	return errors.Is(err, amqp091.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &oe)
}
