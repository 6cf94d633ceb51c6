// Package file reads and writes captures: files of eddy's envelope, one event per
// line (see package event). A capture is how eddy's commands hand events to each
// other and to other tools (jq, kcat), and how tests pin down data.
package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// LineError is a malformed line in a capture.
type LineError struct {
	Path string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }

// Unwrap returns the decode error.
func (e *LineError) Unwrap() error { return e.Err }

const (
	batchEvents = 512
	batchBytes  = 1 << 20
)

// Source reads a capture. It is always read whole, start to end, then Next
// returns io.EOF: time positions in ReadOptions filter by event timestamp and
// offset positions by offset; End and Beginning make no difference.
type Source struct {
	name    string
	closer  io.Closer
	opts    bus.ReadOptions
	keep    func(*event.Event) bool // nil: every event
	batches chan batch
	stop    chan struct{}
	once    sync.Once
	done    bool

	mu      sync.Mutex
	skipped int
}

type batch struct {
	evs []event.Event
	err error
}

// Open opens a capture for reading; path "-" is r (standard input).
func Open(path string, stdin io.Reader, opts bus.ReadOptions) (*Source, error) {
	var r io.Reader
	var c io.Closer
	name := path
	if path == "-" {
		r, name = stdin, "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &bus.NotFoundError{Transport: "file", Kind: "file", Name: path}
			}
			return nil, fmt.Errorf("file: %w", err)
		}
		r, c = f, f
	}
	s := &Source{name: name, closer: c, opts: opts, keep: Keep(opts), batches: make(chan batch, 4), stop: make(chan struct{})}
	go s.read(bufio.NewReaderSize(r, 1<<20))
	return s, nil
}

// Name is the path read, or "stdin".
func (s *Source) Name() string { return s.name }

// Skipped returns how many malformed lines were skipped (with SkipBad).
func (s *Source) Skipped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// Keep is the filter a capture's ReadOptions make: time positions by the
// event's timestamp (From inclusive, Until inclusive), offsets by offset
// (Until exclusive), Kafka partitions by partition. It is nil when the
// options keep every event. eddy trace applies it to the captures it reads
// itself, so both readers select alike.
func Keep(o bus.ReadOptions) func(*event.Event) bool {
	if o.From.Kind != bus.PosTime && o.From.Kind != bus.PosOffset && o.Until.Kind != bus.PosTime && o.Until.Kind != bus.PosOffset && len(o.Partitions) == 0 {
		return nil
	}
	return func(e *event.Event) bool {
		switch o.From.Kind {
		case bus.PosTime:
			if e.Timestamp.Before(o.From.Time) {
				return false
			}
		case bus.PosOffset:
			if e.Offset < o.From.Offset {
				return false
			}
		}
		switch o.Until.Kind {
		case bus.PosTime:
			if e.Timestamp.After(o.Until.Time) {
				return false
			}
		case bus.PosOffset:
			if e.Offset >= o.Until.Offset {
				return false
			}
		}
		if len(o.Partitions) > 0 && e.Transport == event.Kafka {
			return slices.Contains(o.Partitions, e.Partition)
		}
		return true
	}
}

// read runs in its own goroutine so that Next can honour ctx even while a read
// from a pipe blocks.
func (s *Source) read(r *bufio.Reader) {
	defer close(s.batches)
	var evs []event.Event
	size, lineNo := 0, 0
	send := func(b batch) bool {
		select {
		case s.batches <- b:
			return true
		case <-s.stop:
			return false
		}
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			line = bytes.TrimRight(line, "\r\n")
			if len(bytes.TrimSpace(line)) > 0 {
				e, derr := event.DecodeEnvelope(line)
				switch {
				case derr != nil && s.opts.SkipBad:
					s.mu.Lock()
					s.skipped++
					s.mu.Unlock()
				case derr != nil:
					if len(evs) > 0 && !send(batch{evs: evs}) {
						return
					}
					send(batch{err: &LineError{Path: s.name, Line: lineNo, Err: derr}})
					return
				case s.keep == nil || s.keep(e):
					evs = append(evs, *e)
					size += len(line)
				}
			}
			// Hand over what we have when the batch is full, or when the next
			// read could block (a live pipe): a tail of stdin must show each
			// line as it comes, not when 512 have piled up.
			if len(evs) >= batchEvents || size >= batchBytes || (len(evs) > 0 && r.Buffered() == 0) {
				if !send(batch{evs: evs}) {
					return
				}
				evs, size = nil, 0
			}
		}
		if err != nil {
			if len(evs) > 0 && !send(batch{evs: evs}) {
				return
			}
			if err != io.EOF {
				send(batch{err: fmt.Errorf("file: reading %s: %w", s.name, err)})
			}
			return
		}
	}
}

// Next returns the next batch, or io.EOF at the end of the capture.
func (s *Source) Next(ctx context.Context) ([]event.Event, error) {
	if s.done {
		return nil, io.EOF
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case b, ok := <-s.batches:
		if !ok {
			s.done = true
			return nil, io.EOF
		}
		if b.err != nil {
			s.done = true
			return nil, b.err
		}
		return b.evs, nil
	}
}

// Close stops reading and closes the file.
func (s *Source) Close() error {
	s.once.Do(func() { close(s.stop) })
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// Sink writes events as envelope lines.
type Sink struct {
	w      *bufio.Writer
	f      *os.File
	buf    []byte
	closed bool
}

// Create opens path for writing a capture; "-" writes to stdout. An existing
// file is appended to, never truncated: a capture is a log.
func Create(path string, stdout io.Writer) (*Sink, error) {
	if path == "-" {
		return &Sink{w: bufio.NewWriterSize(stdout, 1<<16)}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &Sink{w: bufio.NewWriterSize(f, 1<<16), f: f}, nil
}

// Preflight checks, creating and changing nothing, what Create(path) needs:
// an existing path is a file that opens for appending; a new one's
// directory exists. A dry run calls it where the real run calls Create.
func Preflight(path string) error {
	if path == "-" {
		return nil
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("file: %s is a directory", path)
	case err == nil && st.Mode().IsRegular():
		// Opening to append, without O_CREATE, changes nothing.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("file: %w", err)
		}
		return f.Close()
	case err == nil:
		return nil // a device or a pipe: opening it could block or consume
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("file: %w", err)
	}
	dir := filepath.Dir(path)
	st, err = os.Stat(dir)
	if err != nil {
		return fmt.Errorf("file: cannot create %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("file: cannot create %s: %s is not a directory", path, dir)
	}
	return nil
}

// SameFile reports whether paths a and b name one file: the same file when
// both exist (a symlink, a hard link, ./x and x), else the same cleaned
// absolute path.
func SameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// CheckCreatable reports whether os.MkdirAll(dir) could succeed, creating
// nothing: dir's nearest existing ancestor is a directory.
func CheckCreatable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("cannot create %s: %s is not a directory", dir, d)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot create %s: %w", dir, err)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// Write appends evs and flushes them (and fsyncs a file), so that a nil return
// means they are durable.
func (s *Sink) Write(ctx context.Context, evs []event.Event) error {
	for i := range evs {
		s.buf = event.AppendEnvelope(s.buf[:0], &evs[i])
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return &bus.WriteError{Written: 0, Err: err}
		}
	}
	if err := s.w.Flush(); err != nil {
		return &bus.WriteError{Written: 0, Err: err}
	}
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			return &bus.WriteError{Written: 0, Err: err}
		}
	}
	return ctx.Err()
}

// Close flushes and closes the file.
func (s *Sink) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.w.Flush()
	if s.f != nil {
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
