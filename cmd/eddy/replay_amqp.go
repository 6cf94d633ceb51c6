package main

import (
	"context"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/replay"
)

// openConsumer consumes a RabbitMQ queue for replay. It reconnects for as
// long as --timeout allows. A dry run does not consume: it peeks, as
// --backlog does (see dryRunPeekHelp) — the messages are got and given back
// at once, before the first is planned, so none is held for the rest of the
// run; a stream queue is read by offset.
func openConsumer(ctx context.Context, f *Factory, queue string, dryRun bool, prefetch int) (bus.Source, func(), error) {
	c, err := f.AMQP()
	if err != nil {
		return nil, nil, err
	}
	if dryRun {
		s, err := c.Source(ctx, []bus.Address{{Transport: "amqp", Name: queue}}, replay.DryRunRead)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return s, func() { s.Close(); c.Close() }, nil
	}
	k, err := c.Consume(ctx, queue, amqp.ConsumeOptions{Prefetch: prefetch, Reconnect: f.Global.Timeout})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return k, func() { k.Close(); c.Close() }, nil
}
