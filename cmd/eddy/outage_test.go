package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/internal/faultproxy"
)

// lockedBuffer is an output a test reads while the process still writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proxied puts a fault proxy in front of the RabbitMQ at amqpURL and
// returns the URL through it: cutting the proxy is a broker outage for eddy
// alone, not for the tests sharing that RabbitMQ.
func proxied(t *testing.T, amqpURL string) (string, *faultproxy.Proxy) {
	t.Helper()
	through, p, err := faultproxy.ForURL(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return through, p
}

// amqpOutageRun starts eddy with args against d's RabbitMQ through p, cuts
// p once a quarter of the messages landed, and restores it when restore
// says so of the stderr written since the cut (nil: never). It returns the
// outputs and the exit error.
func amqpOutageRun(t *testing.T, d *deadLettered, bin, home, via string, p *faultproxy.Proxy, restore func(stderr string) bool, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := eddyAMQPCmd(t, bin, d.URL, home, args...)
	cmd.Env = append(cmd.Env, "EDDY_AMQP_URL="+via) // the last one wins
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	total := len(d.IDs)
	cut, restored := false, false
	mark := 0 // stderr's length at the cut
	deadline := time.After(90 * time.Second)
	for {
		select {
		case err = <-exited:
			if !cut {
				t.Fatalf("eddy ended before the cut: %v\n%s\n%s", err, out.String(), errOut.String())
			}
			if restore != nil && !restored {
				t.Fatalf("eddy ended before the proxy was restored: %v\n%s\n%s", err, out.String(), errOut.String())
			}
			return out.String(), errOut.String(), err
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("eddy still running 90 s after it started (cut %v, restored %v)\n%s", cut, restored, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		switch {
		case !cut && d.landed(t) >= total/4:
			p.Cut()
			cut, mark = true, len(errOut.String())
			t.Logf("cut the proxy at %d of %d landed", d.landed(t), total)
		case cut && !restored && restore != nil && restore(errOut.String()[mark:]):
			p.Restore()
			restored = true
			t.Logf("restored the proxy at %d landed", d.landed(t))
		}
	}
}

// procExit is the process's exit status, -1 when it did not exit.
func procExit(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// testAMQPGiveUp: a RabbitMQ outage longer than --timeout mid-run. eddy
// exits non-zero with the outcome-unknown identities (a line on stderr, or
// outcome_unknown in -o json); the proxy restored, the same command
// resumes from the ledger: every id lands exactly once at its destination,
// duplicates only among ledger-flagged ones, and the DLQ ends empty.
func testAMQPGiveUp(t *testing.T, json_ bool, args func(d *deadLettered, home string) []string) {
	url := amqptest.URL(t)
	d := deadLetter(t, url, 2000, "orders")
	via, p := proxied(t, url)
	home := t.TempDir()
	bin := eddyBinary(t)
	a := append(args(d, home), "--rate", "400", "--timeout", "2s")
	if json_ {
		a = append(a, "-o", "json")
	}
	out, errOut, err := amqpOutageRun(t, d, bin, home, via, p, nil, a...)
	code := procExit(err)
	if code != ExitError && code != ExitConnect {
		t.Fatalf("after an outage longer than --timeout: exit %d (%v), want %d or %d\n%s\n%s", code, err, ExitError, ExitConnect, out, errOut)
	}
	if !strings.Contains(errOut, "gave up after --timeout 2s") {
		t.Fatalf("the error does not say eddy gave up after --timeout:\n%s", errOut)
	}
	var unknown []string
	if json_ {
		var rep struct {
			Unknown []string `json:"outcome_unknown"`
			Error   *string  `json:"error"`
		}
		if err := jsonUnmarshal(out, &rep); err != nil {
			t.Fatalf("-o json: %v\n%s", err, out)
		}
		if rep.Error == nil {
			t.Fatalf("-o json has no error after giving up:\n%s", out)
		}
		unknown = rep.Unknown
	} else if i := strings.Index(errOut, "eddy: outcome unknown for "); i >= 0 {
		line := errOut[i:]
		line = line[:strings.IndexByte(line, '\n')]
		unknown = strings.Fields(line[strings.LastIndex(line, ": ")+2:])
	}
	if len(unknown) == 0 {
		t.Fatalf("no outcome-unknown ids listed after giving up mid-run:\n%s\n%s", out, errOut)
	}
	t.Logf("stderr:\n%s", trimLines(errOut, 240))
	t.Logf("gave up with exit %d, %d outcome-unknown ids (first %s); %d of %d landed", code, len(unknown), unknown[0], d.landed(t), len(d.IDs))
	if amqptest.Depth(t, url, d.DLQ) == 0 {
		t.Fatal("the DLQ is empty after giving up mid-run: the outage came too late to prove anything")
	}

	p.Restore()
	rerun := eddyAMQPCmd(t, bin, url, home, append(args(d, home), "--timeout", "10s")...)
	rerun.Env = append(rerun.Env, "EDDY_AMQP_URL="+via)
	if b, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("the rerun after the outage: %v\n%s", err, b)
	} else {
		t.Logf("rerun: %s", strings.TrimSpace(string(b)))
	}
	amqptest.Eventually(t, 30*time.Second, "the DLQ empty", func() bool { return amqptest.Depth(t, url, d.DLQ) == 0 })
	dups := d.checkExactlyItsIDs(t, d.drainDest(t))
	t.Logf("%d duplicates, all flagged", dups)
}

// testAMQPResume: an outage shorter than --timeout: the one run rides it
// out and finishes; exactly its ids land, duplicates only flagged ones.
// With skip, the first three messages are not selected (--filter): they stay
// in the DLQ and are counted once in not_selected, though the outage hands
// them to eddy a second time.
func testAMQPResume(t *testing.T, skip bool, args func(d *deadLettered, home string) []string) {
	url := amqptest.URL(t)
	d := deadLetter(t, url, 2000, "orders")
	via, p := proxied(t, url)
	home := t.TempDir()
	a := append(args(d, home), "--rate", "400", "--timeout", "20s", "--debug", "-o", "json")
	want := 0
	if skip {
		a = append(a, "--filter", `not (id in ["orders-0", "orders-1", "orders-2"])`)
		want = 3
	}
	// Restored once eddy saw the outage: it retries a write, or (--debug)
	// its consumer lost the channel. Waiting for "retrying" alone is not
	// enough: with no publish in flight at the cut only the consumer sees
	// it, and it says "retrying" only once its reconnecting has failed for
	// --timeout, too late for a run that is to ride the outage out.
	out, errOut, err := amqpOutageRun(t, d, eddyBinary(t), home, via, p, func(stderr string) bool {
		return strings.Contains(stderr, "retrying") || strings.Contains(stderr, "channel lost")
	}, a...)
	if err != nil {
		t.Fatalf("the run through an outage shorter than --timeout: %v\n%s\n%s", err, out, errOut)
	}
	if skip {
		var rep struct {
			Unselected *int `json:"not_selected"` // redrive
			Filtered   *int `json:"filtered"`     // replay
		}
		err := jsonUnmarshal(out, &rep)
		got := rep.Filtered
		if rep.Unselected != nil {
			got = rep.Unselected
		}
		if err != nil || got == nil || *got != want {
			t.Fatalf("-o json: %v; want %d not selected (counted once though delivered again after the outage)\n%s", err, want, out)
		}
		for i := range want {
			delete(d.IDs, "orders-"+strconv.Itoa(i))
		}
	}
	amqptest.Eventually(t, 30*time.Second, "the DLQ holding only what is left", func() bool { return amqptest.Depth(t, url, d.DLQ) == want })
	dups := d.checkExactlyItsIDs(t, d.drainDest(t))
	t.Logf("one run rode the outage out, %d duplicates (all flagged)", dups)
}

// trimLines cuts each line of s to at most n bytes, for a readable log.
func trimLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if len(l) > n {
			lines[i] = l[:n] + " …"
		}
	}
	return strings.Join(lines, "\n")
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func replayArgs(d *deadLettered, home string) []string {
	var x string
	for ex := range d.Dest {
		x = ex
	}
	return []string{"replay", "amqp:" + d.DLQ, "--to", "amqp:exchange/" + x + "/orders.created", "--ledger", home + "/ledger.db"}
}

func redriveArgs(d *deadLettered, home string) []string {
	return []string{"dlq", "redrive", "amqp:" + d.DLQ, "--ledger", home + "/ledger.db"}
}

// TestReplayAMQPGiveUp: eddy replay amqp: gives up after --timeout, lists
// the outcome-unknown ids on stderr, and a rerun completes exactly once.
func TestReplayAMQPGiveUp(t *testing.T) { testAMQPGiveUp(t, false, replayArgs) }

// TestRedriveAMQPGiveUp: eddy dlq redrive amqp: the same, with -o json.
func TestRedriveAMQPGiveUp(t *testing.T) { testAMQPGiveUp(t, true, redriveArgs) }

// TestReplayAMQPResume: a cut shorter than --timeout; the run finishes,
// three messages filtered out left in the queue and counted once.
func TestReplayAMQPResume(t *testing.T) { testAMQPResume(t, true, replayArgs) }

// TestRedriveAMQPResume: the same for eddy dlq redrive amqp:, with three
// messages not selected (left in the DLQ, counted once).
func TestRedriveAMQPResume(t *testing.T) { testAMQPResume(t, true, redriveArgs) }

// TestRedriveKafkaOutage: kfake drops every request (the cluster is gone)
// mid-redrive on the transactional path for longer than --timeout: eddy
// exits non-zero within a bounded time, and the job group's committed
// offsets match what a read_committed reader sees in the origin (no offset
// advanced for an ambiguous commit). The fault removed, the same command
// finishes: each letter is seen once.
func TestRedriveKafkaOutage(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	const n = 600
	origin, dlt := springDLT(t, seeds, n, 2)
	var down atomic.Bool
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if !down.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("outage"), true // closes the connection
	})
	ledger := t.TempDir() + "/l.db"
	run := func(rate float64, timeout time.Duration) (string, error) {
		f, _, errOut := testFactory(false)
		f.Global.Brokers, f.Global.Timeout = seeds, timeout
		err := redriveRun(context.Background(), f, &RedriveOptions{DLQ: "kafka:" + dlt, Rate: rate, Ledger: ledger, Output: "text", MaxRedrives: 3})
		return errOut.String(), err
	}
	done := make(chan struct{})
	var err error
	var stderr string
	go func() {
		defer close(done)
		stderr, err = run(50, 2*time.Second) // 12 s for all: the outage comes first
	}()
	kafkatest.WaitFor(t, 30*time.Second, "letters in the origin", func() bool {
		select {
		case <-done:
			t.Fatalf("redrive ended before the outage: %v, %s", err, stderr)
		default:
		}
		return len(kafkatest.ReadCommitted(t, seeds, origin)) >= 60
	})
	down.Store(true)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("redrive still running 60 s into an outage, --timeout 2s")
	}
	down.Store(false)
	if code := exitCode(err); code == ExitOK || code == ExitInterrupted {
		t.Fatalf("after an outage longer than --timeout: exit %d (%v), %s", code, err, stderr)
	}
	t.Logf("gave up: exit %d: %v", exitCode(err), err)
	landed := len(kafkatest.ReadCommitted(t, seeds, origin))
	// dlq show counts from the job group's committed offsets.
	if left, redriven := dlqCount(t, seeds, ledger, dlt); redriven != int64(landed) || left != int64(n-landed) {
		t.Fatalf("the job's committed offsets count %d redriven, %d left; the origin holds %d committed letters of %d", redriven, left, landed, n)
	}
	if landed == n {
		t.Fatal("every letter landed before the outage: it proved nothing")
	}
	if stderr, err = run(0, 10*time.Second); err != nil {
		t.Fatalf("the rerun after the outage: %v, %s", err, stderr)
	}
	requireEachOnce(t, seeds, n, origin)
	t.Logf("%d landed before giving up; the rerun moved the rest, each once", landed)
}

// TestRedriveKafkaOutageWhilePolling: the cluster goes away from the job
// session's first fetch on, so the run meets the outage while waiting for records,
// not while producing: it must fail (the group session is lost), not end
// as if the DLQ were drained; the rerun lands each letter once.
func TestRedriveKafkaOutageWhilePolling(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	const n = 50
	origin, dlt := springDLT(t, seeds, n, 1)
	var joined, down, healed atomic.Bool
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		if healed.Load() {
			return nil, nil, false
		}
		switch kmsg.Key(req.Key()) {
		case kmsg.SyncGroup:
			joined.Store(true) // the job's session is in its group
		case kmsg.Fetch:
			if joined.Load() {
				down.Store(true)
			}
		}
		if !down.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("outage"), true
	})
	ledger := t.TempDir() + "/l.db"
	f, _, errOut := testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, 2*time.Second
	err := redriveRun(context.Background(), f, &RedriveOptions{DLQ: "kafka:" + dlt, Ledger: ledger, Output: "text", MaxRedrives: 3})
	if !down.Load() {
		t.Fatal("the run never fetched: nothing was tested")
	}
	if code := exitCode(err); code == ExitOK {
		t.Fatalf("the run ended with exit 0 while the cluster was gone: %s", errOut.String())
	}
	t.Logf("gave up: exit %d: %v", exitCode(err), err)
	healed.Store(true)
	f, _, errOut = testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, 10*time.Second
	if err := redriveRun(context.Background(), f, &RedriveOptions{DLQ: "kafka:" + dlt, Ledger: ledger, Output: "text", MaxRedrives: 3}); err != nil {
		t.Fatalf("the rerun after the outage: %v, %s", err, errOut.String())
	}
	requireEachOnce(t, seeds, n, origin)
}

// requireEachOnce requires a read_committed reader of topics to see n
// distinct records (letters), each once.
func requireEachOnce(t *testing.T, seeds []string, n int, topics ...string) {
	t.Helper()
	got := map[string]int{}
	for _, topic := range topics {
		for v, c := range readCommitted(t, seeds, topic) {
			got[v] += c
		}
	}
	if len(got) != n {
		t.Fatalf("a read_committed reader of %s sees %d distinct records, want %d", strings.Join(topics, ", "), len(got), n)
	}
	for v, c := range got {
		if c != 1 {
			t.Fatalf("%s landed %d times", v, c)
		}
	}
}

// TestRedriveKafkaJoinTimesOut: the group coordinator times out the job's
// first joins (a busy cluster: a worker died of it at load 8): redrive goes
// on joining within --timeout and moves every letter once, where any group
// session error ended the run with exit 1.
func TestRedriveKafkaJoinTimesOut(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	const n = 200
	origin, dlt := springDLT(t, seeds, n, 2)
	var refused atomic.Int32
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		if req.Key() != int16(kmsg.JoinGroup) || refused.Load() >= 3 {
			return nil, nil, false
		}
		refused.Add(1)
		c.KeepControl()
		// What a coordinator that does not answer in time looks like
		// to the member: its request fails with a timeout.
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.RequestTimedOut.Code
		return resp, nil, true
	})
	f, _, errOut := testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, 20*time.Second
	err := redriveRun(context.Background(), f, &RedriveOptions{DLQ: "kafka:" + dlt, Ledger: t.TempDir() + "/l.db", Output: "text", MaxRedrives: 3})
	if err != nil {
		t.Fatalf("redrive: %v\n%s", err, errOut)
	}
	if refused.Load() < 3 {
		t.Fatalf("only %d joins refused: the fault did not happen", refused.Load())
	}
	requireEachOnce(t, seeds, n, origin)
}
