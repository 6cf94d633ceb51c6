package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// BenchmarkSource reads 200,000 records of ~200 bytes (one partition,
// uncompressed, as kcat writes them) from beginning to end, as `eddy tail
// --from beginning --until end -o raw` does. It runs on kfake, so the figure
// compares eddy's versions with each other; bench/ compares eddy with kcat
// against a real broker.
func BenchmarkSource(b *testing.B) {
	seeds, topic := benchTopic(b)
	c := newClient(b, seeds)
	ctx := context.Background()

	b.ReportAllocs()
	var records, bytes int
	for b.Loop() {
		src, err := c.Source(ctx, []bus.Address{topicAddr(topic)}, snapshot())
		if err != nil {
			b.Fatal(err)
		}
		for {
			evs, err := src.Next(ctx)
			for i := range evs {
				bytes += len(evs[i].Value) + 1 // what -o raw writes
			}
			records += len(evs)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		src.Close()
	}
	if records != benchRecords*b.N {
		b.Fatalf("read %d records in %d rounds, want %d each", records, b.N, benchRecords)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

const benchRecords = 200_000

// benchTopic writes the benchmark's records to a new topic on kfake.
func benchTopic(b *testing.B) ([]string, string) {
	seeds := newCluster(b)
	topic := kafkatest.NewTopic(b, seeds, 1)
	cl := kafkatest.Client(b, seeds, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(benchRecords))
	ctx := context.Background()
	pad := strings.Repeat("x", 180)
	for i := range benchRecords {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%1000), Value: fmt.Appendf(nil, "%09d %s", i, pad)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return seeds, topic
}

// BenchmarkSourceBaseline is the same read with a bare kgo consumer on its
// defaults, the baseline BenchmarkSource's tuning is measured against.
func BenchmarkSourceBaseline(b *testing.B) {
	seeds, topic := benchTopic(b)
	ctx := context.Background()
	b.ReportAllocs()
	var records int
	for b.Loop() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchRecords; {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { n++; records++ })
		}
		cl.Close()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
