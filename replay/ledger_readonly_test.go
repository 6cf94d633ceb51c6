package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/eddy-sh/eddy/replay/redistest"
)

// TestReadOnlyBoltLedger: a reader neither creates a missing ledger (nor its
// directory) nor changes an existing one, expired entries included.
func TestReadOnlyBoltLedger(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "l.db")
	if _, err := OpenLedger(missing, ReadOnlyLedger()); !errors.Is(err, ErrNoLedger) {
		t.Fatalf("open missing read-only: %v, want ErrNoLedger", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only open created the directory: %v", err)
	}

	path := filepath.Join(dir, "l.db")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w, err := OpenLedger(path, WithTTL(time.Hour), WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Begin("j", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Complete("j", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Two hours later every entry has expired: a writer would delete them.
	r, err := OpenLedger(path, ReadOnlyLedger(), WithClock(func() time.Time { return t0.Add(2 * time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := r.Jobs()
	if err != nil || len(jobs) != 0 {
		t.Fatalf("Jobs = %v, %v; want none (expired)", jobs, err)
	}
	if _, err := r.Begin("j", []string{"c"}); err == nil {
		t.Fatal("Begin on a read-only ledger succeeded")
	}
	r.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("a read-only open changed the ledger file")
	}
}

// TestReadOnlyRedisLedger: a reader of a shared ledger holds no owner lease,
// so it writes nothing to the server.
func TestReadOnlyRedisLedger(t *testing.T) {
	url := redistest.URL(t)
	ctx := context.Background()
	l, err := OpenRedisLedger(ctx, url, ReadOnlyLedger())
	if err != nil {
		t.Fatal(err)
	}
	n, err := redis.Int(l.do(ctx, "EXISTS", redisOwnerKey(l.owner)))
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a read-only open wrote an owner lease")
	}
	if _, err := l.Jobs(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A writer does hold one (what the check above would catch).
	w, err := OpenRedisLedger(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if n, _ := redis.Int(w.do(ctx, "EXISTS", redisOwnerKey(w.owner))); n != 1 {
		t.Fatal("a writer holds no owner lease")
	}
}

// TestParseRedisURL: what go-redis accepted is accepted, a typo is
// ErrLedgerURL (a usage error) before any connection is tried, and db= in the
// query is the same as the path's database.
func TestParseRedisURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":           "redis://127.0.0.1:6379/0",
		"redis://:pw@127.0.0.1:6379":         "redis://:pw@127.0.0.1:6379",
		"rediss://u:pw@127.0.0.1:6380/3":     "rediss://u:pw@127.0.0.1:6380/3",
		"redis://127.0.0.1?db=2":             "redis://127.0.0.1/2",
		"redis://127.0.0.1/2?db=2":           "redis://127.0.0.1/2",
		"redis://127.0.0.1:6379/":            "redis://127.0.0.1:6379/",
		"http://127.0.0.1:6379/0":            "",
		"redis://127.0.0.1:notaport/0":       "",
		"redis://127.0.0.1:6379/zero":        "",
		"redis://127.0.0.1:6379/0?bogus=1":   "",
		"redis://127.0.0.1:6379/1?db=2":      "",
		"redis:///0":                         "",
		"redis://127.0.0.1:6379/0?db=1&db=x": "",
	} {
		got, err := parseRedisURL(in)
		if want == "" {
			if err == nil {
				t.Errorf("%s: accepted as %s", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
}
