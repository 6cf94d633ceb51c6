package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// flowsDigest renders finalised flows (and Stats) for comparison.
func flowsDigest(fs []*Flow) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s %s open=%v\n", f.Key, f.KeyKind, f.Open)
		for _, s := range f.Steps {
			dl := s.DeadLetter
			s.DeadLetter = nil
			fmt.Fprintf(&b, "  %+v dl=%+v\n", s, dl)
		}
		for _, h := range f.Hops {
			fmt.Fprintf(&b, "  hop %+v\n", h)
		}
	}
	return b.String()
}

// captureLines builds a capture with every kind of line the reader must
// handle like bus/file: CRLF, blank and whitespace lines, long lines, AMQP
// typed headers and properties (the careful decoder's path), escapes, events
// without ids, duplicates and dead letters.
func captureLines(r *rand.Rand, n int) []byte {
	var out []byte
	for i := range n {
		flow := i / 4
		e := ev([]string{"orders", "payments", "orders.DLT"}[i%3], int32(i%3), int64(i), fmt.Sprintf("e-%d", i%997),
			[]string{"A", "B", "C"}[i%3], fmt.Sprintf("c-%d", flow), fmt.Sprintf("e-%d", (i+996)%997), time.Duration(i)*time.Millisecond,
			"traceparent", fmt.Sprintf("00-%032x-%016x-01", flow+1, i+1))
		switch r.IntN(10) {
		case 0:
			e.Value = []byte(`{"type":"NoIDs","note":"tab\there \"quoted\" é"}`)
		case 1:
			e.Value = append(e.Value[:len(e.Value)-1], []byte(`,"pad":"`+strings.Repeat("x", r.IntN(5000))+`"}`)...)
		case 2:
			e.Transport, e.Topic, e.Queue, e.Exchange = event.AMQP, "", "q.dlq", "ex"
			e.Headers = append(e.Headers, event.Header{Key: "x-death", Value: []byte("[]"), Typed: []any{map[string]any{"reason": "rejected", "queue": "q"}}})
			e.Properties = &event.Properties{MessageID: "m-1", Type: "T"}
		case 3:
			e.Headers = append(e.Headers, event.Header{Key: "kafka_dlt-exception-message", Value: []byte("boom")})
		}
		out = event.AppendEnvelope(out, &e)
		switch r.IntN(12) {
		case 0:
			out = append(out, "\r\n"...)
		case 1:
			out = append(out, "\n\n   \n"...)
		default:
			out = append(out, '\n')
		}
	}
	return out
}

// TestReadCaptureAgreesWithAdd: the parallel capture reader gives the
// flows, in the same order, that Add on each event in turn gives, across
// chunk boundaries of every size.
func TestReadCaptureAgreesWithAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	data := captureLines(r, 1500)
	clock := func() time.Time { return t0 }

	var want []*Flow
	ref := NewCorrelator(Config{Clock: clock, KeepKeys: true, OnFlow: collect(&want)})
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := event.DecodeEnvelope(line)
		if err != nil {
			t.Fatal(err)
		}
		ref.Add(e)
	}
	ref.Flush()

	defer func(n int) { chunkSize = n }(chunkSize)
	for _, size := range []int{64, 4096, 1 << 21} {
		for _, workers := range []int{1, 3} {
			chunkSize = size
			var got []*Flow
			c := NewCorrelator(Config{Clock: clock, KeepKeys: true, OnFlow: collect(&got)})
			res, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{Name: "x", Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			c.Flush()
			if g, w := flowsDigest(got), flowsDigest(want); g != w {
				t.Fatalf("chunk %d, %d workers: flows differ from Add's\ngot  %.2000s\nwant %.2000s", size, workers, g, w)
			}
			if res.Latest.IsZero() || c.Events() != ref.Events() || c.Duplicates() != ref.Duplicates() {
				t.Fatalf("latest %v, events %d/%d, duplicates %d/%d", res.Latest, c.Events(), ref.Events(), c.Duplicates(), ref.Duplicates())
			}
		}
	}
}

// TestBorrowSameStats: borrowed flows (built in reused memory) make the same
// statistics as owned ones.
func TestBorrowSameStats(t *testing.T) {
	data := captureLines(rand.New(rand.NewPCG(23, 24)), 6000)
	report := func(borrow bool) string {
		st := NewStats(nil)
		c := NewCorrelator(Config{Borrow: borrow, OnFlow: st.Add})
		if _, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Flush()
		return fmt.Sprintf("%+v", st.Report(nil))
	}
	if a, b := report(false), report(true); a != b {
		t.Fatalf("borrowed flows give other statistics\nowned    %s\nborrowed %s", a, b)
	}
}

// TestOpenMatching: the open flows OpenMatching builds are those of Open
// that Flow.Matches accepts, in the same order.
func TestOpenMatching(t *testing.T) {
	data := captureLines(rand.New(rand.NewPCG(25, 26)), 800)
	c := NewCorrelator(Config{})
	if _, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	open := c.Open()
	ids := []string{"nope", "", "c-3", "e-5", "e-996", "m-1", fmt.Sprintf("%032x", 7), strings.ToUpper(fmt.Sprintf("%032x", 7)), fmt.Sprintf("%016x", 9)}
	for _, f := range open[:5] {
		ids = append(ids, f.Key, f.Steps[0].ID, f.Steps[0].TraceID, f.Steps[len(f.Steps)-1].Causation)
	}
	// A flow whose steps all have ids and causes, some a trace context and
	// some not.
	tp := "00-0000000000000000000000000000000a-000000000000000b-01"
	e1 := ev("t", 0, 1, "z1", "A", "zc", "z0", 0, "traceparent", tp)
	e2 := ev("t", 0, 2, "z2", "B", "zc", "z1", time.Millisecond)
	c.Add(&e1)
	c.Add(&e2)
	open = c.Open()
	for _, id := range ids {
		var want []*Flow
		for _, f := range open {
			if f.Matches(id) {
				want = append(want, f)
			}
		}
		if g, w := flowsDigest(c.OpenMatching(id)), flowsDigest(want); g != w {
			t.Fatalf("OpenMatching(%q):\n%s\nwant\n%s", id, g, w)
		}
	}
	// An empty id names nothing: not every step that lacks an id or a trace
	// (eddy trace '' once printed every flow).
	if got := c.OpenMatching(""); len(got) != 0 {
		t.Fatalf("OpenMatching(\"\") = %d flows, want none", len(got))
	}
	for _, f := range open {
		if f.Matches("") {
			t.Fatalf("flow %q matches the empty id", f.Key)
		}
	}
}

// TestReadCaptureBadLines: the first malformed line stops the read with its
// line number (as bus/file counts lines), after correlating what came
// before; with SkipBad every bad line is counted and skipped; Keep filters.
func TestReadCaptureBadLines(t *testing.T) {
	good := `{"v":1,"transport":"kafka","topic":"t","partition":0,"offset":%d,"timestamp":"2026-11-23T10:00:00.000Z","key":null,"headers":[],"value":"{\"event_id\":\"e-%d\"}"}`
	var lines []string
	for i := range 500 {
		lines = append(lines, fmt.Sprintf(good, i, i))
	}
	lines[300] = `{"v":1,"transport":"kafka","topic":`
	lines[301] = ""
	lines[420] = `not json`
	data := []byte(strings.Join(lines, "\n"))
	defer func(n int) { chunkSize = n }(chunkSize)
	chunkSize = 777
	c := NewCorrelator(Config{})
	_, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{Name: "cap.jsonl"})
	var le *file.LineError
	if !errors.As(err, &le) || le.Line != 301 || le.Path != "cap.jsonl" || !errors.Is(err, event.ErrEnvelope) {
		t.Fatalf("err = %v, want cap.jsonl:301", err)
	}
	if c.Events() != 300 {
		t.Fatalf("%d events correlated before the bad line, want 300", c.Events())
	}
	c = NewCorrelator(Config{})
	res, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{SkipBad: true,
		Keep: func(e *event.Event) bool { return e.Offset%2 == 0 }})
	if err != nil || res.Skipped != 2 || c.Events() != 248 {
		t.Fatalf("skip-bad: %v, skipped %d, events %d", err, res.Skipped, c.Events())
	}
}

// TestReadCaptureCancel: a cancelled context stops the read promptly and
// leaves no goroutine blocked (the race detector and -count catch leaks).
func TestReadCaptureCancel(t *testing.T) {
	data := captureLines(rand.New(rand.NewPCG(1, 1)), 2000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := NewCorrelator(Config{})
	if _, err := c.ReadCapture(ctx, bytes.NewReader(data), CaptureOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// A reader that fails mid-way reports it.
	_, err := c.ReadCapture(context.Background(), &failingReader{data: data[:5000]}, CaptureOptions{Name: "f"})
	if err == nil || !strings.Contains(err.Error(), "reading f") {
		t.Fatalf("err = %v", err)
	}
}

type failingReader struct{ data []byte }

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, os.ErrClosed
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestReadCaptureGroupedAgreesWithAdd: chunks whose events all have a
// correlation or trace id are correlated a flow key at a time (their runs
// in the order of their last event); the flows, their order, the event
// types' order, events and duplicates are Add's on each event in turn, with
// flows across chunks, retries (duplicates, some earlier than the first
// copy), and some events with neither id, which make the Correlator link
// from their chunk on.
func TestReadCaptureGroupedAgreesWithAdd(t *testing.T) {
	for _, unkeyed := range []int{0, 2, 300} { // per thousand
		r := rand.New(rand.NewPCG(41, uint64(unkeyed)))
		var data []byte
		type open struct{ corr, last string }
		var flows []open
		for i := range 3000 {
			if len(flows) < 12 || r.IntN(4) == 0 {
				flows = append(flows, open{corr: fmt.Sprintf("c-%d", i)})
			}
			k := r.IntN(len(flows))
			f := &flows[k]
			id := fmt.Sprintf("e-%d", i)
			if r.IntN(20) == 0 && f.last != "" {
				id = f.last // a retry
			}
			typ := fmt.Sprintf("T%d", r.IntN(7))
			at := time.Duration(i+r.IntN(50)-25) * time.Millisecond
			var e event.Event
			switch {
			case r.IntN(1000) < unkeyed:
				e = ev("orders", 0, int64(i), id, typ, "", f.last, at)
			case r.IntN(3) == 0:
				e = ev("orders", 1, int64(i), id, typ, "", f.last, at, "traceparent", fmt.Sprintf("00-%032x-%016x-01", k+1, i+1))
			default:
				e = ev("payments", 2, int64(i), id, typ, f.corr, f.last, at)
			}
			f.last = id
			data = event.AppendEnvelope(data, &e)
			data = append(data, '\n')
			if r.IntN(6) == 0 {
				flows = slices.Delete(flows, k, k+1)
			}
		}
		clock := func() time.Time { return t0 }
		var want []*Flow
		ref := NewCorrelator(Config{Clock: clock, OnFlow: collect(&want)})
		for line := range bytes.Lines(data) {
			e, err := event.DecodeEnvelope(bytes.TrimSuffix(line, []byte("\n")))
			if err != nil {
				t.Fatal(err)
			}
			ref.Add(e)
		}
		ref.Flush()
		defer func(n int) { chunkSize = n }(chunkSize)
		for _, size := range []int{64, 1000, 8192, 1 << 21} {
			chunkSize = size
			var got []*Flow
			c := NewCorrelator(Config{Clock: clock, OnFlow: collect(&got)})
			if _, err := c.ReadCapture(context.Background(), bytes.NewReader(data), CaptureOptions{Workers: 2}); err != nil {
				t.Fatal(err)
			}
			c.Flush()
			if g, w := flowsDigest(got), flowsDigest(want); g != w {
				t.Fatalf("%d‰ without ids, chunk %d: flows differ from Add's\ngot  %.3000s\nwant %.3000s", unkeyed, size, g, w)
			}
			if !slices.Equal(c.Types(), ref.Types()) || c.Events() != ref.Events() || c.Duplicates() != ref.Duplicates() {
				t.Fatalf("%d‰ without ids, chunk %d: types %v/%v, events %d/%d, duplicates %d/%d", unkeyed, size,
					c.Types(), ref.Types(), c.Events(), ref.Events(), c.Duplicates(), ref.Duplicates())
			}
		}
	}
}
