package send

import (
	"bytes"
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// BenchmarkSendLinesKfake is eddy send --lines' path, lines to one kfake
// partition, per line (bench/send.sh compares the command with kcat). It
// reports the process's CPU time per line (cpu-ns/op, the client's and the
// in-process kfake's): on a loaded machine the wall time (ns/op) is noise,
// the CPU time much less so. Compare runs with -benchtime=1000000x
// -benchmem -count=5.
func BenchmarkSendLinesKfake(b *testing.B) {
	seeds := kafkatest.Cluster(b)
	if os.Getenv("EDDY_BENCH_REAL") != "" {
		seeds = kafkatest.Real(b)
	}
	topic := kafkatest.NewTopic(b, seeds, 1)
	c, err := kafka.New(seeds)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// The lines as bench/send.sh writes them, made without fmt so that a
	// CPU profile of the benchmark is about sending them.
	pad := `,"pad":"` + strings.Repeat("0", 160) + "\"}\n"
	var buf bytes.Buffer
	buf.Grow(b.N * (len(pad) + 20))
	var num []byte
	for i := range b.N {
		buf.WriteString(`{"seq":`)
		num = strconv.AppendInt(num[:0], int64(i), 10)
		buf.Write(num)
		buf.WriteString(pad)
	}
	// As eddy send sets it (cmd/eddy/send.go).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	b.SetBytes(int64(buf.Len() / max(b.N, 1)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	t := NewTracker(nil)
	p, err := NewKafka(context.Background(), c, topic, -1, t)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := Run(context.Background(), Lines(&buf, "bench", nil, nil), p, t, &Options{Partition: -1}); err != nil {
		b.Fatal(err)
	}
	if r := t.Result(); r.Landed != int64(b.N) {
		b.Fatalf("landed %d of %d", r.Landed, b.N)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
