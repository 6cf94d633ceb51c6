// Package conformance is the schema conformance table's fixtures, shared by
// cmd/eddy's commands and the TUI's tests: the same few shop events encoded
// in every format eddy decodes (Avro, Protobuf and JSON Schema through a
// Schema Registry, local .avsc and .proto files), with the flags each needs
// and the schema marker eddy shows for it. Test code only.
//
// Every event's ids live only inside its encoded payload, one of them
// nested (meta.correlation), so a command that did not decode finds none;
// the field names are single words, so protojson's lowerCamelCase JSON names
// are the same as Avro's and JSON's.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/schema"
)

// Topics: orders and payments carry the flow's two steps; OrdersDLT holds
// Spring dead letters whose values are orders as they were consumed.
const (
	Orders    = "orders"
	Payments  = "payments"
	OrdersDLT = "orders.DLT"
)

// Event is one shop event, before encoding.
type Event struct {
	ID, Type, Correlation, Causation, SKU string
	Total                                 float64
}

// JSON is the event as the decoded payload reads: what every format's
// decoding must give back (the values, not the key order or spacing).
func (e Event) JSON() []byte {
	b, err := json.Marshal(map[string]any{
		"id": e.ID, "type": e.Type,
		"meta":  map[string]any{"correlation": e.Correlation, "causation": e.Causation},
		"order": map[string]any{"sku": e.SKU, "total": e.Total},
	})
	if err != nil {
		panic(err) // plain strings and a float always marshal
	}
	return b
}

// EventSchema is SchemaConfig as an event.Schema.
func EventSchema() *event.Schema {
	return &event.Schema{ID: []string{"json:id"}, Type: []string{"json:type"},
		Correlation: []string{"json:meta.correlation"}, Causation: []string{"json:meta.causation"}}
}

// SchemaConfig is the context schema (eddy config's schema:) that finds
// the ids where these events keep them: the correlation id nested.
const SchemaConfig = `schema:
      id: [json:id]
      type: [json:type]
      correlation: [json:meta.correlation]
      causation: [json:meta.causation]
`

// AvroSchema is the events' Avro record.
const AvroSchema = `{"type":"record","name":"Event","namespace":"conf","fields":[
 {"name":"id","type":"string"},
 {"name":"type","type":"string"},
 {"name":"meta","type":{"type":"record","name":"Meta","fields":[{"name":"correlation","type":"string"},{"name":"causation","type":"string"}]}},
 {"name":"order","type":{"type":"record","name":"Order","fields":[{"name":"sku","type":"string"},{"name":"total","type":"double"}]}}]}`

// ProtoSchema is the events' Protobuf file. The event is a message nested
// in the third top-level message: its index path is [2, 0], which a decoder
// that walks the top-level list again for the second index (kafkactl's bug)
// reads as Meta.
const ProtoSchema = `syntax = "proto3";
package conf;
message Meta { string correlation = 1; string causation = 2; }
message Order { string sku = 1; double total = 2; }
message Envelope {
  message Event { string id = 1; string type = 2; Meta meta = 3; Order order = 4; }
}
`

// ProtoMessage is the event message's full name; ProtoIndex its index path.
const ProtoMessage = "conf.Envelope.Event"

// ProtoIndex is ProtoMessage's message-index path in ProtoSchema.
var ProtoIndex = []int{2, 0}

// JSONSchema is the events' JSON Schema.
const JSONSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["id","type","meta","order"],
"properties":{"id":{"type":"string"},"type":{"type":"string"},
"meta":{"type":"object","properties":{"correlation":{"type":"string"},"causation":{"type":"string"}}},
"order":{"type":"object","properties":{"sku":{"type":"string"},"total":{"type":"number"}}}}}`

// Format is one way the events are written, with what eddy needs to read
// them.
type Format struct {
	// Name names the table's row (a subtest name).
	Name string
	// Registry is the Schema Registry holding the schemas (nil: local
	// files); Flags are the schema flags for the topics (--value-schema
	// TOPIC=FILE for a local schema).
	Registry *srfake.Registry
	Flags    []string
	// Config is the same as a schema.Config, for a Decoder built without
	// the command line (the TUI's tests).
	Config schema.Config
	// Encode writes e's value for topic.
	Encode func(topic string, e Event) []byte
	// Marker is the schema marker (inspect.SchemaMarker) of a value of
	// topic as eddy shows it.
	Marker func(topic string) string
}

// Formats returns the table's rows: Avro, Protobuf (a nested message) and
// JSON Schema through a registry each of its own, then a local .avsc and a
// local .proto (bare bodies, no wire-format header), their files written
// under t's temporary directory.
func Formats(t testing.TB) []Format {
	t.Helper()
	avroSchema, err := avro.Parse(AvroSchema)
	if err != nil {
		t.Fatal(err)
	}
	md := protoEvent(t)
	avroBody := func(e Event) []byte {
		b, err := avroSchema.Encode(map[string]any{"id": e.ID, "type": e.Type,
			"meta":  map[string]any{"correlation": e.Correlation, "causation": e.Causation},
			"order": map[string]any{"sku": e.SKU, "total": e.Total}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	protoBody := func(e Event) []byte {
		m := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal(e.JSON(), m); err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// ids: the value subjects of orders and payments, per format. The DLT's
	// letters keep the id of the orders schema they were written with.
	ids := map[string]int{Orders: 1, Payments: 2, OrdersDLT: 1}
	var h sr.ConfluentHeader
	framed := func(topic string, index []int, body []byte) []byte {
		out, err := h.AppendEncode(nil, ids[topic], index)
		if err != nil {
			t.Fatal(err)
		}
		return append(out, body...)
	}
	registry := func(typ sr.SchemaType, text string) *srfake.Registry {
		reg := srfake.New()
		t.Cleanup(reg.Close)
		reg.SeedSchema(Orders+"-value", 1, ids[Orders], sr.Schema{Schema: text, Type: typ})
		reg.SeedSchema(Payments+"-value", 1, ids[Payments], sr.Schema{Schema: text, Type: typ})
		return reg
	}
	subjectMarker := func(format, message string) func(string) string {
		return func(topic string) string {
			if topic == OrdersDLT {
				topic = Orders
			}
			m := format + " " + topic + "-value v1"
			if message != "" {
				m += " " + message
			}
			return m
		}
	}

	dir := t.TempDir()
	avsc := filepath.Join(dir, "event.avsc")
	protoFile := filepath.Join(dir, "event.proto")
	for path, text := range map[string]string{avsc: AvroSchema, protoFile: ProtoSchema} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	localFlags := func(file, message string) []string {
		var fs []string
		for _, topic := range []string{Orders, Payments, OrdersDLT} {
			v := topic + "=" + file
			if message != "" {
				v += "#" + message
			}
			fs = append(fs, "--value-schema", v)
		}
		return fs
	}
	localConfig := func(file, message string) schema.Config {
		var c schema.Config
		for _, topic := range []string{Orders, Payments, OrdersDLT} {
			c.Local = append(c.Local, schema.Mapping{Topic: topic, Value: &schema.LocalSchema{Path: file, Message: message}})
		}
		return c
	}
	registryConfig := func(reg *srfake.Registry) schema.Config {
		return schema.Config{Registry: &schema.RegistryConfig{URL: reg.URL()}}
	}
	fileMarker := func(format, file, message string) func(string) string {
		return func(string) string {
			m := format + " " + file
			if message != "" {
				m += " " + message
			}
			return m
		}
	}

	avroReg := registry(sr.TypeAvro, AvroSchema)
	protoReg := registry(sr.TypeProtobuf, ProtoSchema)
	jsonReg := registry(sr.TypeJSON, JSONSchema)
	return []Format{
		{Name: "avro", Registry: avroReg, Flags: []string{"--schema-registry", avroReg.URL()}, Config: registryConfig(avroReg),
			Encode: func(topic string, e Event) []byte { return framed(topic, nil, avroBody(e)) },
			Marker: subjectMarker("avro", "")},
		{Name: "protobuf", Registry: protoReg, Flags: []string{"--schema-registry", protoReg.URL()}, Config: registryConfig(protoReg),
			Encode: func(topic string, e Event) []byte { return framed(topic, ProtoIndex, protoBody(e)) },
			Marker: subjectMarker("protobuf", ProtoMessage)},
		{Name: "jsonschema", Registry: jsonReg, Flags: []string{"--schema-registry", jsonReg.URL()}, Config: registryConfig(jsonReg),
			Encode: func(topic string, e Event) []byte { return framed(topic, nil, e.JSON()) },
			Marker: subjectMarker("json", "")},
		{Name: "local-avsc", Flags: localFlags(avsc, ""), Config: localConfig(avsc, ""),
			Encode: func(_ string, e Event) []byte { return avroBody(e) },
			Marker: fileMarker("avro", avsc, "conf.Event")},
		{Name: "local-proto", Flags: localFlags(protoFile, ProtoMessage), Config: localConfig(protoFile, ProtoMessage),
			Encode: func(_ string, e Event) []byte { return protoBody(e) },
			Marker: fileMarker("protobuf", protoFile, ProtoMessage)},
	}
}

// protoEvent compiles ProtoSchema and returns the event message.
func protoEvent(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"event.proto": ProtoSchema})}}
	fds, err := c.Compile(context.Background(), "event.proto")
	if err != nil {
		t.Fatal(err)
	}
	md := fds[0].Messages().ByName("Envelope").Messages().ByName("Event")
	if md == nil || md.FullName() != ProtoMessage {
		t.Fatal(fmt.Sprintf("%s: no %s", "event.proto", ProtoMessage))
	}
	return md
}

// Flow is the table's events (no field empty: protojson leaves an empty
// string out): two orders, each paid (the flow OrderPlaced
// -> PaymentAuthorized, by the nested correlation id, the payment's
// causation the order's id), and two dead letters of orders that failed.
func Flow(format string) (orders, payments, letters []Event) {
	p := format + "-"
	for i, sku := range []string{"SKU-1", "SKU-2"} {
		n := fmt.Sprint(i + 1)
		orders = append(orders, Event{ID: p + "o" + n, Type: "OrderPlaced", Correlation: p + "c" + n, Causation: p + "cart" + n, SKU: sku, Total: 10.5 * float64(i+1)})
		payments = append(payments, Event{ID: p + "p" + n, Type: "PaymentAuthorized", Correlation: p + "c" + n, Causation: p + "o" + n, SKU: sku, Total: 10.5 * float64(i+1)})
		letters = append(letters, Event{ID: p + "d" + n, Type: "OrderPlaced", Correlation: p + "x" + n, Causation: p + "cart" + n, SKU: "SKU-9", Total: 99})
	}
	return orders, payments, letters
}
