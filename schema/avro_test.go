package schema

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/event"
)

const allTypesSchema = `{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "qty", "type": "int"},
    {"name": "total", "type": "long"},
    {"name": "ok", "type": "boolean"},
    {"name": "ratio", "type": "double"},
    {"name": "f", "type": "float"},
    {"name": "note", "type": ["null", "string"]},
    {"name": "choice", "type": ["null", "string", {"type": "long", "logicalType": "timestamp-millis"}]},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "neg", "type": {"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 3}},
    {"name": "small", "type": {"type": "fixed", "name": "Dec", "size": 4, "logicalType": "decimal", "precision": 8, "scale": 4}},
    {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "tsm", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "tsn", "type": {"type": "long", "logicalType": "timestamp-nanos"}},
    {"name": "ltm", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
    {"name": "ltu", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "ltn", "type": {"type": "long", "logicalType": "local-timestamp-nanos"}},
    {"name": "raw", "type": "bytes"},
    {"name": "fx", "type": {"type": "fixed", "name": "Two", "size": 2}},
    {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "int"}},
    {"name": "line", "type": {"type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}},
    {"name": "again", "type": ["null", "Line"]}
  ]
}`

func TestAvroEveryTypeToJSON(t *testing.T) { bothAvroPaths(t, testAvroEveryTypeToJSON) }

func testAvroEveryTypeToJSON(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	v := map[string]any{
		"id": "o-1\n\"x\"", "qty": int32(3), "total": int64(1) << 60, "ok": true,
		"ratio": 0.5, "f": float32(1.25), "note": "hi",
		"choice": map[string]any{"long.timestamp-millis": ts},
		"price":  big.NewRat(12345, 100),
		"neg":    big.NewRat(-123456789012345678, 1000),
		"small":  big.NewRat(-5, 10000),
		"uid":    "0f8fad5b-d9cb-469f-a165-70867728950e",
		"day":    time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC),
		"tm":     time.Duration(13*time.Hour + 14*time.Minute + 15*time.Second + 16*time.Millisecond),
		"tu":     time.Duration(13*time.Hour + 14*time.Minute + 15*time.Second + 16017*time.Microsecond),
		"tsm":    ts, "tsu": ts, "tsn": ts, "ltm": ts, "ltu": ts, "ltn": ts,
		"raw":   []byte{0, 'a', 0xff, '"'},
		"fx":    [2]byte{1, 'b'},
		"color": "GREEN",
		"tags":  []any{"a", "b"},
		"attrs": map[string]any{"z": int32(1), "a": int32(2)},
		"line":  map[string]any{"sku": "s1"},
		"again": map[string]any{"sku": "s2"},
	}
	w, err := avro.Parse(allTypesSchema)
	if err != nil {
		t.Fatal(err)
	}
	body, err := w.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t)
	id := r.register(t, "orders-value", sr.Schema{Schema: allTypesSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	dec := decodeValue(t, d, "orders", frame(id, body))
	if dec == nil || dec.Fail != "" {
		t.Fatalf("decoded %+v", dec)
	}
	want := `{"id":"o-1\n\"x\"","qty":3,"total":1152921504606846976,"ok":true,"ratio":0.5,"f":1.25,"note":"hi",` +
		`"choice":"2026-03-04T05:06:07.123Z","price":"123.45","neg":"-123456789012345.678","small":"-0.0005",` +
		`"uid":"0f8fad5b-d9cb-469f-a165-70867728950e","day":"2026-03-04","tm":"13:14:15.016","tu":"13:14:15.016017",` +
		`"tsm":"2026-03-04T05:06:07.123Z","tsu":"2026-03-04T05:06:07.123456Z","tsn":"2026-03-04T05:06:07.123456789Z",` +
		`"ltm":"2026-03-04T05:06:07.123","ltu":"2026-03-04T05:06:07.123456","ltn":"2026-03-04T05:06:07.123456789",` +
		`"raw":"\u0000a\u00ff\"","fx":"\u0001b","color":"GREEN","tags":["a","b"],"attrs":{"a":2,"z":1},` +
		`"line":{"sku":"s1"},"again":{"sku":"s2"}}`
	if string(dec.JSON) != want {
		t.Errorf("JSON\n got %s\nwant %s", dec.JSON, want)
	}
	wantRef := event.SchemaRef{Format: "avro", ID: id, Subject: "orders-value", Version: 1, Message: "shop.Order"}
	if dec.Schema != wantRef {
		t.Errorf("schema %+v, want %+v", dec.Schema, wantRef)
	}
}

func TestAvroUnionNullAndPlainBranch(t *testing.T) { bothAvroPaths(t, testAvroUnionNullAndPlainBranch) }

func testAvroUnionNullAndPlainBranch(t *testing.T) {
	const s = `{"type":"record","name":"R","fields":[{"name":"a","type":["null","string","int"]},{"name":"b","type":["null","string"]}]}`
	w := avro.MustParse(s)
	body, err := w.Encode(map[string]any{"a": map[string]any{"int": int32(7)}, "b": nil})
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t)
	id := r.register(t, "t-value", sr.Schema{Schema: s})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	if got := decodeValue(t, d, "t", frame(id, body)); string(got.JSON) != `{"a":7,"b":null}` {
		t.Errorf("got %s (%s)", got.JSON, got.Fail)
	}
}

// A named type defined in another subject, referenced at version 1 while
// that subject has a newer version 2 whose Address differs: the pinned
// version decodes the record.
func TestAvroReferencePinnedVersion(t *testing.T) { bothAvroPaths(t, testAvroReferencePinnedVersion) }

func testAvroReferencePinnedVersion(t *testing.T) {
	r := newRegistry(t)
	r.SetCompat("address", sr.CompatNone)
	const addrV1 = `{"type":"record","name":"Address","namespace":"shop","fields":[{"name":"city","type":"string"}]}`
	const addrV2 = `{"type":"record","name":"Address","namespace":"shop","fields":[{"name":"zip","type":"int"},{"name":"city","type":"string"}]}`
	r.register(t, "address", sr.Schema{Schema: addrV1})
	r.register(t, "address", sr.Schema{Schema: addrV2})
	const cust = `{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"name","type":"string"},{"name":"home","type":"shop.Address"}]}`
	id := r.register(t, "customers-value", sr.Schema{Schema: cust,
		References: []sr.SchemaReference{{Name: "shop.Address", Subject: "address", Version: 1}}})

	var cache avro.SchemaCache
	cache.Parse(addrV1)
	w, err := cache.Parse(cust)
	if err != nil {
		t.Fatal(err)
	}
	body, err := w.Encode(map[string]any{"name": "Ann", "home": map[string]any{"city": "Oslo"}})
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	got := decodeValue(t, d, "customers", frame(id, body))
	if got.Fail != "" || string(got.JSON) != `{"name":"Ann","home":{"city":"Oslo"}}` {
		t.Errorf("got %s (%s)", got.JSON, got.Fail)
	}

	// A second version of customers with the same reference: the
	// reference is not fetched again.
	const cust2 = `{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"name","type":"string"},{"name":"home","type":"shop.Address"},{"name":"vip","type":"boolean","default":false}]}`
	id2 := r.register(t, "customers-value", sr.Schema{Schema: cust2,
		References: []sr.SchemaReference{{Name: "shop.Address", Subject: "address", Version: 1}}})
	before := r.requests.Load()
	got = decodeValue(t, d, "customers", frame(id2, append(body, 1)))
	if got.Fail != "" || string(got.JSON) != `{"name":"Ann","home":{"city":"Oslo"},"vip":true}` {
		t.Errorf("v2: got %s (%s)", got.JSON, got.Fail)
	}
	if n := r.requests.Load() - before; n != 2 { // schema by id, versions by id
		t.Errorf("%d requests for a second id with a known reference", n)
	}
}

// Records written with an older version decode with their own (writer)
// schema, by their id.
func TestAvroEvolutionEachVersionItsOwnSchema(t *testing.T) {
	bothAvroPaths(t, testAvroEvolutionEachVersionItsOwnSchema)
}

func testAvroEvolutionEachVersionItsOwnSchema(t *testing.T) {
	r := newRegistry(t)
	const v1 = `{"type":"record","name":"U","fields":[{"name":"name","type":"string"}]}`
	const v2 = `{"type":"record","name":"U","fields":[{"name":"name","type":"string"},{"name":"email","type":"string","default":""}]}`
	id1 := r.register(t, "users-value", sr.Schema{Schema: v1})
	id2 := r.register(t, "users-value", sr.Schema{Schema: v2})
	b1, _ := avro.MustParse(v1).Encode(map[string]any{"name": "old"})
	b2, _ := avro.MustParse(v2).Encode(map[string]any{"name": "new", "email": "n@x"})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	g1 := decodeValue(t, d, "users", frame(id1, b1))
	g2 := decodeValue(t, d, "users", frame(id2, b2))
	if string(g1.JSON) != `{"name":"old"}` || g1.Schema.Version != 1 {
		t.Errorf("v1: %s %+v", g1.JSON, g1.Schema)
	}
	if string(g2.JSON) != `{"name":"new","email":"n@x"}` || g2.Schema.Version != 2 {
		t.Errorf("v2: %s %+v", g2.JSON, g2.Schema)
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, c := range []struct {
		n     string
		scale int
		want  string
	}{
		{"0", 2, `"0.00"`}, {"5", 3, `"0.005"`}, {"-5", 3, `"-0.005"`}, {"12345", 2, `"123.45"`},
		{"-9223372036854775808", 0, `"-9223372036854775808"`},
		{"123456789012345678901234567890", 5, `"1234567890123456789012345.67890"`},
		{"-123456789012345678901234567890", 5, `"-1234567890123456789012345.67890"`},
		{"7", -2, `"700"`},
	} {
		x, _ := new(big.Int).SetString(c.n, 10)
		if got := string(appendDecimal(nil, twosComplement(x), c.scale)); got != c.want {
			t.Errorf("%s scale %d: %s, want %s", c.n, c.scale, got, c.want)
		}
	}
}

// twosComplement is x as Avro's decimal writes it: big-endian two's
// complement, shortest.
func twosComplement(x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	n := (x.BitLen() + 8) / 8
	m := new(big.Int).Add(x, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	b := m.Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// A union whose branches decode to the same Go type (two records, a string
// and an enum) is told apart by its branch tag.
func TestAvroAmbiguousUnion(t *testing.T) { bothAvroPaths(t, testAvroAmbiguousUnion) }

func testAvroAmbiguousUnion(t *testing.T) {
	const s = `{"type":"record","name":"R","namespace":"n","fields":[
	 {"name":"x","type":[{"type":"record","name":"A","fields":[{"name":"a","type":"int"}]},
	                     {"type":"record","name":"B","fields":[{"name":"a","type":{"type":"int","logicalType":"date"}}]}]},
	 {"name":"y","type":["string",{"type":"enum","name":"E","symbols":["P","Q"]}]}]}`
	w := avro.MustParse(s)
	r := newRegistry(t)
	id := r.register(t, "t-value", sr.Schema{Schema: s})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	for _, c := range []struct {
		v    map[string]any
		want string
	}{
		{map[string]any{"x": map[string]any{"n.A": map[string]any{"a": int32(1)}}, "y": map[string]any{"string": "s"}}, `{"x":{"a":1},"y":"s"}`},
		{map[string]any{"x": map[string]any{"n.B": map[string]any{"a": int32(1)}}, "y": map[string]any{"n.E": "Q"}}, `{"x":{"a":"1970-01-02"},"y":"Q"}`},
	} {
		body, err := w.Encode(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeValue(t, d, "t", frame(id, body)); string(got.JSON) != c.want {
			t.Errorf("got %s (%s), want %s", got.JSON, got.Fail, c.want)
		}
	}
}

// bothAvroPaths runs test with the typed path (a struct per schema) and
// with the untyped one (map[string]any), which recursive schemas take.
func bothAvroPaths(t *testing.T, test func(*testing.T)) {
	t.Run("typed", test)
	t.Run("untyped", func(t *testing.T) {
		typedAvro = false
		defer func() { typedAvro = true }()
		test(t)
	})
}

func TestAvroRecursiveSchemaDecodesUntyped(t *testing.T) {
	const s = `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`
	w := avro.MustParse(s)
	body, err := w.Encode(map[string]any{"v": int32(1), "next": map[string]any{"v": int32(2), "next": nil}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newAvroCodec(must(avro.Parse(s, avroRawOpts...)))
	if err != nil {
		t.Fatal(err)
	}
	if c.typed != nil {
		t.Error("a recursive schema took the typed path")
	}
	out, msg, err := c.appendJSON(nil, body)
	if err != nil || msg != "Node" || string(out) != `{"v":1,"next":{"v":2,"next":null}}` {
		t.Errorf("%s %s %v", out, msg, err)
	}
	flat, err := newAvroCodec(must(avro.Parse(userSchema, avroRawOpts...)))
	if err != nil || flat.typed == nil {
		t.Errorf("a flat schema did not take the typed path: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAppendJSONStringEscapesControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       `"plain"`,
		"a\x1b[31mb":  `"a\u001b[31mb"`,
		"\x7f":        `"\u007f"`,
		"\u009b2J":    `"\u009b2J"`,
		"bad\xffutf":  `"bad\ufffdutf"`,
		"é\u2028ü":    `"é\u2028ü"`,
		"q\"b\\n\n\t": `"q\"b\\n\n\t"`,
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// Bodies of random bytes never panic the decoder: each is a record that
// does not decode (or, rarely, does).
func TestAvroRandomBodies(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "orders-value", sr.Schema{Schema: allTypesSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		body := make([]byte, rng.IntN(64))
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		got := decodeValue(t, d, "orders", frame(id, body))
		if got.Fail != "" && got.Fail != event.FailUndecodable {
			t.Fatalf("%x: %+v", body, got)
		}
		if got.Fail == "" && !json.Valid(got.JSON) {
			t.Fatalf("%x: invalid JSON %s", body, got.JSON)
		}
	}
}

// appendTime writes what time.AppendFormat writes with the layouts it
// replaces, across years, before 1970, and at every precision.
func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		ns := rng.Int64N(1<<62) - 1<<61 // ±73 years around 1970, and further:
		if i%5 == 0 {
			ns = rng.Int64()
		}
		tm := time.Unix(0, ns)
		if i%7 == 0 { // years past 9999 and before 0
			tm = time.UnixMilli(rng.Int64N(1<<50) - 1<<49)
		}
		for _, c := range []struct {
			what, frac int
			layout     string
		}{
			{tfDate, 0, "2006-01-02"},
			{tfClock, 3, "15:04:05.000"},
			{tfClock, 6, "15:04:05.000000"},
			{tfDate | tfClock | tfZone, 3, "2006-01-02T15:04:05.000Z07:00"},
			{tfDate | tfClock | tfZone, 6, "2006-01-02T15:04:05.000000Z07:00"},
			{tfDate | tfClock | tfZone, 9, "2006-01-02T15:04:05.000000000Z07:00"},
			{tfDate | tfClock, 9, "2006-01-02T15:04:05.000000000"},
		} {
			want := `"` + tm.UTC().Format(c.layout) + `"`
			if got := string(appendTime(nil, tm, c.what, c.frac)); got != want {
				t.Fatalf("%d %s: %s, want %s", ns, c.layout, got, want)
			}
		}
	}
}
