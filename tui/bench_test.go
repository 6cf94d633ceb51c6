package tui

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// BenchmarkTailFrame measures one frame of the Tail view fed 50,000
// events/s: at 60 frames/s each frame takes a batch of 834 events
// (Update: filter, ring, status) and draws the screen (View) at 100x30.
// A case that takes two frames per round (a command runs off the UI
// goroutine between them) reports both.
// It reports the p50, p99 and max frame time; the goal is p99 <= 16 ms
// (one frame at 60/s). bench/tui.sh runs it.
func BenchmarkTailFrame(b *testing.B) {
	for _, c := range []struct {
		name, filter string
		color        bool
	}{
		{"plain", "", false},
		{"colour", "", true},
		// The reader goroutine matches the filter (stream.go); the frame
		// takes its flags.
		{"filter", `value.payload.total > 10 && type == "OrderPlaced"`, false},
		// A batch read before the reader took up an edited filter: the
		// frame hands it to a command that matches it off the UI
		// goroutine, and the next frame takes it back matched.
		{"filter-edit", `value.payload.total > 10 && type == "OrderPlaced"`, false},
		// The filter edited (enter) with the ring full: the frame copies
		// the ring for a command to match; the next frame puts its matches
		// in front.
		{"refilter", `value.payload.total > 10 && type == "OrderPlaced"`, false},
		{"search", "", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			const perSecond, fps = 50000, 60
			batch := perSecond/fps + 1
			m := New(context.Background(), Options{Backend: &Backend{}, Color: c.color, Local: time.UTC})
			defer m.Close()
			m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
			m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
			v := m.tail
			v.opening = false
			// A stream the messages belong to; its reader is never asked.
			v.stream = &stream{id: 1, ch: make(chan sourceBatch), cancel: func() {}, src: captureSource(b, 0)}
			if c.filter != "" {
				press(m, "f")
				typeText(m, c.filter)
				press(m, "enter")
				if v.filter == nil {
					b.Fatalf("filter: %s", v.filterErr)
				}
			}
			if c.name == "search" {
				press(m, "/")
				typeText(m, "ord-3")
				press(m, "enter", "F")
			}
			// Demo-sized events (~400 B of JSON, CloudEvents headers),
			// cycled so each frame gets fresh ones.
			pool := make([]event.Event, 8*batch)
			for i := range pool {
				pool[i] = orderEvent(i, "orders", []string{"OrderPlaced", "PaymentAuthorized", "StockReserved"}[i%3])
			}
			var match []bool
			if c.name == "filter" {
				match = make([]bool, len(pool))
				for i := range pool {
					match[i], _ = v.filter.Match(&pool[i])
				}
			}
			if c.name == "refilter" {
				// Fill the ring.
				for off := 0; v.ring.len() < m.o.Buffer; off = (off + batch) % (len(pool) - batch) {
					v.ingest(pool[off:off+batch:off+batch], time.Now())
				}
			}
			frames := make([]time.Duration, 0, 2*b.N)
			// frame times one Update and View; the command Update returns
			// is what runs off the UI goroutine.
			frame := func(msg tea.Msg) tea.Cmd {
				start := time.Now()
				_, cmd := m.Update(msg)
				_ = m.View()
				frames = append(frames, time.Since(start))
				return cmd
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := (i * batch) % (len(pool) - batch)
				evs := pool[off : off+batch : off+batch]
				switch c.name {
				case "refilter":
					m.Update(keyMsg("f"))
					cmd := frame(keyMsg("enter"))
					if !v.refiltering {
						b.Fatal("no re-match under way")
					}
					frame(cmd())
				case "filter-edit":
					cmd := frame(eventsMsg{stream: 1, evs: evs})
					if v.total != uint64(i*batch) {
						b.Fatal("a stale batch was matched on the UI goroutine")
					}
					frame(cmd())
				default:
					msg := eventsMsg{stream: 1, evs: evs}
					if match != nil {
						msg.match, msg.flt = match[off:off+batch], v.filter
					}
					frame(msg)
				}
			}
			b.StopTimer()
			slices.Sort(frames)
			q := func(p float64) float64 {
				return float64(frames[min(len(frames)-1, int(p*float64(len(frames))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(frames[len(frames)-1])/float64(time.Millisecond), "max-ms")
			b.ReportMetric(float64(batch), "events/frame")
			if v.ring.len() > m.o.Buffer {
				b.Fatalf("ring holds %d > %d", v.ring.len(), m.o.Buffer)
			}
		})
	}
}

// BenchmarkTailIngest runs the Tail view's whole loop as the program does —
// a real source (a capture of demo-sized events, read by bus/file) on the
// reader goroutine, batched messages, Update and View per message — and
// reports how many events per second the view takes in. It must stay well
// above 50,000/s for the UI to keep up with that rate.
func BenchmarkTailIngest(b *testing.B) {
	const n = 200000
	var capture []byte
	for i := range n {
		e := orderEvent(i, "orders", "OrderPlaced")
		capture = event.AppendEnvelope(capture, &e)
		capture = append(capture, '\n')
	}
	b.SetBytes(int64(len(capture)))
	b.ResetTimer()
	start := time.Now()
	msgs := 0
	for i := 0; i < b.N; i++ {
		m := New(context.Background(), Options{Backend: &Backend{}, Local: time.UTC})
		m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
		m.Update(openTailMsg{addrs: []bus.Address{{Transport: "kafka", Name: "orders"}}})
		src, err := file.Open("-", bytes.NewReader(capture), bus.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		_, cmd := m.Update(tailOpenedMsg{id: m.tail.nextID, src: src})
		for cmd != nil {
			_, cmd = m.Update(cmd())
			_ = m.View()
			msgs++
		}
		if m.tail.total != n {
			b.Fatalf("%d events", m.tail.total)
		}
		m.Close()
	}
	el := time.Since(start)
	b.ReportMetric(float64(n*b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(n*b.N)/float64(msgs), "events/frame")
}
