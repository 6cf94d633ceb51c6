package trace

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// ev builds a shop-like event: JSON ids, occurred_at at the given offset from t0.
func ev(topic string, part int32, off int64, id, typ, corr, cause string, at time.Duration, headers ...string) event.Event {
	v := fmt.Sprintf(`{"event_id":%q,"type":%q,"occurred_at":%q,"correlation_id":%q`, id, typ, t0.Add(at).Format(time.RFC3339Nano), corr)
	if id == "" {
		v = fmt.Sprintf(`{"type":%q,"occurred_at":%q,"correlation_id":%q`, typ, t0.Add(at).Format(time.RFC3339Nano), corr)
	}
	if cause != "" {
		v += fmt.Sprintf(`,"causation_id":%q`, cause)
	}
	v += "}"
	e := event.Event{Transport: event.Kafka, Topic: topic, Partition: part, Offset: off, Timestamp: t0.Add(at), Value: []byte(v), Key: []byte(corr)}
	for i := 0; i+1 < len(headers); i += 2 {
		e.Headers = append(e.Headers, event.Header{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return e
}

// fakeClock is advanced by tests; nothing sleeps.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time       { return c.now }
func (c *fakeClock) Add(d time.Duration)  { c.now = c.now.Add(d) }
func newClock() *fakeClock                { return &fakeClock{now: t0} }
func collect(fs *[]*Flow) func(*Flow)     { return func(f *Flow) { *fs = append(*fs, f) } }
func correlate(evs []event.Event) []*Flow { return correlateWith(Config{}, evs) }
func correlateWith(cfg Config, evs []event.Event) []*Flow {
	var out []*Flow
	cfg.OnFlow = collect(&out)
	c := NewCorrelator(cfg)
	for i := range evs {
		c.Add(&evs[i])
	}
	c.Flush()
	return out
}

func types(f *Flow) string {
	var s []string
	for _, st := range f.Steps {
		s = append(s, st.Type)
	}
	return strings.Join(s, ",")
}

// TestPercentilesExact: hops of 1..100 ms give p50 50, p90 90, p99 99, max 100
// exactly, whatever order the flows arrive in.
func TestPercentilesExact(t *testing.T) {
	var evs []event.Event
	for i := 1; i <= 100; i++ {
		corr := fmt.Sprintf("o-%d", i)
		start := time.Duration(i) * time.Second
		evs = append(evs,
			ev("orders", 0, int64(i), "a"+corr, "OrderPlaced", corr, "", start),
			ev("payments", 1, int64(i), "b"+corr, "PaymentAuthorized", corr, "a"+corr, start+time.Duration(i)*time.Millisecond))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	st := NewStats(nil)
	for _, f := range correlate(evs) {
		st.Add(f)
	}
	r := st.Report(nil)
	if len(r.Edges) != 1 || len(r.SourceEdges) != 1 {
		t.Fatalf("edges %+v source edges %+v", r.Edges, r.SourceEdges)
	}
	for _, e := range []EdgeReport{r.Edges[0], r.SourceEdges[0]} {
		if e.Count != 100 || e.P50MS != 50 || e.P90MS != 90 || e.P99MS != 99 || e.MaxMS != 100 || e.Skew != 0 {
			t.Errorf("edge %+v: want count 100, p50 50, p90 90, p99 99, max 100", e)
		}
	}
	if r.Edges[0].From != "OrderPlaced" || r.Edges[0].To != "PaymentAuthorized" || r.SourceEdges[0].From != "orders" || r.SourceEdges[0].To != "payments" {
		t.Errorf("edge names: %+v %+v", r.Edges[0], r.SourceEdges[0])
	}
	if r.Flows.Total != 100 || r.Flows.Complete != 100 || r.Types["OrderPlaced"] != 100 {
		t.Errorf("flows %+v types %v", r.Flows, r.Types)
	}
}

// TestOutOfOrderArrival: events read out of order across topics and partitions
// come out in event-time order, with hops from their causes.
func TestOutOfOrderArrival(t *testing.T) {
	evs := []event.Event{
		ev("shipping", 2, 7, "e4", "OrderShipped", "o-1", "e3", 400*time.Millisecond),
		ev("payments", 1, 3, "e2", "PaymentAuthorized", "o-1", "e1", 100*time.Millisecond),
		ev("inventory", 0, 9, "e3", "StockReserved", "o-1", "e2", 250*time.Millisecond),
		ev("orders", 1, 5, "e1", "OrderPlaced", "o-1", "", 0),
	}
	fs := correlate(evs)
	if len(fs) != 1 {
		t.Fatalf("%d flows, want 1", len(fs))
	}
	f := fs[0]
	if got := types(f); got != "OrderPlaced,PaymentAuthorized,StockReserved,OrderShipped" {
		t.Fatalf("order %s", got)
	}
	want := []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond}
	for i, h := range f.Hops {
		if h.From != i || h.To != i+1 || h.Latency != want[i] || h.Basis != FromCausation || h.Skew {
			t.Errorf("hop %d: %+v, want from %d latency %v by causation", i, h, i, want[i])
		}
	}
	if f.KeyKind != ByCorrelation || f.Key != "o-1" {
		t.Errorf("key %s %s", f.KeyKind, f.Key)
	}
}

// TestDuplicatesAndDeadLetters: the same id on the same topic is one step
// with a duplicate count (a retry, a redrive); a copy on a DLT is a
// dead-letter hop with the error its framework recorded.
func TestDuplicatesAndDeadLetters(t *testing.T) {
	evs := []event.Event{
		ev("orders", 0, 1, "e1", "OrderPlaced", "o-1", "", 0),
		ev("payments.DLT", 0, 0, "e1", "OrderPlaced", "o-1", "", 2*time.Second,
			convention.SpringExceptionMessage, "Listener failed; acme-pay: timeout", convention.SpringExceptionFQCN, "org.springframework.kafka.listener.ListenerExecutionFailedException",
			convention.SpringExceptionCauseFQCN, "com.example.PaymentGatewayException", convention.SpringOriginalTopic, "orders"),
		ev("orders", 0, 9, "e1", "OrderPlaced", "o-1", "", 0), // redriven
		ev("payments", 0, 3, "e2", "PaymentAuthorized", "o-1", "e1", 3*time.Second),
	}
	evs[1].Timestamp = t0.Add(2 * time.Second)
	f := correlate(evs)[0]
	if got := types(f); got != "OrderPlaced,OrderPlaced,PaymentAuthorized" {
		t.Fatalf("steps %s", got)
	}
	if f.Steps[0].Duplicates != 1 || f.Steps[0].Offset != 1 {
		t.Errorf("original: %+v, want 1 duplicate, offset 1", f.Steps[0])
	}
	d := f.Steps[1].DeadLetter
	if d == nil || d.Convention != "spring" || d.Error != "Listener failed; acme-pay: timeout" || d.Class != "com.example.PaymentGatewayException" || d.Origin != "orders" {
		t.Fatalf("dead letter %+v", d)
	}
	if f.Hops[0].Basis != FromDeadLetter || f.Hops[0].From != 0 || f.Hops[0].To != 1 || f.Hops[0].Latency != 2*time.Second {
		t.Errorf("DLQ hop %+v", f.Hops[0])
	}
	if h := f.Hops[1]; h.Basis != FromCausation || h.From != 0 || h.Latency != 3*time.Second {
		t.Errorf("hop after redrive %+v", h)
	}
	if !f.DeadLettered() || f.LastStep().Type != "PaymentAuthorized" {
		t.Errorf("dead-lettered %v last %v", f.DeadLettered(), f.LastStep())
	}
	st := NewStats(nil)
	st.Add(f)
	r := st.Report(nil)
	if r.Events.Total != 4 || r.Events.Duplicates != 1 || r.Flows.DeadLettered != 1 || r.Types["OrderPlaced"] != 1 {
		t.Errorf("report %+v", r)
	}
}

func TestDeadLetterConventions(t *testing.T) {
	connect := ev("inventory-dlq", 0, 0, "e1", "PaymentAuthorized", "o", "", 0,
		convention.ConnectExceptionMessage, "Reservation failed", convention.ConnectExceptionClass, "com.example.OutOfStockException", convention.ConnectTopic, "payments")
	if d := DeadLetterOf(&connect); d == nil || d.Convention != "connect" || d.Error != "Reservation failed" || d.Class != "com.example.OutOfStockException" || d.Origin != "payments" {
		t.Errorf("connect: %+v", d)
	}
	x := event.Event{Transport: event.AMQP, Queue: "shop.payments.dlq", Offset: -1, Headers: []event.Header{{Key: "x-death", Value: []byte("…"),
		Typed: []any{map[string]any{"reason": "rejected", "queue": "shop.payments.inbox", "count": int64(1)}}}}}
	if d := DeadLetterOf(&x); d == nil || d.Convention != "x-death" || d.Error != "rejected" || d.Origin != "shop.payments.inbox" {
		t.Errorf("x-death: %+v", d)
	}
	named := ev("orders-dlq", 0, 0, "e", "T", "o", "", 0)
	if d := DeadLetterOf(&named); d == nil || d.Convention != "name" {
		t.Errorf("by name: %+v", d)
	}
	plain := ev("orders", 0, 0, "e", "T", "o", "", 0)
	if d := DeadLetterOf(&plain); d != nil {
		t.Errorf("plain event is a dead letter: %+v", d)
	}
}

// TestDeadLettersAsDLQReads: a timeline marks as dead letters exactly the
// messages eddy dlq lists as such — cases where trace's own reading once
// disagreed with dlq's.
func TestDeadLettersAsDLQReads(t *testing.T) {
	for _, tc := range []struct {
		name       string
		e          event.Event
		convention string // "" when not a dead letter
	}{
		{"spring, origin header only", ev("orders", 0, 0, "e", "T", "o", "", 0, convention.SpringOriginalTopic, "payments"), "spring"},
		{"connect, origin topic only", ev("orders", 0, 0, "e", "T", "o", "", 0, convention.ConnectTopic, "payments"), "connect"},
		{"dead-letter inside the name", ev("shop.dead-letter.v2", 0, 0, "e", "T", "o", "", 0), "name"},
		{"dlq. prefix", ev("dlq.orders", 0, 0, "e", "T", "o", "", 0), "name"},
		{"headers that only look alike", ev("orders", 0, 0, "e", "T", "o", "", 0, "kafka_dlt-nothing", "x", "x-trace", "y"), ""},
	} {
		d := DeadLetterOf(&tc.e)
		_, byHeaders := convention.Read(&tc.e)
		dlqSays := byHeaders || convention.DefaultNaming().Is(tc.e.Source())
		switch {
		case (d != nil) != dlqSays:
			t.Errorf("%s: trace says %+v, dlq says dead letter %v", tc.name, d, dlqSays)
		case d == nil && tc.convention != "":
			t.Errorf("%s: not a dead letter, want %s", tc.name, tc.convention)
		case d != nil && d.Convention != tc.convention:
			t.Errorf("%s: convention %q, want %q", tc.name, d.Convention, tc.convention)
		}
	}
}

// TestSkew: an effect stamped before its cause is a negative hop flagged as
// skew, counted apart, never clamped to zero.
func TestSkew(t *testing.T) {
	evs := []event.Event{
		ev("orders", 0, 0, "e1", "OrderPlaced", "o-1", "", 100*time.Millisecond),
		ev("payments", 0, 0, "e2", "PaymentAuthorized", "o-1", "e1", 70*time.Millisecond),
	}
	f := correlate(evs)[0]
	if len(f.Hops) != 1 || f.Hops[0].Latency != -30*time.Millisecond || !f.Hops[0].Skew || f.Hops[0].Basis != FromCausation {
		t.Fatalf("hops %+v", f.Hops)
	}
	j := f.JSON(nil)
	if h := j.Events[0].Hop; h == nil || j.Events[0].Type != "PaymentAuthorized" || h.LatencyMS != -30 || !h.Skew {
		t.Errorf("json hop %+v", h)
	}
	st := NewStats(nil)
	st.Add(f)
	e := st.Report(nil).Edges[0]
	if e.Count != 1 || e.Skew != 1 || e.MinSkewMS != -30 || e.P50MS != 0 || e.MaxMS != 0 {
		t.Errorf("edge %+v", e)
	}
}

// TestNoID: an event without any id is still a step, known by its origin;
// without a cause the hop is from the previous event.
func TestNoID(t *testing.T) {
	evs := []event.Event{
		ev("orders", 0, 0, "e1", "OrderPlaced", "o-1", "", 0),
		ev("audit", 2, 41, "", "Audited", "o-1", "", 5*time.Millisecond),
		{Transport: event.Kafka, Topic: "raw", Partition: 1, Offset: 7, Timestamp: t0, Value: []byte("not json")},
	}
	fs := correlate(evs)
	if len(fs) != 2 {
		t.Fatalf("%d flows", len(fs))
	}
	var withID, orphan *Flow
	for _, f := range fs {
		if f.Key == "o-1" {
			withID = f
		} else {
			orphan = f
		}
	}
	if withID == nil || len(withID.Steps) != 2 || withID.Steps[1].Origin() != "audit[2]@41" || withID.Hops[0].Basis != FromPrevious ||
		withID.Hops[0].Latency != 5*time.Millisecond {
		t.Fatalf("flow with an id-less step: %+v", withID)
	}
	if orphan == nil || orphan.KeyKind != ByOrigin || orphan.Key != "raw[1]@7" || orphan.JSON(nil).Events[0].Origin != "raw[1]@7" {
		t.Fatalf("id-less event: %+v", orphan)
	}
}

// TestCausationChainAndTrace: events without correlation join by trace id,
// and without either by their causation chain.
func TestCausationChainAndTrace(t *testing.T) {
	tp := func(span string) []string {
		return []string{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-" + span + "-01"}
	}
	mk := func(topic, id, typ, cause string, at time.Duration, h ...string) event.Event {
		v := fmt.Sprintf(`{"event_id":%q,"type":%q`, id, typ)
		if cause != "" {
			v += fmt.Sprintf(`,"causation_id":%q`, cause)
		}
		e := event.Event{Transport: event.Kafka, Topic: topic, Timestamp: t0.Add(at), Value: []byte(v + "}")}
		for i := 0; i+1 < len(h); i += 2 {
			e.Headers = append(e.Headers, event.Header{Key: h[i], Value: []byte(h[i+1])})
		}
		return e
	}
	fs := correlate([]event.Event{
		mk("a", "x1", "A", "", 0, tp("b7ad6b7169203331")...),
		mk("b", "x2", "B", "", 10*time.Millisecond, tp("b7ad6b7169203331")...),
		mk("c", "y1", "C", "", 0),
		mk("d", "y2", "D", "y1", 20*time.Millisecond),
		mk("e", "y3", "E", "y2", 50*time.Millisecond),
	})
	if len(fs) != 2 {
		t.Fatalf("%d flows, want 2", len(fs))
	}
	for _, f := range fs {
		switch f.KeyKind {
		case ByTrace:
			if f.Key != "0af7651916cd43dd8448eb211c80319c" || types(f) != "A,B" || f.Hops[0].Basis != FromSpan {
				t.Errorf("trace flow %s %s %+v", f.Key, types(f), f.Hops)
			}
		case ByEvent:
			if f.Key != "y1" || types(f) != "C,D,E" || f.Hops[1].Latency != 30*time.Millisecond || !f.Matches("y3") {
				t.Errorf("causation flow %s %s %+v", f.Key, types(f), f.Hops)
			}
		default:
			t.Errorf("flow keyed by %s", f.KeyKind)
		}
	}
}

// TestEviction: a flow idle longer than the timeout is finalised and its
// memory released; an active one stays.
func TestEviction(t *testing.T) {
	clk := newClock()
	var done []*Flow
	c := NewCorrelator(Config{Timeout: time.Minute, Clock: clk.Now, OnFlow: collect(&done)})
	for i := range 1000 {
		e := ev("orders", 0, int64(i), fmt.Sprintf("e%d", i), "OrderPlaced", fmt.Sprintf("o-%d", i), "", 0)
		c.Add(&e)
	}
	clk.Add(30 * time.Second)
	e := ev("payments", 0, 0, "p0", "PaymentAuthorized", "o-0", "e0", time.Second)
	c.Add(&e) // keeps o-0 alive
	if n := c.Expire(); n != 0 || c.Len() != 1000 {
		t.Fatalf("expired %d before the timeout; %d open", n, c.Len())
	}
	clk.Add(31 * time.Second)
	if n := c.Expire(); n != 999 || c.Len() != 1 || len(done) != 999 {
		t.Fatalf("expired %d, %d open, %d reported; want 999, 1, 999", n, c.Len(), len(done))
	}
	clk.Add(time.Minute)
	c.Expire()
	if c.Len() != 0 || len(c.alias) != 0 || c.head != nil || c.tail != nil || len(done) != 1000 {
		t.Fatalf("after all idle: %d open, %d aliases", c.Len(), len(c.alias))
	}
	if last := done[999]; last.Key != "o-0" || len(last.Steps) != 2 {
		t.Errorf("last finalised %s with %d steps", last.Key, len(last.Steps))
	}
}

// TestBigFlowDuplicates: duplicate detection stays right past the index
// threshold.
func TestBigFlowDuplicates(t *testing.T) {
	var evs []event.Event
	for round := range 2 {
		for i := range 100 {
			evs = append(evs, ev("t", 0, int64(round*100+i), fmt.Sprintf("e%d", i), "T", "big", "", time.Duration(i)*time.Millisecond))
		}
	}
	f := correlate(evs)[0]
	if len(f.Steps) != 100 {
		t.Fatalf("%d steps, want 100", len(f.Steps))
	}
	for _, s := range f.Steps {
		if s.Duplicates != 1 {
			t.Fatalf("step %s: %d duplicates", s.ID, s.Duplicates)
		}
	}
}

func TestDefinitions(t *testing.T) {
	d, err := ParseDefinition("OrderPlaced -> PaymentAuthorized→StockReserved")
	if err != nil || d.String() != "OrderPlaced -> PaymentAuthorized -> StockReserved" {
		t.Fatalf("%v %v", d, err)
	}
	for _, bad := range []string{"", "A", "A -> ", "A B -> C"} {
		if _, err := ParseDefinition(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	f := correlate([]event.Event{
		ev("orders", 0, 0, "e1", "OrderPlaced", "o", "", 0),
		ev("payments", 0, 0, "e2", "PaymentAuthorized", "o", "e1", time.Millisecond),
	})[0]
	if m := f.Missing(Match(f, []Definition{d})); m != "StockReserved" || f.Complete([]Definition{d}) {
		t.Errorf("missing %q", m)
	}
	st := NewStats([]Definition{d})
	st.Add(f)
	if r := st.Report(nil); r.Flows.Complete != 0 || r.Flows.Incomplete != 1 {
		t.Errorf("flows %+v", r.Flows)
	}
}

// TestParseHex: the word-at-a-time decoder agrees with encoding/hex on
// lower-case hex and refuses everything else.
func TestParseHex(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	const chars = "0123456789abcdefABCDEFgz/:@`G\x00\xff"
	for range 20000 {
		n := []int{4, 8, 16, 3}[r.IntN(4)]
		b := make([]byte, 2*n)
		for i := range b {
			b[i] = "0123456789abcdef"[r.IntN(16)]
			if r.IntN(40) == 0 {
				b[i] = chars[r.IntN(len(chars))]
			}
		}
		s := string(b)
		got := make([]byte, n)
		ok := parseHex(got, s)
		want, err := hex.DecodeString(s)
		wok := err == nil && strings.ToLower(s) == s
		if ok != wok || ok && !bytes.Equal(got, want) {
			t.Fatalf("parseHex(%q) = %x, %v; want %x, %v", s, got, ok, want, wok)
		}
	}
}
