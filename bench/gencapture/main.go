// Command gencapture writes a synthetic shop capture for bench/trace.sh: flows
// of five events (OrderPlaced -> PaymentAuthorized -> StockReserved ->
// OrderShipped -> EmailSent) across five topics, in eddy's envelope format,
// with CloudEvents headers and a traceparent like the demo's, and flows
// interleaved the way a busy system interleaves them.
//
//	go run ./bench/gencapture -n 1000000 -o capture.jsonl [-flat flat.jsonl]
//
// -flat also writes each event's JSON payload alone, one per line, so that
// jq can group by a top-level correlation_id.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/eddy-sh/eddy/event"
)

func main() {
	n := flag.Int("n", 1_000_000, "events to write")
	out := flag.String("o", "capture.jsonl", "capture path")
	flat := flag.String("flat", "", "also write the payloads alone to this path")
	flag.Parse()
	if err := run(*n, *out, *flat); err != nil {
		fmt.Fprintln(os.Stderr, "gencapture:", err)
		os.Exit(1)
	}
}

var (
	types  = []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped", "EmailSent"}
	topics = []string{"orders", "payments", "inventory", "shipping", "notifications"}
)

func run(n int, out, flat string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var fw *bufio.Writer
	if flat != "" {
		ff, err := os.Create(flat)
		if err != nil {
			return err
		}
		defer ff.Close()
		fw = bufio.NewWriterSize(ff, 1<<20)
	}
	r := rand.New(rand.NewPCG(42, 4242))
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	// Flows start every 2 ms; each keeps a window of 16 in flight, so
	// events of neighbouring flows interleave.
	const inflight = 16
	flows := n / 5
	type st struct {
		step  int
		at    time.Time
		trace [16]byte
		last  string // the previous event's id: the next one's cause
	}
	active := make([]st, 0, inflight)
	ids := make([]int, 0, inflight)
	next, evID := 0, 0
	offsets := map[string]int64{}
	var buf []byte
	var e event.Event
	for written := 0; written < n; {
		for len(active) < inflight && next < flows {
			var tr [16]byte
			for i := range tr {
				tr[i] = byte(r.IntN(256))
			}
			active = append(active, st{at: t0.Add(time.Duration(next) * 2 * time.Millisecond), trace: tr})
			ids = append(ids, next)
			next++
		}
		if len(active) == 0 {
			break
		}
		i := r.IntN(len(active))
		s := &active[i]
		corr := fmt.Sprintf("o-%07d", ids[i])
		evID++
		id := fmt.Sprintf("evt-%08d", evID)
		typ, topic := types[s.step], topics[s.step]
		value := fmt.Sprintf(`{"event_id":%q,"type":%q,"occurred_at":%q,"correlation_id":%q`, id, typ, s.at.Format(time.RFC3339Nano), corr)
		if s.step > 0 {
			value += fmt.Sprintf(`,"causation_id":%q`, s.last)
		}
		value += fmt.Sprintf(`,"payload":{"order_id":%q,"customer":{"id":"c-%d","name":"Customer %d"},"amount":%d.%02d,"currency":"EUR"}}`,
			corr, r.IntN(10000), r.IntN(10000), r.IntN(500), r.IntN(100))
		var span [8]byte
		for k := range span {
			span[k] = byte(r.IntN(256))
		}
		tp := fmt.Sprintf("00-%x-%x-01", s.trace, span)
		part := int32(ids[i] % 6)
		key := topic + fmt.Sprint(part)
		e = event.Event{Transport: event.Kafka, Topic: topic, Partition: part, Offset: offsets[key], Timestamp: s.at.Add(time.Millisecond),
			Key: []byte(corr), Value: []byte(value), Headers: []event.Header{
				{Key: "ce_type", Value: []byte(typ)}, {Key: "ce_source", Value: []byte("shop/" + topic)},
				{Key: "traceparent", Value: []byte(tp)},
			}}
		offsets[key]++
		buf = event.AppendEnvelope(buf[:0], &e)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if fw != nil {
			fw.WriteString(value)
			fw.WriteByte('\n')
		}
		written++
		s.last = id
		s.step++
		s.at = s.at.Add(time.Duration(5+r.IntN(200)) * time.Millisecond)
		if s.step == len(types) {
			active[i], ids[i] = active[len(active)-1], ids[len(ids)-1]
			active, ids = active[:len(active)-1], ids[:len(ids)-1]
		}
	}
	if fw != nil {
		if err := fw.Flush(); err != nil {
			return err
		}
	}
	return w.Flush()
}
