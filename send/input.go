package send

import (
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
	return &lines{r: r, name: name, delim: keyDelim, closer: closer}
}

// lineSlab is the size of the slabs lines are read into.
const lineSlab = 1 << 20

type lines struct {
	r      io.Reader
	name   string
	delim  []byte
	n      int
	closer io.Closer
	item   Item
	// buf is the slab lines are read into, straight from r: buf[:end] was
	// read, buf[pos:end] is not handed out yet. The items' bytes are
	// buf's, never copied: one allocation per 1 MiB of lines, and no copy
	// of a line from a reader's buffer to its own (that copy, into memory
	// not yet touched, was a quarter of send's own CPU per line:
	// BenchmarkSendLinesKfake). A slab is never reused, so an item's bytes
	// stay valid until it is sent; a line a slab's end cuts moves to the
	// next slab.
	buf      []byte
	pos, end int
	// seen: buf[pos:seen] has no "\n" (a long line read in many pieces is
	// searched once, not again at every piece).
	seen int
	err  error // r's (io.EOF at its end), for when buf[pos:end] holds no whole line
}

func (l *lines) Next(context.Context) (*Item, error) {
	for {
		var line []byte
		if i := bytes.IndexByte(l.buf[l.seen:l.end], '\n'); i >= 0 {
			line = l.buf[l.pos : l.seen+i : l.seen+i]
			l.pos = l.seen + i + 1
			l.seen = l.pos
		} else if l.err == nil {
			l.seen = l.end
			l.fill()
			continue
		} else if !errors.Is(l.err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", l.name, l.err)
		} else if l.pos == l.end {
			return nil, io.EOF
		} else {
			// The last line, without a "\n".
			line = l.buf[l.pos:l.end:l.end]
			l.pos = l.end
		}
		l.n++
		if len(line) == 0 {
			continue
		}
		l.item = Item{Value: line, Where: l.name, Line: l.n}
		if l.delim != nil {
			if k, v, ok := bytes.Cut(line, l.delim); ok {
				l.item.Key, l.item.Value = k, v
			}
		}
		return &l.item, nil
	}
}

// fill reads more of r into buf, first moving the line begun at pos to a
// new slab when little room is left (a slab twice its length when the line
// is longer than a slab).
func (l *lines) fill() {
	if len(l.buf)-l.end < 4<<10 {
		rest := l.end - l.pos
		b := make([]byte, max(lineSlab, 2*rest))
		copy(b, l.buf[l.pos:l.end])
		l.buf, l.pos, l.end, l.seen = b, 0, rest, l.seen-l.pos
	}
	n, err := l.r.Read(l.buf[l.end:])
	l.end += n
	if err != nil {
		l.err = err
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
