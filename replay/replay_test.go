package replay_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/replay"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openLedger(t *testing.T) (*replay.BoltLedger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "ledger.db")
	l, err := replay.OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// fixture writes n records over 3 partitions of a new topic: value "v<i>",
// key "k<i>", a header, and a fixed timestamp per record.
func fixture(t *testing.T, seeds []string, n int) string {
	t.Helper()
	topic := kafkatest.NewTopic(t, seeds, 3)
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte("k" + strconv.Itoa(i)),
			Value: []byte("v" + strconv.Itoa(i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}}}
	}
	kafkatest.Produce(t, seeds, recs...)
	return topic
}

func source(t *testing.T, cl *kafka.Client, topic string) bus.Source {
	t.Helper()
	src, err := cl.Source(ctxT(t), []bus.Address{{Transport: "kafka", Name: topic}},
		bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func sink(t *testing.T, cl *kafka.Client, topic string) bus.Sink {
	t.Helper()
	dst, err := cl.Sink(topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	return dst
}

// readAll reads topic from the beginning to its end, read_committed.
func readAll(t *testing.T, cl *kafka.Client, topic string) []event.Event {
	t.Helper()
	src := source(t, cl, topic)
	var out []event.Event
	for {
		evs, err := src.Next(ctxT(t))
		if err != nil {
			break
		}
		out = append(out, evs...)
	}
	return out
}

func newClient(t *testing.T, seeds []string) *kafka.Client {
	t.Helper()
	cl, err := kafka.New(seeds)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestRunKafkaToKafkaKeepsRecordsAndRerunMovesNothing(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	cl := newClient(t, seeds)
	from := fixture(t, seeds, 300)
	to := kafkatest.NewTopic(t, seeds, 3)
	l, _ := openLedger(t)
	opts := replay.Options{Job: "job-1", Ledger: l}

	sum, err := replay.Run(ctxT(t), source(t, cl, from), sink(t, cl, to), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 300 || sum.Moved != 300 || sum.Skipped != 0 || !sum.Done {
		t.Fatalf("first run: %+v", sum)
	}
	got := readAll(t, cl, to)
	if len(got) != 300 {
		t.Fatalf("target holds %d records, want 300", len(got))
	}
	seen := map[string]bool{}
	for _, e := range got {
		i, _ := strconv.Atoi(string(e.Value[1:]))
		if string(e.Key) != "k"+strconv.Itoa(i) {
			t.Fatalf("record %q has key %q", e.Value, e.Key)
		}
		if h, _ := e.Header("h"); string(h) != strconv.Itoa(i) {
			t.Fatalf("record %q lost its header: %+v", e.Value, e.Headers)
		}
		want := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
		if !e.Timestamp.Equal(want) {
			t.Fatalf("record %q: timestamp %v, want %v", e.Value, e.Timestamp, want)
		}
		rid, ok := e.Header(replay.HeaderRedriveID)
		wantID := replay.RedriveID("job-1", fmt.Sprintf("kafka:%s/%d@%d", from, i%3, i/3))
		if !ok || string(rid) != wantID {
			t.Fatalf("record %q: %s = %q, want %q", e.Value, replay.HeaderRedriveID, rid, wantID)
		}
		seen[string(e.Value)] = true
	}
	if len(seen) != 300 {
		t.Fatalf("%d distinct values, want 300", len(seen))
	}
	counts, _ := l.Counts("job-1")
	if counts[replay.Completed] != 300 || counts[replay.InProgress] != 0 {
		t.Fatalf("ledger: %v", counts)
	}

	sum, err = replay.Run(ctxT(t), source(t, cl, from), sink(t, cl, to), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved != 0 || sum.Skipped != 300 {
		t.Fatalf("rerun: %+v, want 0 moved and 300 skipped", sum)
	}
	if n := len(readAll(t, cl, to)); n != 300 {
		t.Fatalf("after the rerun the target holds %d records, want 300", n)
	}
}

// crashLedger is the real ledger whose Complete fails from the nth call on:
// the sink has confirmed, the ledger never hears of it — what a crash between
// the two leaves behind.
type crashLedger struct {
	*replay.BoltLedger
	n int
}

func (c *crashLedger) Complete(job string, ids []string) error {
	if c.n--; c.n <= 0 {
		return errors.New("simulated crash")
	}
	return c.BoltLedger.Complete(job, ids)
}

func TestCrashBeforeCompletedLeavesInProgressAndDuplicatesAreDetectable(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	cl := newClient(t, seeds)
	from := fixture(t, seeds, 90)
	to := kafkatest.NewTopic(t, seeds, 1)
	l, _ := openLedger(t)

	// Rate 100/s makes chunks of 10 events: the crash hits the 3rd chunk.
	crash := &crashLedger{BoltLedger: l, n: 3}
	sum, err := replay.Run(ctxT(t), source(t, cl, from), sink(t, cl, to),
		replay.Options{Job: "j", Ledger: crash, Rate: 100})
	if err == nil || err.Error() != "simulated crash" {
		t.Fatalf("err = %v, want the simulated crash", err)
	}
	if sum.Moved != 20 {
		t.Fatalf("moved %d before the crash, want 20 (%+v)", sum.Moved, sum)
	}
	counts, _ := l.Counts("j")
	if counts[replay.Completed] != 20 || counts[replay.InProgress] != 10 {
		t.Fatalf("ledger after the crash: %v, want 20 COMPLETED and 10 INPROGRESS", counts)
	}
	if n := len(readAll(t, cl, to)); n != 30 {
		t.Fatalf("target holds %d after the crash, want 30 (the 3rd chunk landed)", n)
	}

	sum, err = replay.Run(ctxT(t), source(t, cl, from), sink(t, cl, to), replay.Options{Job: "j", Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 20 || sum.Retried != 10 || sum.Moved != 70 {
		t.Fatalf("rerun: %+v, want 20 skipped, 10 retried, 70 moved", sum)
	}

	// Every source record is in the target; the only duplicates are the
	// retried ones, and they share their eddy-redrive-id.
	byID := map[string][]string{}
	values := map[string]bool{}
	for _, e := range readAll(t, cl, to) {
		rid, _ := e.Header(replay.HeaderRedriveID)
		byID[string(rid)] = append(byID[string(rid)], string(e.Value))
		values[string(e.Value)] = true
	}
	if len(values) != 90 {
		t.Fatalf("target holds %d distinct records, want 90", len(values))
	}
	dups := 0
	for id, vs := range byID {
		if len(vs) > 1 {
			dups++
			if len(vs) != 2 || vs[0] != vs[1] {
				t.Fatalf("redrive id %s on %v", id, vs)
			}
		}
	}
	if dups != 10 {
		t.Fatalf("%d duplicated redrive ids, want the 10 retried", dups)
	}
	counts, _ = l.Counts("j")
	if counts[replay.Completed] != 90 {
		t.Fatalf("ledger after the rerun: %v", counts)
	}
}

func writeCapture(t *testing.T, evs []event.Event) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	s, err := file.Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openCapture(t *testing.T, path string) *file.Source {
	t.Helper()
	src, err := file.Open(path, nil, bus.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func captureEvents(n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		typ := "OrderPlaced"
		if i%4 == 0 {
			typ = "PaymentFailed"
		}
		evs[i] = event.Event{Transport: event.Kafka, Topic: "orders.DLT", Partition: 0, Offset: int64(i),
			Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
			Value:     fmt.Appendf(nil, `{"event_id":"e-%d","type":%q}`, i, typ)}
	}
	return evs
}

func TestDryRunChangesNothingAndPlansWhatARunDoes(t *testing.T) {
	path := writeCapture(t, captureEvents(40))
	l, _ := openLedger(t)
	filter, err := inspect.CompileFilter(`type == "PaymentFailed"`, event.DefaultSchema())
	if err != nil {
		t.Fatal(err)
	}
	schema := event.DefaultSchema()
	target := func(*event.Event) string { return "file:out.jsonl" }
	id := func(e *event.Event) string { return schema.Extract(e).ID }

	dry := replay.NewDryRun(target, id, 3)
	sum, err := replay.Run(ctxT(t), openCapture(t, path), dry,
		replay.Options{Job: "f", Ledger: replay.ReadOnly(l), Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	plan := dry.Plan()
	if sum.Moved != 10 || sum.Filtered != 30 || plan.Total != 10 ||
		len(plan.Targets) != 1 || plan.Targets[0].Count != 10 ||
		fmt.Sprint(plan.FirstIDs) != "[e-0 e-4 e-8]" {
		t.Fatalf("dry run: %+v, plan %+v", sum, plan)
	}
	if counts, _ := l.Counts("f"); len(counts) != 0 {
		t.Fatalf("the dry run wrote to the ledger: %v", counts)
	}

	// The real run, then a dry run of the rerun plans nothing.
	out := filepath.Join(t.TempDir(), "out.jsonl")
	dst, err := file.Create(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if sum, err = replay.Run(ctxT(t), openCapture(t, path), dst,
		replay.Options{Job: "f", Ledger: l, Filter: filter}); err != nil || sum.Moved != 10 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	dry = replay.NewDryRun(target, id, 3)
	sum, err = replay.Run(ctxT(t), openCapture(t, path), dry,
		replay.Options{Job: "f", Ledger: replay.ReadOnly(l), Filter: filter})
	if err != nil || sum.Moved != 0 || sum.Skipped != 10 || dry.Plan().Total != 0 {
		t.Fatalf("dry rerun: %+v, plan %+v, %v", sum, dry.Plan(), err)
	}

	var got []event.Event
	src := openCapture(t, out)
	for {
		evs, err := src.Next(ctxT(t))
		if err != nil {
			break
		}
		got = append(got, evs...)
	}
	if len(got) != 10 {
		t.Fatalf("capture holds %d events, want 10", len(got))
	}
}

func TestStopOnCancelReturnsSummaryAndRerunResumes(t *testing.T) {
	path := writeCapture(t, captureEvents(100))
	l, _ := openLedger(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	dst, err := file.Create(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	ctx, cancel := context.WithCancel(ctxT(t))
	var progress []int64
	sum, err := replay.Run(ctx, openCapture(t, path), dst, replay.Options{
		Job: "c", Ledger: l, Rate: 100, // chunks of 100/10 = 10 events
		Progress: func(s replay.Summary) {
			progress = append(progress, s.Moved)
			if s.Moved >= 30 {
				cancel() // Ctrl-C after the third chunk
			}
		},
	})
	if !errors.Is(err, context.Canceled) || !sum.Stopped || sum.Moved != 30 {
		t.Fatalf("stopped run: %+v, %v; want 30 moved and context.Canceled", sum, err)
	}
	if fmt.Sprint(progress) != "[10 20 30]" {
		t.Fatalf("progress calls: %v", progress)
	}
	sum, err = replay.Run(ctxT(t), openCapture(t, path), dst, replay.Options{Job: "c", Ledger: l})
	if err != nil || sum.Moved != 70 || sum.Skipped != 30 || sum.Retried != 0 {
		t.Fatalf("resumed run: %+v, %v; want 70 moved, 30 skipped", sum, err)
	}
}

func TestLimitAndDuplicatesInOneBatch(t *testing.T) {
	evs := captureEvents(10)
	evs = append(evs, evs[2]) // the same record twice: moved once
	path := writeCapture(t, evs)
	dry := replay.NewDryRun(func(*event.Event) string { return "x" }, nil, 100)
	sum, err := replay.Run(ctxT(t), openCapture(t, path), dry, replay.Options{Job: "d"})
	if err != nil || sum.Moved != 10 || sum.Skipped != 1 {
		t.Fatalf("%+v, %v", sum, err)
	}
	dry = replay.NewDryRun(func(*event.Event) string { return "x" }, nil, 100)
	sum, err = replay.Run(ctxT(t), openCapture(t, path), dry, replay.Options{Job: "d", Limit: 4})
	if err != nil || sum.Moved != 4 || dry.Plan().Total != 4 || sum.Done {
		t.Fatalf("limit: %+v, %v", sum, err)
	}
}

func TestLedgerIsExclusive(t *testing.T) {
	_, path := openLedger(t)
	if _, err := replay.OpenLedger(path); !errors.Is(err, replay.ErrLedgerBusy) {
		t.Fatalf("second open: %v, want ErrLedgerBusy", err)
	}
}

func TestDefaultIdentityAMQP(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	death := func(count int64) []event.Header {
		return []event.Header{{Key: "x-death", Typed: []any{map[string]any{"count": count, "queue": "orders", "time": at}}}}
	}
	a := event.Event{Transport: event.AMQP, Queue: "orders.dlq", Value: []byte("x"), Headers: death(1)}
	b := a // an identical copy of the same dead-lettering
	c := event.Event{Transport: event.AMQP, Queue: "orders.dlq", Value: []byte("x"), Headers: death(2)}
	d := event.Event{Transport: event.AMQP, Queue: "orders.dlq", Value: []byte("x"), Headers: death(1),
		Properties: &event.Properties{MessageID: "m-1"}}
	ia, ib, ic, id := replay.DefaultIdentity(&a), replay.DefaultIdentity(&b), replay.DefaultIdentity(&c), replay.DefaultIdentity(&d)
	if ia != ib || ia == ic || ia == id {
		t.Fatalf("identities: %q %q %q %q", ia, ib, ic, id)
	}
	if id != "amqp:orders.dlq/m-1/death:1@2026-11-23T10:00:00Z/from:orders" {
		t.Fatalf("with a message id: %q", id)
	}
	// One publish two queues received (CC, fanout), each dead-lettering its
	// copy in the same second: two dead-letterings.
	e := d
	e.Headers = []event.Header{{Key: "x-death", Typed: []any{map[string]any{"count": int64(1), "queue": "audit", "time": at}}}}
	if ie := replay.DefaultIdentity(&e); ie == id {
		t.Fatalf("copies dead-lettered from two queues share the identity %q", ie)
	}
}
