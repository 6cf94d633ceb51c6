package tui

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// Defaults for batching a stream into messages.
const (
	// DefaultBatchMax is the most events one message carries.
	DefaultBatchMax = 4096
	// DefaultFlush is the longest a message waits for more events once it
	// has one: one frame at 60 frames/s.
	DefaultFlush = time.Second / 60
)

// eventsMsg is a batch of a stream's events (up to BatchMax, or what came
// within one flush interval). err is the stream's end: io.EOF, or why it
// failed.
type eventsMsg struct {
	stream int
	evs    []event.Event
	err    error
	// match[i] says whether evs[i] matched flt, as the reader evaluated it
	// off the UI goroutine; nil when it did not (no filter, or the filter
	// changed within the message).
	match []bool
	flt   *inspect.Filter
	fails matchFailures
}

// matchFailures counts events a filter failed on, and keeps the first error.
type matchFailures struct {
	n     uint64
	first string
}

func (f *matchFailures) add(o matchFailures) {
	if f.first == "" {
		f.first = o.first
	}
	f.n += o.n
}

// matchBatch matches evs against f (safe on any goroutine).
func matchBatch(f *inspect.Filter, evs []event.Event) ([]bool, matchFailures) {
	match := make([]bool, len(evs))
	var fails matchFailures
	for i := range evs {
		ok, err := f.Match(&evs[i])
		if err != nil {
			fails.add(matchFailures{1, err.Error()})
		}
		match[i] = ok
	}
	return match, fails
}

type sourceBatch struct {
	evs   []event.Event
	err   error
	match []bool
	flt   *inspect.Filter
	fails matchFailures
}

// stream reads a bus.Source on its own goroutine into a small channel. The
// UI pulls from the channel one message at a time (next), so while the UI
// does not ask (a pause) the reader blocks and the source is not read on:
// nothing is lost and memory stays bounded.
type stream struct {
	id       int
	ch       chan sourceBatch
	cancel   context.CancelFunc
	src      bus.Source
	max      int
	flush    time.Duration
	finished bool
	// filter is evaluated by the reader, so a filtered tail at a high rate
	// costs the UI goroutine nothing per event (Filter.Match is safe for
	// concurrent use).
	filter atomic.Pointer[inspect.Filter]
	// wake, when set, makes a waiting next return an empty message: the
	// source's health changed and the status bar should say so.
	wake <-chan struct{}
}

// startStream starts reading src; flt, when set, is matched by the reader
// (setFilter changes it later).
func startStream(ctx context.Context, id int, src bus.Source, batchMax int, flush time.Duration, flt *inspect.Filter) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{id: id, ch: make(chan sourceBatch, 8), cancel: cancel, src: src, max: batchMax, flush: flush}
	if s.max <= 0 {
		s.max = DefaultBatchMax
	}
	if s.flush <= 0 {
		s.flush = DefaultFlush
	}
	s.filter.Store(flt)
	go func() {
		defer close(s.ch)
		for {
			evs, err := src.Next(ctx)
			if ctx.Err() != nil {
				return
			}
			b := sourceBatch{evs: evs, err: err}
			if f := s.filter.Load(); f != nil && len(evs) > 0 {
				b.flt = f
				b.match, b.fails = matchBatch(f, evs)
			}
			select {
			case s.ch <- b:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// stop ends the reader and closes the source.
func (s *stream) stop() {
	s.cancel()
	s.src.Close()
}

// next is the command that delivers the stream's next message.
func (s *stream) next() tea.Cmd {
	return func() tea.Msg {
		var b sourceBatch
		var ok bool
		select {
		case b, ok = <-s.ch:
		case <-s.wake:
			return eventsMsg{stream: s.id} // nothing new: a redraw
		}
		if !ok {
			return eventsMsg{stream: s.id, err: context.Canceled}
		}
		m := eventsMsg{stream: s.id, evs: b.evs, err: b.err, match: b.match, flt: b.flt, fails: b.fails}
		if b.err != nil {
			return m
		}
		t := time.NewTimer(s.flush)
		defer t.Stop()
		for len(m.evs) < s.max {
			select {
			case b, ok := <-s.ch:
				if !ok {
					m.err = context.Canceled
					return m
				}
				m.merge(b)
				if b.err != nil {
					m.err = b.err
					return m
				}
			case <-t.C:
				return m
			}
		}
		return m
	}
}

// merge appends a batch; match flags survive only while every batch was
// evaluated with the same filter.
func (m *eventsMsg) merge(b sourceBatch) {
	n := len(m.evs)
	m.evs = append(m.evs, b.evs...)
	switch {
	case len(b.evs) == 0:
	case n == 0:
		m.match, m.flt = b.match, b.flt
	case m.match != nil && b.match != nil && m.flt == b.flt:
		m.match = append(m.match, b.match...)
	default:
		m.match, m.flt = nil, nil
	}
	m.fails.add(b.fails)
}

// ended reports whether err ends a stream normally (its --until reached, or
// the TUI closed it).
func ended(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, context.Canceled)
}
