package event

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// checkScan is the Decoder's promise on any line: when its fast path accepts
// the line, the careful decoder accepts it too and decodes the same event.
func checkScan(t *testing.T, line []byte) (fast bool) {
	t.Helper()
	if !noCanonical {
		// And by the general loop alone.
		noCanonical = true
		checkScan(t, line)
		noCanonical = false
	}
	var d Decoder
	keep := bytes.Clone(line)
	compareFields(t, line)
	if !d.scan(line, false) {
		return false
	}
	if !bytes.Equal(keep, line) {
		t.Fatalf("scan modified the line")
	}
	slow, err := decodeEnvelopeJSON(line)
	if err != nil {
		t.Fatalf("fast path accepted a line the careful decoder refuses (%v):\n%q", err, line)
	}
	if !Equal(&d.ev, slow) {
		t.Fatalf("fast and careful decoders disagree on\n%q\nfast    %#v\ncareful %#v", line, d.ev, *slow)
	}
	return true
}

func randomEvent(r *rand.Rand, i int) *Event {
	e := &Event{Transport: Kafka, Topic: "t-" + string(rune('a'+i%26)), Partition: int32(r.IntN(8)) - 1, Offset: r.Int64N(1<<40) - 2,
		Timestamp: time.Unix(r.Int64N(1<<34), 0).Add(time.Duration(r.IntN(1e9))).UTC()}
	switch i % 3 {
	case 0:
		e.Timestamp = e.Timestamp.Truncate(time.Millisecond)
	case 1:
		e.Timestamp = time.Time{}
	}
	text := func(n int) []byte {
		// printable, escapes, controls, non-ASCII and terminal-unsafe runes
		parts := []string{"a", "Z", "0", " ", `"`, `\`, "/", "\n", "\t", "\x00", "\x1b", "é", "€", "𝄞", "\u2028", "\u202e", "\u0085", "{", "}"}
		var b []byte
		for range n {
			b = append(b, parts[r.IntN(len(parts))]...)
		}
		return b
	}
	pick := func() []byte {
		switch r.IntN(5) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return randBytes(r, r.IntN(30)) // mostly invalid UTF-8: base64
		default:
			return text(r.IntN(40))
		}
	}
	e.Key, e.Value = pick(), pick()
	for range r.IntN(4) {
		h := Header{Key: string(text(r.IntN(8))), Value: pick()}
		e.Headers = append(e.Headers, h)
	}
	if i%7 == 3 {
		// A schema's decoding, beside the bytes.
		e.ValueDecoded = &Decoded{JSON: []byte(`{"id":` + strconvQuote(text(r.IntN(6))) + `,"n":[1,{"x":null}]}`),
			Schema: SchemaRef{Format: "avro", ID: r.IntN(9), Subject: string(text(3)), Version: r.IntN(3)}}
		if r.IntN(3) == 0 {
			e.KeyDecoded = &Decoded{Fail: FailUnknownSchema}
		}
	}
	if i%5 == 4 {
		e.Transport, e.Topic, e.Partition = AMQP, "", 0
		e.Queue, e.Exchange, e.RoutingKey = string(text(5)), "ex", "rk."+string(text(3))
		e.Redelivered = r.IntN(2) == 0
		if r.IntN(2) == 0 {
			e.Offset = -1
		}
	}
	return e
}

// TestDecoderAgreesRandom: on every envelope eddy writes (no AMQP typed
// headers or properties), the fast path is taken and agrees with the careful
// decoder.
func TestDecoderAgreesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var d Decoder
	for i := range 5000 {
		e := randomEvent(r, i)
		line := AppendEnvelope(nil, e)
		if !checkScan(t, line) {
			t.Fatalf("fast path refused eddy's own line %q", line)
		}
		got, err := d.Decode(line)
		if err != nil || !Equal(got, e) {
			t.Fatalf("Decode(%q) = %#v, %v; want %#v", line, got, err, e)
		}
		if i%100 == 0 {
			d.Reset()
		}
	}
}

// TestDecoderHostile mutates envelopes (flipped, inserted and deleted bytes,
// truncation, repeated and reordered keys, whitespace, odd numbers and
// escapes): whatever the fast path accepts, the careful decoder decodes the
// same, and what it refuses Decode still decodes or rejects as the careful
// path does.
func TestDecoderHostile(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fixed := []string{
		`{"v":1,"transport":"kafka","topic":"t","topic":"u"}`,
		`{"v":1,"transport":"kafka","Topic":"t"}`,
		`{"v":1,"transport":"kafka","partition":01}`,
		`{"v":1,"transport":"kafka","partition":1.0}`,
		`{"v":1,"transport":"kafka","partition":2147483648}`,
		`{"v":1,"transport":"kafka","offset":-0}`,
		`{"v":1,"transport":"kafka","offset":99999999999999999999}`,
		`{"v":1,"transport":"kafka","key":"a\ud800b"}`,
		`{"v":1,"transport":"kafka","key":"a\ud83d\ude00"}`,
		`{"v":1,"transport":"kafka","key":"\u00e9\u0000"}`,
		"{\"v\":1,\"transport\":\"kafka\",\"key\":\"\xff\"}",
		"{\"v\":1,\"transport\":\"kafka\",\"key\":\"a\x01\"}",
		`{"v":1,"transport":"kafka","key":null,"key_b64":"AA=="}`,
		`{"v":1,"transport":"kafka","key":"x","key_b64":"AA=="}`,
		`{"v":1,"transport":"kafka","key_b64":null}`,
		`{"v":1,"transport":"kafka","key_b64":"A\nA=="}`,
		`{"v":1,"transport":"kafka","key_b64":""}`,
		`{"v":1,"transport":"kafka","headers":[{"key":"a"}]}`,
		`{"v":1,"transport":"kafka","headers":[{"key":"a","value_b64":""}]}`,
		`{"v":1,"transport":"kafka","headers":[{"key":"a","value":""},]}`,
		`{"v":1,"transport":"kafka","headers":null}`,
		`{"v":1,"transport":"kafka","timestamp":""}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-30T00:00:00Z"}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-28T24:00:00Z"}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-28T23:59:60Z"}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-28T23:59:59.1234567891Z"}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-28T23:59:59.Z"}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-28t23:59:59Z"}`,
		`{"v":1,"transport":"kafka","timestamp":"2026-02-28T23:59:59+01:00"}`,
		`{"v":1,"transport":"kafka"}}`,
		`{"v":1,"transport":"kafka"} `,
		` {"v":1,"transport":"kafka"}`,
		`{"v":1 ,"transport":"kafka"}`,
		`{"v":1,"transport":"kafka","redelivered":null}`,
		`{"v":1,"transport":"amqp","queue":"q","properties":{"type":"X"}}`,
		`{"v":1,"transport":"kafka","value":"\/\b\f\r\t\"\\"}`,
		`{"transport":"kafka","v":1}`,
		`{"v":1}`,
		`{}`,
		`{"v":2,"transport":"kafka"}`,
	}
	for _, l := range fixed {
		checkScan(t, []byte(l))
		compareDecode(t, []byte(l))
	}
	for i := range 20000 {
		line := AppendEnvelope(nil, randomEvent(r, i))
		for range 1 + r.IntN(3) {
			line = mutate(r, line)
		}
		checkScan(t, line)
		compareDecode(t, line)
	}
}

// compareDecode: Decoder.Decode and DecodeEnvelope agree, errors included.
func compareDecode(t *testing.T, line []byte) {
	t.Helper()
	var d Decoder
	got, err := d.Decode(line)
	want, werr := DecodeEnvelope(line)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("Decode(%q): error %v, DecodeEnvelope: %v", line, err, werr)
	}
	if err == nil && !Equal(got, want) {
		t.Fatalf("Decode(%q) = %#v, DecodeEnvelope %#v", line, got, want)
	}
}

// compareFields: Decoder.DecodeFields returns what DecodeEnvelope and
// ExtractAliased give, errors included; its Event differs only by a nil
// Value when the fields were read from the escaped payload, which then
// unescapes to the careful decoder's Value.
func compareFields(t *testing.T, line []byte) {
	t.Helper()
	s := DefaultSchema()
	var d Decoder
	got, f, err := d.DecodeFields(line, s)
	want, werr := DecodeEnvelope(line)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("DecodeFields(%q): error %v, DecodeEnvelope: %v", line, err, werr)
	}
	if err != nil {
		return
	}
	if wf := s.Extract(want); f != wf {
		t.Fatalf("DecodeFields(%q) fields\n%+v, want\n%+v", line, f, wf)
	}
	if got.Value == nil && want.Value != nil {
		if d.raw == nil || !bytes.Equal(appendUnquoted(nil, d.raw), want.Value) {
			t.Fatalf("DecodeFields(%q): Value nil, raw %q; want Value %q", line, d.raw, want.Value)
		}
		g := *got
		g.Value = want.Value
		got = &g
	}
	if !Equal(got, want) {
		t.Fatalf("DecodeFields(%q) = %#v, DecodeEnvelope %#v", line, got, want)
	}
}

// TestQuotedOnly: the word-at-a-time reader of strings whose only escapes
// are \" accepts exactly those (as str reads them), at every alignment.
func TestQuotedOnly(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	parts := []string{"a", "b", `\"`, `\"`, `\"`, `\\`, `\n`, `\u0041`, `"`, "\x01", "\x7f", "é", "\xff", "\xe2\x82", `\`, " "}
	for range 50000 {
		var b strings.Builder
		b.WriteString(strings.Repeat("x", r.IntN(9)) + `"`)
		for range r.IntN(30) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		if r.IntN(4) > 0 {
			b.WriteString(`"`)
		}
		b.WriteString(strings.Repeat("y", r.IntN(3)))
		line := []byte(b.String())
		i := bytes.IndexByte(line, '"')
		var d Decoder
		s, send, sok := d.str(line, i)
		end, esc, ok := quotedOnly(line, i)
		if !ok {
			if sok && onlyQuoteEscapes(line[i+1:send-1]) {
				t.Fatalf("quotedOnly(%q) refused a string whose only escapes are \\\"", line)
			}
			continue
		}
		if !sok || send != end {
			t.Fatalf("quotedOnly(%q) = %d, %v; str %d, %v", line, end, ok, send, sok)
		}
		raw := line[i+1 : end-1]
		if esc != bytes.Contains(raw, []byte(`\`)) || !bytes.Equal(appendUnquoted(nil, raw), s) {
			t.Fatalf("quotedOnly(%q): esc %v, unquoted %q; str %q", line, esc, appendUnquoted(nil, raw), s)
		}
		if !onlyQuoteEscapes(raw) {
			t.Fatalf("quotedOnly(%q) accepted another escape", line)
		}
	}
}

// onlyQuoteEscapes: the slow reference, a string's text whose every
// backslash is that of a \".
func onlyQuoteEscapes(raw []byte) bool {
	for j := 0; j < len(raw); j++ {
		if raw[j] == '\\' {
			if j+1 >= len(raw) || raw[j+1] != '"' {
				return false
			}
			j++
		}
	}
	return true
}

func mutate(r *rand.Rand, line []byte) []byte {
	l := bytes.Clone(line)
	tokens := []string{`"`, `\`, `\u`, `\ud800`, `,`, `:`, `{`, `}`, `[`, `]`, ` `, "null", "0", "-", "1e3", "\xff", "\x00",
		`,"topic":"x"`, `,"v":1`, `"key":`, `,"value_b64":"AA=="`, `,"headers":[]`, `,"properties":{}`, `{"key":"k","type":"int8","value":1}`}
	switch r.IntN(6) {
	case 0: // flip a byte
		if len(l) > 0 {
			l[r.IntN(len(l))] = byte(r.UintN(256))
		}
	case 1: // insert a token
		p := r.IntN(len(l) + 1)
		tok := tokens[r.IntN(len(tokens))]
		l = append(l[:p], append([]byte(tok), l[p:]...)...)
	case 2: // delete a run
		if len(l) > 0 {
			p := r.IntN(len(l))
			q := min(len(l), p+1+r.IntN(8))
			l = append(l[:p], l[q:]...)
		}
	case 3: // truncate
		l = l[:r.IntN(len(l)+1)]
	case 4: // repeat a field
		if p := bytes.IndexByte(l, ','); p > 0 {
			q := bytes.IndexByte(l[p+1:], ',')
			if q > 0 {
				l = append(l[:len(l)-1], append(bytes.Clone(l[p:p+1+q]), '}')...)
			}
		}
	case 5: // swap two byte positions
		if len(l) > 1 {
			a, b := r.IntN(len(l)), r.IntN(len(l))
			l[a], l[b] = l[b], l[a]
		}
	}
	return l
}

// FuzzDecoder: the fast path never accepts a line the careful decoder reads
// differently, and never panics.
func FuzzDecoder(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 20 {
		f.Add(AppendEnvelope(nil, randomEvent(r, i)))
	}
	f.Add([]byte(`{"v":1,"transport":"kafka","headers":[{"key":"a","value":"\u00e9"}],"value":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		checkScan(t, line)
		compareDecode(t, line)
	})
}

// TestParseTimeAgrees: the hand-rolled parser returns what time.Parse does.
func TestParseTimeAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := []string{"2026-11-23T10:00:00Z", "2026-11-23T10:00:00.1Z", "0000-01-01T00:00:00Z", "9999-12-28T23:59:59.999999999Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
		"2026-01-31T00:00:00Z", "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00.0000000001Z", "2026-11-23 10:00:00Z", "+026-11-23T10:00:00Z",
		"2026-11-23T10:00:00.1a1Z", "2026-11-23T10:00:00,1Z", "2026-11-23T10:00:00.123+02:00", "2026-11-2aT10:00:00Z"}
	for range 2000 {
		tm := time.Unix(r.Int64N(1<<36)-1<<35, int64(r.IntN(1e9))).UTC()
		cases = append(cases, tm.Format(time.RFC3339Nano), tm.Format(time.RFC3339), FormatTime(tm))
	}
	for _, s := range cases {
		got, err := ParseTime(s)
		want, werr := time.Parse(time.RFC3339Nano, s)
		if (err == nil) != (werr == nil) || err == nil && (got != want) {
			t.Errorf("ParseTime(%q) = %v, %v; time.Parse %v, %v", s, got, err, want, werr)
		}
	}
}

func benchLine() []byte {
	e := &Event{Transport: Kafka, Topic: "orders", Partition: 3, Offset: 123456, Timestamp: time.Now(), Key: []byte("order-123"),
		Headers: []Header{{Key: "ce_type", Value: []byte("OrderPlaced")}, {Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}},
		Value:   []byte(`{"event_id":"evt-00001","type":"OrderPlaced","occurred_at":"2026-11-23T10:00:00.714Z","correlation_id":"o-0001","payload":{"order_id":"o-0001","customer":{"id":"c-1","name":"Customer 1"},"amount":12.5,"currency":"EUR"}}`)}
	return AppendEnvelope(nil, e)
}

func BenchmarkDecoder(b *testing.B) {
	line := benchLine()
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		d.Reset()
		if _, err := d.Decode(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFields: Decode and ExtractAliased in one, the fields read
// from the escaped payload, against the two one after the other.
func BenchmarkDecodeFields(b *testing.B) {
	line := benchLine()
	s := DefaultSchema()
	for _, c := range []struct {
		name   string
		decode func(*Decoder) (Fields, error)
	}{
		{"DecodeFields", func(d *Decoder) (Fields, error) { _, f, err := d.DecodeFields(line, s); return f, err }},
		{"Decode+ExtractAliased", func(d *Decoder) (Fields, error) {
			e, err := d.Decode(line)
			if err != nil {
				return Fields{}, err
			}
			return s.ExtractAliased(e), nil
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var d Decoder
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				d.Reset()
				if f, err := c.decode(&d); err != nil || f.Correlation != "o-0001" {
					b.Fatal(err, f)
				}
			}
		})
	}
}

// TestDecodeFieldsFastPaths: on the line eddy writes for a JSON payload, the
// fast paths are the ones taken — the canonical layout, the line index
// where the CPU has AVX2, the payload's fields from its escaped text (Value
// left nil) — not only paths that agree with them.
func TestDecodeFieldsFastPaths(t *testing.T) {
	line := benchLine()
	s := DefaultSchema()
	var d Decoder
	if !d.canonical(line, true) {
		t.Fatalf("canonical refused eddy's own line %q", line)
	}
	e, f, err := d.DecodeFields(line, s)
	if err != nil {
		t.Fatal(err)
	}
	if e.Value != nil {
		t.Errorf("DecodeFields unescaped the payload (Value %q): the escaped text should have settled the fields", e.Value)
	}
	want := Fields{ID: "evt-00001", Type: "OrderPlaced", Correlation: "o-0001", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		OccurredAt: time.Date(2026, 11, 23, 10, 0, 0, 714e6, time.UTC), OccurredAtFrom: "json:occurred_at"}
	if f != want {
		t.Errorf("fields %+v, want %+v", f, want)
	}
}

func strconvQuote(b []byte) string { return string(AppendJSONString(nil, string(b))) }
