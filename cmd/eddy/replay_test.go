package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

// TestReplayFlags checks flag parsing alone, through runF.
func TestReplayFlags(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *ReplayOptions
	cmd := newCmdReplay(f, func(_ context.Context, o *ReplayOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"kafka:a", "kafka:b", "--to", "kafka:c", "--rate", "50", "--dry-run", "--keep-partition", "--filter", "x == 1", "--job", "j"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Sources, ",") != "kafka:a,kafka:b" || got.To != "kafka:c" || got.Rate != 50 || !got.DryRun ||
		!got.KeepPartition || got.Filter != "x == 1" || got.Job != "j" || got.From != "beginning" || got.Until != "end" {
		t.Fatalf("options: %+v", got)
	}
}

// readCommitted counts each value a read_committed reader sees in topic, up
// to its last stable offsets.
func readCommitted(t *testing.T, seeds []string, topic string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, r := range kafkatest.ReadCommitted(t, seeds, topic) {
		got[string(r.Value)]++
	}
	return got
}

// TestReplayInterruptAndResume: Ctrl-C stops a transactional replay with a
// summary and exit 130; the same command resumes, and a read_committed reader
// sees every record exactly once.
func TestReplayInterruptAndResume(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		src := kafkatest.NewTopic(t, seeds, 2)
		dst := kafkatest.NewTopic(t, seeds, 2)
		// 1000 records at 50/s: the interrupt comes long before the end
		// (20 s) even when checking the target is slow (-race on a busy
		// machine); the resumed run is not rate-limited.
		produceValues(t, seeds, src, 2, 1000)

		run := func(ctx context.Context, rate float64) (string, error) {
			f, _, errOut := testFactory(false)
			f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
			err := replayRun(ctx, f, &ReplayOptions{Sources: []string{"kafka:" + src}, To: "kafka:" + dst,
				From: "beginning", Until: "end", Rate: rate, Output: "text"})
			return errOut.String(), err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		var err error
		var stderr string
		go func() {
			defer close(done)
			stderr, err = run(ctx, 50)
		}()
		// Interrupt once some records landed (a condition, not a sleep).
		kafkatest.WaitFor(t, 30*time.Second, "records in the target", func() bool {
			select {
			case <-done:
				t.Fatalf("replay ended before the interrupt: %v, %s", err, stderr)
			default:
			}
			return len(readCommitted(t, seeds, dst)) >= 40
		})
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("replay did not stop within 5s of the interrupt")
		}
		if exitCode(err) != ExitInterrupted || !strings.Contains(stderr, "replay stopped; run the same command to resume") {
			t.Fatalf("interrupted: exit %d (%v), stderr %q", exitCode(err), err, stderr)
		}
		if n := len(readCommitted(t, seeds, dst)); n >= 1000 {
			t.Fatalf("the interrupted run moved everything (%d): nothing was tested", n)
		}

		stderr, err = run(context.Background(), 0)
		if err != nil {
			t.Fatalf("resumed: %v, %s", err, stderr)
		}
		requireEachOnce(t, seeds, 1000, dst)
	})
}

// TestReplayCaptureTTYAndPipe: a progress line on a terminal's stderr, none in
// a pipe; the summary either way; -o json on stdout.
func TestReplayCaptureTTYAndPipe(t *testing.T) {
	in := writeCapture(t)
	for _, tty := range []bool{true, false} {
		f, out, errOut := testFactory(tty)
		f.IO.ErrTTY = tty
		dir := t.TempDir()
		o := &ReplayOptions{Sources: []string{"file:" + in}, To: "file:" + dir + "/out.jsonl", Output: "text",
			From: "beginning", Until: "end", Ledger: dir + "/ledger.db"}
		if err := replayRun(context.Background(), f, o); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(errOut.String(), "\r\x1b[Kreplay: "); got != tty {
			t.Fatalf("tty %v: progress drawn %v: %q", tty, got, errOut.String())
		}
		if !strings.Contains(errOut.String(), ", moved ") || out.Len() != 0 {
			t.Fatalf("tty %v: stdout %q, stderr %q", tty, out.String(), errOut.String())
		}
		f, out, _ = testFactory(tty)
		o.Output = "json"
		if err := replayRun(context.Background(), f, o); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"mode":"ledger"`) || !strings.Contains(out.String(), `"moved":0`) {
			t.Fatalf("json rerun: %s", out.String())
		}
	}
}

// TestReplayKillAndRerun: a transactional replay SIGKILLed at about 20%, 40%
// and 60%, rerun each time and then to the end: a read_committed reader of
// the target sees every source record exactly once.
func TestReplayKillAndRerun(t *testing.T) {
	bin := eddyBinary(t)
	eachKafka(t, func(t *testing.T, seeds []string) {
		const n = 20000
		src := kafkatest.NewTopic(t, seeds, 3)
		dst := kafkatest.NewTopic(t, seeds, 3)
		produceValues(t, seeds, src, 3, n)
		adm := kafkatest.Admin(t, seeds)
		landed := func() int64 { return offsetSum(adm.ListCommittedOffsets(context.Background(), dst)) }
		home := t.TempDir()
		run := func(args ...string) *exec.Cmd {
			return eddyAt(bin, home, append([]string{"replay", "kafka:" + src, "--to", "kafka:" + dst,
				"--brokers", strings.Join(seeds, ",")}, args...)...)
		}
		killAt(t, 60*time.Second, func() *exec.Cmd { return run("--rate", "4000") }, landed, n, 20, 40, 60)
		if out, err := run().CombinedOutput(); err != nil {
			t.Fatalf("final run: %v\n%s", err, out)
		}
		requireEachOnce(t, seeds, n, dst)
	})
}

// TestReplayLedgerKillAndRerun: the ledger path (a capture to Kafka) SIGKILLed
// at about 20%, 40% and 60% and rerun: every record lands, and the only
// duplicates are records in flight at a kill, whose copies share their
// eddy-redrive-id.
func TestReplayLedgerKillAndRerun(t *testing.T) {
	bin := eddyBinary(t)
	seeds := kafkatest.Cluster(t)
	const n = 20000
	dir := t.TempDir()
	capture := dir + "/dlt.jsonl"
	var b []byte
	for i := range n {
		b = event.AppendEnvelope(b, &event.Event{Transport: event.Kafka, Topic: "orders.DLT", Offset: int64(i),
			Value: []byte("v" + strconv.Itoa(i))})
		b = append(b, '\n')
	}
	if err := os.WriteFile(capture, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := kafkatest.NewTopic(t, seeds, 1)
	adm := kafkatest.Admin(t, seeds)
	landed := func() int64 { return offsetSum(adm.ListEndOffsets(context.Background(), dst)) }
	run := func(args ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"replay", "file:" + capture, "--to", "kafka:" + dst,
			"--brokers", strings.Join(seeds, ","), "--ledger", dir + "/ledger.db"}, args...)...)
	}
	killAt(t, 60*time.Second, func() *exec.Cmd { return run("--rate", "4000") }, landed, n, 20, 40, 60)
	if out, err := run().CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	read := landed()
	values := redriveIDsOf(t, seeds, dst, read) // value -> its copies' redrive ids
	if len(values) != n {
		t.Fatalf("%d distinct records landed, want %d", len(values), n)
	}
	dups := 0
	for v, ids := range values {
		if len(ids) > 1 {
			dups += len(ids) - 1
			for _, id := range ids {
				if id == "" || id != ids[0] {
					t.Fatalf("%s: copies with redrive ids %v", v, ids)
				}
			}
		}
	}
	// At most the chunk in flight at each of the three kills (--rate 4000:
	// chunks of 400).
	if dups > 3*400 {
		t.Fatalf("%d duplicates, more than the chunks in flight at the kills", dups)
	}
	t.Logf("%d records, %d duplicates (in flight at a kill), all flagged by a shared eddy-redrive-id", read, dups)
}
