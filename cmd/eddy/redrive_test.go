package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
)

// eachKafka runs fn on kfake and on the real Kafka.
func eachKafka(t *testing.T, fn func(t *testing.T, seeds []string)) {
	for _, mode := range []string{"kfake", "real"} {
		t.Run(mode, func(t *testing.T) {
			var seeds []string
			if mode == "real" {
				seeds = kafkatest.Real(t)
			} else {
				seeds = kafkatest.Cluster(t)
			}
			fn(t, seeds)
		})
	}
}

// springLetter is a record as Spring's DeadLetterPublishingRecoverer writes it.
func springLetter(dlt, origin string, partition int32, offset int64, msg, value string, extra ...kgo.RecordHeader) *kgo.Record {
	hs := append([]kgo.RecordHeader{
		{Key: convention.SpringExceptionFQCN, Value: []byte("java.lang.IllegalStateException")},
		{Key: convention.SpringExceptionMessage, Value: []byte(msg)},
		{Key: convention.SpringOriginalTopic, Value: []byte(origin)},
		{Key: convention.SpringOriginalPartition, Value: binary.BigEndian.AppendUint32(nil, uint32(partition))},
		{Key: convention.SpringOriginalOffset, Value: binary.BigEndian.AppendUint64(nil, uint64(offset))},
	}, extra...)
	return &kgo.Record{Topic: dlt, Key: []byte("k-" + value), Value: []byte(value), Headers: hs}
}

// redriveOut runs redrive in process on the Kafka at seeds and returns its
// JSON report and stderr.
func redriveOut(t *testing.T, seeds []string, ledger string, o RedriveOptions) (redriveReport, string, error) {
	t.Helper()
	f, out, errOut := testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
	return redriveJSON(t, f, out, errOut, ledger, o)
}

// redriveJSON runs redrive in process with f (whose outputs are out and
// errOut) and the ledger at ledger, and returns its JSON report and stderr.
func redriveJSON(t *testing.T, f *Factory, out, errOut *strings.Builder, ledger string, o RedriveOptions) (redriveReport, string, error) {
	t.Helper()
	o.Ledger, o.Output = ledger, "json"
	if o.MaxRedrives == 0 {
		o.MaxRedrives = dlq.DefaultMaxRedrives
	}
	err := redriveRun(context.Background(), f, &o)
	var rep redriveReport
	if out.Len() > 0 {
		if jerr := json.Unmarshal([]byte(out.String()), &rep); jerr != nil {
			t.Fatalf("redrive -o json: %v: %s", jerr, out.String())
		}
	}
	return rep, errOut.String(), err
}

// waitRecords waits until a read_committed reader sees n records in topic
// (transaction markers land after the commit returns) and returns them.
func waitRecords(t *testing.T, seeds []string, topic string, n int) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	kafkatest.WaitFor(t, 30*time.Second, strconv.Itoa(n)+" records in "+topic, func() bool {
		got = kafkatest.ReadCommitted(t, seeds, topic)
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("%s holds %d records, want %d", topic, len(got), n)
	}
	return got
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// dlqCount is what `eddy dlq show` counts in topic: left, and redriven.
func dlqCount(t *testing.T, seeds []string, ledger, topic string) (left, redriven int64) {
	t.Helper()
	f, out, _ := testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
	if err := dlqShowRun(context.Background(), f, &DLQOptions{DLQ: "kafka:" + topic, Output: "json", Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	var got dlqJSON
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil || len(got.DLQs) != 1 {
		t.Fatalf("dlq show -o json: %v: %s", err, out.String())
	}
	return got.DLQs[0].Count, got.DLQs[0].Redriven
}

// TestRedriveSpringToOrigins: a Spring DLT holding letters of two origins and
// one whose origin topic does not exist. The dry run changes nothing; the run
// sends each letter to its origin with eddy-redrive-count 1, leaves the
// unknown one (listed, exit 3); dlq show counts 1 left; a rerun moves 0.
func TestRedriveSpringToOrigins(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		a := kafkatest.NewTopic(t, seeds, 2)
		b := kafkatest.NewTopic(t, seeds, 1)
		dlt := kafkatest.NamedTopic(t, seeds, a+".DLT", 2)
		var recs []*kgo.Record
		for i := range 10 {
			origin := a
			if i%2 == 1 {
				origin = b
			}
			r := springLetter(dlt, origin, 0, int64(i), "boom", "v"+strconv.Itoa(i))
			r.Partition = int32(i % 2)
			recs = append(recs, r)
		}
		lost := springLetter(dlt, a+"-gone", 0, 99, "boom", "lost")
		recs = append(recs, lost)
		kafkatest.Produce(t, seeds, recs...)
		ledger := t.TempDir() + "/ledger.db"

		rep, stderr, err := redriveOut(t, seeds, ledger, RedriveOptions{DLQ: "kafka:" + dlt, DryRun: true})
		if exitCode(err) != ExitPartial || rep.Mode != "dry-run" || rep.Redriven != 10 || rep.Unknown != 1 || len(rep.FirstIDs) == 0 {
			t.Fatalf("dry run: exit %d (%v), %+v, %s", exitCode(err), err, rep, stderr)
		}
		if n := len(kafkatest.ReadCommitted(t, seeds, a)) + len(kafkatest.ReadCommitted(t, seeds, b)); n != 0 {
			t.Fatalf("the dry run wrote %d records", n)
		}
		if left, _ := dlqCount(t, seeds, ledger, dlt); left != 11 {
			t.Fatalf("after the dry run dlq show counts %d, want 11", left)
		}

		rep, stderr, err = redriveOut(t, seeds, ledger, RedriveOptions{DLQ: "kafka:" + dlt})
		if exitCode(err) != ExitPartial || rep.Redriven != 10 || rep.Unknown != 1 || len(rep.Left) != 1 ||
			!strings.HasPrefix(rep.Left[0].ID, dlt+"/") {
			t.Fatalf("redrive: exit %d (%v), %+v, %s", exitCode(err), err, rep, stderr)
		}
		if !strings.Contains(rep.Left[0].Reason, a+"-gone does not exist") {
			t.Fatalf("left reason: %+v", rep.Left)
		}
		for _, tc := range []struct {
			topic string
			odd   int
		}{{a, 0}, {b, 1}} {
			got := waitRecords(t, seeds, tc.topic, 5)
			for _, r := range got {
				n, _ := strconv.Atoi(strings.TrimPrefix(string(r.Value), "v"))
				c, _ := header(r, dlq.HeaderRedriveCount)
				rid, _ := header(r, "eddy-redrive-id")
				if n%2 != tc.odd || c != "1" || rid == "" || string(r.Key) != "k-"+string(r.Value) {
					t.Fatalf("%s: %s key %s count %q rid %q", tc.topic, r.Value, r.Key, c, rid)
				}
			}
		}
		if left, redriven := dlqCount(t, seeds, ledger, dlt); left != 1 || redriven != 10 {
			t.Fatalf("after the redrive dlq show counts %d left, %d redriven; want 1, 10", left, redriven)
		}
		if strings.Join(seeds, ",") != os.Getenv("EDDY_TEST_KAFKA") {
			// dlq ls (on kfake only: on the shared broker it would read
			// every other test's DLQs) counts the same.
			f, out, _ := testFactory(false)
			f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
			if err := dlqLsRun(context.Background(), f, &DLQOptions{Output: "json", Ledger: ledger, Transports: []string{"kafka:"}}); err != nil {
				t.Fatal(err)
			}
			var got dlqJSON
			if err := json.Unmarshal([]byte(out.String()), &got); err != nil || len(got.DLQs) != 1 || got.DLQs[0].Count != 1 || got.DLQs[0].Redriven != 10 {
				t.Fatalf("dlq ls -o json: %v: %s", err, out.String())
			}
		}

		rep, stderr, err = redriveOut(t, seeds, ledger, RedriveOptions{DLQ: "kafka:" + dlt})
		if err != nil || rep.Redriven != 0 || rep.Read != 0 {
			t.Fatalf("rerun: %v, %+v, %s", err, rep, stderr)
		}
		if n := len(kafkatest.ReadCommitted(t, seeds, a)) + len(kafkatest.ReadCommitted(t, seeds, b)); n != 10 {
			t.Fatalf("after the rerun the origins hold %d records, want 10", n)
		}
	})
}

// TestRedriveSelection: jobs with --error, --ids (a position and an event id)
// and --filter each move what they select and leave the rest; dlq show counts
// what is left after each; a last job without selection moves only the rest
// and passes over what the earlier jobs removed. The origin holds every
// letter once.
func TestRedriveSelection(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		origin := kafkatest.NewTopic(t, seeds, 1)
		dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 1)
		errs := []string{"Timeout after 30s", "Timeout after 30s", "card declined", "card declined", "bad json", "bad json", "bad json"}
		var recs []*kgo.Record
		for i, msg := range errs {
			r := springLetter(dlt, origin, 0, int64(i), msg, `{"id":"e`+strconv.Itoa(i)+`","n":`+strconv.Itoa(i)+`}`)
			recs = append(recs, r)
		}
		kafkatest.Produce(t, seeds, recs...)
		ledger := t.TempDir() + "/ledger.db"
		for _, step := range []struct {
			o          RedriveOptions
			moved      int64
			left       int64
			unselected int64
		}{
			{RedriveOptions{Error: "^Timeout"}, 2, 5, 5},
			{RedriveOptions{IDs: []string{dlt + "/0@2", "e3"}}, 2, 3, 3},
			{RedriveOptions{Filter: "value.n == 5"}, 1, 2, 2},
			{RedriveOptions{}, 2, 0, 0},
		} {
			step.o.DLQ = "kafka:" + dlt
			rep, stderr, err := redriveOut(t, seeds, ledger, step.o)
			if err != nil || rep.Redriven != step.moved || rep.Unselected != step.unselected {
				t.Fatalf("%+v: %v, %+v, %s", step.o, err, rep, stderr)
			}
			if left, _ := dlqCount(t, seeds, ledger, dlt); left != step.left {
				t.Fatalf("%+v: dlq show counts %d left, want %d", step.o, left, step.left)
			}
			if step.o.Error == "" && step.o.Filter == "" && len(step.o.IDs) == 0 && rep.Already != 5 {
				t.Fatalf("the last job passed over %d removed letters, want 5", rep.Already)
			}
		}
		got := waitRecords(t, seeds, origin, len(errs))
		seen := map[string]bool{}
		for _, r := range got {
			if seen[string(r.Value)] {
				t.Fatalf("%s landed twice", r.Value)
			}
			seen[string(r.Value)] = true
		}
	})
}

// TestRedriveConnectKeepPartition: Kafka Connect's dead letters go to
// __connect.errors.topic, and with --keep-partition to the partition it
// recorded.
func TestRedriveConnectKeepPartition(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		origin := kafkatest.NewTopic(t, seeds, 3)
		dlq1 := kafkatest.NamedTopic(t, seeds, "dlq-"+origin, 1) // the name says nothing: the headers do
		var recs []*kgo.Record
		for i := range 9 {
			recs = append(recs, &kgo.Record{Topic: dlq1, Value: []byte("c" + strconv.Itoa(i)), Headers: []kgo.RecordHeader{
				{Key: convention.ConnectTopic, Value: []byte(origin)},
				{Key: convention.ConnectPartition, Value: []byte(strconv.Itoa(i % 3))},
				{Key: convention.ConnectOffset, Value: []byte(strconv.Itoa(i))},
				{Key: convention.ConnectExceptionClass, Value: []byte("org.apache.kafka.connect.errors.DataException")},
			}})
		}
		kafkatest.Produce(t, seeds, recs...)
		rep, stderr, err := redriveOut(t, seeds, t.TempDir()+"/l.db", RedriveOptions{DLQ: "kafka:" + dlq1, KeepPartition: true})
		if err != nil || rep.Redriven != 9 {
			t.Fatalf("%v, %+v, %s", err, rep, stderr)
		}
		for _, r := range waitRecords(t, seeds, origin, 9) {
			n, _ := strconv.Atoi(strings.TrimPrefix(string(r.Value), "c"))
			if r.Partition != int32(n%3) {
				t.Fatalf("%s landed on partition %d, want %d", r.Value, r.Partition, n%3)
			}
		}
	})
}

// failAgain is the consumer of origin failing again on every record from
// offset from on: Spring dead-letters each to dlt, copying its headers
// (eddy-redrive-count among them) and writing new kafka_dlt-* ones.
func failAgain(t *testing.T, seeds []string, origin, dlt string, from int) int {
	t.Helper()
	got := kafkatest.ReadCommitted(t, seeds, origin)
	for _, r := range got[from:] {
		var hs []kgo.RecordHeader
		for _, h := range r.Headers {
			if !strings.HasPrefix(h.Key, "kafka_dlt-") {
				hs = append(hs, h)
			}
		}
		l := springLetter(dlt, origin, r.Partition, r.Offset, "still broken", string(r.Value), hs...)
		l.Key = r.Key
		kafkatest.Produce(t, seeds, l)
	}
	return len(got)
}

// TestRedriveLoopGuardParks: a letter that fails again after every redrive
// is redriven --max-redrives times (eddy-redrive-count 1, 2, 3) and then
// parked in DLQ.parked with eddy-park-reason, not redriven a fourth time.
func TestRedriveLoopGuardParks(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		origin := kafkatest.NewTopic(t, seeds, 1)
		dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 1)
		t.Cleanup(func() { kafkatest.Admin(t, seeds).DeleteTopics(context.Background(), dlq.ParkingName(dlt)) })
		kafkatest.Produce(t, seeds, springLetter(dlt, origin, 0, 0, "boom", "poison"))
		ledger := t.TempDir() + "/l.db"
		seen := 0
		for round := 1; round <= 4; round++ {
			rep, stderr, err := redriveOut(t, seeds, ledger, RedriveOptions{DLQ: "kafka:" + dlt})
			if err != nil {
				t.Fatalf("round %d: %v, %s", round, err, stderr)
			}
			if round <= 3 {
				if rep.Redriven != 1 || rep.Parked != 0 {
					t.Fatalf("round %d: %+v", round, rep)
				}
				got := waitRecords(t, seeds, origin, round)
				if c, _ := header(got[round-1], dlq.HeaderRedriveCount); c != strconv.Itoa(round) {
					t.Fatalf("round %d: eddy-redrive-count %q", round, c)
				}
				seen = failAgain(t, seeds, origin, dlt, seen)
				continue
			}
			if rep.Redriven != 0 || rep.Parked != 1 {
				t.Fatalf("round 4: %+v, %s", rep, stderr)
			}
		}
		parked := waitRecords(t, seeds, dlq.ParkingName(dlt), 1)
		reason, _ := header(parked[0], dlq.HeaderParkReason)
		if string(parked[0].Value) != "poison" || !strings.Contains(reason, "redriven 3 time(s), max 3") || !strings.Contains(reason, "still broken") {
			t.Fatalf("parked %s with reason %q", parked[0].Value, reason)
		}
		if n := len(kafkatest.ReadCommitted(t, seeds, origin)); n != 3 {
			t.Fatalf("the origin got %d redrives, want 3", n)
		}
		if left, _ := dlqCount(t, seeds, ledger, dlt); left != 0 {
			t.Fatalf("dlq show counts %d left after parking", left)
		}
	})
}

// TestRedriveInterruptAndResume: Ctrl-C stops a redrive with a summary and
// exit 130, a progress line was drawn on the terminal; the same command
// resumes, and the origin holds every letter once.
func TestRedriveInterruptAndResume(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		origin := kafkatest.NewTopic(t, seeds, 2)
		dlt := kafkatest.NamedTopic(t, seeds, origin+".DLT", 2)
		const n = 1000
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = springLetter(dlt, origin, 0, int64(i), "boom", "v"+strconv.Itoa(i))
			recs[i].Partition = int32(i % 2)
		}
		kafkatest.Produce(t, seeds, recs...)
		ledger := t.TempDir() + "/l.db"
		run := func(ctx context.Context, rate float64) (string, error) {
			f, _, errOut := testFactory(true)
			f.IO.ErrTTY = true
			f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
			err := redriveRun(ctx, f, &RedriveOptions{DLQ: "kafka:" + dlt, Rate: rate, Ledger: ledger, Output: "text", MaxRedrives: 3})
			return errOut.String(), err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		var err error
		var stderr string
		go func() {
			defer close(done)
			stderr, err = run(ctx, 50) // 20 s for all: the interrupt comes first
		}()
		kafkatest.WaitFor(t, 30*time.Second, "letters in the origin", func() bool {
			select {
			case <-done:
				t.Fatalf("redrive ended before the interrupt: %v, %s", err, stderr)
			default:
			}
			return len(kafkatest.ReadCommitted(t, seeds, origin)) >= 40
		})
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("redrive did not stop within 5s of the interrupt")
		}
		if exitCode(err) != ExitInterrupted || !strings.Contains(stderr, "redrive stopped; run the same command to resume") ||
			!strings.Contains(stderr, "\r\x1b[Kredrive: ") {
			t.Fatalf("interrupted: exit %d (%v), stderr %q", exitCode(err), err, stderr)
		}
		if left, _ := dlqCount(t, seeds, ledger, dlt); left == 0 || left == n {
			t.Fatalf("after the interrupt dlq show counts %d left: nothing was tested", left)
		}
		if stderr, err = run(context.Background(), 0); err != nil {
			t.Fatalf("resumed: %v, %s", err, stderr)
		}
		requireEachOnce(t, seeds, n, origin)
		if left, redriven := dlqCount(t, seeds, ledger, dlt); left != 0 || redriven != n {
			t.Fatalf("after the resume dlq show counts %d left, %d redriven", left, redriven)
		}
	})
}

// TestRedriveFlags: flags parse into the options (through runF); --ids @FILE
// reads one id a line; bad input is a usage error naming the flag.
func TestRedriveFlags(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *RedriveOptions
	cmd := newCmdRedrive(f, func(_ context.Context, o *RedriveOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"orders.DLT", "--to", "kafka:x", "--filter", "n > 1", "--ids", "a,b", "--error", "^T", "--dry-run",
		"--rate", "5", "--max-redrives", "4", "--park", "p", "--keep-partition", "--job", "j", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.DLQ != "orders.DLT" || got.To != "kafka:x" || got.Filter != "n > 1" || strings.Join(got.IDs, ",") != "a,b" || got.Error != "^T" ||
		!got.DryRun || got.Rate != 5 || got.MaxRedrives != 4 || got.Park != "p" || !got.KeepPartition || got.Job != "j" || got.Output != "json" {
		t.Fatalf("options: %+v", got)
	}
	file := t.TempDir() + "/ids"
	if err := os.WriteFile(file, []byte("# picked by hand\norders.DLT/0@1\n\n e7 \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ids, err := readIDs([]string{"x", "@" + file})
	if err != nil || strings.Join(ids, ",") != "x,orders.DLT/0@1,e7" {
		t.Fatalf("readIDs: %v %v", ids, err)
	}
	for _, tc := range []struct {
		o    RedriveOptions
		want string
	}{
		{RedriveOptions{DLQ: "file:x"}, "reads a Kafka topic"},
		{RedriveOptions{DLQ: "orders.DLT", Error: "("}, "--error"},
		{RedriveOptions{DLQ: "orders.DLT", IDs: []string{"@/nonexistent/ids"}}, "--ids @/nonexistent/ids"},
		{RedriveOptions{DLQ: "orders.DLT", MaxRedrives: 0}, "--max-redrives"},
		{RedriveOptions{DLQ: "orders.DLT", To: "amqp:q"}, "--to amqp:q"},
		{RedriveOptions{DLQ: "amqp:q", To: "kafka:t"}, "--to kafka:t"},
		{RedriveOptions{DLQ: "amqp:q", KeepPartition: true}, "--keep-partition"},
		{RedriveOptions{DLQ: "orders.DLT", Park: "amqp:p"}, "--park amqp:p"},
		{RedriveOptions{DLQ: "orders.DLT", Filter: "value.("}, ""},
	} {
		o := tc.o
		if o.Output == "" {
			o.Output = "text"
		}
		if o.MaxRedrives == 0 && !strings.Contains(tc.want, "max-redrives") {
			o.MaxRedrives = 3
		}
		_, err := planRedrive(f, &o)
		if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: exit %d, %v; want usage naming %q", tc.o, exitCode(err), err, tc.want)
		}
	}
}
