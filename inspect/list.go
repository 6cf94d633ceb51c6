package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// TopicRow is one Kafka topic in eddy ls.
type TopicRow struct {
	Name       string
	Partitions int
	Replicas   int
	// Messages is the sum over partitions of end minus start offset: what is
	// still retained (compaction and transaction markers make it an upper bound).
	Messages int64
	// StartOffsets and EndOffsets are per partition, indexed by partition.
	StartOffsets, EndOffsets []int64
	Internal                 bool
	// ValueSubject is the registry's subject for the topic's values
	// (TopicNameStrategy: TOPIC-value), "" when it has none; shown when
	// ListOptions.Subjects.
	ValueSubject string
}

// QueueRow is one RabbitMQ queue in eddy ls.
type QueueRow struct {
	Name, Vhost, Type         string
	Ready, Unacked, Consumers int64
	PublishRate, DeliverRate  *float64 // messages/s; nil when unknown (no management API)
	Via                       string   // how the numbers were obtained: "management" or "declare"
	DeadLetterExchange        string
}

// ListOptions configure WriteList.
type ListOptions struct {
	// Format is "table" (aligned columns for a person; the default), "tsv"
	// (for scripts: a header line, then tab-separated rows) or "json".
	Format string
	// Color makes the table's header bold and internal topics dim.
	Color bool
	// Width clips table lines to this many cells; 0 means no limit.
	Width int
	// Subjects adds each topic's value subject (a schema registry is
	// configured): a VALUE SUBJECT column ("-" for none), tsv's
	// value_subject, json's "value_subject" (null for none).
	Subjects bool

	noHead bool // WithoutHeaders
}

// headless is a writer that asks for tables and tsv without their header
// lines (--no-headers, kubectl's): every writer of this package that writes
// a header checks for it, so that no signature has to carry the choice.
type headless struct{ w io.Writer }

func (h headless) Write(p []byte) (int, error) { return h.w.Write(p) }

// WithoutHeaders returns w, marked so that the table and tsv output written
// to it has no header lines. JSON is unchanged.
func WithoutHeaders(w io.Writer) io.Writer { return headless{w} }

func isHeadless(w io.Writer) bool { _, ok := w.(headless); return ok }

// maxTableOffsets is how many partitions' end offsets the table shows before
// it elides the rest; tsv and json always have them all.
const maxTableOffsets = 8

// WriteList writes the result of eddy ls: topics, then queues; a kind with no
// rows is left out (json keeps it as an empty list). Every name is rendered
// terminal-safe.
//
// tsv has one section per kind, each a header line and one line per row,
// separated by an empty line. Fields never contain a tab or newline (escaped as
// \t, \n); lists are comma-separated; an unknown rate is an empty field.
//
//	topic	partitions	replicas	messages	start_offsets	end_offsets	internal
//	queue	vhost	type	ready	unacked	consumers	publish_rate	deliver_rate	dead_letter_exchange	via
//
// json is one object on one line, version 1 of this schema (fields are only
// ever added):
//
//	{"v":1,
//	 "topics":[{"name":"orders","partitions":3,"replicas":1,"messages":1234,
//	            "start_offsets":[0,0,0],"end_offsets":[400,410,424],"internal":false}],
//	 "queues":[{"queue":"orders.q","vhost":"/","type":"classic","ready":5,"unacked":0,
//	            "consumers":1,"publish_rate":1.5,"deliver_rate":null,
//	            "dead_letter_exchange":"dlx","via":"management"}]}
//
// With Subjects (a schema registry is configured), topics get a last column,
// value_subject, and json's topics a "value_subject" (null for none).
//
// Lists are never null; a rate is null when unknown; strings are JSON-escaped
// and also terminal-safe (C1 and bidirectional controls as \u escapes).
func WriteList(w io.Writer, topics []TopicRow, queues []QueueRow, o ListOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	o.noHead = isHeadless(w)
	switch o.Format {
	case "", "table":
		writeTables(bw, topics, queues, o)
	case "tsv":
		writeTSV(bw, topics, queues, o.Subjects, o.noHead)
	case "json":
		bw.Write(appendListJSON(nil, topics, queues, o.Subjects))
	default:
		return fmt.Errorf("unknown list format %q (valid: table, tsv, json)", SafeString(o.Format))
	}
	return bw.Flush()
}

// table is a grid of already terminal-safe cells.
type table struct {
	head  []string
	right []bool // right-aligned columns (numbers)
	rows  [][]string
	dim   []bool // rows shown dim (internal topics)
}

func (t *table) write(w *bufio.Writer, o ListOptions) {
	widths := make([]int, len(t.head))
	for i, h := range t.head {
		widths[i] = CellWidth(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], CellWidth(c))
		}
	}
	var line []byte
	emit := func(cells []string, sgr string) {
		line = line[:0]
		if o.Color && sgr != "" {
			line = append(line, sgr...)
		}
		for i, c := range cells {
			pad := widths[i] - CellWidth(c)
			if i > 0 {
				line = append(line, "  "...)
			}
			if t.right[i] {
				line = append(line, strings.Repeat(" ", pad)...)
			}
			line = append(line, c...)
			if !t.right[i] && i < len(cells)-1 {
				line = append(line, strings.Repeat(" ", pad)...)
			}
		}
		line = bytes.TrimRight(line, " ") // an empty last column leaves no trailing blanks
		if o.Color && sgr != "" {
			line = append(line, sgrReset...)
		}
		w.Write(appendClipped(nil, b2s(line), o.Width, o.Color))
		w.WriteByte('\n')
	}
	if !o.noHead {
		emit(t.head, sgrBold)
	}
	for i, r := range t.rows {
		sgr := ""
		if t.dim != nil && t.dim[i] {
			sgr = sgrDim
		}
		emit(r, sgr)
	}
}

// maxCell is how many characters a cell of a table for a person keeps; a
// longer one is cut and ends in "…". tsv keeps every character.
const maxCell = 60

// add appends a row of cells rendered terminal-safe (tabs and newlines
// escaped too, so a tsv field never holds one); for -o table each cell is
// also cut to maxCell characters.
func (t *table) add(format string, cells ...string) {
	for i, c := range cells {
		c = SafeString(c)
		if r := []rune(c); format == "table" && len(r) > maxCell {
			c = string(r[:maxCell-1]) + "…"
		}
		cells[i] = c
	}
	t.rows = append(t.rows, cells)
}

// writeFormat writes t for a person (format "table": title, when set, then
// the aligned grid; no grid when t has no rows and noEmpty is set) or for a
// script ("tsv": a header line of tsvHead — the README promises one — then a
// line per row, tab-separated). The first write error is returned: a listing
// written to a full disk fails (exit 1), as its JSON form does.
func (t *table) writeFormat(w io.Writer, format, title string, noEmpty bool, tsvHead ...string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if format == "table" {
		bw.WriteString(title)
		if t.right == nil {
			t.right = make([]bool, len(t.head))
		}
		if len(t.rows) > 0 || !noEmpty {
			t.write(bw, ListOptions{noHead: isHeadless(w)})
		}
	} else {
		rows := t.rows
		if !isHeadless(w) {
			rows = append([][]string{tsvHead}, rows...)
		}
		for _, r := range rows {
			bw.WriteString(strings.Join(r, "\t"))
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

// when is a time for a person (an age) in a table, RFC 3339 otherwise.
func when(t, now time.Time, format string) string {
	if t.IsZero() {
		return "-"
	}
	if format != "table" {
		return event.FormatTime(t)
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return event.FormatTime(t)
	case d < time.Minute:
		return d.String() + " ago"
	case d < 48*time.Hour:
		return d.Truncate(time.Minute).String() + " ago"
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// ContextRow is one context in eddy config list.
type ContextRow struct {
	Current           bool
	Name, Kafka, AMQP string
}

// WriteContexts writes eddy config list: a table, * marking the current
// context.
func WriteContexts(w io.Writer, rows []ContextRow) error {
	t := &table{head: []string{"CURRENT", "NAME", "KAFKA", "AMQP"}, right: make([]bool, 4)}
	for _, r := range rows {
		mark := ""
		if r.Current {
			mark = "*"
		}
		t.rows = append(t.rows, []string{mark, SafeString(r.Name), SafeString(r.Kafka), SafeString(r.AMQP)})
	}
	bw := bufio.NewWriter(w)
	t.write(bw, ListOptions{noHead: isHeadless(w)})
	return bw.Flush()
}

func writeTables(w *bufio.Writer, topics []TopicRow, queues []QueueRow, o ListOptions) {
	if len(topics) > 0 {
		t := &table{
			head:  []string{"TOPIC", "PARTITIONS", "REPLICAS", "MESSAGES", "END OFFSETS"},
			right: []bool{false, true, true, true, false},
			dim:   make([]bool, len(topics)),
		}
		for i, r := range topics {
			name := SafeString(r.Name)
			if r.Internal {
				name += " (internal)"
			}
			row := []string{name, strconv.Itoa(r.Partitions), strconv.Itoa(r.Replicas),
				strconv.FormatInt(r.Messages, 10), offsetList(r.EndOffsets, maxTableOffsets)}
			if o.Subjects {
				row = append(row, orDash(SafeString(r.ValueSubject)))
			}
			t.rows = append(t.rows, row)
			t.dim[i] = r.Internal
		}
		if o.Subjects {
			t.head, t.right = append(t.head, "VALUE SUBJECT"), append(t.right, false)
		}
		t.write(w, o)
	}
	if len(queues) > 0 {
		if len(topics) > 0 {
			w.WriteByte('\n')
		}
		t := &table{
			head:  []string{"QUEUE", "VHOST", "TYPE", "READY", "UNACKED", "CONSUMERS", "IN/S", "OUT/S", "DEAD-LETTER EXCHANGE"},
			right: []bool{false, false, false, true, true, true, true, true, false},
		}
		for _, r := range queues {
			t.rows = append(t.rows, []string{SafeString(r.Name), SafeString(r.Vhost), SafeString(r.Type),
				strconv.FormatInt(r.Ready, 10), strconv.FormatInt(r.Unacked, 10), strconv.FormatInt(r.Consumers, 10),
				tableRate(r.PublishRate), tableRate(r.DeliverRate), SafeString(r.DeadLetterExchange)})
		}
		t.write(w, o)
	}
}

func tableRate(r *float64) string {
	if r == nil || math.IsNaN(*r) || math.IsInf(*r, 0) {
		return "-"
	}
	return strconv.FormatFloat(*r, 'f', 1, 64)
}

// offsetList joins offsets with commas; limit > 0 elides past that many.
func offsetList(offs []int64, limit int) string {
	var b []byte
	for i, o := range offs {
		if limit > 0 && i == limit {
			b = append(b, fmt.Sprintf(",… (%d more)", len(offs)-limit)...)
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o, 10)
	}
	return string(b)
}

func writeTSV(w *bufio.Writer, topics []TopicRow, queues []QueueRow, subjects, noHead bool) {
	row := func(cells ...string) {
		w.WriteString(strings.Join(cells, "\t"))
		w.WriteByte('\n')
	}
	header := func(cells ...string) {
		if !noHead {
			row(cells...)
		}
	}
	if len(topics) > 0 {
		head := []string{"topic", "partitions", "replicas", "messages", "start_offsets", "end_offsets", "internal"}
		if subjects {
			head = append(head, "value_subject")
		}
		header(head...)
		for _, r := range topics {
			cells := []string{SafeString(r.Name), strconv.Itoa(r.Partitions), strconv.Itoa(r.Replicas),
				strconv.FormatInt(r.Messages, 10), offsetList(r.StartOffsets, 0), offsetList(r.EndOffsets, 0),
				strconv.FormatBool(r.Internal)}
			if subjects {
				cells = append(cells, SafeString(r.ValueSubject))
			}
			row(cells...)
		}
	}
	if len(queues) > 0 {
		if len(topics) > 0 {
			w.WriteByte('\n')
		}
		header("queue", "vhost", "type", "ready", "unacked", "consumers", "publish_rate", "deliver_rate", "dead_letter_exchange", "via")
		for _, r := range queues {
			row(SafeString(r.Name), SafeString(r.Vhost), SafeString(r.Type),
				strconv.FormatInt(r.Ready, 10), strconv.FormatInt(r.Unacked, 10), strconv.FormatInt(r.Consumers, 10),
				tsvRate(r.PublishRate), tsvRate(r.DeliverRate), SafeString(r.DeadLetterExchange), SafeString(r.Via))
		}
	}
}

func tsvRate(r *float64) string {
	if r == nil || math.IsNaN(*r) || math.IsInf(*r, 0) {
		return ""
	}
	return strconv.FormatFloat(*r, 'f', -1, 64)
}

func appendListJSON(b []byte, topics []TopicRow, queues []QueueRow, subjects bool) []byte {
	b = append(b, `{"v":1,"topics":[`...)
	for i, r := range topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, `,"partitions":`...)
		b = strconv.AppendInt(b, int64(r.Partitions), 10)
		b = append(b, `,"replicas":`...)
		b = strconv.AppendInt(b, int64(r.Replicas), 10)
		b = append(b, `,"messages":`...)
		b = strconv.AppendInt(b, r.Messages, 10)
		b = append(b, `,"start_offsets":`...)
		b = appendInts(b, r.StartOffsets)
		b = append(b, `,"end_offsets":`...)
		b = appendInts(b, r.EndOffsets)
		b = append(b, `,"internal":`...)
		b = strconv.AppendBool(b, r.Internal)
		if subjects {
			b = append(b, `,"value_subject":`...)
			if r.ValueSubject == "" {
				b = append(b, "null"...)
			} else {
				b = appendJSONString(b, r.ValueSubject)
			}
		}
		b = append(b, '}')
	}
	b = append(b, `],"queues":[`...)
	for i, r := range queues {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"queue":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, `,"vhost":`...)
		b = appendJSONString(b, r.Vhost)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, r.Type)
		b = append(b, `,"ready":`...)
		b = strconv.AppendInt(b, r.Ready, 10)
		b = append(b, `,"unacked":`...)
		b = strconv.AppendInt(b, r.Unacked, 10)
		b = append(b, `,"consumers":`...)
		b = strconv.AppendInt(b, r.Consumers, 10)
		b = append(b, `,"publish_rate":`...)
		b = appendRate(b, r.PublishRate)
		b = append(b, `,"deliver_rate":`...)
		b = appendRate(b, r.DeliverRate)
		b = append(b, `,"dead_letter_exchange":`...)
		b = appendJSONString(b, r.DeadLetterExchange)
		b = append(b, `,"via":`...)
		b = appendJSONString(b, r.Via)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

func appendInts(b []byte, v []int64) []byte {
	b = append(b, '[')
	for i, n := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, ']')
}

func appendRate(b []byte, r *float64) []byte {
	if r == nil || math.IsNaN(*r) || math.IsInf(*r, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, *r, 'f', -1, 64)
}
