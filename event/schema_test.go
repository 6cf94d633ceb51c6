package event

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDefaultSchema(t *testing.T) {
	s := DefaultSchema()
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		name string
		e    Event
		want Fields
	}{
		{"cloudevents binary", Event{Headers: []Header{{Key: "ce_id", Value: []byte("e1")}, {Key: "ce_type", Value: []byte("OrderPlaced")}, {Key: "ce_time", Value: []byte("2026-11-23T10:00:00Z")}, {Key: "traceparent", Value: []byte(tp)}},
			Value: []byte(`{"event_id":"ignored","correlation_id":"o-1","causation_id":"e0"}`)},
			Fields{ID: "e1", Type: "OrderPlaced", Correlation: "o-1", Causation: "e0", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", OccurredAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
				OccurredAtFrom: "header:ce_time", OccurredAtCoarse: true}},
		{"cloudevents structured", Event{Value: []byte(`{"specversion":"1.0","id":"e2","type":"PaymentFailed","time":"2026-11-23T10:00:01Z","traceparent":"` + tp + `"}`)},
			Fields{ID: "e2", Type: "PaymentFailed", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", OccurredAt: time.Date(2026, 11, 23, 10, 0, 1, 0, time.UTC),
				OccurredAtFrom: "json:time", OccurredAtCoarse: true}},
		{"amqp properties", Event{Transport: AMQP, Properties: &Properties{MessageID: "m1", CorrelationID: "c1", Type: "T"}},
			Fields{ID: "m1", Type: "T", Correlation: "c1"}},
		{"camelCase json", Event{Value: []byte(`{"eventId":"x","eventType":"Y","correlationId":"z","causationId":"w"}`)},
			Fields{ID: "x", Type: "Y", Correlation: "z", Causation: "w"}},
		{"not json", Event{Value: []byte("\x00\x01")}, Fields{}},
		{"bad traceparent", Event{Headers: []Header{{Key: "traceparent", Value: []byte("00-00000000000000000000000000000000-00f067aa0ba902b7-01")}}}, Fields{}},
	}
	for _, tc := range cases {
		if got := s.Extract(&tc.e); got != tc.want {
			t.Errorf("%s: got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestOccurredAtPrecision: a whole-second time (the AMQP timestamp property,
// or a time written without a fraction) yields to a finer one at a later
// location; the location is reported.
func TestOccurredAtPrecision(t *testing.T) {
	s := DefaultSchema()
	sec := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ms := time.Date(2026, 11, 23, 10, 0, 0, 950e6, time.UTC)
	cases := []struct {
		name   string
		e      Event
		want   time.Time
		from   string
		coarse bool
	}{
		{"amqp timestamp, json ms", Event{Transport: AMQP, Properties: &Properties{Timestamp: sec}, Value: []byte(`{"occurred_at":"2026-11-23T10:00:00.950Z"}`)}, ms, "json:occurred_at", false},
		{"amqp timestamp alone", Event{Transport: AMQP, Properties: &Properties{Timestamp: sec}, Value: []byte(`{"x":1}`)}, sec, "property:timestamp", true},
		{"ce_time seconds, json ms", Event{Headers: []Header{{Key: "ce_time", Value: []byte("2026-11-23T10:00:00Z")}}, Value: []byte(`{"time":"2026-11-23T10:00:00.950Z"}`)}, ms, "json:time", false},
		{"ce_time ms wins", Event{Headers: []Header{{Key: "ce_time", Value: []byte("2026-11-23T10:00:00.950Z")}}, Value: []byte(`{"occurred_at":"2026-11-23T10:00:00.100Z"}`)}, ms, "header:ce_time", false},
		{"both seconds: schema order", Event{Headers: []Header{{Key: "ce_time", Value: []byte("2026-11-23T10:00:00Z")}}, Value: []byte(`{"occurred_at":"2026-11-23T10:00:01Z"}`)}, sec, "header:ce_time", true},
	}
	for _, tc := range cases {
		f := s.Extract(&tc.e)
		if !f.OccurredAt.Equal(tc.want) || f.OccurredAtFrom != tc.from || f.OccurredAtCoarse != tc.coarse {
			t.Errorf("%s: %v from %q coarse %v; want %v from %q coarse %v", tc.name, f.OccurredAt, f.OccurredAtFrom, f.OccurredAtCoarse, tc.want, tc.from, tc.coarse)
		}
	}
}

func TestSchemaCompileErrors(t *testing.T) {
	for _, bad := range []string{"nope", "header:", "property:nope", "xml:a"} {
		s := &Schema{ID: []string{bad}}
		if err := s.Compile(); err == nil {
			t.Errorf("Compile(%q) = nil, want an error", bad)
		}
	}
}

func TestSchemaNestedPaths(t *testing.T) {
	s := &Schema{ID: []string{"json:meta.id"}, Correlation: []string{"json:meta.corr", "json:corr"}}
	e := Event{Value: []byte(`{"meta":{"id":"x1"},"corr":"c2"}`)}
	if f := s.Extract(&e); f.ID != "x1" || f.Correlation != "c2" {
		t.Fatalf("got %+v", f)
	}
}

func BenchmarkExtractDefault(b *testing.B) {
	s := DefaultSchema()
	e := Event{Headers: []Header{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}},
		Value: []byte(`{"event_id":"evt-00001","type":"OrderPlaced","occurred_at":"2026-11-23T10:00:00.714Z","correlation_id":"o-0001","data":{"order_id":"o-0001","total":12.5,"items":[1,2,3]}}`)}
	b.ReportAllocs()
	for b.Loop() {
		s.Extract(&e)
	}
}

// parseTraceparentRef is ParseTraceparent as it was first written, plainly:
// the faster one must agree with it.
func parseTraceparentRef(tp string) (traceID, spanID string, ok bool) {
	tp = strings.TrimSpace(tp)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return "", "", false
	}
	hex := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
				return false
			}
		}
		return true
	}
	if tp[:2] == "ff" || !hex(tp[:2]) || !hex(tp[3:35]) || !hex(tp[36:52]) || !hex(tp[53:55]) {
		return "", "", false
	}
	if tp[:2] == "00" && len(tp) != 55 {
		return "", "", false
	}
	if strings.Trim(tp[3:35], "0") == "" || strings.Trim(tp[36:52], "0") == "" {
		return "", "", false
	}
	return tp[3:35], tp[36:52], true
}

func TestParseTraceparentAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	base := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []string{base, " " + base, base + " ", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", base + "-x",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""}
	const chars = "0123456789abcdefABx- g"
	for range 20000 {
		b := []byte(base)
		for range 1 + r.IntN(3) {
			b[r.IntN(len(b))] = chars[r.IntN(len(chars))]
		}
		cases = append(cases, string(b), string(b[:r.IntN(len(b))]), " "+string(b)+" ", string(b)+"-"+string(b[:r.IntN(9)]))
	}
	for _, c := range cases {
		tr, sp, ok := ParseTraceparent(c)
		wtr, wsp, wok := parseTraceparentRef(c)
		if tr != wtr || sp != wsp || ok != wok {
			t.Fatalf("ParseTraceparent(%q) = %q %q %v, want %q %q %v", c, tr, sp, ok, wtr, wsp, wok)
		}
	}
}
