package inspect

import (
	"context"
	"errors"
	"io"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// TailOptions configure Tail.
type TailOptions struct {
	// Filter selects the events to print; nil prints all.
	Filter *Filter
	// Limit stops after this many printed events; 0 means no limit.
	Limit int
	// Printer writes the events. Required.
	Printer Printer
	// OnBatch, when set, is called after each batch was printed and flushed
	// (progress on stderr, a TUI tick).
	OnBatch func()
	// OnFilterError, when set, is called for each event the filter failed on at
	// run time (say value.items[3] on an event with two items). Returning an
	// error stops Tail with it. When nil such events are skipped and counted in
	// TailStats.FilterErrors, so one odd event does not end a live tail; a
	// command should then report the count, and the first error, on stderr.
	OnFilterError func(e *event.Event, err error) error
}

// TailStats count what Tail did.
type TailStats struct {
	// Read is how many events came from the source, Matched how many passed the
	// filter, Printed how many were printed (Matched, unless the limit cut it).
	Read, Matched, Printed int64
	// FilterErrors is how many events the filter failed on (not matched).
	FilterErrors int64
	// FirstFilterError is the first of those errors, for a report.
	FirstFilterError error
	// Decoded counts the keys and values of the events read that a schema
	// decoded, Undecoded those it could not, by event.Fail* reason: the
	// events Tail looked at, not the rest of a batch a Limit cut off, which
	// the source decoded but no one saw.
	Decoded   int64
	Undecoded map[string]int64
}

// countDecoded adds e's key and value to the decoding counts.
func (st *TailStats) countDecoded(e *event.Event) {
	for _, d := range [2]*event.Decoded{e.KeyDecoded, e.ValueDecoded} {
		switch {
		case d == nil:
		case d.Fail == "":
			st.Decoded++
		default:
			if st.Undecoded == nil {
				st.Undecoded = map[string]int64{}
			}
			st.Undecoded[d.Fail]++
		}
	}
}

// ctxCheckEvery is how often Tail looks at ctx inside a batch: often enough that
// Ctrl-C is prompt while a slow terminal drains a large batch, rarely enough to
// cost nothing.
const ctxCheckEvery = 256

// Tail is eddy tail's loop: it reads batches from src, keeps the events that
// match o.Filter and prints them, flushing the printer after every batch so
// that output on a terminal is timely and a pipe only ever sees whole lines.
//
// It returns nil when src is exhausted (io.EOF) or o.Limit events were printed;
// ctx.Err() once ctx is done (after flushing what was printed); otherwise the
// first error of the source or the printer. Tail does not close src.
func Tail(ctx context.Context, src bus.Source, o TailOptions) (TailStats, error) {
	var st TailStats
	if o.Printer == nil {
		return st, errors.New("inspect.Tail: no Printer")
	}
	finish := func(err error) (TailStats, error) {
		if ferr := o.Printer.Flush(); err == nil {
			err = ferr
		}
		return st, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return finish(err)
		}
		evs, err := src.Next(ctx)
		for i := range evs {
			if i%ctxCheckEvery == ctxCheckEvery-1 && ctx.Err() != nil {
				return finish(ctx.Err())
			}
			e := &evs[i]
			st.Read++
			if e.KeyDecoded != nil || e.ValueDecoded != nil {
				st.countDecoded(e)
			}
			ok, ferr := o.Filter.Match(e)
			if ferr != nil {
				st.FilterErrors++
				if st.FirstFilterError == nil {
					st.FirstFilterError = ferr
				}
				if o.OnFilterError != nil {
					if err := o.OnFilterError(e, ferr); err != nil {
						return finish(err)
					}
				}
				continue
			}
			if !ok {
				continue
			}
			st.Matched++
			if perr := o.Printer.Print(e); perr != nil {
				return finish(perr)
			}
			st.Printed++
			if o.Limit > 0 && st.Printed >= int64(o.Limit) {
				return finish(nil)
			}
		}
		if len(evs) > 0 {
			if ferr := o.Printer.Flush(); ferr != nil {
				return st, ferr
			}
			if o.OnBatch != nil {
				o.OnBatch()
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return finish(nil)
		case ctx.Err() != nil:
			// A source may wrap or replace ctx's error; report the cancellation.
			return finish(ctx.Err())
		default:
			return finish(err)
		}
	}
}
