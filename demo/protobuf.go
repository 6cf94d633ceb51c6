package demo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoCommonPath is the shared .proto every topic's schema imports. It is
// registered as a schema of its own under a subject of the same name, which
// is how Confluent's serializers register an import by default.
const protoCommonPath = "shop/common.proto"

// protoCommon defines what every topic's events share.
const protoCommon = `syntax = "proto3";

package shop.common.v1;

// Customer is who placed an order.
message Customer {
  string id = 1;
  string name = 2;
  string email = 3;
}

// LineItem is one line of an order. Prices are decimal strings ("19.99").
message LineItem {
  string sku = 1;
  int32 qty = 2;
  string price = 3;
}
`

// protoSchema is the .proto of a topic's values. One event type is a
// top-level message (the record's first message: index [0]); several are
// messages nested in a container message named container (indexes [0,0],
// [0,1], ...). Each event message nests its Payload message.
func protoSchema(topic, container string, types []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "syntax = \"proto3\";\n\npackage shop.%s.v1;\n\n", topic)
	fmt.Fprintf(&b, "import \"google/protobuf/timestamp.proto\";\nimport %q;\n\n", protoCommonPath)
	indent := ""
	if len(types) > 1 {
		fmt.Fprintf(&b, "// %s holds the events of the %s topic.\nmessage %s {\n", container, topic, container)
		indent = "  "
	}
	for i, typ := range types {
		if i > 0 {
			b.WriteString("\n")
		}
		in := indent
		fmt.Fprintf(&b, "%s// %s is an event of the %s topic. Amounts are decimal strings (\"42.50\").\n", in, typ, topic)
		fmt.Fprintf(&b, "%smessage %s {\n", in, typ)
		in += "  "
		fmt.Fprintf(&b, "%sstring event_id = 1;\n%sstring type = 2;\n%sgoogle.protobuf.Timestamp occurred_at = 3;\n", in, in, in)
		fmt.Fprintf(&b, "%sstring correlation_id = 4;\n%sstring causation_id = 5;\n%sPayload payload = 6;\n\n", in, in, in)
		fmt.Fprintf(&b, "%smessage Payload {\n", in)
		for _, f := range payloadFields[typ] {
			t := "string"
			switch f {
			case "customer":
				t = "shop.common.v1.Customer"
			case "items":
				t = "repeated shop.common.v1.LineItem"
			}
			fmt.Fprintf(&b, "%s  %s %s = %d;\n", in, t, f, fieldNumbers[f])
		}
		fmt.Fprintf(&b, "%s}\n%s}\n", in, indent)
	}
	if len(types) > 1 {
		b.WriteString("}\n")
	}
	return b.String()
}

// protoMessage is one event type's message and its Confluent message index.
type protoMessage struct {
	desc  protoreflect.MessageDescriptor
	index []int
}

// newProtoCodec compiles the topics' schemas (registered under ids, with
// the common schema) as a registry-aware deserializer would.
func newProtoCodec(schemas map[string]string, ids map[string]int) (*framedCodec, error) {
	byType := map[string]protoMessage{}
	files := map[int]protoreflect.FileDescriptor{}
	for _, te := range topicEvents {
		name := "shop/" + te.topic + ".proto"
		c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{name: schemas[te.topic], protoCommonPath: protoCommon}),
		})}
		fds, err := c.Compile(context.Background(), name)
		if err != nil {
			return nil, fmt.Errorf("demo: protobuf schema of %s: %w", te.topic, err)
		}
		fd := fds[0]
		files[ids[te.topic]] = fd
		for i, typ := range te.types {
			if len(te.types) == 1 {
				byType[typ] = protoMessage{desc: fd.Messages().Get(0), index: []int{0}}
				continue
			}
			byType[typ] = protoMessage{desc: fd.Messages().Get(0).Messages().Get(i), index: []int{0, i}}
		}
	}
	return &framedCodec{
		name: "Protobuf", ctype: "application/protobuf", ids: ids,
		serde:     "io.confluent.kafka.serializers.protobuf.KafkaProtobufDeserializer",
		converter: "io.confluent.connect.protobuf.ProtobufConverter",
		body: func(_ string, b *body, p *payload) ([]int, []byte, error) {
			m, ok := byType[b.Type]
			if !ok {
				return nil, nil, fmt.Errorf("demo: no protobuf message for %s", b.Type)
			}
			v, err := proto.Marshal(protoValue(m.desc, b, p))
			return m.index, v, err
		},
		read: func(id int, rest []byte) (*body, *payload, bool, error) {
			fd, ok := files[id]
			if !ok {
				return nil, nil, false, nil
			}
			index, rest, err := wire.DecodeIndex(rest, 8)
			if err != nil {
				return nil, nil, true, err
			}
			md, err := messageAt(fd, index)
			if err != nil {
				return nil, nil, true, err
			}
			msg := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(rest, msg); err != nil {
				return nil, nil, true, err
			}
			b, p := fromProto(msg)
			if b.EventID == "" || b.Type == "" {
				return nil, nil, true, fmt.Errorf("not a shop event")
			}
			return b, p, true, nil
		},
	}, nil
}

// messageAt follows a Confluent message-index path: the first index picks a
// top-level message of the file, each further one a message nested in the
// one before.
func messageAt(fd protoreflect.FileDescriptor, index []int) (protoreflect.MessageDescriptor, error) {
	if len(index) == 0 {
		return nil, fmt.Errorf("empty message index")
	}
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range index {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("message index %v out of range", index)
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md, nil
}

// protoValue builds the event as a message of md.
func protoValue(md protoreflect.MessageDescriptor, b *body, p *payload) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	setStr(m, "event_id", b.EventID)
	setStr(m, "type", b.Type)
	setStr(m, "correlation_id", b.CorrelationID)
	setStr(m, "causation_id", b.CausationID)
	if t, err := time.Parse(time.RFC3339Nano, b.OccurredAt); err == nil {
		ts := m.Mutable(md.Fields().ByName("occurred_at")).Message()
		ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
		ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
	}
	pm := m.Mutable(md.Fields().ByName("payload")).Message()
	pd := pm.Descriptor()
	for _, f := range payloadFields[b.Type] {
		switch f {
		case "customer":
			if p.Customer != nil {
				c := pm.Mutable(pd.Fields().ByName("customer")).Message()
				setStr(c, "id", p.Customer.ID)
				setStr(c, "name", p.Customer.Name)
				setStr(c, "email", p.Customer.Email)
			}
		case "items":
			fd := pd.Fields().ByName("items")
			l := pm.Mutable(fd).List()
			for _, it := range p.Items {
				e := l.NewElement()
				setStr(e.Message(), "sku", it.SKU)
				e.Message().Set(e.Message().Descriptor().Fields().ByName("qty"), protoreflect.ValueOfInt32(int32(it.Qty)))
				setStr(e.Message(), "price", decimal(it.Price))
				l.Append(e)
			}
		case "amount":
			setStr(pm, f, decimal(p.Amount))
		default:
			setStr(pm, f, *p.str(f))
		}
	}
	return m
}

func setStr(m protoreflect.Message, name, v string) {
	if v != "" {
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(name)), protoreflect.ValueOfString(v))
	}
}

func getStr(m protoreflect.Message, name string) string {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return m.Get(fd).String()
}

// fromProto reads back what protoValue wrote.
func fromProto(m protoreflect.Message) (*body, *payload) {
	md := m.Descriptor()
	b := &body{EventID: getStr(m, "event_id"), Type: getStr(m, "type"),
		CorrelationID: getStr(m, "correlation_id"), CausationID: getStr(m, "causation_id")}
	if fd := md.Fields().ByName("occurred_at"); fd != nil && m.Has(fd) {
		ts := m.Get(fd).Message()
		tf := ts.Descriptor().Fields()
		b.OccurredAt = formatTime(time.Unix(ts.Get(tf.ByName("seconds")).Int(), ts.Get(tf.ByName("nanos")).Int()))
	}
	p := &payload{}
	fd := md.Fields().ByName("payload")
	if fd == nil || !m.Has(fd) {
		return b, p
	}
	pm := m.Get(fd).Message()
	pm.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch name := string(f.Name()); name {
		case "customer":
			c := v.Message()
			p.Customer = &customer{ID: getStr(c, "id"), Name: getStr(c, "name"), Email: getStr(c, "email")}
		case "items":
			l := v.List()
			for i := range l.Len() {
				e := l.Get(i).Message()
				it := item{SKU: getStr(e, "sku"), Qty: int(e.Get(e.Descriptor().Fields().ByName("qty")).Int())}
				it.Price, _ = strconv.ParseFloat(getStr(e, "price"), 64)
				p.Items = append(p.Items, it)
			}
		case "amount":
			p.Amount, _ = strconv.ParseFloat(v.String(), 64)
		default:
			if s := p.str(name); s != nil {
				*s = v.String()
			}
		}
		return true
	})
	return b, p
}
