package inspect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// benchEvent is a typical record of the tail benchmark: ~200 B of JSON, a key
// and two headers.
func benchEvent() *event.Event {
	return &event.Event{
		Transport: event.Kafka, Topic: "orders", Partition: 3, Offset: 123456789,
		Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC),
		Key:       []byte("order-000123"),
		Value: []byte(`{"event_id":"7f3c2a9e-1b7d-4c55-9d0e-6a1f2b3c4d5e","type":"OrderPlaced","order_id":"order-000123",` +
			`"customer":"c-42","total":129.95,"currency":"EUR","items":3,"at":"2026-11-23T10:00:00.123Z"}`),
		Headers: []event.Header{
			{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
			{Key: "tenant", Value: []byte("acme")},
		},
	}
}

func benchPrinter(b *testing.B, o PrinterOptions, e *event.Event) {
	p, err := NewPrinter(io.Discard, o)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(e.Value)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Print(e); err != nil {
			b.Fatal(err)
		}
	}
	p.Flush()
}

func BenchmarkPrinterRaw(b *testing.B) { benchPrinter(b, PrinterOptions{Format: Raw}, benchEvent()) }

func BenchmarkPrinterJSONL(b *testing.B) {
	benchPrinter(b, PrinterOptions{Format: JSONL}, benchEvent())
}

func BenchmarkPrinterPretty(b *testing.B) {
	benchPrinter(b, PrinterOptions{Format: Pretty, Local: time.UTC}, benchEvent())
}

func BenchmarkPrinterPrettyColorWidth(b *testing.B) {
	benchPrinter(b, PrinterOptions{Format: Pretty, Local: time.UTC, Color: true, Width: 120}, benchEvent())
}

func BenchmarkPrinterTemplate(b *testing.B) {
	benchPrinter(b, PrinterOptions{Format: Template, Template: `{{.Offset}} {{.Type}} {{.Value}}`}, benchEvent())
}

// A 10 MB message prints in pretty as fast as a small one: only MaxValue bytes
// are rendered (and at most jsonCheckLimit validated).
func BenchmarkPrinterPretty10MB(b *testing.B) {
	e := benchEvent()
	e.Value = append([]byte("["), bytes.Repeat(append(append([]byte{}, e.Value...), ','), 10<<20/len(e.Value))...)
	e.Value[len(e.Value)-1] = ']'
	p, _ := NewPrinter(io.Discard, PrinterOptions{Format: Pretty, Local: time.UTC})
	b.ReportAllocs()
	for b.Loop() {
		p.Print(e)
	}
}

func BenchmarkAppendSafe(b *testing.B) {
	v := benchEvent().Value
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendSafe(buf[:0], v)
	}
}

func BenchmarkFilter(b *testing.B) {
	for _, src := range []string{
		`topic == "orders" && partition == 3`,
		`headers["tenant"] == "acme"`,
		`type == "OrderPlaced"`,
		`type == "OrderPlaced" && value.total > 100 && headers["tenant"] == "acme"`,
	} {
		b.Run(src, func(b *testing.B) {
			f, err := CompileFilter(src, nil)
			if err != nil {
				b.Fatal(err)
			}
			e := benchEvent()
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := f.Match(e); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// loopSource hands out the same batch forever: the cost of the loop itself.
type loopSource struct{ batch []event.Event }

func (s *loopSource) Next(ctx context.Context) ([]event.Event, error) { return s.batch, nil }
func (s *loopSource) Close() error                                    { return nil }

func BenchmarkTail(b *testing.B) {
	for _, f := range []Format{Raw, JSONL} {
		b.Run(f.String(), func(b *testing.B) {
			batch := make([]event.Event, 512)
			for i := range batch {
				batch[i] = *benchEvent()
			}
			p, _ := NewPrinter(io.Discard, PrinterOptions{Format: f})
			b.ReportAllocs()
			b.ResetTimer()
			st, err := Tail(context.Background(), &loopSource{batch}, TailOptions{Printer: p, Limit: b.N})
			if err != nil || st.Printed != int64(b.N) {
				b.Fatal(err, st)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func ExampleCompileFilter() {
	_, err := CompileFilter(`type == "OrderPlaced" && tota > 100`, nil)
	fmt.Println(err)
	fmt.Println(err.(*FilterError).Snippet())
	// Output:
	// --filter: column 26: unknown name "tota" (a payload field? write value.tota)
	//   type == "OrderPlaced" && tota > 100
	//                            ^~~~
}
