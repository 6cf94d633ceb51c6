package dlq_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
)

// letters fills a Spring DLT with n letters: every tenth of an origin topic
// that does not exist, the others alternately of a and b.
func letters(t *testing.T, seeds []string, n int) (dlt, a, b string) {
	a = kafkatest.NewTopic(t, seeds, 2)
	b = kafkatest.NewTopic(t, seeds, 1)
	dlt = kafkatest.NewTopic(t, seeds, 3)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		origin := a
		switch {
		case i%10 == 9:
			origin = a + "-gone"
		case i%2 == 1:
			origin = b
		}
		recs[i] = &kgo.Record{Topic: dlt, Partition: int32(i % 3), Value: []byte("v" + strconv.Itoa(i)), Headers: []kgo.RecordHeader{
			{Key: convention.SpringExceptionMessage, Value: []byte("boom")},
			{Key: convention.SpringOriginalTopic, Value: []byte(origin)},
		}}
	}
	kafkatest.Produce(t, seeds, recs...)
	return dlt, a, b
}

func redrive(t *testing.T, seeds []string, dlt, job, dir string) dlq.KafkaRedrive {
	t.Helper()
	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return dlq.KafkaRedrive{Client: c, Job: job, LogDir: dir, MaxRecords: 40,
		Route: dlq.RouterOptions{DLQ: bus.Address{Transport: "kafka", Name: dlt}, Naming: convention.DefaultNaming()}}
}

// committed counts each value a read_committed reader sees in topic.
func committed(t *testing.T, seeds []string, topic string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, r := range kafkatest.ReadCommitted(t, seeds, topic) {
		got[string(r.Value)]++
	}
	return got
}

func groupSum(t *testing.T, seeds []string, group string) int64 {
	t.Helper()
	os, err := kafkatest.Admin(t, seeds).FetchOffsets(context.Background(), group)
	if err != nil {
		return 0
	}
	var sum int64
	os.Each(func(o kadm.OffsetResponse) { sum += o.At })
	return sum
}

// checkLanded: a and b hold their letters once each, and the DLQ still counts
// exactly the letters of the missing origin.
func checkLanded(t *testing.T, seeds []string, dir, dlt, a, b string, n int) {
	t.Helper()
	got := committed(t, seeds, a)
	for v, c := range committed(t, seeds, b) {
		got[v] += c
	}
	for i := range n {
		want := 1
		if i%10 == 9 {
			want = 0
		}
		if c := got["v"+strconv.Itoa(i)]; c != want {
			t.Fatalf("v%d landed %d times, want %d", i, c, want)
		}
	}
	jobs, err := dlq.LoadJobs(context.Background(), kafkatest.Admin(t, seeds), dir, dlt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := dlq.SummarizeKafka(context.Background(), c, dlt, convention.DefaultNaming(), nil, 0, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != int64(n/10) || s.Redriven != int64(n-n/10) {
		t.Fatalf("the DLQ counts %d left and %d redriven; want %d and %d", s.Count, s.Redriven, n/10, n-n/10)
	}
}

// TestRedriveFailedEndTxn: a commit that fails ambiguously moves no offsets
// and records nothing for good; the session goes on, and every letter lands
// once, the unknown ones left.
func TestRedriveFailedEndTxn(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	dlt, a, b := letters(t, seeds, 300)
	kafkatest.FailCommit(c, 3)
	dir := t.TempDir()
	k := redrive(t, seeds, dlt, kafkatest.UniqueName(t), dir)
	var before int64
	var aborted int
	k.OnEnd = func(ok bool) {
		now := groupSum(t, seeds, dlq.RedriveGroup(k.Job))
		if !ok {
			aborted++
			if now != before {
				t.Errorf("offsets moved on a failed commit: %d -> %d", before, now)
			}
		}
		before = now
	}
	rep, err := dlq.RedriveKafka(context.Background(), k)
	if err != nil || aborted != 1 || rep.Redriven != 270 || rep.Unknown != 30 {
		t.Fatalf("run: %v, aborted %d, %+v", err, aborted, rep)
	}
	checkLanded(t, seeds, dir, dlt, a, b, 300)
	rep, err = dlq.RedriveKafka(context.Background(), k)
	if err != nil || rep.Read != 0 || rep.Redriven != 0 {
		t.Fatalf("rerun: %v, %+v", err, rep)
	}
}

// TestRedriveFailedInitProducerID: a run that cannot start its transactions
// moves nothing and commits nothing; the rerun moves everything.
func TestRedriveFailedInitProducerID(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	dlt, a, b := letters(t, seeds, 120)
	kafkatest.RefuseInitProducerID(c)
	dir := t.TempDir()
	k := redrive(t, seeds, dlt, kafkatest.UniqueName(t), dir)
	rep, err := dlq.RedriveKafka(context.Background(), k)
	if err == nil || rep.Redriven != 0 || rep.Moved != 0 {
		t.Fatalf("run with a failing InitProducerID: %v, %+v; want an error and nothing moved", err, rep)
	}
	if n := groupSum(t, seeds, dlq.RedriveGroup(k.Job)); n != 0 {
		t.Fatalf("the failed run committed offsets (sum %d)", n)
	}
	rep, err = dlq.RedriveKafka(context.Background(), k)
	if err != nil || rep.Redriven != 108 || rep.Unknown != 12 {
		t.Fatalf("rerun: %v, %+v", err, rep)
	}
	checkLanded(t, seeds, dir, dlt, a, b, 120)
}

// TestRedriveParkingTopicNotYetKnown: a real broker answers CreateTopics
// before its metadata knows the topic. The first letter ever parked creates
// the parking topic; kfake here answers the next metadata requests for it
// with UNKNOWN_TOPIC_OR_PARTITION, as a real broker does for a moment. The
// redrive waits for the topic instead of failing with "topic not found".
func TestRedriveParkingTopicNotYetKnown(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	origin := kafkatest.NewTopic(t, seeds, 1)
	dlt := kafkatest.NewTopic(t, seeds, 1)
	park := dlq.ParkingName(dlt)
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: dlt, Value: []byte("poison"), Headers: []kgo.RecordHeader{
		{Key: convention.SpringExceptionMessage, Value: []byte("boom")},
		{Key: convention.SpringOriginalTopic, Value: []byte(origin)},
		{Key: dlq.HeaderRedriveCount, Value: []byte("3")},
	}})
	var created atomic.Bool
	var hidden atomic.Int32
	c.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range req.(*kmsg.CreateTopicsRequest).Topics {
			if rt.Topic == park {
				created.Store(true)
			}
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.MetadataRequest)
		if !created.Load() || len(r.Topics) != 1 || r.Topics[0].Topic == nil || *r.Topics[0].Topic != park || hidden.Load() >= 3 {
			return nil, nil, false
		}
		hidden.Add(1)
		resp := r.ResponseKind().(*kmsg.MetadataResponse)
		for i, addr := range c.ListenAddrs() {
			host, port, _ := strings.Cut(addr, ":")
			n, _ := strconv.Atoi(port)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = int32(i), host, int32(n)
			resp.Brokers = append(resp.Brokers, b)
		}
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(park)
		rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	rep, err := dlq.RedriveKafka(context.Background(), redrive(t, seeds, dlt, kafkatest.UniqueName(t), t.TempDir()))
	if err != nil || rep.Parked != 1 || rep.Redriven != 0 {
		t.Fatalf("redrive: %v, %+v; want the letter parked", err, rep)
	}
	if hidden.Load() == 0 {
		t.Fatal("no metadata request for the new parking topic was answered \"unknown\": the test did not test the wait")
	}
	if got := committed(t, seeds, park); got["poison"] != 1 || len(got) != 1 {
		t.Fatalf("the parking topic holds %v", got)
	}
}

// TestRouterDecide: origins per convention, the name's origin as a fallback,
// selection, the loop guard and --to, in one table.
func TestRouterDecide(t *testing.T) {
	spring := func(hs ...event.Header) event.Event {
		return event.Event{Transport: event.Kafka, Topic: "payments.DLT", Partition: 1, Offset: 7, Headers: append(springHeaders("card declined", 2, 4711), hs...)}
	}
	connect := event.Event{Transport: event.Kafka, Topic: "inventory-dlq", Headers: []event.Header{
		{Key: convention.ConnectTopic, Value: []byte("inventory")}, {Key: convention.ConnectPartition, Value: []byte("1")},
		{Key: convention.ConnectExceptionClass, Value: []byte("DataException")}}}
	xdeath := func(exchange, key string) event.Event {
		return event.Event{Transport: event.AMQP, Queue: "orders.dlq", Headers: []event.Header{{Key: "x-death", Typed: []any{
			map[string]any{"count": int64(1), "exchange": exchange, "queue": "orders", "reason": "rejected", "routing-keys": []any{key}}}}}}
	}
	bare := event.Event{Transport: event.Kafka, Topic: "orders.DLT"}
	to := bus.Address{Transport: "kafka", Name: "elsewhere"}
	kafkaDLQ := func(name string) bus.Address { return bus.Address{Transport: "kafka", Name: name} }
	for _, tc := range []struct {
		name string
		o    dlq.RouterOptions
		e    event.Event
		want string // outcome target partition
	}{
		{"spring", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT")}, spring(), "redrive kafka:payments -1"},
		{"spring keep partition", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), KeepPartition: true}, spring(), "redrive kafka:payments 2"},
		{"connect", dlq.RouterOptions{DLQ: kafkaDLQ("inventory-dlq"), KeepPartition: true}, connect, "redrive kafka:inventory 1"},
		{"by name", dlq.RouterOptions{DLQ: kafkaDLQ("orders.DLT"), Naming: convention.DefaultNaming()}, bare, "redrive kafka:orders -1"},
		{"name says nothing", dlq.RouterOptions{DLQ: kafkaDLQ("dead-letters"), Naming: convention.DefaultNaming()}, bare, "unknown-origin : -1"},
		{"origin missing", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), Writable: func(string) (bool, error) { return false, nil }}, spring(), "unknown-origin : -1"},
		{"redriven 2 of 3", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT")}, spring(event.Header{Key: dlq.HeaderRedriveCount, Value: []byte("2")}), "redrive kafka:payments -1"},
		{"redriven 3 of 3", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT")}, spring(event.Header{Key: dlq.HeaderRedriveCount, Value: []byte("3")}), "park kafka:payments.DLT.parked -1"},
		{"max 5", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), MaxRedrives: 5}, spring(event.Header{Key: dlq.HeaderRedriveCount, Value: []byte("3")}), "redrive kafka:payments -1"},
		{"to", dlq.RouterOptions{DLQ: kafkaDLQ("dead-letters"), To: &to}, bare, "redrive kafka:elsewhere -1"},
		{"error matches", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), Select: dlq.Selection{Error: regexp.MustCompile("declined$")}}, spring(), "redrive kafka:payments -1"},
		{"error does not", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), Select: dlq.Selection{Error: regexp.MustCompile("^timeout")}}, spring(), "unselected : -1"},
		{"class matches", dlq.RouterOptions{DLQ: kafkaDLQ("inventory-dlq"), Select: dlq.Selection{Error: regexp.MustCompile("DataEx")}}, connect, "redrive kafka:inventory -1"},
		{"id by position", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), Select: dlq.Selection{IDs: map[string]bool{"payments.DLT/1@7": true}}}, spring(), "redrive kafka:payments -1"},
		{"other id", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT"), Select: dlq.Selection{IDs: map[string]bool{"payments.DLT/1@8": true}}}, spring(), "unselected : -1"},
		{"x-death exchange", dlq.RouterOptions{DLQ: bus.Address{Transport: "amqp", Name: "orders.dlq"}}, xdeath("shop", "order.placed"), "redrive amqp:exchange/shop/order.placed -1"},
		{"x-death default exchange", dlq.RouterOptions{DLQ: bus.Address{Transport: "amqp", Name: "orders.dlq"}}, xdeath("", "orders"), "redrive amqp:orders -1"},
		{"no x-death", dlq.RouterOptions{DLQ: bus.Address{Transport: "amqp", Name: "orders.dlq"}}, event.Event{Transport: event.AMQP, Queue: "orders.dlq"}, "unknown-origin : -1"},
		// An origin that is the DLQ itself is left: redriven there, it
		// would be a dead letter again at once.
		{"origin is the DLQ", dlq.RouterOptions{DLQ: kafkaDLQ("payments.DLT")}, event.Event{Transport: event.Kafka, Topic: "payments.DLT", Headers: []event.Header{{Key: convention.SpringOriginalTopic, Value: []byte("payments.DLT")}}}, "unknown-origin : -1"},
		{"x-death origin is the DLQ", dlq.RouterOptions{DLQ: bus.Address{Transport: "amqp", Name: "orders.dlq"}}, xdeath("", "orders.dlq"), "unknown-origin : -1"},
	} {
		d, err := dlq.NewRouter(tc.o).Decide(&tc.e)
		got := fmt.Sprintf("%s %s %d", d.Outcome, d.Target, d.Partition)
		if d.Target.Transport == "" {
			got = fmt.Sprintf("%s : %d", d.Outcome, d.Partition)
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestRewrite: a redrive counts one more, replacing the old count; a park
// keeps the count and says why; the read event is not touched.
func TestRewrite(t *testing.T) {
	e := event.Event{Transport: event.Kafka, Topic: "orders.DLT", Partition: 1, Value: []byte("v"), Headers: []event.Header{
		{Key: "a", Value: []byte("1")}, {Key: dlq.HeaderRedriveCount, Value: []byte("2")}, {Key: "b", Value: []byte("2")}}}
	out := dlq.Rewrite(&e, dlq.Decision{Outcome: dlq.Redrive, Target: bus.Address{Transport: "kafka", Name: "orders"}, Partition: -1, Count: 2})
	if out.Topic != "orders" || out.Partition != -1 || fmt.Sprint(out.Headers) != fmt.Sprint([]event.Header{
		{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: dlq.HeaderRedriveCount, Value: []byte("3")}}) {
		t.Fatalf("redrive: %+v", out)
	}
	if e.Topic != "orders.DLT" || string(e.Headers[1].Value) != "2" {
		t.Fatalf("the read event changed: %+v", e)
	}
	out = dlq.Rewrite(&e, dlq.Decision{Outcome: dlq.Park, Target: bus.Address{Transport: "kafka", Name: "orders.DLT.parked"}, Partition: -1, Count: 2, Reason: "tired"})
	if v, _ := out.Header(dlq.HeaderParkReason); string(v) != "tired" || dlq.RedriveCount(&out) != 2 || out.Topic != "orders.DLT.parked" {
		t.Fatalf("park: %+v", out)
	}
}
