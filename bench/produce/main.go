// Command produce fills a Kafka topic for the benchmarks in bench/: it creates
// the topic and writes N records of about SIZE bytes as fast as franz-go can,
// in the batch layout asked for (compression codec, batch size), so that a
// benchmark can read every layout a user meets.
//
//	produce -brokers HOST:PORT -topic T -n N -size 200 -partitions 1 \
//	        -compression snappy|none|lz4|zstd|gzip -batch-bytes 1048576 -pad x|hex
//	produce -serve-kfake    start an in-process kfake broker, print its
//	                        address, serve until stdin closes
//
// It prints the batches it wrote (count, records per batch, bytes before and
// after compression) on stderr, so a report can say what layout it read.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:39092", "Kafka bootstrap brokers")
	topic := flag.String("topic", "", "topic to create and fill")
	n := flag.Int("n", 1_000_000, "records")
	size := flag.Int("size", 200, "approximate value size in bytes")
	partitions := flag.Int("partitions", 1, "partitions of the new topic")
	compression := flag.String("compression", "snappy", "batch compression: none, snappy, lz4, zstd or gzip (franz-go's default is snappy)")
	batchBytes := flag.Int("batch-bytes", 1<<20, "largest batch in bytes: small values write small batches, as a low-rate producer does")
	linger := flag.Duration("linger", 5*time.Millisecond, "how long a batch waits to fill (0: sent as soon as possible)")
	padKind := flag.String("pad", "x", "value padding: x (one letter repeated: compresses almost to nothing) or hex (random hex digits: compresses about 2x, nearer to real payloads)")
	serveKfake := flag.Bool("serve-kfake", false, "start an in-process kfake broker, print its address, serve until stdin closes")
	flag.Parse()
	if *serveKfake {
		serve()
		return
	}
	if *topic == "" {
		fmt.Fprintln(os.Stderr, "produce: -topic is required")
		os.Exit(2)
	}
	codec, err := codecOf(*compression)
	if err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(2)
	}
	var batches, records, raw, compressed atomic.Int64
	hook := batchHook{func(m kgo.ProduceBatchMetrics) {
		batches.Add(1)
		records.Add(int64(m.NumRecords))
		raw.Add(int64(m.UncompressedBytes))
		compressed.Add(int64(m.CompressedBytes))
	}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.DefaultProduceTopic(*topic),
		kgo.ProducerBatchCompression(codec), kgo.ProducerBatchMaxBytes(int32(*batchBytes)), kgo.ProducerLinger(*linger),
		kgo.MaxBufferedRecords(1<<16), kgo.WithHooks(hook))
	if err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(1)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, int32(*partitions), 1, nil, *topic); err != nil {
		fmt.Fprintln(os.Stderr, "produce: create topic:", err)
		os.Exit(1)
	}
	// A JSON-ish value like an event, padded to size; distinct per record.
	pad := strings.Repeat("x", max(0, *size-80))
	var rng *rand.Rand
	switch *padKind {
	case "x":
	case "hex":
		rng = rand.New(rand.NewPCG(1, 2)) // the same values every run
	default:
		fmt.Fprintf(os.Stderr, "produce: unknown -pad %q (x, hex)\n", *padKind)
		os.Exit(2)
	}
	hexPad := make([]byte, len(pad))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for i := range *n {
		if rng != nil {
			for j := range hexPad {
				hexPad[j] = "0123456789abcdef"[rng.IntN(16)]
			}
			pad = string(hexPad)
		}
		v := fmt.Sprintf(`{"event_id":"e-%09d","type":"OrderPlaced","total":%d,"pad":"%s"}`, i, i%1000, pad)
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("o-%d", i%10000)), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "produce:", firstErr)
		os.Exit(1)
	}
	b := max(batches.Load(), 1)
	fmt.Fprintf(os.Stderr, "produce: %d records to %s in %v: %d %s batches, %.0f records/batch, %.0f B/batch (%.0f B before compression)\n",
		*n, *topic, time.Since(start).Round(time.Millisecond), batches.Load(), *compression,
		float64(records.Load())/float64(b), float64(compressed.Load())/float64(b), float64(raw.Load())/float64(b))
}

// codecOf maps a codec's name to franz-go's codec.
func codecOf(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown -compression %q (none, snappy, lz4, zstd, gzip)", name)
}

// batchHook counts the batches the client wrote.
type batchHook struct{ f func(kgo.ProduceBatchMetrics) }

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (h batchHook) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	h.f(m)
}

// serve runs a one-broker kfake cluster on loopback until stdin closes, so
// that a benchmark can fill it with this command and read it with eddy and
// kcat over TCP, as it does the real broker.
func serve() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println(strings.Join(c.ListenAddrs(), ","))
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
}
