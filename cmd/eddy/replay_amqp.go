package main

import (
	"context"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/replay"
)

// openConsumer consumes a RabbitMQ queue for replay. It reconnects for as
// long as --timeout allows. A dry run consumes without acknowledging
// anything: Close gives every message back (marked redelivered).
func openConsumer(ctx context.Context, f *Factory, queue string, dryRun bool, prefetch int) (bus.Source, func(), error) {
	c, err := f.AMQP()
	if err != nil {
		return nil, nil, err
	}
	k, err := c.Consume(ctx, queue, amqp.ConsumeOptions{Prefetch: prefetch, Reconnect: f.Global.Timeout})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	closeAll := func() { k.Close(); c.Close() }
	if dryRun {
		return readOnlySource{k}, closeAll, nil
	}
	return k, closeAll, nil
}

// readOnlySource hides a source's Ack, so a dry run acknowledges nothing.
type readOnlySource struct{ bus.Source }

// runConsuming is replay.RunConsuming (a lost connection retried for
// --timeout) with the outcome-unknown identities in rep.Unknown.
func runConsuming(ctx context.Context, f *Factory, k *amqp.Consumer, dst bus.Sink, opts replay.Options, rep *replayReport) (replay.Summary, error) {
	sum, unknown, err := replay.RunConsuming(ctx, k, dst, opts, replay.Outage{Timeout: f.Global.Timeout, Debug: f.debugWriter()})
	rep.Unknown = unknown
	return sum, err
}
