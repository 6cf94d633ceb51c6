package schema

import (
	"encoding/base64"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestProtoBase64Descriptors: Confluent's serializers (the Python client's
// among them) register a Protobuf schema as a base64 FileDescriptorProto, not
// as text, and the registry returns it as given; its references may be
// either, and its fields carry no json_name (the Python client writes none).
// The pinned reference is still the one used.
func TestProtoBase64Descriptors(t *testing.T) {
	r := newProtoRegistry(t)
	fd := writerFile(t, map[string]string{"o.proto": orderWithMoney, "common/money.proto": moneyV1}, "o.proto")
	// As Confluent's Python serializer registers them: no json_name.
	b64 := func(fdp *descriptorpb.FileDescriptorProto) string {
		var strip func(ms []*descriptorpb.DescriptorProto)
		strip = func(ms []*descriptorpb.DescriptorProto) {
			for _, m := range ms {
				for _, f := range m.Field {
					f.JsonName = nil
				}
				strip(m.NestedType)
			}
		}
		strip(fdp.MessageType)
		b, err := proto.Marshal(fdp)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	// The reference as a descriptor too, registered under a name that is not
	// its import path (the resolver names it by the reference).
	moneyFDP := protodesc.ToFileDescriptorProto(fd.Imports().Get(0).FileDescriptor)
	moneyFDP.Name = proto.String("whatever.proto")
	_, v1 := r.register("money", b64(moneyFDP))
	id, _ := r.register("orders-value", b64(protodesc.ToFileDescriptorProto(fd)),
		sr.SchemaReference{Name: "common/money.proto", Subject: "money", Version: v1})
	r.register("money", moneyV2) // a newer, incompatible text version: not the pin
	c := r.compile(id)

	total := newMsg(message(t, fd.Imports().Get(0).FileDescriptor, "Money"), map[string]any{"currency": "EUR", "units": int64(1250)})
	order := newMsg(message(t, fd, "Order"), map[string]any{"id": "o-1", "total": total})
	got, msg := decodeJSON(t, c, protoFrame(t, id, []int{0}, order))
	if msg != "test.orders.Order" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"id": "o-1", "total": map[string]any{"currency": "EUR", "units": "1250"}})
}

// TestDescriptorTextIsNotSource: schema text never reads as a descriptor.
func TestDescriptorTextIsNotSource(t *testing.T) {
	for _, s := range []string{orderWithMoney, moneyV1, `syntax="proto3";message A{}`, ""} {
		if descriptorText(s) != nil {
			t.Errorf("%q read as a descriptor", s)
		}
	}
}
