package trace

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readFlows correlates r with ReadCapture and returns the flows' digest.
func readFlows(t *testing.T, r interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	var got []*Flow
	c := NewCorrelator(Config{Clock: func() time.Time { return t0 }, KeepKeys: true, OnFlow: collect(&got)})
	if _, err := c.ReadCapture(context.Background(), r, CaptureOptions{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	c.Flush()
	return flowsDigest(got)
}

// TestReadCaptureMapped: a capture in a file (mapped, decoded where it
// lies) gives the flows that the same bytes read from a reader give, at
// every chunk size, with or without a last newline, from the file's
// offset, and with what was appended after it was mapped.
func TestReadCaptureMapped(t *testing.T) {
	data := captureLines(rand.New(rand.NewPCG(31, 32)), 1200)
	dir := t.TempDir()
	write := func(name string, b []byte) *os.File {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	defer func(n int) { chunkSize = n }(chunkSize)
	noNL := bytes.TrimRight(data, "\r\n")
	for _, size := range []int{64, 4096, 1 << 21} {
		chunkSize = size
		want := readFlows(t, bytes.NewReader(data))
		if got := readFlows(t, write("cap.jsonl", data)); got != want {
			t.Fatalf("chunk %d: the mapped capture's flows differ from the reader's\ngot  %.1500s\nwant %.1500s", size, got, want)
		}
		if got, want := readFlows(t, write("nonl.jsonl", noNL)), readFlows(t, bytes.NewReader(noNL)); got != want {
			t.Fatalf("chunk %d, no last newline: flows differ", size)
		}
	}
	chunkSize = 4096
	// From the file's offset (not a page boundary): the lines after it.
	cut := bytes.IndexByte(data[5000:], '\n') + 5001
	f := write("off.jsonl", data)
	if _, err := f.Seek(int64(cut), 0); err != nil {
		t.Fatal(err)
	}
	if got, want := readFlows(t, f), readFlows(t, bytes.NewReader(data[cut:])); got != want {
		t.Fatal("from an offset: flows differ")
	}
	// Lines appended once the file is mapped are read too, the last mapped
	// line (without its newline then) joined with what follows it.
	head, tail := noNL[:len(noNL)/2], noNL[len(noNL)/2:]
	f = write("grow.jsonl", head)
	afterMap = func() {
		w, err := os.OpenFile(f.Name(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Write(tail); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { afterMap = nil }()
	if got, want := readFlows(t, f), readFlows(t, bytes.NewReader(noNL)); got != want {
		t.Fatal("appended after mapping: flows differ")
	}
}

// TestReadCaptureShrank: a capture that shrinks while it is mapped stops
// the read with an error (reading the mapping past the file's new end is a
// fault), not a crash.
func TestReadCaptureShrank(t *testing.T) {
	data := captureLines(rand.New(rand.NewPCG(33, 34)), 3000)
	p := filepath.Join(t.TempDir(), "cap.jsonl")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapped := false
	afterMap = func() {
		mapped = true
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { afterMap = nil }()
	c := NewCorrelator(Config{})
	_, err = c.ReadCapture(context.Background(), f, CaptureOptions{Name: "cap.jsonl"})
	if !mapped {
		t.Skip("captures are not mapped on this platform")
	}
	if !errors.Is(err, errShrank) || !strings.Contains(err.Error(), "reading cap.jsonl: the file shrank") {
		t.Fatalf("err = %v, want the file shrank", err)
	}
}
