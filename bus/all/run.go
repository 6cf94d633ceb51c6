package all

import (
	"context"
	"io"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/bus/kafka"
)

// What a run (eddy replay) writes to and consumes, opened with the clients
// it needs, each closed with what it opened.

// Sink opens the run's target to: a Kafka topic (with opts), a RabbitMQ
// exchange or queue, or a capture (file:- is stdout). Closing the sink
// closes the client it came from (c.Borrowed is not read).
func Sink(c Clients, to bus.Address, stdout io.Writer, opts ...kafka.SinkOption) (bus.Sink, error) {
	switch to.Transport {
	case "file":
		return file.Create(to.Name, stdout)
	case "amqp":
		ac, err := c.AMQP()
		if err != nil {
			return nil, err
		}
		s, err := ac.Sink(to)
		if err != nil {
			ac.Close()
			return nil, err
		}
		return &closeBoth{Sink: s, close: func() { ac.Close() }}, nil
	}
	kc, err := c.Kafka()
	if err != nil {
		return nil, err
	}
	s, err := kc.Sink(to.Name, opts...)
	if err != nil {
		kc.Close()
		return nil, err
	}
	return &closeBoth{Sink: s, close: kc.Close}, nil
}

// closeBoth is a sink that also closes the client it came from.
type closeBoth struct {
	bus.Sink
	close func()
}

// Unwrap returns the sink it wraps, which it adds nothing to but Close: a
// run may write through that sink's own interfaces (replay.Pipeliner).
func (s *closeBoth) Unwrap() bus.Sink { return s.Sink }

func (s *closeBoth) Close() error {
	err := s.Sink.Close()
	s.close()
	return err
}

// Consume consumes queue for a run that removes what it moved
// (amqp.Client.Consume: each message acknowledged once the run says so).
// The close function returned closes the consumer, then its client.
func Consume(ctx context.Context, c Clients, queue string, opts amqp.ConsumeOptions) (*amqp.Consumer, func(), error) {
	ac, err := c.AMQP()
	if err != nil {
		return nil, nil, err
	}
	k, err := ac.Consume(ctx, queue, opts)
	if err != nil {
		ac.Close()
		return nil, nil, err
	}
	return k, func() { k.Close(); ac.Close() }, nil
}
