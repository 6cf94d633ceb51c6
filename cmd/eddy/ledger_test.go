package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/redistest"
	"github.com/eddy-sh/eddy/trace/otlptest"
)

func ledgerJob(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// TestDLQLedger: `eddy dlq ledger` lists jobs with their counts, shows one
// job's outcome-unknown ids and prunes — on the bbolt file and on Redis.
func TestDLQLedger(t *testing.T) {
	for _, backend := range []string{"bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			var spec string
			if backend == "redis" {
				spec = redistest.URL(t)
			} else {
				spec = filepath.Join(t.TempDir(), "ledger.db")
			}
			job := ledgerJob("cli") + "\x1b[31m" // hostile bytes in a job name are shown escaped
			f, _, _ := testFactory(false)
			l, err := f.OpenLedger(context.Background(), spec, replay.DefaultLedgerTTL)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Begin(job, []string{"kafka:t/0@1", "kafka:t/0@2", "kafka:t/0@3"}); err != nil {
				t.Fatal(err)
			}
			if err := l.Complete(job, []string{"kafka:t/0@1"}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			t.Cleanup(func() { runEddy(t, nil, "dlq", "ledger", "prune", "--ledger", spec, "--job", job) })

			code, out, errOut := runEddy(t, nil, "dlq", "ledger", "--ledger", spec, "-o", "json")
			var ls struct {
				V    int             `json:"v"`
				Jobs []ledgerJobJSON `json:"jobs"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &ls) != nil || ls.V != 1 {
				t.Fatalf("ls: %d %q %q", code, out, errOut)
			}
			var mine *ledgerJobJSON
			for i := range ls.Jobs {
				if ls.Jobs[i].Job == job {
					mine = &ls.Jobs[i]
				}
			}
			if mine == nil || mine.Completed != 1 || mine.InProgress != 2 || mine.Oldest == nil || time.Since(*mine.Newest) > time.Hour {
				t.Fatalf("ls: job %+v in %s", mine, out)
			}

			code, out, _ = runEddy(t, nil, "dlq", "ledger", "ls", "--ledger", spec, "-o", "tsv")
			if code != 0 || strings.Contains(out, "\x1b") || !strings.Contains(out, `\x1b[31m`+"\t1\t2\t") {
				t.Fatalf("ls tsv: %d %q", code, out)
			}

			code, out, errOut = runEddy(t, nil, "dlq", "ledger", "show", job, "--ledger", spec, "-o", "json")
			var show struct {
				Job           string `json:"job"`
				InProgress    int    `json:"in_progress"`
				InProgressIDs []struct {
					ID string `json:"id"`
				} `json:"in_progress_ids"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &show) != nil || show.InProgress != 2 || len(show.InProgressIDs) != 2 ||
				show.InProgressIDs[0].ID != "kafka:t/0@2" || show.InProgressIDs[1].ID != "kafka:t/0@3" {
				t.Fatalf("show: %d %q %q", code, out, errOut)
			}
			if code, _, errOut = runEddy(t, nil, "dlq", "ledger", "show", job+"-none", "--ledger", spec); code != ExitError || !strings.Contains(errOut, "no job") {
				t.Fatalf("show of a missing job: %d %q", code, errOut)
			}

			if code, _, errOut = runEddy(t, nil, "dlq", "ledger", "prune", "--ledger", spec); code != ExitUsage {
				t.Fatalf("prune without a selector: %d %q", code, errOut)
			}
			// Nothing is older than a day; then the completed entry goes.
			code, out, _ = runEddy(t, nil, "dlq", "ledger", "prune", "--ledger", spec, "--job", job, "--older-than", "1d")
			if code != 0 || out != "pruned 0 entries\n" {
				t.Fatalf("prune --older-than 1d: %d %q", code, out)
			}
			code, out, _ = runEddy(t, nil, "dlq", "ledger", "prune", "--ledger", spec, "--job", job, "--completed-only")
			if code != 0 || out != "pruned 1 entry\n" {
				t.Fatalf("prune --completed-only: %d %q", code, out)
			}
			code, out, _ = runEddy(t, nil, "dlq", "ledger", "show", job, "--ledger", spec, "-o", "json")
			if code != 0 || !strings.Contains(out, `"completed":0,"in_progress":2`) {
				t.Fatalf("show after pruning: %d %q", code, out)
			}
		})
	}
}

// TestLedgerFlagErrors: a bad --ledger or --ledger-ttl is one line and exit
// 2; an unreachable Redis is exit 4; the password is never printed.
func TestLedgerFlagErrors(t *testing.T) {
	code, _, errOut := runEddy(t, nil, "dlq", "ledger", "--ledger", "redis://:s3cret-pw@127.0.0.1:1/0")
	if code != ExitConnect || strings.Contains(errOut, "s3cret") || !strings.Contains(errOut, "redis://:xxxxx@127.0.0.1:1/0") ||
		strings.Count(errOut, "\n") != 1 {
		t.Fatalf("unreachable Redis: %d %q", code, errOut)
	}
	code, _, errOut = runEddy(t, nil, "dlq", "ledger", "--ledger", "http://u:s3cret-pw@x/")
	if code != ExitUsage || strings.Contains(errOut, "s3cret") {
		t.Fatalf("a URL that is not Redis: %d %q", code, errOut)
	}
	code, _, errOut = runEddy(t, nil, "replay", "file:x", "--to", "file:y", "--ledger-ttl", "soon")
	if code != ExitUsage || !strings.Contains(errOut, "soon") {
		t.Fatalf("bad --ledger-ttl: %d %q", code, errOut)
	}
	// EDDY_LEDGER names the ledger when --ledger does not.
	code, _, errOut = runEddy(t, map[string]string{"EDDY_LEDGER": "redis://:s3cret-pw@127.0.0.1:1/0"}, "dlq", "ledger")
	if code != ExitConnect || strings.Contains(errOut, "s3cret") {
		t.Fatalf("EDDY_LEDGER: %d %q", code, errOut)
	}
}

func writeEvents(t *testing.T, path string, n int, traceparent string) {
	t.Helper()
	w, err := file.Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for i := range n {
		e := event.Event{Transport: event.Kafka, Topic: "orders", Offset: int64(i), Value: []byte("v" + strconv.Itoa(i))}
		if traceparent != "" {
			e.Headers = []event.Header{{Key: "traceparent", Value: []byte(traceparent)}}
		}
		evs = append(evs, e)
	}
	if err := w.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReplayOTLP: eddy replay --otlp exports the run span and a span per
// moved event in the events' own trace; a bad endpoint is a usage error.
func TestReplayOTLP(t *testing.T) {
	rcv, url := otlptest.Start(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	writeEvents(t, in, 5, "00-"+tid+"-00f067aa0ba902b7-01")
	code, out, errOut := runEddy(t, nil, "replay", "file:"+in, "--to", "file:"+filepath.Join(dir, "out.jsonl"),
		"--ledger", filepath.Join(dir, "ledger.db"), "--otlp", url, "-o", "json")
	if code != 0 || !strings.Contains(out, `"moved":5`) {
		t.Fatalf("replay: %d %q %q", code, out, errOut)
	}
	runs, sends := 0, 0
	for _, s := range rcv.Spans() {
		switch {
		case s.Name == "eddy replay":
			runs++
			if a := otlptest.Attrs(s.Attributes); a["eddy.replay.moved"] != "5" {
				t.Errorf("run span attributes %v", a)
			}
		case strings.HasPrefix(s.Name, "send file:"):
			sends++
			if hex.EncodeToString(s.TraceId) != tid {
				t.Errorf("event span in trace %x, want %s", s.TraceId, tid)
			}
		}
	}
	if runs != 1 || sends != 5 {
		t.Fatalf("%d run spans and %d event spans, want 1 and 5", runs, sends)
	}
	if code, _, errOut = runEddy(t, nil, "replay", "file:"+in, "--to", "file:"+filepath.Join(dir, "o2.jsonl"), "--otlp", "ftp://x"); code != ExitUsage {
		t.Fatalf("bad --otlp: %d %q", code, errOut)
	}
}

// TestReplayWithRedisLedger: `eddy replay --ledger redis://…` is rerun-safe
// like the embedded ledger: a rerun moves nothing.
func TestReplayWithRedisLedger(t *testing.T) {
	url := redistest.URL(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeEvents(t, in, 20, "")
	job := ledgerJob("replay-redis")
	t.Cleanup(func() { runEddy(t, nil, "dlq", "ledger", "prune", "--ledger", url, "--job", job) })
	args := []string{"replay", "file:" + in, "--to", "file:" + filepath.Join(dir, "out.jsonl"), "--ledger", url, "--job", job, "-o", "json"}
	for i, want := range []string{`"moved":20`, `"moved":0`} {
		code, out, errOut := runEddy(t, nil, args...)
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, `"mode":"ledger"`) {
			t.Fatalf("run %d: %d %q %q", i, code, out, errOut)
		}
	}
}

// TestReplayRedisLedgerKillAndRerun: a replay with the Redis ledger,
// SIGKILLed twice mid-run. A rerun while the dead run's lease lasts leaves its
// in-flight records to it (exit 3, "held by another run"); once the lease has
// run out a rerun takes them over and finishes. Every record lands, and the
// only duplicates are copies with one eddy-redrive-id.
func TestReplayRedisLedgerKillAndRerun(t *testing.T) {
	url := redistest.URL(t)
	bin := eddyBinary(t)
	seeds := kafkatest.Cluster(t)
	const n = 6000
	dir := t.TempDir()
	capture := filepath.Join(dir, "dlt.jsonl")
	writeEvents(t, capture, n, "")
	dst := kafkatest.NewTopic(t, seeds, 1)
	adm := kafkatest.Admin(t, seeds)
	landed := func() int64 { return offsetSum(adm.ListEndOffsets(context.Background(), dst)) }
	job := ledgerJob("kill")
	t.Cleanup(func() { runEddy(t, nil, "dlq", "ledger", "prune", "--ledger", url, "--job", job) })
	run := func(args ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"replay", "file:" + capture, "--to", "kafka:" + dst,
			"--brokers", strings.Join(seeds, ","), "--ledger", url, "--job", job}, args...)...)
	}
	killAt(t, 60*time.Second, func() *exec.Cmd { return run("--rate", "3000") }, landed, n, 30, 60)
	// Rerun until one finishes: at most every half second, as an operator
	// would, while the killed run's lease (10s) runs out.
	held := 0
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(90 * time.Second); ; <-tick.C {
		out, err := run().CombinedOutput()
		if err == nil {
			break
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitPartial || !strings.Contains(string(out), "held by another run") ||
			!strings.Contains(string(out), "left to another run") {
			t.Fatalf("rerun: %v\n%s", err, out)
		}
		if held++; time.Now().After(deadline) {
			t.Fatalf("reruns still find records held after 90s:\n%s", out)
		}
	}
	t.Logf("%d rerun(s) found records held by the killed run", held)
	ids := redriveIDsOf(t, seeds, dst, landed()) // value -> its copies' redrive ids
	if len(ids) != n {
		t.Fatalf("%d distinct records landed, want %d", len(ids), n)
	}
	dups := 0
	for v, rids := range ids {
		for _, rid := range rids {
			if rid == "" || rid != rids[0] {
				t.Fatalf("%q: copies with redrive ids %v", v, rids)
			}
		}
		dups += len(rids) - 1
	}
	// At most the chunk in flight at each kill (--rate 3000: chunks of 300).
	if dups > 2*300 {
		t.Fatalf("%d duplicates, more than the chunks in flight at the kills", dups)
	}
}
