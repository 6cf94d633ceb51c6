package schema

import (
	"context"
	"testing"

	"github.com/eddy-sh/eddy/event"
)

// BenchmarkTailAvroJSONL is `eddy tail -o jsonl --schema-registry` without
// the broker: a batch of 10,000 framed Avro records decoded by Source, then
// each written as its envelope, per record. The envelope's part (the raw
// value's base64, the decoded JSON copied in) is what decoding adds to the
// printing besides the decoder itself.
func BenchmarkTailAvroJSONL(b *testing.B) {
	const n = 10000
	s, _ := benchAvroSource(b, n)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for i := range got {
			buf = event.AppendEnvelope(buf[:0], &got[i])
			buf = append(buf, '\n')
		}
		if got[n-1].ValueDecoded == nil || got[n-1].ValueDecoded.Fail != "" {
			b.Fatalf("%+v", got[n-1].ValueDecoded)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
