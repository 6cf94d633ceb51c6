package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// The set-up the redrive and replay job tests share: a Spring DLT full of
// letters, eddy processes of one job, kills at a share landed, and what a
// reader of the target sees afterwards.

// springDLT makes a topic ORIGIN and its dead-letter topic ORIGIN.DLT, both
// of parts partitions, and puts n letters of ORIGIN on the DLT
// (produceLetters).
func springDLT(t *testing.T, seeds []string, n int, parts int32) (origin, dlt string) {
	t.Helper()
	origin = kafkatest.NewTopic(t, seeds, parts)
	dlt = kafkatest.NamedTopic(t, seeds, origin+".DLT", parts)
	produceLetters(t, seeds, dlt, parts, n, origin)
	return origin, dlt
}

// produceLetters puts n Spring letters on dlt: letter i on partition
// i%parts, of the origin origins[i%len(origins)] (its original partition
// i%parts, offset i), with the value "v<i>".
func produceLetters(t *testing.T, seeds []string, dlt string, parts int32, n int, origins ...string) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		p := int32(i) % parts
		recs[i] = springLetter(dlt, origins[i%len(origins)], p, int64(i), "boom", "v"+strconv.Itoa(i))
		recs[i].Partition = p
	}
	kafkatest.Produce(t, seeds, recs...)
}

// produceValues puts n records on topic: record i on partition i%parts,
// with the value "v<i>".
func produceValues(t *testing.T, seeds []string, topic string, parts int32, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i) % parts, Value: []byte("v" + strconv.Itoa(i))}
	}
	kafkatest.Produce(t, seeds, recs...)
}

// eddyAt is a command line of the eddy binary bin with HOME and
// XDG_STATE_HOME at home, where the default ledger and the job logs live:
// the processes of one job share it.
func eddyAt(bin, home string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+home)
	return cmd
}

// offsetSum adds up the offsets listed: with ListCommittedOffsets (the last
// stable offsets) or ListEndOffsets, how much landed in the topics. A
// listing that failed is 0: a condition polled again later.
func offsetSum(l kadm.ListedOffsets, err error) int64 {
	if err != nil {
		return 0
	}
	var sum int64
	l.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// killAt starts a run (start) and SIGKILLs it, which leaves it no chance to
// finish a transaction or a chunk, once landed reaches pct percent of n, for
// each pct in turn; each wait fails the test after within.
func killAt(t *testing.T, within time.Duration, start func() *exec.Cmd, landed func() int64, n int64, pcts ...int64) {
	t.Helper()
	for _, pct := range pcts {
		cmd := start()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kafkatest.WaitFor(t, within, fmt.Sprintf("%d%% landed", pct), func() bool { return landed() >= n*pct/100 })
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("killed at %d%%: %d landed", pct, landed())
	}
}

// redriveIDsOf reads the first end records of topic (read_uncommitted: the
// copies an aborted or unfinished write left too) and returns each value's
// copies' eddy-redrive-id headers, "" for a copy without one.
func redriveIDsOf(t *testing.T, seeds []string, topic string, end int64) map[string][]string {
	t.Helper()
	cl := kafkatest.Client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ids := map[string][]string{}
	for read := int64(0); read < end; {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			rid, _ := header(r, "eddy-redrive-id")
			ids[string(r.Value)] = append(ids[string(r.Value)], rid)
		})
	}
	return ids
}

// report waits for the worker to end, which must be with exit 0, and reads
// its JSON report into v.
func (w *worker) report(t *testing.T, v any) {
	t.Helper()
	name := w.name
	if name == "" {
		name = "a worker"
	}
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, w.stderr.String())
	}
	if err := json.Unmarshal(w.stdout.Bytes(), v); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, w.stdout.String())
	}
}

// txnIn reports whether transactional id has a transaction now whose state
// starts with one of prefixes ("Ongoing"; "Prepare": PrepareCommit,
// PrepareAbort).
func txnIn(adm *kadm.Client, id string, prefixes ...string) (bool, error) {
	dt, err := adm.DescribeTransactions(context.Background(), id)
	if err != nil {
		return false, err
	}
	for _, d := range dt {
		for _, p := range prefixes {
			if strings.HasPrefix(d.State, p) {
				return true, nil
			}
		}
	}
	return false, nil
}

// catchOpen asks, as fast as the cluster answers and for up to within,
// whether transactional id has a transaction open, once ready holds: a kill
// right after it returns true catches the worker inside one. Worker
// transactions are short, so it does not pause between asks.
func catchOpen(adm *kadm.Client, id string, within time.Duration, ready func() bool) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		if !ready() {
			continue
		}
		if open, _ := txnIn(adm, id, "Ongoing"); open {
			return true
		}
	}
	return false
}
