package schema

import (
	"context"
	"errors"
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
	s.d.decodeBatch(ctx, evs)
	return evs, err
}

// decodeBatch decodes evs in place, split across GOMAXPROCS workers when
// the batch is large enough.
func (d *Decoder) decodeBatch(ctx context.Context, evs []event.Event) {
	if len(evs) == 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if len(evs) < parallelMin || workers < 2 {
		d.decodeRun(ctx, evs)
		return
	}
	chunk := (len(evs) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(evs); lo += chunk {
		part := evs[lo:min(lo+chunk, len(evs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.decodeRun(ctx, part)
		}()
	}
	wg.Wait()
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
	// The arena is sized by the JSON bytes per input byte the runs before
	// made (JSON from a binary encoding is three to four times its size):
	// an arena too small grows, copying itself and leaving the old one to
	// the GC (earlier events keep it), which at a million records a
	// second was most of what decoding allocated.
	ratio := d.jsonRatio.Load() // in 1/16ths
	if ratio == 0 {
		ratio = 3 * 16
	}
	b := batchState{
		arena: make([]byte, 0, int64(size)*ratio/16*9/8+64),
		decs:  make([]event.Decoded, 0, len(evs)),
	}
	for i := range evs {
		d.decodeEvent(ctx, &evs[i], &b)
	}
	if size >= 1024 && len(b.arena) > 0 {
		d.jsonRatio.Store(max(int64(len(b.arena))*16/int64(size), 1))
	}
}

func (s *source) Close() error { return s.src.Close() }

// SourceAhead is Source that reads and decodes one batch ahead: while the
// caller works on the batch Next returned (printing it, tracing it), the
// next one is read from src and decoded on other goroutines, so decoding
// overlaps the caller's work instead of adding to it. A nil d returns src.
//
// Reading ahead reads one batch more than the caller may look at: use it
// only where reading changes nothing (no consumer group that commits what
// was read, no queue whose messages reading takes); Source otherwise.
func SourceAhead(src bus.Source, d *Decoder) bus.Source {
	if d == nil {
		return src
	}
	return &aheadSource{src: src, d: d}
}

type aheadSource struct {
	src bus.Source
	d   *Decoder
	// next, when not nil, is the batch being read and decoded ahead, by a
	// Next whose ctx was nextCtx.
	next    chan aheadBatch
	nextCtx context.Context
	// done: src returned an error; Next no longer reads ahead.
	done bool
	// mu guards closed: once Close has begun, no read ahead starts (so
	// every wg.Add happens before Close's wg.Wait).
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

type aheadBatch struct {
	evs []event.Event
	err error
}

func (s *aheadSource) Next(ctx context.Context) ([]event.Event, error) {
	var b aheadBatch
	if s.next != nil {
		select {
		case b = <-s.next:
		case <-ctx.Done():
			// The batch ahead stays pending: the next call gets it.
			return nil, ctx.Err()
		}
		s.next = nil
		// Read ahead under an earlier call's ctx that has ended since,
		// while this one's has not: not this call's error.
		if b.err != nil && s.nextCtx.Err() != nil && ctx.Err() == nil && errors.Is(b.err, s.nextCtx.Err()) {
			b.err = nil
			if len(b.evs) == 0 {
				b.evs, b.err = s.src.Next(ctx)
				s.d.decodeBatch(ctx, b.evs)
			}
		}
	} else {
		b.evs, b.err = s.src.Next(ctx)
		s.d.decodeBatch(ctx, b.evs)
	}
	if b.err != nil {
		s.done = true
	}
	if !s.done {
		s.readAhead(ctx)
	}
	return b.evs, b.err
}

// readAhead starts reading and decoding the next batch.
func (s *aheadSource) readAhead(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	ch := make(chan aheadBatch, 1)
	s.next, s.nextCtx = ch, ctx
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		evs, err := s.src.Next(ctx)
		s.d.decodeBatch(ctx, evs)
		ch <- aheadBatch{evs, err}
	}()
}

// Close closes src, which makes a read ahead in flight return, and waits
// for it: no goroutine outlives Close.
func (s *aheadSource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.src.Close()
	s.wg.Wait()
	return err
}
