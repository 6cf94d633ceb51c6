package replay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/redistest"
)

// clock is a settable time for TTL tests: no test waits for an entry to age.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func uniqueJob(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// opener opens a Store on the same backing ledger each time it is called
// (after the previous one was closed, for the embedded ledger).
type opener func(t *testing.T, opts ...replay.LedgerOption) replay.Store

func boltOpener(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "ledger.db")
	return func(t *testing.T, opts ...replay.LedgerOption) replay.Store {
		t.Helper()
		l, err := replay.OpenLedger(path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
}

func redisOpener(t *testing.T) opener {
	url := redistest.URL(t)
	return func(t *testing.T, opts ...replay.LedgerOption) replay.Store {
		t.Helper()
		l, err := replay.OpenRedisLedger(context.Background(), url, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
}

// cleanJob prunes a job of a shared ledger when the test ends.
func cleanJob(t *testing.T, open opener, job string) {
	t.Cleanup(func() {
		l := open(t)
		if _, err := l.Prune(replay.Prune{Job: job}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		l.Close()
	})
}

func states(t *testing.T, l replay.Ledger, job string, ids ...string) []replay.State {
	t.Helper()
	out := make([]replay.State, len(ids))
	for i, id := range ids {
		s, err := l.Get(job, id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func begin(t *testing.T, l replay.Ledger, job string, ids ...string) []replay.State {
	t.Helper()
	s, err := l.Begin(job, ids)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	A = replay.Absent
	I = replay.InProgress
	C = replay.Completed
	H = replay.Held
)

// testLedger is the conformance suite every replay.Store passes.
func testLedger(t *testing.T, open opener) {
	t.Run("BeginComplete", func(t *testing.T) {
		job := uniqueJob("conf")
		cleanJob(t, open, job)
		l := open(t)
		if got := begin(t, l, job, "a", "b", "c"); !slices.Equal(got, []replay.State{A, A, A}) {
			t.Fatalf("first Begin %v", got)
		}
		if got := states(t, l, job, "a", "b", "c", "d"); !slices.Equal(got, []replay.State{I, I, I, A}) {
			t.Fatalf("after Begin %v", got)
		}
		if err := l.Complete(job, []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
		// Begin never downgrades Completed; the same run finds its own
		// InProgress entry as InProgress (a retry), not Held.
		if got := begin(t, l, job, "a", "c", "d"); !slices.Equal(got, []replay.State{C, I, A}) {
			t.Fatalf("second Begin %v", got)
		}
		if got := states(t, l, job, "a", "b", "c", "d"); !slices.Equal(got, []replay.State{C, C, I, I}) {
			t.Fatalf("after second Begin %v", got)
		}
		if got, err := l.Lookup(job, []string{"a", "b", "c", "d", "e"}); err != nil || !slices.Equal(got, []replay.State{C, C, I, I, A}) {
			t.Fatalf("Lookup %v %v", got, err)
		}
		// A read-only view (a dry run's) reports the same, and records nothing.
		if got, err := replay.ReadOnly(l).Begin(job, []string{"a", "c", "e"}); err != nil || !slices.Equal(got, []replay.State{C, I, A}) {
			t.Fatalf("read-only Begin %v %v", got, err)
		}
		if got := states(t, l, job, "e"); got[0] != A {
			t.Fatalf("read-only Begin recorded e: %v", got)
		}
		if got := begin(t, l, job); len(got) != 0 {
			t.Fatalf("empty Begin %v", got)
		}
		if err := l.Complete(job, nil); err != nil {
			t.Fatal(err)
		}
		counts, err := l.Counts(job)
		if err != nil || counts[C] != 2 || counts[I] != 2 || len(counts) != 2 {
			t.Fatalf("counts %v %v", counts, err)
		}
		// Jobs are separate: ids of one job mean nothing in another.
		if got := states(t, l, job+"-other", "a"); got[0] != A {
			t.Fatalf("other job %v", got)
		}
	})

	t.Run("SurvivesReopen", func(t *testing.T) {
		job := uniqueJob("conf")
		cleanJob(t, open, job)
		l := open(t)
		begin(t, l, job, "x", "y")
		if err := l.Complete(job, []string{"y"}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		// A new run finds what a closed run left InProgress: moved again
		// (InProgress), not held.
		l = open(t)
		if got := begin(t, l, job, "x", "y"); !slices.Equal(got, []replay.State{I, C}) {
			t.Fatalf("Begin after reopen %v", got)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		job := uniqueJob("conf")
		cleanJob(t, open, job)
		clk := &clock{t: time.Now()}
		l := open(t, replay.WithTTL(time.Hour), replay.WithClock(clk.now))
		begin(t, l, job, "old-i", "old-c")
		if err := l.Complete(job, []string{"old-c"}); err != nil {
			t.Fatal(err)
		}
		clk.add(40 * time.Minute)
		begin(t, l, job, "new-i")
		clk.add(40 * time.Minute) // old-* are 80 minutes old, new-i 40
		if got := states(t, l, job, "old-i", "old-c", "new-i"); !slices.Equal(got, []replay.State{A, A, I}) {
			t.Fatalf("after the TTL %v", got)
		}
		if counts, err := l.Counts(job); err != nil || counts[I] != 1 || len(counts) != 1 {
			t.Fatalf("counts after the TTL %v %v", counts, err)
		}
		// An expired Completed entry is moved again: TTL bounds how long a
		// rerun is recognised.
		if got := begin(t, l, job, "old-c"); got[0] != A {
			t.Fatalf("Begin of an expired entry %v", got)
		}
	})

	t.Run("TTLIsPerEntry", func(t *testing.T) {
		job := uniqueJob("conf")
		cleanJob(t, open, job)
		clk := &clock{t: time.Now()}
		l := open(t, replay.WithTTL(time.Hour), replay.WithClock(clk.now))
		begin(t, l, job, "hour")
		l.Close()
		l = open(t, replay.WithTTL(0), replay.WithClock(clk.now))
		begin(t, l, job, "forever")
		l.Close()
		clk.add(2 * time.Hour)
		// A reader with another TTL sees each entry expire by its own.
		for _, ttl := range []time.Duration{0, time.Minute, 30 * 24 * time.Hour} {
			l = open(t, replay.WithTTL(ttl), replay.WithClock(clk.now))
			if got := states(t, l, job, "hour", "forever"); !slices.Equal(got, []replay.State{A, I}) {
				t.Fatalf("read with TTL %v: %v", ttl, got)
			}
			l.Close()
		}
	})

	t.Run("JobsEntriesPrune", func(t *testing.T) {
		// A job name with the key layout's separator in it, and one that
		// is a prefix of it, are still told apart.
		other := uniqueJob("conf")
		job := other + "}:x"
		cleanJob(t, open, job)
		cleanJob(t, open, other)
		t0 := time.Now().Truncate(time.Millisecond)
		clk := &clock{t: t0}
		l := open(t, replay.WithClock(clk.now))
		begin(t, l, other, "o")
		begin(t, l, job, "i1", "c1", "c2")
		if err := l.Complete(job, []string{"c1", "c2"}); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
		begin(t, l, job, "i2", "c3")
		if err := l.Complete(job, []string{"c3"}); err != nil {
			t.Fatal(err)
		}
		jobs, err := l.Jobs()
		if err != nil {
			t.Fatal(err)
		}
		var ji *replay.JobInfo
		for i := range jobs {
			if jobs[i].Job == job {
				ji = &jobs[i]
			}
		}
		if ji == nil || ji.Counts[C] != 3 || ji.Counts[I] != 2 || !ji.Oldest.Equal(t0) || !ji.Newest.Equal(t0.Add(time.Hour)) {
			t.Fatalf("Jobs: %+v", ji)
		}
		var oi *replay.JobInfo
		for i := range jobs {
			if jobs[i].Job == other {
				oi = &jobs[i]
			}
		}
		if oi == nil || oi.Counts[I] != 1 || len(oi.Counts) != 1 {
			t.Fatalf("Jobs: the other job %+v", oi)
		}
		ents, err := l.Entries(job, replay.InProgress, 0)
		if err != nil || len(ents) != 2 || ents[0].ID != "i1" || ents[1].ID != "i2" || !ents[0].At.Equal(t0) {
			t.Fatalf("Entries %+v %v", ents, err)
		}
		if ents, _ := l.Entries(job, replay.Completed, 2); len(ents) != 2 || ents[0].ID != "c1" || ents[1].ID != "c2" {
			t.Fatalf("Entries with a limit %+v", ents)
		}
		// Completed-only, older than 30 minutes: c1 and c2.
		if n, err := l.Prune(replay.Prune{Job: job, Before: t0.Add(30 * time.Minute), CompletedOnly: true}); err != nil || n != 2 {
			t.Fatalf("prune completed-only: %d %v", n, err)
		}
		if got := states(t, l, job, "i1", "c1", "c2", "i2", "c3"); !slices.Equal(got, []replay.State{I, A, A, I, C}) {
			t.Fatalf("after pruning %v", got)
		}
		// Another job is not touched by a pruning of this one.
		if n, err := l.Prune(replay.Prune{Job: job}); err != nil || n != 3 {
			t.Fatalf("prune the job: %d %v", n, err)
		}
		if got := states(t, l, other, "o"); got[0] != I {
			t.Fatalf("other job after pruning %v", got)
		}
		jobs, _ = l.Jobs()
		for _, j := range jobs {
			if j.Job == job {
				t.Fatalf("pruned job still listed: %+v", j)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		job := uniqueJob("conf")
		cleanJob(t, open, job)
		l := open(t)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 20 {
					ids := []string{fmt.Sprintf("g%d-%d", g, i)}
					if _, err := l.Begin(job, ids); err != nil {
						t.Error(err)
						return
					}
					if err := l.Complete(job, ids); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if counts, err := l.Counts(job); err != nil || counts[C] != 80 {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
}

func TestBoltLedger(t *testing.T) { testLedger(t, boltOpener(t)) }

func TestRedisLedger(t *testing.T) { testLedger(t, redisOpener(t)) }

// TestBoltLedgerExpiresOnOpen: opening the embedded ledger deletes the
// entries that expired, so the file does not grow without bound.
func TestBoltLedgerExpiresOnOpen(t *testing.T) {
	open := boltOpener(t)
	t0 := time.Now()
	clk := &clock{t: t0}
	l := open(t, replay.WithClock(clk.now), replay.WithTTL(time.Hour))
	begin(t, l, "j", "a", "b")
	begin(t, l, "k", "c")
	l.Close()
	clk.add(2 * time.Hour)
	l = open(t, replay.WithClock(clk.now))
	begin(t, l, "k", "d")
	l.Close()
	// Read at t0, the entries would be live again, had they stayed.
	l = open(t, replay.WithClock(func() time.Time { return t0 }))
	if jobs, err := l.Jobs(); err != nil || len(jobs) != 1 || jobs[0].Job != "k" || jobs[0].Counts[I] != 1 {
		t.Fatalf("jobs after an expiring open: %+v %v", jobs, err)
	}
}

// TestRedisLedgerRacingRuns: several runs (one RedisLedger each, as separate
// processes would have) Begin the same identities at once, in different
// orders; every identity is taken by exactly one run, the others get Held.
func TestRedisLedgerRacingRuns(t *testing.T) {
	open := redisOpener(t)
	job := uniqueJob("race")
	cleanJob(t, open, job)
	const runs, n = 4, 400
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%03d", i)
	}
	owned := make([][]string, runs)
	var wg sync.WaitGroup
	for r := range runs {
		l := open(t)
		wg.Go(func() {
			order := slices.Clone(ids)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for off := 0; off < n; off += 25 {
				chunk := order[off : off+25]
				st, err := l.Begin(job, chunk)
				if err != nil {
					t.Error(err)
					return
				}
				for i, s := range st {
					switch s {
					case A:
						owned[r] = append(owned[r], chunk[i])
					case H:
					default:
						t.Errorf("run %d: %s is %v, want ABSENT or HELD", r, chunk[i], s)
					}
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, o := range owned {
		for _, id := range o {
			seen[id]++
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("%s taken by %d runs", id, seen[id])
		}
	}
}

// TestRedisLedgerHeldAndTakeOver: an identity another live run holds is
// Held (and Get says InProgress); once that run completes it, Completed; once
// that run is gone, the next Begin takes it over as InProgress.
func TestRedisLedgerHeldAndTakeOver(t *testing.T) {
	open := redisOpener(t)
	job := uniqueJob("held")
	cleanJob(t, open, job)
	a, b := open(t), open(t)
	begin(t, a, job, "x", "y")
	if got := begin(t, b, job, "x", "y", "z"); !slices.Equal(got, []replay.State{H, H, A}) {
		t.Fatalf("b's Begin while a holds x, y: %v", got)
	}
	if got := states(t, b, job, "x"); got[0] != I {
		t.Fatalf("Get of a held id %v", got)
	}
	if err := a.Complete(job, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if got := begin(t, b, job, "x", "y"); !slices.Equal(got, []replay.State{C, I}) {
		t.Fatalf("b's Begin after a completed x and closed: %v", got)
	}
}

// TestRedisLedgerKeysExpire: Redis itself drops entries after the TTL.
func TestRedisLedgerKeysExpire(t *testing.T) {
	url := redistest.URL(t)
	open := redisOpener(t)
	job := uniqueJob("ttl") + "}"
	cleanJob(t, open, job)
	l := open(t, replay.WithTTL(time.Hour))
	begin(t, l, job, "i", "c")
	if err := l.Complete(job, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	c, err := redis.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range []string{"i", "c"} {
		pttl, err := redis.Int64(c.Do("PTTL", "eddy:ledger:e:{"+strings.ReplaceAll(job, "}", "%7D")+"}:"+id))
		ttl := time.Duration(pttl) * time.Millisecond
		if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("PTTL of %s: %v %v, want about an hour", id, ttl, err)
		}
	}
}

// TestRedisLedgerErrorsHidePassword: a refused connection is a connect error
// (exit 4) and no message carries the password.
func TestRedisLedgerErrorsHidePassword(t *testing.T) {
	for _, u := range []string{"redis://:s3cret-pw@127.0.0.1:1/0", "redis://user:s3cret-pw@127.0.0.1:notaport/0", "redis://:s3cret-pw@127.0.0.1:1/0?bogus=1"} {
		_, err := replay.OpenRedisLedger(context.Background(), u)
		if err == nil {
			t.Fatalf("%s: opened", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
		if refused := strings.HasSuffix(u, ":1/0"); refused != errors.Is(err, bus.ErrConnect) {
			t.Errorf("%v: a connect error only when the connection is refused", err)
		}
	}
}

// TestRunLeavesHeldEventsToTheOtherRun: two operators redrive one source with
// a shared Redis ledger. What the other run holds is neither moved nor acked
// here, and the run ends with a RejectedError naming it; once the other run
// is gone, a rerun moves exactly those.
func TestRunLeavesHeldEventsToTheOtherRun(t *testing.T) {
	open := redisOpener(t)
	job := uniqueJob("held-run")
	cleanJob(t, open, job)
	evs := captureEvents(10)
	path := writeCapture(t, evs)
	other := open(t)
	held := []string{replay.DefaultIdentity(&evs[3]), replay.DefaultIdentity(&evs[7])}
	begin(t, other, job, held...)

	l := open(t)
	dry := replay.NewDryRun(func(*event.Event) string { return "x" }, nil, 100)
	sum, err := replay.Run(ctxT(t), openCapture(t, path), dry, replay.Options{Job: job, Ledger: l})
	var rej *replay.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 2 || !rej.Rejected[0].Held || rej.Rejected[0].ID != held[0] ||
		sum.Moved != 8 || sum.Held != 2 || !strings.Contains(err.Error(), "in progress in another run") {
		t.Fatalf("run beside another: %+v, %v", sum, err)
	}
	other.Close()
	dry = replay.NewDryRun(func(*event.Event) string { return "x" }, nil, 100)
	sum, err = replay.Run(ctxT(t), openCapture(t, path), dry, replay.Options{Job: job, Ledger: l})
	if err != nil || sum.Moved != 2 || sum.Retried != 2 || sum.Skipped != 8 {
		t.Fatalf("rerun after the other run ended: %+v, %v", sum, err)
	}
}
