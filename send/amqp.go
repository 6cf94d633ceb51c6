package send

import (
	"context"
	"errors"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/event"
)

// amqpInFlight is how many single-event publishes wait to be settled before
// Send settles the oldest; the sink's own window bounds the messages in
// flight on the channel.
const amqpInFlight = 1024

// AMQPProducer publishes through a bus/amqp Sink: publisher confirms and
// the mandatory flag, so a message no queue takes is returned, not dropped.
type AMQPProducer struct {
	s    *amqp.Sink
	t    *Tracker
	fifo []pending
	// stop is the first failure that is not the broker's word on one
	// message (a lost connection): nothing more is sent after it.
	stop error
}

type pending struct {
	i int64
	p *amqp.Pending
}

// NewAMQP returns a producer to addr (amqp:QUEUE or amqp:exchange/EX[/KEY])
// that reports to t. It connects and checks the destination exists.
func NewAMQP(ctx context.Context, c *amqp.Client, addr bus.Address, t *Tracker) (*AMQPProducer, error) {
	s, err := c.Sink(addr)
	if err != nil {
		return nil, err
	}
	sink := s.(*amqp.Sink)
	if err := sink.Preflight(ctx); err != nil {
		sink.Close()
		return nil, err
	}
	return &AMQPProducer{s: sink, t: t}, nil
}

// Send implements Producer.
func (p *AMQPProducer) Send(ctx context.Context, i int64, ev *event.Event) error {
	if p.stop != nil {
		return p.stop
	}
	pub := p.s.Publish(ctx, []event.Event{*ev})
	p.fifo = append(p.fifo, pending{i: i, p: pub})
	if pub.Failed() != nil {
		// The channel is gone: every batch in flight failed with it, so
		// settling them all is immediate, and nothing more is sent
		// (without this, a thousand more events went to a dead sink).
		for len(p.fifo) > 0 {
			p.settle(ctx)
		}
	}
	for len(p.fifo) > amqpInFlight {
		p.settle(ctx)
	}
	// Event i is the tracker's now (queued or settled): the next Send
	// says that nothing more can be sent.
	return nil
}

func (p *AMQPProducer) settle(ctx context.Context) {
	f := p.fifo[0]
	p.fifo = p.fifo[1:]
	err := f.p.Wait(ctx)
	if err == nil {
		p.t.Landed(f.i)
		return
	}
	var we *bus.WriteError
	if errors.As(err, &we) {
		err = we.Err
	}
	if errors.Is(err, amqp.ErrConnectionLost) && !errors.Is(err, bus.ErrConnect) {
		// Lost, not refused: to the user the broker went away (exit 4).
		err = lostError{err}
	}
	var pe *amqp.PublishError
	if !errors.As(err, &pe) && p.stop == nil {
		p.stop = err
	}
	p.t.Failed(f.i, err)
}

// lostError is a lost connection, which is also bus.ErrConnect.
type lostError struct{ err error }

func (e lostError) Error() string   { return e.err.Error() }
func (e lostError) Unwrap() []error { return []error{bus.ErrConnect, e.err} }

// Flush implements Producer.
func (p *AMQPProducer) Flush(ctx context.Context) error {
	for len(p.fifo) > 0 {
		p.settle(ctx)
	}
	return p.stop
}

// Close implements Producer.
func (p *AMQPProducer) Close() error { return p.s.Close() }
