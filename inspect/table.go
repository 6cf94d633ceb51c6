package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/event"
)

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
			t.write(bw, ListOptions{})
		}
	} else {
		for _, r := range append([][]string{tsvHead}, t.rows...) {
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
	t.write(bw, ListOptions{})
	return bw.Flush()
}
