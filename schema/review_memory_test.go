package schema

import (
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
// with the default cache size: the cache holds at most its bound, and the
// live heap after the last id is about what it was after the 2,000th: it
// does not grow with the number of ids seen.
func TestTenThousandSchemaIDsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 registry requests")
	}
	const ids, warm = 10000, 3000
	// srfake's registration compares each new schema with every one it
	// holds (10,000 would take minutes), so the registry's answers for
	// these ids are made on the fly, as srfake writes them: the schema by
	// id, and the subject version it is registered under.
	text := func(i int) string {
		return fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"f%d_a","type":"string"},{"name":"f%d_b","type":"long"},{"name":"f%d_c","type":{"type":"array","items":"int"}},{"name":"f%d_d","type":["null","string"]}]}`, i, i, i, i, i)
	}
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
		var v any = map[string]any{"schema": text(id - base)}
		if versions {
			v = []map[string]any{{"subject": fmt.Sprintf("s%d-value", id-base), "version": 1}}
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		json.NewEncoder(w).Encode(v)
	})
	type rec struct {
		id   int
		body []byte
	}
	recs := make([]rec, ids)
	for i := range recs {
		// Field names differ per schema: a shape of its own, as each
		// version of an evolving schema has.
		body, err := avro.MustParse(text(i)).Encode(map[string]any{
			fmt.Sprintf("f%d_a", i): "x", fmt.Sprintf("f%d_b", i): int64(i),
			fmt.Sprintf("f%d_c", i): []int32{1, 2}, fmt.Sprintf("f%d_d", i): nil,
		})
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = rec{base + i, body}
	}
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	max := d.cache.max
	var atWarm uint64
	for i, rc := range recs {
		got := decodeValue(t, d, "t", frame(rc.id, rc.body))
		if want := fmt.Sprintf(`{"f%d_a":"x","f%d_b":%d,"f%d_c":[1,2],"f%d_d":null}`, i, i, i, i, i); got.Fail != "" || string(got.JSON) != want {
			t.Fatalf("id %d: %+v, want %s", rc.id, got, want)
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
