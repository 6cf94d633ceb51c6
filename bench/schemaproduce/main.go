// Command schemaproduce fills a Kafka topic for bench/schema-tail.sh and
// bench/schema-trace.sh: N shop events of 11 fields (strings, longs, a union, a
// timestamp-millis, a decimal), five per flow (a correlation id, a causation
// id), either Avro in the Confluent wire format with the schema registered in
// the registry (-format avro), or the same events as plain JSON (-format json).
// It encodes with github.com/twmb/avro and frames with franz-go's
// sr.ConfluentHeader: a producer as fast as franz-go, so filling a million
// records takes seconds.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// schemaText is the events' Avro schema. The JSON form of the same events uses
// the same field names, so trace finds its ids in the same places.
const schemaText = `{
  "type": "record", "name": "ShopEvent", "namespace": "eddy.bench",
  "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "type", "type": "string"},
    {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "correlation_id", "type": "string"},
    {"name": "causation_id", "type": ["null", "string"], "default": null},
    {"name": "customer_id", "type": "long"},
    {"name": "sku", "type": "string"},
    {"name": "quantity", "type": "long"},
    {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "currency", "type": "string"},
    {"name": "channel", "type": "string"}
  ]
}`

type shopEvent struct {
	EventID       string    `avro:"event_id"`
	Type          string    `avro:"type"`
	OccurredAt    time.Time `avro:"occurred_at"`
	CorrelationID string    `avro:"correlation_id"`
	CausationID   *string   `avro:"causation_id"`
	CustomerID    int64     `avro:"customer_id"`
	SKU           string    `avro:"sku"`
	Quantity      int64     `avro:"quantity"`
	Total         *big.Rat  `avro:"total"`
	Currency      string    `avro:"currency"`
	Channel       string    `avro:"channel"`
}

var flowTypes = []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped", "OrderDelivered"}

// event i: flow i/5, step i%5, caused by the step before it.
func event(i int, base time.Time) shopEvent {
	flow, step := i/len(flowTypes), i%len(flowTypes)
	e := shopEvent{
		EventID:       fmt.Sprintf("e-%09d", i),
		Type:          flowTypes[step],
		OccurredAt:    base.Add(time.Duration(flow)*time.Second + time.Duration(step)*37*time.Millisecond),
		CorrelationID: fmt.Sprintf("c-%08d", flow),
		CustomerID:    int64(100000 + flow%50000),
		SKU:           fmt.Sprintf("sku-%05d", flow%20000),
		Quantity:      int64(1 + flow%7),
		Total:         big.NewRat(int64(1999+flow%100000), 100),
		Currency:      "EUR",
		Channel:       []string{"web", "app", "store"}[flow%3],
	}
	if step > 0 {
		c := fmt.Sprintf("e-%09d", i-1)
		e.CausationID = &c
	}
	return e
}

// appendJSON is e as the JSON an application would have written: the natural
// JSON of each Avro value (an RFC 3339 time, the decimal's digits).
func appendJSON(b []byte, e *shopEvent) []byte {
	b = append(b, `{"event_id":`...)
	b = strconv.AppendQuote(b, e.EventID)
	b = append(b, `,"type":`...)
	b = strconv.AppendQuote(b, e.Type)
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","correlation_id":`...)
	b = strconv.AppendQuote(b, e.CorrelationID)
	b = append(b, `,"causation_id":`...)
	if e.CausationID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, *e.CausationID)
	}
	b = append(b, `,"customer_id":`...)
	b = strconv.AppendInt(b, e.CustomerID, 10)
	b = append(b, `,"sku":`...)
	b = strconv.AppendQuote(b, e.SKU)
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, e.Quantity, 10)
	b = append(b, `,"total":`...)
	b = append(b, e.Total.FloatString(2)...)
	b = append(b, `,"currency":`...)
	b = strconv.AppendQuote(b, e.Currency)
	b = append(b, `,"channel":`...)
	b = strconv.AppendQuote(b, e.Channel)
	return append(b, '}')
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:39092", "Kafka bootstrap brokers")
	registry := flag.String("registry", "", "the registry's Confluent API URL (for -format avro)")
	topic := flag.String("topic", "", "topic to create and fill")
	format := flag.String("format", "avro", "avro (Confluent wire format) or json")
	n := flag.Int("n", 1_000_000, "records")
	partitions := flag.Int("partitions", 1, "partitions of the new topic")
	flag.Parse()
	if *topic == "" || (*format == "avro" && *registry == "") || (*format != "avro" && *format != "json") {
		fmt.Fprintln(os.Stderr, "schemaproduce: -topic is required, -format is avro or json, and avro needs -registry")
		os.Exit(2)
	}
	ctx := context.Background()

	var encode func(dst []byte, e *shopEvent) ([]byte, error)
	if *format == "avro" {
		schema, err := avro.Parse(schemaText)
		check("parse schema", err)
		rcl, err := sr.NewClient(sr.URLs(*registry))
		check("registry client", err)
		ss, err := rcl.CreateSchema(ctx, *topic+"-value", sr.Schema{Schema: schemaText, Type: sr.TypeAvro})
		check("register schema", err)
		fmt.Fprintf(os.Stderr, "schemaproduce: %s-value version %d, id %d\n", *topic, ss.Version, ss.ID)
		var h sr.ConfluentHeader
		encode = func(dst []byte, e *shopEvent) ([]byte, error) {
			dst, err := h.AppendEncode(dst, ss.ID, nil)
			if err != nil {
				return nil, err
			}
			return schema.AppendEncode(dst, e)
		}
	} else {
		encode = func(dst []byte, e *shopEvent) ([]byte, error) { return appendJSON(dst, e), nil }
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.DefaultProduceTopic(*topic),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<16))
	check("kafka client", err)
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(ctx, int32(*partitions), 1, nil, *topic)
	check("create topic", err)

	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for i := range *n {
		e := event(i, base)
		v, err := encode(nil, &e)
		check("encode", err)
		wg.Add(1)
		// The correlation id as key: a flow's events stay in one partition, in order.
		cl.Produce(ctx, &kgo.Record{Key: []byte(e.CorrelationID), Value: v, Timestamp: e.OccurredAt}, func(_ *kgo.Record, err error) {
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
	check("produce", firstErr)
	fmt.Fprintf(os.Stderr, "schemaproduce: %d %s records to %s in %v\n", *n, *format, *topic, time.Since(start).Round(time.Millisecond))
}

func check(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "schemaproduce: %s: %v\n", what, err)
		os.Exit(1)
	}
}
