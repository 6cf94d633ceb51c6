package main

import (
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/inspect"
)

// sourceClients are the clients all.Sources opens a command's sources with:
// made (with these options) only when an address needs them, closed with
// the sources; a broker that stops answering is said on stderr.
func sourceClients(f *Factory, kopts []kafka.Option, aopts []amqp.Option) all.Clients {
	return all.Clients{
		Kafka:    func() (*kafka.Client, error) { return f.Kafka(kopts...) },
		AMQP:     func() (*amqp.Client, error) { return f.AMQP(aopts...) },
		Stdin:    f.IO.In,
		OnHealth: healthNotice(f),
	}
}

// reportSkipped says how many malformed lines each capture of set skipped.
func reportSkipped(f *Factory, set *all.Set) {
	for _, s := range set.Files() {
		inspect.WriteSkipped(f.IO.ErrOut, s.Name(), s.Skipped())
	}
}
