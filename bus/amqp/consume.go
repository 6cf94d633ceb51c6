package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/event"
)

// ConsumeOptions configure Consume. The zero value takes every default.
type ConsumeOptions struct {
	// Prefetch bounds how many deliveries the broker sends before they are
	// acknowledged (basic.qos). Next hands out at most half of it at once, so
	// the broker delivers the next batch while the caller handles one: a
	// large window makes the pause between batches (ledger writes, the last
	// confirms) a small part of the run. Memory holds up to Prefetch
	// messages; lower it for large ones. Default: 10000.
	Prefetch int
	// Hold is the longest a delivery is held unacknowledged. Past it the
	// delivery is released (nack, requeue) and counted in Stats.Released, so
	// the broker's consumer timeout, which closes the whole channel and with
	// it every delivery held on it, never fires. Default: three quarters of
	// the queue's consumer timeout — its x-consumer-timeout argument or
	// consumer-timeout policy when the management API says so, else
	// RabbitMQ's default of 30 minutes. Set it when the broker's global
	// consumer_timeout is lower than that (the API does not show it).
	Hold time.Duration
	// Quiet is how long no delivery must arrive before the queue is checked
	// for being drained (see Consumer). Default: 300ms.
	Quiet time.Duration
	// Reconnect bounds how long Next keeps reconnecting, with backoff, after
	// the connection or channel was lost, before it fails. Default: 30s.
	Reconnect time.Duration
}

// DefaultConsumerTimeout is RabbitMQ's default consumer_timeout (since 3.8.15):
// a delivery unacknowledged for longer makes the broker close the channel.
const DefaultConsumerTimeout = 30 * time.Minute

// ConsumeStats count what a Consumer did besides handing out events.
type ConsumeStats struct {
	// Delivered is how many deliveries arrived (redeliveries included).
	Delivered int64
	// Acked is how many deliveries were acknowledged.
	Acked int64
	// Released is how many held deliveries were given back (nack, requeue)
	// because they reached the hold deadline.
	Released int64
	// Reconnects counts connections or channels lost and re-established.
	Reconnects int64
	// Voided counts deliveries held on a channel that was lost: the broker
	// requeued them, and their delivery tags mean nothing any more.
	Voided int64
	// Unknown counts events passed to Ack that could not be acknowledged
	// because their delivery was void (lost channel) or released: whether the
	// broker had removed them is unknown to the caller, and they come back
	// unless an earlier ack reached the broker (see OutcomeUnknown).
	Unknown int64
	// Reconsumes counts times the consumer was restarted because deliveries
	// the caller did not acknowledge filled the prefetch window.
	Reconsumes int64
}

// Consumer consumes one classic or quorum queue: unlike Source, what it
// hands out is removed from the queue once acknowledged (Ack). It implements
// bus.Source and replay's Acker.
//
// # Drained
//
// Next returns io.EOF once the queue is drained: no delivery arrived for
// Quiet, everything delivered was handed out, and then a passive declare of
// the queue reported no ready messages. Messages published meanwhile are
// consumed too; a queue that keeps receiving never drains. Deliveries the
// caller did not acknowledge are not ready, so they do not keep the queue
// from draining: Close gives them back.
//
// # Holding deliveries
//
// Events handed out by Next stay unacknowledged until Ack. Events that were
// handed out and not acknowledged by the time Next is called again (a target
// refused them) stay held — not requeued, which would deliver them straight
// back — until Close or the hold deadline. When such events fill the prefetch
// window, the consumer is restarted (basic.cancel, basic.consume) so that the
// rest of the queue still flows; Stats.Reconsumes counts that.
//
// No delivery is held past Hold (see ConsumeOptions): it is released and
// counted, and Ack then treats it as outcome-unknown.
//
// # Reconnects
//
// When the connection or channel is lost, the broker requeues every delivery
// held on it, and their delivery tags are void: a tag of the old channel,
// acked on the new one, would ack a different message or close the channel.
// The consumer reconnects with backoff (up to Reconnect), hands out only
// deliveries of the live channel, and an Ack of events delivered on a lost
// channel acknowledges nothing: those events are recorded as outcome-unknown
// (OutcomeUnknown). They are redelivered, marked redelivered, and a
// caller with a ledger recognises them as already done.
//
// Offset of an event from a Consumer is its delivery number within this
// Consumer, which Ack uses to find the delivery; it means nothing elsewhere.
type Consumer struct {
	c     *Client
	queue string
	opts  ConsumeOptions

	ctx    context.Context // ended by Close: stops the reader
	cancel context.CancelFunc
	out    chan consumed
	recon  chan struct{} // Next asks the reader to restart the consumer
	wg     sync.WaitGroup
	once   sync.Once

	lastDelivery atomic.Int64 // unix nanos of the latest delivery

	mu      sync.Mutex
	conn    *amqp091.Connection
	ch      *amqp091.Channel
	gen     uint64 // which channel is live; deliveries of older ones are void
	held    map[int64]*heldDelivery
	order   []int64 // held delivery numbers, in delivery order (lazily pruned)
	seq     int64
	stats   ConsumeStats
	unknown []event.Event
	notes   []string

	err error // sticky, for Next
	// batchGen is the channel the last batch Next returned came on (Next's
	// goroutine only).
	batchGen uint64

	tag  string // the live basic.consume's tag (reader goroutine only)
	tags int
}

type heldDelivery struct {
	gen    uint64
	tag    uint64
	at     time.Time
	handed bool
}

// consumed is one delivery, or the reader's end.
type consumed struct {
	seq int64
	gen uint64
	ev  event.Event
	err error
}

// maxUnknown caps the events OutcomeUnknown keeps.
const maxUnknown = 10000

// Consume opens a consumer of queue (a classic or quorum queue: a stream
// keeps its messages and is read with Source). A missing queue is a
// *bus.NotFoundError. See Consumer for what it guarantees.
func (c *Client) Consume(ctx context.Context, queue string, opts ConsumeOptions) (*Consumer, error) {
	if queue == "" {
		return nil, errors.New("amqp: no queue to consume")
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 10000
	}
	if opts.Quiet <= 0 {
		opts.Quiet = 300 * time.Millisecond
	}
	if opts.Reconnect <= 0 {
		opts.Reconnect = 30 * time.Second
	}
	conn, err := c.dial(ctx, "consume "+queue)
	if err != nil {
		return nil, err
	}
	if _, err := c.passive(conn, queue); err != nil {
		conn.Close()
		return nil, err
	}
	mq, mgmtErr := c.mgmt.queue(ctx, queue)
	if isMgmtUntrusted(mgmtErr) {
		conn.Close()
		return nil, mgmtErr
	}
	if mgmtErr != nil {
		c.logf("consume %q: type and consumer timeout unknown: %v", queue, mgmtErr)
	}
	if mq != nil && mq.kind() == "stream" {
		conn.Close()
		return nil, fmt.Errorf("amqp: queue %q is a stream: consuming it removes nothing; read it by offset instead (replay with --from/--until)", queue)
	}
	if opts.Hold <= 0 {
		timeout := DefaultConsumerTimeout
		if mq != nil {
			if v, ok := mq.setting("x-consumer-timeout", "consumer-timeout"); ok {
				if n, ok := v.(json.Number); ok {
					if ms, err := n.Int64(); err == nil && ms > 0 {
						timeout = time.Duration(ms) * time.Millisecond
					}
				}
			}
		}
		opts.Hold = timeout * 3 / 4
	}
	k := &Consumer{c: c, queue: queue, opts: opts, out: make(chan consumed, opts.Prefetch+1), recon: make(chan struct{}, 1),
		held: map[int64]*heldDelivery{}}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	deliveries, closes, err := k.open(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.logf("consume %q: prefetch %d, hold %s", queue, opts.Prefetch, opts.Hold)
	k.wg.Add(1)
	go k.read(deliveries, closes)
	return k, nil
}

// open starts consuming on a fresh channel of conn and makes it the live one.
func (k *Consumer) open(conn *amqp091.Connection) (<-chan amqp091.Delivery, chan *amqp091.Error, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, k.c.amqpError("queue", k.queue, err)
	}
	if err := ch.Qos(k.opts.Prefetch, 0, false); err != nil {
		return nil, nil, k.c.amqpError("queue", k.queue, err)
	}
	closes := ch.NotifyClose(make(chan *amqp091.Error, 1))
	// Live before the first delivery can arrive, so take() accepts it.
	k.mu.Lock()
	k.conn, k.ch = conn, ch
	k.gen++
	k.mu.Unlock()
	tag := k.nextTag()
	ds, err := ch.Consume(k.queue, tag, false, false, false, false, nil)
	if err != nil {
		k.mu.Lock()
		k.ch = nil
		k.mu.Unlock()
		return nil, nil, k.c.amqpError("queue", k.queue, err)
	}
	return ds, closes, nil
}

// read receives deliveries for the consumer's whole life: it records them as
// held, releases those past the hold deadline, restarts the consumer when
// asked, and reconnects when the channel is lost.
func (k *Consumer) read(deliveries <-chan amqp091.Delivery, closes chan *amqp091.Error) {
	defer k.wg.Done()
	tick := time.NewTicker(min(max(k.opts.Hold/4, 50*time.Millisecond), 5*time.Second))
	defer tick.Stop()
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				var err error
				if deliveries, closes, err = k.lost(closes); err != nil {
					k.send(consumed{err: err})
					return
				}
				if deliveries == nil {
					return // closing
				}
				continue
			}
			if !k.take(&d) {
				return
			}
		case <-tick.C:
			k.releaseExpired()
		case <-k.recon:
			var err error
			if deliveries, closes, err = k.reconsume(deliveries, closes); err != nil {
				k.send(consumed{err: err})
				return
			}
			if deliveries == nil {
				return
			}
		case <-k.ctx.Done():
			return
		}
	}
}

// take records one delivery as held and queues it for Next.
func (k *Consumer) take(d *amqp091.Delivery) bool {
	if _, stream := d.Headers[streamOffsetHeader]; stream {
		k.send(consumed{err: fmt.Errorf("amqp: queue %q is a stream: consuming it removes nothing; read it by offset instead (replay with --from/--until)", k.queue)})
		return false
	}
	now := time.Now()
	k.lastDelivery.Store(now.UnixNano())
	ev := fromDelivery(d, k.queue, now)
	k.mu.Lock()
	if ch, ok := d.Acknowledger.(*amqp091.Channel); ok && ch != k.ch {
		// Delivered on a channel that is not the live one any more.
		k.mu.Unlock()
		return true
	}
	k.seq++
	seq, gen := k.seq, k.gen
	ev.Offset = seq
	k.held[seq] = &heldDelivery{gen: gen, tag: d.DeliveryTag, at: now}
	k.order = append(k.order, seq)
	k.stats.Delivered++
	k.mu.Unlock()
	return k.send(consumed{seq: seq, gen: gen, ev: ev})
}

// nextTag names a new basic.consume; only the reader goroutine calls it.
func (k *Consumer) nextTag() string {
	k.tags++
	k.tag = "eddy-consume-" + strconv.Itoa(k.tags)
	return k.tag
}

// send hands one item to Next; false when the consumer is closing. out holds
// a prefetch window, so it blocks only if the broker overran the window.
func (k *Consumer) send(it consumed) bool {
	select {
	case k.out <- it:
		return true
	case <-k.ctx.Done():
		return false
	}
}

// lost handles the end of the deliveries channel: a broker cancel (the queue
// was deleted) is an error; Close returns nil channels; anything else voids
// every held delivery and reconnects.
func (k *Consumer) lost(closes chan *amqp091.Error) (<-chan amqp091.Delivery, chan *amqp091.Error, error) {
	if k.ctx.Err() != nil {
		return nil, nil, nil
	}
	var reason string
	select {
	case e, ok := <-closes:
		if ok && e != nil {
			reason = fmt.Sprintf("%s (%d)", scrub(e.Reason, k.c.secrets), e.Code)
		}
	default:
	}
	k.mu.Lock()
	ch, conn := k.ch, k.conn
	cancelled := ch != nil && !ch.IsClosed() && reason == ""
	k.mu.Unlock()
	if cancelled {
		// The channel lives on but the consumer ended: the broker cancelled
		// it (the queue was deleted, or a quorum queue lost its leader for
		// good). Its deliveries are still held on the channel, so nothing is
		// void; say what happened.
		return nil, nil, fmt.Errorf("amqp: consuming queue %q: the broker cancelled the consumer (was the queue deleted?)", k.queue)
	}
	if reason == "" {
		reason = "the connection was closed"
	}
	k.void("channel lost: " + reason)
	if conn != nil && !conn.IsClosed() {
		conn.Close()
	}
	return k.reconnect(reason)
}

// void forgets every held delivery: their channel is gone, so the broker has
// requeued them.
func (k *Consumer) void(why string) {
	k.mu.Lock()
	n := len(k.held)
	k.stats.Voided += int64(n)
	k.held = map[int64]*heldDelivery{}
	k.order = k.order[:0]
	k.ch = nil
	k.gen++ // items still queued for Next are of a dead channel
	k.mu.Unlock()
	k.c.logf("consume %q: %s; %d held deliveries void (the broker requeued them)", k.queue, why, n)
}

// reconnect dials again with backoff until it consumes on a new channel, the
// consumer closes, or opts.Reconnect passes.
func (k *Consumer) reconnect(reason string) (<-chan amqp091.Delivery, chan *amqp091.Error, error) {
	deadline := time.Now().Add(k.opts.Reconnect)
	backoff := 100 * time.Millisecond
	var last error
	for attempt := 1; ; attempt++ {
		if k.ctx.Err() != nil {
			return nil, nil, nil
		}
		ctx, cancel := context.WithDeadline(k.ctx, deadline)
		conn, err := k.c.dial(ctx, "consume "+k.queue)
		cancel()
		if err == nil {
			var ds <-chan amqp091.Delivery
			var closes chan *amqp091.Error
			if ds, closes, err = k.open(conn); err == nil {
				k.mu.Lock()
				k.stats.Reconnects++
				k.mu.Unlock()
				k.c.logf("consume %q: reconnected after %d attempt(s)", k.queue, attempt)
				return ds, closes, nil
			}
			conn.Close()
		}
		if k.ctx.Err() != nil {
			return nil, nil, nil
		}
		last = err
		if time.Now().Add(backoff).After(deadline) {
			return nil, nil, fmt.Errorf("amqp: consuming queue %q: %s, and reconnecting failed for %s: %w", k.queue, reason, k.opts.Reconnect, last)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-k.ctx.Done():
			t.Stop()
			return nil, nil, nil
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// reconsume restarts the consumer on the same channel: held deliveries stay
// held (and ackable), and the new consumer gets a fresh prefetch window.
func (k *Consumer) reconsume(deliveries <-chan amqp091.Delivery, closes chan *amqp091.Error) (<-chan amqp091.Delivery, chan *amqp091.Error, error) {
	k.mu.Lock()
	ch := k.ch
	k.mu.Unlock()
	if ch == nil {
		return deliveries, closes, nil
	}
	// A cancelled consumer's deliveries channel closes once the broker's
	// cancel-ok arrived; what came before it is still held and handed out.
	if err := ch.Cancel(k.tag, false); err != nil {
		return k.lost(closes)
	}
	for d := range deliveries {
		if !k.take(&d) {
			return nil, nil, nil
		}
	}
	if ch.IsClosed() {
		return k.lost(closes)
	}
	ds, err := ch.Consume(k.queue, k.nextTag(), false, false, false, false, nil)
	if err != nil {
		return k.lost(closes)
	}
	k.mu.Lock()
	k.stats.Reconsumes++
	k.mu.Unlock()
	k.c.logf("consume %q: restarted the consumer: the prefetch window was full of deliveries not acknowledged", k.queue)
	return ds, closes, nil
}

// releaseExpired gives back every delivery held for longer than Hold.
func (k *Consumer) releaseExpired() {
	cutoff := time.Now().Add(-k.opts.Hold)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ch == nil {
		return
	}
	var n int64
	for _, seq := range k.order {
		h := k.held[seq]
		if h == nil || h.gen != k.gen || !h.at.Before(cutoff) {
			continue
		}
		if err := k.ch.Nack(h.tag, false, true); err != nil {
			return // the channel is going; lost() voids the rest
		}
		delete(k.held, seq)
		n++
	}
	if n > 0 {
		k.stats.Released += n
		k.prune()
		note := fmt.Sprintf("queue %q: released %d deliveries held for longer than %s (requeued; they come back)", k.queue, n, k.opts.Hold)
		k.notes = append(k.notes, note)
		k.c.logf("%s", note)
	}
}

// prune drops delivery numbers no longer held from order: from its front at
// once, and from anywhere once they outnumber the held ones (deliveries left
// unacknowledged at the front would otherwise make order grow for ever).
func (k *Consumer) prune() {
	i := 0
	for i < len(k.order) && k.held[k.order[i]] == nil {
		i++
	}
	k.order = k.order[i:]
	if len(k.order) > 2*len(k.held)+1024 {
		k.order = slices.DeleteFunc(slices.Clone(k.order), func(seq int64) bool { return k.held[seq] == nil })
	}
}

// Next returns the next deliveries, or io.EOF once the queue is drained (see
// Consumer). See bus.Source for the rest of the contract.
func (k *Consumer) Next(ctx context.Context) ([]event.Event, error) {
	if k.err != nil {
		return nil, k.err
	}
	var evs []event.Event
	quiet := time.NewTimer(k.opts.Quiet)
	defer quiet.Stop()
	for len(evs) == 0 {
		select {
		case it := <-k.out:
			if it.err != nil {
				k.err = it.err
				return nil, it.err
			}
			evs = k.hand(evs, it)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-k.ctx.Done():
			return nil, errConsumerClosed
		case <-quiet.C:
			if idle := time.Since(time.Unix(0, k.lastDelivery.Load())); idle < k.opts.Quiet {
				quiet.Reset(k.opts.Quiet - idle)
				continue
			}
			drained, err := k.drained(ctx)
			if err != nil {
				return nil, err
			}
			if drained {
				k.err = io.EOF
				return nil, io.EOF
			}
			quiet.Reset(k.opts.Quiet)
		}
	}
drain:
	for len(evs) < max(1, k.opts.Prefetch/2) {
		select {
		case it := <-k.out:
			if it.err != nil {
				k.err = it.err // after this batch
				break drain
			}
			evs = k.hand(evs, it)
		default:
			break drain
		}
	}
	return evs, nil
}

var errConsumerClosed = errors.New("amqp: consumer closed")

// hand appends it to evs if its delivery is still held on the live channel.
func (k *Consumer) hand(evs []event.Event, it consumed) []event.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	h := k.held[it.seq]
	if h == nil || it.gen != k.gen || h.gen != k.gen {
		return evs // void or released: it comes back as a new delivery
	}
	if len(evs) > 0 && k.batchGen != it.gen {
		// The channel of the deliveries already in this batch died while it
		// was assembled (and a new one delivered at once): theirs are void
		// and come again on this one, so the batch starts over rather than
		// hand the caller an event twice.
		evs = evs[:0]
	}
	h.handed = true
	k.batchGen = it.gen
	return append(evs, it.ev)
}

// Generation numbers the channel that the batch Next returned last came
// on (all of a batch comes on one). It grows when the consumer reconnects or
// restarts, after which the broker delivers again every message the caller
// left unacknowledged on the old channel: a caller counting those (filtered
// out, not selected) forgets its counts when the generation changes, or
// counts them twice. Call it
// from Next's goroutine.
func (k *Consumer) Generation() uint64 { return k.batchGen }

// drained checks whether the queue has nothing ready for us. When deliveries
// the caller left unacknowledged fill the prefetch window while messages are
// ready, it asks the reader to restart the consumer.
func (k *Consumer) drained(ctx context.Context) (bool, error) {
	k.mu.Lock()
	conn, live := k.conn, k.ch != nil
	held := 0
	for _, h := range k.held {
		if h.gen == k.gen {
			held++
		}
	}
	k.mu.Unlock()
	if !live || conn == nil || conn.IsClosed() || len(k.out) > 0 {
		return false, nil // reconnecting, or deliveries waiting
	}
	q, err := k.c.passive(conn, k.queue)
	if err != nil {
		if conn.IsClosed() || ctx.Err() != nil {
			return false, nil // the reader reconnects (or ctx ends Next)
		}
		return false, err
	}
	if q.Messages == 0 {
		return len(k.out) == 0, nil
	}
	if held >= k.opts.Prefetch {
		select {
		case k.recon <- struct{}{}:
		default:
		}
	}
	return false, nil
}

// Ack acknowledges exactly the deliveries of evs, which must have come from
// this Consumer's Next. It combines them into one multiple-ack where the
// deliveries before them are acked too. Events whose delivery is void (its
// channel was lost) or was released at the hold deadline are not acked —
// acking their tag would remove another message — but recorded as
// outcome-unknown (Stats, OutcomeUnknown); that is not an error. The error is
// for a Consumer already closed.
func (k *Consumer) Ack(ctx context.Context, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctx.Err() != nil {
		return errConsumerClosed
	}
	want := make(map[int64]bool, len(evs))
	var stale []event.Event
	for i := range evs {
		h := k.held[evs[i].Offset]
		if h == nil || h.gen != k.gen || k.ch == nil {
			stale = append(stale, evs[i])
			continue
		}
		want[evs[i].Offset] = true
	}
	// The longest prefix of held deliveries (in delivery order) that are all
	// to be acked is one basic.ack with multiple; the rest go one by one.
	k.prune()
	var upTo *heldDelivery
	var prefix []int64
	for _, seq := range k.order {
		h := k.held[seq]
		if h == nil {
			continue
		}
		if !want[seq] {
			break
		}
		upTo = h
		prefix = append(prefix, seq)
	}
	fail := func(seqs []int64) {
		for _, seq := range seqs {
			if h := k.held[seq]; h != nil {
				stale = append(stale, evByOffset(evs, seq))
			}
		}
	}
	if upTo != nil {
		if err := k.ch.Ack(upTo.tag, true); err != nil {
			fail(prefix)
			k.recordUnknown(stale)
			return nil
		}
		for _, seq := range prefix {
			delete(k.held, seq)
			delete(want, seq)
		}
		k.stats.Acked += int64(len(prefix))
	}
	rest := make([]int64, 0, len(want))
	for seq := range want {
		rest = append(rest, seq)
	}
	slices.Sort(rest)
	for i, seq := range rest {
		if err := k.ch.Ack(k.held[seq].tag, false); err != nil {
			fail(rest[i:])
			break
		}
		delete(k.held, seq)
		k.stats.Acked++
	}
	k.prune()
	k.recordUnknown(stale)
	return nil
}

func evByOffset(evs []event.Event, off int64) event.Event {
	for i := range evs {
		if evs[i].Offset == off {
			return evs[i]
		}
	}
	return event.Event{}
}

// recordUnknown notes acks whose outcome is unknown; k.mu is held.
func (k *Consumer) recordUnknown(evs []event.Event) {
	if len(evs) == 0 {
		return
	}
	k.stats.Unknown += int64(len(evs))
	for _, e := range evs {
		if len(k.unknown) < maxUnknown {
			k.unknown = append(k.unknown, e)
		}
	}
	k.c.logf("consume %q: %d ack(s) not sent: their deliveries are void or released (they come back)", k.queue, len(evs))
}

// Requeue gives back (nack, requeue) every delivery that Next handed out and
// that was not acknowledged, so that they are delivered again: after a failed
// write, to try them again in the same run. It returns how many it gave back.
func (k *Consumer) Requeue() (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ch == nil {
		return 0, nil // lost: the broker requeued them already
	}
	n := 0
	for _, seq := range k.order {
		h := k.held[seq]
		if h == nil || !h.handed || h.gen != k.gen {
			continue
		}
		if err := k.ch.Nack(h.tag, false, true); err != nil {
			return n, nil // the channel is going; the broker requeues the rest
		}
		delete(k.held, seq)
		n++
	}
	k.prune()
	if n > 0 {
		k.c.logf("consume %q: requeued %d deliveries handed out and not acknowledged", k.queue, n)
	}
	return n, nil
}

// Stats returns the consumer's counts so far.
func (k *Consumer) Stats() ConsumeStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats
}

// OutcomeUnknown returns the events (at most 10,000) that Ack could not
// acknowledge because their delivery was void or released: the broker
// requeued them, so they are delivered again.
func (k *Consumer) OutcomeUnknown() []event.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.unknown)
}

// Notes returns what the user should know that is not an error (deliveries
// released at the hold deadline).
func (k *Consumer) Notes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.notes)
}

// Held returns how many deliveries the consumer holds unacknowledged.
func (k *Consumer) Held() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held)
}

// String names the consumer for messages.
func (k *Consumer) String() string {
	return "amqp:" + k.queue + " (consuming, prefetch " + strconv.Itoa(k.opts.Prefetch) + ")"
}

// Close gives back every delivery still held (nack, requeue), closes the
// consumer's connection and makes a blocked Next return.
func (k *Consumer) Close() error {
	var err error
	k.once.Do(func() {
		k.cancel()
		k.wg.Wait() // the reader is gone: k.tag and the channel are ours
		k.mu.Lock()
		ch, conn := k.ch, k.conn
		held := len(k.held)
		k.held, k.order, k.ch = map[int64]*heldDelivery{}, nil, nil
		k.mu.Unlock()
		if ch != nil && held > 0 {
			k.giveBack(ch, held)
		}
		if conn != nil {
			if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, amqp091.ErrClosed) {
				err = fmt.Errorf("amqp: closing the consumer of %q: %s", k.queue, scrub(cerr.Error(), k.c.secrets))
			}
		}
	})
	return err
}

// giveBack requeues every delivery held on ch. Closing the connection would
// requeue them too; doing it first, with the consumer cancelled (else the
// broker would deliver them straight back to it), keeps their order in a
// classic queue and lets Close wait until the queue counts them as ready
// again, so its depth is whole when Close returns — a quorum queue applies a
// requeue through its log, after the nack's round trip.
func (k *Consumer) giveBack(ch *amqp091.Channel, held int) {
	if ch.Cancel(k.tag, false) != nil {
		return
	}
	before, err := ch.QueueDeclarePassive(k.queue, false, false, false, false, nil)
	// Delivery tag 0 with multiple: every unacknowledged delivery of ch.
	if err != nil || ch.Nack(0, true, true) != nil {
		return
	}
	waitReady(ch, k.queue, before.Messages+held)
}

// waitReady waits (up to 2 s) until queue has at least want ready messages,
// after a requeue: for a classic queue a round trip on the requeueing
// channel suffices, a quorum queue applies the requeue through its log a
// moment later. Other consumers may take messages meanwhile, hence the bound.
func waitReady(ch *amqp091.Channel, queue string, want int) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		if err != nil || q.Messages >= want || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // polling the broker: nothing to wait on
	}
}
