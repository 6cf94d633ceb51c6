package schema

// The typed path: a schema whose records are not recursive is decoded into
// a Go struct type built for it (reflect.StructOf), not into map[string]any.
// twmb/avro fills a struct without boxing each field in an interface (a
// string in an any costs an allocation), and the renderer reads the fields
// in order; per record that is ~10 allocations fewer, and faster.

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// maxTypedShapes bounds the struct types the typed path makes in a run.
// reflect keeps every type StructOf returns for the life of the process,
// so a topic whose records carry thousands of schema ids (each a record
// shape of its own) would grow memory by about a kilobyte per id however
// small the schema cache; past this many shapes, new schemas decode into
// map[string]any (correct, a little slower).
const maxTypedShapes = 2048

// typedShapes are the struct types made so far, by their fields: a shape
// met again (the same schema under another id, a cache eviction) reuses
// its type and costs nothing against the bound.
var typedShapes struct {
	sync.Mutex
	m map[string]reflect.Type
}

// structOf is reflect.StructOf within maxTypedShapes; ok false past it.
func structOf(fields []reflect.StructField) (t reflect.Type, ok bool) {
	var key strings.Builder
	for _, f := range fields {
		// A field's type by identity: types are never freed, so the
		// address names one for the life of the process.
		key.WriteString(f.Name)
		key.WriteByte(0)
		key.WriteString(string(f.Tag))
		key.WriteByte(0)
		key.WriteString(strconv.FormatUint(uint64(reflect.ValueOf(f.Type).Pointer()), 16))
		key.WriteByte(0)
	}
	typedShapes.Lock()
	defer typedShapes.Unlock()
	if t := typedShapes.m[key.String()]; t != nil {
		return t, true
	}
	if len(typedShapes.m) >= maxTypedShapes {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			t, ok = nil, false
		}
	}()
	t = reflect.StructOf(fields)
	if typedShapes.m == nil {
		typedShapes.m = map[string]reflect.Type{}
	}
	typedShapes.m[key.String()] = t
	return t, true
}

var anyType = reflect.TypeFor[any]()

// typeOf returns the Go type a's values decode into on the typed path; ok
// false when a has no such type (a recursive record), and the codec decodes
// into any instead.
func (b *anodeBuilder) typeOf(a *anode, building map[*anode]bool) (t reflect.Type, ok bool) {
	if a.typ != nil {
		return a.typ, true
	}
	switch a.kind {
	case akNull:
		t = anyType
	case akBoolean:
		t = reflect.TypeFor[bool]()
	case akInt:
		t = reflect.TypeFor[int32]()
	case akLong:
		t = reflect.TypeFor[int64]()
	case akFloat:
		t = reflect.TypeFor[float32]()
	case akDouble:
		t = reflect.TypeFor[float64]()
	case akString, akEnum:
		t = reflect.TypeFor[string]()
	case akBytes, akFixed:
		t = reflect.TypeFor[[]byte]()
	case akArray, akMap:
		it, ok := b.typeOf(a.items, building)
		if !ok {
			return nil, false
		}
		if a.kind == akArray {
			t = reflect.SliceOf(it)
		} else {
			t = reflect.MapOf(reflect.TypeFor[string](), it)
		}
	case akUnion:
		// ["null", T] (either order) is a *T: nil for null. Any other union
		// is an any, rendered by the untyped path.
		t = anyType
		if len(a.branches) == 2 {
			for i, br := range a.branches {
				other := a.branches[1-i].node
				if br.node.kind == akNull && other.kind != akNull && other.kind != akUnion {
					ot, ok := b.typeOf(other, building)
					if !ok {
						return nil, false
					}
					a.ptr = other
					t = reflect.PointerTo(ot)
				}
			}
		}
	case akRecord:
		if building[a] {
			return nil, false // recursive: StructOf cannot name itself
		}
		building[a] = true
		defer delete(building, a)
		fields := make([]reflect.StructField, len(a.fields))
		for i, f := range a.fields {
			ft, ok := b.typeOf(f.node, building)
			if !ok {
				return nil, false
			}
			fields[i] = reflect.StructField{
				Name: fmt.Sprintf("F%d", i),
				Type: ft,
				Tag:  reflect.StructTag(`avro:"` + f.name + `"`),
			}
		}
		if t, ok = structOf(fields); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	a.typ = t
	return t, true
}

// appendValue renders v, a value of a.typ, as JSON.
func (a *anode) appendValue(dst []byte, v reflect.Value) ([]byte, error) {
	switch a.kind {
	case akNull:
		return append(dst, "null"...), nil
	case akBoolean:
		if v.Bool() {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case akInt:
		return a.appendInt(dst, int32(v.Int())), nil
	case akLong:
		return a.appendLong(dst, v.Int()), nil
	case akFloat:
		return appendJSONFloat(dst, v.Float(), 32), nil
	case akDouble:
		return appendJSONFloat(dst, v.Float(), 64), nil
	case akString, akEnum:
		return appendJSONString(dst, v.String()), nil
	case akBytes, akFixed:
		return a.appendBytes(dst, v.Bytes()), nil
	case akRecord:
		dst = append(dst, '{')
		for i := range a.fields {
			f := &a.fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, f.key...)
			var err error
			if dst, err = f.node.appendValue(dst, v.Field(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case akArray:
		dst = append(dst, '[')
		for i := range v.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = a.items.appendValue(dst, v.Index(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case akMap:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int {
			switch xs, ys := x.String(), y.String(); {
			case xs < ys:
				return -1
			case xs > ys:
				return 1
			}
			return 0
		})
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k.String())
			dst = append(dst, ':')
			var err error
			if dst, err = a.items.appendValue(dst, v.MapIndex(k)); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case akUnion:
		if a.ptr != nil {
			if v.IsNil() {
				return append(dst, "null"...), nil
			}
			return a.ptr.appendValue(dst, v.Elem())
		}
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return a.append(dst, v.Elem().Interface())
	}
	return dst, errAvroShape
}
