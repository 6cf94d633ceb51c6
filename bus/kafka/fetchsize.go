package kafka

import (
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fetch sizes. Kafka bounds a fetch by its bytes on the wire, which for a
// compressed topic are a fraction of what they decompress to: kgo
// decompresses a whole fetch before the first of its records is polled, and
// fetches the next while that one is read, so a 32 MiB fetch of snappy
// batches (8x) held ~260 MiB of records twice over. Every page of that is
// faulted in fresh and scanned by the collector: on 1,000,000 snappy records
// of ~200 B, page faults and GC were 57% of the CPU, the read took 0.6-0.7 s
// and 570-660 MB of memory. fetchSizer sizes fetches by what they decompress
// to instead — decodedFetchBytes per fetch, half that per partition — from the
// compression ratio of the batches read so far: the same 32 MiB on
// uncompressed topics (where large fetches amortise the round trip: 16 MiB
// per partition read ~2.5x as fast as kgo's default 1 MiB), ~4 MiB on snappy
// ones (0.36-0.49 s and 150-250 MB on the same data; bench/RESULTS.md), 1-2
// MiB on zstd ones (~20x here: six partitions, 0.64-0.72 s -> 0.47-0.50 s).
const (
	decodedFetchBytes = 32 << 20
	minFetchBytes     = 1 << 20
	// firstFetchBytes is the size of the first fetch, before any ratio is
	// known: small enough that a compressed topic's first fetch does not
	// decompress to hundreds of MiB (4 MiB of zstd batches held ~80 MiB and
	// cost a zstd read of six partitions 0.2 s), while an uncompressed
	// topic's fetches grow to decodedFetchBytes from the second on.
	firstFetchBytes = 2 << 20
)

// fetchSizer is a kgo hook that keeps a client's fetch sizes at
// decodedFetchBytes of decompressed records (kgo.Client.UpdateFetchMaxBytes
// takes effect from the next fetch request).
type fetchSizer struct {
	cl atomic.Pointer[kgo.Client]

	mu           sync.Mutex
	wire, decode int64 // bytes of the batches read so far, on the wire and decompressed
	size         int32 // the fetch size in force
}

func newFetchSizer() *fetchSizer { return &fetchSizer{size: firstFetchBytes} }

// opts are the fetch size options of a client that s sizes.
func (s *fetchSizer) opts() []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxBytes(firstFetchBytes),
		kgo.FetchMaxPartitionBytes(firstFetchBytes / 2),
		kgo.WithHooks(s),
	}
}

// OnFetchBatchRead implements kgo.HookFetchBatchRead: it runs in kgo's fetch
// goroutines, once per record batch.
func (s *fetchSizer) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	if m.CompressedBytes <= 0 || m.UncompressedBytes <= 0 {
		return
	}
	s.mu.Lock()
	s.wire += int64(m.CompressedBytes)
	s.decode += int64(m.UncompressedBytes)
	size := fetchBytesFor(s.wire, s.decode)
	changed := size != s.size
	s.size = size
	s.mu.Unlock()
	if cl := s.cl.Load(); changed && cl != nil {
		cl.UpdateFetchMaxBytes(size, size/2)
	}
}

// fetchBytesFor is the fetch size whose records decompress to about
// decodedFetchBytes, given that wire bytes decompressed to decoded so far;
// between minFetchBytes and decodedFetchBytes, rounded down to a multiple of
// 1 MiB so that a ratio drifting slightly does not resize every fetch.
func fetchBytesFor(wire, decoded int64) int32 {
	if wire <= 0 || decoded <= wire {
		return decodedFetchBytes
	}
	// In floating point: a long tail's byte counts times 32 MiB overflow
	// an int64.
	n := int64(float64(decodedFetchBytes) * float64(wire) / float64(decoded))
	n &^= 1<<20 - 1
	return int32(max(min(n, decodedFetchBytes), minFetchBytes))
}
