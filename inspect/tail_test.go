package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

// sliceSource is a bus.Source over batches in memory: a test double of the
// interface, not of a broker. After the batches it returns end (io.EOF when
// nil means "block until ctx is done", like a live source with no traffic).
type sliceSource struct {
	batches [][]event.Event
	end     error
	block   bool
	next    func(call int) // called at each Next, before it returns
	calls   int
}

func (s *sliceSource) Next(ctx context.Context) ([]event.Event, error) {
	s.calls++
	if s.next != nil {
		s.next(s.calls)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(s.batches) > 0 {
		b := s.batches[0]
		s.batches = s.batches[1:]
		return b, nil
	}
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.end != nil {
		return nil, s.end
	}
	return nil, io.EOF
}

func (s *sliceSource) Close() error { return nil }

func numbered(from, n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		off := from + i
		evs[i] = event.Event{Transport: event.Kafka, Topic: "t", Offset: int64(off),
			Value: fmt.Appendf(nil, `{"n":%d,"even":%v}`, off, off%2 == 0)}
	}
	return evs
}

func newRaw(t *testing.T, w io.Writer) Printer {
	t.Helper()
	p, err := NewPrinter(w, PrinterOptions{Format: Raw})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTailToEOF(t *testing.T) {
	var out bytes.Buffer
	src := &sliceSource{batches: [][]event.Event{numbered(0, 3), numbered(3, 3)}}
	f, _ := CompileFilter(`value.even`, nil)
	batches := 0
	st, err := Tail(context.Background(), src, TailOptions{Filter: f, Printer: newRaw(t, &out), OnBatch: func() { batches++ }})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"n\":0,\"even\":true}\n{\"n\":2,\"even\":true}\n{\"n\":4,\"even\":true}\n"
	if out.String() != want {
		t.Errorf("out = %q", out.String())
	}
	if !reflect.DeepEqual(st, TailStats{Read: 6, Matched: 3, Printed: 3}) || batches != 2 {
		t.Errorf("stats %+v, %d batches", st, batches)
	}
}

func TestTailLimit(t *testing.T) {
	var out bytes.Buffer
	src := &sliceSource{batches: [][]event.Event{numbered(0, 4), numbered(4, 4), numbered(8, 4)}}
	f, _ := CompileFilter(`value.n >= 3`, nil)
	st, err := Tail(context.Background(), src, TailOptions{Filter: f, Limit: 3, Printer: newRaw(t, &out)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 3 || !strings.HasPrefix(out.String(), `{"n":3,`) {
		t.Errorf("out = %q", out.String())
	}
	if st.Printed != 3 || st.Read != 6 || src.calls != 2 {
		t.Errorf("stats %+v after %d reads; want to stop inside the second batch", st, src.calls)
	}
}

// The printer is flushed after every batch, before the next (possibly long)
// wait for events, so a person sees each event as it arrives.
func TestTailFlushesEachBatch(t *testing.T) {
	var out bytes.Buffer
	src := &sliceSource{batches: [][]event.Event{numbered(0, 2), numbered(2, 1)}}
	src.next = func(call int) {
		if want := []int{0, 2, 3}[call-1]; strings.Count(out.String(), "\n") != want {
			t.Errorf("at read %d: %d lines written, want %d", call, strings.Count(out.String(), "\n"), want)
		}
	}
	if _, err := Tail(context.Background(), src, TailOptions{Printer: newRaw(t, &out)}); err != nil {
		t.Fatal(err)
	}
}

func TestTailCancel(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	src := &sliceSource{batches: [][]event.Event{numbered(0, 2)}, block: true}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	done := make(chan struct{})
	var st TailStats
	var err error
	go func() {
		st, err = Tail(ctx, src, TailOptions{Printer: newRaw(t, w)})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Tail did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) || st.Printed != 2 {
		t.Errorf("err %v, stats %+v", err, st)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(out.String(), "\n") != 2 {
		t.Errorf("printed before cancel was not flushed: %q", out.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestTailErrors(t *testing.T) {
	boom := errors.New("broker went away")
	var out bytes.Buffer
	src := &sliceSource{batches: [][]event.Event{numbered(0, 1)}, end: boom}
	st, err := Tail(context.Background(), src, TailOptions{Printer: newRaw(t, &out)})
	if !errors.Is(err, boom) || st.Printed != 1 || out.Len() == 0 {
		t.Errorf("source error: %v, %+v, %q", err, st, out.String())
	}

	// A run-time filter error skips the event and is counted...
	f, _ := CompileFilter(`value.n % 0 == 1 || topic == "x"`, nil)
	src = &sliceSource{batches: [][]event.Event{numbered(0, 3)}}
	st, err = Tail(context.Background(), src, TailOptions{Filter: f, Printer: newRaw(t, io.Discard)})
	if err != nil || st.FilterErrors != 3 || st.Printed != 0 || st.FirstFilterError == nil {
		t.Errorf("filter errors: %v, %+v", err, st)
	}
	// ...unless the callback says stop.
	src = &sliceSource{batches: [][]event.Event{numbered(0, 3)}}
	_, err = Tail(context.Background(), src, TailOptions{Filter: f, Printer: newRaw(t, io.Discard),
		OnFilterError: func(e *event.Event, err error) error { return fmt.Errorf("offset %d: %w", e.Offset, err) }})
	if err == nil || !strings.HasPrefix(err.Error(), "offset 0: --filter: ") {
		t.Errorf("OnFilterError stop: %v", err)
	}

	// A printer error (a closed pipe) ends the tail.
	src = &sliceSource{batches: [][]event.Event{numbered(0, 3)}}
	_, err = Tail(context.Background(), src, TailOptions{Printer: newRaw(t, failWriter{})})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("printer error: %v", err)
	}
}

// A capture read through bus/file and printed as jsonl comes out as it went in.
func TestTailFileSourceRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.jsonl")
	evs := append(numbered(0, 5), *hostileEvent("\x1b]0;x\x07"), *hostileAMQP("y"))
	sink, err := file.Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	sink.Close()

	src, err := file.Open(path, nil, bus.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out bytes.Buffer
	p, _ := NewPrinter(&out, PrinterOptions{Format: JSONL})
	st, err := Tail(context.Background(), src, TailOptions{Printer: p})
	if err != nil || st.Printed != int64(len(evs)) {
		t.Fatalf("%v, %+v", err, st)
	}
	var want []byte
	for i := range evs {
		want = append(event.AppendEnvelope(want, &evs[i]), '\n')
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("round trip differs:\n got %q\nwant %q", out.Bytes(), want)
	}
}
