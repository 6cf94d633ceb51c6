package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
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

// TestFilterMatchedOffUI: after the filter is edited, neither the events
// the ring holds nor a batch the reader matched with the old filter are
// matched on the UI goroutine: Update hands both to commands, and what they
// bring back is shown in arrival order.
func TestFilterMatchedOffUI(t *testing.T) {
	m := newTestModel(t, 100, 30)
	types := []string{"OrderPlaced", "PaymentAuthorized"}
	var evs []event.Event
	for i := range 60 {
		evs = append(evs, orderEvent(i, "orders", types[i%2]))
	}
	openTestTail(t, m, evs[:40])
	v := m.tail
	v.stream = &stream{id: 1, ch: make(chan sourceBatch), cancel: func() {}, src: captureSource(t, 0)}

	press(m, "f")
	typeText(m, `type == "OrderPlaced"`)
	_, refilter := m.Update(keyMsg("enter"))
	if v.filter == nil || refilter == nil || !v.refiltering || v.shown.len() != 0 {
		t.Fatalf("enter: filter %v, command %v, refiltering %v, %d shown", v.filter, refilter != nil, v.refiltering, v.shown.len())
	}
	if !strings.Contains(m.render(), "re-filtering") {
		t.Fatal("the re-match under way is not said")
	}
	// A batch the reader matched before it took up the filter (no flags):
	// not ingested, matched by the command Update returns.
	_, cmd := m.Update(eventsMsg{stream: 1, evs: evs[40:50]})
	if v.total != 40 || cmd == nil {
		t.Fatalf("a stale batch was ingested on the UI goroutine: %d events", v.total)
	}
	again, ok := cmd().(eventsMsg)
	if !ok || again.flt != v.filter || len(again.match) != 10 {
		t.Fatalf("rematched: %+v", again)
	}
	m.Update(again)
	// A batch the reader matched with this filter is taken as it is.
	match, _ := matchBatch(v.filter, evs[50:60])
	m.Update(eventsMsg{stream: 1, evs: evs[50:60], match: match, flt: v.filter})
	if v.total != 60 || v.shown.len() != 10 {
		t.Fatalf("after the batches: %d events, %d shown", v.total, v.shown.len())
	}
	m.Update(refilter())
	if v.refiltering || v.shown.len() != 30 {
		t.Fatalf("after the re-match: refiltering %v, %d shown", v.refiltering, v.shown.len())
	}
	for i, seq := range v.shown.items() {
		if seq != uint64(2*i) {
			t.Fatalf("shown[%d] = seq %d, want %d (in arrival order)", i, seq, 2*i)
		}
	}
	// A re-match overtaken by another filter edit is dropped.
	press(m, "f", "ctrl+u")
	typeText(m, `type == "PaymentAuthorized"`)
	_, first := m.Update(keyMsg("enter"))
	press(m, "f", "ctrl+u")
	typeText(m, `type == "OrderPlaced"`)
	_, second := m.Update(keyMsg("enter"))
	m.Update(second())
	m.Update(first())
	if v.shown.len() != 30 || v.shown.at(0) != 0 {
		t.Fatalf("a stale re-match was applied: %d shown", v.shown.len())
	}
}
