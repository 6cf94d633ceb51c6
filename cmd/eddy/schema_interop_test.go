package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// interopRecord is one line of scripts/interop/produce.py's output: a record
// Confluent's Python serializers wrote, and the JSON eddy should decode it to.
type interopRecord struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       string          `json:"key"`
	Format    string          `json:"format"`
	Subject   string          `json:"subject"`
	Version   int             `json:"version"`
	Message   string          `json:"message"`
	SchemaID  int             `json:"schema_id"`
	ValueB64  string          `json:"value_b64"`
	Expected  json.RawMessage `json:"expected"`
	line      int
	expectedV any
}

// interopEnv returns the real Kafka, the real registry (Apicurio's Confluent
// API) and the python of the virtualenv with confluent-kafka; without them the
// test skips, except in CI, where it fails.
func interopEnv(t *testing.T) (kafka, registry, python string) {
	t.Helper()
	need := map[string]string{
		"EDDY_TEST_KAFKA":           "scripts/brokers.sh up starts Apache Kafka",
		"EDDY_TEST_SCHEMA_REGISTRY": "scripts/brokers.sh up starts Apicurio Registry (it needs a Java 21+)",
		"EDDY_TEST_INTEROP_PYTHON":  "scripts/interop/venv.sh makes the virtualenv with confluent-kafka and prints its python",
	}
	var missing []string
	for _, k := range []string{"EDDY_TEST_KAFKA", "EDDY_TEST_SCHEMA_REGISTRY", "EDDY_TEST_INTEROP_PYTHON"} {
		if os.Getenv(k) == "" {
			missing = append(missing, k+" ("+need[k]+")")
		}
	}
	if len(missing) > 0 {
		if requireBrokers() {
			t.Fatalf("not set, but CI / EDDY_REQUIRE_BROKERS require the real components: %s", strings.Join(missing, "; "))
		}
		t.Skipf("skipping the interop test with Confluent's serializers: not set: %s", strings.Join(missing, "; "))
	}
	return os.Getenv("EDDY_TEST_KAFKA"), os.Getenv("EDDY_TEST_SCHEMA_REGISTRY"), os.Getenv("EDDY_TEST_INTEROP_PYTHON")
}

// TestSchemaInteropConfluentSerializers: records written by Confluent's own
// Python serializers (AvroSerializer, ProtobufSerializer, JSONSerializer) into
// the real Kafka, their schemas registered in the real registry (Apicurio's
// Confluent API), read back by `eddy tail -o jsonl --schema-registry`: each
// record's value_decoded is the value the producer wrote, field by field, and
// value_schema names the schema it was written with, while the raw bytes stay
// exactly as produced. The Avro topic holds every logical type and records of
// two writer versions; the Protobuf topics a message at index [1] and a nested
// one at [1, 0] whose Money comes from a reference whose subject has an
// incompatible newer version (the pinned version must be used); then JSON Schema.
func TestSchemaInteropConfluentSerializers(t *testing.T) {
	kafka, registry, python := interopEnv(t)

	out := filepath.Join(t.TempDir(), "expected.jsonl")
	prefix := fmt.Sprintf("interop-%d-%d", time.Now().UnixNano(), os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "../../scripts/interop/produce.py",
		"--bootstrap", kafka, "--registry", registry, "--prefix", prefix, "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		t.Fatalf("produce.py: %v\n%s", err, stderr.String())
	}
	// The expectations must agree with Confluent's own deserializers first, so a
	// difference below is eddy's, never a wrong expectation.
	verify := exec.CommandContext(ctx, python, "../../scripts/interop/verify.py", registry, out)
	if b, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("verify.py: %v\n%s", err, b)
	}
	byTopic := readInteropRecords(t, out)
	for _, kind := range []string{"avro", "proto", "proto-nested", "json"} {
		if len(byTopic[prefix+"-"+kind]) == 0 {
			t.Fatalf("produce.py wrote nothing for %s-%s", prefix, kind)
		}
	}

	topics := make([]string, 0, len(byTopic))
	for topic := range byTopic {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	for _, topic := range topics {
		want := byTopic[topic]
		t.Run(strings.TrimPrefix(topic, prefix+"-"), func(t *testing.T) {
			code, stdout, errOut := runEddy(t, nil,
				"tail", "kafka:"+topic, "--brokers", kafka, "--from", "beginning", "--until", "end", "-o", "jsonl",
				"--schema-registry", registry, "--timeout", "30s")
			if code != 0 {
				t.Fatalf("eddy tail exit %d; stderr:\n%s", code, errOut)
			}
			got := map[[2]int64]map[string]json.RawMessage{}
			for i, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("jsonl line %d is not JSON: %v: %.200q", i+1, err, line)
				}
				var p int32
				var o int64
				if json.Unmarshal(m["partition"], &p) != nil || json.Unmarshal(m["offset"], &o) != nil {
					t.Fatalf("jsonl line %d has no partition/offset: %.200q", i+1, line)
				}
				got[[2]int64{int64(p), o}] = m
			}
			if len(got) != len(want) {
				t.Errorf("eddy printed %d records, produce.py wrote %d", len(got), len(want))
			}
			for _, w := range want {
				m, ok := got[[2]int64{int64(w.Partition), w.Offset}]
				if !ok {
					t.Errorf("%s/%d@%d (%s): not in eddy's output", w.Topic, w.Partition, w.Offset, w.Key)
					continue
				}
				checkInteropRecord(t, w, m)
			}
		})
	}
}

// checkInteropRecord compares one jsonl envelope with what produce.py wrote.
func checkInteropRecord(t *testing.T, w interopRecord, m map[string]json.RawMessage) {
	t.Helper()
	where := fmt.Sprintf("%s@%d (key %s, %s %s v%d; expected.jsonl:%d)", w.Topic, w.Offset, w.Key, w.Format, w.Subject, w.Version, w.line)

	// The bytes are kept exactly as today's jsonl carries them: value_b64, or,
	// for valid UTF-8 (a JSON Schema frame is 5 header bytes and JSON text), value
	// as a JSON string.
	produced, _ := base64.StdEncoding.DecodeString(w.ValueB64)
	if raw, ok := envelopeBytes(m); !ok || !bytes.Equal(raw, produced) {
		t.Errorf("%s: the raw value is value=%.80s value_b64=%.80s, want the produced bytes (base64 %s)",
			where, m["value"], m["value_b64"], w.ValueB64)
	}
	// The key is a plain string, not in the wire format: left alone.
	if kd, ok := m["key_decoded"]; ok && string(kd) != "null" {
		t.Errorf("%s: key_decoded = %s for a key that is not schema-encoded", where, kd)
	}

	var ref struct {
		Format  string `json:"format"`
		ID      int    `json:"id"`
		Subject string `json:"subject"`
		Version int    `json:"version"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(m["value_schema"], &ref); err != nil {
		t.Errorf("%s: value_schema = %s: %v", where, m["value_schema"], err)
	}
	if ref.Format != w.Format || ref.ID != w.SchemaID || ref.Subject != w.Subject || ref.Version != w.Version ||
		(w.Message != "" && ref.Message != w.Message) {
		t.Errorf("%s: value_schema = %s, want format %q id %d subject %q version %d message %q",
			where, m["value_schema"], w.Format, w.SchemaID, w.Subject, w.Version, w.Message)
	}

	dec, ok := m["value_decoded"]
	if !ok || string(dec) == "null" {
		t.Errorf("%s: no value_decoded (value_fail %s); envelope keys: %v", where, m["value_fail"], keysOf(m))
		return
	}
	got, err := decodeNumbers(dec)
	if err != nil {
		t.Errorf("%s: value_decoded is not JSON: %v", where, err)
		return
	}
	var diffs []string
	interopDiff(&diffs, "value", w.expectedV, got, w.Format == "avro")
	if len(diffs) > 0 {
		hint := ""
		if all := strings.Join(diffs, " "); w.Format == "protobuf" && (strings.Contains(all, "price") || strings.Contains(all, "total")) {
			hint = "\n(Money comes from eddy/interop/common.proto pinned at the version the records were written with; its subject's latest version is incompatible)"
		}
		t.Errorf("%s: value_decoded differs from what Confluent's serializer wrote:\n  %s\ngot:  %s\nwant: %s%s",
			where, strings.Join(diffs, "\n  "), dec, w.Expected, hint)
	}
}

// envelopeBytes is the raw value a jsonl envelope carries.
func envelopeBytes(m map[string]json.RawMessage) ([]byte, bool) {
	if b64, ok := m["value_b64"]; ok {
		var s string
		if json.Unmarshal(b64, &s) != nil {
			return nil, false
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return b, err == nil
	}
	v, ok := m["value"]
	if !ok {
		return nil, false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return []byte(s), true
	}
	return v, true // a JSON payload, carried as itself
}

func keysOf(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func readInteropRecords(t *testing.T, path string) map[string][]interopRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	by := map[string][]interopRecord{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r interopRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		r.line = n
		if r.expectedV, err = decodeNumbers(r.Expected); err != nil {
			t.Fatalf("%s:%d: expected: %v", path, n, err)
		}
		by[r.Topic] = append(by[r.Topic], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return by
}

// decodeNumbers decodes JSON keeping numbers exact (json.Number): an int64 past
// 2^53 or a decimal must not be rounded through a float64 before comparing.
func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

var (
	decimalRE   = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	instantRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
	localTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$`)
	timeOfDayRE = regexp.MustCompile(`^\d\d:\d\d:\d\d(\.\d+)?$`)
)

// interopDiff appends to diffs where got differs from want, by JSON path.
// Numbers compare by value (1.50 is 1.5). For Avro (lenient), renderings of
// one logical value are equal: a decimal as a string or a number of the same
// value, and times with or without trailing fractional zeros — but an instant
// (with a zone) never equals a local date-time (without), and nothing else is
// forgiven.
func interopDiff(diffs *[]string, path string, want, got any, lenient bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want an object", path, short(got)))
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing (want %s)", path, k, short(wv)))
				continue
			}
			interopDiff(diffs, path+"."+k, wv, gv, lenient)
		}
		for k, gv := range g {
			if _, ok := w[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: %s, which the producer did not write", path, k, short(gv)))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, short(got), short(want)))
			return
		}
		for i := range w {
			interopDiff(diffs, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], lenient)
		}
	case json.Number:
		if gn, ok := got.(json.Number); ok && sameDecimal(string(w), string(gn)) {
			return
		}
		if gs, ok := got.(string); ok && lenient && sameDecimal(string(w), gs) {
			return
		}
		*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, short(got), w))
	case string:
		if g, ok := got.(string); ok && g == w {
			return
		}
		if lenient && sameLogical(w, got) {
			return
		}
		*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %q", path, short(got), w))
	default: // bool, nil
		if got != want {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, short(got), short(want)))
		}
	}
}

func sameDecimal(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// sameLogical: want (an Avro logical value as produce.py renders it) and got
// are the same decimal, instant, local date-time or time of day.
func sameLogical(want string, got any) bool {
	g := ""
	switch v := got.(type) {
	case string:
		g = v
	case json.Number:
		g = string(v)
	default:
		return false
	}
	switch {
	case decimalRE.MatchString(want):
		return decimalRE.MatchString(g) && sameDecimal(want, g)
	case instantRE.MatchString(want):
		if !instantRE.MatchString(g) {
			return false
		}
		a, err1 := time.Parse(time.RFC3339Nano, want)
		b, err2 := time.Parse(time.RFC3339Nano, g)
		return err1 == nil && err2 == nil && a.Equal(b)
	case localTimeRE.MatchString(want):
		const layout = "2006-01-02T15:04:05.999999999"
		a, err1 := time.Parse(layout, want)
		b, err2 := time.Parse(layout, g)
		return localTimeRE.MatchString(g) && err1 == nil && err2 == nil && a.Equal(b)
	case timeOfDayRE.MatchString(want):
		const layout = "15:04:05.999999999"
		a, err1 := time.Parse(layout, want)
		b, err2 := time.Parse(layout, g)
		return timeOfDayRE.MatchString(g) && err1 == nil && err2 == nil && a.Equal(b)
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// TestInteropDiff: the interop comparison forgives only other renderings of the
// same Avro logical value, and finds every other difference.
func TestInteropDiff(t *testing.T) {
	for _, c := range []struct {
		want, got string
		lenient   bool
		diffs     int
	}{
		{`{"a":1.50,"b":"x","c":[1,{"d":null}]}`, `{"c":[1.0,{"d":null}],"b":"x","a":1.5}`, false, 0},
		{`{"n":"9007199254740993"}`, `{"n":"9007199254740992"}`, false, 1},
		{`{"n":9007199254740993}`, `{"n":9007199254740992}`, false, 1},
		{`{"amount":"1234.50"}`, `{"amount":1234.5}`, true, 0},
		{`{"amount":"1234.50"}`, `{"amount":1234.5}`, false, 1},
		{`{"amount":"1234.50"}`, `{"amount":"1234.51"}`, true, 1},
		{`{"ts":"2026-11-23T10:15:30.123Z"}`, `{"ts":"2026-11-23T10:15:30.123000Z"}`, true, 0},
		{`{"ts":"2026-11-23T10:15:30.123Z"}`, `{"ts":"2026-11-23T11:15:30.123+01:00"}`, true, 0},
		{`{"ts":"2026-11-23T10:15:30.123Z"}`, `{"ts":"2026-11-23T10:15:30.124Z"}`, true, 1},
		{`{"local":"2026-11-23T10:15:30.123"}`, `{"local":"2026-11-23T10:15:30.123Z"}`, true, 1},
		{`{"local":"2026-11-23T10:15:30.123"}`, `{"local":"2026-11-23T10:15:30.123000"}`, true, 0},
		{`{"t":"10:15:30.123"}`, `{"t":"10:15:30.123000"}`, true, 0},
		{`{"t":"10:15:30.123"}`, `{"t":"10:15:30"}`, true, 1},
		{`{"ref":"ref-1"}`, `{"ref":{"string":"ref-1"}}`, true, 1},
		{`{"a":1}`, `{"a":1,"extra":2}`, false, 1},
		{`{"a":1,"b":2}`, `{"a":1}`, false, 1},
		{`{"l":[1,2]}`, `{"l":[2,1]}`, false, 2},
		{`{"ok":true}`, `{"ok":"true"}`, true, 1},
	} {
		want, err1 := decodeNumbers([]byte(c.want))
		got, err2 := decodeNumbers([]byte(c.got))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		var diffs []string
		interopDiff(&diffs, "value", want, got, c.lenient)
		if len(diffs) != c.diffs {
			t.Errorf("want %s got %s lenient %v: %d differences %q, want %d", c.want, c.got, c.lenient, len(diffs), diffs, c.diffs)
		}
	}
}
