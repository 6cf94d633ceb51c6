package schema

// Avro: github.com/twmb/avro decodes the binary body (the library is the
// codec: nothing here reads Avro's wire format), and a renderer compiled
// once per schema writes the decoded value as JSON in the schema's field
// order, unions as plain values and logical types in their natural form.
//
// Why twmb/avro and not hamba/avro/v2, by measurement (BenchmarkAvroToJSON
// in avro_bench_test.go: a 10-field record with strings, longs, a nullable
// union, a timestamp-millis and a decimal, decoded to JSON bytes; go test
// -run X -bench Avro -count 5 ./schema on a 2-core machine shared with
// other builds, load average 11):
//
//	twmb  (into a struct built for the schema, this renderer)  2.4-4.3 µs/op,   16 B/op,  1 alloc/op
//	twmb  (into map[string]any, this renderer)                  3.4-6.1 µs/op, 1243 B/op, 17 allocs/op
//	hamba (into any, then encoding/json)                       11.3-20 µs/op,  2293 B/op, 62 allocs/op
//
// hamba's figure is a lower bound (encoding/json puts map keys in sorted
// order and decimals as big.Rat fractions; a renderer would only add to
// it). twmb also parses references across subjects (SchemaCache), hands
// logical types over raw, so they are formatted exactly, decodes into a
// reflect.StructOf type without boxing fields (avro_typed.go), and is what
// rpk uses.
//
// Output (the same choices as rpk, which uses twmb/avro, and kcat, which
// uses avro-c, where they print JSON):
//   - unions as the plain value, never {"type": value};
//   - decimal as a JSON string of the exact decimal ("123.45");
//   - uuid as its string; date "2006-01-02"; time-millis "15:04:05.000",
//     time-micros "15:04:05.000000"; timestamp-millis/micros/nanos RFC 3339
//     in UTC with that many fractional digits; local-timestamp-* the same
//     without a zone;
//   - bytes and fixed as Avro's JSON encoding does (and kcat, rpk): a string
//     with one code point per byte, bytes outside printable ASCII \u00XX;
//   - enums as their symbol, maps as objects (keys sorted), NaN and
//     ±Infinity as the strings "NaN", "Infinity", "-Infinity".

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/event"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
)

// avroLogicals are the logical types handed over raw (their Avro-native
// value: int32, int64, []byte, string), so the renderer formats them exactly
// instead of going through time.Time or big.Rat.
var avroLogicals = []string{
	"decimal", "big-decimal", "uuid", "date", "time-millis", "time-micros",
	"timestamp-millis", "timestamp-micros", "timestamp-nanos",
	"local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos",
	"duration",
}

var avroRawOpts = func() []avro.SchemaOpt {
	opts := make([]avro.SchemaOpt, 0, len(avroLogicals))
	for _, l := range avroLogicals {
		opts = append(opts, avro.WithCustomType(avro.CustomType{LogicalType: l}))
	}
	return opts
}()

// Decoded strings alias the body (no copy): the renderer copies them into
// the JSON before Decode returns. With a union whose branches the decoded Go
// value cannot tell apart (two records, a string and an enum, an int and a
// date), unions are also tagged with their branch ({"branch": value}, one
// more allocation each), so the renderer knows which branch's schema and
// logical type a value has; it prints the value alone either way.
var (
	avroDecodeOpts       = []avro.Opt{avro.AliasInput()}
	avroDecodeTaggedOpts = []avro.Opt{avro.AliasInput(), avro.TaggedUnions()}
)

// avroCodec is one compiled Avro schema.
type avroCodec struct {
	schema *avro.Schema
	root   *anode
	opts   []avro.Opt
	// vals holds *any whose record map the next decode reuses (the same
	// schema writes the same keys), saving the map per record.
	vals sync.Pool
	// typed, when the root's Go type could be built, holds pointers to it:
	// the typed path (avro_typed.go).
	typed *sync.Pool
}

func (c *avroCodec) appendJSON(dst, body []byte) ([]byte, string, error) {
	if c.typed != nil {
		return c.appendJSONTyped(dst, body)
	}
	vp, _ := c.vals.Get().(*any)
	if vp == nil {
		vp = new(any)
	}
	defer func() {
		// Keep the map's buckets, drop its values: they alias body.
		if m, ok := (*vp).(map[string]any); ok {
			clear(m)
		} else {
			*vp = nil
		}
		c.vals.Put(vp)
	}()
	rest, err := c.schema.Decode(body, vp, c.opts...)
	v := *vp
	if err != nil {
		return dst, c.root.name, err
	}
	if len(rest) != 0 {
		return dst, c.root.name, fmt.Errorf("%d bytes after the value", len(rest))
	}
	out, err := c.root.append(dst, v)
	if err != nil {
		return dst, c.root.name, err
	}
	return out, c.root.name, nil
}

// compileAvro parses a registered Avro schema after its references, each
// fetched by its pinned subject and version (and theirs, depth first), so
// named types defined in another subject resolve.
func compileAvro(ctx context.Context, text string, refs []refSchema, fetch fetchFunc) (codec, error) {
	var cache avro.SchemaCache
	err := walkRefs(ctx, refs, fetch, func(r refSchema, ss sr.SubjectSchema) error {
		if _, err := cache.Parse(ss.Schema.Schema, avroRawOpts...); err != nil {
			return fmt.Errorf("reference %s version %d: %v", r.Subject, r.Version, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s, err := cache.Parse(text, avroRawOpts...)
	if err != nil {
		return nil, err
	}
	return newAvroCodec(s)
}

func newAvroCodec(s *avro.Schema) (*avroCodec, error) {
	b := &anodeBuilder{named: map[string]*anode{}}
	root, err := b.build(s.Root(), "")
	if err != nil {
		return nil, err
	}
	c := &avroCodec{schema: s, root: root, opts: avroDecodeOpts}
	if b.ambiguous {
		c.opts = avroDecodeTaggedOpts
		for _, u := range b.unions {
			u.tagged = true
		}
	}
	// typeOf makes types, kept for the life of the process: only when
	// they are used.
	if typedAvro {
		if t, ok := b.typeOf(root, map[*anode]bool{}); ok {
			c.typed = &sync.Pool{New: func() any { return reflect.New(t).Interface() }}
		}
	}
	return c, nil
}

// typedAvro turns the typed path on; tests turn it off to check the other.
var typedAvro = true

func (c *avroCodec) appendJSONTyped(dst, body []byte) ([]byte, string, error) {
	x := c.typed.Get() // a pointer to the root's struct
	p := reflect.ValueOf(x)
	defer func() {
		// Drop what the value holds (strings alias body) before reuse.
		p.Elem().SetZero()
		c.typed.Put(x)
	}()
	rest, err := c.schema.Decode(body, x, c.opts...)
	if err != nil {
		return dst, c.root.name, err
	}
	if len(rest) != 0 {
		return dst, c.root.name, fmt.Errorf("%d bytes after the value", len(rest))
	}
	out, err := c.root.appendValue(dst, p.Elem())
	if err != nil {
		return dst, c.root.name, err
	}
	return out, c.root.name, nil
}

// The kinds of anode.
const (
	akNull = iota
	akBoolean
	akInt
	akLong
	akFloat
	akDouble
	akBytes
	akString
	akRecord
	akEnum
	akArray
	akMap
	akFixed
	akUnion
)

// The logical types the renderer formats.
const (
	alNone = iota
	alDecimal
	alUUID
	alDate
	alTimeMillis
	alTimeMicros
	alTsMillis
	alTsMicros
	alTsNanos
	alLocalMillis
	alLocalMicros
	alLocalNanos
)

var avroLogicalCodes = map[string]int{
	"decimal": alDecimal, "uuid": alUUID, "date": alDate,
	"time-millis": alTimeMillis, "time-micros": alTimeMicros,
	"timestamp-millis": alTsMillis, "timestamp-micros": alTsMicros, "timestamp-nanos": alTsNanos,
	"local-timestamp-millis": alLocalMillis, "local-timestamp-micros": alLocalMicros,
	"local-timestamp-nanos": alLocalNanos,
}

// anode is a schema node compiled for rendering.
type anode struct {
	kind    int
	logical int
	scale   int
	name    string // a named type's full name
	fields  []afield
	items   *anode // array items, map values
	// branches by the tag TaggedUnions gives them (a primitive's type
	// name, a named type's full name); null is the untagged nil.
	branches []abranch
	// tagged: the codec decodes with TaggedUnions; else a union's value is
	// bare and its branch is the one of its Go type.
	tagged bool
	// typ is the Go type of the typed path (avro_typed.go); ptr, for a
	// union of null and one other branch, is that branch (typ is a
	// pointer to its type).
	typ reflect.Type
	ptr *anode
}

type afield struct {
	key  []byte // `"name":`, escaped once
	name string
	node *anode
}

type abranch struct {
	tag  string
	node *anode
}

type anodeBuilder struct {
	named     map[string]*anode
	unions    []*anode
	ambiguous bool // some union's branches decode to the same Go type
}

// goClass is the Go type twmb/avro decodes a node's values to, raw logical
// types included: what tells an untagged union's branches apart.
func goClass(a *anode) int {
	switch a.kind {
	case akString, akEnum:
		return akString
	case akBytes, akFixed:
		return akBytes
	case akRecord, akMap:
		return akRecord
	}
	return a.kind
}

// branchOf is the branch of an untagged union that v, a decoded value,
// belongs to; nil when none.
func (a *anode) branchOf(v any) *anode {
	var class int
	switch v.(type) {
	case bool:
		class = akBoolean
	case int32:
		class = akInt
	case int64:
		class = akLong
	case float32:
		class = akFloat
	case float64:
		class = akDouble
	case string:
		class = akString
	case []byte:
		class = akBytes
	case map[string]any:
		class = akRecord
	case []any:
		class = akArray
	default:
		return nil
	}
	for i := range a.branches {
		if goClass(a.branches[i].node) == class {
			return a.branches[i].node
		}
	}
	return nil
}

var avroPrimitives = map[string]int{
	"null": akNull, "boolean": akBoolean, "int": akInt, "long": akLong,
	"float": akFloat, "double": akDouble, "bytes": akBytes, "string": akString,
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func (b *anodeBuilder) build(n *avro.SchemaNode, ns string) (*anode, error) {
	if n == nil {
		return nil, errors.New("empty schema")
	}
	if len(n.Branches) > 0 || n.Type == "union" {
		u := &anode{kind: akUnion}
		for i := range n.Branches {
			bn, err := b.build(&n.Branches[i], ns)
			if err != nil {
				return nil, err
			}
			tag := bn.name
			if tag == "" {
				tag = n.Branches[i].Type
			}
			for _, o := range u.branches {
				if o.node.kind != akNull && goClass(o.node) == goClass(bn) {
					b.ambiguous = true
				}
			}
			u.branches = append(u.branches, abranch{tag: tag, node: bn})
		}
		b.unions = append(b.unions, u)
		return u, nil
	}
	if k, ok := avroPrimitives[n.Type]; ok {
		a := &anode{kind: k, logical: avroLogicalCodes[n.LogicalType]}
		if a.logical == alDecimal {
			a.scale = n.Scale
		}
		return a, nil
	}
	switch n.Type {
	case "record", "error", "enum", "fixed":
		name := fullName(n.Name, n.Namespace)
		a := &anode{name: name}
		b.named[name] = a // before the fields: a record may refer to itself
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			ns = name[:i]
		}
		switch n.Type {
		case "enum":
			a.kind = akEnum
		case "fixed":
			a.kind = akFixed
			a.logical = avroLogicalCodes[n.LogicalType]
			if a.logical == alDecimal {
				a.scale = n.Scale
			}
		default:
			a.kind = akRecord
			for i := range n.Fields {
				f := &n.Fields[i]
				fn, err := b.build(&f.Type, ns)
				if err != nil {
					return nil, err
				}
				key := appendJSONString(nil, f.Name)
				key = append(key, ':')
				a.fields = append(a.fields, afield{key: key, name: f.Name, node: fn})
			}
		}
		return a, nil
	case "array":
		items, err := b.build(n.Items, ns)
		if err != nil {
			return nil, err
		}
		return &anode{kind: akArray, items: items}, nil
	case "map":
		vals, err := b.build(n.Values, ns)
		if err != nil {
			return nil, err
		}
		return &anode{kind: akMap, items: vals}, nil
	}
	// A reference to a named type defined earlier (here or in a
	// referenced schema).
	if a := b.named[fullName(n.Type, ns)]; a != nil {
		return a, nil
	}
	if a := b.named[n.Type]; a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("unknown type %q", n.Type)
}

var errAvroShape = errors.New("decoded value does not match its schema")

// append renders v (as twmb/avro decoded it into an any) by the schema.
func (a *anode) append(dst []byte, v any) ([]byte, error) {
	switch a.kind {
	case akNull:
		return append(dst, "null"...), nil
	case akBoolean:
		if b, ok := v.(bool); ok {
			return strconv.AppendBool(dst, b), nil
		}
	case akInt:
		if n, ok := v.(int32); ok {
			return a.appendInt(dst, n), nil
		}
	case akLong:
		if n, ok := v.(int64); ok {
			return a.appendLong(dst, n), nil
		}
	case akFloat:
		if f, ok := v.(float32); ok {
			return appendJSONFloat(dst, float64(f), 32), nil
		}
	case akDouble:
		if f, ok := v.(float64); ok {
			return appendJSONFloat(dst, f, 64), nil
		}
	case akString, akEnum:
		if s, ok := v.(string); ok {
			return appendJSONString(dst, s), nil
		}
	case akBytes, akFixed:
		switch x := v.(type) {
		case []byte:
			return a.appendBytes(dst, x), nil
		case string:
			return a.appendBytes(dst, []byte(x)), nil
		}
	case akRecord:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		dst = append(dst, '{')
		for i := range a.fields {
			f := &a.fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, f.key...)
			var err error
			if dst, err = f.node.append(dst, m[f.name]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case akArray:
		s, ok := v.([]any)
		if !ok {
			break
		}
		dst = append(dst, '[')
		for i, x := range s {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = a.items.append(dst, x); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case akMap:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = a.items.append(dst, m[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case akUnion:
		if v == nil {
			return append(dst, "null"...), nil
		}
		if !a.tagged {
			if bn := a.branchOf(v); bn != nil {
				return bn.append(dst, v)
			}
			break
		}
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for tag, x := range m {
				for i := range a.branches {
					if a.branches[i].tag == tag {
						return a.branches[i].node.append(dst, x)
					}
				}
			}
		}
	}
	if v == nil {
		return append(dst, "null"...), nil
	}
	return dst, errAvroShape
}

func (a *anode) appendInt(dst []byte, n int32) []byte {
	switch a.logical {
	case alDate:
		return appendTime(dst, time.Unix(int64(n)*86400, 0), tfDate, 0)
	case alTimeMillis:
		return appendTime(dst, time.UnixMilli(int64(n)), tfClock, 3)
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

func (a *anode) appendLong(dst []byte, n int64) []byte {
	switch a.logical {
	case alTimeMicros:
		return appendTime(dst, time.UnixMicro(n), tfClock, 6)
	case alTsMillis:
		return appendTime(dst, time.UnixMilli(n), tfDate|tfClock|tfZone, 3)
	case alTsMicros:
		return appendTime(dst, time.UnixMicro(n), tfDate|tfClock|tfZone, 6)
	case alTsNanos:
		return appendTime(dst, time.Unix(0, n), tfDate|tfClock|tfZone, 9)
	case alLocalMillis:
		return appendTime(dst, time.UnixMilli(n), tfDate|tfClock, 3)
	case alLocalMicros:
		return appendTime(dst, time.UnixMicro(n), tfDate|tfClock, 6)
	case alLocalNanos:
		return appendTime(dst, time.Unix(0, n), tfDate|tfClock, 9)
	}
	return strconv.AppendInt(dst, n, 10)
}

// What appendTime writes.
const (
	tfDate  = 1 << iota // 2006-01-02
	tfClock             // 15:04:05 and frac digits
	tfZone              // Z
)

// appendTime writes t, in UTC, as a quoted RFC 3339 date, time of day or
// both with frac fractional digits: what time.AppendFormat would with the
// matching layout, without parsing a layout per value (a third of an Avro
// record's rendering time went there). Years outside 0000-9999 take the
// standard library's path.
func appendTime(dst []byte, t time.Time, what, frac int) []byte {
	t = t.UTC()
	// The date and the time of day from the Unix seconds by integer
	// arithmetic: t.Date and t.Clock were two thirds of this function.
	sec := t.Unix()
	days, sod := sec/86400, sec%86400
	if sod < 0 {
		days, sod = days-1, sod+86400
	}
	dst = append(dst, '"')
	if what&tfDate != 0 {
		y, m, d := civil(days)
		if y < 0 || y > 9999 {
			layout := "2006-01-02"
			if what&tfClock != 0 {
				layout += "T15:04:05" + ".000000000"[:frac+1]
			}
			if what&tfZone != 0 {
				layout += "Z07:00"
			}
			dst = t.AppendFormat(dst, layout)
			return append(dst, '"')
		}
		dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
			byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
		if what&tfClock != 0 {
			dst = append(dst, 'T')
		}
	}
	if what&tfClock != 0 {
		h, mi, s := sod/3600, sod/60%60, sod%60
		dst = append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
			byte('0'+s/10), byte('0'+s%10))
		if frac > 0 {
			dst = append(dst, '.')
			ns := t.Nanosecond()
			for range 9 - frac {
				ns /= 10
			}
			dst = appendDigits(dst, ns, frac)
		}
	}
	if what&tfZone != 0 {
		dst = append(dst, 'Z')
	}
	return append(dst, '"')
}

// civil is the proleptic Gregorian date of the day days after 1970-01-01
// (Howard Hinnant's civil_from_days), as time.Time.Date gives it in UTC.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendDigits writes n (>= 0) zero-padded to width digits.
func appendDigits(dst []byte, n, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for n >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	buf[i] = byte('0' + n)
	return append(dst, buf[i:]...)
}

func (a *anode) appendBytes(dst, b []byte) []byte {
	switch a.logical {
	case alDecimal:
		return appendDecimal(dst, b, a.scale)
	case alUUID:
		if len(b) == 16 {
			return appendUUID(dst, b)
		}
	}
	return appendAvroBytes(dst, b)
}

func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendDecimal writes the two's-complement big-endian unscaled integer b
// with scale digits after the point, as a JSON string: exact, never a float.
func appendDecimal(dst, b []byte, scale int) []byte {
	var digits []byte
	var neg bool
	if len(b) <= 8 && len(b) > 0 {
		var u uint64
		for _, c := range b {
			u = u<<8 | uint64(c)
		}
		shift := 64 - 8*uint(len(b))
		n := int64(u<<shift) >> shift // sign-extended
		if n < 0 {
			neg = true
			digits = strconv.AppendUint(make([]byte, 0, 24), uint64(-n), 10)
			if n == math.MinInt64 {
				digits = []byte("9223372036854775808")
			}
		} else {
			digits = strconv.AppendInt(make([]byte, 0, 24), n, 10)
		}
	} else {
		x := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		neg = x.Sign() < 0
		digits = x.Abs(x).Append(nil, 10)
	}
	dst = append(dst, '"')
	if neg {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		dst = append(dst, digits...)
		for range -scale {
			dst = append(dst, '0')
		}
		return append(dst, '"')
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for range scale - len(digits) {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
		return append(dst, '"')
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	dst = append(dst, digits[len(digits)-scale:]...)
	return append(dst, '"')
}

func appendUUID(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return append(dst, '"')
}

// appendAvroBytes writes bytes as Avro's JSON encoding does: a string with
// one code point per byte (printable ASCII as itself, the rest \u00XX).
func appendAvroBytes(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20 && c < 0x7f:
			dst = append(dst, c)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return append(dst, '"')
}

// appendJSONString writes s as a JSON string the way the envelope writes
// every string (event.AppendJSONString: control characters, C1, separators
// and bidirectional controls escaped, invalid UTF-8 U+FFFD), so untrusted
// text is never raw and the codec's JSON is event.Decoded.Safe: the envelope
// copies it unchanged. One function for both, so the two cannot drift.
func appendJSONString(dst []byte, s string) []byte { return event.AppendJSONString(dst, s) }
