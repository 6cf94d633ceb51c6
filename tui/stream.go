package tui

import (
	"context"
	"errors"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
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
}

type sourceBatch struct {
	evs []event.Event
	err error
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
}

func startStream(ctx context.Context, id int, src bus.Source, batchMax int, flush time.Duration) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{id: id, ch: make(chan sourceBatch, 8), cancel: cancel, src: src, max: batchMax, flush: flush}
	if s.max <= 0 {
		s.max = DefaultBatchMax
	}
	if s.flush <= 0 {
		s.flush = DefaultFlush
	}
	go func() {
		defer close(s.ch)
		for {
			evs, err := src.Next(ctx)
			if ctx.Err() != nil {
				return
			}
			select {
			case s.ch <- sourceBatch{evs, err}:
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
		b, ok := <-s.ch
		if !ok {
			return eventsMsg{stream: s.id, err: context.Canceled}
		}
		evs, err := b.evs, b.err
		if err != nil {
			return eventsMsg{stream: s.id, evs: evs, err: err}
		}
		t := time.NewTimer(s.flush)
		defer t.Stop()
		for len(evs) < s.max {
			select {
			case b, ok := <-s.ch:
				if !ok {
					return eventsMsg{stream: s.id, evs: evs, err: context.Canceled}
				}
				evs = append(evs, b.evs...)
				if b.err != nil {
					return eventsMsg{stream: s.id, evs: evs, err: b.err}
				}
			case <-t.C:
				return eventsMsg{stream: s.id, evs: evs}
			}
		}
		return eventsMsg{stream: s.id, evs: evs}
	}
}

// ended reports whether err ends a stream normally (its --until reached, or
// the TUI closed it).
func ended(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, context.Canceled)
}
