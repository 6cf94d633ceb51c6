package main

import (
	"context"
	"os"
	"runtime/debug"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/trace"
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

// traceInput is what trace, trace flows and expect read, opened: captures
// alone (regular files, the way a large capture is traced) go through the
// Correlator's parallel capture reader, anything else through the sources,
// merged.
type traceInput struct {
	trace.Input
	set *all.Set
	// gcPercent is the GOGC to restore on Close, when gcSet.
	gcPercent int
	gcSet     bool
}

// openTraceInput opens addrs; with none, every non-internal Kafka topic.
// fileRead applies to captures, read to Kafka and RabbitMQ.
func openTraceInput(ctx context.Context, f *Factory, addrs []string, read, fileRead bus.ReadOptions) (*traceInput, error) {
	clients, err := decodingClients(f, nil, nil)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	ok := false
	// The parallel capture reader hands lines to the correlator, past the
	// sources: with a decoder, captures are read as sources, decoded.
	if clients.Decoder == nil {
		if files, ok, err = all.Captures(addrs); err != nil {
			return nil, err
		}
	}
	in := &traceInput{Input: trace.Input{Skipped: func(name string, n int) { inspect.WriteSkipped(f.IO.ErrOut, name, n) }}}
	if !ok {
		a, err := all.Split(addrs, "trace")
		if err != nil {
			return nil, asUsage(err)
		}
		a.EveryTopic = len(addrs) == 0
		if in.set, err = all.Sources(ctx, clients, a, all.Read{Brokers: read, Files: fileRead}); err != nil {
			return nil, err
		}
		in.Source = in.set
		return in, nil
	}
	in.Captures, in.Keep, in.SkipBad = files, file.Keep(fileRead), fileRead.SkipBad
	// A capture's flows stay open to its end: the correlator's state is live
	// data that grows all along, which the collector would mark again at
	// every doubling. Collecting less often, until the report is out (Close),
	// saves about a fifth of the CPU, and the peak memory is the live data
	// either way. GOGC, when set, wins.
	if f.Getenv("GOGC") == "" {
		in.gcPercent, in.gcSet = debug.SetGCPercent(400), true
	}
	return in, nil
}

func (in *traceInput) Close() {
	if in.gcSet {
		debug.SetGCPercent(in.gcPercent)
		in.gcSet = false
	}
	if in.set != nil {
		in.set.Close()
	}
	for _, r := range in.Captures {
		r.Close()
	}
}

// correlate feeds the input into the correlator (trace.Correlator.Drive)
// and reports skipped malformed lines. It returns the latest broker
// timestamp seen.
func (in *traceInput) correlate(ctx context.Context, f *Factory, c *trace.Correlator, every time.Duration, tick func()) (time.Time, error) {
	latest, err := c.Drive(ctx, in.Input, every, tick)
	if err == nil {
		in.reportSkipped(f)
	}
	return latest, err
}

// reportSkipped says how many malformed lines the sources' captures
// skipped, once they were read (the parallel capture reader says it of
// each as it ends: Input.Skipped).
func (in *traceInput) reportSkipped(f *Factory) {
	if in.set != nil {
		reportSkipped(f, in.set)
	}
}
