package amqp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// errSourceClosed is what Next returns once Close was called.
var errSourceClosed = errors.New("amqp: source closed")

const (
	batchEvents = 512
	// firehoseExchange is the vhost's tracer exchange; its publish.EXCHANGE
	// messages are copies of every message published while tracing is on.
	firehoseExchange = "amq.rabbitmq.trace"
	// tapArgFor labels a tap queue for an operator who finds it in the
	// management UI. RabbitMQ keeps unknown queue arguments without acting on them.
	tapArgFor = "eddy-tap-for"
)

// Source reads events from RabbitMQ queues without consuming them; see the
// package doc for what each mode does to the broker. It implements bus.Source.
type Source struct {
	c     *Client
	opts  bus.ReadOptions
	names string // the queues, for the connection's name

	connMu sync.Mutex // held while a lost connection is replaced
	conn   *amqp091.Connection

	ctx    context.Context // ended by Close: stops the readers
	cancel context.CancelFunc
	out    chan item
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	readers int // goroutines that each end with one eof or error item
	// tapped: some queue is read through a tap, which misses what is
	// published while the connection is down (a stream does not: it is
	// read on from its last offset seen). Set before the readers start.
	tapped bool
	eofs   int
	err    error // sticky: io.EOF or the first reader error

	mu    sync.Mutex
	notes []string
	taps  []string
}

type item struct {
	ev  event.Event
	err error
	eof bool
}

// queuePlan is what Source decided to do for one queue, before starting.
type queuePlan struct {
	name string
	kind string // "classic", "quorum", "stream"; "" when the management API could not say

	// classic and quorum queues
	peek          bool  // read the backlog with get + requeue
	depth         int64 // messages ready when the source opened
	quorumUnknown bool  // type unknown: stop peeking if a message shows a quorum queue
	live          bool  // tap the live traffic
	firehose      bool  // ... through the firehose tracer
	bindings      []mgmtBinding

	// stream queues
	spec      any   // x-stream-offset: "first", "next", an offset or a time
	end       int64 // with Until end: the last offset at open (-1: empty)
	hasEnd    bool
	stopAt    int64 // with Until OFFSET: stop before this offset
	hasStopAt bool
}

// Source opens a source reading the queues named by addrs (amqp:QUEUE), without
// consuming their messages:
//
//   - Live traffic of a classic or quorum queue comes through a tap: a
//     temporary queue bound like the watched one (see the package doc), or the
//     firehose tracer with WithFirehose.
//   - opts.Backlog, and nothing else, first peeks at the messages a classic
//     or quorum queue holds (get, then requeue: see the package doc for the
//     consequences); From a time then keeps those stamped since. Without it,
//     a start other than the end is refused for these queues (ErrNoPosition):
//     their past messages cannot be read without touching them, and so is
//     Until end (it would read nothing, which would look like an empty queue).
//   - A stream queue is read by offset: From beginning, an offset or a time
//     start there; the default is new messages only.
//   - Until end reads only what was there at open (the backlog; for a stream,
//     up to its last offset at open) and then Next returns io.EOF. Until a time
//     stops at the first message stamped after it, or when the clock passes it.
//     Until an offset is for streams only.
//
// opts.Partitions and opts.Group are Kafka's and ignored. A missing queue is a
// *bus.NotFoundError; a queue that cannot be tapped says why and what works.
func (c *Client) Source(ctx context.Context, addrs []bus.Address, opts bus.ReadOptions) (bus.Source, error) {
	if len(addrs) == 0 {
		return nil, errors.New("amqp: no queue to read")
	}
	seen := map[string]bool{}
	var names []string
	for _, a := range addrs {
		switch {
		case a.Transport != "amqp":
			return nil, fmt.Errorf("amqp: cannot read %s: not an amqp: address", a)
		case a.Name == "":
			return nil, fmt.Errorf("amqp: cannot read %s: an exchange keeps no messages; name a queue bound to it (amqp:QUEUE)", a)
		case !seen[a.Name]:
			seen[a.Name] = true
			names = append(names, a.Name)
		}
	}
	conn, err := c.dial(ctx, "source "+strings.Join(names, ","))
	if err != nil {
		return nil, err
	}
	s := &Source{c: c, conn: conn, names: strings.Join(names, ","), opts: opts, out: make(chan item, 2*batchEvents), stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.start(ctx, names); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) start(ctx context.Context, names []string) error {
	plans := make([]*queuePlan, len(names))
	var firehose []*queuePlan
	for i, name := range names {
		p, err := s.plan(ctx, name)
		if err != nil {
			return err
		}
		plans[i] = p
		if p.firehose {
			firehose = append(firehose, p)
		}
	}
	var fire *consumer
	if len(firehose) > 0 {
		if err := s.checkTracing(ctx); err != nil {
			return err
		}
		var err error
		fireBinds := []mgmtBinding{{Source: firehoseExchange, RoutingKey: "publish.#"}}
		fire, err = s.openTap(firehose[0].name+" (firehose)", fireBinds)
		if err != nil {
			return err
		}
		fire.reopen = func() (*consumer, error) { return s.openTap(firehose[0].name+" (firehose)", fireBinds) }
		s.tapped = true
	}
	peeksDone := make(chan struct{})
	var peeks sync.WaitGroup
	for _, p := range plans {
		if p.kind == "stream" {
			if err := s.startStream(ctx, p); err != nil {
				return err
			}
			continue
		}
		var tap *consumer
		if p.live && !p.firehose {
			var err error
			if tap, err = s.openTap(p.name, p.bindings); err != nil {
				return err
			}
			tap.reopen = func() (*consumer, error) { return s.openTap(p.name, p.bindings) }
			s.tapped = true
		}
		var peekCh *amqp091.Channel
		if p.peek {
			var err error
			if peekCh, err = s.channel(p.name); err != nil {
				return err
			}
			peeks.Add(1)
		}
		s.readers++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if p.peek {
				ok := s.readBacklog(peekCh, p)
				peeks.Done()
				if !ok {
					return
				}
			}
			if tap != nil {
				s.consume(tap, p.name, s.tapHandler(p.name))
				return
			}
			s.send(item{eof: true})
		}()
	}
	go func() { peeks.Wait(); close(peeksDone) }()
	if fire != nil {
		s.readers++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// Backlog before live, per queue, as with a binding tap: the trace
			// copies wait in the tap meanwhile.
			select {
			case <-peeksDone:
			case <-s.ctx.Done():
				return
			}
			s.consume(fire, "the firehose", s.firehoseHandler(firehose))
		}()
	}
	return nil
}

// connNow is the source's connection: the one it opened, or the one that
// replaced it after it was lost.
func (s *Source) connNow() *amqp091.Connection {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.conn
}

// tapGap is what a lost connection costs a tap, said with the health lines.
const tapGap = "messages published to the queue while eddy was disconnected were not seen (a tap sees only what arrives while it exists)"

// streamResume is the outage note of a source that reads only stream
// queues: each is read on from the offset after the last one seen.
const streamResume = "a stream queue is read on from the offset after the last one seen: nothing published meanwhile is missed"

// reconnect replaces lost, the connection a reader found closed, unless
// another reader did already. It says once through OnHealth that the broker
// is unreachable, retries with backoff — for ever while following (no
// Until), for the dial timeout (--timeout) otherwise, then a
// *bus.ConnectError — and says once that it is back.
func (s *Source) reconnect(lost *amqp091.Connection, cause error) (*amqp091.Connection, error) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conn != lost {
		return s.conn, nil
	}
	since := time.Now()
	note := streamResume
	if s.tapped {
		note = tapGap
	}
	h := bus.Health{Transport: "amqp", Addr: s.c.addr, Since: since, Note: note}
	if s.opts.OnHealth != nil {
		down := h
		down.Down, down.Err = true, cause
		s.opts.OnHealth(down)
	}
	backoff := 100 * time.Millisecond
	for {
		conn, err := s.c.dial(s.ctx, "source "+s.names)
		if err == nil {
			s.conn = conn
			if s.opts.OnHealth != nil {
				s.opts.OnHealth(h)
			}
			return conn, nil
		}
		if s.ctx.Err() != nil {
			return nil, s.ctx.Err()
		}
		if s.opts.Until.Kind != bus.PosNone && time.Since(since) >= s.c.cfg.dialTimeout {
			return nil, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return nil, s.ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// plan inspects one queue and decides how to read it.
func (s *Source) plan(ctx context.Context, name string) (*queuePlan, error) {
	c, opts := s.c, s.opts
	q, err := c.passive(s.connNow(), name)
	if err != nil {
		return nil, err
	}
	p := &queuePlan{name: name}
	mq, mgmtErr := c.mgmt.queue(ctx, name)
	var nf *bus.NotFoundError
	if errors.As(mgmtErr, &nf) || isMgmtUntrusted(mgmtErr) {
		return nil, mgmtErr
	}
	if mgmtErr == nil {
		p.kind = mq.kind()
	} else {
		c.logf("queue %q: type and bindings unknown: %v", name, mgmtErr)
	}
	// Only Backlog touches a classic or quorum queue's messages: From
	// beginning alone reads a stream from its first offset and is refused
	// below for other queues, which cannot be read back without a peek.
	backlog := opts.Backlog
	untilEnd := opts.Until.Kind == bus.PosEnd

	if p.kind == "stream" {
		switch opts.From.Kind {
		case bus.PosBeginning:
			p.spec = "first"
		case bus.PosOffset:
			p.spec = opts.From.Offset
		case bus.PosTime:
			p.spec = opts.From.Time
		case bus.PosRelative:
			return nil, &tipError{err: ErrNoPosition, msg: fmt.Sprintf(
				"amqp: stream %q: a relative start (-%d) needs the stream's end offset, which AMQP 0-9-1 does not give; start at a time (-15m) or an offset instead",
				name, opts.From.Offset)}
		default:
			p.spec = "next"
			if opts.Backlog {
				p.spec = "first"
			}
		}
		if opts.Until.Kind == bus.PosOffset {
			p.stopAt, p.hasStopAt = opts.Until.Offset, true
		}
		if untilEnd {
			if p.end, err = s.streamEnd(ctx, name, mq); err != nil {
				return nil, err
			}
			p.hasEnd = true
		}
		return p, nil
	}

	switch {
	case !backlog && opts.From.Kind != bus.PosEnd && opts.From.Kind != bus.PosNone && mgmtErr != nil:
		return nil, &tipError{err: mgmtErr, msg: fmt.Sprintf(
			"amqp: queue %q: its type is unknown because %v; only a stream queue is read from an offset or time without touching its messages, "+
				"and --backlog peeks at a classic or quorum queue's (fetched and requeued: marked redelivered)", name, mgmtErr)}
	case !backlog && opts.From.Kind != bus.PosEnd && opts.From.Kind != bus.PosNone:
		return nil, &tipError{err: ErrNoPosition, msg: fmt.Sprintf(
			"amqp: queue %q is a %s queue: eddy cannot read the messages it already holds without touching them "+
				"(only a stream queue is read from an offset or time); --backlog peeks at them (fetched and requeued: marked redelivered)",
			name, orUnknown(p.kind))}
	case opts.From.Kind == bus.PosOffset || opts.From.Kind == bus.PosRelative:
		return nil, &tipError{err: ErrNoPosition, msg: fmt.Sprintf(
			"amqp: queue %q is a %s queue: it has no offsets to start from (only stream queues do); --backlog reads what it holds now",
			name, orUnknown(p.kind))}
	case opts.Until.Kind == bus.PosOffset:
		return nil, &tipError{err: ErrNoPosition, msg: fmt.Sprintf(
			"amqp: queue %q is a %s queue: it has no offsets to stop at (only stream queues do); use --until end or a time", name, orUnknown(p.kind))}
	case !backlog && untilEnd && mgmtErr != nil:
		// Until end reads what is there now: without a peek that is nothing
		// on a classic or quorum queue, and an empty result would read as
		// "the queue is empty".
		return nil, &tipError{err: mgmtErr, msg: fmt.Sprintf(
			"amqp: queue %q: --until end reads what a queue holds now, and its type is unknown because %v; only a stream queue is read that way "+
				"without touching its messages, and --backlog peeks at a classic or quorum queue's (fetched and requeued: marked redelivered)", name, mgmtErr)}
	case !backlog && untilEnd:
		return nil, &tipError{err: ErrNoPosition, msg: fmt.Sprintf(
			"amqp: queue %q is a %s queue: --until end reads what it holds now, and eddy cannot read that without touching its messages "+
				"(without --backlog a tail sees only messages published while it runs, so it would show nothing, whatever the queue holds); "+
				"--backlog peeks at them (fetched and requeued: marked redelivered), or drop --until end to watch live traffic",
			name, orUnknown(p.kind))}
	}
	if backlog {
		if q.Messages < 0 {
			return nil, fmt.Errorf("amqp: queue %q is exclusive to another connection: its backlog cannot be peeked at", name)
		}
		p.peek, p.depth = true, int64(q.Messages)
		switch p.kind {
		case "quorum":
			if err := s.peekAllowed(mq); err != nil {
				return nil, err
			}
		case "":
			p.quorumUnknown = true
		}
	}
	p.live = !untilEnd
	if !p.live {
		return p, nil
	}
	if c.cfg.firehose {
		p.firehose = true
		return p, nil
	}
	if mgmtErr != nil {
		return nil, &tipError{err: mgmtErr, msg: fmt.Sprintf(
			"amqp: cannot tap queue %q: its bindings cannot be discovered without the management API, and %v. "+
				"What works without the API: --backlog (peek at what the queue holds now), or --firehose (the broker's firehose tracer, "+
				"which an operator switches on with 'rabbitmqctl trace_on -p %s')",
			name, mgmtErr, c.uri.Vhost)}
	}
	bs, err := c.mgmt.bindings(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("amqp: cannot tap queue %q: listing its bindings: %w", name, err)
	}
	for _, b := range bs {
		// The default exchange's implicit binding cannot be copied: binding
		// anything to "" is refused.
		if b.Source != "" && b.DestinationType == "queue" {
			p.bindings = append(p.bindings, b)
		}
	}
	if len(p.bindings) == 0 {
		return nil, &tipError{err: ErrUntappable, msg: fmt.Sprintf(
			"amqp: queue %q is fed only through the default exchange (publishers send to it by name), and a tap cannot bind to the default exchange, "+
				"so eddy cannot watch its live traffic without consuming it. What works: --backlog peeks at the messages it holds now "+
				"(they are requeued and marked redelivered), or --firehose reads the broker's firehose tracer, which an operator must switch on "+
				"with 'rabbitmqctl trace_on -p %s' (and off after with 'rabbitmqctl trace_off -p %s': it costs every publish on the vhost)",
			name, c.uri.Vhost, c.uri.Vhost)}
	}
	return p, nil
}

func orUnknown(kind string) string {
	if kind == "" {
		return "classic or quorum"
	}
	return kind
}

// peekAllowed refuses to peek at a quorum queue with a delivery limit: each
// requeue raises a message's delivery count, and at the limit the broker
// dead-letters or drops it — a read that destroys data.
func (s *Source) peekAllowed(mq *mgmtQueue) error {
	limit, set := mq.deliveryLimit()
	if !set && brokerMajor(s.connNow()) >= 4 {
		limit, set = 20, true // RabbitMQ 4's default for quorum queues
	}
	if !set || limit <= 0 {
		return nil
	}
	return &tipError{err: ErrPeekRefused, msg: fmt.Sprintf(
		"amqp: queue %q is a quorum queue with a delivery limit of %d: every peek returns its messages with their delivery count raised by one, "+
			"and at the limit RabbitMQ dead-letters or drops them, so eddy will not peek at it. Tail it live (without --backlog) instead",
		mq.Name, limit)}
}

func brokerMajor(conn *amqp091.Connection) int {
	v, _ := conn.Properties["version"].(string)
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}

func (s *Source) checkTracing(ctx context.Context) error {
	on, err := s.c.mgmt.tracing(ctx)
	switch {
	case err != nil && isMgmtUnusable(err):
		s.note(fmt.Sprintf("cannot check that the firehose tracer is on (%v): if it is off, no live messages will show", err))
		return nil
	case err != nil:
		return err
	case !on:
		v := s.c.uri.Vhost
		return &tipError{err: ErrFirehoseOff, msg: fmt.Sprintf(
			"amqp: the firehose tracer is off on vhost %q: an operator must switch it on with 'rabbitmqctl trace_on -p %s' "+
				"(and off after with 'rabbitmqctl trace_off -p %s': it costs every publish on the vhost)", v, v, v)}
	}
	return nil
}

// consumer is one basic.consume on its own channel.
type consumer struct {
	conn *amqp091.Connection // the connection ch is on
	ch   *amqp091.Channel
	// reopen, when set, opens the same consumer again on a new connection
	// after this one's was lost (a tap: declared and bound anew).
	reopen     func() (*consumer, error)
	queue      string
	deliveries <-chan amqp091.Delivery
	stream     bool // reading a stream queue itself, not a tap
	closed     chan *amqp091.Error
	cancels    chan string
	closeErr   *amqp091.Error // why the broker closed it, once endReason heard
}

// openTap declares a tap queue — server-named, exclusive (gone with this
// connection, even after kill -9), auto-delete, x-expires as a backstop should
// the broker not notice the connection dying, and capped, dropping its oldest
// messages, so a slow reader never costs the broker more than the cap — binds
// it and consumes it.
func (s *Source) openTap(forQueue string, binds []mgmtBinding) (cs *consumer, err error) {
	err = s.c.bounded(s.connNow(), fmt.Sprintf("the declaring and binding of a tap for queue %q", forQueue), func() error {
		var err error
		cs, err = s.openTapOn(forQueue, binds)
		return err
	})
	return cs, err
}

// channel opens a channel on the source's connection, bounded by --timeout.
func (s *Source) channel(queue string) (*amqp091.Channel, error) {
	var ch *amqp091.Channel
	conn := s.connNow()
	err := s.c.bounded(conn, fmt.Sprintf("the opening of a channel for queue %q", queue), func() error {
		var err error
		ch, err = conn.Channel()
		return err
	})
	if err != nil {
		return nil, s.c.amqpError("queue", queue, err)
	}
	return ch, nil
}

// consumeBounded is consumeOn bounded by --timeout.
func (s *Source) consumeBounded(ch *amqp091.Channel, queue string, args amqp091.Table) (cs *consumer, err error) {
	err = s.c.bounded(s.connNow(), fmt.Sprintf("a consume of queue %q", queue), func() error {
		var err error
		cs, err = s.consumeOn(ch, queue, queue, args)
		return err
	})
	return cs, err
}

func (s *Source) openTapOn(forQueue string, binds []mgmtBinding) (*consumer, error) {
	cfg := s.c.cfg
	ch, err := s.connNow().Channel()
	if err != nil {
		return nil, s.c.amqpError("queue", forQueue, err)
	}
	args := amqp091.Table{
		"x-expires":          cfg.tapExpires.Milliseconds(),
		"x-max-length":       int64(cfg.tapMessages),
		"x-max-length-bytes": cfg.tapBytes,
		"x-overflow":         "drop-head",
		tapArgFor:            forQueue,
	}
	q, err := ch.QueueDeclare("", false, true, true, false, args)
	if err != nil {
		return nil, fmt.Errorf("amqp: cannot tap queue %q: declaring the tap queue: %w", forQueue, s.c.amqpError("queue", "(tap)", err))
	}
	s.mu.Lock()
	s.taps = append(s.taps, q.Name)
	s.mu.Unlock()
	for _, b := range binds {
		if err := ch.QueueBind(q.Name, b.RoutingKey, b.Source, false, tableFromJSON(b.Arguments)); err != nil {
			return nil, fmt.Errorf("amqp: cannot tap queue %q: binding to exchange %q with key %q: %w", forQueue, b.Source, b.RoutingKey,
				s.c.amqpError("exchange", b.Source, err))
		}
		s.c.logf("tap %s for %q: bound to exchange %q key %q args %v", q.Name, forQueue, b.Source, b.RoutingKey, b.Arguments)
	}
	return s.consumeOn(ch, q.Name, forQueue, nil)
}

func (s *Source) consumeOn(ch *amqp091.Channel, queue, forQueue string, args amqp091.Table) (*consumer, error) {
	if err := ch.Qos(s.c.cfg.prefetch, 0, false); err != nil {
		return nil, s.c.amqpError("queue", forQueue, err)
	}
	cs := &consumer{conn: s.connNow(), ch: ch, queue: forQueue, stream: queue == forQueue,
		closed: ch.NotifyClose(make(chan *amqp091.Error, 1)), cancels: ch.NotifyCancel(make(chan string, 1))}
	var err error
	// exclusive only on our own tap; a stream is shared with its real readers.
	cs.deliveries, err = ch.Consume(queue, "", false, queue != forQueue, false, false, args)
	if err != nil {
		return nil, s.c.amqpError("queue", forQueue, err)
	}
	return cs, nil
}

func (s *Source) tapHandler(queue string) func(*amqp091.Delivery) ([]event.Event, bool) {
	return func(d *amqp091.Delivery) ([]event.Event, bool) {
		e := fromDelivery(d, queue, time.Now())
		if s.afterUntil(&e) {
			return nil, true
		}
		return []event.Event{e}, false
	}
}

func (s *Source) firehoseHandler(plans []*queuePlan) func(*amqp091.Delivery) ([]event.Event, bool) {
	return func(d *amqp091.Delivery) ([]event.Event, bool) {
		var evs []event.Event
		now := time.Now()
		for _, p := range plans {
			if tracedTo(d, p.name) {
				e := fromTrace(d, p.name, now)
				if s.afterUntil(&e) {
					return evs, true
				}
				evs = append(evs, e)
			}
		}
		return evs, false
	}
}

// afterUntil reports whether e is past a time given as Until.
func (s *Source) afterUntil(e *event.Event) bool {
	return s.opts.Until.Kind == bus.PosTime && e.Timestamp.After(s.opts.Until.Time)
}

// consume forwards deliveries until the source closes, handle says stop, the
// clock passes an Until time, or the broker ends the consumer (an error).
func (s *Source) consume(cs *consumer, what string, handle func(*amqp091.Delivery) ([]event.Event, bool)) {
	// Once the clock passes an Until time, a tap can only see later messages:
	// stop. A stream may still be replaying older ones: stop when it has been
	// quiet for a moment after that.
	var untilC <-chan time.Time
	var until *time.Timer
	passed := false
	if s.opts.Until.Kind == bus.PosTime {
		until = time.NewTimer(max(0, time.Until(s.opts.Until.Time)))
		defer until.Stop()
		untilC = until.C
	}
	for {
		select {
		case d, ok := <-cs.deliveries:
			if !ok {
				err := s.endReason(cs, what)
				if err == nil {
					return
				}
				if cs.reopen != nil && cs.conn.IsClosed() && !closedOnPurpose(cs.closeErr) {
					// The connection is lost, not the queue: a tap is
					// the broker's copy for this reader, and can be made
					// again on a new connection.
					next, rerr := s.resume(cs, err)
					if rerr == nil {
						cs = next
						continue
					}
					err = rerr
				}
				if s.ctx.Err() == nil {
					s.send(item{err: err})
				}
				return
			}
			evs, stop := handle(&d)
			for _, e := range evs {
				if !s.send(item{ev: e}) {
					return
				}
			}
			// Acked once handed on: the tap (or the stream's credit) then
			// holds what the reader has not taken yet, within its cap.
			if err := d.Ack(false); err != nil && s.ctx.Err() == nil {
				var ne net.Error
				if cs.reopen != nil && (errors.As(err, &ne) || errors.Is(err, amqp091.ErrClosed) || cs.conn.IsClosed()) {
					// The connection was lost under the ack: the
					// deliveries end next, and that path reconnects
					// (or, bounded, reports the outage).
					continue
				}
				s.send(item{err: fmt.Errorf("amqp: reading %s: %s", what, scrub(err.Error(), s.c.secrets))})
				return
			}
			if stop {
				s.send(item{eof: true})
				return
			}
			if passed {
				until.Reset(s.c.cfg.streamQuiet)
			}
		case <-untilC:
			if cs.stream && !passed {
				passed = true
				until.Reset(s.c.cfg.streamQuiet)
				continue
			}
			s.send(item{eof: true})
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// resume reconnects (see reconnect) and opens cs again; a tap that cannot be
// made again on a connection that works is retried as another outage.
func (s *Source) resume(cs *consumer, cause error) (*consumer, error) {
	lost := cs.conn
	for {
		if _, err := s.reconnect(lost, cause); err != nil {
			return nil, err
		}
		next, err := cs.reopen()
		if err == nil {
			next.reopen = cs.reopen
			return next, nil
		}
		conn := s.connNow()
		if !conn.IsClosed() || s.ctx.Err() != nil {
			return nil, err // the broker answered, and refused
		}
		lost, cause = conn, err
	}
}

// closedOnPurpose reports whether the broker closed the connection because
// someone asked it to (an operator, through the management UI or
// rabbitmqctl): the reader then ends, as told. A broker shutting down, and a
// connection lost on the network, are outages a live reader rides out.
func closedOnPurpose(e *amqp091.Error) bool {
	return e != nil && e.Server && e.Code == amqp091.ConnectionForced && !strings.Contains(e.Reason, "shutdown")
}

// endReason explains why the broker ended a consumer; nil when we closed it.
func (s *Source) endReason(cs *consumer, what string) error {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return nil
	case tag, ok := <-cs.cancels:
		if ok {
			return fmt.Errorf("amqp: reading %s: the broker cancelled the consumer %s (was the queue deleted?)", what, tag)
		}
	case e, ok := <-cs.closed:
		if ok && e != nil {
			cs.closeErr = e
			return fmt.Errorf("amqp: reading %s: the broker closed the connection or channel: %s (%d)", what, scrub(e.Reason, s.c.secrets), e.Code)
		}
	case <-t.C:
	}
	if s.ctx.Err() != nil {
		return nil
	}
	// The cancel notice closes when the channel does: the close reason,
	// sent to cs.closed first, is then waiting there.
	select {
	case e, ok := <-cs.closed:
		if ok && e != nil {
			cs.closeErr = e
			return fmt.Errorf("amqp: reading %s: the broker closed the connection or channel: %s (%d)", what, scrub(e.Reason, s.c.secrets), e.Code)
		}
	default:
	}
	return fmt.Errorf("amqp: reading %s: the connection was closed", what)
}

// send hands one item to Next; false when the source is closing.
func (s *Source) send(it item) bool {
	select {
	case s.out <- it:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Source) note(n string) {
	s.c.logf("%s", n)
	s.mu.Lock()
	s.notes = append(s.notes, n)
	s.mu.Unlock()
}

// Notes returns what the user should know about this read that is not an
// error: a backlog cut at the limit, a firehose that could not be checked.
func (s *Source) Notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.notes...)
}

// Taps returns the names of the tap queues this source declared.
func (s *Source) Taps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.taps...)
}

// readBacklog peeks at the queue and hands the events on; false if the reader
// must stop (error sent, or closing).
func (s *Source) readBacklog(ch *amqp091.Channel, p *queuePlan) bool {
	evs, err := s.peek(ch, p)
	ch.Close()
	if err != nil {
		if s.ctx.Err() == nil {
			s.send(item{err: err})
		}
		return false
	}
	for _, e := range evs {
		if !s.send(item{ev: e}) {
			return false
		}
	}
	return true
}

// peek gets up to the depth seen at open with manual acks, holding every
// message unacknowledged, then nacks them all with requeue in one frame. The
// messages are held only while peek runs, never while the reader is slow.
func (s *Source) peek(ch *amqp091.Channel, p *queuePlan) ([]event.Event, error) {
	cfg := s.c.cfg
	var evs []event.Event
	var size int64
	var last uint64
	got := int64(0) // messages held
	start := time.Now()
	release := func() error {
		if last == 0 {
			return nil
		}
		err := s.c.bounded(s.connNow(), fmt.Sprintf("the requeue of the messages peeked at in queue %q", p.name), func() error {
			before, err := ch.QueueDeclarePassive(p.name, false, false, false, false, nil)
			if err != nil {
				return err
			}
			if err := ch.Nack(last, true, true); err != nil {
				return err
			}
			// The queue's depth is whole again before Next hands out the
			// first event: a classic queue has requeued them when a round
			// trip on the same channel returns, a quorum queue once its log
			// applied the requeue.
			return waitReady(ch, p.name, before.Messages+int(got))
		})
		if err != nil {
			return s.c.amqpError("queue", p.name, err)
		}
		return nil
	}
	if p.quorumUnknown && p.depth == 0 {
		// Without the management API an empty-looking queue may be a stream
		// (whose passive declare can say 0): one get tells, and changes
		// nothing on an empty classic queue.
		d, ok, err := s.get(ch, p.name)
		if err != nil {
			return nil, s.getError(p, err)
		}
		if ok {
			// It arrived after the source opened: not backlog. Give it back.
			last = d.DeliveryTag
			return nil, release()
		}
	}
	for got < p.depth {
		if s.ctx.Err() != nil {
			break
		}
		if got >= int64(cfg.backlogMessages) || size >= cfg.backlogBytes {
			s.note(fmt.Sprintf("queue %q: its backlog of %d messages is over the limit of %d messages or %d MiB; read the first %d",
				p.name, p.depth, cfg.backlogMessages, cfg.backlogBytes>>20, got))
			break
		}
		d, ok, err := s.get(ch, p.name)
		if err != nil {
			// The channel is gone, and with it the broker requeued what we held.
			return nil, s.getError(p, err)
		}
		if !ok {
			break // other consumers took the rest meanwhile
		}
		last = d.DeliveryTag
		got++
		if _, quorum := d.Headers["x-delivery-count"]; p.quorumUnknown && quorum {
			if err := release(); err != nil {
				return nil, err
			}
			return nil, &tipError{err: ErrPeekRefused, msg: fmt.Sprintf(
				"amqp: queue %q is a quorum queue, and without the management API eddy cannot check its delivery limit, at which a peek "+
					"would make RabbitMQ dead-letter or drop messages; stopped after one message (its delivery count is now one higher)", p.name)}
		}
		size += int64(len(d.Body))
		e := fromDelivery(&d, p.name, time.Now())
		if s.afterUntil(&e) || s.opts.From.Kind == bus.PosTime && e.Timestamp.Before(s.opts.From.Time) {
			// From a time, a peek keeps the messages stamped since then.
			continue
		}
		evs = append(evs, e)
	}
	if err := release(); err != nil {
		return nil, err
	}
	s.c.logf("peek %q: got %d of %d ready messages and requeued them, held for %s", p.name, got, p.depth, time.Since(start).Round(time.Millisecond))
	return evs, nil
}

// get is one basic.get, bounded by --timeout.
func (s *Source) get(ch *amqp091.Channel, queue string) (d amqp091.Delivery, ok bool, err error) {
	err = s.c.bounded(s.connNow(), fmt.Sprintf("a get from queue %q", queue), func() error {
		var err error
		d, ok, err = ch.Get(queue, false)
		return err
	})
	return d, ok, err
}

func (s *Source) getError(p *queuePlan, err error) error {
	var ae *amqp091.Error
	if errors.As(err, &ae) && ae.Code == amqp091.NotImplemented {
		return &tipError{err: err, msg: fmt.Sprintf(
			"amqp: cannot peek at queue %q: the broker says %q. It is a stream queue, which eddy reads by offset, "+
				"but it needs the management API to learn a queue's type", p.name, ae.Reason)}
	}
	return s.c.amqpError("queue", p.name, err)
}

// streamEnd finds a stream's last offset at open. AMQP 0-9-1 cannot ask for it,
// so eddy attaches at "last" (the start of the stream's last chunk) and reads
// until the stream has been quiet for a moment; the highest offset seen is the
// end. -1 means the stream is empty.
func (s *Source) streamEnd(ctx context.Context, name string, mq *mgmtQueue) (int64, error) {
	ch, err := s.channel(name)
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	cs, err := s.consumeBounded(ch, name, amqp091.Table{"x-stream-offset": "last"})
	if err != nil {
		return 0, err
	}
	// An empty stream sends nothing: how long to wait for a first message
	// before believing that depends on whether the (sampled) statistics say
	// there is something.
	wait := time.Second
	if mq != nil && (mq.Messages > 0 || mq.MessagesReady > 0) {
		wait = s.c.cfg.dialTimeout
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	end := int64(-1)
	for {
		select {
		case d, ok := <-cs.deliveries:
			if !ok {
				if err := s.endReason(cs, "stream "+strconv.Quote(name)); err != nil {
					return 0, err
				}
				return 0, fmt.Errorf("amqp: stream %q: the connection was closed", name)
			}
			if off, ok := d.Headers[streamOffsetHeader].(int64); ok && off > end {
				end = off
			}
			d.Ack(false)
			t.Reset(s.c.cfg.streamQuiet)
		case <-t.C:
			s.c.logf("stream %q: last offset at open %d", name, end)
			return end, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (s *Source) startStream(ctx context.Context, p *queuePlan) error {
	s.readers++
	if p.hasEnd {
		empty := p.end < 0
		if off, ok := p.spec.(int64); ok && off > p.end {
			empty = true
		}
		if p.spec == "next" {
			// From the end to the end at open: nothing, as on Kafka. The
			// consumer would wait for ever for a message past the end.
			empty = true
		}
		if empty {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.send(item{eof: true}) }()
			return nil
		}
	}
	ch, err := s.channel(p.name)
	if err != nil {
		return err
	}
	cs, err := s.consumeBounded(ch, p.name, amqp091.Table{"x-stream-offset": p.spec})
	if err != nil {
		return err
	}
	s.c.logf("stream %q: reading from %v", p.name, p.spec)
	// A lost connection is ridden out as for a tap, but a stream keeps
	// what was published meanwhile: the consumer is made again from the
	// offset after the last one handed on (from the start's spec if none
	// was). handle and reopen run on the one reading goroutine.
	resumeAt := p.spec
	cs.reopen = func() (*consumer, error) {
		ch, err := s.channel(p.name)
		if err != nil {
			return nil, err
		}
		s.c.logf("stream %q: reading on from %v", p.name, resumeAt)
		return s.consumeBounded(ch, p.name, amqp091.Table{"x-stream-offset": resumeAt})
	}
	handle := func(d *amqp091.Delivery) ([]event.Event, bool) {
		e := fromDelivery(d, p.name, time.Now())
		resumeAt = e.Offset + 1
		switch {
		case p.hasStopAt && e.Offset >= p.stopAt, p.hasEnd && e.Offset > p.end, s.afterUntil(&e):
			return nil, true
		case p.hasEnd && e.Offset == p.end, p.hasStopAt && e.Offset == p.stopAt-1:
			return []event.Event{e}, true
		}
		return []event.Event{e}, false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if _, fromTime := p.spec.(time.Time); fromTime && p.hasEnd {
			s.consumeFromTime(cs, p, handle)
			return
		}
		s.consume(cs, "stream "+strconv.Quote(p.name), handle)
	}()
	return nil
}

// consumeFromTime is consume for a stream read from a time up to its end at
// open. If nothing at or after that time is older than the end, the broker
// sends nothing at all; a quiet spell before the first message means that.
func (s *Source) consumeFromTime(cs *consumer, p *queuePlan, handle func(*amqp091.Delivery) ([]event.Event, bool)) {
	t := time.NewTimer(s.c.cfg.streamQuiet + time.Second)
	select {
	case d, ok := <-cs.deliveries:
		t.Stop()
		if !ok {
			if err := s.endReason(cs, "stream "+strconv.Quote(p.name)); err != nil {
				s.send(item{err: err})
			}
			return
		}
		evs, stop := handle(&d)
		for _, e := range evs {
			if !s.send(item{ev: e}) {
				return
			}
		}
		d.Ack(false)
		if stop {
			s.send(item{eof: true})
			return
		}
		s.consume(cs, "stream "+strconv.Quote(p.name), handle)
	case <-t.C:
		s.send(item{eof: true})
	case <-s.ctx.Done():
		t.Stop()
	}
}

// Next returns the next events. See bus.Source for the contract.
func (s *Source) Next(ctx context.Context) ([]event.Event, error) {
	var evs []event.Event
	for len(evs) == 0 && s.err == nil {
		select {
		case it := <-s.out:
			evs = s.take(evs, it)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.stop:
			return nil, errSourceClosed
		}
	}
drain:
	for len(evs) < batchEvents && s.err == nil {
		select {
		case it := <-s.out:
			evs = s.take(evs, it)
		default:
			break drain
		}
	}
	if len(evs) > 0 {
		return evs, nil // an error or io.EOF waits for the next call
	}
	return nil, s.err
}

func (s *Source) take(evs []event.Event, it item) []event.Event {
	switch {
	case it.err != nil:
		s.err = it.err
	case it.eof:
		s.eofs++
		if s.eofs == s.readers {
			s.err = io.EOF
		}
	default:
		evs = append(evs, it.ev)
	}
	return evs
}

// Close stops reading and closes the source's connection: the broker deletes
// its tap queues and requeues anything a peek still held. It makes a blocked
// Next return.
func (s *Source) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		close(s.stop)
		if cerr := s.connNow().Close(); cerr != nil && !errors.Is(cerr, amqp091.ErrClosed) {
			err = fmt.Errorf("amqp: closing the source: %s", scrub(cerr.Error(), s.c.secrets))
		}
		s.wg.Wait()
	})
	return err
}
