// Package all opens sources of every transport: the one place that splits
// addresses by transport, opens each with its client and merges them
// (restic's internal/backend/all is the shape). It sits above the adapters,
// which package bus cannot import (they import it); tail, trace, trace
// flows, expect and the TUI open what they read through it.
package all

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/schema"
)

// Clients are how Sources reaches the brokers.
type Clients struct {
	// Kafka and AMQP return the transport's client; each is called at most
	// once, and only when an address needs it. nil leaves the transport out:
	// an address of it is an error.
	Kafka func() (*kafka.Client, error)
	AMQP  func() (*amqp.Client, error)
	// Borrowed says the clients are the caller's: Set.Close leaves them open.
	Borrowed bool
	// Stdin is what file:- reads.
	Stdin io.Reader
	// OnHealth, when set, is the brokers' bus.ReadOptions.OnHealth (captures
	// have no health).
	OnHealth func(bus.Health)
	// Decoder, when set, decodes every event Sources reads (schema.Source):
	// tail, trace, trace flows, expect and the TUI set it; replay never
	// does, it copies bytes.
	Decoder *schema.Decoder
}

// Addrs are addresses sorted by transport.
type Addrs struct {
	Kafka, AMQP, Files []bus.Address
	// EveryTopic adds every non-internal Kafka topic (trace's default).
	EveryTopic bool
}

// ErrNoTopics is Sources' error when EveryTopic found no topic to read.
var ErrNoTopics = errors.New("kafka: no topics to trace (name SOURCEs, e.g. kafka:orders or file:capture.jsonl)")

// Split parses addrs and sorts them by transport; reader names the command
// in the error for an exchange ("tail reads queues …"). Every error is the
// user's (a usage error).
func Split(addrs []string, reader string) (Addrs, error) {
	var out Addrs
	for _, s := range addrs {
		a, err := bus.ParseAddress(s)
		if err != nil {
			return Addrs{}, err
		}
		if a.Transport == "amqp" && a.Name == "" {
			return Addrs{}, fmt.Errorf("address %q: %s reads queues (amqp:QUEUE), not exchanges", s, reader)
		}
		if a.Transport == "file" && a.Name == "-" && slices.ContainsFunc(out.Files, func(f bus.Address) bool { return f.Name == "-" }) {
			return Addrs{}, errors.New("file:- (stdin) can be read only once")
		}
		out.add(a)
	}
	return out, nil
}

// Sort sorts parsed addresses by transport.
func Sort(addrs []bus.Address) Addrs {
	var out Addrs
	for _, a := range addrs {
		out.add(a)
	}
	return out
}

// add puts x with its transport's addresses.
func (a *Addrs) add(x bus.Address) {
	if to := map[string]*[]bus.Address{"kafka": &a.Kafka, "amqp": &a.AMQP, "file": &a.Files}[x.Transport]; to != nil {
		*to = append(*to, x)
	}
}

// Live reports whether any of addrs is a broker's (not a capture), or
// addrs is empty (trace's every topic): a window that ends at the time of
// the run.
func Live(addrs []string) bool {
	for _, s := range addrs {
		if a, err := bus.ParseAddress(s); err != nil || a.Transport != "file" {
			return true
		}
	}
	return len(addrs) == 0
}

// Read is how Sources reads: Brokers applies to Kafka and RabbitMQ, Files to
// captures.
type Read struct {
	Brokers, Files bus.ReadOptions
}

// Set is the sources opened, merged into one.
type Set struct {
	bus.Source
	files  []*file.Source
	amqp   []*amqp.Source
	closer []func()
	// borrowed: the clients are the caller's (Clients.Borrowed).
	borrowed bool
}

// Sources opens a's captures, then its Kafka topics, then its RabbitMQ
// queues, and merges them. On error nothing is left open.
func Sources(ctx context.Context, c Clients, a Addrs, read Read) (*Set, error) {
	set := &Set{borrowed: c.Borrowed}
	var srcs []bus.Source
	fail := func(err error) (*Set, error) {
		for _, s := range srcs {
			s.Close()
		}
		set.closeClients()
		return nil, err
	}
	for _, f := range a.Files {
		s, err := file.Open(f.Name, c.Stdin, read.Files)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, s)
		set.files = append(set.files, s)
	}
	brokers := read.Brokers
	if c.OnHealth != nil {
		brokers.OnHealth = c.OnHealth
	}
	if len(a.Kafka) > 0 || a.EveryTopic {
		if c.Kafka == nil {
			return fail(errors.New("no Kafka configured"))
		}
		kc, err := c.Kafka()
		if err != nil {
			return fail(err)
		}
		set.own(kc.Close)
		topics := a.Kafka
		if a.EveryTopic {
			ts, err := kc.Topics(ctx, false)
			if err != nil {
				return fail(err)
			}
			for _, t := range ts {
				topics = append(topics, bus.Address{Transport: "kafka", Name: t.Name})
			}
			if len(topics) == 0 {
				return fail(ErrNoTopics)
			}
		}
		s, err := kc.Source(ctx, topics, brokers)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, s)
	}
	if len(a.AMQP) > 0 {
		if c.AMQP == nil {
			return fail(errors.New("no RabbitMQ configured"))
		}
		ac, err := c.AMQP()
		if err != nil {
			return fail(err)
		}
		set.own(func() { ac.Close() })
		s, err := ac.Source(ctx, a.AMQP, brokers)
		if err != nil {
			return fail(err)
		}
		srcs = append(srcs, s)
		if as, ok := s.(*amqp.Source); ok {
			set.amqp = append(set.amqp, as)
		}
	}
	// Decoding one batch ahead overlaps it with the caller's printing or
	// tracing, unless reading takes something: a consumer group commits
	// what was read, Backlog takes a queue's messages; then a batch read
	// ahead and never looked at (tail -n) would be lost to the caller.
	if brokers.Group == "" && !brokers.Backlog {
		set.Source = schema.SourceAhead(bus.Merge(srcs...), c.Decoder)
	} else {
		set.Source = schema.Source(bus.Merge(srcs...), c.Decoder)
	}
	return set, nil
}

// own has Close close a client Sources got, unless it is borrowed.
func (s *Set) own(close func()) {
	if !s.borrowed {
		s.closer = append(s.closer, close)
	}
}

func (s *Set) closeClients() {
	for i := len(s.closer) - 1; i >= 0; i-- {
		s.closer[i]()
	}
	s.closer = nil
}

// Close closes the sources, then the clients Sources made.
func (s *Set) Close() error {
	var err error
	if s.Source != nil {
		err = s.Source.Close()
	}
	s.closeClients()
	return err
}

// Files returns the captures read, for their Skipped counts.
func (s *Set) Files() []*file.Source { return s.files }

// Notes returns what the RabbitMQ sources want said that is not an error
// (amqp.Source.Notes).
func (s *Set) Notes() []string {
	var out []string
	for _, a := range s.amqp {
		out = append(out, a.Notes()...)
	}
	return out
}

// Captures opens the files addrs name when every one is a capture in a
// regular file (not stdin, not a pipe, which must be read line by line as
// they come): the way trace reads a large capture, in parallel
// (trace.Input.Captures). ok is false, and nothing opened, otherwise.
func Captures(addrs []string) (files []*os.File, ok bool, err error) {
	var paths []string
	for _, s := range addrs {
		a, err := bus.ParseAddress(s)
		if err != nil || a.Transport != "file" || a.Name == "-" {
			return nil, false, nil
		}
		if st, err := os.Stat(a.Name); err != nil || !st.Mode().IsRegular() {
			return nil, false, nil
		}
		paths = append(paths, a.Name)
	}
	if len(paths) == 0 {
		return nil, false, nil
	}
	for _, p := range paths {
		r, err := os.Open(p)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			if errors.Is(err, os.ErrNotExist) {
				return nil, true, &bus.NotFoundError{Transport: "file", Kind: "file", Name: p}
			}
			return nil, true, fmt.Errorf("file: %w", err)
		}
		files = append(files, r)
	}
	return files, true, nil
}
