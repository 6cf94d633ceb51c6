package schema

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/event"
)

// zigzag is n as a Confluent index-array varint.
func zigzag(n int64) []byte { return binary.AppendVarint(nil, n) }

// TestHostileIndexArrays: message-index arrays that lie about their size,
// through Decoder.Decode.
func TestHostileIndexArrays(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "nested-value", sr.Schema{Type: sr.TypeProtobuf, Schema: nestedProto})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01} // max uint64 varint
	for name, idx := range map[string][]byte{
		"count 2^31":            append(zigzag(1<<31), 0, 0),
		"count -2^31":           append(zigzag(-1<<31), 0),
		"count 2^62":            append(zigzag(1<<62), 0),
		"count overflows":       append(append([]byte{}, huge...), 0),
		"count 11-byte varint":  {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"index 2^31":            append(zigzag(1), zigzag(1<<31)...),
		"index -2^31":           append(zigzag(1), zigzag(-1<<31)...),
		"index overflows":       append(zigzag(1), huge...),
		"count only":            zigzag(3),
		"deeper than the file":  {8, 2, 2, 0, 0}, // [1,1,0,0]: Deep has no nested message
		"empty after the count": {},
	} {
		got := decodeValue(t, d, "nested", frame(id, idx))
		if got == nil || got.Fail != event.FailUndecodable || got.JSON != nil {
			t.Errorf("%s: %+v", name, got)
		}
	}
}

// TestIndexPathAllocationBounded: a record whose index array claims as
// many entries as it has bytes (a megabyte of zeros, each a valid index
// 0) costs about its own size to reject, not eight times it: the path is
// not preallocated from the count the record claims.
func TestIndexPathAllocationBounded(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "nested-value", sr.Schema{Type: sr.TypeProtobuf, Schema: nestedProto})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	const n = 1 << 20
	value := frame(id, append(zigzag(n), make([]byte, n)...))
	decodeValue(t, d, "nested", value) // the schema fetched and compiled
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := decodeValue(t, d, "nested", value)
	runtime.ReadMemStats(&after)
	if got.Fail != event.FailUndecodable {
		t.Fatalf("%+v", got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*n {
		t.Errorf("rejecting a %d-byte index array allocated %d bytes", n, alloc)
	}
}

// TestHostileRecursion: payloads nested far deeper than any schema meant,
// through Decoder.Decode, fail the record (a Go stack overflow is not
// recoverable: it would end eddy).
func TestHostileRecursion(t *testing.T) {
	r := newRegistry(t)
	const node = `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`
	avroID := r.register(t, "list-value", sr.Schema{Schema: node})
	const protoNode = `syntax = "proto3"; package rec; message Node { int32 v = 1; Node next = 2; }`
	protoID := r.register(t, "pnode-value", sr.Schema{Type: sr.TypeProtobuf, Schema: protoNode})
	jsonID := r.register(t, "j-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":["object","array"]}`})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Validate: true})

	const depth = 200000
	// Avro: each node is v (zigzag 1 = 0x02) and the union's branch 1
	// (0x02), the last one branch 0 (null).
	body := make([]byte, 0, 2*depth+2)
	for range depth {
		body = append(body, 0x02, 0x02)
	}
	body = append(body, 0x02, 0x00)
	if got := decodeValue(t, d, "list", frame(avroID, body)); got.Fail != event.FailUndecodable {
		t.Errorf("avro %d deep: %+v", depth, got.Fail)
	}
	// A shallow list still decodes.
	if got := decodeValue(t, d, "list", frame(avroID, []byte{2, 2, 4, 0})); string(got.JSON) != `{"v":1,"next":{"v":2,"next":null}}` {
		t.Errorf("avro shallow: %+v", got)
	}

	// Protobuf: Node{next: Node{next: ...}}, built inside out.
	var pb []byte
	for range depth / 10 {
		pb = append(append([]byte{0x12}, binary.AppendUvarint(nil, uint64(len(pb)))...), pb...)
	}
	if got := decodeValue(t, d, "pnode", frame(protoID, append([]byte{0}, pb...))); got.Fail != event.FailUndecodable {
		t.Errorf("protobuf %d deep: %+v", depth/10, got.Fail)
	}
	if got := decodeValue(t, d, "pnode", frame(protoID, []byte{0, 0x12, 2, 8, 5})); string(got.JSON) != `{"next":{"v":5}}` {
		t.Errorf("protobuf shallow: %+v", got)
	}

	// JSON: a million brackets.
	deep := strings.Repeat("[", 1e6) + strings.Repeat("]", 1e6)
	if got := decodeValue(t, d, "j", frame(jsonID, []byte(deep))); got.Fail != event.FailUndecodable || got.JSON != nil {
		t.Errorf("json 1e6 deep: %q", got.Fail)
	}
}

// TestHostileSchemaTexts: schema texts a registry should never serve,
// through Decoder.Decode: each fails its records with a reason, none
// crashes or hangs.
func TestHostileSchemaTexts(t *testing.T) {
	r := newRegistry(t)
	var b strings.Builder
	b.WriteString(`{"type":"record","name":"Big","doc":"`)
	b.WriteString(strings.Repeat("x", 10<<20))
	b.WriteString(`","fields":[{"name":"a","type":"int"}]}`)
	bigID := r.register(t, "big-value", sr.Schema{Schema: b.String()})
	// Arrays of arrays, 5,000 deep: a schema, not recursion in the data.
	deepAvro := strings.Repeat(`{"type":"array","items":`, 5000) + `"int"` + strings.Repeat("}", 5000)
	deepAvroID := r.register(t, "deepavro-value", sr.Schema{Schema: deepAvro})
	deepJSON := strings.Repeat(`{"items":`, 20000) + `{}` + strings.Repeat("}", 20000)
	// srfake refuses a text this deep; a registry might serve one.
	deepJSONID := r.register(t, "deepjson-value", sr.Schema{Type: sr.TypeJSON, Schema: `{}`})
	body, _ := json.Marshal(map[string]any{"schema": deepJSON, "schemaType": "JSON"})
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		if req.URL.Path == fmt.Sprintf("/schemas/ids/%d", deepJSONID) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
			return
		}
		next.ServeHTTP(w, req)
	})
	var p strings.Builder
	p.WriteString("syntax = \"proto3\";\n")
	for i := range 2000 {
		fmt.Fprintf(&p, "message M%d {", i)
	}
	p.WriteString(strings.Repeat("}", 2000))
	deepProtoID := r.register(t, "deepproto-value", sr.Schema{Type: sr.TypeProtobuf, Schema: p.String()})
	// The sizes are the test, not the speed: a 10 MB schema fetched and
	// compiled under -race on a busy machine took more than the default
	// 10 s once (the decoder said registry-down).
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Validate: true, Timeout: 2 * time.Minute})

	if got := decodeValue(t, d, "big", frame(bigID, []byte{4})); got.Fail != "" || string(got.JSON) != `{"a":2}` {
		t.Errorf("10 MB schema: %+v", got)
	}
	// The library refuses a schema this deep (bad-schema); were it
	// compiled, a value as deep must fail its record, not the stack.
	nested := make([]byte, 0, 5000)
	for range 4999 {
		nested = append(nested, 2) // one item: the next array
	}
	for _, v := range [][]byte{{0}, nested} {
		if got := decodeValue(t, d, "deepavro", frame(deepAvroID, v)); got.Fail != event.FailBadSchema && got.Fail != event.FailUndecodable && len(v) > 1 {
			t.Errorf("deep avro schema, %d-byte value: %+v", len(v), got.Fail)
		}
	}
	if got := decodeValue(t, d, "deepjson", frame(deepJSONID, []byte(`[]`))); got.Fail != event.FailBadSchema && got.Fail != "" {
		t.Errorf("deep json schema: %+v", got)
	}
	if got := decodeValue(t, d, "deepproto", frame(deepProtoID, []byte{0})); got.Fail != event.FailBadSchema {
		t.Errorf("deep proto schema: %+v", got)
	}
}

// TestSlowRegistryBoundedByTimeout: a registry that never answers costs
// one Client timeout, and the request is abandoned (the handler sees its
// request's context end: the condition, not a sleep).
func TestSlowRegistryBoundedByTimeout(t *testing.T) {
	r := newRegistry(t)
	gaveUp := make(chan struct{}, 16)
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		select {
		case <-req.Context().Done():
			gaveUp <- struct{}{}
		case <-time.After(time.Minute):
		}
	})
	const timeout = 200 * time.Millisecond
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Timeout: timeout})
	start := time.Now()
	got := decodeValue(t, d, "t", frame(3, []byte{2}))
	took := time.Since(start)
	if got.Fail != event.FailRegistry || got.Schema.ID != 3 {
		t.Errorf("%+v", got)
	}
	select {
	case <-gaveUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the registry's request was never abandoned")
	}
	if took > 5*time.Second {
		t.Errorf("one lookup took %v with a %v timeout", took, timeout)
	}
	// The caller's own context ends first: Decode returns then.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *event.Decoded)
	go func() {
		e := event.Event{Topic: "t", Value: frame(4, []byte{2})}
		d.Decode(ctx, &e)
		done <- e.ValueDecoded
	}()
	cancel()
	select {
	case got := <-done:
		if got.Fail != event.FailRegistry {
			t.Errorf("cancelled: %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Decode did not return when its context ended")
	}
}

// TestRegistryAnswersNonsense: a registry answering 200 with what is not
// the API (not JSON, an unknown schemaType, JSON of the wrong shape) or a
// schema that is not what its type says.
func TestRegistryAnswersNonsense(t *testing.T) {
	r := newRegistry(t)
	protoAsAvro := r.register(t, "x-value", sr.Schema{Type: sr.TypeProtobuf, Schema: userSchema})
	answers := map[int]string{
		101: `not json at all {`,
		102: `{"schema":"{\"type\":\"string\"}","schemaType":"XML"}`,
		103: `[1,2,3]`,
		104: `{"schema":12}`,
		105: "\x1b]52;c;c2VjcmV0\x07",
	}
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		for id, body := range answers {
			if req.URL.Path == fmt.Sprintf("/schemas/ids/%d", id) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(body))
				return
			}
		}
		next.ServeHTTP(w, req)
	})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	for id := range answers {
		got := decodeValue(t, d, "x", frame(id, []byte{2}))
		// Not the API: the registry is not working, and is asked again in
		// a few seconds (not cached as if the schema were known bad).
		if got.Fail != event.FailRegistry || got.JSON != nil {
			t.Errorf("id %d: %+v", id, got)
		}
	}
	if got := decodeValue(t, d, "x", frame(protoAsAvro, []byte{2})); got.Fail != event.FailBadSchema || got.Schema.Format != "protobuf" {
		t.Errorf("avro text registered as PROTOBUF: %+v", got)
	}
	if s := d.Stats().Summary(); !safeForTerminal(s) {
		t.Errorf("summary %q", s)
	}
}

// TestReferenceFailures: a reference the registry does not have (404) and
// references that form a cycle (A refs B refs A), for each format.
func TestReferenceFailures(t *testing.T) {
	r := newRegistry(t)
	ids := map[string]int{}
	// Placeholders, so srfake registers schemas that reference them; the
	// hook below answers for them.
	for _, subject := range []string{"gone", "avro-a", "protobuf-a", "json-a"} {
		r.register(t, subject, sr.Schema{Schema: `"int"`})
	}
	for format, s := range map[string]sr.Schema{
		"avro":     {Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"A"}]}`},
		"protobuf": {Type: sr.TypeProtobuf, Schema: "syntax = \"proto3\";\nimport \"a.proto\";\nmessage R { A a = 1; }\n"},
		"json":     {Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"a":{"$ref":"a.json"}}}`},
	} {
		ids[format+"-404"] = r.register(t, format+"-404-value", sr.Schema{Type: s.Type, Schema: s.Schema,
			References: []sr.SchemaReference{{Name: "a", Subject: "gone", Version: 1}}})
		ids[format+"-cycle"] = r.register(t, format+"-cycle-value", sr.Schema{Type: s.Type, Schema: s.Schema,
			References: []sr.SchemaReference{{Name: "a", Subject: format + "-a", Version: 1}}})
	}
	// The registry's answers for the referenced subjects: gone is gone, and
	// X-a v1 references X-b v1, which references X-a v1 (srfake will not
	// register a cycle, a broken registry might serve one).
	texts := map[string][2]string{
		"avro": {`{"type":"record","name":"A","fields":[{"name":"b","type":"B"}]}`, `{"type":"record","name":"B","fields":[{"name":"a","type":"A"}]}`},
		"protobuf": {"syntax = \"proto3\";\nimport \"b.proto\";\nmessage A { B b = 1; }\n",
			"syntax = \"proto3\";\nimport \"a.proto\";\nmessage B { A a = 1; }\n"},
		"json": {`{"$ref":"b.json"}`, `{"$ref":"a.json"}`},
	}
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		p := req.URL.Path
		if p == "/subjects/gone/versions/1" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error_code":40401,"message":"Subject 'gone' not found."}`))
			return
		}
		for format, tx := range texts {
			for i, name := range []string{"a", "b"} {
				other := []string{"b", "a"}[i]
				if p != "/subjects/"+format+"-"+name+"/versions/1" {
					continue
				}
				typ := map[string]string{"avro": "AVRO", "protobuf": "PROTOBUF", "json": "JSON"}[format]
				refName := map[string]string{"avro": strings.ToUpper(other), "protobuf": other + ".proto", "json": other + ".json"}[format]
				body, _ := json.Marshal(map[string]any{
					"subject": format + "-" + name, "version": 1, "id": 900 + i, "schemaType": typ, "schema": tx[i],
					"references": []map[string]any{{"name": refName, "subject": format + "-" + other, "version": 1}},
				})
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
				return
			}
		}
		next.ServeHTTP(w, req)
	})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Validate: true})
	for name, id := range ids {
		done := make(chan *event.Decoded, 1)
		go func() { done <- decodeValue(t, d, "x", frame(id, []byte(`{}`))) }()
		select {
		case got := <-done:
			if got.Fail != event.FailBadSchema || got.JSON != nil {
				t.Errorf("%s: %+v", name, got)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no answer", name)
		}
	}
}

// TestPlainBatchCostsNoArena: a batch of payloads that are not for the
// registry (plain JSON), read with a registry configured, allocates
// nothing near its size: the arena is sized by what will be decoded.
func TestPlainBatchCostsNoArena(t *testing.T) {
	r := newRegistry(t)
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	value := []byte(`{"plain":"` + strings.Repeat("j", 10<<10) + `"}`)
	evs := make([]event.Event, 1000)
	for i := range evs {
		evs[i] = event.Event{Topic: "t", Key: []byte("k"), Value: value}
	}
	src := Source(&sliceSource{batches: [][]event.Event{evs}}, d)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := src.Next(context.Background())
	runtime.ReadMemStats(&after)
	if err != nil || len(got) != len(evs) || got[0].ValueDecoded != nil {
		t.Fatalf("%d events, %v, %+v", len(got), err, got[0].ValueDecoded)
	}
	batch := uint64(len(evs) * len(value))
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > batch/10 {
		t.Errorf("decoding nothing in a %d KB batch allocated %d KB", batch>>10, alloc>>10)
	}
}

// TestCancelledContextStartsNoFetch: once the context has ended (a run
// stopping mid-batch), an id not in the cache is not fetched: the record
// says registry-down and no call is left running for nobody.
func TestCancelledContextStartsNoFetch(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "users-value", sr.Schema{Schema: userSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := event.Event{Topic: "users", Value: frame(id, userBody(t, "a", 1))}
	d.Decode(ctx, &e)
	if e.ValueDecoded == nil || e.ValueDecoded.Fail != event.FailRegistry {
		t.Errorf("%+v", e.ValueDecoded)
	}
	// Join any call the cancelled lookup started: after Do, it is done.
	d.cache.group.Do(strconv.Itoa(id), func() (any, error) { return nil, nil })
	if n := r.requests.Load(); n != 0 {
		t.Errorf("%d registry requests for a cancelled lookup", n)
	}
	// A live context decodes it.
	if got := decodeValue(t, d, "users", frame(id, userBody(t, "a", 1))); got.Fail != "" {
		t.Errorf("%+v", got)
	}
}

// TestRegistryResponseBounded: an answer past maxRegistryResponse fails
// (registry-down) instead of being read whole into memory; one within it
// decodes.
func TestRegistryResponseBounded(t *testing.T) {
	saved := maxRegistryResponse
	maxRegistryResponse = 1 << 20
	t.Cleanup(func() { maxRegistryResponse = saved })
	r := newRegistry(t)
	doc := func(n int) string {
		return `{"type":"record","name":"R","doc":"` + strings.Repeat("d", n) + `","fields":[{"name":"a","type":"int"}]}`
	}
	small := r.register(t, "small-value", sr.Schema{Schema: doc(100 << 10)})
	big := r.register(t, "big-value", sr.Schema{Schema: doc(4 << 20)})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	if got := decodeValue(t, d, "small", frame(small, []byte{4})); got.Fail != "" || string(got.JSON) != `{"a":2}` {
		t.Errorf("small: %+v", got)
	}
	if got := decodeValue(t, d, "big", frame(big, []byte{4})); got.Fail != event.FailRegistry || got.JSON != nil {
		t.Errorf("past the bound: %+v", got)
	}
}

func TestLimitedBody(t *testing.T) {
	saved := maxRegistryResponse
	maxRegistryResponse = 10
	t.Cleanup(func() { maxRegistryResponse = saved })
	for n, wantErr := range map[int]bool{0: false, 9: false, 10: false, 11: true, 1000: true} {
		b := &limitedBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("x", n))), left: maxRegistryResponse}
		got, err := io.ReadAll(b)
		if (err != nil) != wantErr || (!wantErr && len(got) != n) || len(got) > 11 {
			t.Errorf("%d bytes: read %d, %v", n, len(got), err)
		}
	}
}

// TestEndlessReferences: a registry whose references never end — a chain
// (each referenced schema references a next one) and a fan-out (one schema
// referencing thousands) — fails the schema (bad-schema) after a bounded
// number of calls, for each format.
func TestEndlessReferences(t *testing.T) {
	r := newRegistry(t)
	var refCalls atomic.Int64
	types := map[int]string{1: "AVRO", 2: "PROTOBUF", 3: "JSON", 11: "AVRO", 12: "PROTOBUF", 13: "JSON"}
	texts := map[string]string{
		"AVRO":     `{"type":"record","name":"R","fields":[]}`,
		"PROTOBUF": "syntax = \"proto3\";\nmessage R {}\n",
		"JSON":     `{"type":"object"}`,
	}
	// Subjects are TYPE-n (a chain: each references TYPE-n+1) or
	// TYPE-fan-n (no references of its own).
	ref := func(typ, kind string, n int) map[string]any {
		name := fmt.Sprintf("r%s%d", kind, n)
		if typ == "PROTOBUF" {
			name += ".proto"
		}
		return map[string]any{"name": name, "subject": fmt.Sprintf("%s-%s%d", typ, kind, n), "version": 1}
	}
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		var v any
		p := req.URL.Path
		if rest, ok := strings.CutPrefix(p, "/schemas/ids/"); ok {
			id, err := strconv.Atoi(strings.TrimSuffix(rest, "/versions"))
			typ := types[id]
			if err != nil || typ == "" {
				next.ServeHTTP(w, req)
				return
			}
			var refs []map[string]any
			if id > 10 { // fan-out
				for n := range 5000 {
					refs = append(refs, ref(typ, "fan-", n))
				}
			} else { // the start of a chain
				refs = append(refs, ref(typ, "", 0))
			}
			v = map[string]any{"schemaType": typ, "schema": texts[typ], "references": refs}
			if strings.HasSuffix(rest, "/versions") {
				v = []any{}
			}
		} else if rest, ok := strings.CutPrefix(p, "/subjects/"); ok {
			subject, _, _ := strings.Cut(rest, "/")
			typ, nText, _ := strings.Cut(subject, "-")
			nText, fan := strings.CutPrefix(nText, "fan-")
			n, _ := strconv.Atoi(nText)
			refCalls.Add(1)
			refs := []any{ref(typ, "", n+1)}
			if fan {
				refs = nil
			}
			v = map[string]any{"subject": subject, "version": 1, "id": 100 + n, "schemaType": typ,
				"schema": texts[typ], "references": refs}
		} else {
			next.ServeHTTP(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Validate: true})
	for id, typ := range types {
		before := refCalls.Load()
		got := decodeValue(t, d, "x", frame(id, []byte(`{}`)))
		if got.Fail != event.FailBadSchema {
			t.Errorf("id %d (%s): %+v", id, typ, got)
		}
		if n := refCalls.Load() - before; n > 1100 {
			t.Errorf("id %d (%s): %d reference calls", id, typ, n)
		}
	}
}

// TestLookupBoundedAsAWhole: a registry that answers every call within
// the timeout, but slowly, for a schema of many references: no record
// waits on the lookup much longer than one timeout (registry-down), the
// id's next records fail at once meanwhile, and once the lookup is done
// the id decodes.
func TestLookupBoundedAsAWhole(t *testing.T) {
	r := newRegistry(t)
	const chain = 20
	for i := chain - 1; i >= 0; i-- {
		s := sr.Schema{Schema: fmt.Sprintf(`{"type":"record","name":"N%d","fields":[]}`, i)}
		if i < chain-1 {
			s.Schema = fmt.Sprintf(`{"type":"record","name":"N%d","fields":[{"name":"n","type":"N%d"}]}`, i, i+1)
			s.References = []sr.SchemaReference{{Name: fmt.Sprintf("N%d", i+1), Subject: fmt.Sprintf("n%d", i+1), Version: 1}}
		}
		r.register(t, fmt.Sprintf("n%d", i), s)
	}
	id := r.register(t, "top-value", sr.Schema{Schema: `{"type":"record","name":"Top","fields":[{"name":"n","type":"N0"}]}`,
		References: []sr.SchemaReference{{Name: "N0", Subject: "n0", Version: 1}}})
	const timeout = 500 * time.Millisecond
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		// Latency, not synchronisation: each answer well within the
		// timeout, the 22 of them together far past it.
		select {
		case <-time.After(timeout * 6 / 10):
		case <-req.Context().Done():
			return
		}
		next.ServeHTTP(w, req)
	})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Timeout: timeout})
	start := time.Now()
	got := decodeValue(t, d, "top", frame(id, []byte{}))
	if took := time.Since(start); got.Fail != event.FailRegistry || took > 6*timeout {
		t.Errorf("first record: %+v after %v (the whole lookup takes ~%v)", got, took, 22*timeout*6/10)
	}
	before := r.requests.Load()
	start = time.Now()
	if got := decodeValue(t, d, "top", frame(id, []byte{})); got.Fail != event.FailRegistry || time.Since(start) > timeout {
		t.Errorf("next record: %+v after %v", got, time.Since(start))
	}
	// Join the lookup still running; then the id decodes.
	d.cache.group.Do(strconv.Itoa(id), func() (any, error) { return nil, nil })
	if got := decodeValue(t, d, "top", frame(id, []byte{})); got.Fail != "" || got.Schema.Message != "Top" {
		t.Errorf("after the lookup: %+v", got)
	}
	if n := r.requests.Load() - before; n > 24 {
		t.Errorf("%d requests: the lookup was repeated", n)
	}
}

// TestSourceEmptyLocalPayload: an empty (not nil) payload on a mapped
// topic is still decoded through Source, as Decode does (an Avro "null"
// schema's value is no bytes at all).
func TestSourceEmptyLocalPayload(t *testing.T) {
	avsc := filepath.Join(t.TempDir(), "null.avsc")
	if err := os.WriteFile(avsc, []byte(`"null"`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDecoder(t, Config{Local: []Mapping{{Topic: "t", Value: &LocalSchema{Path: avsc}}}})
	src := Source(&sliceSource{batches: [][]event.Event{{{Topic: "t", Value: []byte{}}}}}, d)
	evs, err := src.Next(context.Background())
	if err != nil || len(evs) != 1 || evs[0].ValueDecoded == nil || string(evs[0].ValueDecoded.JSON) != "null" {
		t.Fatalf("%v %+v", err, evs)
	}
}
