// Package iostreams is what a command reads and writes: stdin, stdout and a
// stderr that masks every secret eddy was given, with what each is (a
// terminal or not, its width, colour), so commands run the same on buffers
// in tests as on a terminal (gh's pkg/iostreams).
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/term"
)

// IOStreams is what a command reads and writes. Commands never touch os.Stdout
// directly, so tests drive them with buffers, once as a terminal and once as a
// pipe (gh's iostreams habit).
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// OutTTY says stdout is a terminal: pretty output and colour by default.
	OutTTY bool
	// ErrTTY says stderr is a terminal: progress may be drawn there.
	ErrTTY bool
	// Width of the terminal in cells, 0 when unknown or not a terminal.
	Width int
	// NoColor is set by NO_COLOR (https://no-color.org) or TERM=dumb.
	NoColor bool
	// OpenTTY opens the controlling terminal (/dev/tty) for reading and
	// writing; nil, or an error, when there is none. The TUI draws there
	// when stderr is redirected (`eddy tui 2>debug.log`), as fzf does.
	OpenTTY func() (*os.File, error)
}

// Color reports whether stdout output may use colour.
func (s *IOStreams) Color() bool { return s.OutTTY && !s.NoColor }

// System returns the process's streams, with stderr passed through the
// secret redactor.
func System(redact *Redactor) *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: redact.Writer(os.Stderr)}
	s.OutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.ErrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	if s.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.Width = w
		}
	} else if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil {
		s.Width = c
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	s.NoColor = noColor || os.Getenv("TERM") == "dumb"
	s.OpenTTY = openControllingTTY
	return s
}

// openControllingTTY opens /dev/tty, the process's controlling terminal,
// whatever its standard streams were redirected to.
func openControllingTTY() (*os.File, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if !term.IsTerminal(int(f.Fd())) {
		f.Close()
		return nil, fmt.Errorf("/dev/tty is not a terminal")
	}
	return f, nil
}

// Test returns streams over buffers, for tests. Out and ErrOut are
// *SyncWriter.
func Test(tty bool) (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s := &IOStreams{In: in, Out: &SyncWriter{w: out}, ErrOut: &SyncWriter{w: errOut}, OutTTY: tty, ErrTTY: tty}
	if tty {
		s.Width = 120
	}
	return s, in, out, errOut
}

// SyncWriter serialises writes to a buffer of Test's streams.
type SyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// String returns what was written so far; for tests, whose buffers a client's
// background goroutine (a debug logger) may still be writing to.
func (w *SyncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.(fmt.Stringer).String()
}

func (w *SyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// Redactor replaces known secrets with **** in everything written through it.
// Adapters already keep passwords out of their errors; this is the second line
// of defence for whatever a dependency might print (--debug logs above all).
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers a secret. Short values are ignored: masking "a" everywhere would
// mangle output without protecting anything.
func (r *Redactor) Add(secret string) {
	if len(secret) < 3 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, secret)
}

// Redact returns s with every registered secret masked.
func (r *Redactor) Redact(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "****")
	}
	return s
}

// AddURL makes the redactor mask the password in a URL, as it is and
// query- or path-escaped.
func (r *Redactor) AddURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return
	}
	if p, ok := u.User.Password(); ok {
		r.Add(p)
		if esc := url.QueryEscape(p); esc != p {
			r.Add(esc)
		}
		if esc := url.PathEscape(p); esc != p {
			r.Add(esc)
		}
	}
}

// Writer wraps w so that everything written is redacted.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &redactWriter{r: r, w: w} }

type redactWriter struct {
	r *Redactor
	w io.Writer
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	rw.r.mu.RLock()
	n := len(rw.r.secrets)
	rw.r.mu.RUnlock()
	if n == 0 {
		return rw.w.Write(p)
	}
	if _, err := io.WriteString(rw.w, rw.r.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
