package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

// positionsFixture writes 10 records to each of 2 partitions, record i of each
// stamped base+i seconds.
func positionsFixture(t *testing.T, seeds []string) (string, time.Time) {
	t.Helper()
	topic := kafkatest.NewTopic(t, seeds, 2)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 10 {
			r := rec(topic, p, fmt.Sprintf("p%d-%d", p, i))
			r.Timestamp = base.Add(time.Duration(i) * time.Second)
			recs = append(recs, r)
		}
	}
	kafkatest.Produce(t, seeds, recs...)
	return topic, base
}

func TestPositions(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic, base := positionsFixture(t, seeds)
		addrs := []bus.Address{topicAddr(topic)}

		for _, tc := range []struct {
			name     string
			from     bus.Position
			until    bus.Position
			want     []po
			wantNone bool
		}{
			{name: "beginning..end", from: posBeginning, until: posEnd, want: span(0, 10, 0, 1)},
			{name: "offset..end", from: posOffset(3), until: posEnd, want: span(3, 10, 0, 1)},
			{name: "offset past the end is clamped", from: posOffset(100), until: posEnd, wantNone: true},
			{name: "relative", from: posRelative(2), until: posEnd, want: span(8, 10, 0, 1)},
			{name: "relative beyond the start is clamped", from: posRelative(100), until: posEnd, want: span(0, 10, 0, 1)},
			{name: "time", from: posTime(base.Add(5 * time.Second)), until: posEnd, want: span(5, 10, 0, 1)},
			{name: "time between records", from: posTime(base.Add(4500 * time.Millisecond)), until: posEnd, want: span(5, 10, 0, 1)},
			{name: "time after every record", from: posTime(base.Add(time.Minute)), until: posEnd, wantNone: true},
			{name: "until offset is exclusive", from: posBeginning, until: posOffset(4), want: span(0, 4, 0, 1)},
			{name: "until offset before from", from: posOffset(6), until: posOffset(4), wantNone: true},
			{name: "until time is inclusive", from: posBeginning, until: posTime(base.Add(3 * time.Second)), want: span(0, 4, 0, 1)},
			{name: "until time between records", from: posBeginning, until: posTime(base.Add(3500 * time.Millisecond)), want: span(0, 4, 0, 1)},
			{name: "until a past time after every record", from: posOffset(7), until: posTime(base.Add(time.Minute)), want: span(7, 10, 0, 1)},
			{name: "end..end", from: posEnd, until: posEnd, wantNone: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				src := open(t, c, addrs, bus.ReadOptions{From: tc.from, Until: tc.until})
				got := offsets(readAll(t, src))
				if tc.wantNone {
					if len(got) != 0 {
						t.Fatalf("read %v, want nothing", got)
					}
					return
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("read offsets\n%v\nwant\n%v", got, tc.want)
				}
			})
		}
	})
}

// TestUntilFutureTime: with a time that has not come yet, each partition is
// followed until its first record stamped after the time.
func TestUntilFutureTime(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 2)
		// Kafka 4 refuses timestamps more than an hour ahead by default.
		until := time.Now().Add(30 * time.Minute)
		src := open(t, c, []bus.Address{topicAddr(topic)}, bus.ReadOptions{From: posBeginning, Until: posTime(until)})

		late := func(p int32, v string) *kgo.Record {
			r := rec(topic, p, v)
			r.Timestamp = until.Add(time.Minute)
			return r
		}
		kafkatest.Produce(t, seeds, rec(topic, 0, "a"), rec(topic, 1, "b"), late(0, "after"), rec(topic, 0, "after too"))
		got := readN(t, src, 2)
		// Partition 0 is done; partition 1 still waits for a later record.
		kafkatest.Produce(t, seeds, rec(topic, 1, "c"), late(1, "after"))
		got = append(got, readAll(t, src)...)
		var vals []string
		for _, e := range got {
			vals = append(vals, fmt.Sprintf("%d:%s", e.Partition, e.Value))
		}
		if want := "0:a 1:b 1:c"; strings.Join(sortedStrings(vals), " ") != want {
			t.Fatalf("read %v, want %s", vals, want)
		}
	})
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPartitionsFilter(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 3)
		var recs []*kgo.Record
		for p := range int32(3) {
			for i := range 3 {
				recs = append(recs, rec(topic, p, fmt.Sprint(i)))
			}
		}
		kafkatest.Produce(t, seeds, recs...)

		opts := snapshot()
		opts.Partitions = []int32{0, 2}
		got := offsets(readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, opts)))
		if want := span(0, 3, 0, 2); !reflect.DeepEqual(got, want) {
			t.Fatalf("read %v, want %v", got, want)
		}

		opts.Partitions = []int32{1, 5}
		_, err := c.Source(ctxT(t), []bus.Address{topicAddr(topic)}, opts)
		var nf *bus.NotFoundError
		if !errors.As(err, &nf) || nf.Kind != "partition" || !strings.Contains(err.Error(), topic+"/5") ||
			!strings.Contains(err.Error(), "partitions 0-2") {
			t.Fatalf("err = %v, want a NotFoundError naming %s/5 and the partitions it has", err, topic)
		}
	})
}

func TestUnknownTopic(t *testing.T) {
	seeds := newCluster(t, kfake.SeedTopics(1, "exists"))
	c := newClient(t, seeds)
	for _, addrs := range [][]bus.Address{
		{topicAddr("nope")},
		{topicAddr("exists"), topicAddr("nope")},
		{regexAddr(t, "exi.*"), topicAddr("nope")}, // all-topics metadata path
	} {
		_, err := c.Source(ctxT(t), addrs, snapshot())
		var nf *bus.NotFoundError
		if !errors.As(err, &nf) || nf.Kind != "topic" || nf.Name != "nope" || !errors.Is(err, bus.ErrNotFound) {
			t.Fatalf("%v: err = %v, want NotFoundError for topic nope", addrs, err)
		}
	}
}

func TestRegex(t *testing.T) {
	seeds := newCluster(t, kfake.SeedTopics(1, "orders.eu", "orders.us", "orders", "payments", "__orders.audit"))
	c := newClient(t, seeds)
	var recs []*kgo.Record
	for _, topic := range []string{"orders.eu", "orders.us", "orders", "payments", "__orders.audit"} {
		recs = append(recs, rec(topic, 0, topic))
	}
	kafkatest.Produce(t, seeds, recs...)

	topicsRead := func(addrs ...bus.Address) string {
		var names []string
		for _, e := range readAll(t, open(t, c, addrs, snapshot())) {
			if string(e.Value) != e.Topic {
				t.Fatalf("event %s carries %q", bustestDescribe(&e), e.Value)
			}
			names = append(names, e.Topic)
		}
		return strings.Join(sortedStrings(names), " ")
	}
	for _, tc := range []struct {
		addrs []bus.Address
		want  string
	}{
		{[]bus.Address{regexAddr(t, `orders\..*`)}, "orders.eu orders.us"},
		{[]bus.Address{regexAddr(t, `.*orders.*`)}, "orders orders.eu orders.us"},
		{[]bus.Address{regexAddr(t, `__orders.*`)}, "__orders.audit"},
		{[]bus.Address{regexAddr(t, `orders\.eu`), topicAddr("payments"), topicAddr("orders.eu")}, "orders.eu payments"},
	} {
		if got := topicsRead(tc.addrs...); got != tc.want {
			t.Errorf("%v read topics %q, want %q", tc.addrs, got, tc.want)
		}
	}

	_, err := c.Source(ctxT(t), []bus.Address{regexAddr(t, `invoices.*`)}, snapshot())
	var nf *bus.NotFoundError
	if !errors.As(err, &nf) || nf.Hint == "" || !strings.Contains(err.Error(), "invoices.*") {
		t.Fatalf("err = %v, want a NotFoundError with a hint naming the pattern", err)
	}
}

func bustestDescribe(e *event.Event) string {
	return fmt.Sprintf("%s/%d@%d", e.Topic, e.Partition, e.Offset)
}

// TestRecordFields checks every field of an event against what another
// client wrote: null versus empty key and value, header order, duplicates and
// null header values, timestamps and offsets.
func TestRecordFields(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 1)
		ts := time.UnixMilli(1_700_000_000_123)
		recs := []*kgo.Record{
			{Topic: topic, Key: nil, Value: nil, Timestamp: ts},
			{Topic: topic, Key: []byte{}, Value: []byte{}, Timestamp: ts},
			{Topic: topic, Key: []byte("k"), Value: []byte("v"), Timestamp: ts, Headers: []kgo.RecordHeader{
				{Key: "b", Value: []byte("1")}, {Key: "a", Value: nil}, {Key: "b", Value: []byte{}}, {Key: "", Value: []byte{0xff}},
			}},
		}
		kafkatest.Produce(t, seeds, recs...)
		got := readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, snapshot()))
		want := []event.Event{
			{Transport: event.Kafka, Topic: topic, Offset: 0, Timestamp: ts},
			{Transport: event.Kafka, Topic: topic, Offset: 1, Timestamp: ts, Key: []byte{}, Value: []byte{}},
			{Transport: event.Kafka, Topic: topic, Offset: 2, Timestamp: ts, Key: []byte("k"), Value: []byte("v"), Headers: []event.Header{
				{Key: "b", Value: []byte("1")}, {Key: "a", Value: nil}, {Key: "b", Value: []byte{}}, {Key: "", Value: []byte{0xff}},
			}},
		}
		if len(got) != len(want) {
			t.Fatalf("read %d events, want %d", len(got), len(want))
		}
		for i := range want {
			if !event.Equal(&got[i], &want[i]) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if got[0].Headers != nil {
			t.Errorf("event without headers has Headers %#v, want nil", got[0].Headers)
		}
		// Appending to one event's headers must not change another's.
		h := append(got[2].Headers, event.Header{Key: "x"})
		_ = h
		if len(got[2].Headers) != 4 {
			t.Fatalf("headers changed by an append")
		}
	})
}

// TestTransactionalUntilEnd: when a partition's last offsets are transaction
// markers (and, read_committed, aborted records), no record carries the
// offset just before the end, and reading to the end must still finish, with
// exactly the records the isolation level shows. Both ways of seeing the end
// are tested: the markers themselves, and the probe used for gaps no marker
// covers.
func TestTransactionalUntilEnd(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		for _, order := range []string{"commit-then-abort", "abort-then-commit", "commit-only"} {
			t.Run(order, func(t *testing.T) {
				topic := kafkatest.NewTopic(t, seeds, 1)
				var wantCommitted, wantAll []string
				txn := func(commit bool, vals ...string) {
					t.Helper()
					produceTxn(t, seeds, topic, commit, vals...)
					wantAll = append(wantAll, vals...)
					if commit {
						wantCommitted = append(wantCommitted, vals...)
					}
				}
				switch order {
				case "commit-then-abort":
					txn(true, "c1", "c2", "c3")
					txn(false, "a1", "a2")
				case "abort-then-commit":
					txn(false, "a1", "a2")
					txn(true, "c1", "c2", "c3")
				case "commit-only":
					txn(true, "c1", "c2", "c3")
				}
				for _, tc := range []struct {
					name string
					opts []kafka.Option
					want []string
				}{
					{"read_committed", nil, wantCommitted},
					{"read_uncommitted", []kafka.Option{kafka.WithReadUncommitted()}, wantAll},
					{"read_committed/probe", []kafka.Option{kafka.WithoutControlRecords()}, wantCommitted},
					{"read_uncommitted/probe", []kafka.Option{kafka.WithReadUncommitted(), kafka.WithoutControlRecords()}, wantAll},
				} {
					t.Run(tc.name, func(t *testing.T) {
						c := newClient(t, seeds, tc.opts...)
						var got []string
						for _, e := range readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, snapshot())) {
							got = append(got, string(e.Value))
						}
						if !reflect.DeepEqual(got, tc.want) {
							t.Fatalf("read %q, want %q", got, tc.want)
						}
					})
				}
			})
		}
	})
}

func produceTxn(t *testing.T, seeds []string, topic string, commit bool, vals ...string) {
	t.Helper()
	ctx := ctxT(t)
	cl := kafkatest.Client(t, seeds, kgo.TransactionalID(kafkatest.UniqueName(t)), kgo.ProducerLinger(0))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	// EndTransaction returns once the coordinator has decided; on a real
	// broker the markers reach the partitions after that, and until they do
	// the last stable offset stays below the transaction (a read_committed
	// snapshot then ends before it). Wait until no partition has it open.
	adm := kafkatest.Admin(t, seeds)
	kafkatest.WaitFor(t, 30*time.Second, "the transaction's markers on "+topic, func() bool {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil || stable.Error() != nil {
			return false
		}
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil || end.Error() != nil {
			return false
		}
		settled := true
		end.Each(func(o kadm.ListedOffset) {
			if s, ok := stable.Lookup(o.Topic, o.Partition); !ok || s.Offset != o.Offset {
				settled = false
			}
		})
		return settled
	})
}

// TestOpenTransactionDoesNotBlock: read_committed, Until end is the last
// stable offset, so a transaction left open does not hold a snapshot read.
func TestOpenTransactionDoesNotBlock(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 1)
		kafkatest.Produce(t, seeds, rec(topic, 0, "before"))
		cl := kafkatest.Client(t, seeds, kgo.TransactionalID(kafkatest.UniqueName(t)), kgo.ProducerLinger(0))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: []byte("open")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		got := readAll(t, open(t, c, []bus.Address{topicAddr(topic)}, snapshot()))
		if len(got) != 1 || string(got[0].Value) != "before" {
			t.Fatalf("read %d events, want only the record before the open transaction", len(got))
		}
	})
}

func TestPartitionDoneAtOpen(t *testing.T) {
	eachCluster(t, func(t *testing.T, seeds []string) {
		c := newClient(t, seeds)
		topic := kafkatest.NewTopic(t, seeds, 3) // all empty
		src := open(t, c, []bus.Address{topicAddr(topic)}, snapshot())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for range 3 {
			if evs, err := src.Next(ctx); !errors.Is(err, io.EOF) || len(evs) != 0 {
				t.Fatalf("Next on empty partitions = %d events, %v; want io.EOF", len(evs), err)
			}
		}
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNextAfterClose(t *testing.T) {
	seeds := newCluster(t)
	c := newClient(t, seeds)
	topic := kafkatest.NewTopic(t, seeds, 1)
	src := open(t, c, []bus.Address{topicAddr(topic)}, bus.ReadOptions{})
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(ctxT(t)); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	seeds := newCluster(t, kfake.SeedTopics(1, "t"))
	c := newClient(t, seeds)
	for _, tc := range []struct {
		name  string
		addrs []bus.Address
		opts  bus.ReadOptions
		want  string
	}{
		{"no addresses", nil, bus.ReadOptions{}, "no topics"},
		{"other transport", []bus.Address{{Transport: "amqp", Name: "q"}}, bus.ReadOptions{}, "not a kafka address"},
		{"relative until", []bus.Address{topicAddr("t")}, bus.ReadOptions{Until: posRelative(3)}, "--until"},
		{"group with partitions", []bus.Address{topicAddr("t")}, bus.ReadOptions{Group: "g", Partitions: []int32{0}}, "--partitions"},
		{"negative partition", []bus.Address{topicAddr("t")}, bus.ReadOptions{Partitions: []int32{-1}}, "partition -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Source(ctxT(t), tc.addrs, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
