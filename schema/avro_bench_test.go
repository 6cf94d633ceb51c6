package schema

import (
	"context"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// benchSchema is a ~10-field record like the benchmark topic:
// strings, longs, a nullable union, a timestamp-millis and a decimal.
const benchSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"order_id","type":"string"},
 {"name":"customer_id","type":"string"},
 {"name":"event_id","type":"string"},
 {"name":"qty","type":"long"},
 {"name":"amount_cents","type":"long"},
 {"name":"status","type":"string"},
 {"name":"coupon","type":["null","string"]},
 {"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"region","type":"string"}]}`

func benchBody(b *testing.B) []byte {
	body, err := avro.MustParse(benchSchema).Encode(map[string]any{
		"order_id": "o-000123456", "customer_id": "c-0042", "event_id": "4f0c1a52-8d2e-4c61-9a7b-2f1e0d9c3b7a",
		"qty": int64(3), "amount_cents": int64(129900), "status": "PAID", "coupon": "SPRING",
		"created_at": time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC), "price": big.NewRat(43300, 100),
		"region": "eu-west-1",
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkAvroToJSON decodes one record to JSON bytes with each library.
// twmb is what the Decoder does (decode to any, render by the schema);
// hamba is a lower bound for hamba/avro: decode to any and encoding/json,
// which is not even the output eddy wants (map keys sorted instead of the
// schema's order, the decimal as a big.Rat fraction).
func BenchmarkAvroToJSON(b *testing.B) {
	body := benchBody(b)
	b.Run("twmb", func(b *testing.B) {
		s, err := avro.Parse(benchSchema, avroRawOpts...)
		if err != nil {
			b.Fatal(err)
		}
		c, err := newAvroCodec(s)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var err error
			if buf, _, err = c.appendJSON(buf[:0], body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hamba", func(b *testing.B) {
		s, err := hamba.Parse(benchSchema)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var v any
			if err := hamba.Unmarshal(s, body, &v); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSourceAvro is the Decoder's whole path for one batch of 10,000
// framed records (header, cache, Avro, arena), per record: what `eddy tail`
// pays for decoding on top of printing.
func BenchmarkSourceAvro(b *testing.B) {
	const n = 10000
	s, value := benchAvroSource(b, n)
	b.ReportAllocs()
	b.SetBytes(int64(n * len(value)))
	for b.Loop() {
		got, err := s.Next(context.Background())
		if err != nil || got[n-1].ValueDecoded == nil || got[n-1].ValueDecoded.Fail != "" {
			b.Fatalf("%v %+v", err, got[n-1].ValueDecoded)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// benchAvroSource is Source decoding, through a registry holding
// benchSchema, a batch of n framed Avro records (value each) read again and
// again (repeatSource).
func benchAvroSource(b *testing.B, n int) (s bus.Source, value []byte) {
	b.Helper()
	r := newRegistry(&testing.T{})
	id, _, err := r.RegisterSchema("orders-value", sr.Schema{Schema: benchSchema})
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(Config{Registry: &RegistryConfig{URL: r.URL()}})
	if err != nil {
		b.Fatal(err)
	}
	value = frame(id, benchBody(b))
	return Source(&repeatSource{evs: make([]event.Event, n), value: value}, d), value
}

// repeatSource returns the same batch of records each time, reset.
type repeatSource struct {
	evs   []event.Event
	value []byte
}

func (s *repeatSource) Next(context.Context) ([]event.Event, error) {
	for i := range s.evs {
		s.evs[i] = event.Event{Topic: "orders", Offset: int64(i), Value: s.value}
	}
	return s.evs, nil
}
func (s *repeatSource) Close() error { return nil }
