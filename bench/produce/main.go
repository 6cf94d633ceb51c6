// Command produce fills a Kafka topic for the benchmarks in bench/: it creates
// the topic and writes N records of about SIZE bytes as fast as franz-go can.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:39092", "Kafka bootstrap brokers")
	topic := flag.String("topic", "", "topic to create and fill")
	n := flag.Int("n", 1_000_000, "records")
	size := flag.Int("size", 200, "approximate value size in bytes")
	partitions := flag.Int("partitions", 1, "partitions of the new topic")
	flag.Parse()
	if *topic == "" {
		fmt.Fprintln(os.Stderr, "produce: -topic is required")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.DefaultProduceTopic(*topic),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<16))
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
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for i := range *n {
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
	fmt.Fprintf(os.Stderr, "produce: %d records to %s in %v\n", *n, *topic, time.Since(start).Round(time.Millisecond))
}
