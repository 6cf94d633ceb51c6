package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// State is what a ledger knows about one identity in one job.
type State uint8

// The states of an identity. Absent → InProgress (before the sink is asked)
// → Completed (after the sink confirmed). Only Completed identities are
// skipped by a rerun; an InProgress one is moved again, and may then land
// twice — each copy carrying the same eddy-redrive-id header.
//
// Held is never stored: Begin returns it for an identity that another live
// run (another process sharing a Redis ledger) holds InProgress. The caller
// must neither move nor acknowledge it; it is the other run's to finish, and a
// later run (once the other one is gone) picks it up as InProgress.
const (
	Absent State = iota
	InProgress
	Completed
	Held
)

func (s State) String() string {
	switch s {
	case InProgress:
		return "INPROGRESS"
	case Completed:
		return "COMPLETED"
	case Held:
		return "HELD"
	}
	return "ABSENT"
}

// Ledger records, per job, which source records were moved. It is what makes
// a replay rerun-safe where no transaction spans source and target.
//
// Contract, for every implementation:
//   - Begin durably records each identity not yet Completed as InProgress
//     before it returns, and returns the state each identity had before: a
//     crash after Begin never forgets that a write may have happened. An
//     identity another live run holds InProgress is returned as Held and left
//     as it is, so two runs never both take one identity; an identity held by
//     a run that is gone (crashed, or closed its ledger) is taken over and
//     returned as InProgress.
//   - Complete durably records the identities as Completed before it returns.
//   - Both are atomic per call: after a crash, all or none of a call's
//     identities have the new state.
//   - An entry expires the TTL of the ledger that last set its state after
//     that (see WithTTL); an expired entry is Absent, as if never written.
//   - Implementations are safe for concurrent use.
type Ledger interface {
	Begin(job string, ids []string) ([]State, error)
	Complete(job string, ids []string) error
	Get(job, id string) (State, error)
	Close() error
}

// Store is a Ledger that can also be listed and pruned — what `eddy dlq
// ledger` works on. BoltLedger and RedisLedger are Stores.
type Store interface {
	Ledger
	// Lookup is Get for many identities at once (one transaction, or one
	// round trip): what a dry run asks for every chunk.
	Lookup(job string, ids []string) ([]State, error)
	// Counts returns how many identities of job are in each state.
	Counts(job string) (map[State]int, error)
	// Jobs lists every job with entries, sorted by name.
	Jobs() ([]JobInfo, error)
	// Entries returns up to limit (0: all) entries of job in state, sorted
	// by identity.
	Entries(job string, state State, limit int) ([]Entry, error)
	// Prune deletes the entries p selects and returns how many it deleted.
	Prune(p Prune) (int, error)
}

// JobInfo summarises one job of a ledger.
type JobInfo struct {
	Job    string
	Counts map[State]int
	// Oldest and Newest are the times of the job's oldest and newest entries.
	Oldest, Newest time.Time
}

// Entry is one identity of a job.
type Entry struct {
	ID    string
	State State
	// At is when the state was set.
	At time.Time
}

// Prune selects entries to delete.
type Prune struct {
	// Job limits the pruning to one job; empty means every job.
	Job string
	// Before, when set, selects only entries whose state was set before it.
	Before time.Time
	// CompletedOnly keeps InProgress entries: they are the only record that
	// a write may have happened, so deleting them lets a rerun duplicate.
	CompletedOnly bool
}

func (p Prune) selects(s State, at time.Time) bool {
	if p.CompletedOnly && s != Completed {
		return false
	}
	return p.Before.IsZero() || at.Before(p.Before)
}

// DefaultLedgerTTL is how long a ledger keeps an entry when nothing says
// otherwise: long enough for any rerun of a job, short enough that a ledger
// used every day does not grow without bound.
const DefaultLedgerTTL = 30 * 24 * time.Hour

// A LedgerOption configures OpenLedger and OpenRedisLedger.
type LedgerOption func(*ledgerConfig)

type ledgerConfig struct {
	ttl      time.Duration
	now      func() time.Time
	lease    time.Duration
	readOnly bool
}

func newLedgerConfig(opts []LedgerOption) ledgerConfig {
	c := ledgerConfig{ttl: DefaultLedgerTTL, now: time.Now, lease: 10 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// expires is when an entry written at now expires (zero: never).
func (c *ledgerConfig) expires(now time.Time) time.Time {
	if c.ttl <= 0 {
		return time.Time{}
	}
	return now.Add(c.ttl)
}

// WithTTL overrides DefaultLedgerTTL for the entries this ledger writes: an
// entry whose state was set longer ago than ttl is Absent, and is deleted
// (bbolt: when a ledger is next opened; Redis: by the server). Each entry
// keeps the TTL it was written with, whatever TTL a later reader has. Zero or
// less keeps entries forever.
func WithTTL(ttl time.Duration) LedgerOption { return func(c *ledgerConfig) { c.ttl = ttl } }

// WithClock overrides time.Now as the clock entries are stamped and expired
// with (for tests).
func WithClock(now func() time.Time) LedgerOption { return func(c *ledgerConfig) { c.now = now } }

// ReadOnlyLedger opens a ledger only to read it (eddy dlq ledger ls and
// show): a bbolt ledger that does not exist is ErrNoLedger (neither it nor its
// directory is created), it is opened read-only and expired entries are left
// for the next writer to delete; a Redis ledger is pinged, no owner lease is
// written. Begin, Complete and Prune are refused.
func ReadOnlyLedger() LedgerOption { return func(c *ledgerConfig) { c.readOnly = true } }

// ErrNoLedger is returned by OpenLedger with ReadOnlyLedger when the file does
// not exist: no replay or redrive has written it.
var ErrNoLedger = errors.New("no ledger there: no replay or redrive has written one")

// ErrLedgerBusy is returned by OpenLedger when another process has the ledger
// open.
var ErrLedgerBusy = errors.New("ledger in use by another eddy process")

// DefaultLedgerPath is $XDG_STATE_HOME/eddy/ledger.db, or
// ~/.local/state/eddy/ledger.db when XDG_STATE_HOME is not set.
func DefaultLedgerPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("ledger: no state directory: set XDG_STATE_HOME or --ledger: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "eddy", "ledger.db"), nil
}

// BoltLedger is the embedded ledger: a bbolt file with one bucket per job.
// Every Begin and Complete is one fsynced transaction, so a state the ledger
// returned survives a crash of eddy or of the machine. One process at a time
// has the file open, so it never returns Held: an InProgress entry it finds
// was left by a run that has ended.
type BoltLedger struct {
	db  *bolt.DB
	cfg ledgerConfig
}

// OpenLedger opens (creating it and its directory when needed) the bbolt
// ledger at path, and deletes the entries that have expired. A ledger
// another process has open is ErrLedgerBusy after waiting a second.
func OpenLedger(path string, opts ...LedgerOption) (*BoltLedger, error) {
	cfg := newLedgerConfig(opts)
	if cfg.readOnly {
		// Reading never writes: bbolt would create the file (and MkdirAll
		// its directory) on open.
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ledger %s: %w", path, ErrNoLedger)
		} else if err != nil {
			return nil, fmt.Errorf("ledger: %w", err) // e.g. its directory is a file
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: cfg.readOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s: %w", path, ErrLedgerBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	l := &BoltLedger{db: db, cfg: cfg}
	if cfg.readOnly {
		return l, nil // expired entries are not listed; a writer deletes them
	}
	now := l.cfg.now()
	if _, err := l.deleteWhere("", func(v []byte) bool { return !l.cfg.live(v, now) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger %s: expiring entries: %w", path, err)
	}
	return l, nil
}

// An entry is the state byte, the time (Unix nanoseconds) it was set and the
// time it expires (0: never).
func (c *ledgerConfig) entry(s State) []byte {
	now := c.now()
	b := make([]byte, 17)
	b[0] = byte(s)
	binary.BigEndian.PutUint64(b[1:], uint64(now.UnixNano()))
	if exp := c.expires(now); !exp.IsZero() {
		binary.BigEndian.PutUint64(b[9:], uint64(exp.UnixNano()))
	}
	return b
}

func entryTime(v []byte) time.Time {
	if len(v) < 9 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v[1:])))
}

// live reports whether the entry v has not expired at now. An entry of 9
// bytes (written before entries carried their expiry) expires this ledger's
// TTL after it was set.
func (c *ledgerConfig) live(v []byte, now time.Time) bool {
	var exp time.Time
	if len(v) >= 17 {
		if ns := binary.BigEndian.Uint64(v[9:]); ns != 0 {
			exp = time.Unix(0, int64(ns))
		}
	} else {
		exp = c.expires(entryTime(v))
	}
	return exp.IsZero() || now.Before(exp)
}

// state is v's state, Absent when v is missing or expired at now.
func (c *ledgerConfig) state(v []byte, now time.Time) State {
	if len(v) == 0 || !c.live(v, now) {
		return Absent
	}
	return State(v[0])
}

// Begin implements Ledger.
func (l *BoltLedger) Begin(job string, ids []string) ([]State, error) {
	states := make([]State, len(ids))
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(job))
		if err != nil {
			return err
		}
		now := l.cfg.now()
		v := l.cfg.entry(InProgress)
		for i, id := range ids {
			states[i] = l.cfg.state(b.Get([]byte(id)), now)
			if states[i] == Completed {
				continue
			}
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return states, nil
}

// Complete implements Ledger.
func (l *BoltLedger) Complete(job string, ids []string) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(job))
		if err != nil {
			return err
		}
		v := l.cfg.entry(Completed)
		for _, id := range ids {
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Get implements Ledger.
func (l *BoltLedger) Get(job, id string) (State, error) {
	var s State
	err := l.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(job)); b != nil {
			s = l.cfg.state(b.Get([]byte(id)), l.cfg.now())
		}
		return nil
	})
	return s, err
}

// Lookup implements Store.
func (l *BoltLedger) Lookup(job string, ids []string) ([]State, error) {
	out := make([]State, len(ids))
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(job))
		if b == nil {
			return nil
		}
		now := l.cfg.now()
		for i, id := range ids {
			out[i] = l.cfg.state(b.Get([]byte(id)), now)
		}
		return nil
	})
	return out, err
}

// Counts implements Store.
func (l *BoltLedger) Counts(job string) (map[State]int, error) {
	out := map[State]int{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(job))
		if b == nil {
			return nil
		}
		now := l.cfg.now()
		return b.ForEach(func(_, v []byte) error {
			if s := l.cfg.state(v, now); s != Absent {
				out[s]++
			}
			return nil
		})
	})
	return out, err
}

// Jobs implements Store.
func (l *BoltLedger) Jobs() ([]JobInfo, error) {
	var out []JobInfo
	err := l.db.View(func(tx *bolt.Tx) error {
		now := l.cfg.now()
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			j := JobInfo{Job: string(name), Counts: map[State]int{}}
			err := b.ForEach(func(_, v []byte) error {
				s := l.cfg.state(v, now)
				if s == Absent {
					return nil
				}
				j.Counts[s]++
				j.widen(entryTime(v))
				return nil
			})
			if err == nil && len(j.Counts) > 0 {
				out = append(out, j)
			}
			return err
		})
	})
	return out, err
}

func (j *JobInfo) widen(at time.Time) {
	if j.Oldest.IsZero() || at.Before(j.Oldest) {
		j.Oldest = at
	}
	if at.After(j.Newest) {
		j.Newest = at
	}
}

// Entries implements Store.
func (l *BoltLedger) Entries(job string, s State, limit int) ([]Entry, error) {
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(job))
		if b == nil {
			return nil
		}
		now := l.cfg.now()
		c := b.Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			if l.cfg.state(v, now) == s {
				out = append(out, Entry{ID: string(k), State: s, At: entryTime(v)})
			}
		}
		return nil
	})
	return out, err
}

// Prune implements Store. A job left without entries is removed.
func (l *BoltLedger) Prune(p Prune) (int, error) {
	return l.deleteWhere(p.Job, func(v []byte) bool { return p.selects(State(v[0]), entryTime(v)) })
}

// deleteWhere deletes the entries of job (every job when empty) for which del
// is true, in one transaction, and removes jobs left without entries.
func (l *BoltLedger) deleteWhere(job string, del func(v []byte) bool) (int, error) {
	n := 0
	err := l.db.Update(func(tx *bolt.Tx) error {
		var jobs [][]byte
		if job != "" {
			jobs = [][]byte{[]byte(job)}
		} else if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			jobs = append(jobs, append([]byte(nil), name...))
			return nil
		}); err != nil {
			return err
		}
		for _, job := range jobs {
			b := tx.Bucket(job)
			if b == nil {
				continue
			}
			c := b.Cursor()
			for k, v := c.First(); k != nil; {
				if len(v) > 0 && del(v) {
					key := append([]byte(nil), k...)
					if err := c.Delete(); err != nil {
						return err
					}
					n++
					// After Delete, Next may skip an item; Seek finds
					// the one that followed the deleted key.
					k, v = c.Seek(key)
					continue
				}
				k, v = c.Next()
			}
			if k, _ := b.Cursor().First(); k == nil {
				if err := tx.DeleteBucket(job); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("ledger: %w", err)
	}
	return n, nil
}

// Close closes the file, releasing it for other processes.
func (l *BoltLedger) Close() error { return l.db.Close() }

// ReadOnly wraps l so that nothing is recorded: Begin returns the states l
// has without changing them, and Complete does nothing. A dry run uses it to
// say what a real run would skip while changing nothing.
func ReadOnly(l Ledger) Ledger { return readOnly{l} }

type readOnly struct{ l Ledger }

func (r readOnly) Begin(job string, ids []string) ([]State, error) {
	if s, ok := r.l.(Store); ok {
		return s.Lookup(job, ids)
	}
	states := make([]State, len(ids))
	for i, id := range ids {
		s, err := r.l.Get(job, id)
		if err != nil {
			return nil, err
		}
		states[i] = s
	}
	return states, nil
}

func (r readOnly) Complete(string, []string) error   { return nil }
func (r readOnly) Get(job, id string) (State, error) { return r.l.Get(job, id) }
func (r readOnly) Close() error                      { return r.l.Close() }
