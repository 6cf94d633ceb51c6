package event

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// extractBoth extracts a payload's fields with the one-pass scanner and with
// gjson alone; they must agree.
func extractBoth(t *testing.T, s *Schema, payload string) {
	t.Helper()
	e := &Event{Transport: Kafka, Topic: "t", Value: []byte(payload)}
	fast := s.Extract(e)
	fastA := s.ExtractAliased(e)
	fastPayload = false
	slow := s.Extract(e)
	fastPayload = true
	if fast != slow || fastA != slow {
		t.Fatalf("payload %q:\nscanner %+v\naliased %+v\ngjson   %+v", payload, fast, fastA, slow)
	}
	// The same payload in an envelope, its fields read from the escaped text.
	var d Decoder
	_, esc, err := d.DecodeFields(AppendEnvelope(nil, e), s)
	if err != nil || esc != slow {
		t.Fatalf("payload %q:\nescaped %+v (%v)\ngjson   %+v", payload, esc, err, slow)
	}
}

func TestTopMembersAgreesWithGJSON(t *testing.T) {
	s := DefaultSchema()
	fixed := []string{
		`{}`, ` { } `, `{"event_id":"e1","type":"T","correlation_id":"c","causation_id":"x","occurred_at":"2026-11-23T10:00:00Z"}`,
		`{"event_id":"e1","event_id":"e2"}`, `{"event_id":null,"id":"i"}`, `{"event_id":{"a":1},"id":"i"}`, `{"event_id":[1,2],"eventId":"x"}`,
		`{"event_id":12,"type":-0.5e3,"correlation_id":true,"causation_id":false}`, `{"event_id":1.0}`, `{"event_id":01}`,
		`{"event_id":"a\"b"}`, `{"ev\u0065nt_id":"x"}`, `{"event_id":"x"} trailing`, `{"event_id":"x",}`, `{"event_id" "x"}`,
		`{"payload":{"event_id":"inner"},"event_id":"outer"}`, `{"a":[{"b":[{"c":{}}]}],"type":"deep"}`, "{\"event_id\":\"a\tb\"}",
		`{"event_id":"x"`, `{"event_id":1x}`, `{"event_id":-}`, `{"event_id":1.}`, `{"event_id":1e}`, `{"event_id":tru}`,
		"{\n\t\"event_id\" : \"spaced\" ,\r\n \"type\":\"T\"\n}", `{"type":"é€𝄞"}`, "{\"type\":\"\xff\"}", `[1,2]`, `"str"`,
		`{"a":"\u12"}`, `{"a":"\q"}`, strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70),
		// Every field settled early, but a first candidate is empty or null:
		// the scan must go on to the next.
		`{"event_id":"","type":"T","correlation_id":"c","causation_id":"x","occurred_at":"2026-11-23T10:00:00Z","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","id":"real"}`,
		`{"type":"T","correlation_id":null,"causation_id":"x","occurred_at":"2026-11-23T10:00:00Z","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","event_id":"e","correlationId":"real"}`,
		`{"event_id":"e","type":"T","correlation_id":"c","causation_id":"x","occurred_at":"2026-11-23T10:00:00Z","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",garbage`,
	}
	for _, p := range fixed {
		extractBoth(t, s, p)
	}
	r := rand.New(rand.NewPCG(13, 14))
	keys := []string{"event_id", "eventId", "id", "type", "event_type", "correlation_id", "causation_id", "occurred_at", "time", "traceparent", "payload", "x"}
	vals := []string{`"v"`, `"2026-11-23T10:00:00.5Z"`, `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`, `12`, `-3.5`, `1e9`, `true`, `false`, `null`,
		`{"k":"v","n":[1,{"m":null}]}`, `[]`, `"esc\"aped"`, `"\u00e9"`, `""`}
	for n := range 40000 {
		var b strings.Builder
		b.WriteString("{")
		members := r.IntN(8)
		if n%2 == 1 {
			// Many members: enough that every field is often settled
			// before the end.
			members = 8 + r.IntN(12)
		}
		for j := range members {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + keys[r.IntN(len(keys))] + `":` + vals[r.IntN(len(vals))])
		}
		b.WriteString("}")
		p := []byte(b.String())
		if r.IntN(3) == 0 && len(p) > 0 { // mutate
			switch r.IntN(3) {
			case 0:
				const junk = "{}[]\",: \\x0-e"
				p[r.IntN(len(p))] = junk[r.IntN(len(junk))]
			case 1:
				p = p[:r.IntN(len(p))]
			case 2:
				q := r.IntN(len(p))
				p = append(p[:q], append([]byte(vals[r.IntN(len(vals))]), p[q:]...)...)
			}
		}
		extractBoth(t, s, string(p))
	}
}

func FuzzTopMembers(f *testing.F) {
	f.Add(`{"event_id":"e1","type":"T","payload":{"a":[1,2]}}`)
	f.Add(`{"event_id":12,"id":null}`)
	s := DefaultSchema()
	f.Fuzz(func(t *testing.T, payload string) {
		extractBoth(t, s, payload)
	})
}

// TestTopKeys: a payload's keys are told apart however alike, short or
// long, by the one-pass scan as by gjson.
func TestTopKeys(t *testing.T) {
	long := "aaaaaaaaXaaaaaaaaa" // 18 bytes: first and last eight do not say all
	s := &Schema{ID: []string{"json:" + long, "json:abcdefghijkl"}, Type: []string{"json:ab", "json:a"}}
	for _, p := range []string{
		`{"aaaaaaaaYaaaaaaaaa":"no","abcdefghXjkl":"no","ab":"T"}`,
		`{"aaaaaaaaXaaaaaaaaa":"yes","a":"t"}`,
		`{"abcdefghijkl":"twelve","b":"x","ab":"T2"}`,
		`{"abcdefghijk":"eleven","ba":"x","a":"t"}`,
	} {
		extractBoth(t, s, p)
	}
}

// TestTopMembersStopsEarly: once every field is settled the scan stops, so
// what follows is not read (here it is not even JSON), while a field whose
// first candidate is empty keeps it going.
func TestTopMembersStopsEarly(t *testing.T) {
	s := DefaultSchema()
	if err := s.Compile(); err != nil {
		t.Fatal(err)
	}
	c := s.compiled
	run := func(payload string) bool {
		js := make([]member, len(c.paths))
		var at [6]int
		st := stopper{c: c, at: &at}
		for field, locs := range c.fields {
			at[field] = len(locs) // no headers: every field is the payload's
			st.open |= 1 << field
		}
		return topMembers(payload, c, js, &st, nil)
	}
	settled := `{"event_id":"e","type":"T","correlation_id":"c","causation_id":"x","occurred_at":"2026-11-23T10:00:00Z","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",`
	if !run(settled + `garbage`) {
		t.Errorf("the scan read past the point where every field was settled")
	}
	if run(strings.Replace(settled, `"event_id":"e"`, `"event_id":""`, 1) + `garbage`) {
		t.Errorf("an empty event_id settled the id: the scan should have gone on (to fail on the garbage)")
	}
}
