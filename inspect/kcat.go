package inspect

import (
	"bufio"
	"fmt"
	"strconv"

	"github.com/eddy-sh/eddy/event"
)

// kcat's -f FORMAT, over eddy's events: the directives kcat documents
//
//	%s value   %S value length (-1 for null)   %k key   %K key length (-1 for null)
//	%t topic (a queue's name for RabbitMQ)      %p partition   %o offset
//	%T timestamp, milliseconds since the epoch  %h headers as k=v,k=v (NULL: none)   %% a %
//
// and the escapes \n \r \t \\ and \xHH. kcat's %R (a binary length) is not
// offered: it is for programs, which read -o jsonl. franz-go's
// kgo.RecordFormatter implements the same directives over kgo.Records; eddy's
// events are not those (RabbitMQ, captures), so they are done here, and
// escaped on a terminal, which kgo's formatter does not do.

type kcatPart struct {
	lit []byte
	dir byte // 0: a literal
}

// ParseKcatFormat checks a -f format: an unknown directive or escape is an
// error naming it.
func ParseKcatFormat(s string) error {
	_, err := parseKcat(s)
	return err
}

func parseKcat(s string) ([]kcatPart, error) {
	var parts []kcatPart
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			parts = append(parts, kcatPart{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+1 == len(s) {
				return nil, fmt.Errorf("-f: a %% at the end: want a directive (%%s %%k %%t %%p %%o %%T %%h %%S %%K %%%%)")
			}
			i++
			switch d := s[i]; d {
			case '%':
				lit = append(lit, '%')
			case 's', 'S', 'k', 'K', 't', 'p', 'o', 'T', 'h':
				flush()
				parts = append(parts, kcatPart{dir: d})
			default:
				return nil, fmt.Errorf("-f: %%%s is not a directive eddy knows (want %%s %%S %%k %%K %%t %%p %%o %%T %%h or %%%%)", SafeString(string(d)))
			}
		case '\\':
			if i+1 == len(s) {
				lit = append(lit, '\\')
				continue
			}
			i++
			switch s[i] {
			case 'n':
				lit = append(lit, '\n')
			case 'r':
				lit = append(lit, '\r')
			case 't':
				lit = append(lit, '\t')
			case '\\':
				lit = append(lit, '\\')
			case 'x':
				if i+2 >= len(s) {
					return nil, fmt.Errorf(`-f: \x wants two hex digits`)
				}
				v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return nil, fmt.Errorf(`-f: \x%s: want two hex digits`, SafeString(s[i+1:i+3]))
				}
				lit = append(lit, byte(v))
				i += 2
			default:
				return nil, fmt.Errorf(`-f: \%s is not an escape eddy knows (want \n \r \t \\ or \xHH)`, SafeString(string(s[i])))
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return parts, nil
}

// kcatPrinter writes each event in a kcat format. escape makes what the
// event carries terminal-safe (AppendSafe), for a terminal; in a pipe the
// bytes go as they are, as kcat writes them.
type kcatPrinter struct {
	w      *bufio.Writer
	parts  []kcatPart
	escape bool
	buf    []byte
}

func newKcatPrinter(w *bufio.Writer, o PrinterOptions) (Printer, error) {
	parts, err := parseKcat(o.Template)
	if err != nil {
		return nil, err
	}
	return &kcatPrinter{w: w, parts: parts, escape: o.Escape}, nil
}

func (p *kcatPrinter) bytes(b, s []byte) []byte {
	if p.escape {
		return AppendSafe(b, s)
	}
	return append(b, s...)
}

func (p *kcatPrinter) Print(e *event.Event) error {
	b := p.buf[:0]
	for _, part := range p.parts {
		switch part.dir {
		case 0:
			// The user's own literal bytes: \x1b in a format is asked for.
			b = append(b, part.lit...)
		case 's':
			b = p.bytes(b, e.Value)
		case 'S':
			b = strconv.AppendInt(b, nullLen(e.Value), 10)
		case 'k':
			b = p.bytes(b, e.Key)
		case 'K':
			b = strconv.AppendInt(b, nullLen(e.Key), 10)
		case 't':
			name := e.Topic
			if name == "" {
				name = e.Queue
			}
			b = p.bytes(b, []byte(name))
		case 'p':
			b = strconv.AppendInt(b, int64(e.Partition), 10)
		case 'o':
			b = strconv.AppendInt(b, e.Offset, 10)
		case 'T':
			ts := int64(-1)
			if !e.Timestamp.IsZero() {
				ts = e.Timestamp.UnixMilli()
			}
			b = strconv.AppendInt(b, ts, 10)
		case 'h':
			for i, h := range e.Headers {
				if i > 0 {
					b = append(b, ',')
				}
				b = p.bytes(b, []byte(h.Key))
				b = append(b, '=')
				if h.Value == nil && h.Typed == nil {
					// A header without a value, as kcat prints it (an
					// empty one prints nothing).
					b = append(b, "NULL"...)
					continue
				}
				b = p.bytes(b, h.Value)
			}
		}
	}
	p.buf = b
	_, err := p.w.Write(b)
	return err
}

func (p *kcatPrinter) Flush() error { return p.w.Flush() }

func nullLen(b []byte) int64 {
	if b == nil {
		return -1
	}
	return int64(len(b))
}
