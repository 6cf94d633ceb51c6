package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

func TestFetchBytesFor(t *testing.T) {
	for _, tc := range []struct {
		wire, decoded int64
		want          int32
	}{
		{0, 0, decodedFetchBytes},      // nothing read yet
		{100, 100, decodedFetchBytes},  // uncompressed
		{100, 90, decodedFetchBytes},   // "compressed" larger than its records
		{100, 800, 4 << 20},            // snappy on repetitive records, 8x
		{100, 250, 12 << 20},           // 2.5x: 12.8 MiB rounded down
		{1, 1000, minFetchBytes},       // 1000x: never below the floor
		{1 << 40, 1<<40 + 1, 31 << 20}, // just above 1x: rounded down to a MiB
		{300, 900, 10 << 20},           // 3x: 10.67 MiB rounded down
		{1 << 20, 16 << 20, 2 << 20},   // 16x: 2 MiB
		{1 << 20, 4 << 20, decodedFetchBytes / 4},
	} {
		if got := fetchBytesFor(tc.wire, tc.decoded); got != tc.want {
			t.Errorf("fetchBytesFor(%d, %d) = %d MiB, want %d MiB", tc.wire, tc.decoded, got>>20, tc.want>>20)
		}
	}
}

// TestFetchSizerFollowsCompression reads a snappy topic and an uncompressed
// one through kgo clients sized by a fetchSizer, and checks that each ends
// sized for what its batches decompress to: small fetches for the compressed
// topic (so that a fetch does not decompress to hundreds of MiB), the full
// size for the uncompressed one.
func TestFetchSizerFollowsCompression(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	value := strings.Repeat("x", 2000) // compresses ~20x or more
	for _, tc := range []struct {
		name        string
		compression kgo.CompressionCodec
		small       bool
	}{
		{"snappy", kgo.SnappyCompression(), true},
		{"none", kgo.NoCompression(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkatest.NewTopic(t, seeds, 1)
			pr := kafkatest.Client(t, seeds, kgo.ProducerBatchCompression(tc.compression), kgo.ProducerLinger(0))
			const n = 2000
			var recs []*kgo.Record
			for range n {
				recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(value)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := pr.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			s := newFetchSizer()
			cl := kafkatest.Client(t, seeds, append(s.opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))...)
			s.cl.Store(cl)
			read := 0
			for read < n {
				fs := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("read %d of %d records: %v", read, n, err)
				}
				read += fs.NumRecords()
			}
			s.mu.Lock()
			size, wire, decoded := s.size, s.wire, s.decode
			s.mu.Unlock()
			t.Logf("%s: %d bytes on the wire decompressed to %d; fetch size %d MiB", tc.name, wire, decoded, size>>20)
			if tc.small && size >= decodedFetchBytes/4 {
				t.Errorf("snappy batches (%d bytes on the wire, %d decompressed): fetch size %d MiB, want under %d MiB", wire, decoded, size>>20, decodedFetchBytes>>22)
			}
			if !tc.small && size != decodedFetchBytes {
				t.Errorf("uncompressed batches: fetch size %d MiB, want %d MiB", size>>20, decodedFetchBytes>>20)
			}
		})
	}
}
