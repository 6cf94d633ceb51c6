package file_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/bustest"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/event"
)

func TestConformance(t *testing.T) {
	bustest.Run(t, bustest.Harness{
		NewDest: func(t *testing.T) string { return filepath.Join(t.TempDir(), "capture.jsonl") },
		NewSink: func(t *testing.T, dest string) bus.Sink {
			s, err := file.Create(dest, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NewSource: func(t *testing.T, dest string, opts bus.ReadOptions) bus.Source {
			s, err := file.Open(dest, nil, opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		NilHeaderValues:  true,
		DuplicateHeaders: true,
	})
}

func TestMalformedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.jsonl")
	good := string(event.AppendEnvelope(nil, &event.Event{Transport: event.Kafka, Topic: "t", Value: []byte("x")}))
	os.WriteFile(path, []byte(good+"\n\n"+good+"\n{oops\n"+good+"\n"), 0o644)

	src, _ := file.Open(path, nil, bus.ReadOptions{})
	defer src.Close()
	var n int
	var err error
	for err == nil {
		var b []event.Event
		b, err = src.Next(context.Background())
		n += len(b)
	}
	var le *file.LineError
	if !errors.As(err, &le) || le.Line != 4 || !strings.Contains(err.Error(), "c.jsonl:4:") {
		t.Fatalf("err = %v, want a LineError at line 4", err)
	}
	if n != 2 {
		t.Fatalf("read %d good events before the bad line, want 2", n)
	}

	src, _ = file.Open(path, nil, bus.ReadOptions{SkipBad: true})
	defer src.Close()
	n = 0
	for {
		b, err := src.Next(context.Background())
		n += len(b)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 || src.Skipped() != 1 {
		t.Fatalf("with SkipBad: read %d, skipped %d; want 3 and 1", n, src.Skipped())
	}
}

func TestMissingFile(t *testing.T) {
	_, err := file.Open(filepath.Join(t.TempDir(), "nope"), nil, bus.ReadOptions{})
	if !errors.Is(err, bus.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// stdinPipe opens "-" on a pipe that stays open until the test ends; the
// test writes to w.
func stdinPipe(t *testing.T) (*io.PipeWriter, bus.Source) {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	src, _ := file.Open("-", r, bus.ReadOptions{})
	t.Cleanup(func() { src.Close() })
	return w, src
}

func TestStdinCancel(t *testing.T) {
	_, src := stdinPipe(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next on a blocked stdin with a cancelled context = %v", err)
	}
}

// A pipe that stays open still delivers each line as it arrives.
func TestStdinDeliversBeforeEOF(t *testing.T) {
	w, src := stdinPipe(t)
	go w.Write(append(event.AppendEnvelope(nil, &event.Event{Transport: event.Kafka, Topic: "t", Value: []byte("x")}), '\n'))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := src.Next(ctx)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Next = %d events, %v; want the one line written, before EOF", len(evs), err)
	}
}
