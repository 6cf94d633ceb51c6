package schema

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/event"
)

const userSchema = `{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"n","type":"long"}]}`

func userBody(t testing.TB, name string, n int64) []byte {
	t.Helper()
	b, err := avro.MustParse(userSchema).Encode(map[string]any{"name": name, "n": n})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFramesAndFailures(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "users-value", sr.Schema{Schema: userSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	ctx := context.Background()

	// Not the wire format: left alone.
	e := event.Event{Topic: "users", Key: []byte("k1"), Value: []byte(`{"json":true}`)}
	d.Decode(ctx, &e)
	if e.KeyDecoded != nil || e.ValueDecoded != nil {
		t.Errorf("plain payloads decoded: %+v %+v", e.KeyDecoded, e.ValueDecoded)
	}
	// Schema id 0 (no registry assigns it): a binary key such as a small
	// big-endian long, left alone and not counted.
	e = event.Event{Topic: "users", Key: []byte{0, 0, 0, 0, 0, 0, 4, 0xd2}}
	d.Decode(ctx, &e)
	if e.KeyDecoded != nil {
		t.Errorf("id 0 decoded: %+v", e.KeyDecoded)
	}
	// Key and value both framed.
	e = event.Event{Topic: "users", Key: frame(id, userBody(t, "k", 1)), Value: frame(id, userBody(t, "v", 2))}
	d.Decode(ctx, &e)
	if string(e.KeyDecoded.JSON) != `{"name":"k","n":1}` || string(e.ValueDecoded.JSON) != `{"name":"v","n":2}` {
		t.Errorf("key %s value %s", e.KeyDecoded.JSON, e.ValueDecoded.JSON)
	}
	if e.ValueDecoded.Schema.Subject != "users-value" || e.ValueDecoded.Schema.Message != "User" {
		t.Errorf("schema %+v", e.ValueDecoded.Schema)
	}

	for _, c := range []struct {
		name  string
		value []byte
		fail  string
	}{
		{"truncated", []byte{0, 0, 0}, event.FailTruncated},
		{"unknown", frame(9999, []byte{2, 'a', 2}), event.FailUnknownSchema},
		{"undecodable", frame(id, []byte{0x7f}), event.FailUndecodable},
		{"trailing", frame(id, append(userBody(t, "x", 1), 0)), event.FailUndecodable},
	} {
		got := decodeValue(t, d, "users", c.value)
		if got == nil || got.Fail != c.fail || got.JSON != nil {
			t.Errorf("%s: %+v, want fail %s", c.name, got, c.fail)
		}
	}
	// An unknown id is cached like a schema: asked once.
	before := r.requests.Load()
	for range 10 {
		decodeValue(t, d, "users", frame(9999, nil))
	}
	if n := r.requests.Load() - before; n != 0 {
		t.Errorf("unknown id asked %d more times", n)
	}

	st := d.Stats()
	if st.Decoded != 2 || st.Failed[event.FailUnknownSchema] != 11 || st.Failed[event.FailTruncated] != 1 || st.Failed[event.FailUndecodable] != 2 {
		t.Errorf("stats %+v", st)
	}
	if got, want := st.Summary(), "schema: 14 of 16 payloads not decoded (11 unknown-schema, 2 undecodable, 1 truncated); unknown-schema: schema id 9999: schema not found"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestSummary(t *testing.T) {
	if s := (Stats{Decoded: 5}).Summary(); s != "" {
		t.Errorf("nothing failed: %q", s)
	}
	s := Stats{Decoded: 3388, Failed: map[string]int64{"unknown-schema": 10, "truncated": 2}}
	if got, want := s.Summary(), "schema: 12 of 3,400 payloads not decoded (10 unknown-schema, 2 truncated)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands: %s", got)
	}
}

// The registry's key subject names a key's schema, the value subject a
// value's, when one id is registered under both.
func TestTopicNameStrategySubject(t *testing.T) {
	r := newRegistry(t)
	r.register(t, "other-value", sr.Schema{Schema: userSchema})
	id := r.register(t, "users-key", sr.Schema{Schema: userSchema})
	r.register(t, "users-value", sr.Schema{Schema: userSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	e := event.Event{Topic: "users", Key: frame(id, userBody(t, "k", 1)), Value: frame(id, userBody(t, "v", 1))}
	d.Decode(context.Background(), &e)
	if e.KeyDecoded.Schema.Subject != "users-key" || e.ValueDecoded.Schema.Subject != "users-value" {
		t.Errorf("key %+v value %+v", e.KeyDecoded.Schema, e.ValueDecoded.Schema)
	}
	e = event.Event{Topic: "nobody", Value: frame(id, userBody(t, "v", 1))}
	d.Decode(context.Background(), &e)
	if e.ValueDecoded.Schema.Subject != "other-value" {
		t.Errorf("no topic subject: %+v, want the first", e.ValueDecoded.Schema)
	}
}

func TestRegistryDownIsRetriedEverySeconds(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error_code":50301,"message":"down"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: srv.URL}})
	for range 50 {
		if got := decodeValue(t, d, "t", frame(7, []byte{2})); got.Fail != event.FailRegistry || got.Schema.ID != 7 {
			t.Fatalf("%+v", got)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("registry asked %d times for one id within %v", n, failRetry)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	d = newDecoder(t, Config{Registry: &RegistryConfig{URL: closed.URL}})
	if got := decodeValue(t, d, "t", frame(7, []byte{2})); got.Fail != event.FailRegistry {
		t.Errorf("closed registry: %+v", got)
	}
}

func TestRegistryDenied(t *testing.T) {
	r := newRegistry(t, srfake.WithAuth("Bearer right"))
	for _, rc := range []RegistryConfig{
		{URL: r.URL()},                 // no credentials: 401
		{URL: r.URL(), Token: "wrong"}, // 403
	} {
		d := newDecoder(t, Config{Registry: &rc})
		if got := decodeValue(t, d, "t", frame(1, []byte{2})); got.Fail != event.FailDenied {
			t.Errorf("token %q: %+v", rc.Token, got)
		}
	}
	id := r.register(t, "t-value", sr.Schema{Schema: userSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL(), Token: "right"}})
	if got := decodeValue(t, d, "t", frame(id, userBody(t, "a", 1))); got.Fail != "" {
		t.Errorf("right token: %+v", got)
	}
}

func TestNoSecretInErrors(t *testing.T) {
	for _, u := range []string{"ftp://user:s3cret@127.0.0.1/", "http://user:s3cret@", "http://user:s3cret@[::1"} {
		_, err := New(Config{Registry: &RegistryConfig{URL: u, Password: "s3cret"}})
		if err == nil {
			t.Errorf("%s: no error", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	// A registry down behind a URL with credentials: the event carries a
	// reason, never text from the URL.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	u := strings.Replace(closed.URL, "http://", "http://user:s3cret@", 1)
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: u}})
	got := decodeValue(t, d, "t", frame(1, []byte{2}))
	if got.Fail != event.FailRegistry || strings.Contains(fmt.Sprintf("%+v", got), "s3cret") {
		t.Errorf("%+v", got)
	}
}

func TestConcurrentLookupsShareOneCall(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "users-value", sr.Schema{Schema: userSchema})
	const n = 32
	var started atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		// Hold the first request until every goroutine is about to decode,
		// so they all miss the cache together.
		<-release
		next.ServeHTTP(w, req)
	})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	body := frame(id, userBody(t, "a", 1))
	var wg sync.WaitGroup
	results := make([]*event.Decoded, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if started.Add(1) == n {
				once.Do(func() { close(release) })
			}
			results[i] = decodeValue(t, d, "users", body)
		}()
	}
	wg.Wait()
	for i, got := range results {
		if got.Fail != "" || string(got.JSON) != `{"name":"a","n":1}` {
			t.Fatalf("%d: %+v", i, got)
		}
	}
	// One schema by id, one versions by id.
	if got := r.requests.Load(); got != 2 {
		t.Errorf("%d registry requests for one id decoded by %d goroutines", got, n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	r := newRegistry(t)
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, CacheSize: 100})
	// 10,000 ids the registry does not have: each is an entry (a 404 is
	// kept like a schema), and the cache never holds more than 100.
	for id := 1; id <= 10000; id++ {
		decodeValue(t, d, "t", frame(id, nil))
		if n := d.cache.len(); n > 100 {
			t.Fatalf("cache holds %d entries after id %d", n, id)
		}
	}
	if n := d.cache.len(); n != 100 {
		t.Errorf("cache holds %d", n)
	}
	// Real schemas evicted and seen again are fetched again and decode.
	var ids []int
	for i := range 150 {
		s := fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"name","type":"string"},{"name":"n","type":"long"}]}`, i)
		ids = append(ids, r.register(t, fmt.Sprintf("s%d-value", i), sr.Schema{Schema: s}))
	}
	body := userBody(t, "x", 5)
	for round := range 2 {
		for _, id := range ids {
			if got := decodeValue(t, d, "t", frame(id, body)); got.Fail != "" || string(got.JSON) != `{"name":"x","n":5}` {
				t.Fatalf("round %d id %d: %+v", round, id, got)
			}
		}
	}
	if n := d.cache.len(); n != 100 {
		t.Errorf("cache holds %d", n)
	}
}

const jsonUser = `{"type":"object","title":"User","properties":{"n":{"type":"integer"},"home":{"$ref":"addr.json"}},"required":["n"]}`

func TestJSONSchema(t *testing.T) {
	r := newRegistry(t)
	r.SetCompat("addr", sr.CompatNone)
	r.register(t, "addr", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`})
	r.register(t, "addr", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"zip":{"type":"integer"}},"required":["zip"]}`})
	id := r.register(t, "users-value", sr.Schema{Type: sr.TypeJSON, Schema: jsonUser,
		References: []sr.SchemaReference{{Name: "addr.json", Subject: "addr", Version: 1}}})

	valid := `{"n":1,"home":{"city":"Oslo"}}`
	invalid := `{"n":"one"}`
	for _, validate := range []bool{false, true} {
		d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}, Validate: validate})
		got := decodeValue(t, d, "users", frame(id, []byte(valid)))
		if got.Fail != "" || string(got.JSON) != valid || got.Schema.Format != "json" || got.Schema.Message != "User" {
			t.Errorf("validate=%v valid: %+v", validate, got)
		}
		got = decodeValue(t, d, "users", frame(id, []byte(invalid)))
		wantFail := ""
		if validate {
			wantFail = event.FailInvalid
		}
		if got.Fail != wantFail || string(got.JSON) != invalid {
			t.Errorf("validate=%v invalid: %+v, want fail %q with the JSON", validate, got, wantFail)
		}
		// Valid under the pinned reference (version 1), not under version 2.
		got = decodeValue(t, d, "users", frame(id, []byte(`{"n":1,"home":{"zip":5}}`)))
		if got.Fail != wantFail {
			t.Errorf("validate=%v reference: %+v, want %q", validate, got, wantFail)
		}
		if got := decodeValue(t, d, "users", frame(id, []byte(`{"n":`))); got.Fail != event.FailUndecodable || got.JSON != nil {
			t.Errorf("not JSON: %+v", got)
		}
	}
}

func TestLocalMappings(t *testing.T) {
	dir := t.TempDir()
	avsc := filepath.Join(dir, "user.avsc")
	os.WriteFile(avsc, []byte(userSchema), 0o644)
	js := filepath.Join(dir, "user.json")
	os.WriteFile(js, []byte(`{"type":"object","required":["n"]}`), 0o644)
	d := newDecoder(t, Config{Validate: true, Local: []Mapping{
		{Topic: "users", Value: &LocalSchema{Path: avsc}},
		{Topic: "json", Key: &LocalSchema{Path: js}},
	}})
	e := event.Event{Topic: "users", Key: []byte("k"), Value: userBody(t, "a", 3)}
	d.Decode(context.Background(), &e)
	if e.KeyDecoded != nil || string(e.ValueDecoded.JSON) != `{"name":"a","n":3}` ||
		e.ValueDecoded.Schema != (event.SchemaRef{Format: "avro", File: avsc, Message: "User"}) {
		t.Errorf("avsc: key %+v value %+v", e.KeyDecoded, e.ValueDecoded)
	}
	// A framed payload on a mapped topic is the bare encoding all the same.
	e = event.Event{Topic: "users", Value: []byte{0x7f}}
	d.Decode(context.Background(), &e)
	if e.ValueDecoded.Fail != event.FailUndecodable {
		t.Errorf("bad body: %+v", e.ValueDecoded)
	}
	e = event.Event{Topic: "json", Key: []byte(`{"m":1}`), Value: []byte("v")}
	d.Decode(context.Background(), &e)
	if e.KeyDecoded.Fail != event.FailInvalid || e.ValueDecoded != nil {
		t.Errorf("json: key %+v value %+v", e.KeyDecoded, e.ValueDecoded)
	}
	// A topic that maps only its key: a framed value still goes to the
	// registry (none here: left alone).
	e = event.Event{Topic: "json", Key: []byte(`{"n":1}`), Value: frame(1, []byte{2})}
	d.Decode(context.Background(), &e)
	if e.KeyDecoded == nil || e.KeyDecoded.Fail != "" || e.ValueDecoded != nil {
		t.Errorf("json: key %+v value %+v", e.KeyDecoded, e.ValueDecoded)
	}
	// An AMQP queue is mapped by its name.
	e = event.Event{Transport: event.AMQP, Queue: "users", Value: userBody(t, "q", 1)}
	d.Decode(context.Background(), &e)
	if e.ValueDecoded == nil || string(e.ValueDecoded.JSON) != `{"name":"q","n":1}` {
		t.Errorf("amqp: %+v", e.ValueDecoded)
	}
}

func TestLocalSchemaErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.avsc")
	os.WriteFile(bad, []byte(`{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}`), 0o644)
	for _, c := range []struct {
		ls   LocalSchema
		want string
	}{
		{LocalSchema{Path: bad}, "bad.avsc: not an Avro schema"},
		{LocalSchema{Path: filepath.Join(dir, "missing.avsc")}, "missing.avsc: no such file"},
		{LocalSchema{Path: filepath.Join(dir, "x.txt")}, "x.txt: cannot tell its format"},
		{LocalSchema{Path: bad, Format: "xml"}, `unknown format "xml"`},
	} {
		_, err := New(Config{Local: []Mapping{{Topic: "t", Value: &c.ls}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.ls, err, c.want)
		}
	}
}

// sliceSource is a bus.Source over fixed batches.
type sliceSource struct{ batches [][]event.Event }

func (s *sliceSource) Next(context.Context) ([]event.Event, error) {
	if len(s.batches) == 0 {
		return nil, context.Canceled
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, nil
}
func (s *sliceSource) Close() error { return nil }

func TestSourceDecodesInOrder(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "users-value", sr.Schema{Schema: userSchema})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	mk := func(n int) []event.Event {
		evs := make([]event.Event, n)
		for i := range evs {
			evs[i] = event.Event{Topic: "users", Offset: int64(i), Value: frame(id, userBody(t, strings.Repeat("x", i%7), int64(i)))}
		}
		return evs
	}
	src := Source(&sliceSource{batches: [][]event.Event{mk(5), mk(20000)}}, d)
	for _, n := range []int{5, 20000} {
		evs, err := src.Next(context.Background())
		if err != nil || len(evs) != n {
			t.Fatalf("%d events, %v", len(evs), err)
		}
		for i := range evs {
			want := fmt.Sprintf(`{"name":%q,"n":%d}`, strings.Repeat("x", i%7), i)
			if got := evs[i].ValueDecoded; got == nil || string(got.JSON) != want {
				t.Fatalf("event %d: %+v, want %s", i, got, want)
			}
		}
		// Each event owns its JSON: appending to one does not touch the next.
		if n > 1 {
			next := string(evs[1].ValueDecoded.JSON)
			_ = append(evs[0].ValueDecoded.JSON, "garbage"...)
			if string(evs[1].ValueDecoded.JSON) != next {
				t.Fatal("events share JSON bytes")
			}
		}
	}
	if Source(src, nil) != src {
		t.Error("a nil decoder does not return the source")
	}
}

type panicCodec struct{}

func (panicCodec) appendJSON(dst, body []byte) ([]byte, string, error) { panic("boom") }

func TestPanickingCodecIsUndecodable(t *testing.T) {
	d := newDecoder(t, Config{})
	d.local = map[string]*localMapping{"t": {value: &localSchema{format: "avro", codec: panicCodec{}}}}
	if got := decodeValue(t, d, "t", []byte{1}); got.Fail != event.FailUndecodable || got.JSON != nil {
		t.Errorf("%+v", got)
	}
}

// A registered schema that does not compile (here Avro naming a type that
// does not exist, or referencing a subject version that is not there) is
// bad-schema, and cached like a schema.
func TestBadSchema(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "p-value", sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"Nope"}]}`})
	r.register(t, "addr", sr.Schema{Schema: `{"type":"record","name":"A","fields":[]}`})
	id2 := r.register(t, "q-value", sr.Schema{Schema: `{"type":"record","name":"Q","fields":[{"name":"a","type":"A"}]}`,
		References: []sr.SchemaReference{{Name: "A", Subject: "addr", Version: 1}}})
	// The registry has lost the version referenced (srfake will not delete
	// a referenced version, so its answer is made here).
	r.setHook(func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		if req.URL.Path == "/subjects/addr/versions/1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error_code":40402,"message":"Version not found."}`))
			return
		}
		next.ServeHTTP(w, req)
	})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	for _, id := range []int{id, id2} {
		got := decodeValue(t, d, "p", frame(id, []byte{2}))
		if got.Fail != event.FailBadSchema || got.Schema.Format != "avro" || got.Schema.ID != id {
			t.Errorf("id %d: %+v", id, got)
		}
		before := r.requests.Load()
		decodeValue(t, d, "p", frame(id, []byte{2}))
		if r.requests.Load() != before {
			t.Errorf("id %d: a bad schema was fetched again", id)
		}
	}
	// The summary says why, not only that: the first bad schema's id and
	// the compiler's complaint (the unknown type "Nope").
	if s := d.Stats().Summary(); !strings.Contains(s, fmt.Sprintf("; bad-schema: schema id %d: ", id)) || !strings.Contains(s, "Nope") {
		t.Errorf("summary %q does not say why the schema is bad", s)
	}
}

func TestLocalJSONSchemaCompiledEvenWithoutValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"type": 12}`), 0o644)
	_, err := New(Config{Local: []Mapping{{Topic: "t", Value: &LocalSchema{Path: bad}}}})
	if err == nil || !strings.Contains(err.Error(), "bad.json: not a JSON Schema") {
		t.Errorf("%v", err)
	}
}

func TestLocalKeyRegistryValue(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "users-value", sr.Schema{Schema: userSchema})
	avsc := filepath.Join(t.TempDir(), "key.avsc")
	os.WriteFile(avsc, []byte(`"long"`), 0o644)
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()},
		Local: []Mapping{{Topic: "users", Key: &LocalSchema{Path: avsc}}}})
	e := event.Event{Topic: "users", Key: []byte{0x54}, Value: frame(id, userBody(t, "v", 9))}
	d.Decode(context.Background(), &e)
	if e.KeyDecoded == nil || string(e.KeyDecoded.JSON) != "42" || e.ValueDecoded == nil || string(e.ValueDecoded.JSON) != `{"name":"v","n":9}` {
		t.Errorf("key %+v value %+v", e.KeyDecoded, e.ValueDecoded)
	}
}
