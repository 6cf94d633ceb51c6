package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// captureSource is a real bus source: a capture in eddy's envelope format,
// read by bus/file.
func captureSource(t testing.TB, n int) bus.Source {
	t.Helper()
	var b []byte
	for i := range n {
		e := orderEvent(i, "orders", "OrderPlaced")
		b = event.AppendEnvelope(b, &e)
		b = append(b, '\n')
	}
	src, err := file.Open("-", bytes.NewReader(b), bus.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestStreamBatches: a message carries at most BatchMax events, the stream
// ends with io.EOF, and every event arrives once, in order.
func TestStreamBatches(t *testing.T) {
	s := startStream(context.Background(), 7, captureSource(t, 2500), 1000, time.Hour, nil)
	defer s.stop()
	var got []event.Event
	for {
		msg := s.next()().(eventsMsg)
		if msg.stream != 7 || len(msg.evs) >= 1000+512 {
			t.Fatalf("stream %d, batch of %d", msg.stream, len(msg.evs))
		}
		got = append(got, msg.evs...)
		if msg.err != nil {
			if !errors.Is(msg.err, io.EOF) {
				t.Fatal(msg.err)
			}
			break
		}
	}
	if len(got) != 2500 {
		t.Fatalf("%d events, want 2500", len(got))
	}
	for i := range got {
		if got[i].Offset != int64(i) {
			t.Fatalf("event %d has offset %d", i, got[i].Offset)
		}
	}
}

// TestTailFromStream drives the Tail view from a real source through the
// messages bubbletea would deliver.
func TestTailFromStream(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
	v := m.tail
	_, cmd := m.Update(tailOpenedMsg{id: v.nextID, src: captureSource(t, 300)})
	for cmd != nil {
		_, cmd = m.Update(cmd())
	}
	if v.total != 300 || v.ring.dropped != 200 || v.shown.len() != 100 {
		t.Fatalf("total %d dropped %d shown %d", v.total, v.ring.dropped, v.shown.len())
	}
	if v.endErr == nil || !ended(v.endErr) || !v.stream.finished {
		t.Fatalf("end: %v", v.endErr)
	}
	// Pausing stops asking for messages; the source is not read on.
	m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
	press(m, "p")
	_, cmd = m.Update(tailOpenedMsg{id: v.nextID, src: captureSource(t, 10)})
	if cmd == nil {
		t.Fatal("no read after open")
	}
	if _, next := m.Update(cmd()); next != nil || v.waiting {
		t.Fatal("a paused tail asked for more")
	}
}

// TestStreamMatchesOffTheUI: with a filter set, the reader evaluates it and
// the messages carry the flags; the Tail view uses them and shows the same
// events as matching on the UI goroutine would.
func TestStreamMatchesOffTheUI(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
	v := m.tail
	press(m, "f")
	typeText(m, "offset % 3 == 0")
	press(m, "enter")
	if v.filter == nil {
		t.Fatal(v.filterErr)
	}
	src := captureSource(t, 90)
	// Open the stream with the filter in place before the reader starts.
	v.stream = startStream(context.Background(), v.nextID, src, 1000, time.Hour, v.filter)
	v.opening = false
	flagged := 0
	for cmd := v.stream.next(); cmd != nil; {
		msg := cmd().(eventsMsg)
		if msg.match != nil && msg.flt == v.filter {
			flagged += len(msg.evs)
		}
		_, cmd = m.Update(msg)
	}
	if v.total != 90 || v.shown.len() != 30 {
		t.Fatalf("total %d shown %d", v.total, v.shown.len())
	}
	if flagged != 90 {
		t.Fatalf("%d of 90 events were matched by the reader", flagged)
	}
}
