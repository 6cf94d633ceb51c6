package trace

import (
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// TestEventTimePrecision: an event's time is the most precise source it
// has, and says which: a millisecond occurred-at outranks a whole-second AMQP
// timestamp; a whole-second occurred-at is refined by a Kafka record
// timestamp within that second; a hop into a whole-second time up to a
// second before its cause is not skew, one from a whole-second cause is.
func TestEventTimePrecision(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	kafka := func(off int64, ts, value string) event.Event {
		return event.Event{Transport: event.Kafka, Topic: "orders", Offset: off, Timestamp: at(ts), Value: []byte(value)}
	}
	amqp := func(id string, stamp, value string) event.Event {
		return event.Event{Transport: event.AMQP, Queue: "pay", Offset: -1, Timestamp: at(stamp),
			Properties: &event.Properties{MessageID: id, Timestamp: at(stamp)}, Value: []byte(value)}
	}
	fs := correlate([]event.Event{
		kafka(1, "2026-11-23T10:00:00.950Z", `{"event_id":"a","type":"A","occurred_at":"2026-11-23T10:00:00.950Z","correlation_id":"f"}`),
		// The property says 10:00:00 (whole seconds), the payload 10:00:01.000.
		amqp("b", "2026-11-23T10:00:00Z", `{"type":"B","occurred_at":"2026-11-23T10:00:01.000Z","correlation_id":"f","causation_id":"a"}`),
		// Whole seconds only, 10:00:00 for an event after a at 10:00:00.950:
		// within its second, not skew.
		amqp("c", "2026-11-23T10:00:00Z", `{"type":"C","correlation_id":"f","causation_id":"a"}`),
		// A whole-second occurred-at refined by the record timestamp.
		kafka(2, "2026-11-23T10:00:01.300Z", `{"event_id":"d","type":"D","occurred_at":"2026-11-23T10:00:01Z","correlation_id":"f","causation_id":"b"}`),
		// ... but not by one outside its second (a later delivery).
		kafka(3, "2026-11-23T10:00:05.300Z", `{"event_id":"e","type":"E","occurred_at":"2026-11-23T10:00:02Z","correlation_id":"f","causation_id":"d"}`),
		// A cause known to the second, and its effect 10:00:01.900 before
		// that second's start: skew.
		kafka(4, "2026-11-23T10:00:01.900Z", `{"event_id":"g","type":"G","occurred_at":"2026-11-23T10:00:01.900Z","correlation_id":"f","causation_id":"e"}`),
	})
	if len(fs) != 1 {
		t.Fatalf("%d flows", len(fs))
	}
	want := map[string]struct {
		at     string
		from   string
		coarse bool
		hop    time.Duration
		skew   bool
	}{
		"A": {"2026-11-23T10:00:00.950Z", "json:occurred_at", false, -1, false},
		"B": {"2026-11-23T10:00:01Z", "json:occurred_at", false, 50 * time.Millisecond, false},
		"C": {"2026-11-23T10:00:00Z", "property:timestamp", true, -950 * time.Millisecond, false},
		"D": {"2026-11-23T10:00:01.300Z", "timestamp", false, 300 * time.Millisecond, false},
		"E": {"2026-11-23T10:00:02Z", "json:occurred_at", true, 700 * time.Millisecond, false},
		"G": {"2026-11-23T10:00:01.900Z", "json:occurred_at", false, -100 * time.Millisecond, true},
	}
	f := fs[0]
	hops := map[int]Hop{}
	for _, h := range f.Hops {
		hops[h.To] = h
	}
	for i, s := range f.Steps {
		w := want[s.Type]
		if !s.At.Equal(at(w.at)) || s.TimeSource != w.from || s.TimeCoarse != w.coarse {
			t.Errorf("%s: at %v from %q coarse %v; want %s from %q coarse %v", s.Type, s.At, s.TimeSource, s.TimeCoarse, w.at, w.from, w.coarse)
		}
		h, ok := hops[i]
		if w.hop == -1 {
			continue
		}
		if !ok || h.Basis != FromCausation || h.Latency != w.hop || h.Skew != w.skew {
			t.Errorf("%s: hop %+v; want %v by causation, skew %v", s.Type, h, w.hop, w.skew)
		}
		if j := f.JSON(nil).Events[i]; j.TimeSource != w.from || j.TimeCoarse != w.coarse {
			t.Errorf("%s: JSON time_source %q time_coarse %v", s.Type, j.TimeSource, j.TimeCoarse)
		}
	}
}
