package file_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
)

// BenchmarkReadCapture reads $EDDY_BENCH_CAPTURE (a capture, e.g. from
// bench/gencapture) through the file source; skipped without it.
func BenchmarkReadCapture(b *testing.B) {
	path := os.Getenv("EDDY_BENCH_CAPTURE")
	if path == "" {
		b.Skip("EDDY_BENCH_CAPTURE not set")
	}
	total := 0
	for b.Loop() {
		src, err := file.Open(path, nil, bus.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			evs, err := src.Next(context.Background())
			n += len(evs)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		src.Close()
		total += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/event")
}
