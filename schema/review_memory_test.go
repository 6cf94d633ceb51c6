package schema

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/avro"
)

// heapAfterGC is the live heap, settled.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTenThousandSchemaIDsMemoryBounded: a topic whose records carry
// 10,000 distinct schema ids (each its own record shape) through a Decoder
// with the default cache size, for each format: the cache holds at most its
// bound, and the live heap after the last id is about what it was after the
// 3,000th: it does not grow with the number of ids seen.
func TestTenThousandSchemaIDsMemoryBounded(t *testing.T) {
	if testing.Short() || raceOn {
		t.Skip("20,000 registry requests per format; a heap measure (not under -race)")
	}
	// Field names differ per schema: a shape of its own, as each version
	// of an evolving schema has.
	formats := []struct {
		name, typ string
		text      func(i int) string
		body      func(i int) []byte
		json      func(i int) string
	}{
		{"avro", "AVRO",
			func(i int) string {
				return fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"f%d_a","type":"string"},{"name":"f%d_b","type":"long"},{"name":"f%d_c","type":{"type":"array","items":"int"}},{"name":"f%d_d","type":["null","string"]}]}`, i, i, i, i, i)
			},
			func(i int) []byte {
				// "x", i, [1,2], null
				return append(append([]byte{2, 'x'}, binary.AppendVarint(nil, int64(i))...), 4, 2, 4, 0, 0)
			},
			func(i int) string {
				return fmt.Sprintf(`{"f%d_a":"x","f%d_b":%d,"f%d_c":[1,2],"f%d_d":null}`, i, i, i, i, i)
			},
		},
		{"protobuf", "PROTOBUF",
			func(i int) string {
				return fmt.Sprintf("syntax = \"proto3\";\npackage p%d;\nmessage M%d { string a%d = 1; int64 b%d = 2; message N { bool c = 1; } }\n", i, i, i, i)
			},
			func(i int) []byte {
				// [0] shortcut, field 1 "x", field 2 i
				return append([]byte{0, 0x0a, 1, 'x', 0x10}, binary.AppendUvarint(nil, uint64(i))...)
			},
			func(i int) string {
				if i == 0 { // proto3 leaves a zero out
					return `{"a0":"x"}`
				}
				return fmt.Sprintf(`{"a%d":"x","b%d":"%d"}`, i, i, i)
			},
		},
		{"json", "JSON",
			func(i int) string {
				return fmt.Sprintf(`{"title":"T%d","type":"object","properties":{"a%d":{"type":"string"}},"required":["a%d"]}`, i, i, i)
			},
			func(i int) []byte { return []byte(fmt.Sprintf(`{"a%d":"x"}`, i)) },
			func(i int) string { return fmt.Sprintf(`{"a%d":"x"}`, i) },
		},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			testSchemaIDsMemory(t, f.typ, f.text, f.body, f.json)
		})
	}
}

func testSchemaIDsMemory(t *testing.T, typ string, text func(int) string, body func(int) []byte, want func(int) string) {
	const ids, warm = 10000, 3000
	// srfake's registration compares each new schema with every one it
	// holds (10,000 would take minutes), so the registry's answers for
	// these ids are made on the fly, as srfake writes them: the schema by
	// id, and the subject version it is registered under.
	const base = 1000
	r := newRegistry(t)
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		rest, ok := strings.CutPrefix(req.URL.Path, "/schemas/ids/")
		if !ok {
			next.ServeHTTP(w, req)
			return
		}
		idText, versions := strings.CutSuffix(rest, "/versions")
		id, err := strconv.Atoi(idText)
		if err != nil || id < base || id >= base+ids {
			next.ServeHTTP(w, req)
			return
		}
		var v any = map[string]any{"schema": text(id - base), "schemaType": typ}
		if versions {
			v = []map[string]any{{"subject": fmt.Sprintf("s%d-value", id-base), "version": 1}}
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		json.NewEncoder(w).Encode(v)
	})
	bodies := make([][]byte, ids)
	for i := range bodies {
		bodies[i] = frame(base+i, body(i))
	}
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Validate: true})
	max := d.cache.max
	var atWarm uint64
	for i, b := range bodies {
		got := decodeValue(t, d, "t", b)
		if got.Fail != "" || string(got.JSON) != want(i) {
			t.Fatalf("id %d: %+v, want %s", base+i, got, want(i))
		}
		if n := d.cache.len(); n > max {
			t.Fatalf("cache holds %d entries, bound %d", n, max)
		}
		if i+1 == warm {
			atWarm = heapAfterGC()
		}
	}
	atEnd := heapAfterGC()
	grew := int64(atEnd) - int64(atWarm)
	t.Logf("heap after %d ids %d KB, after %d ids %d KB (%+d KB)", warm, atWarm>>10, ids, atEnd>>10, grew>>10)
	// 7,000 more ids: were something kept for each (a Go struct type made
	// for each record shape was: reflect never frees one, ~1 KB each), the
	// heap would grow by megabytes; bounded, it stays flat, up to noise.
	if grew > 2<<20 {
		t.Errorf("heap grew %d KB over %d more schema ids", grew>>10, ids-warm)
	}
	runtime.KeepAlive(d)
}

// TestTypedShapesBounded: past maxTypedShapes record shapes, a new schema
// decodes on the untyped path (no new Go type), correctly; a shape met
// before still gets its type.
func TestTypedShapesBounded(t *testing.T) {
	typedShapes.Lock()
	saved := typedShapes.m
	typedShapes.m = map[string]reflect.Type{}
	for i := range maxTypedShapes {
		typedShapes.m[strconv.Itoa(i)] = reflect.TypeFor[struct{}]() // the budget spent
	}
	typedShapes.Unlock()
	t.Cleanup(func() {
		typedShapes.Lock()
		typedShapes.m = saved
		typedShapes.Unlock()
	})
	c, err := newAvroCodec(avro.MustParse(userSchema))
	if err != nil {
		t.Fatal(err)
	}
	if c.typed != nil {
		t.Error("a struct type made past the bound")
	}
	out, _, err := c.appendJSON(nil, userBody(t, "a", 1))
	if err != nil || string(out) != `{"name":"a","n":1}` {
		t.Errorf("%s %v", out, err)
	}
	typedShapes.Lock()
	n := len(typedShapes.m)
	typedShapes.Unlock()
	if n != maxTypedShapes {
		t.Errorf("%d shapes", n)
	}
}
