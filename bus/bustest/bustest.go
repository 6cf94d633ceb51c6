// Package bustest is the conformance suite for bus adapters: every transport
// (file, Kafka on kfake and on a real broker, RabbitMQ) runs the same tests, so the
// Source and Sink contracts written in package bus hold for all of them.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// Harness adapts one transport to the suite.
type Harness struct {
	// NewDest creates a fresh, empty place and returns its name (topic, queue, path).
	NewDest func(t *testing.T) string
	// NewSink opens a sink that writes to dest.
	NewSink func(t *testing.T, dest string) bus.Sink
	// NewSource opens a source that reads dest. The suite closes it.
	NewSource func(t *testing.T, dest string, opts bus.ReadOptions) bus.Source
	// Depth, when set, returns how many events dest holds; the suite checks
	// that reading leaves it unchanged.
	Depth func(t *testing.T, dest string) int
	// Expect returns what the adapter should give back for an event that was
	// written; nil means the key, value and headers come back unchanged.
	Expect func(written event.Event) event.Event

	// Live: a source opened at the end sees events written after it opened.
	Live bool
	// Snapshot: Until end means the end as of opening; later writes are not read.
	Snapshot bool
	// NilHeaderValues: a header may have a null value, distinct from empty.
	NilHeaderValues bool
	// DuplicateHeaders: header order and repeated keys are kept.
	DuplicateHeaders bool
	// Offsets: the broker assigns offsets, rising within each partition or
	// stream (a capture keeps whatever offsets its events had).
	Offsets bool
}

// SeqHeader numbers the events the suite writes, so it can match what it reads
// to what it wrote across partitions.
const SeqHeader = "bustest-seq"

// Events returns n varied events: text and binary keys and values, empty and nil
// ones, JSON, terminal escapes, repeated headers.
func Events(h Harness, n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		e := event.Event{Transport: event.Kafka}
		switch i % 5 {
		case 0:
			e.Key, e.Value = []byte("order-"+strconv.Itoa(i)), []byte(`{"order_id":"o-`+strconv.Itoa(i)+`","total":12.5}`)
		case 1:
			e.Key, e.Value = []byte{0, 0xff, byte(i)}, []byte{0xde, 0xad, 0xbe, 0xef, byte(i)}
		case 2:
			e.Key, e.Value = []byte{}, []byte{}
		case 3:
			e.Key, e.Value = nil, []byte("plain \x1b[31mtext\x1b[0m \u009b line")
		case 4:
			e.Key, e.Value = []byte("k"), nil
		}
		e.Headers = []event.Header{{Key: SeqHeader, Value: []byte(strconv.Itoa(i))}, {Key: "bin", Value: []byte{0, 1, 0xfe}}}
		if h.DuplicateHeaders {
			e.Headers = append(e.Headers, event.Header{Key: "dup", Value: []byte("1")}, event.Header{Key: "dup", Value: []byte("2")})
		}
		if h.NilHeaderValues {
			e.Headers = append(e.Headers, event.Header{Key: "nil", Value: nil})
		}
		evs[i] = e
	}
	return evs
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, h) })
	t.Run("UntilEndStops", func(t *testing.T) { testUntilEnd(t, h) })
	if h.Live {
		t.Run("LiveFromEnd", func(t *testing.T) { testLive(t, h) })
		t.Run("CancelUnblocks", func(t *testing.T) { testCancel(t, h) })
		t.Run("CloseUnblocks", func(t *testing.T) { testClose(t, h) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func write(t *testing.T, h Harness, dest string, evs []event.Event) {
	t.Helper()
	sink := h.NewSink(t, dest)
	defer sink.Close()
	// Two writes: a sink must keep order across calls as well as within one.
	half := len(evs) / 2
	for _, part := range [][]event.Event{evs[:half], evs[half:]} {
		if err := sink.Write(ctxT(t), part); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("sink Close: %v", err)
	}
}

// readAll reads until io.EOF, failing on any other error.
func readAll(t *testing.T, src bus.Source) []event.Event {
	t.Helper()
	var got []event.Event
	ctx := ctxT(t)
	for {
		b, err := src.Next(ctx)
		got = append(got, b...)
		if errors.Is(err, io.EOF) {
			if _, err := src.Next(ctx); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after io.EOF = %v, want io.EOF again", err)
			}
			return got
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(got), err)
		}
	}
}

// readN reads exactly n events (a live source never says io.EOF).
func readN(t *testing.T, src bus.Source, n int) []event.Event {
	t.Helper()
	var got []event.Event
	ctx := ctxT(t)
	for len(got) < n {
		b, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, b...)
	}
	return got
}

func seq(t *testing.T, e *event.Event) int {
	t.Helper()
	v, ok := e.Header(SeqHeader)
	if !ok {
		t.Fatalf("event without %s header: %+v", SeqHeader, e)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		t.Fatalf("bad %s header %q", SeqHeader, v)
	}
	return n
}

// check compares what was read with what was written (matched by sequence
// number), and checks offsets rise within each partition.
func check(t *testing.T, h Harness, wrote, got []event.Event, firstSeq int) {
	t.Helper()
	if len(got) != len(wrote) {
		t.Fatalf("read %d events, wrote %d", len(got), len(wrote))
	}
	last := map[string]int64{}
	seen := map[int]bool{}
	for i := range got {
		g := &got[i]
		n := seq(t, g) - firstSeq
		if n < 0 || n >= len(wrote) || seen[n] {
			t.Fatalf("unexpected or repeated event seq %d", n+firstSeq)
		}
		seen[n] = true
		want := wrote[n]
		if h.Expect != nil {
			want = h.Expect(want)
		}
		probe := *g
		probe.Key, probe.Value, probe.Headers = want.Key, want.Value, want.Headers
		if !event.Equal(&probe, g) {
			t.Fatalf("event %d differs\nwrote key=%q value=%q headers=%q\nread  key=%q value=%q headers=%q",
				n, want.Key, want.Value, want.Headers, g.Key, g.Value, g.Headers)
		}
		if h.Offsets && g.Offset >= 0 {
			pk := g.Source() + "/" + strconv.Itoa(int(g.Partition))
			if prev, ok := last[pk]; ok && g.Offset <= prev {
				t.Fatalf("offsets not rising on %s: %d after %d", pk, g.Offset, prev)
			}
			last[pk] = g.Offset
		}
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	dest := h.NewDest(t)
	wrote := Events(h, 50)
	write(t, h, dest, wrote)
	var depth int
	if h.Depth != nil {
		depth = h.Depth(t, dest)
	}
	opts := bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}, Backlog: true}
	for round := range 2 {
		src := h.NewSource(t, dest, opts)
		got := readAll(t, src)
		src.Close()
		check(t, h, wrote, got, 0)
		if h.Depth != nil {
			if d := h.Depth(t, dest); d != depth {
				t.Fatalf("reading changed the depth of %s: %d before, %d after round %d", dest, depth, d, round)
			}
		}
	}
}

func testUntilEnd(t *testing.T, h Harness) {
	dest := h.NewDest(t)
	wrote := Events(h, 20)
	write(t, h, dest, wrote)
	src := h.NewSource(t, dest, bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}, Backlog: true})
	defer src.Close()
	if h.Snapshot {
		// Written after the source opened: must not be read.
		more := Events(h, 30)[20:]
		write(t, h, dest, more)
	}
	got := readAll(t, src)
	check(t, h, wrote, got, 0)
}

func testLive(t *testing.T, h Harness) {
	dest := h.NewDest(t)
	old := Events(h, 10)
	write(t, h, dest, old)
	src := h.NewSource(t, dest, bus.ReadOptions{})
	defer src.Close()
	all := Events(h, 25)
	fresh := all[10:]
	write(t, h, dest, fresh)
	got := readN(t, src, len(fresh))
	check(t, h, fresh, got, 10)
}

func testCancel(t *testing.T, h Harness) {
	dest := h.NewDest(t)
	src := h.NewSource(t, dest, bus.ReadOptions{})
	defer src.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := src.Next(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next on an idle source with a cancelled context = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return within 10s of its context ending")
	}
}

func testClose(t *testing.T, h Harness) {
	dest := h.NewDest(t)
	src := h.NewSource(t, dest, bus.ReadOptions{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := src.Next(t.Context())
		done <- err
	}()
	<-started
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Next on a closed idle source returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Next within 10s")
	}
}

// Sorted returns evs ordered by their SeqHeader, for tests that compare lists.
func Sorted(t *testing.T, evs []event.Event) []event.Event {
	out := slices.Clone(evs)
	slices.SortFunc(out, func(a, b event.Event) int { return seq(t, &a) - seq(t, &b) })
	return out
}

// Describe formats an event briefly for test failure messages.
func Describe(e *event.Event) string {
	return fmt.Sprintf("%s %s/%d@%d key=%q value=%q", e.Transport, e.Source(), e.Partition, e.Offset, e.Key, e.Value)
}
