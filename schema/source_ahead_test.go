package schema

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

// chanSource hands out the batches sent on feed, one per Next, and io.EOF
// once feed is closed; Next blocks until a batch comes, ctx ends or Close.
type chanSource struct {
	feed    chan []event.Event
	closed  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	calls   int // Next calls begun
	active  int // Next calls running now (the contract: at most one)
	overlap bool
}

func newChanSource() *chanSource {
	return &chanSource{feed: make(chan []event.Event), closed: make(chan struct{})}
}

func (s *chanSource) Next(ctx context.Context) ([]event.Event, error) {
	s.mu.Lock()
	s.calls++
	s.active++
	if s.active > 1 {
		s.overlap = true
	}
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.active--; s.mu.Unlock() }()
	select {
	case evs, ok := <-s.feed:
		if !ok {
			return nil, io.EOF
		}
		return evs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closed:
		return nil, errors.New("closed")
	}
}

func (s *chanSource) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

func (s *chanSource) callsBegun() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

func aheadDecoder(t *testing.T) (*Decoder, []byte) {
	r := newRegistry(t)
	id := r.register(t, "orders-value", sr.Schema{Schema: benchSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	return d, frame(id, benchBody(&testing.B{}))
}

func batch(value []byte, from, n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{Transport: event.Kafka, Topic: "orders", Offset: int64(from + i), Value: value}
	}
	return evs
}

// Batches come decoded and in order, the next one is read while the caller
// holds the last (never two Next of src at once), and io.EOF ends it.
func TestSourceAheadReadsAheadInOrder(t *testing.T) {
	d, value := aheadDecoder(t)
	src := newChanSource()
	s := SourceAhead(src, d)
	go func() {
		for i := range 3 {
			src.feed <- batch(value, i*300, 300)
		}
		close(src.feed)
	}()
	ctx := context.Background()
	next := 0
	for b := 0; ; b++ {
		evs, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// Before the caller asks again, src is already being read.
		kafkatest.WaitFor(t, 5*time.Second, "the read ahead", func() bool { return src.callsBegun() >= b+2 })
		for i := range evs {
			if evs[i].Offset != int64(next) {
				t.Fatalf("offset %d, want %d", evs[i].Offset, next)
			}
			next++
			if dec := evs[i].ValueDecoded; dec == nil || dec.Fail != "" || len(dec.JSON) == 0 {
				t.Fatalf("offset %d not decoded: %+v", evs[i].Offset, dec)
			}
		}
	}
	if next != 900 {
		t.Fatalf("read %d events, want 900", next)
	}
	if _, err := s.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("after the end: %v, want io.EOF", err)
	}
	if src.overlap {
		t.Fatal("src.Next ran twice at once")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A Next whose ctx ends returns promptly with ctx's error; the batch read
// ahead meanwhile is not lost: the next call, with a live ctx, gets it.
// Close ends a read ahead in flight and waits for it.
func TestSourceAheadCancelAndClose(t *testing.T) {
	d, value := aheadDecoder(t)
	src := newChanSource()
	s := SourceAhead(src, d)
	go func() { src.feed <- batch(value, 0, 10) }()
	if evs, err := s.Next(context.Background()); err != nil || len(evs) != 10 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Next: %v", err)
	}
	go func() { src.feed <- batch(value, 10, 5) }()
	evs, err := s.Next(context.Background())
	if err != nil || len(evs) != 5 || evs[0].Offset != 10 || evs[0].ValueDecoded == nil {
		t.Fatalf("after the cancel: %d events, %v", len(evs), err)
	}
	// A read ahead is now blocked in src.Next: Close must end it.
	kafkatest.WaitFor(t, 5*time.Second, "the read ahead", func() bool { return src.callsBegun() >= 3 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	active := src.active
	src.mu.Unlock()
	if active != 0 {
		t.Fatalf("%d src.Next still running after Close", active)
	}
}

// A read ahead under a ctx that has ended since is not the error of a
// later call whose ctx is live: that call reads again.
func TestSourceAheadStaleContext(t *testing.T) {
	d, value := aheadDecoder(t)
	src := newChanSource()
	s := SourceAhead(src, d)
	ctx1, cancel := context.WithCancel(context.Background())
	go func() { src.feed <- batch(value, 0, 1) }()
	if _, err := s.Next(ctx1); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, 5*time.Second, "the read ahead", func() bool { return src.callsBegun() >= 2 })
	cancel() // the read ahead, under ctx1, returns ctx1's error
	go func() { src.feed <- batch(value, 1, 1) }()
	evs, err := s.Next(context.Background())
	if err != nil || len(evs) != 1 || evs[0].Offset != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	s.Close()
}
