package all

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/schema"
)

func TestSplit(t *testing.T) {
	a, err := Split([]string{"kafka:orders", "amqp:q", "file:c.jsonl", "kafka:/pay.*/"}, "tail")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Kafka) != 2 || len(a.AMQP) != 1 || len(a.Files) != 1 || a.EveryTopic {
		t.Fatalf("split wrong: %+v", a)
	}
	if _, err := Split([]string{"amqp:exchange/shop"}, "trace"); err == nil || !strings.Contains(err.Error(), "trace reads queues") {
		t.Fatalf("an exchange: %v", err)
	}
	if _, err := Split([]string{"nope:x"}, "tail"); err == nil {
		t.Fatal("an unknown transport was accepted")
	}
}

// TestSources opens a capture and every Kafka topic into one source, closes
// the client it made, and leaves a borrowed one open.
func TestSources(t *testing.T) {
	ctx := context.Background()
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	kc, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	sink, err := kc.Sink(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, []event.Event{{Topic: topic, Value: []byte(`{"id":"k"}`)}}); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	path := t.TempDir() + "/c.jsonl"
	e := event.Event{Transport: event.Kafka, Topic: "t", Value: []byte(`{"id":"f"}`)}
	if err := os.WriteFile(path, append(event.AppendEnvelope(nil, &e), "\nnot json\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Split([]string{"file:" + path}, "trace")
	if err != nil {
		t.Fatal(err)
	}
	a.EveryTopic = true
	c := Clients{Borrowed: true, Kafka: func() (*kafka.Client, error) { return kc, nil }}
	end := bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}}
	set, err := Sources(ctx, c, a, Read{Brokers: end, Files: bus.ReadOptions{SkipBad: true}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		evs, err := set.Next(ctx)
		n += len(evs)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != 2 {
		t.Fatalf("read %d events, want 2 (one of the capture, one of the topic)", n)
	}
	if fs := set.Files(); len(fs) != 1 || fs[0].Skipped() != 1 {
		t.Fatalf("want the capture's 1 malformed line counted")
	}
	set.Close()
	// Borrowed: the client still answers.
	if _, err := kc.Topics(ctx, false); err != nil {
		t.Fatalf("a borrowed client was closed: %v", err)
	}
	if _, err := Sources(ctx, Clients{}, Addrs{AMQP: []bus.Address{{Transport: "amqp", Name: "q"}}}, Read{}); err == nil {
		t.Fatal("an AMQP address without a client opened")
	}
}

// TestSourcesDecode: with Clients.Decoder, what Sources reads is decoded
// (a capture of a topic mapped to a local Avro schema), the bytes kept as
// they were read; without one, nothing is decoded.
func TestSourcesDecode(t *testing.T) {
	dir := t.TempDir()
	avsc := dir + "/order.avsc"
	if err := os.WriteFile(avsc, []byte(`{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// {"id":"a"} in Avro's binary encoding: the string's zigzag length, 1, then "a".
	body := []byte{0x02, 'a'}
	capture := dir + "/c.jsonl"
	line := event.AppendEnvelope(nil, &event.Event{Transport: event.Kafka, Topic: "orders", Value: body})
	if err := os.WriteFile(capture, line, 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(c Clients) event.Event {
		t.Helper()
		set, err := Sources(context.Background(), c, Addrs{Files: []bus.Address{{Transport: "file", Name: capture}}}, Read{})
		if err != nil {
			t.Fatal(err)
		}
		defer set.Close()
		evs, err := set.Next(context.Background())
		if err != nil || len(evs) != 1 {
			t.Fatalf("next: %v %v", evs, err)
		}
		return evs[0]
	}
	if e := read(Clients{}); e.ValueDecoded != nil {
		t.Errorf("decoded without a decoder: %+v", e.ValueDecoded)
	}
	d, err := schema.New(schema.Config{Local: []schema.Mapping{{Topic: "orders", Value: &schema.LocalSchema{Path: avsc}}}})
	if err != nil {
		t.Fatal(err)
	}
	e := read(Clients{Decoder: d})
	if e.ValueDecoded == nil || e.ValueDecoded.Fail != "" || string(e.ValueDecoded.JSON) != `{"id":"a"}` || string(e.Value) != string(body) {
		t.Errorf("decoded: %+v, value %q", e.ValueDecoded, e.Value)
	}
}
