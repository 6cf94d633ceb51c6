package kafka_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/bustest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

var (
	posBeginning = bus.Position{Kind: bus.PosBeginning}
	posEnd       = bus.Position{Kind: bus.PosEnd}
)

func posOffset(o int64) bus.Position   { return bus.Position{Kind: bus.PosOffset, Offset: o} }
func posRelative(n int64) bus.Position { return bus.Position{Kind: bus.PosRelative, Offset: n} }
func posTime(t time.Time) bus.Position { return bus.Position{Kind: bus.PosTime, Time: t} }
func snapshot() bus.ReadOptions        { return bus.ReadOptions{From: posBeginning, Until: posEnd} }
func regexAddr(t *testing.T, re string) bus.Address {
	t.Helper()
	a, err := bus.ParseAddress("kafka:/" + re + "/")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// open opens a source that the test closes at its end.
func open(t *testing.T, c interface {
	Source(context.Context, []bus.Address, bus.ReadOptions) (bus.Source, error)
}, addrs []bus.Address, opts bus.ReadOptions) bus.Source {
	t.Helper()
	src, err := c.Source(ctxT(t), addrs, opts)
	if err != nil {
		t.Fatalf("Source(%v): %v", addrs, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// readAll reads until io.EOF (which must then repeat), within a deadline.
func readAll(t *testing.T, src bus.Source) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []event.Event
	for {
		b, err := src.Next(ctx)
		got = append(got, b...)
		if errors.Is(err, io.EOF) {
			if _, err := src.Next(ctx); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after io.EOF = %v, want io.EOF", err)
			}
			return got
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(got), err)
		}
	}
}

// readN reads exactly n events from a live source.
func readN(t *testing.T, src bus.Source, n int) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []event.Event
	for len(got) < n {
		b, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, b...)
	}
	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
	}
	return got
}

type po struct {
	p int32
	o int64
}

// offsets lists partition/offset pairs of evs, sorted.
func offsets(evs []event.Event) []po {
	out := make([]po, len(evs))
	for i, e := range evs {
		out[i] = po{e.Partition, e.Offset}
	}
	slices.SortFunc(out, func(a, b po) int {
		if a.p != b.p {
			return int(a.p - b.p)
		}
		return int(a.o - b.o)
	})
	return out
}

// span lists offsets [from, to) of each partition in ps.
func span(from, to int64, ps ...int32) []po {
	var out []po
	for _, p := range ps {
		for o := from; o < to; o++ {
			out = append(out, po{p, o})
		}
	}
	return out
}

// rec is a record for topic t, partition p (ManualPartitioner), value v.
func rec(t string, p int32, v string) *kgo.Record {
	return &kgo.Record{Topic: t, Partition: p, Value: []byte(v)}
}

// bustestEvents returns n varied events, as the conformance suite writes them.
func bustestEvents(n int) []event.Event { return bustest.Events(bustest.Harness{}, n) }

// eachCluster runs fn on kfake and, when EDDY_TEST_KAFKA names one, on the
// real broker (see kafkatest.Real for when that subtest skips or fails).
func eachCluster(t *testing.T, fn func(t *testing.T, seeds []string)) {
	t.Run("kfake", func(t *testing.T) { fn(t, newCluster(t)) })
	t.Run("real", func(t *testing.T) { fn(t, kafkatest.Real(t)) })
}
