package schema

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	"github.com/eddy-sh/eddy/event"
)

// wireFrame is a whole record value in the Confluent wire format, framed by
// franz-go's sr.ConfluentHeader (the encoder Confluent-compatible producers
// use): magic, id, the message-index path, the message.
func wireFrame(t testing.TB, id int, index []int, m proto.Message) []byte {
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
	return append(b, mb...)
}

// TestDecoderProtobuf runs registered Protobuf through Decoder.Decode: a
// schema whose reference is pinned while the referenced subject has a newer,
// incompatible version; nested index paths and the [0] shortcut; the
// Decoded's JSON and SchemaRef; a bad index path counted undecodable.
func TestDecoderProtobuf(t *testing.T) {
	r := newRegistry(t)
	r.SetCompat("money", sr.CompatNone)
	r.register(t, "money", sr.Schema{Type: sr.TypeProtobuf, Schema: moneyV1})
	ordersID := r.register(t, "orders-value", sr.Schema{Type: sr.TypeProtobuf, Schema: orderWithMoney,
		References: []sr.SchemaReference{{Name: "common/money.proto", Subject: "money", Version: 1}}})
	r.register(t, "money", sr.Schema{Type: sr.TypeProtobuf, Schema: moneyV2}) // money v2: not what orders pins
	nestedID := r.register(t, "nested-value", sr.Schema{Type: sr.TypeProtobuf, Schema: nestedProto})

	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	ctx := context.Background()

	// The writer's side, compiled independently of the codec.
	ofd := writerFile(t, map[string]string{"o.proto": orderWithMoney, "common/money.proto": moneyV1}, "o.proto")
	total := newMsg(message(t, ofd.Imports().Get(0).FileDescriptor, "Money"), map[string]any{"currency": "EUR", "units": int64(1250)})
	order := newMsg(message(t, ofd, "Order"), map[string]any{"id": "o-1", "total": total})

	e := event.Event{Transport: event.Kafka, Topic: "orders", Key: []byte("o-1"), Value: wireFrame(t, ordersID, []int{0}, order)}
	d.Decode(ctx, &e)
	if e.KeyDecoded != nil {
		t.Errorf("plain key decoded: %+v", e.KeyDecoded)
	}
	got := e.ValueDecoded
	if got == nil || got.Fail != "" {
		t.Fatalf("orders: %+v", got)
	}
	// Pinned money v1: currency and units as written (v2 would read field
	// 1 as units and drop currency).
	if want := `{"id":"o-1","total":{"currency":"EUR","units":"1250"}}`; string(got.JSON) != want {
		t.Errorf("orders JSON %s, want %s", got.JSON, want)
	}
	if want := (event.SchemaRef{Format: "protobuf", ID: ordersID, Subject: "orders-value", Version: 1, Message: "test.orders.Order"}); got.Schema != want {
		t.Errorf("orders schema %+v, want %+v", got.Schema, want)
	}

	nfd := writerFile(t, map[string]string{"n.proto": nestedProto}, "n.proto")
	for _, c := range []struct {
		index []int
		msg   proto.Message
		name  string
		json  string
	}{
		{[]int{0}, newMsg(message(t, nfd, "First"), map[string]any{"first_id": int32(42)}), "test.nested.First", `{"firstId":42}`},
		{[]int{1, 0}, newMsg(message(t, nfd, "Second.Inner"), map[string]any{"inner_name": "x", "inner_count": int64(7)}), "test.nested.Second.Inner", `{"innerName":"x","innerCount":"7"}`},
		{[]int{1, 1, 0}, newMsg(message(t, nfd, "Second.Other.Deep"), map[string]any{"deep": "down"}), "test.nested.Second.Other.Deep", `{"deep":"down"}`},
		{[]int{0, 0}, newMsg(message(t, nfd, "First.Sub"), map[string]any{"flag": true}), "test.nested.First.Sub", `{"flag":true}`},
	} {
		value := wireFrame(t, nestedID, c.index, c.msg)
		if len(c.index) == 1 && c.index[0] == 0 && value[5] != 0 {
			t.Fatalf("[0] not written as the shortcut: % x", value)
		}
		got := decodeValue(t, d, "nested", value)
		if got == nil || got.Fail != "" || string(got.JSON) != c.json {
			t.Errorf("%v: %+v, want %s", c.index, got, c.json)
			continue
		}
		if want := (event.SchemaRef{Format: "protobuf", ID: nestedID, Subject: "nested-value", Version: 1, Message: c.name}); got.Schema != want {
			t.Errorf("%v: schema %+v, want %+v", c.index, got.Schema, want)
		}
	}

	before := d.Stats()
	// [5]: no fifth top-level message; [1,3]: Second has two nested ones;
	// a count past the body.
	for _, idx := range [][]byte{{2, 10}, {4, 2, 6}, {6, 2}} {
		v := append(frame(nestedID, idx), 0x08, 0x01)
		if got := decodeValue(t, d, "nested", v); got.Fail != event.FailUndecodable || got.JSON != nil || got.Schema.ID != nestedID || got.Schema.Format != "protobuf" {
			t.Errorf("index % x: %+v", idx, got)
		}
	}
	after := d.Stats()
	if n := after.Failed[event.FailUndecodable] - before.Failed[event.FailUndecodable]; n != 3 {
		t.Errorf("%d undecodable counted, want 3 (%+v)", n, after)
	}
	if after.Decoded != before.Decoded {
		t.Errorf("decoded moved on bad paths: %d -> %d", before.Decoded, after.Decoded)
	}
}

// TestDecoderProtobufLocal: a local .proto mapped to a topic through
// Config.Local decodes the bare message (no wire-format header).
func TestDecoderProtobufLocal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "money.proto")
	if err := os.WriteFile(path, []byte(moneyV1), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDecoder(t, Config{Local: []Mapping{{Topic: "pay", Value: &LocalSchema{Path: path}}}})
	fd := writerFile(t, map[string]string{"m.proto": moneyV1}, "m.proto")
	body, err := proto.Marshal(newMsg(message(t, fd, "Money"), map[string]any{"currency": "NOK", "units": int64(3)}))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeValue(t, d, "pay", body)
	if got == nil || got.Fail != "" || string(got.JSON) != `{"currency":"NOK","units":"3"}` {
		t.Fatalf("%+v", got)
	}
	if want := (event.SchemaRef{Format: "protobuf", File: path, Message: "test.common.Money"}); got.Schema != want {
		t.Errorf("schema %+v, want %+v", got.Schema, want)
	}
	if got := decodeValue(t, d, "pay", []byte{0x0a, 0x7f}); got.Fail != event.FailUndecodable {
		t.Errorf("bad body: %+v", got)
	}
	if s := d.Stats(); s.Decoded != 1 || s.Failed[event.FailUndecodable] != 1 {
		t.Errorf("stats %+v", s)
	}
}
