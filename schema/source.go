package schema

import (
	"context"
	"runtime"
	"sync"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// Source returns src with every event decoded by d, in order (batches are
// decoded in parallel). A nil d returns src.
func Source(src bus.Source, d *Decoder) bus.Source {
	if d == nil {
		return src
	}
	return &source{src: src, d: d}
}

type source struct {
	src bus.Source
	d   *Decoder
}

// parallelMin is the batch size from which decoding is split across
// workers: below it, starting goroutines costs more than it saves.
const parallelMin = 256

func (s *source) Next(ctx context.Context) ([]event.Event, error) {
	evs, err := s.src.Next(ctx)
	if len(evs) == 0 {
		return evs, err
	}
	workers := runtime.GOMAXPROCS(0)
	if len(evs) < parallelMin || workers < 2 {
		s.d.decodeRun(ctx, evs)
		return evs, err
	}
	chunk := (len(evs) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(evs); lo += chunk {
		part := evs[lo:min(lo+chunk, len(evs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.d.decodeRun(ctx, part)
		}()
	}
	wg.Wait()
	return evs, err
}

// decodeRun decodes evs in place, their JSON in one arena and their
// Decoded values in one block. The events own those from then on (the TUI
// keeps events), so the arena is never reused; an event kept alone keeps
// its run's arena alive, which is the price of one allocation per run
// instead of one per event.
func (d *Decoder) decodeRun(ctx context.Context, evs []event.Event) {
	if d.client == nil && len(d.local) == 0 {
		return
	}
	// Sized by the parts that will be decoded only: a topic of plain JSON
	// read with a registry configured decodes nothing, and must not cost
	// three times its batch in an arena no event uses.
	size, parts := 0, 0
	for i := range evs {
		kl, vl := d.localFor(&evs[i])
		if kl != nil || (d.client != nil && framed(evs[i].Key)) {
			size += len(evs[i].Key)
			parts++
		}
		if vl != nil || (d.client != nil && framed(evs[i].Value)) {
			size += len(evs[i].Value)
			parts++
		}
	}
	if parts == 0 {
		return
	}
	// JSON from a binary encoding is typically two or three times its
	// size; appends past the estimate grow the arena, earlier events keep
	// the old one.
	b := batchState{
		arena: make([]byte, 0, 3*size+64),
		decs:  make([]event.Decoded, 0, len(evs)),
	}
	for i := range evs {
		d.decodeEvent(ctx, &evs[i], &b)
	}
}

func (s *source) Close() error { return s.src.Close() }
