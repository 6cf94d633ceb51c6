package dlq

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/eos"
)

// A Kafka DLQ cannot lose a record, so "removed" means what a redrive job's
// consumer group moved past. Its committed position cannot have holes: a job
// that passes over a record (not selected, origin unknown) still commits past
// it. The job log is how such a record stays in the DLQ: every record a job
// passes over is appended to the job's log, fsynced, before the transaction
// that commits past it, so
//
//	removed(p, o) = some job's committed position on p is past o,
//	                and o is not in that job's log.
//
// Left records are listed by `eddy dlq ls` and `show` and redriven by any
// other job (another selection, or --to). The logs are local files (under
// the ledger's directory): a job run on another machine is not known here, so
// what it moved still counts as left — never the other way round. Workers of
// one job on several machines are the exception: each machine's log holds
// only what its workers passed over, so elsewhere a record another machine's
// worker left counts as removed (it stays in the DLQ; README: work shared
// across processes).

// LeftRecord is one record a job passed over and left in the DLQ.
type LeftRecord struct {
	Partition int32   `json:"p"`
	Offset    int64   `json:"o"`
	Outcome   Outcome `json:"k"`
	ID        string  `json:"id,omitempty"`
	Reason    string  `json:"why,omitempty"`
}

type logHead struct {
	V     int    `json:"v"`
	DLQ   string `json:"dlq"`
	Group string `json:"group"`
}

// JobLog is a Kafka redrive job's log of the records it left.
type JobLog struct {
	mu      sync.Mutex
	f       *os.File
	pending []LeftRecord
}

// JobLogDir is where the job logs live, next to the ledger file.
func JobLogDir(ledgerPath string) string { return filepath.Join(filepath.Dir(ledgerPath), "redrive") }

func logPath(dir, group string) string { return filepath.Join(dir, group+".log") }

// OpenJobLog opens (creating it) the log of the job whose group is group on
// the DLQ topic.
func OpenJobLog(dir, group, topic string) (*JobLog, error) {
	// The group (eddy-redrive-JOB) is the file's name: it must not name a
	// path outside dir.
	if err := replay.CheckJobName(group); err != nil {
		return nil, fmt.Errorf("job log: group %q: %w", group, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("job log: %w", err)
	}
	path := logPath(dir, group)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("job log: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		b, _ := json.Marshal(logHead{V: 1, DLQ: topic, Group: group})
		if _, err = f.Write(append(b, '\n')); err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("job log %s: %w", path, err)
	}
	return &JobLog{f: f}, nil
}

// Add notes a record passed over by the transaction in progress.
func (j *JobLog) Add(r LeftRecord) {
	j.mu.Lock()
	j.pending = append(j.pending, r)
	j.mu.Unlock()
}

// Flush appends and fsyncs the records noted since the last Flush or Drop:
// call it before the transaction that passes them commits.
func (j *JobLog) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) == 0 {
		return nil
	}
	var b []byte
	for _, r := range j.pending {
		line, _ := json.Marshal(r)
		b = append(append(b, line...), '\n')
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("job log: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("job log: %w", err)
	}
	j.pending = j.pending[:0]
	return nil
}

// Drop forgets the records noted since the last Flush (their transaction
// aborted; they will be read again).
func (j *JobLog) Drop() {
	j.mu.Lock()
	j.pending = j.pending[:0]
	j.mu.Unlock()
}

// Close closes the file.
func (j *JobLog) Close() error { return j.f.Close() }

// Job is what the logs and the cluster say about one redrive job of a DLQ.
type Job struct {
	Group string
	// Position is the group's committed offset per partition.
	Position map[int32]int64
	// Left is the records the job passed over, by partition and offset.
	Left map[int32]map[int64]LeftRecord
}

// Removed reports whether the job removed the record at p, o.
func (j *Job) Removed(p int32, o int64) bool {
	pos, ok := j.Position[p]
	if !ok || o >= pos {
		return false
	}
	_, left := j.Left[p][o]
	return !left
}

// Jobs is every known redrive job of one DLQ.
type Jobs []Job

// Removed reports whether some job removed the record at p, o.
func (js Jobs) Removed(p int32, o int64) bool {
	for i := range js {
		if js[i].Removed(p, o) {
			return true
		}
	}
	return false
}

// Without returns the jobs but the one of group.
func (js Jobs) Without(group string) Jobs {
	var out Jobs
	for _, j := range js {
		if j.Group != group {
			out = append(out, j)
		}
	}
	return out
}

// LoadJobs reads the job logs in dir that are about the DLQ topic, and the
// committed positions of their groups. A log whose group has committed
// nothing is a job that removed nothing.
func LoadJobs(ctx context.Context, adm *kadm.Client, dir, topic string) (Jobs, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("job logs: %w", err)
	}
	var out Jobs
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		j, ok, err := readLog(filepath.Join(dir, n), topic)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		offs, err := eos.FetchOffsets(ctx, adm, j.Group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fetching the offsets of group %s: %w", j.Group, err)
		}
		j.Position = map[int32]int64{}
		for p, o := range offs[topic] {
			if o.Err == nil && o.At >= 0 {
				j.Position[p] = o.At
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// readLog reads one job log, if it is about topic. A torn last line (a crash
// while appending, before the fsync returned) is ignored: its transaction
// did not commit.
func readLog(path, topic string) (Job, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return Job{}, false, fmt.Errorf("job log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		return Job{}, false, nil
	}
	var h logHead
	if json.Unmarshal(sc.Bytes(), &h) != nil || h.DLQ != topic || h.Group == "" {
		return Job{}, false, nil
	}
	j := Job{Group: h.Group, Left: map[int32]map[int64]LeftRecord{}}
	for sc.Scan() {
		var r struct {
			LeftRecord
			// Two workers of the job on this machine that opened the
			// new log at once both wrote its head.
			Group string `json:"group"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Group != "" {
			continue
		}
		m := j.Left[r.Partition]
		if m == nil {
			m = map[int64]LeftRecord{}
			j.Left[r.Partition] = m
		}
		m[r.Offset] = r.LeftRecord
	}
	if err := sc.Err(); err != nil {
		return Job{}, false, fmt.Errorf("job log %s: %w", path, err)
	}
	return j, true, nil
}
