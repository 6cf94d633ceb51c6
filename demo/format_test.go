package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// registryDecoder decodes framed values the way a consumer that knows
// nothing of the demo does: the schema by id from the demo's registry over
// HTTP, then the format's library.
type registryDecoder struct {
	t   *testing.T
	cl  *sr.Client
	ctx context.Context
	// subjects caches each id's subjects; avro and proto its compiled schema.
	subjects map[int][]string
	avro     map[int]*avro.Schema
	proto    map[int]protoreflect.FileDescriptor
	json     map[int]*jsonschema.Schema
	types    map[int]sr.SchemaType
}

func newRegistryDecoder(t *testing.T, url string) *registryDecoder {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return &registryDecoder{t: t, cl: cl, ctx: context.Background(), subjects: map[int][]string{},
		avro: map[int]*avro.Schema{}, json: map[int]*jsonschema.Schema{}, proto: map[int]protoreflect.FileDescriptor{}, types: map[int]sr.SchemaType{}}
}

// decoded is a value as JSON (the envelope's fields by their schema names)
// with the id and message index it carried.
type decoded struct {
	id    int
	index []int
	m     map[string]any
}

// decode returns the value's JSON object; an error for a value that is not
// the wire format or does not decode with its registered schema.
func (r *registryDecoder) decode(topic string, v []byte) (*decoded, error) {
	t := r.t
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(v)
	if err != nil {
		return nil, err
	}
	if _, ok := r.types[id]; !ok {
		s, err := r.cl.SchemaByID(r.ctx, id)
		if err != nil {
			return nil, fmt.Errorf("schema %d: %w", id, err)
		}
		subs, err := r.cl.SubjectsByID(r.ctx, id)
		if err != nil {
			t.Fatalf("subjects of %d: %v", id, err)
		}
		r.subjects[id] = subs
		r.types[id] = s.Type
		switch s.Type {
		case sr.TypeAvro:
			if r.avro[id], err = avro.Parse(s.Schema); err != nil {
				t.Fatalf("the registry's schema %d does not parse: %v", id, err)
			}
		case sr.TypeProtobuf:
			srcs := map[string]string{"value.proto": s.Schema}
			for _, ref := range s.References {
				rs, err := r.cl.SchemaByVersion(r.ctx, ref.Subject, ref.Version)
				if err != nil {
					t.Fatalf("reference %s of schema %d: %v", ref.Name, id, err)
				}
				srcs[ref.Name] = rs.Schema.Schema
			}
			c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
				Accessor: protocompile.SourceAccessorFromMap(srcs)})}
			fds, err := c.Compile(r.ctx, "value.proto")
			if err != nil {
				t.Fatalf("the registry's schema %d does not compile: %v", id, err)
			}
			r.proto[id] = fds[0]
		}
	}
	if want := topic + "-value"; len(r.subjects[id]) != 1 || r.subjects[id][0] != want {
		t.Fatalf("%s: schema id %d is under %v, want only %s", topic, id, r.subjects[id], want)
	}
	d := &decoded{id: id}
	var js []byte
	switch r.types[id] {
	case sr.TypeAvro:
		var x any
		left, err := r.avro[id].Decode(rest, &x)
		if err != nil {
			return nil, err
		}
		if len(left) != 0 {
			return nil, fmt.Errorf("%d bytes after the record", len(left))
		}
		if js, err = r.avro[id].EncodeJSON(x); err != nil {
			t.Fatalf("avro JSON of what decoded: %v", err)
		}
	case sr.TypeProtobuf:
		if d.index, rest, err = h.DecodeIndex(rest, 8); err != nil {
			return nil, err
		}
		// The index path: the first number picks a top-level message, each
		// further one a message nested in the one before.
		msgs := r.proto[id].Messages()
		var md protoreflect.MessageDescriptor
		for _, i := range d.index {
			if i >= msgs.Len() {
				return nil, fmt.Errorf("index %v: no such message", d.index)
			}
			md = msgs.Get(i)
			msgs = md.Messages()
		}
		msg := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(rest, msg); err != nil {
			return nil, err
		}
		if js, err = (protojson.MarshalOptions{UseProtoNames: true}).Marshal(msg); err != nil {
			t.Fatal(err)
		}
	case sr.TypeJSON:
		js = rest
		if r.json[id] == nil {
			s, _ := r.cl.SchemaByID(r.ctx, id)
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.Schema))
			if err != nil {
				t.Fatalf("schema %d is not JSON: %v", id, err)
			}
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			if err := c.AddResource("value.json", doc); err != nil {
				t.Fatal(err)
			}
			if r.json[id], err = c.Compile("value.json"); err != nil {
				t.Fatalf("schema %d does not compile: %v", id, err)
			}
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(rest))
		if err != nil {
			return nil, err
		}
		if err := r.json[id].Validate(inst); err != nil {
			return nil, fmt.Errorf("not valid against schema %d: %w", id, err)
		}
	}
	if err := json.Unmarshal(js, &d.m); err != nil {
		return nil, err
	}
	return d, nil
}

func dec0(t *testing.T, url string) *sr.Client {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestFormats(t *testing.T) {
	for _, f := range []Format{FormatAvro, FormatProtobuf, FormatJSONSchema} {
		t.Run(string(f), func(t *testing.T) { testFormat(t, f) })
	}
}

func testFormat(t *testing.T, f Format) {
	base := runtime.NumGoroutine()
	cfg := fastConfig()
	cfg.Format = f
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			d.Close()
		}
	})
	if d.Format() != f || !strings.HasPrefix(d.RegistryURL(), "http://127.0.0.1:") {
		t.Fatalf("Format() = %q, RegistryURL() = %q", d.Format(), d.RegistryURL())
	}
	subs, err := dec0(t, d.RegistryURL()).Subjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(subs)
	if want := slices.Sorted(slices.Values(d.Subjects())); !slices.Equal(subs, want) || len(want) < 5 {
		t.Fatalf("the registry has subjects %v; Subjects() says %v", subs, want)
	}
	var banner strings.Builder
	d.WriteBanner(&banner, Banner{Rate: cfg.Rate, Context: "demo"})
	for _, want := range []string{"values are " + formatName(f) + " in the Confluent wire format; Schema Registry at " + d.RegistryURL(),
		"subjects orders-value payments-value", "eddy schema ls --context demo"} {
		if !strings.Contains(banner.String(), want) {
			t.Fatalf("the banner lacks %q:\n%s", want, banner.String())
		}
	}
	waitFor(t, "flows, dead letters, both outcomes of payments and inventory, and every poison kind", 30*time.Second, func() (bool, string) {
		s := d.Stats()
		// PaymentFailed and OutOfStock are the second message of their
		// topics' container: without one of each, index [0 1] is not there to check.
		return s.Events[EmailSent] >= 60 && s.Events[PaymentFailed] >= 1 && s.Events[OutOfStock] >= 1 &&
				s.DeadLettered[TopicPaymentsDLT] >= 3 && s.DeadLettered[TopicInventoryDLQ] >= 3 && s.Poison >= 4,
			fmt.Sprintf("%s; %d PaymentFailed, %d OutOfStock", s.String(), s.Events[PaymentFailed], s.Events[OutOfStock])
	})
	snap := readAll(t, d.Addr(), d.Topics()...)
	dec := newRegistryDecoder(t, d.RegistryURL())

	type ev struct {
		topic string
		d     *decoded
	}
	events := map[string]ev{}
	indexes := map[string]map[string]bool{} // topic -> message indexes seen
	for _, te := range topicEvents {
		for _, r := range snap.recs[te.topic] {
			src, _ := header(r, "ce_source")
			x, err := dec.decode(te.topic, r.Value)
			if string(src) == "/shop/legacy-importer" {
				continue // poison, checked below
			}
			if err != nil {
				t.Fatalf("%s[%d]@%d does not decode: %v", r.Topic, r.Partition, r.Offset, err)
			}
			if indexes[te.topic] == nil {
				indexes[te.topic] = map[string]bool{}
			}
			indexes[te.topic][fmt.Sprint(x.index)] = true
			m := x.m
			id, _ := header(r, "ce_id")
			typ, _ := header(r, "ce_type")
			ct, _ := header(r, "content-type")
			if str(m, "event_id") != string(id) || str(m, "type") != string(typ) || str(m, "correlation_id") != string(r.Key) {
				t.Fatalf("%s[%d]@%d decodes to %v; headers say id %s type %s, key %s", r.Topic, r.Partition, r.Offset, m, id, typ, r.Key)
			}
			if want := d.kafka.codec.contentType(); string(ct) != want || want == "application/json" && f != FormatJSONSchema {
				t.Fatalf("content-type %q, want %q", ct, want)
			}
			if !contains(te.types, string(typ)) {
				t.Fatalf("%s in %s", typ, te.topic)
			}
			p, _ := m["payload"].(map[string]any)
			if str(p, "order_id") != string(r.Key) {
				t.Fatalf("payload %v of order %s", p, r.Key)
			}
			if typ := string(typ); typ != EmailSent {
				c, _ := p["customer"].(map[string]any)
				if str(c, "email") == "" {
					t.Fatalf("%s without the customer's email: %v", typ, p)
				}
			}
			events[string(id)] = ev{te.topic, x}
		}
	}
	if f == FormatProtobuf {
		// The first message by the one-byte shortcut; the nested event
		// messages by their paths.
		want := map[string]string{TopicOrders: "[0]", TopicPayments: "[0 0] [0 1]", TopicInventory: "[0 0] [0 1]", TopicShipping: "[0]", TopicNotifications: "[0]"}
		for topic, w := range want {
			var got []string
			for k := range indexes[topic] {
				got = append(got, k)
			}
			slices.Sort(got)
			if strings.Join(got, " ") != w {
				t.Fatalf("%s: message indexes %v, want %s", topic, got, w)
			}
		}
		for _, r := range snap.recs[TopicOrders][:1] {
			if r.Value[5] != 0 {
				t.Fatalf("orders: the index of the first message is not the [0] shortcut: % x", r.Value[:8])
			}
		}
	}
	if f == FormatAvro {
		// The decimal is exact: the order's amount is the sum of its lines.
		for _, e := range events {
			if str(e.d.m, "type") != OrderPlaced {
				continue
			}
			var r *kgo.Record
			for _, o := range snap.recs[TopicOrders] {
				if id, _ := header(o, "ce_id"); string(id) == str(e.d.m, "event_id") {
					r = o
				}
			}
			var x map[string]any
			if _, err := dec.avro[e.d.id].Decode(r.Value[5:], &x); err != nil {
				t.Fatal(err)
			}
			p := x["payload"].(map[string]any)
			sum := new(big.Rat)
			for _, it := range p["items"].([]any) {
				im := it.(map[string]any)
				sum.Add(sum, new(big.Rat).Mul(im["price"].(*big.Rat), big.NewRat(int64(im["qty"].(int32)), 1)))
			}
			if _, ok := x["occurred_at"].(time.Time); !ok || p["amount"].(*big.Rat).Cmp(sum) != 0 {
				t.Fatalf("OrderPlaced %v: amount is not the sum %s of its lines, or occurred_at is no timestamp", x, sum.FloatString(2))
			}
			break
		}
	}

	// The services moved the flows: every event's causation is an event
	// of the same order, back to an OrderPlaced.
	shipped := 0
	for id, e := range events {
		for hops := 0; ; hops++ {
			cause := str(e.d.m, "causation_id")
			if cause == "" {
				if str(e.d.m, "type") != OrderPlaced || e.topic != TopicOrders {
					t.Fatalf("event %s leads back to %v, not an OrderPlaced", id, e.d.m)
				}
				break
			}
			c, ok := events[cause]
			if !ok {
				t.Fatalf("causation %s of %v is no event", cause, e.d.m)
			}
			if str(c.d.m, "correlation_id") != str(e.d.m, "correlation_id") || hops > 5 {
				t.Fatalf("%v caused by %v", e.d.m, c.d.m)
			}
			e = c
		}
		if str(events[id].d.m, "type") == OrderShipped {
			shipped++
		}
	}
	if shipped < 30 {
		t.Fatalf("only %d orders shipped", shipped)
	}

	// Poison: what the legacy importer wrote does not decode, and the
	// services dead-lettered it as a deserialization failure.
	deser := 0
	for _, r := range snap.recs[TopicPaymentsDLT] {
		fqcn, _ := header(r, SpringExceptionFQCN)
		if string(fqcn) != "org.springframework.kafka.support.serializer.DeserializationException" {
			continue
		}
		deser++
		if _, err := dec.decode(TopicOrders, r.Value); err == nil {
			t.Fatalf("a dead-lettered deserialization failure decodes: % x", r.Value)
		}
		if r.Value[0] != 0 {
			t.Fatalf("a framed format's truncated poison lost its header: % x", r.Value[:5])
		}
		msg, _ := header(r, SpringExceptionMessage)
		if !strings.Contains(string(msg), "Error deserializing") {
			t.Fatalf("deserialization failure says %q", msg)
		}
	}
	connect := 0
	for _, r := range snap.recs[TopicInventoryDLQ] {
		if _, err := dec.decode(TopicPayments, r.Value); err != nil {
			st, _ := header(r, ConnectExceptionTrace)
			conv, _ := header(r, ConnectClassName)
			if !strings.Contains(string(st), "schema for id 42") || string(conv) != d.kafka.codec.(*framedCodec).converter {
				t.Fatalf("the unregistered Avro poison was dead-lettered by %s with\n%s", conv, st)
			}
			connect++
		}
	}
	if deser == 0 || connect == 0 {
		t.Fatalf("%d deserialization failures in %s, %d in %s", deser, TopicPaymentsDLT, connect, TopicInventoryDLQ)
	}
	t.Logf("%s: %d events decoded through the registry, %d shipped; %s", f, len(events), shipped, d.Stats())

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if _, err := http.Get(d.RegistryURL() + "/subjects"); err == nil {
		t.Fatal("the registry still answers after Close")
	}
	waitGoroutines(t, base)
}

// TestPlainBanner: without a format the banner says the values are plain
// JSON and how to get a registry; there is none.
func TestPlainBanner(t *testing.T) {
	cfg := fastConfig()
	cfg.Rate = 1
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var b strings.Builder
	d.WriteBanner(&b, Banner{Rate: 1, Context: "demo"})
	if d.RegistryURL() != "" || d.Subjects() != nil || d.Format() != FormatPlain ||
		!strings.Contains(b.String(), "values are plain JSON (--format avro, protobuf or json adds a Schema Registry)") ||
		strings.Contains(b.String(), "eddy schema") {
		t.Fatalf("plain demo: registry %q, subjects %v, format %q, banner:\n%s", d.RegistryURL(), d.Subjects(), d.Format(), b.String())
	}
}

func TestFormatConfig(t *testing.T) {
	for _, c := range []Config{
		{Format: "nope"},
		{Format: FormatAvro, AMQPURL: "amqp://guest:guest@127.0.0.1:5672/"},
		{Format: FormatProtobuf, RegistryPort: 70000},
	} {
		if _, err := Start(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("Start(%+v) = %v, want ErrConfig", c, err)
		}
	}
	for _, s := range []string{"", "plain", "avro", "protobuf", "json"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseFormat("JSON"); err == nil {
		t.Error("ParseFormat(JSON) is not an error")
	}
}
