package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// Format is an output format of eddy tail (-o).
type Format int

// The output formats.
const (
	// Pretty is one line per event for a person: time, origin, key, type, id and
	// the payload, terminal-safe, optionally coloured and clipped to the width.
	Pretty Format = iota
	// JSONL is the envelope (see package event), one event per line: lossless,
	// stable, and terminal-safe because the envelope escapes what JSON allows raw.
	JSONL
	// Raw is the value bytes followed by a newline, unmodified. It is for pipes
	// and is NOT terminal-safe by design: see SafeForTerminal.
	Raw
	// Template is a Go text/template over a view of the event; see NewPrinter.
	Template
	// Kcat is kcat's -f FORMAT (%s %k %t %p %o %T %h ...; see kcat.go),
	// in PrinterOptions.Template; PrinterOptions.Escape makes it
	// terminal-safe.
	Kcat
)

// String returns the name ParseFormat accepts for f.
func (f Format) String() string {
	switch f {
	case Pretty:
		return "pretty"
	case JSONL:
		return "jsonl"
	case Raw:
		return "raw"
	case Template:
		return "template"
	case Kcat:
		return "kcat"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// SafeForTerminal reports whether output in f may be written to a terminal
// regardless of what the events contain. Only Raw is not: it writes payload bytes
// exactly as produced, escape sequences included, so that pipes get them whole.
// A command should refuse raw output to a TTY (or ask for an explicit override)
// rather than let a producer drive the user's terminal.
func (f Format) SafeForTerminal() bool { return f != Raw }

// ParseFormat parses an -o value: "pretty", "jsonl" (or its alias "json"), "raw",
// "template=TEXT", or "template" alone, in which case the template text comes
// from elsewhere (a separate flag) and the returned text is empty. Names are
// case-insensitive; the template text is returned as written.
func ParseFormat(s string) (Format, string, error) {
	name, text, hasText := strings.Cut(s, "=")
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "pretty":
		if !hasText {
			return Pretty, "", nil
		}
	case "jsonl", "json":
		if !hasText {
			return JSONL, "", nil
		}
	case "raw":
		if !hasText {
			return Raw, "", nil
		}
	case "template", "go-template":
		return Template, text, nil
	}
	return 0, "", fmt.Errorf("unknown output format %q (valid: pretty, jsonl, json, raw, template=TEXT)", SafeString(s))
}

// PrinterOptions configure NewPrinter.
type PrinterOptions struct {
	Format Format
	// Template is the text/template source for Format Template.
	Template string
	// Color turns on SGR colours in pretty output. The caller decides (a TTY,
	// NO_COLOR unset, TERM not dumb); the printer never looks at the environment.
	Color bool
	// Width clips each pretty line to this many terminal cells; 0 means no limit.
	Width int
	// Schema derives type, id, correlation, causation and trace ids for pretty
	// and template output; nil means event.DefaultSchema().
	Schema *event.Schema
	// MaxValue is how many payload bytes pretty output shows before it cuts the
	// payload and says how much was left out; 0 means 2048, negative no limit.
	MaxValue int
	// Local is the time zone pretty output shows times in; nil means time.Local.
	Local *time.Location
	// Headers makes pretty output show each header on an indented line under
	// its event, with the binary headers of known conventions decoded (Spring
	// Kafka's kafka_dlt-original-partition is a 4-byte big-endian int, …).
	Headers bool
	// Escape makes Kcat output terminal-safe: the event's bytes escaped
	// (AppendSafe), for a terminal.
	Escape bool
}

// DefaultMaxValue is the PrinterOptions.MaxValue used when it is 0.
const DefaultMaxValue = 2048

// Printer writes events in one output format. Output is buffered: it reaches
// the writer when the buffer fills and on Flush, which the tail loop calls after
// every batch. A Printer is not safe for concurrent use.
type Printer interface {
	// Print writes one event. Errors come from the writer (a closed pipe) or
	// from executing a template.
	Print(e *event.Event) error
	// Flush writes out what is buffered.
	Flush() error
}

// bufSize is the output buffer of every printer. Large, because tail -o raw and
// -o jsonl are measured against kcat over a million records, and every write
// system call saved is throughput; 256 KiB is past the point of diminishing
// returns for a pipe and small enough not to matter for memory.
const bufSize = 256 << 10

// NewPrinter returns a Printer writing to w in o.Format.
//
// A template that does not parse, or that names a field the view does not have,
// is a usage error and returned as a *TemplateError.
func NewPrinter(w io.Writer, o PrinterOptions) (Printer, error) {
	bw := bufio.NewWriterSize(w, bufSize)
	switch o.Format {
	case Raw:
		return &rawPrinter{w: bw}, nil
	case JSONL:
		return &jsonlPrinter{w: bw, buf: make([]byte, 0, 4096)}, nil
	case Pretty:
		r, err := NewRenderer(o)
		if err != nil {
			return nil, err
		}
		return &prettyPrinter{w: bw, r: r, buf: make([]byte, 0, 4096)}, nil
	case Template:
		return newTemplatePrinter(bw, o)
	case Kcat:
		return newKcatPrinter(bw, o)
	}
	return nil, fmt.Errorf("inspect: unknown format %v", o.Format)
}

// rawPrinter writes the value and a newline. bufio copies small values into its
// buffer and writes large ones straight through, so nothing is allocated.
type rawPrinter struct {
	w *bufio.Writer
}

func (p *rawPrinter) Print(e *event.Event) error {
	if _, err := p.w.Write(e.Value); err != nil {
		return err
	}
	return p.w.WriteByte('\n')
}

func (p *rawPrinter) Flush() error { return p.w.Flush() }

// jsonlPrinter encodes into one reused buffer, so steady state allocates nothing.
type jsonlPrinter struct {
	w   *bufio.Writer
	buf []byte
}

func (p *jsonlPrinter) Print(e *event.Event) error {
	p.buf = event.AppendEnvelope(p.buf[:0], e)
	p.buf = append(p.buf, '\n')
	_, err := p.w.Write(p.buf)
	if cap(p.buf) > 1<<20 {
		p.buf = make([]byte, 0, 4096) // one huge message must not pin its buffer forever
	}
	return err
}

func (p *jsonlPrinter) Flush() error { return p.w.Flush() }
