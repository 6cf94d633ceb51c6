package send

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// Item is one event to send as read: a payload (and a key, in line mode
// with a key delimiter), or a whole event from a capture.
type Item struct {
	Key   []byte // nil: none (the key flag applies)
	Value []byte
	// Event is set for an item from a capture: it is sent with its own key,
	// headers and properties, untouched by templates.
	Event *event.Event
	// Where says where the item came from, for errors ("order.json",
	// "stdin event 3"); for a line, the name of what it was read from, and
	// Line its number (see Position).
	Where string
	Line  int
	// template is the value compiled, cached across the repeats of a file.
	template *Template
	// plain: a line (without a key) that has no placeholder and gets none
	// from the options, found by Run.
	plain bool
}

// Position says where the item came from, for errors: "order.json",
// "stdin line 3". A line's is made only when asked for (an error): made for
// every line, it was a quarter of send's CPU on a million lines
// (BenchmarkSendLinesKfake).
func (it *Item) Position() string {
	if it.Line > 0 {
		return fmt.Sprintf("%s line %d", it.Where, it.Line)
	}
	return it.Where
}

// Input is a stream of items. Next returns io.EOF after the last one.
type Input interface {
	Next(ctx context.Context) (*Item, error)
	Close() error
}

// Files is one event per file, each file's bytes the payload, in order;
// with repeat, the files are sent again from the first until the caller
// stops (--count).
func Files(paths []string, stdin io.Reader, repeat bool) (Input, error) {
	in := &files{repeat: repeat}
	for _, p := range paths {
		var b []byte
		var err error
		if p == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(p)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, unwrapPath(err))
		}
		in.items = append(in.items, Item{Value: b, Where: p, template: Compile(b)})
	}
	return in, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type files struct {
	items  []Item
	next   int
	repeat bool
}

func (f *files) Next(context.Context) (*Item, error) {
	if f.next >= len(f.items) {
		if !f.repeat || len(f.items) == 0 {
			return nil, io.EOF
		}
		f.next = 0
	}
	it := &f.items[f.next]
	f.next++
	return it, nil
}

func (f *files) Close() error { return nil }

// Lines is one event per line of r (kcat -P's line mode): the line without
// its "\n" is the payload; with keyDelim, the bytes before the first
// keyDelim are the key and those after it the value (a line without it is a
// value without a key). Empty lines are skipped. name says where, for errors.
func Lines(r io.Reader, name string, keyDelim []byte, closer io.Closer) Input {
	return &lines{r: bufio.NewReaderSize(r, 1<<20), name: name, delim: keyDelim, closer: closer}
}

type lines struct {
	r      *bufio.Reader
	name   string
	delim  []byte
	n      int
	closer io.Closer
	item   Item
	// slab holds the bytes of the lines handed out: one allocation per
	// 1 MiB of lines instead of one per line (each item's bytes stay valid
	// until it is sent: they are never reused).
	slab []byte
}

func (l *lines) Next(context.Context) (*Item, error) {
	for {
		line, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = l.r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", l.name, err)
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		l.n++
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			continue
		}
		if len(l.slab) < len(line) {
			l.slab = make([]byte, max(1<<20, len(line)))
		}
		b := l.slab[:len(line):len(line)]
		copy(b, line)
		l.slab = l.slab[len(line):]
		l.item = Item{Value: b, Where: l.name, Line: l.n}
		if l.delim != nil {
			if k, v, ok := bytes.Cut(b, l.delim); ok {
				l.item.Key, l.item.Value = k, v
			}
		}
		return &l.item, nil
	}
}

func (l *lines) Close() error {
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}

// Capture reads the events of a capture (eddy's envelope, as replay reads
// it: file:PATH, file:- for stdin) to send each with its key, headers and
// properties.
func Capture(path string, stdin io.Reader) (Input, error) {
	s, err := file.Open(path, stdin, bus.ReadOptions{})
	if err != nil {
		return nil, err
	}
	return &capture{s: s, name: path}, nil
}

type capture struct {
	s     *file.Source
	name  string
	batch []event.Event
	n     int
}

func (c *capture) Next(ctx context.Context) (*Item, error) {
	for len(c.batch) == 0 {
		evs, err := c.s.Next(ctx)
		if err != nil {
			return nil, err
		}
		c.batch = evs
	}
	e := &c.batch[0]
	c.batch = c.batch[1:]
	c.n++
	return &Item{Event: e, Value: e.Value, Key: e.Key, Where: fmt.Sprintf("%s event %d", c.name, c.n)}, nil
}

func (c *capture) Close() error { return c.s.Close() }
