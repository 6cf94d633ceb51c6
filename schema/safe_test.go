package schema

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddy-sh/eddy/event"
)

// The Avro codec's JSON is marked event.Decoded.Safe, so the envelope copies
// it without its own pass: that pass must have nothing left to do. Strings
// of every kind a terminal cares about (controls, C1, separators, bidi
// controls, invalid UTF-8), in fields, map keys, unions and bytes, give the
// same envelope whether the envelope trusts the JSON or goes over it again.
func TestAvroJSONIsEnvelopeSafe(t *testing.T) {
	const text = `{"type":"record","name":"R","fields":[
	 {"name":"s","type":"string"},
	 {"name":"u","type":["null","string"]},
	 {"name":"m","type":{"type":"map","values":"string"}},
	 {"name":"a","type":{"type":"array","items":"string"}},
	 {"name":"b","type":"bytes"},
	 {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}`
	r := newRegistry(t)
	id := r.register(t, "t-value", sr.Schema{Schema: text})
	d := newDecoder(t, Config{Registry: &RegistryConfig{URL: r.URL()}})
	s := avro.MustParse(text)
	nasty := []string{
		"plain", "a\x1b[31mb", "\x7f\x00\x1f", "\u0085\u009b2J", "bad\xffutf\xc3", "é\u2028ü\u2029",
		"\u202aleft\u202eright\u2066\u2069\u200e\u200f\u061c", "q\"b\\n\n\t\r", "\ufffd", "日本語 emoji 🎉",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	randStr := func() string {
		if rng.IntN(2) == 0 {
			return nasty[rng.IntN(len(nasty))]
		}
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	for i := range 2000 {
		rec := map[string]any{
			"s": randStr(), "u": nil,
			"m": map[string]any{randStr(): randStr(), randStr(): randStr()},
			"a": []any{randStr(), randStr()},
			"b": []byte(randStr()), "e": "B",
		}
		if i%2 == 0 {
			rec["u"] = randStr()
		}
		body, err := s.Encode(rec)
		if err != nil {
			t.Fatal(err)
		}
		dec := decodeValue(t, d, "t", frame(id, body))
		if dec.Fail != "" || !dec.Safe {
			t.Fatalf("record %d: fail %q, safe %v", i, dec.Fail, dec.Safe)
		}
		e := event.Event{Transport: event.Kafka, Topic: "t", Value: []byte("v"), ValueDecoded: dec}
		trusted := event.AppendEnvelope(nil, &e)
		again := *dec
		again.Safe = false
		e.ValueDecoded = &again
		checked := event.AppendEnvelope(nil, &e)
		if !bytes.Equal(trusted, checked) {
			t.Fatalf("record %d: the envelope changes the codec's JSON:\n trusted %s\n checked %s", i, trusted, checked)
		}
		if !bytes.Contains(trusted, []byte(`"value_decoded":{`)) {
			t.Fatalf("record %d: no value_decoded: %s", i, trusted)
		}
	}
}
