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
	"time"

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
	// At is the event time (meta.at): an Avro timestamp-millis, a
	// Protobuf google.protobuf.Timestamp, an RFC 3339 JSON string. Whole
	// milliseconds, so every format writes it the same.
	At time.Time
}

// atJSON is At as the decoded payloads write it: RFC 3339 in UTC with the
// milliseconds (Avro's timestamp-millis; protojson's for a whole
// millisecond).
func (e Event) atJSON() string { return e.At.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// JSON is the event as the decoded payload reads: what every format's
// decoding must give back (the values, not the key order or spacing).
func (e Event) JSON() []byte {
	b, err := json.Marshal(map[string]any{
		"id": e.ID, "type": e.Type,
		"meta":  map[string]any{"correlation": e.Correlation, "causation": e.Causation, "at": e.atJSON()},
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
		Correlation: []string{"json:meta.correlation"}, Causation: []string{"json:meta.causation"}, OccurredAt: []string{"json:meta.at"}}
}

// SchemaConfig is the context schema (eddy config's schema:) that finds
// the ids where these events keep them: the correlation id nested.
const SchemaConfig = `schema:
      id: [json:id]
      type: [json:type]
      correlation: [json:meta.correlation]
      causation: [json:meta.causation]
      occurred_at: [json:meta.at]
`

// AvroSchema is the events' Avro record.
const AvroSchema = `{"type":"record","name":"Event","namespace":"conf","fields":[
 {"name":"id","type":"string"},
 {"name":"type","type":"string"},
 {"name":"meta","type":{"type":"record","name":"Meta","fields":[{"name":"correlation","type":"string"},{"name":"causation","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}},
 {"name":"order","type":{"type":"record","name":"Order","fields":[{"name":"sku","type":"string"},{"name":"total","type":"double"}]}}]}`

// ProtoSchema is the events' Protobuf file. The event is a message nested
// in the third top-level message: its index path is [2, 0], which a decoder
// that walks the top-level list again for the second index (kafkactl's bug)
// reads as Meta.
const ProtoSchema = `syntax = "proto3";
package conf;
import "google/protobuf/timestamp.proto";
message Meta { string correlation = 1; string causation = 2; google.protobuf.Timestamp at = 3; }
message Order { string sku = 1; double total = 2; }
message Envelope {
  message Event { string id = 1; string type = 2; Meta meta = 3; Order order = 4; }
}
`

// ProtoMessage is the event message's full name.
const ProtoMessage protoreflect.FullName = "conf.Envelope.Event"

// ProtoIndex is ProtoMessage's message-index path in ProtoSchema.
var ProtoIndex = []int{2, 0}

// CommonProto is the shared messages of the references row, registered
// under CommonSubject at version 1; CommonProtoV2, its newer version, is
// incompatible (Order's fields swapped): a decoder that resolves the
// reference to the latest version instead of the pinned one reads the sku
// as the total.
const (
	CommonSubject = "conf-common"
	CommonProto   = `syntax = "proto3";
package conf;
import "google/protobuf/timestamp.proto";
message Meta { string correlation = 1; string causation = 2; google.protobuf.Timestamp at = 3; }
message Order { string sku = 1; double total = 2; }
`
	CommonProtoV2 = `syntax = "proto3";
package conf;
import "google/protobuf/timestamp.proto";
message Meta { string correlation = 1; string causation = 2; google.protobuf.Timestamp at = 3; }
message Order { double sku = 2; string total = 1; }
`
)

// RefProtoSchema is the references row's event: the first (index [0],
// written as the one-byte shortcut) message of a file that imports
// CommonProto by a reference pinned to version 1.
const RefProtoSchema = `syntax = "proto3";
package conf;
import "conf/common.proto";
message Event { string id = 1; string type = 2; Meta meta = 3; Order order = 4; }
`

// KeyAvroSchema is the keys' schema: the event id as an Avro string.
const KeyAvroSchema = `"string"`

// JSONSchema is the events' JSON Schema.
const JSONSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["id","type","meta","order"],
"properties":{"id":{"type":"string"},"type":{"type":"string"},
"meta":{"type":"object","properties":{"correlation":{"type":"string"},"causation":{"type":"string"},"at":{"type":"string","format":"date-time"}}},
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
	// FlagsFor are the schema flags for other topics or queues (a
	// RabbitMQ queue's name is what a local schema is mapped to).
	FlagsFor func(names ...string) []string
	// Config is the same as a schema.Config, for a Decoder built without
	// the command line (the TUI's tests).
	Config schema.Config
	// Encode writes e's value for topic; EncodeKey its key, the event id
	// as an Avro string (framed with the id of TOPIC-key's KeyAvroSchema
	// in the registry rows; bare, --key-schema, in the local ones).
	Encode    func(topic string, e Event) []byte
	EncodeKey func(topic string, e Event) []byte
	// KeyMarker is the key's schema marker.
	KeyMarker func(topic string) string
	// Marker is the schema marker (inspect.SchemaMarker) of a value of
	// topic as eddy shows it.
	Marker func(topic string) string
}

// Formats returns the table's rows: Avro, Protobuf (a message nested in
// another) and JSON Schema through a registry each of its own; Protobuf
// whose messages come from a reference pinned to an older version of its
// subject; then a local .avsc and a local .proto (bare bodies, no
// wire-format header), their files written under t's temporary directory.
func Formats(t testing.TB) []Format {
	t.Helper()
	avroSchema, err := avro.Parse(AvroSchema)
	if err != nil {
		t.Fatal(err)
	}
	avroBody := func(e Event) []byte {
		b, err := avroSchema.Encode(map[string]any{"id": e.ID, "type": e.Type,
			"meta":  map[string]any{"correlation": e.Correlation, "causation": e.Causation, "at": e.At},
			"order": map[string]any{"sku": e.SKU, "total": e.Total}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	keySchema, err := avro.Parse(KeyAvroSchema)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := func(e Event) []byte {
		b, err := keySchema.Encode(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nested := protoMessage(t, map[string]string{"event.proto": ProtoSchema}, ProtoMessage)
	referencing := protoMessage(t, map[string]string{"event.proto": RefProtoSchema, "conf/common.proto": CommonProto}, "conf.Event")
	protoBody := func(md protoreflect.MessageDescriptor) func(Event) []byte {
		return func(e Event) []byte {
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
	}
	// ids: the value subjects of orders and payments, per format. The DLT's
	// letters keep the id of the orders schema they were written with.
	// The keys' subjects are 7 and 8.
	ids := map[string]int{Orders: 1, Payments: 2, OrdersDLT: 1}
	keyIDs := map[string]int{Orders: 7, Payments: 8, OrdersDLT: 7}
	var h sr.ConfluentHeader
	framedWith := func(ids map[string]int, index []int, body func(Event) []byte) func(string, Event) []byte {
		return func(topic string, e Event) []byte {
			out, err := h.AppendEncode(nil, ids[topic], index)
			if err != nil {
				t.Fatal(err)
			}
			return append(out, body(e)...)
		}
	}
	framed := func(index []int, body func(Event) []byte) func(string, Event) []byte {
		return framedWith(ids, index, body)
	}
	// registry seeds refs (subject, then its versions' texts, ids from 10)
	// before the value subjects that reference them.
	registry := func(s sr.Schema, refs ...string) *srfake.Registry {
		reg := srfake.New()
		t.Cleanup(reg.Close)
		for i := 1; i < len(refs); i++ {
			reg.SeedSchema(refs[0], i, 9+i, sr.Schema{Schema: refs[i], Type: sr.TypeProtobuf})
		}
		reg.SeedSchema(Orders+"-value", 1, ids[Orders], s)
		reg.SeedSchema(Payments+"-value", 1, ids[Payments], s)
		reg.SeedSchema(Orders+"-key", 1, keyIDs[Orders], sr.Schema{Schema: KeyAvroSchema, Type: sr.TypeAvro})
		reg.SeedSchema(Payments+"-key", 1, keyIDs[Payments], sr.Schema{Schema: KeyAvroSchema, Type: sr.TypeAvro})
		return reg
	}
	subjectMarker := func(format, message string) func(string) string {
		return func(topic string) string {
			if topic == OrdersDLT {
				topic = Orders
			}
			m := format + " " + topic + "-value v1"
			if format == "key" {
				m = "avro " + topic + "-key v1"
			}
			if message != "" {
				m += " " + message
			}
			return m
		}
	}
	registryConfig := func(reg *srfake.Registry) schema.Config {
		return schema.Config{Registry: &schema.RegistryConfig{URL: reg.URL()}}
	}
	registryRow := func(name string, reg *srfake.Registry, encode func(string, Event) []byte, marker func(string) string) Format {
		flags := []string{"--schema-registry", reg.URL()}
		return Format{Name: name, Registry: reg, Flags: flags, FlagsFor: func(...string) []string { return flags }, Config: registryConfig(reg),
			Encode: encode, Marker: marker, EncodeKey: framedWith(keyIDs, nil, keyBody), KeyMarker: subjectMarker("key", "")}
	}

	avroReg := registry(sr.Schema{Schema: AvroSchema, Type: sr.TypeAvro})
	protoReg := registry(sr.Schema{Schema: ProtoSchema, Type: sr.TypeProtobuf})
	jsonReg := registry(sr.Schema{Schema: JSONSchema, Type: sr.TypeJSON})
	refReg := registry(sr.Schema{Schema: RefProtoSchema, Type: sr.TypeProtobuf,
		References: []sr.SchemaReference{{Name: "conf/common.proto", Subject: CommonSubject, Version: 1}}},
		CommonSubject, CommonProto, CommonProtoV2)

	dir := t.TempDir()
	avsc := filepath.Join(dir, "event.avsc")
	protoFile := filepath.Join(dir, "event.proto")
	keyAvsc := filepath.Join(dir, "key.avsc")
	for path, text := range map[string]string{avsc: AvroSchema, protoFile: ProtoSchema, keyAvsc: KeyAvroSchema} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// shown is the record or message the marker names (SchemaMarker names
	// a local schema's, Avro's too); message is the one the flag picks.
	localRow := func(name, format, file, message, shown string, body func(Event) []byte) Format {
		f := Format{Name: name, Encode: func(_ string, e Event) []byte { return body(e) },
			EncodeKey: func(_ string, e Event) []byte { return keyBody(e) }}
		f.FlagsFor = func(names ...string) []string {
			var fs []string
			for _, n := range names {
				v := n + "=" + file
				if message != "" {
					v += "#" + message
				}
				fs = append(fs, "--value-schema", v, "--key-schema", n+"="+keyAvsc)
			}
			return fs
		}
		f.Flags = f.FlagsFor(Orders, Payments, OrdersDLT)
		for _, topic := range []string{Orders, Payments, OrdersDLT} {
			f.Config.Local = append(f.Config.Local, schema.Mapping{Topic: topic,
				Key: &schema.LocalSchema{Path: keyAvsc}, Value: &schema.LocalSchema{Path: file, Message: message}})
		}
		f.KeyMarker = func(string) string { return "avro " + keyAvsc }
		marker := format + " " + file + " " + shown
		f.Marker = func(string) string { return marker }
		return f
	}
	return []Format{
		registryRow("avro", avroReg, framed(nil, avroBody), subjectMarker("avro", "")),
		registryRow("protobuf", protoReg, framed(ProtoIndex, protoBody(nested)), subjectMarker("protobuf", string(ProtoMessage))),
		registryRow("protobuf-refs", refReg, framed([]int{0}, protoBody(referencing)), subjectMarker("protobuf", "conf.Event")),
		registryRow("jsonschema", jsonReg, framed(nil, Event.JSON), subjectMarker("json", "")),
		localRow("local-avsc", "avro", avsc, "", "conf.Event", avroBody),
		localRow("local-proto", "protobuf", protoFile, string(ProtoMessage), string(ProtoMessage), protoBody(nested)),
	}
}

// protoMessage compiles the files (the first "event.proto"), the well-known
// imports from the runtime, and returns the message named name.
func protoMessage(t testing.TB, files map[string]string, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(files)})}
	fds, err := c.Compile(context.Background(), "event.proto")
	if err != nil {
		t.Fatal(err)
	}
	d := fds.AsResolver()
	md, err := d.FindDescriptorByName(name)
	if err != nil {
		t.Fatalf("event.proto: %s: %v", name, err)
	}
	return md.(protoreflect.MessageDescriptor)
}

// T0 is the first order's event time: long before the run, so the
// commands can only have it from the decoded payloads.
var T0 = time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC)

// PaymentLatency is how long after its order each payment's event time is:
// the hop latency the trace must measure.
const PaymentLatency = 250 * time.Millisecond

// Flow is the table's events (no field empty: protojson leaves an empty
// string out): two orders, each paid PaymentLatency later (the flow
// OrderPlaced -> PaymentAuthorized, by the nested correlation id, the
// payment's causation the order's id), and two dead letters of orders that
// failed. The ids start with format, so one row's cannot pass for
// another's.
func Flow(format string) (orders, payments, letters []Event) {
	p := format + "-"
	for i, sku := range []string{"SKU-1", "SKU-2"} {
		n := fmt.Sprint(i + 1)
		at := T0.Add(time.Duration(i) * 10 * time.Second)
		orders = append(orders, Event{ID: p + "o" + n, Type: "OrderPlaced", Correlation: p + "c" + n, Causation: p + "cart" + n,
			SKU: sku, Total: 10.5 * float64(i+1), At: at})
		payments = append(payments, Event{ID: p + "p" + n, Type: "PaymentAuthorized", Correlation: p + "c" + n, Causation: p + "o" + n,
			SKU: sku, Total: 10.5 * float64(i+1), At: at.Add(PaymentLatency)})
		letters = append(letters, Event{ID: p + "d" + n, Type: "OrderPlaced", Correlation: p + "x" + n, Causation: p + "cart9" + n,
			SKU: "SKU-9", Total: 99, At: at.Add(time.Minute)})
	}
	return orders, payments, letters
}
