package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/replay/eos"
)

// worker is one `eddy` process of a shared job, its JSON report on stdout.
type worker struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// startWorkers starts one process per name (eddyAt home): args, then
// --worker NAME (none for "": the default name) and -o json.
func startWorkers(t *testing.T, home string, args []string, names ...string) []*worker {
	t.Helper()
	bin := eddyBinary(t)
	return startWorkersOf(t, func(a ...string) *exec.Cmd { return eddyAt(bin, home, a...) }, args, names...)
}

// startWorkersOf is startWorkers with the command line eddy makes.
func startWorkersOf(t *testing.T, eddy func(args ...string) *exec.Cmd, args []string, names ...string) []*worker {
	t.Helper()
	ws := make([]*worker, len(names))
	for i, n := range names {
		w := &worker{name: n}
		a := append(append([]string{}, args...), "-o", "json")
		if n != "" {
			a = append(a, "--worker", n)
		}
		w.cmd = eddy(a...)
		w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if w.cmd.ProcessState == nil {
				w.cmd.Process.Kill()
				w.cmd.Wait()
			}
		})
		ws[i] = w
	}
	return ws
}

// workerPartitions is what the group gives the worker with instance id now.
func workerPartitions(adm *kadm.Client, group, instance string) []int32 {
	dg, err := adm.DescribeGroups(context.Background(), group)
	if err != nil {
		return nil
	}
	for _, m := range dg[group].Members {
		if m.InstanceID == nil || *m.InstanceID != instance {
			continue
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			var ps []int32
			for _, t := range c.Topics {
				ps = append(ps, t.Partitions...)
			}
			return ps
		}
	}
	return nil
}

// committedOn is the group's committed offsets on topic's partitions ps.
func committedOn(adm *kadm.Client, group, topic string, ps []int32) int64 {
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		return 0
	}
	var sum int64
	for _, p := range ps {
		if o, ok := offs.Lookup(topic, p); ok && o.At > 0 {
			sum += o.At
		}
	}
	return sum
}

// TestRedriveWorkersShareAndKill: three workers of one redrive job on a
// 6-partition DLT share it: each moves a share of the letters; one is killed
// with SIGKILL once it committed some, and the other two take over its
// partitions (after the group's session timeout, and once Kafka aborted the
// transaction it left open) and finish the job. A rerun finds nothing left.
// A read_committed reader of the origin sees every letter exactly once.
func TestRedriveWorkersShareAndKill(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		const n = 6000
		origin, dlt := springDLT(t, seeds, n, 6)
		adm := kafkatest.Admin(t, seeds)
		home := t.TempDir()
		const job = "shared"
		group := dlq.RedriveGroup(job)
		args := []string{"dlq", "redrive", "kafka:" + dlt, "--brokers", strings.Join(seeds, ","), "--job", job}
		start := time.Now()
		// 250/s each: about 8 s for the three, long enough to kill one
		// mid-run.
		ws := startWorkers(t, home, append(args, "--rate", "250"), "w1", "w2", "w3")
		victim := ws[1]
		var owned []int32
		kafkatest.WaitFor(t, 60*time.Second, "w2 committed letters of its own partitions", func() bool {
			owned = workerPartitions(adm, group, "w2")
			return len(owned) > 0 && committedOn(adm, group, dlt, owned) > 0
		})
		// The kill that matters most catches w2 inside a transaction: its
		// partitions' offsets and the origin's last stable offset are then
		// held until Kafka aborts it. Its transactions are short (25
		// letters, ten a second), so ask for its state as fast as the
		// cluster answers, for up to ten seconds.
		open := catchOpen(adm, eos.WorkerID(group, "w2"), 10*time.Second, func() bool { return true })
		victim.cmd.Process.Kill() // SIGKILL: no chance to end a transaction
		victim.cmd.Wait()
		killed := time.Now()
		t.Logf("killed w2 after %s holding partitions %v; a transaction open at the kill: %v", time.Since(start).Round(time.Millisecond), owned, open)
		var survivors int64
		for _, w := range []*worker{ws[0], ws[2]} {
			var rep redriveReport
			w.report(t, &rep)
			t.Logf("%s redrove %d letters", w.name, rep.Redriven)
			if rep.Redriven == 0 {
				t.Errorf("%s moved no share of the job", w.name)
			}
			survivors += rep.Redriven
		}
		// What the survivors did not move, w2 committed before the kill.
		if survivors >= n {
			t.Errorf("the survivors redrove %d letters: w2 moved no share", survivors)
		}
		t.Logf("the survivors finished the job %s after the start", time.Since(start).Round(time.Millisecond))
		// w2's open transaction wrote to the origin: read_committed readers
		// of it stop there (the last stable offset) until the transaction
		// is aborted. Once the group dropped w2 (its 6 s session), a live
		// worker aborts it (fenceDead); the survivors finished well after
		// that, so it must be aborted already — else Kafka would have timed
		// it out (20 s, plus up to 10 s between a broker's checks).
		if open {
			unfinished, err := txnIn(adm, eos.WorkerID(group, "w2"), "Ongoing", "Prepare")
			if err != nil {
				t.Fatal(err)
			}
			if since := time.Since(killed); unfinished && since > 10*time.Second {
				t.Fatalf("w2's transaction is unfinished %s after the kill: the survivors left it open", since.Round(time.Millisecond))
			}
			kafkatest.WaitFor(t, 90*time.Second, "w2's transaction aborted", func() bool {
				unfinished, err := txnIn(adm, eos.WorkerID(group, "w2"), "Ongoing", "Prepare")
				return err == nil && !unfinished
			})
		}
		rerun := startWorkers(t, home, args, "rerun")[0]
		if err := rerun.cmd.Wait(); err != nil {
			t.Fatalf("rerun: %v\n%s", err, rerun.stderr.String())
		}
		var rep redriveReport
		if err := json.Unmarshal(rerun.stdout.Bytes(), &rep); err != nil || rep.Redriven != 0 {
			t.Fatalf("a rerun of the finished job: %v, %+v", err, rep)
		}
		requireEachOnce(t, seeds, n, origin)
		if left, redriven := dlqCount(t, seeds, home+"/eddy/ledger.db", dlt); left != 0 || redriven != n {
			t.Fatalf("dlq show counts %d left, %d redriven; want 0, %d", left, redriven, n)
		}
	})
}

// TestRedriveDefaultWorkersShare: two processes of one job started without
// --worker (each its own default name) share the job, where before the
// second fenced the first: both end with exit 0, each moved a share, and
// every letter landed once.
func TestRedriveDefaultWorkersShare(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		const n = 3000
		origin, dlt := springDLT(t, seeds, n, 6)
		args := []string{"dlq", "redrive", "kafka:" + dlt, "--brokers", strings.Join(seeds, ","), "--rate", "300"}
		var moved int64
		for _, w := range startWorkers(t, t.TempDir(), args, "", "") {
			var rep redriveReport
			w.report(t, &rep)
			if rep.Redriven == 0 {
				t.Errorf("a worker moved no share:\n%s", w.stderr.String())
			}
			moved += rep.Redriven
		}
		if moved != n {
			t.Errorf("the workers redrove %d letters together, want %d", moved, n)
		}
		requireEachOnce(t, seeds, n, origin)
	})
}

// TestReplayWorkersShare: `eddy replay` from Kafka to Kafka runs on the same
// engine: two workers of one job share a 6-partition source, each moves a
// share, and a read_committed reader of the target sees every record once.
func TestReplayWorkersShare(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		const n = 3000
		src := kafkatest.NewTopic(t, seeds, 6)
		dst := kafkatest.NewTopic(t, seeds, 6)
		produceValues(t, seeds, src, 6, n)
		args := []string{"replay", "kafka:" + src, "--to", "kafka:" + dst, "--brokers", strings.Join(seeds, ","), "--job", "shared", "--rate", "300"}
		var moved int64
		for _, w := range startWorkers(t, t.TempDir(), args, "a", "b") {
			var rep replayReport
			w.report(t, &rep)
			t.Logf("%s moved %d", w.name, rep.Moved)
			if rep.Moved == 0 {
				t.Errorf("%s moved no share", w.name)
			}
			moved += rep.Moved
		}
		if moved != n {
			t.Errorf("the workers moved %d records together, want %d", moved, n)
		}
		requireEachOnce(t, seeds, n, dst)
	})
}

// TestWorkerFlag: a --worker name that could not be a transactional id's
// part is exit 2 with one line naming the flag, before any broker is asked;
// an empty one too (never "the default").
func TestWorkerFlag(t *testing.T) {
	for _, args := range [][]string{
		{"dlq", "redrive", "kafka:x.DLT", "--brokers", "127.0.0.1:1"},
		{"replay", "kafka:x", "--to", "kafka:y", "--brokers", "127.0.0.1:1"},
	} {
		for _, bad := range []string{"a b", "../x", "..", strings.Repeat("w", 101), "\x1b[31mred"} {
			code, _, stderr := runEddy(t, nil, append(args, "--worker", bad)...)
			if code != ExitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
				!strings.Contains(stderr, "--worker") || !strings.Contains(stderr, "a worker name is 1 to 100") || strings.Contains(stderr, "\x1b") {
				t.Errorf("%s --worker %q: exit %d\n%s", args[0], bad, code, stderr)
			}
		}
		code, _, stderr := runEddy(t, nil, append(args, "--worker", "")...)
		if code != ExitUsage || !strings.Contains(stderr, "--worker") {
			t.Errorf("%s --worker '': exit %d\n%s", args[0], code, stderr)
		}
	}
}

// TestDefaultWorker: the default worker name is a valid one, distinct for
// every process (the pid), so that two runs of a job started without
// --worker share it.
func TestDefaultWorker(t *testing.T) {
	w, err := resolveWorker("")
	if err != nil || !strings.HasSuffix(w, "-"+strconv.Itoa(os.Getpid())) || len(w) > maxWorker {
		t.Fatalf("default worker %q, %v", w, err)
	}
	if got, err := resolveWorker(w); err != nil || got != w {
		t.Fatalf("the default name %q is refused as --worker: %v", w, err)
	}
}

// TestRedriveWorkerRerunSameName: a worker killed inside a transaction and
// rerun under its --worker name aborts that transaction at once (the same
// transactional id) and finishes the job without waiting for Kafka to time
// the transaction out; every letter lands once.
func TestRedriveWorkerRerunSameName(t *testing.T) {
	eachKafka(t, func(t *testing.T, seeds []string) {
		const n = 3000
		origin, dlt := springDLT(t, seeds, n, 3)
		adm := kafkatest.Admin(t, seeds)
		home := t.TempDir()
		const job = "solo"
		group := dlq.RedriveGroup(job)
		args := []string{"dlq", "redrive", "kafka:" + dlt, "--brokers", strings.Join(seeds, ","), "--job", job}
		w := startWorkers(t, home, append(args, "--rate", "250"), "solo")[0]
		open := catchOpen(adm, eos.WorkerID(group, "solo"), 30*time.Second, func() bool {
			return committedOn(adm, group, dlt, []int32{0, 1, 2}) > 0
		})
		w.cmd.Process.Kill()
		w.cmd.Wait()
		if !open {
			t.Skip("could not catch the worker inside a transaction to kill it there")
		}
		start := time.Now()
		rerun := startWorkers(t, home, args, "solo")[0]
		if err := rerun.cmd.Wait(); err != nil {
			t.Fatalf("rerun: %v\n%s", err, rerun.stderr.String())
		}
		// Kafka would abort the dead transaction after 20 s (its timeout);
		// the rerun under the same name aborts it when it starts.
		if took := time.Since(start); took >= 20*time.Second {
			t.Errorf("the rerun under the same name took %s: it waited for the dead transaction to time out", took)
		}
		requireEachOnce(t, seeds, n, origin)
		t.Logf("killed inside a transaction; the rerun under the same name finished in %s", time.Since(start).Round(time.Millisecond))
	})
}
