package demo

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/eddy-sh/eddy/event"
)

// fastConfig runs the shop at a high rate with tiny latencies, so a test sees
// hundreds of flows, dead letters and every poison kind within a second or two.
func fastConfig() Config {
	lat := map[string]Latency{}
	for _, s := range Services() {
		lat[s] = Latency{Median: time.Millisecond, P99: 4 * time.Millisecond}
	}
	return Config{Rate: 300, Partitions: 3, Replicas: 2, BurstEvery: -1, FailRate: 0.1, PoisonEvery: 30, Latency: lat, Seed: 7}
}

// waitFor polls cond until it holds or the deadline passes; it is the only way
// these tests wait, so none sleeps for a fixed time to synchronise.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGoroutines checks that everything the demo started has ended.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	waitFor(t, "the demo's goroutines to end", 10*time.Second, func() (bool, string) {
		n := runtime.NumGoroutine()
		if n <= base {
			return true, ""
		}
		buf := make([]byte, 1<<16)
		return false, fmt.Sprintf("%d goroutines, %d before the demo started:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	})
}

type snapshot struct {
	recs   map[string][]*kgo.Record            // by topic
	byPos  map[string]map[[2]int64]*kgo.Record // topic -> (partition, offset)
	counts map[string]int
}

// readAll reads every topic from the start up to the end offsets of one moment.
// Because every service produces only after reading its input, the records
// below those ends are causally closed: each one's causes are in the set too.
func readAll(t *testing.T, addr string, topics ...string) *snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s[%d]: %v", o.Topic, o.Partition, o.Err)
		}
		if want[o.Topic] == nil {
			want[o.Topic] = map[int32]int64{}
		}
		want[o.Topic][o.Partition] = o.Offset
		if o.Offset > 0 {
			left++
		}
	})
	s := &snapshot{recs: map[string][]*kgo.Record{}, byPos: map[string]map[[2]int64]*kgo.Record{}, counts: map[string]int{}}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading the snapshot: %v (%d partitions not read to their end)", err, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end := want[r.Topic][r.Partition]
			if r.Offset >= end {
				return
			}
			s.recs[r.Topic] = append(s.recs[r.Topic], r)
			if s.byPos[r.Topic] == nil {
				s.byPos[r.Topic] = map[[2]int64]*kgo.Record{}
			}
			s.byPos[r.Topic][[2]int64{int64(r.Partition), r.Offset}] = r
			s.counts[r.Topic]++
			if r.Offset == end-1 {
				left--
			}
		})
	}
	return s
}

func header(r *kgo.Record, key string) ([]byte, bool) {
	var v []byte
	found := false
	for _, h := range r.Headers {
		if h.Key == key {
			v, found = h.Value, true
		}
	}
	return v, found
}

func headerCount(r *kgo.Record, key string) int {
	n := 0
	for _, h := range r.Headers {
		if h.Key == key {
			n++
		}
	}
	return n
}

// asEvent converts a record the way bus/kafka does, so the test reads the demo
// through eddy's own Schema.
func asEvent(r *kgo.Record) *event.Event {
	e := &event.Event{Transport: event.Kafka, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		e.Headers = append(e.Headers, event.Header{Key: h.Key, Value: h.Value})
	}
	return e
}

type seen struct {
	rec    *kgo.Record
	body   body
	fields event.Fields
	at     time.Time
}

func TestKafkaShop(t *testing.T) {
	base := runtime.NumGoroutine()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg := fastConfig()
	cfg.TracerProvider = tp
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			d.Close()
		}
	})
	if !strings.HasPrefix(d.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", d.Addr())
	}

	waitFor(t, "flows, dead letters and every poison kind", 30*time.Second, func() (bool, string) {
		s := d.Stats()
		return s.Events[EmailSent] >= 100 && s.DeadLettered[TopicPaymentsDLT] >= 5 && s.DeadLettered[TopicInventoryDLQ] >= 5 && s.Poison >= 4, s.String()
	})
	snap := readAll(t, d.Addr(), d.Topics()...)
	t.Logf("snapshot: %v", snap.counts)
	stats := d.Stats()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.SpanContext().SpanID().String()] = s
	}
	schema := event.DefaultSchema()
	events := map[string]*seen{}
	var shipped []*seen
	for _, topic := range []string{TopicOrders, TopicPayments, TopicInventory, TopicShipping, TopicNotifications} {
		for _, r := range snap.recs[topic] {
			var b body
			if err := json.Unmarshal(r.Value, &b); err != nil {
				continue // poison, checked below
			}
			src, _ := header(r, "ce_source")
			if string(src) == "/shop/legacy-importer" {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, b.OccurredAt)
			if err != nil {
				t.Fatalf("%s[%d]@%d: occurred_at %q: %v", r.Topic, r.Partition, r.Offset, b.OccurredAt, err)
			}
			f := schema.Extract(asEvent(r))
			s := &seen{rec: r, body: b, fields: f, at: at}
			if _, dup := events[b.EventID]; dup {
				t.Fatalf("event id %s twice", b.EventID)
			}
			events[b.EventID] = s
			if b.Type == OrderShipped {
				shipped = append(shipped, s)
			}
		}
	}

	t.Run("CloudEvents headers and eddy's schema agree with the JSON", func(t *testing.T) {
		for _, s := range events {
			r, b, f := s.rec, s.body, s.fields
			for key, want := range map[string]string{"ce_id": b.EventID, "ce_type": b.Type, "ce_time": b.OccurredAt, "ce_specversion": "1.0", "content-type": "application/json"} {
				if v, _ := header(r, key); string(v) != want {
					t.Fatalf("%s[%d]@%d: header %s = %q, want %q", r.Topic, r.Partition, r.Offset, key, v, want)
				}
			}
			if v, _ := header(r, "ce_source"); !strings.HasPrefix(string(v), "/shop/") {
				t.Fatalf("ce_source = %q", v)
			}
			if string(r.Key) != b.CorrelationID {
				t.Fatalf("key %q, correlation_id %q: the key must be the order id", r.Key, b.CorrelationID)
			}
			if f.ID != b.EventID || f.Type != b.Type || f.Correlation != b.CorrelationID || f.Causation != b.CausationID || !f.OccurredAt.Equal(s.at) || f.TraceID == "" || f.SpanID == "" {
				t.Fatalf("event.DefaultSchema extracted %+v from %s", f, r.Value)
			}
		}
	})

	t.Run("flows", func(t *testing.T) {
		placed := map[string]*seen{}
		for _, s := range events {
			if s.body.Type == OrderPlaced {
				placed[s.body.CorrelationID] = s
				if s.body.CausationID != "" {
					t.Fatalf("OrderPlaced %s has causation %s", s.body.EventID, s.body.CausationID)
				}
			}
		}
		if len(shipped) < 50 {
			t.Fatalf("only %d OrderShipped in the snapshot", len(shipped))
		}
		for _, s := range shipped {
			p, ok := placed[s.body.CorrelationID]
			if !ok {
				t.Fatalf("OrderShipped %s (order %s) has no OrderPlaced", s.body.EventID, s.body.CorrelationID)
			}
			if p.at.After(s.at) {
				t.Fatalf("order %s: OrderPlaced at %v after OrderShipped at %v", s.body.CorrelationID, p.at, s.at)
			}
		}
		hops := 0
		for _, s := range events {
			if s.body.CausationID == "" {
				continue
			}
			c, ok := events[s.body.CausationID]
			if !ok {
				t.Fatalf("%s %s: causation %s is no event", s.body.Type, s.body.EventID, s.body.CausationID)
			}
			if c.body.CorrelationID != s.body.CorrelationID || c.at.After(s.at) {
				t.Fatalf("%s caused by %s of another order or later", s.body.EventID, c.body.EventID)
			}
			wantCause := map[string][]string{PaymentAuthorized: {OrderPlaced}, PaymentFailed: {OrderPlaced}, StockReserved: {PaymentAuthorized},
				OutOfStock: {PaymentAuthorized}, OrderShipped: {StockReserved}, EmailSent: {OrderShipped, PaymentFailed, OutOfStock}}[s.body.Type]
			if !contains(wantCause, c.body.Type) {
				t.Fatalf("%s caused by %s", s.body.Type, c.body.Type)
			}
			// The trace id stays along the flow; each hop is a new span whose
			// parent is the span that produced the cause.
			if s.fields.TraceID != c.fields.TraceID {
				t.Fatalf("order %s: trace %s at %s, %s at %s", s.body.CorrelationID, c.fields.TraceID, c.body.Type, s.fields.TraceID, s.body.Type)
			}
			if s.fields.SpanID == c.fields.SpanID {
				t.Fatalf("%s reuses the span of its cause", s.body.Type)
			}
			sp, ok := spans[s.fields.SpanID]
			if !ok {
				t.Fatalf("no recorded span %s for %s", s.fields.SpanID, s.body.Type)
			}
			if got := sp.Parent().SpanID().String(); got != c.fields.SpanID {
				t.Fatalf("span of %s has parent %s, want the span of %s (%s)", s.body.Type, got, c.body.Type, c.fields.SpanID)
			}
			hops++
		}
		roots := 0
		for _, s := range placed {
			if sp, ok := spans[s.fields.SpanID]; ok && !sp.Parent().IsValid() {
				roots++
			}
		}
		t.Logf("%d events, %d orders (%d with a root span), %d shipped, %d hops checked; stats: %s", len(events), len(placed), roots, len(shipped), hops, stats)
		if roots != len(placed) {
			t.Fatalf("%d of %d OrderPlaced start a new trace", roots, len(placed))
		}
	})

	t.Run("Spring dead letters", func(t *testing.T) {
		dlt := snap.recs[TopicPaymentsDLT]
		if len(dlt) == 0 {
			t.Fatal("payments.DLT is empty")
		}
		kinds := map[string]int{}
		for _, r := range dlt {
			for _, k := range []string{SpringExceptionFQCN, SpringExceptionCauseFQCN, SpringExceptionMessage, SpringExceptionStacktrace,
				SpringOriginalTopic, SpringOriginalPartition, SpringOriginalOffset, SpringOriginalTimestamp, SpringOriginalTSType, SpringOriginalGroup} {
				if n := headerCount(r, k); n != 1 {
					t.Fatalf("payments.DLT[%d]@%d: %d headers %s, want 1", r.Partition, r.Offset, n, k)
				}
			}
			part, _ := header(r, SpringOriginalPartition)
			off, _ := header(r, SpringOriginalOffset)
			ts, _ := header(r, SpringOriginalTimestamp)
			if len(part) != 4 || len(off) != 8 || len(ts) != 8 {
				t.Fatalf("original partition/offset/timestamp are %d/%d/%d bytes, want 4/8/8 (Java int, long, long)", len(part), len(off), len(ts))
			}
			p := int32(binary.BigEndian.Uint32(part))
			o := int64(binary.BigEndian.Uint64(off))
			topic, _ := header(r, SpringOriginalTopic)
			if string(topic) != TopicOrders {
				t.Fatalf("original topic %q", topic)
			}
			orig := snap.byPos[TopicOrders][[2]int64{int64(p), o}]
			if orig == nil {
				t.Fatalf("payments.DLT[%d]@%d points at orders[%d]@%d, which is not there", r.Partition, r.Offset, p, o)
			}
			if !bytes.Equal(orig.Value, r.Value) || !bytes.Equal(orig.Key, r.Key) {
				t.Fatalf("payments.DLT[%d]@%d is not a copy of orders[%d]@%d", r.Partition, r.Offset, p, o)
			}
			if r.Partition != p {
				t.Fatalf("Spring writes to the failed record's partition: DLT partition %d, original %d", r.Partition, p)
			}
			if got := int64(binary.BigEndian.Uint64(ts)); got != orig.Timestamp.UnixMilli() {
				t.Fatalf("original timestamp %d, record had %d", got, orig.Timestamp.UnixMilli())
			}
			if v, _ := header(r, SpringOriginalTSType); string(v) != "CreateTime" {
				t.Fatalf("timestamp type %q", v)
			}
			if v, _ := header(r, SpringOriginalGroup); string(v) != "payments" {
				t.Fatalf("consumer group %q", v)
			}
			// Spring's order: the original headers, the exception headers,
			// then the original-* ones.
			if r.Headers[0].Key != "ce_specversion" || r.Headers[len(r.Headers)-6].Key != SpringOriginalTopic || r.Headers[len(r.Headers)-10].Key != SpringExceptionFQCN {
				t.Fatalf("header order: %v", headerKeys(r))
			}
			fqcn, _ := header(r, SpringExceptionFQCN)
			cause, _ := header(r, SpringExceptionCauseFQCN)
			msg, _ := header(r, SpringExceptionMessage)
			st, _ := header(r, SpringExceptionStacktrace)
			if !bytes.HasPrefix(st, append(fqcn, ": "...)) || !bytes.Contains(st, []byte("\n\tat ")) || !bytes.Contains(st, append([]byte("Caused by: "), cause...)) {
				t.Fatalf("stack trace does not look like Java's printStackTrace of %s caused by %s:\n%s", fqcn, cause, st)
			}
			switch string(fqcn) {
			case "org.springframework.kafka.listener.ListenerExecutionFailedException":
				if string(cause) != "com.example.shop.payments.PaymentGatewayException" || !bytes.HasPrefix(msg, []byte("Listener method '")) || !bytes.Contains(msg, []byte("' threw exception; acme-pay: ")) {
					t.Fatalf("listener failure: cause %q, message %q", cause, msg)
				}
			case "org.springframework.kafka.support.serializer.DeserializationException":
				if json.Valid(r.Value) || !bytes.HasPrefix(msg, []byte("failed to deserialize; ")) {
					t.Fatalf("deserialization failure of a valid JSON record, or message %q", msg)
				}
			default:
				t.Fatalf("exception %q", fqcn)
			}
			kinds[string(fqcn)]++
			// The original traceparent travels along, so trace finds the
			// dead letter in the order's flow.
			if f := schema.Extract(asEvent(r)); f.TraceID == "" || f.Correlation == "" && json.Valid(r.Value) {
				t.Fatalf("dead letter lost its identity: %+v", f)
			}
		}
		t.Logf("payments.DLT: %d records by exception: %v", len(dlt), kinds)
		if len(kinds) != 2 {
			t.Fatalf("want listener and deserialization failures, got %v", kinds)
		}
	})

	t.Run("Connect dead letters", func(t *testing.T) {
		dlq := snap.recs[TopicInventoryDLQ]
		if len(dlq) == 0 {
			t.Fatal("inventory-dlq is empty")
		}
		stages := map[string]int{}
		for _, r := range dlq {
			keys := headerKeys(r)
			want := []string{ConnectTopic, ConnectPartition, ConnectOffset, ConnectConnectorName, ConnectTaskID, ConnectStage, ConnectClassName,
				ConnectExceptionClass, ConnectExceptionMessage, ConnectExceptionTrace}
			if got := keys[len(keys)-len(want):]; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("inventory-dlq[%d]@%d headers end with %v, want %v", r.Partition, r.Offset, got, want)
			}
			topic, _ := header(r, ConnectTopic)
			ps, _ := header(r, ConnectPartition)
			os, _ := header(r, ConnectOffset)
			p, err1 := strconv.Atoi(string(ps))
			o, err2 := strconv.ParseInt(string(os), 10, 64)
			if string(topic) != TopicPayments || err1 != nil || err2 != nil {
				t.Fatalf("Connect writes topic, partition and offset as strings: %q %q %q", topic, ps, os)
			}
			orig := snap.byPos[TopicPayments][[2]int64{int64(p), o}]
			if orig == nil || !bytes.Equal(orig.Value, r.Value) || !bytes.Equal(orig.Key, r.Key) {
				t.Fatalf("inventory-dlq[%d]@%d is not a copy of payments[%d]@%d", r.Partition, r.Offset, p, o)
			}
			if !r.Timestamp.Equal(orig.Timestamp) {
				t.Fatalf("Connect keeps the original timestamp: %v, original %v", r.Timestamp, orig.Timestamp)
			}
			if v, _ := header(r, ConnectConnectorName); string(v) != "inventory" {
				t.Fatalf("connector name %q", v)
			}
			if v, _ := header(r, ConnectTaskID); string(v) != "0" && string(v) != "1" {
				t.Fatalf("task id %q", v)
			}
			stage, _ := header(r, ConnectStage)
			class, _ := header(r, ConnectClassName)
			exc, _ := header(r, ConnectExceptionClass)
			st, _ := header(r, ConnectExceptionTrace)
			switch string(stage) {
			case "VALUE_CONVERTER":
				if string(class) != "org.apache.kafka.connect.json.JsonConverter" || json.Valid(r.Value) {
					t.Fatalf("converter failure by %q of a valid record", class)
				}
			case "TASK_PUT":
				if string(class) != "com.example.shop.inventory.ReservationSinkTask" {
					t.Fatalf("put failure by %q", class)
				}
			default:
				t.Fatalf("stage %q", stage)
			}
			if string(exc) != "org.apache.kafka.connect.errors.DataException" || !bytes.HasPrefix(st, append(exc, ": "...)) {
				t.Fatalf("exception %q, trace %q", exc, st)
			}
			stages[string(stage)]++
		}
		t.Logf("inventory-dlq: %d records by stage: %v", len(dlq), stages)
		if len(stages) != 2 {
			t.Fatalf("want converter and put failures, got %v", stages)
		}
	})

	t.Run("poison", func(t *testing.T) {
		var truncated, avro, evil int
		for _, r := range snap.recs[TopicOrders] {
			switch {
			case !json.Valid(r.Value):
				truncated++
			case bytes.Contains(r.Value, []byte(`\u001b]0;pwned`)):
				// Valid JSON whose decoded name is a terminal escape.
				var b body
				var p payload
				if json.Unmarshal(r.Value, &b) != nil || json.Unmarshal(b.Payload, &p) != nil || p.Customer.Name != evilName {
					t.Fatalf("escape order does not decode to the evil name: %s", r.Value)
				}
				evil++
			}
		}
		for _, r := range snap.recs[TopicPayments] {
			if len(r.Value) > 0 && r.Value[0] == 0 {
				if v, _ := header(r, "content-type"); string(v) != "application/avro" || !bytes.Contains(r.Value, []byte("\x1b[31m")) {
					t.Fatalf("avro poison: content-type %q", v)
				}
				avro++
			}
		}
		t.Logf("poison: %d truncated JSON, %d Avro, %d escape orders", truncated, avro, evil)
		if truncated == 0 || avro == 0 || evil == 0 {
			t.Fatal("every poison kind must appear")
		}
	})

	waitGoroutines(t, base)
}

func headerKeys(r *kgo.Record) []string {
	var ks []string
	for _, h := range r.Headers {
		ks = append(ks, h.Key)
	}
	return ks
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// lags returns each group's total lag and its committed offsets.
func lags(t *testing.T, adm *kadm.Client, groups ...string) (map[string]int64, map[string]map[string]map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// kadm.Lag reorders the slice it is given; give it a copy.
	ls, err := adm.Lag(ctx, append([]string(nil), groups...)...)
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int64{}
	commits := map[string]map[string]map[int32]int64{}
	for g, l := range ls {
		if err := l.Error(); err != nil {
			t.Fatalf("lag of %s: %v", g, err)
		}
		total[g] = l.Lag.Total()
		commits[g] = map[string]map[int32]int64{}
		for topic, ps := range l.Lag {
			commits[g][topic] = map[int32]int64{}
			for p, ml := range ps {
				commits[g][topic][p] = ml.Commit.At
			}
		}
	}
	return total, commits
}

func TestSlowAndStall(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg := fastConfig()
	cfg.Rate = 150
	cfg.FailRate = -1
	cfg.PoisonEvery = -1
	cfg.Slow = []string{"payments"}
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		waitGoroutines(t, base)
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	groups := d.Groups()

	// Every group is up and has committed something.
	waitFor(t, "every service to commit", 20*time.Second, func() (bool, string) {
		s := d.Stats()
		if s.Events[EmailSent] < 5 {
			return false, s.String()
		}
		_, commits := lags(t, adm, groups...)
		for _, g := range groups {
			n := 0
			for _, ps := range commits[g] {
				for _, at := range ps {
					if at > 0 {
						n++
					}
				}
			}
			if n == 0 {
				return false, "no commit yet by " + g
			}
		}
		return true, ""
	})
	first, _ := lags(t, adm, groups...)
	var samples []map[string]int64
	waitFor(t, "the slowed payments group to fall 200 records further behind", 20*time.Second, func() (bool, string) {
		l, _ := lags(t, adm, groups...)
		samples = append(samples, l)
		return l["payments"] >= first["payments"]+200, fmt.Sprint(l)
	})
	last := samples[len(samples)-1]
	// The others keep up: typically only what one poll batch holds is behind
	// them, and never as much as payments. (A busy machine can delay one of
	// their polls, so a single sample may spike; the median may not.)
	for _, g := range groups[1:] {
		var ls []int64
		for _, l := range samples {
			if l[g] >= l["payments"] {
				t.Fatalf("%s lags %d, as much as the slowed payments (%d); samples %v", g, l[g], l["payments"], samples)
			}
			ls = append(ls, l[g])
		}
		slices.Sort(ls)
		if med := ls[len(ls)/2]; med > 20 {
			t.Fatalf("%s median lag %d while only payments is slow; samples %v", g, med, samples)
		}
	}
	t.Logf("payments lag %d -> %d over %d samples; last sample %v", first["payments"], last["payments"], len(samples), last)

	// Stall shipping: its committed offsets freeze while its input grows.
	if err := d.Resume("payments"); err != nil {
		t.Fatal(err)
	}
	if err := d.Stall("shipping"); err != nil {
		t.Fatal(err)
	}
	// Let a batch that was in flight when Stall arrived finish.
	var frozen map[string]map[int32]int64
	waitFor(t, "shipping's commits to stop moving", 10*time.Second, func() (bool, string) {
		_, c1 := lags(t, adm, "shipping")
		_, c2 := lags(t, adm, "shipping")
		frozen = c2["shipping"]
		return fmt.Sprint(c1) == fmt.Sprint(c2), ""
	})
	stalledAt := d.Stats().Events[StockReserved]
	waitFor(t, "the stalled shipping group to fall 200 records behind", 20*time.Second, func() (bool, string) {
		l, c := lags(t, adm, groups...)
		if fmt.Sprint(c["shipping"]) != fmt.Sprint(frozen) {
			t.Fatalf("a stalled group committed: %v -> %v", frozen, c["shipping"])
		}
		return l["shipping"] >= 200, fmt.Sprint(l)
	})
	stalledLag, _ := lags(t, adm, groups...)
	t.Logf("shipping stalled: commits frozen at %v while lag reached %v", frozen, stalledLag)
	if got := d.Stats().Events[StockReserved]; got <= stalledAt {
		t.Fatalf("inventory stopped too (%d -> %d StockReserved)", stalledAt, got)
	}
	if err := d.Resume("shipping"); err != nil {
		t.Fatal(err)
	}
	var resumed map[string]int64
	waitFor(t, "shipping to catch up after Resume", 20*time.Second, func() (bool, string) {
		resumed, _ = lags(t, adm, "shipping")
		return resumed["shipping"] < 40, fmt.Sprint(resumed)
	})
	t.Logf("after Resume: %v", resumed)
	if err := d.Slow("nope"); !errors.Is(err, ErrUnknownService) {
		t.Fatalf("Slow(nope) = %v", err)
	}
}

func TestDataDirKeepsTheShop(t *testing.T) {
	dir := t.TempDir()
	cfg := fastConfig()
	cfg.DataDir = dir
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "some orders to ship", 20*time.Second, func() (bool, string) {
		s := d.Stats()
		return s.Events[OrderShipped] >= 20, s.String()
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	before := d.Stats().Orders

	d2, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d2.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, TopicOrders)
	if err != nil {
		t.Fatal(err)
	}
	var kept int64
	ends.Each(func(o kadm.ListedOffset) { kept += o.Offset })
	if kept < before {
		t.Fatalf("orders holds %d records after a restart, the first run placed %d", kept, before)
	}
	offs, err := adm.FetchOffsets(ctx, "payments")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed == 0 {
		t.Fatal("the payments group's commits were not kept")
	}
	t.Logf("after restart: %d orders kept (first run placed %d), payments had committed %d", kept, before, committed)
}

func TestPortTakenMovesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	cfg := fastConfig()
	cfg.Port = taken
	cfg.Rate = 10
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, p, _ := net.SplitHostPort(d.Addr())
	got, _ := strconv.Atoi(p)
	if got <= taken || got > taken+portSearch {
		t.Fatalf("port %d taken, demo listens on %d", taken, got)
	}
}

func TestStopsWithContext(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an order", 10*time.Second, func() (bool, string) { return d.Stats().Orders > 0, "" })
	cancel()
	select {
	case <-d.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the demo did not stop when its context ended")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Slow: []string{"billing"}},
		{Stall: []string{"orders"}},
		{FailRate: 1.5},
		{Rate: -1},
		{Port: 70000},
		{Latency: map[string]Latency{"payments": {Median: -time.Second}}},
	} {
		if _, err := Start(context.Background(), c); err == nil {
			t.Fatalf("Start(%+v) succeeded", c)
		}
	}
}

func TestLatencySample(t *testing.T) {
	r := newRand(1, 2)
	l := Latency{Median: 10 * time.Millisecond, P99: 100 * time.Millisecond}
	var below, above99 int
	const n = 20000
	for range n {
		d := l.sample(r)
		if d < l.Median {
			below++
		}
		if d > l.P99 {
			above99++
		}
	}
	if below < n*45/100 || below > n*55/100 {
		t.Fatalf("%d of %d below the median", below, n)
	}
	if above99 < n/200 || above99 > n*2/100 {
		t.Fatalf("%d of %d above p99", above99, n)
	}
}
