package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
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
const (
	Absent State = iota
	InProgress
	Completed
)

func (s State) String() string {
	switch s {
	case InProgress:
		return "INPROGRESS"
	case Completed:
		return "COMPLETED"
	}
	return "ABSENT"
}

// Ledger records, per job, which source records were moved. It is what makes
// a replay rerun-safe where no transaction spans source and target.
//
// Contract, for every implementation:
//   - Begin durably records each identity not yet Completed as InProgress
//     before it returns, and returns the state each identity had before: a
//     crash after Begin never forgets that a write may have happened.
//   - Complete durably records the identities as Completed before it returns.
//   - Both are atomic per call: after a crash, all or none of a call's
//     identities have the new state.
//   - Implementations are safe for concurrent use.
type Ledger interface {
	Begin(job string, ids []string) ([]State, error)
	Complete(job string, ids []string) error
	Get(job, id string) (State, error)
	Close() error
}

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
// returned survives a crash of eddy or of the machine.
type BoltLedger struct {
	db *bolt.DB
}

// OpenLedger opens (creating it and its directory when needed) the bbolt
// ledger at path. A ledger another process has open is ErrLedgerBusy after
// waiting a second.
func OpenLedger(path string) (*BoltLedger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s: %w", path, ErrLedgerBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	return &BoltLedger{db: db}, nil
}

// An entry is the state byte and the time (Unix nanoseconds) it was set.
func entry(s State, now time.Time) []byte {
	b := make([]byte, 9)
	b[0] = byte(s)
	binary.BigEndian.PutUint64(b[1:], uint64(now.UnixNano()))
	return b
}

func stateOf(v []byte) State {
	if len(v) == 0 {
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
		v := entry(InProgress, time.Now())
		for i, id := range ids {
			states[i] = stateOf(b.Get([]byte(id)))
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
		v := entry(Completed, time.Now())
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
			s = stateOf(b.Get([]byte(id)))
		}
		return nil
	})
	return s, err
}

// Counts returns how many identities of job are in each state.
func (l *BoltLedger) Counts(job string) (map[State]int, error) {
	out := map[State]int{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(job))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			out[stateOf(v)]++
			return nil
		})
	})
	return out, err
}

// Close closes the file, releasing it for other processes.
func (l *BoltLedger) Close() error { return l.db.Close() }

// ReadOnly wraps l so that nothing is recorded: Begin returns the states l
// has without changing them, and Complete does nothing. A dry run uses it to
// say what a real run would skip while changing nothing.
func ReadOnly(l Ledger) Ledger { return readOnly{l} }

type readOnly struct{ l Ledger }

func (r readOnly) Begin(job string, ids []string) ([]State, error) {
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
