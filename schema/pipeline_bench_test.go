package schema

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/event"
)

// BenchmarkTailAvroJSONL is `eddy tail -o jsonl --schema-registry` without
// the broker: a batch of 10,000 framed Avro records decoded by Source, then
// each written as its envelope, per record. The envelope's part (the raw
// value's base64, the decoded JSON copied in) is what decoding adds to the
// printing besides the decoder itself.
func BenchmarkTailAvroJSONL(b *testing.B) {
	r := newRegistry(&testing.T{})
	id, _, err := r.RegisterSchema("orders-value", sr.Schema{Schema: benchSchema})
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(Config{Registry: &RegistryConfig{URL: r.URL()}})
	if err != nil {
		b.Fatal(err)
	}
	value := frame(id, benchBody(b))
	const n = 10000
	src := &repeatSource{evs: make([]event.Event, n), value: value}
	s := Source(src, d)
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
