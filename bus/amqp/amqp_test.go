package amqp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/internal/faultproxy"
)

func queueAddr(name string) []bus.Address { return []bus.Address{{Transport: "amqp", Name: name}} }

func msgs(n int, prefix string) []amqp091.Publishing {
	out := make([]amqp091.Publishing, n)
	for i := range out {
		out[i] = amqp091.Publishing{Body: []byte(prefix + strconv.Itoa(i)), MessageId: prefix + strconv.Itoa(i)}
	}
	return out
}

// readAll reads until io.EOF.
func readAll(t *testing.T, src bus.Source) []event.Event {
	t.Helper()
	var got []event.Event
	ctx := ctxT(t)
	for {
		b, err := src.Next(ctx)
		got = append(got, b...)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(got), err)
		}
	}
}

// readN reads exactly n events.
func readN(t *testing.T, src bus.Source, n int) []event.Event {
	t.Helper()
	var got []event.Event
	ctx := ctxT(t)
	for len(got) < n {
		b, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, b...)
	}
	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
	}
	return got
}

func bodies(evs []event.Event) string {
	var b []string
	for _, e := range evs {
		b = append(b, string(e.Value))
	}
	return strings.Join(b, ",")
}

func open(t *testing.T, c *amqp.Client, queue string, opts bus.ReadOptions) *amqp.Source {
	t.Helper()
	src, err := c.Source(ctxT(t), queueAddr(queue), opts)
	if err != nil {
		t.Fatalf("Source(%s): %v", queue, err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*amqp.Source)
}

type binding struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// bindingsFrom lists the destinations bound to an exchange.
func bindingsFrom(t *testing.T, url, exchange string) []string {
	var bs []binding
	amqptest.Get(t, url, "/api/exchanges/%2F/"+amqptest.Escape(exchange)+"/bindings/source", &bs)
	var out []string
	for _, b := range bs {
		out = append(out, b.Destination)
	}
	return out
}

func queueExists(t *testing.T, url, name string) bool {
	return amqptest.Get(t, url, "/api/queues/%2F/"+amqptest.Escape(name), nil) == 200
}

// TestTailKeepsDepth: a live tail, and a backlog tail, of a queue with messages
// and traffic leave its depth and consumers as they were, see every message,
// and leave no tap queue or binding behind once closed.
func TestTailKeepsDepth(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	tp.Publish(t, msgs(30, "old-")...)

	for _, backlog := range []bool{false, true} {
		t.Run(fmt.Sprintf("backlog=%v", backlog), func(t *testing.T) {
			before := amqptest.Depth(t, url, tp.Queue)
			src := open(t, c, tp.Queue, bus.ReadOptions{Backlog: backlog})
			taps := src.Taps()
			if len(taps) != 1 || !strings.HasPrefix(taps[0], "amq.gen-") {
				t.Fatalf("taps = %v, want one server-named queue", taps)
			}
			var tap struct {
				Exclusive  bool           `json:"exclusive"`
				AutoDelete bool           `json:"auto_delete"`
				Arguments  map[string]any `json:"arguments"`
			}
			amqptest.Get(t, url, "/api/queues/%2F/"+amqptest.Escape(taps[0]), &tap)
			if !tap.Exclusive || !tap.AutoDelete || tap.Arguments["x-expires"] == nil || tap.Arguments["x-max-length"] == nil ||
				tap.Arguments["x-max-length-bytes"] == nil || tap.Arguments["x-overflow"] != "drop-head" {
				t.Fatalf("tap queue is not exclusive, auto-delete, expiring and capped: %+v", tap)
			}
			fresh := msgs(20, "new-")
			tp.Publish(t, fresh...)
			want := 20
			if backlog {
				want = before + 20 // everything the queue held, then the new ones
			}
			got := readN(t, src, want)
			if backlog {
				if !strings.HasPrefix(bodies(got), "old-0,old-1,") || !strings.HasSuffix(bodies(got), ",new-18,new-19") {
					t.Fatalf("backlog then live, in order: got %s", bodies(got))
				}
			} else if bodies(got) != bodies(fromPublishings(fresh)) {
				t.Fatalf("live: got %s", bodies(got))
			}
			for _, e := range got {
				if e.Queue != tp.Queue || e.Exchange != tp.Exchange || e.RoutingKey != tp.Key || e.Offset != -1 || e.Transport != event.AMQP {
					t.Fatalf("event origin: %+v", e)
				}
			}
			if d := amqptest.Depth(t, url, tp.Queue); d != before+20 {
				t.Fatalf("depth %d while tailing, want %d (%d before + 20 published)", d, before+20, before)
			}
			src.Close()
			if d := amqptest.Depth(t, url, tp.Queue); d != before+20 {
				t.Fatalf("depth %d after the tail, want %d", d, before+20)
			}
			amqptest.Eventually(t, 10*time.Second, "tap queue and binding removed on Close", func() bool {
				b := bindingsFrom(t, url, tp.Exchange)
				return !queueExists(t, url, taps[0]) && len(b) == 1 && b[0] == tp.Queue
			})
		})
	}
}

func fromPublishings(ps []amqp091.Publishing) []event.Event {
	evs := make([]event.Event, len(ps))
	for i, p := range ps {
		evs[i].Value = p.Body
	}
	return evs
}

// TestBacklogPeek: what a peek does, exactly: every ready message is read in
// queue order, comes back redelivered, and the depth is whole before the
// first event is handed out; the limit cuts the read and says so.
func TestBacklogPeek(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url)
	tp.Publish(t, msgs(25, "m")...)

	c := newClient(t, url)
	src := open(t, c, tp.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}})
	got := readAll(t, src)
	if len(got) != 25 || got[0].Redelivered || string(got[24].Value) != "m24" {
		t.Fatalf("first peek: %d events (%s), first redelivered=%v", len(got), bodies(got), got[0].Redelivered)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 25 {
		t.Fatalf("depth %d right after the backlog was read, want 25", d)
	}

	limited := newClient(t, url, amqp.WithBacklogLimit(10, 1<<20))
	src = open(t, limited, tp.Queue, bus.ReadOptions{Backlog: true, From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	got = readAll(t, src)
	if len(got) != 10 || bodies(got) != "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9" || !got[0].Redelivered {
		t.Fatalf("limited peek: %s (redelivered=%v), want m0..m9 redelivered", bodies(got), got[0].Redelivered)
	}
	if notes := src.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "read the first 10") {
		t.Fatalf("notes = %q", notes)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 25 {
		t.Fatalf("depth %d after a limited peek, want 25", d)
	}
}

// TestPeekQuorum: a quorum queue's peek raises x-delivery-count (documented),
// and one with a delivery limit is refused rather than risk dead-lettering.
func TestPeekQuorum(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url, amqptest.Quorum())
	tp.Publish(t, msgs(3, "q")...)
	for round := range 2 {
		got := readAll(t, open(t, c, tp.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}}))
		if len(got) != 3 {
			t.Fatalf("round %d: %d events", round, len(got))
		}
		h := got[0].Headers[len(got[0].Headers)-1]
		if h.Key != "x-delivery-count" || string(h.Value) != strconv.Itoa(round) {
			t.Fatalf("round %d: headers %+v, want x-delivery-count %d", round, got[0].Headers, round)
		}
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 3 {
		t.Fatalf("depth %d, want 3", d)
	}

	limited := amqptest.Topology(t, url, amqptest.Quorum(), amqptest.QueueArg("x-delivery-limit", int64(5)))
	_, err := c.Source(ctxT(t), queueAddr(limited.Queue), bus.ReadOptions{Backlog: true})
	if !errors.Is(err, amqp.ErrPeekRefused) || !strings.Contains(err.Error(), "delivery limit of 5") {
		t.Fatalf("peek of a quorum queue with a delivery limit: err = %v", err)
	}
	// Live is fine: the tap does not touch the queue.
	src := open(t, c, limited.Queue, bus.ReadOptions{})
	limited.Publish(t, msgs(1, "live")...)
	if got := readN(t, src, 1); string(got[0].Value) != "live0" {
		t.Fatalf("live read of a limited quorum queue: %s", bodies(got))
	}
}

// TestHeadersExchangeTap: the tap copies binding arguments, so on a headers
// exchange it sees exactly what the watched queue gets.
func TestHeadersExchangeTap(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url, amqptest.Headers(amqp091.Table{"x-match": "all", "tenant": "acme", "n": int32(5)}))
	src := open(t, c, tp.Queue, bus.ReadOptions{})
	amqptest.PublishTo(t, url, tp.Exchange, "",
		amqp091.Publishing{Body: []byte("other"), Headers: amqp091.Table{"tenant": "globex", "n": int32(5)}},
		amqp091.Publishing{Body: []byte("match"), Headers: amqp091.Table{"tenant": "acme", "n": int64(5)}},
		amqp091.Publishing{Body: []byte("partial"), Headers: amqp091.Table{"tenant": "acme"}},
	)
	amqptest.PublishTo(t, url, tp.Exchange, "", amqp091.Publishing{Body: []byte("match2"), Headers: amqp091.Table{"tenant": "acme", "n": int32(5)}})
	got := readN(t, src, 2)
	if bodies(got) != "match,match2" {
		t.Fatalf("tap on a headers exchange got %s, want match,match2", bodies(got))
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 2 {
		t.Fatalf("the watched queue holds %d, want the same 2", d)
	}
}

// TestTypedHeadersThroughBroker: every AMQP field type written by the sink is
// read back by a source with the same type and value.
func TestTypedHeadersThroughBroker(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	when := time.Unix(1700000000, 0).UTC()
	typed := map[string]any{
		"bool": true, "i8": int8(-8), "u8": uint8(200), "i16": int16(-1600), "u16": uint16(65000),
		"i32": int32(-320000), "u32": uint32(4000000000), "i64": int64(-1) << 40, "f32": float32(1.5), "f64": 2.25,
		"dec": event.Decimal{Scale: 2, Value: -12345}, "bytes": []byte{0, 0xff}, "time": when, "void": event.Void{},
		"table": map[string]any{"a": []any{int32(1), "two", []byte("3")}}, "str": "typed string",
	}
	var hs []event.Header
	for k, v := range typed {
		hs = append(hs, event.Header{Key: k, Typed: v, Value: event.TypedText(v)})
	}
	hs = append(hs, event.Header{Key: "plain", Value: []byte{0, 1, 0xfe}})
	in := event.Event{Transport: event.AMQP, Headers: hs, Value: []byte("v"),
		Properties: &event.Properties{MessageID: "m-1", CorrelationID: "c-1", Type: "T", ContentType: "application/json",
			DeliveryMode: 2, Priority: 3, AppID: "app", ReplyTo: "r", Expiration: "600000", Timestamp: when, UserID: "guest"}}

	sink, err := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange, RoutingKey: tp.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.Write(ctxT(t), []event.Event{in}); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, open(t, c, tp.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}}))
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	want := expect(in)
	for i, h := range want.Headers {
		switch h.Key {
		case "str": // a string comes back as a plain header
			want.Headers[i].Typed = nil
		case "void":
			want.Headers[i].Typed = event.Void{}
		}
	}
	if !event.HeadersEqual(want.Headers, got[0].Headers) {
		t.Fatalf("headers changed\nwrote %#v\nread  %#v", want.Headers, got[0].Headers)
	}
	if *got[0].Properties != *in.Properties || !got[0].Timestamp.Equal(when) {
		t.Fatalf("properties changed: %+v, timestamp %v", got[0].Properties, got[0].Timestamp)
	}
}

// TestSinkUnroutableAndMissing: a returned message is an error naming the
// event, the confirmed prefix is counted, and a missing destination is
// NotFound before anything is sent.
func TestSinkUnroutableAndMissing(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	sink, err := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	evs := []event.Event{
		{Transport: event.AMQP, RoutingKey: tp.Key, Value: []byte("a")},
		{Transport: event.AMQP, RoutingKey: tp.Key, Value: []byte("b")},
		{Transport: event.AMQP, RoutingKey: "nowhere", Value: []byte("lost")},
		{Transport: event.AMQP, RoutingKey: tp.Key, Value: []byte("c")},
	}
	err = sink.Write(ctxT(t), evs)
	var we *bus.WriteError
	var pe *amqp.PublishError
	if !errors.As(err, &we) || !errors.As(err, &pe) || !errors.Is(err, amqp.ErrUnroutable) {
		t.Fatalf("err = %v, want a WriteError wrapping a PublishError (unroutable)", err)
	}
	if we.Written != 2 || len(pe.Failed) != 1 || pe.Failed[0].Index != 2 || !pe.Failed[0].Unroutable ||
		!strings.Contains(err.Error(), "NO_ROUTE") {
		t.Fatalf("written %d, failed %+v: %v", we.Written, pe.Failed, err)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 3 {
		t.Fatalf("depth %d, want the 3 routable messages", d)
	}
	// The sink is still usable after a returned message.
	if err := sink.Write(ctxT(t), evs[:1]); err != nil {
		t.Fatalf("write after a return: %v", err)
	}

	for _, a := range []bus.Address{{Transport: "amqp", Exchange: tp.Exchange + ".nope"}, {Transport: "amqp", Name: tp.Queue + ".nope"}} {
		s, _ := c.Sink(a)
		err := s.Write(ctxT(t), evs[:1])
		if !errors.Is(err, bus.ErrNotFound) {
			t.Errorf("write to %s: %v, want NotFound", a, err)
		}
		s.Close()
	}

	// amqp:QUEUE goes through the default exchange, whatever the event's key.
	q, _ := c.Sink(bus.Address{Transport: "amqp", Name: tp.Queue})
	defer q.Close()
	if err := q.Write(ctxT(t), []event.Event{{Transport: event.Kafka, Key: []byte("k"), RoutingKey: "ignored", Value: []byte("direct")}}); err != nil {
		t.Fatal(err)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 5 {
		t.Fatalf("depth %d, want 5", d)
	}
}

// TestSinkLargeBatch: a batch several times the in-flight window lands whole,
// and one unroutable message deep inside it is found and named.
func TestSinkLargeBatch(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	sink, _ := c.Sink(bus.Address{Transport: "amqp", Exchange: tp.Exchange})
	defer sink.Close()
	evs := make([]event.Event, 3000)
	for i := range evs {
		evs[i] = event.Event{Transport: event.Kafka, RoutingKey: tp.Key, Value: []byte(strconv.Itoa(i % 7))}
	}
	if err := sink.Write(ctxT(t), evs); err != nil {
		t.Fatal(err)
	}
	evs[2500].RoutingKey = "nowhere"
	err := sink.Write(ctxT(t), evs)
	var we *bus.WriteError
	var pe *amqp.PublishError
	if !errors.As(err, &we) || !errors.As(err, &pe) || we.Written != 2500 || len(pe.Failed) != 1 || pe.Failed[0].Index != 2500 {
		t.Fatalf("err = %v, want event 2500 alone reported unroutable", err)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 5999 {
		t.Fatalf("depth %d, want 5999", d)
	}
}

// TestNotFoundAndPositions: a missing queue is NotFound; positions a classic
// queue does not have are refused with a reason; exchanges are not sources.
func TestNotFoundAndPositions(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	_, err := c.Source(ctxT(t), queueAddr("eddy-test.no-such-queue"), bus.ReadOptions{})
	var nf *bus.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "queue" || nf.Name != "eddy-test.no-such-queue" || nf.Transport != "amqp" {
		t.Fatalf("err = %v, want NotFoundError for the queue", err)
	}
	_, err = c.Queues(ctxT(t), []string{"eddy-test.no-such-queue"})
	if !errors.As(err, &nf) {
		t.Fatalf("Queues: err = %v, want NotFoundError", err)
	}
	tp := amqptest.Topology(t, url)
	// A past start on a classic queue, beginning included, needs a peek,
	// which only Backlog asks for.
	for _, from := range []bus.Position{{Kind: bus.PosOffset, Offset: 3}, {Kind: bus.PosTime, Time: time.Now()}, {Kind: bus.PosRelative, Offset: 5}, {Kind: bus.PosBeginning}} {
		if _, err := c.Source(ctxT(t), queueAddr(tp.Queue), bus.ReadOptions{From: from}); !errors.Is(err, amqp.ErrNoPosition) {
			t.Errorf("From %v on a classic queue: %v", from, err)
		}
	}
	if _, err := c.Source(ctxT(t), []bus.Address{{Transport: "amqp", Exchange: tp.Exchange}}, bus.ReadOptions{}); err == nil {
		t.Error("an exchange was accepted as a source")
	}
}

// TestStreamPositions: a stream is read from an offset, from a time, up to an
// offset, and live from its end; reading never changes it.
func TestStreamPositions(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url, amqptest.Stream())
	first := msgs(10, "s")
	for i := range first {
		first[i].Timestamp = time.Unix(1600000000+int64(i)*100, 0)
	}
	tp.Publish(t, first...)

	all := readAll(t, open(t, c, tp.Queue, bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}}))
	if len(all) != 10 {
		t.Fatalf("whole stream: %s", bodies(all))
	}
	base := all[0].Offset
	for i, e := range all {
		if e.Offset != base+int64(i) || e.Queue != tp.Queue || !e.Timestamp.Equal(first[i].Timestamp) {
			t.Fatalf("event %d: offset %d (base %d) ts %v", i, e.Offset, base, e.Timestamp)
		}
		for _, h := range e.Headers {
			if h.Key == "x-stream-offset" {
				t.Fatal("x-stream-offset left in the headers")
			}
		}
	}
	got := readAll(t, open(t, c, tp.Queue, bus.ReadOptions{From: bus.Position{Kind: bus.PosOffset, Offset: base + 7}, Until: bus.Position{Kind: bus.PosEnd}}))
	if bodies(got) != "s7,s8,s9" {
		t.Fatalf("from offset: %s", bodies(got))
	}
	got = readAll(t, open(t, c, tp.Queue, bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosOffset, Offset: base + 3}}))
	if bodies(got) != "s0,s1,s2" {
		t.Fatalf("until offset: %s", bodies(got))
	}
	got = readAll(t, open(t, c, tp.Queue, bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosTime, Time: time.Unix(1600000450, 0)}}))
	if bodies(got) != "s0,s1,s2,s3,s4" {
		t.Fatalf("until time: %s", bodies(got))
	}
	got = readAll(t, open(t, c, tp.Queue, bus.ReadOptions{From: bus.Position{Kind: bus.PosOffset, Offset: base + 100}, Until: bus.Position{Kind: bus.PosEnd}}))
	if len(got) != 0 {
		t.Fatalf("from past the end: %s", bodies(got))
	}

	live := open(t, c, tp.Queue, bus.ReadOptions{})
	tp.Publish(t, msgs(2, "live")...)
	got = readN(t, live, 2)
	if bodies(got) != "live0,live1" || got[0].Offset != base+10 {
		t.Fatalf("live: %s at %d", bodies(got), got[0].Offset)
	}
	if len(live.Taps()) != 0 {
		t.Fatal("a stream was read through a tap")
	}

	// Without the management API a stream looks like any queue; the peek
	// then fails and says why.
	noMgmt := newClient(t, url, amqp.WithManagementURL("http://127.0.0.1:"+closedPort(t)))
	blind := open(t, noMgmt, tp.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}})
	if evs, err := blind.Next(ctxT(t)); err == nil || !strings.Contains(err.Error(), "stream queue") {
		t.Fatalf("peek at a stream without the API: %d events, err %v", len(evs), err)
	}

	empty := amqptest.Topology(t, url, amqptest.Stream())
	if got := readAll(t, open(t, c, empty.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}})); len(got) != 0 {
		t.Fatalf("empty stream: %s", bodies(got))
	}
}

// TestQueues: ls through the management API, then through passive declares
// when the API is unreachable, which cannot list everything.
func TestQueues(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DeadLetter())
	tp.Publish(t, msgs(4, "m")...)
	c := newClient(t, url)
	var qi []amqp.QueueInfo
	amqptest.Eventually(t, 20*time.Second, "management statistics show the 4 messages", func() bool {
		var err error
		qi, err = c.Queues(ctxT(t), []string{tp.Queue, tp.DLQ})
		if err != nil {
			t.Fatal(err)
		}
		return qi[0].Ready == 4
	})
	q := qi[0]
	if q.Name != tp.Queue || q.Vhost != "/" || q.Type != "classic" || q.Via != "management" || q.DeadLetterExchange != tp.DLX || qi[1].Name != tp.DLQ {
		t.Fatalf("queue info = %+v", qi)
	}
	all, err := c.Queues(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range all {
		found = found || q.Name == tp.DLQ
	}
	if !found {
		t.Fatalf("listing every queue misses %s", tp.DLQ)
	}

	noMgmt := newClient(t, url, amqp.WithManagementURL("http://127.0.0.1:"+closedPort(t)))
	qi, err = noMgmt.Queues(ctxT(t), []string{tp.Queue})
	if err != nil {
		t.Fatal(err)
	}
	if qi[0].Via != "passive" || qi[0].Ready != 4 || qi[0].PublishRate != nil {
		t.Fatalf("passive info = %+v", qi[0])
	}
	_, err = noMgmt.Queues(ctxT(t), nil)
	if !errors.Is(err, bus.ErrConnect) || !errors.Is(err, amqp.ErrManagement) || !strings.Contains(err.Error(), "name the queues") {
		t.Fatalf("listing all without the API: %v", err)
	}
	if _, err := noMgmt.Queues(ctxT(t), []string{"eddy-test.no-such-queue"}); !errors.Is(err, bus.ErrNotFound) {
		t.Fatalf("passive declare of a missing queue: %v", err)
	}
	// Without the API a tail cannot find the bindings, and says so.
	_, err = noMgmt.Source(ctxT(t), queueAddr(tp.Queue), bus.ReadOptions{})
	if !errors.Is(err, amqp.ErrManagement) || !strings.Contains(err.Error(), "bindings cannot be discovered without the management API") {
		t.Fatalf("tap without the API: %v", err)
	}
	// ... but the backlog can still be peeked at.
	got := readAll(t, open(t, noMgmt, tp.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}}))
	if len(got) != 4 {
		t.Fatalf("peek without the API: %d events", len(got))
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(faultproxy.Refused(t))
	return port
}

// TestBrokerClosesConnection: a connection closed by the broker (here by an
// operator through the management API) ends Next with an error, not a hang.
func TestBrokerClosesConnection(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	src := open(t, c, tp.Queue, bus.ReadOptions{})
	var conns []struct {
		Name       string         `json:"name"`
		ClientProp map[string]any `json:"client_properties"`
	}
	var target string
	amqptest.Eventually(t, 15*time.Second, "the source's connection shows in the management API", func() bool {
		amqptest.Get(t, url, "/api/connections", &conns)
		for _, cn := range conns {
			if n, _ := cn.ClientProp["connection_name"].(string); strings.HasPrefix(n, "eddy source "+tp.Queue) {
				target = cn.Name
			}
		}
		return target != ""
	})
	done := make(chan error, 1)
	go func() {
		_, err := src.Next(t.Context())
		done <- err
	}()
	if st := amqptest.Do(t, url, "DELETE", "/api/connections/"+amqptest.Escape(target), nil, nil); st != 204 {
		t.Fatalf("closing the connection: HTTP %d", st)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("Next = %v, want an error saying the connection was closed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Next hangs after the broker closed the connection")
	}
}

func TestUnreachableIsFast(t *testing.T) {
	c, err := amqp.New("amqp://guest:guest@127.0.0.1:"+closedPort(t)+"/", amqp.WithDialTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Ping(context.Background())
	var ce *bus.ConnectError
	if !errors.As(err, &ce) || ce.Transport != "amqp" || !strings.HasPrefix(ce.Addr, "127.0.0.1:") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want a ConnectError saying connection refused", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %s", took)
	}
	// A black-holed address gives up at the dial timeout.
	c, _ = amqp.New("amqp://guest:guest@10.255.255.1:5672/", amqp.WithDialTimeout(500*time.Millisecond))
	start = time.Now()
	if err := c.Ping(context.Background()); !errors.Is(err, bus.ErrConnect) {
		t.Fatalf("black hole: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("black hole took %s with a 500ms dial timeout", took)
	}
}

// TestPeekFromTime: with Backlog, a start time on a classic queue keeps the
// peeked messages stamped since then (trace --since and expect --since with
// --backlog); all of them stay in the queue.
func TestPeekFromTime(t *testing.T) {
	url := amqptest.URL(t)
	c := newClient(t, url)
	tp := amqptest.Topology(t, url)
	m := msgs(3, "m")
	m[0].Timestamp = time.Unix(1600000000, 0)
	m[1].Timestamp = time.Now()
	tp.Publish(t, m...) // m2 has no timestamp: it is dated when read
	got := readAll(t, open(t, c, tp.Queue, bus.ReadOptions{Backlog: true, From: bus.Position{Kind: bus.PosTime, Time: time.Now().Add(-time.Hour)},
		Until: bus.Position{Kind: bus.PosEnd}}))
	if bodies(got) != "m1,m2" {
		t.Fatalf("peek from an hour ago: %s, want m1,m2", bodies(got))
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 3 {
		t.Fatalf("depth %d after the peek, want 3", d)
	}
}
