package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoRegistry is an in-process registry (srfake) and a fetch over a real
// sr.Client against it that records which subject versions were asked for.
type protoRegistry struct {
	t     testing.TB
	reg   *srfake.Registry
	cl    *sr.Client
	mu    sync.Mutex
	asked []string // "subject@version"
}

func newProtoRegistry(t testing.TB) *protoRegistry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return &protoRegistry{t: t, reg: reg, cl: cl}
}

func (r *protoRegistry) fetch(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
	r.mu.Lock()
	r.asked = append(r.asked, fmt.Sprintf("%s@%d", subject, version))
	r.mu.Unlock()
	return r.cl.SchemaByVersion(ctx, subject, version)
}

// register registers text under subject and returns its schema id and
// version.
func (r *protoRegistry) register(subject, text string, refs ...sr.SchemaReference) (id, version int) {
	r.t.Helper()
	id, version, err := r.reg.RegisterSchema(subject, sr.Schema{Schema: text, Type: sr.TypeProtobuf, References: refs})
	if err != nil {
		r.t.Fatalf("register %s: %v", subject, err)
	}
	return id, version
}

// compile fetches schema id from the registry, as the Decoder does, and
// compiles it.
func (r *protoRegistry) compile(id int) codec {
	r.t.Helper()
	ctx := context.Background()
	s, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	refs := make([]refSchema, 0, len(s.References))
	for _, ref := range s.References {
		refs = append(refs, refSchema{Name: ref.Name, Subject: ref.Subject, Version: ref.Version})
	}
	c, err := compileProto(ctx, s.Schema, refs, r.fetch)
	if err != nil {
		r.t.Fatalf("compileProto: %v", err)
	}
	return c
}

// writerFiles compiles the writer's side of a test independently of the
// codec: the texts by import name, main first.
func writerFile(t testing.TB, srcs map[string]string, main string) protoreflect.FileDescriptor {
	t.Helper()
	comp := protocompile.Compiler{Resolver: protoResolver(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)})}
	files, err := comp.Compile(context.Background(), main)
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// message finds a message by its dotted name relative to the file's
// package, e.g. "Second.Inner".
func message(t testing.TB, fd protoreflect.FileDescriptor, name string) protoreflect.MessageDescriptor {
	t.Helper()
	parts := strings.Split(name, ".")
	md := fd.Messages().ByName(protoreflect.Name(parts[0]))
	for _, p := range parts[1:] {
		if md == nil {
			break
		}
		md = md.Messages().ByName(protoreflect.Name(p))
	}
	var d protoreflect.Descriptor = md
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok || md == nil {
		t.Fatalf("no message %s", name)
	}
	return md
}

// newMsg makes a dynamic message of md with fields set by name; a value
// that is a func(protoreflect.Message) sets the field itself.
func newMsg(md protoreflect.MessageDescriptor, fields map[string]any) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	for name, v := range fields {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			panic("no field " + name + " in " + string(md.FullName()))
		}
		switch v := v.(type) {
		case *dynamicpb.Message:
			m.Set(fd, protoreflect.ValueOfMessage(v))
		case []*dynamicpb.Message:
			l := m.Mutable(fd).List()
			for _, e := range v {
				l.Append(protoreflect.ValueOfMessage(e))
			}
		case proto.Message:
			// A generated well-known type into the dynamic field: through bytes.
			sub := dynamicpb.NewMessage(fd.Message())
			b, err := proto.Marshal(v)
			if err != nil {
				panic(err)
			}
			if err := proto.Unmarshal(b, sub); err != nil {
				panic(err)
			}
			m.Set(fd, protoreflect.ValueOfMessage(sub))
		default:
			m.Set(fd, protoreflect.ValueOf(v))
		}
	}
	return m
}

// frame is a record's value in the Confluent wire format: magic, id, the
// message indexes, the message; body is what a codec gets (after the id).
func protoFrame(t testing.TB, id int, index []int, m proto.Message) (body []byte) {
	t.Helper()
	var h sr.ConfluentHeader
	b, err := h.AppendEncode(nil, id, index)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, mb...)
	gotID, body, err := h.DecodeID(b)
	if err != nil || gotID != id {
		t.Fatalf("DecodeID: %d %v", gotID, err)
	}
	return body
}

// decodeJSON runs the codec and unmarshals its JSON.
func decodeJSON(t testing.TB, c codec, body []byte) (map[string]any, string) {
	t.Helper()
	prefix := []byte("prefix:")
	out, msg, err := c.appendJSON(prefix, body)
	if err != nil {
		t.Fatalf("appendJSON: %v", err)
	}
	if !strings.HasPrefix(string(out), "prefix:") {
		t.Fatalf("appendJSON did not append to dst: %q", out)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, out[len(prefix):]); err != nil || compact.String() != string(out[len(prefix):]) {
		t.Errorf("not compact JSON (%v): %s", err, out)
	}
	var v map[string]any
	if err := json.Unmarshal(out[len(prefix):], &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, out)
	}
	return v, msg
}

// sameFields compares decoded JSON with want field by field.
func sameFields(t testing.TB, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("field %s missing; got %v", k, got)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %s = %#v, want %#v", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %s = %#v", k, got[k])
		}
	}
}

const nestedProto = `syntax = "proto3";
package test.nested;

message First {
  int32 first_id = 1;
  message Sub {
    bool flag = 1;
  }
}

message Second {
  string second_name = 1;
  message Inner {
    string inner_name = 1;
    int64 inner_count = 2;
  }
  message Other {
    message Deep {
      string deep = 1;
    }
    double other = 1;
  }
}
`

// TestProtoNestedIndexPath: [1,0] is the second top-level message's first
// nested message. kafkactl's reading (each index into the top-level list)
// would decode it as First, whose field 1 is an int32: a different message.
func TestProtoNestedIndexPath(t *testing.T) {
	r := newProtoRegistry(t)
	id, _ := r.register("nested-value", nestedProto)
	c := r.compile(id)
	fd := writerFile(t, map[string]string{"n.proto": nestedProto}, "n.proto")

	inner := newMsg(message(t, fd, "Second.Inner"), map[string]any{"inner_name": "x", "inner_count": int64(7)})
	got, msg := decodeJSON(t, c, protoFrame(t, id, []int{1, 0}, inner))
	if msg != "test.nested.Second.Inner" {
		t.Errorf("msg = %q, want test.nested.Second.Inner (kafkactl's bug reads [1,0] as First)", msg)
	}
	sameFields(t, got, map[string]any{"innerName": "x", "innerCount": "7"})

	deep := newMsg(message(t, fd, "Second.Other.Deep"), map[string]any{"deep": "down"})
	got, msg = decodeJSON(t, c, protoFrame(t, id, []int{1, 1, 0}, deep))
	if msg != "test.nested.Second.Other.Deep" {
		t.Errorf("msg = %q, want test.nested.Second.Other.Deep", msg)
	}
	sameFields(t, got, map[string]any{"deep": "down"})

	second := newMsg(message(t, fd, "Second"), map[string]any{"second_name": "s"})
	got, msg = decodeJSON(t, c, protoFrame(t, id, []int{1}, second))
	if msg != "test.nested.Second" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"secondName": "s"})

	// Again, from the cache, and from many goroutines at once.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				body := protoFrame(t, id, []int{1, 0}, inner)
				if j%2 == 1 {
					body = protoFrame(t, id, []int{1, 1, 0}, deep)
				}
				if _, _, err := c.appendJSON(nil, body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestProtoFirstMessageShortcut: the single byte 0 means [0]; so does the
// long form (count 1, index 0).
func TestProtoFirstMessageShortcut(t *testing.T) {
	r := newProtoRegistry(t)
	id, _ := r.register("nested-value", nestedProto)
	c := r.compile(id)
	fd := writerFile(t, map[string]string{"n.proto": nestedProto}, "n.proto")
	first := newMsg(message(t, fd, "First"), map[string]any{"first_id": int32(42)})

	body := protoFrame(t, id, []int{0}, first)
	if body[0] != 0 {
		t.Fatalf("AppendEncode did not write the shortcut: % x", body)
	}
	got, msg := decodeJSON(t, c, body)
	if msg != "test.nested.First" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"firstId": float64(42)})

	mb, _ := proto.Marshal(first)
	long := append([]byte{2, 0}, mb...) // zigzag 1, zigzag 0
	got, msg = decodeJSON(t, c, long)
	if msg != "test.nested.First" {
		t.Errorf("long form: msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"firstId": float64(42)})

	// [0,0]: the first message's first nested one.
	sub := newMsg(message(t, fd, "First.Sub"), map[string]any{"flag": true})
	got, msg = decodeJSON(t, c, protoFrame(t, id, []int{0, 0}, sub))
	if msg != "test.nested.First.Sub" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"flag": true})
}

func TestProtoBadInput(t *testing.T) {
	r := newProtoRegistry(t)
	id, _ := r.register("nested-value", nestedProto)
	c := r.compile(id)
	for name, body := range map[string][]byte{
		"empty":                {},
		"no top-level 5":       {2, 10},               // [5]
		"no nested 3":          {4, 2, 6},             // [1,3]
		"negative index":       {2, 1},                // [-1]
		"negative count":       {1},                   // count -1
		"count past the body":  {6, 2},                // count 3, one index
		"truncated varint":     {2, 0x80},             // index cut short
		"body does not parse":  {0, 0x0a, 0x7f},       // field 1 length 127, no bytes
		"wrong wire type":      {0, 0x0d, 1},          // First.first_id as fixed32, cut
		"invalid UTF-8 string": {2, 2, 0x0a, 1, 0xff}, // Second.second_name
	} {
		out, _, err := c.appendJSON([]byte("dst"), body)
		if err == nil {
			t.Errorf("%s: no error; got %s", name, out)
		}
		if string(out) != "dst" {
			t.Errorf("%s: dst changed on error: %q", name, out)
		}
	}
}

func TestProtoCompactJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1, "b":[1, 2], "c":{"d":"x, y"}}`: `{"a":1,"b":[1,2],"c":{"d":"x, y"}}`,
		`{"s":"q\" , ", "t":"\\", "u":2}`:       `{"s":"q\" , ","t":"\\","u":2}`,
		`{}`:                                    `{}`,
	} {
		if got := string(compactJSON([]byte(in))); got != want {
			t.Errorf("compactJSON(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestProtoPathCacheBounded: the same path written with ever longer
// (non-minimal) varints decodes each time but never grows the cache past
// its bound.
func TestProtoPathCacheBounded(t *testing.T) {
	r := newProtoRegistry(t)
	id, _ := r.register("nested-value", nestedProto)
	c := r.compile(id).(*protoCodec)
	fd := writerFile(t, map[string]string{"n.proto": nestedProto}, "n.proto")
	mb, _ := proto.Marshal(newMsg(message(t, fd, "Second.Inner"), map[string]any{"inner_name": "x"}))
	pad := func(b byte, n int) []byte { // b as a varint in n+1 bytes
		if n == 0 {
			return []byte{b}
		}
		out := []byte{b | 0x80}
		for i := 1; i < n; i++ {
			out = append(out, 0x80)
		}
		return append(out, 0)
	}
	n := 0
	for a := 0; a < 9; a++ {
		for b := 0; b < 9; b++ {
			for d := 0; d < 9 && n < protoPathCacheMax+50; d++ {
				body := append(append(append(pad(4, a), pad(2, b)...), pad(0, d)...), mb...) // [1,0]
				_, msg, err := c.appendJSON(nil, body)
				if err != nil || msg != "test.nested.Second.Inner" {
					t.Fatalf("%d %d %d: %q %v", a, b, d, msg, err)
				}
				n++
			}
		}
	}
	if n <= protoPathCacheMax {
		t.Fatalf("only %d encodings tried", n)
	}
	if got := len(c.byPath); got > protoPathCacheMax {
		t.Errorf("cache holds %d paths, bound is %d", got, protoPathCacheMax)
	}
}

const moneyV1 = `syntax = "proto3";
package test.common;
message Money {
  string currency = 1;
  int64 units = 2;
}
`

// moneyV2 is incompatible with v1: currency renamed and renumbered, units
// moved to field 1.
const moneyV2 = `syntax = "proto3";
package test.common;
message Money {
  int64 units = 1;
  string code = 3;
}
`

const orderWithMoney = `syntax = "proto3";
package test.orders;
import "common/money.proto";
message Order {
  string id = 1;
  test.common.Money total = 2;
}
`

// TestProtoReferencePinnedVersion: the reference is pinned to version 1 of
// its subject; a version 2 that changed the message registered later must
// not be what decodes (kafkactl resolves references to the latest).
func TestProtoReferencePinnedVersion(t *testing.T) {
	r := newProtoRegistry(t)
	_, v1 := r.register("money", moneyV1)
	id, _ := r.register("orders-value", orderWithMoney, sr.SchemaReference{Name: "common/money.proto", Subject: "money", Version: v1})
	if _, v2 := r.register("money", moneyV2); v2 != v1+1 {
		t.Fatalf("money v2 = %d", v2)
	}
	c := r.compile(id)
	if want := []string{fmt.Sprintf("money@%d", v1)}; !reflect.DeepEqual(r.asked, want) {
		t.Errorf("fetched %v, want %v", r.asked, want)
	}

	fd := writerFile(t, map[string]string{"o.proto": orderWithMoney, "common/money.proto": moneyV1}, "o.proto")
	total := newMsg(message(t, fd.Imports().Get(0).FileDescriptor, "Money"), map[string]any{"currency": "EUR", "units": int64(1250)})
	order := newMsg(message(t, fd, "Order"), map[string]any{"id": "o-1", "total": total})
	got, msg := decodeJSON(t, c, protoFrame(t, id, []int{0}, order))
	if msg != "test.orders.Order" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"id": "o-1", "total": map[string]any{"currency": "EUR", "units": "1250"}})
}

// TestProtoReferencesOfReferences: the schema imports b.proto, which
// imports c.proto; c is fetched by the pin in b's references (the
// registered schema does not name it).
func TestProtoReferencesOfReferences(t *testing.T) {
	const c1 = `syntax = "proto3";
package test.c;
message C { string c = 1; }
`
	const c2 = `syntax = "proto3";
package test.c;
message C { int32 renumbered = 1; string c = 2; }
`
	const b1 = `syntax = "proto3";
package test.b;
import "deps/c.proto";
message B { test.c.C c = 1; string b = 2; }
`
	const top = `syntax = "proto3";
package test.a;
import "deps/b.proto";
message A { test.b.B b = 1; string a = 2; }
`
	r := newProtoRegistry(t)
	_, cv := r.register("c", c1)
	_, bv := r.register("b", b1, sr.SchemaReference{Name: "deps/c.proto", Subject: "c", Version: cv})
	id, _ := r.register("a-value", top, sr.SchemaReference{Name: "deps/b.proto", Subject: "b", Version: bv})
	r.register("c", c2) // newer, incompatible: not what b pins
	c := r.compile(id)
	want := map[string]bool{fmt.Sprintf("b@%d", bv): true, fmt.Sprintf("c@%d", cv): true}
	for _, a := range r.asked {
		if !want[a] {
			t.Errorf("fetched %s; pins are %v", a, want)
		}
	}
	if len(r.asked) != 2 {
		t.Errorf("fetched %v: each import once", r.asked)
	}

	fd := writerFile(t, map[string]string{"a.proto": top, "deps/b.proto": b1, "deps/c.proto": c1}, "a.proto")
	bfd := fd.Imports().Get(0).FileDescriptor
	cfd := bfd.Imports().Get(0).FileDescriptor
	cm := newMsg(message(t, cfd, "C"), map[string]any{"c": "deep"})
	bm := newMsg(message(t, bfd, "B"), map[string]any{"c": cm, "b": "mid"})
	am := newMsg(message(t, fd, "A"), map[string]any{"b": bm, "a": "top"})
	got, _ := decodeJSON(t, c, protoFrame(t, id, []int{0}, am))
	sameFields(t, got, map[string]any{
		"b": map[string]any{"c": map[string]any{"c": "deep"}, "b": "mid"},
		"a": "top",
	})
}

// TestProtoReferenceFetchError: a reference that cannot be fetched fails
// the compile and says which.
func TestProtoReferenceFetchError(t *testing.T) {
	r := newProtoRegistry(t)
	_, err := compileProto(context.Background(), orderWithMoney,
		[]refSchema{{Name: "common/money.proto", Subject: "money", Version: 3}}, r.fetch)
	if err == nil || !strings.Contains(err.Error(), "common/money.proto") || !strings.Contains(err.Error(), "money version 3") {
		t.Errorf("err = %v", err)
	}
}

const wktProto = `syntax = "proto3";
package test.wkt;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/any.proto";
message Event {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Int64Value count = 3;
  google.protobuf.StringValue note = 4;
  google.protobuf.BoolValue ok = 5;
  google.protobuf.Struct attrs = 6;
  google.protobuf.Any detail = 7;
  Kind kind = 8;
  bytes raw = 9;
}
message Detail { string why = 1; }
enum Kind { KIND_UNSPECIFIED = 0; KIND_BIG = 1; }
`

// TestProtoWellKnownTypes: they come out as protojson writes them.
func TestProtoWellKnownTypes(t *testing.T) {
	r := newProtoRegistry(t)
	id, _ := r.register("wkt-value", wktProto)
	c := r.compile(id)
	fd := writerFile(t, map[string]string{"w.proto": wktProto}, "w.proto")
	ev := message(t, fd, "Event")
	f := func(name string) protoreflect.MessageDescriptor {
		return ev.Fields().ByName(protoreflect.Name(name)).Message()
	}

	detail := newMsg(message(t, fd, "Detail"), map[string]any{"why": "because"})
	db, _ := proto.Marshal(detail)
	anyv := newMsg(f("detail"), map[string]any{"type_url": "type.googleapis.com/test.wkt.Detail", "value": db})
	attrs := dynamicpb.NewMessage(f("attrs"))
	if err := protojson.Unmarshal([]byte(`{"a":1,"b":["x",true]}`), attrs); err != nil {
		t.Fatal(err)
	}
	m := newMsg(ev, map[string]any{
		"at":     newMsg(f("at"), map[string]any{"seconds": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Unix(), "nanos": int32(500_000_000)}),
		"took":   newMsg(f("took"), map[string]any{"seconds": int64(1), "nanos": int32(500_000_000)}),
		"count":  newMsg(f("count"), map[string]any{"value": int64(7)}),
		"note":   newMsg(f("note"), map[string]any{"value": "n"}),
		"ok":     newMsg(f("ok"), map[string]any{"value": false}),
		"attrs":  attrs,
		"detail": anyv,
		"kind":   protoreflect.EnumNumber(1),
		"raw":    []byte{0xde, 0xad},
	})
	got, msg := decodeJSON(t, c, protoFrame(t, id, []int{0}, m))
	if msg != "test.wkt.Event" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{
		"at":     "2024-01-02T03:04:05.500Z",
		"took":   "1.500s",
		"count":  "7",
		"note":   "n",
		"ok":     false,
		"attrs":  map[string]any{"a": float64(1), "b": []any{"x", true}},
		"detail": map[string]any{"@type": "type.googleapis.com/test.wkt.Detail", "why": "because"},
		"kind":   "KIND_BIG",
		"raw":    "3q0=",
	})
}

const decimalProto = `syntax = "proto3";
package test.money;
import "confluent/meta.proto";
import "confluent/type/decimal.proto";

option (confluent.file_meta) = { doc: "prices" };

message Price {
  option (confluent.message_meta) = { doc: "a price", tags: ["PII"] };
  confluent.type.Decimal amount = 1 [(confluent.field_meta) = { params: [ { key: "precision", value: "8" }, { key: "scale", value: "2" } ] }];
  Unit unit = 2;
}

enum Unit {
  option (confluent.enum_meta) = { doc: "units" };
  UNIT_UNSPECIFIED = 0;
  UNIT_EUR = 1 [(confluent.enum_value_meta) = { doc: "euro" }];
}
`

// TestProtoConfluentImports: confluent/meta.proto options and
// confluent.type.Decimal compile without a registry reference for them.
func TestProtoConfluentImports(t *testing.T) {
	r := newProtoRegistry(t)
	id, _ := r.register("price-value", decimalProto)
	c := r.compile(id)
	if len(r.asked) != 0 {
		t.Errorf("fetched %v for Confluent's own imports", r.asked)
	}
	fd := writerFile(t, map[string]string{"p.proto": decimalProto}, "p.proto")
	price := message(t, fd, "Price")
	amount := newMsg(price.Fields().ByName("amount").Message(), map[string]any{
		"value": []byte{0x04, 0xd2}, "precision": uint32(8), "scale": int32(2), // 12.34
	})
	got, msg := decodeJSON(t, c, protoFrame(t, id, []int{0}, newMsg(price, map[string]any{"amount": amount, "unit": protoreflect.EnumNumber(1)})))
	if msg != "test.money.Price" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{
		"amount": map[string]any{"value": "BNI=", "precision": float64(8), "scale": float64(2)},
		"unit":   "UNIT_EUR",
	})
}

// TestProtoCompileError: a schema that does not compile says where.
func TestProtoCompileError(t *testing.T) {
	_, err := compileProto(context.Background(), "syntax = \"proto3\";\nmessage X {\n  strin x = 1;\n}\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), ":3:") {
		t.Errorf("err = %v, want a line:col", err)
	}
	_, err = compileProto(context.Background(), "syntax = \"proto3\";\nimport \"missing.proto\";\nmessage X {}\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "missing.proto") {
		t.Errorf("err = %v, want the missing import named", err)
	}
}

func TestProtoLocalFile(t *testing.T) {
	c, err := localProto(filepath.Join("testdata", "proto", "order.proto"), "")
	if err != nil {
		t.Fatal(err)
	}
	fd := localFile(t, filepath.Join("testdata", "proto"), "order.proto")
	order := message(t, fd, "Order")
	line := order.Messages().ByName("Line")
	m := newMsg(order, map[string]any{
		"id":    "o-9",
		"at":    newMsg(order.Fields().ByName("at").Message(), map[string]any{"seconds": int64(0)}),
		"lines": []*dynamicpb.Message{newMsg(line, map[string]any{"sku": "a", "qty": uint32(2)})},
	})
	body, _ := proto.Marshal(m) // bare: no index array
	got, msg := decodeJSON(t, c, body)
	if msg != "shop.single.Order" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{
		"id":    "o-9",
		"at":    "1970-01-01T00:00:00Z",
		"lines": []any{map[string]any{"sku": "a", "qty": float64(2)}},
	})
	// A nested message by full name.
	c, err = localProto(filepath.Join("testdata", "proto", "order.proto"), "shop.single.Order.Line")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = proto.Marshal(newMsg(line, map[string]any{"sku": "b"}))
	if got, msg = decodeJSON(t, c, body); msg != "shop.single.Order.Line" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"sku": "b"})
}

func TestProtoLocalMessageRequired(t *testing.T) {
	path := filepath.Join("testdata", "proto", "two.proto")
	_, err := localProto(path, "")
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "shop.two.Created") || !strings.Contains(err.Error(), "shop.two.Cancelled") {
		t.Errorf("err = %v, want the file and its messages named", err)
	}
	_, err = localProto(path, "shop.two.Nope")
	if err == nil || !strings.Contains(err.Error(), "shop.two.Nope") || !strings.Contains(err.Error(), "shop.two.Created") {
		t.Errorf("err = %v", err)
	}
	c, err := localProto(path, "shop.two.Cancelled")
	if err != nil {
		t.Fatal(err)
	}
	fd := localFile(t, filepath.Join("testdata", "proto"), "two.proto")
	body, _ := proto.Marshal(newMsg(message(t, fd, "Cancelled"), map[string]any{"id": "1", "reason": "r"}))
	got, msg := decodeJSON(t, c, body)
	if msg != "shop.two.Cancelled" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"id": "1", "reason": "r"})
}

func TestProtoLocalDirectory(t *testing.T) {
	dir := filepath.Join("testdata", "proto", "shop")
	if _, err := localProto(dir, ""); err == nil || !strings.Contains(err.Error(), "shop.Order") {
		t.Errorf("ambiguous directory: err = %v", err)
	}
	c, err := localProto(dir, "shop.Order")
	if err != nil {
		t.Fatal(err)
	}
	fd := localFile(t, dir, "orders.proto")
	order := message(t, fd, "Order")
	m := newMsg(order, map[string]any{
		"id":    "o-2",
		"total": newMsg(order.Fields().ByName("total").Message(), map[string]any{"currency": "USD", "units": int64(3)}),
		"tax":   newMsg(order.Fields().ByName("tax").Message(), map[string]any{"value": []byte{1}, "scale": int32(1)}),
	})
	body, _ := proto.Marshal(m)
	got, _ := decodeJSON(t, c, body)
	sameFields(t, got, map[string]any{
		"id":    "o-2",
		"total": map[string]any{"currency": "USD", "units": "3"},
		"tax":   map[string]any{"value": "AQ==", "scale": float64(1)},
	})
}

func TestProtoLocalErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.proto")
	writeFile(t, bad, "syntax = \"proto3\";\n\nmessage M {\n  int32 = 1;\n}\n")
	_, err := localProto(bad, "")
	if err == nil || !strings.Contains(err.Error(), "bad.proto:4:") {
		t.Errorf("err = %v, want bad.proto:4:col", err)
	}
	imp := filepath.Join(dir, "imp.proto")
	writeFile(t, imp, "syntax = \"proto3\";\nimport \"../outside.proto\";\nmessage M {}\n")
	if _, err := localProto(imp, ""); err == nil || !strings.Contains(err.Error(), "outside.proto") {
		t.Errorf("err = %v", err)
	}
	if _, err := localProto(filepath.Join(dir, "none.proto"), ""); err == nil || !strings.Contains(err.Error(), "none.proto") {
		t.Errorf("err = %v", err)
	}
	txt := filepath.Join(dir, "x.txt")
	writeFile(t, txt, "x")
	if _, err := localProto(txt, ""); err == nil || !strings.Contains(err.Error(), "x.txt") {
		t.Errorf("err = %v", err)
	}
	set := filepath.Join(dir, "junk.binpb")
	writeFile(t, set, "\xff\xff\xff")
	if _, err := localProto(set, ""); err == nil || !strings.Contains(err.Error(), "junk.binpb") {
		t.Errorf("err = %v", err)
	}
}

// TestProtoLocalDescriptorSet: a .binpb made from compiled files, without
// the well-known types it imports (protoc without --include_imports).
func TestProtoLocalDescriptorSet(t *testing.T) {
	fd := localFile(t, filepath.Join("testdata", "proto"), "order.proto")
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(fd)}}
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "order.binpb")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := localProto(path, "")
	if err != nil {
		t.Fatal(err)
	}
	order := message(t, fd, "Order")
	m := newMsg(order, map[string]any{
		"id": "o-3",
		"at": newMsg(order.Fields().ByName("at").Message(), map[string]any{"seconds": int64(86400), "nanos": int32(1000)}),
	})
	body, _ := proto.Marshal(m)
	got, msg := decodeJSON(t, c, body)
	if msg != "shop.single.Order" {
		t.Errorf("msg = %q", msg)
	}
	sameFields(t, got, map[string]any{"id": "o-3", "at": "1970-01-02T00:00:00.000001Z"})

	// With its imports included (and Confluent's), and two files: the
	// message is then required, the well-known types not counted.
	dfd := localFile(t, filepath.Join("testdata", "proto", "shop"), "orders.proto")
	var files []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := 0; i < f.Imports().Len(); i++ {
			add(f.Imports().Get(i).FileDescriptor)
		}
		files = append(files, protodesc.ToFileDescriptorProto(f))
	}
	add(dfd)
	add(fd)
	b, _ = proto.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	path = filepath.Join(t.TempDir(), "all.pb")
	writeFile(t, path, string(b))
	_, err = localProto(path, "")
	if err == nil || !strings.Contains(err.Error(), "shop.Order") || strings.Contains(err.Error(), "google.protobuf") || strings.Contains(err.Error(), "confluent.type") {
		t.Errorf("err = %v, want the set's own messages listed", err)
	}
	if _, err := localProto(path, "shop.common.Money"); err != nil {
		t.Error(err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// localFile compiles name under dir for the writer's side of a test.
func localFile(t testing.TB, dir, name string) protoreflect.FileDescriptor {
	t.Helper()
	comp := protocompile.Compiler{Resolver: protoResolver(&protocompile.SourceResolver{ImportPaths: []string{dir}})}
	files, err := comp.Compile(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// BenchmarkProtoToJSON decodes a ~10-field registered message (nested, a
// timestamp, a repeated field) to JSON.
func BenchmarkProtoToJSON(b *testing.B) {
	const text = `syntax = "proto3";
package bench;
import "google/protobuf/timestamp.proto";
message Other { string x = 1; }
message Order {
  message Line { string sku = 1; uint32 qty = 2; int64 cents = 3; }
  string id = 1;
  string customer = 2;
  google.protobuf.Timestamp at = 3;
  int64 total_cents = 4;
  string currency = 5;
  repeated Line lines = 6;
  bool paid = 7;
  double weight = 8;
  string status = 9;
  map<string, string> attrs = 10;
}
`
	r := newProtoRegistry(b)
	id, _ := r.register("bench-value", text)
	c := r.compile(id)
	fd := writerFile(b, map[string]string{"b.proto": text}, "b.proto")
	order := message(b, fd, "Order")
	line := order.Messages().ByName("Line")
	m := newMsg(order, map[string]any{
		"id": "ord-000123", "customer": "cust-42", "total_cents": int64(12999), "currency": "EUR",
		"at":     newMsg(order.Fields().ByName("at").Message(), map[string]any{"seconds": int64(1700000000)}),
		"lines":  []*dynamicpb.Message{newMsg(line, map[string]any{"sku": "a-1", "qty": uint32(1), "cents": int64(999)}), newMsg(line, map[string]any{"sku": "b-2", "qty": uint32(3), "cents": int64(4000)})},
		"paid":   true,
		"weight": 1.25,
		"status": "PAID",
	})
	m.Mutable(order.Fields().ByName("attrs")).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString("v"))
	body := protoFrame(b, id, []int{1}, m)
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		dst, _, err = c.appendJSON(dst[:0], body)
		if err != nil {
			b.Fatal(err)
		}
	}
}
