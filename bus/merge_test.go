package bus_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

func capture(t *testing.T, topic string, n int, tail string) string {
	t.Helper()
	var b []byte
	for i := range n {
		b = event.AppendEnvelope(b, &event.Event{Transport: event.Kafka, Topic: topic, Offset: int64(i), Value: []byte(strconv.Itoa(i))})
		b = append(b, '\n')
	}
	b = append(b, tail...)
	p := filepath.Join(t.TempDir(), topic+".jsonl")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, p string) bus.Source {
	s, err := file.Open(p, nil, bus.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMergeReadsAllInPerSourceOrder(t *testing.T) {
	m := bus.Merge(open(t, capture(t, "a", 1500, "")), open(t, capture(t, "b", 700, "")))
	defer m.Close()
	next := map[string]int64{}
	for {
		evs, err := m.Next(context.Background())
		for _, e := range evs {
			if e.Offset != next[e.Topic] {
				t.Fatalf("%s: offset %d, want %d: a source's order was not kept", e.Topic, e.Offset, next[e.Topic])
			}
			next[e.Topic]++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if next["a"] != 1500 || next["b"] != 700 {
		t.Fatalf("read %v, want a:1500 b:700", next)
	}
}

func TestMergeReportsASourceError(t *testing.T) {
	m := bus.Merge(open(t, capture(t, "a", 3, "")), open(t, capture(t, "b", 2, "{broken\n")))
	defer m.Close()
	var lerr *file.LineError
	for {
		_, err := m.Next(context.Background())
		if err == nil {
			continue
		}
		if !errors.As(err, &lerr) || lerr.Line != 3 {
			t.Fatalf("err = %v, want the line error of b at line 3", err)
		}
		if _, again := m.Next(context.Background()); again == nil {
			t.Fatal("Next after an error returned no error")
		}
		return
	}
}
