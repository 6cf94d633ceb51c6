package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestRedriveConcurrentRuns: two runs of one redrive job at once on a
// 6-partition DLT under one --worker name (runs under distinct names share
// the job: TestRedriveWorkersShareAndKill). One of them is fenced by the
// other: it ends with exit 3
// and says so in words (another run of the job is active, nothing was lost,
// rerun when it ends) — never Kafka's FENCED_INSTANCE_ID text. Nothing is
// lost or duplicated, and a rerun finishes the job.
func TestRedriveConcurrentRuns(t *testing.T) {
	bin := eddyBinary(t)
	eachKafka(t, func(t *testing.T, seeds []string) {
		const n = 3000
		origin, dlt := springDLT(t, seeds, n, 6)
		adm := kafkatest.Admin(t, seeds)
		landed := func() int64 { return offsetSum(adm.ListCommittedOffsets(context.Background(), origin)) }
		home := t.TempDir()
		run := func(args ...string) (*exec.Cmd, *bytes.Buffer) {
			cmd := eddyAt(bin, home, append([]string{"dlq", "redrive", "kafka:" + dlt, "--brokers", strings.Join(seeds, ","), "--worker", "same"}, args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			return cmd, &stderr
		}
		code := func(err error) int {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			if err != nil {
				t.Fatal(err)
			}
			return 0
		}
		first, firstErr := run("--rate", "500") // about 6 s
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		kafkatest.WaitFor(t, 60*time.Second, "the first run moved some", func() bool { return landed() >= n/10 })
		second, secondErr := run("--rate", "500")
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		codes := []int{code(first.Wait()), code(second.Wait())}
		outs := []string{firstErr.String(), secondErr.String()}
		t.Logf("first: exit %d\n%s\nsecond: exit %d\n%s", codes[0], outs[0], codes[1], outs[1])
		fenced := 0
		for i, c := range codes {
			if strings.Contains(outs[i], "FENCED") || strings.Contains(outs[i], "PRODUCER_FENCED") {
				t.Errorf("run %d prints Kafka's error code instead of words:\n%s", i+1, outs[i])
			}
			switch c {
			case 0:
			case ExitPartial:
				fenced++
				if !strings.Contains(outs[i], "another run of job") || !strings.Contains(outs[i], "nothing was lost; rerun when it ends") {
					t.Errorf("run %d exit 3 does not say what happened:\n%s", i+1, outs[i])
				}
				if strings.Count(strings.TrimSpace(outs[i]), "\n") > 1 {
					t.Errorf("run %d: want the summary and one error line:\n%s", i+1, outs[i])
				}
			default:
				t.Errorf("run %d: exit %d, want 0 or %d", i+1, c, ExitPartial)
			}
		}
		if fenced != 1 {
			t.Errorf("%d run(s) ended fenced, want 1 (the runs overlap: the second starts at 10%%)", fenced)
		}
		final, finalErr := run()
		if err := final.Run(); err != nil {
			t.Fatalf("a rerun after both: %v\n%s", err, finalErr)
		}
		requireEachOnce(t, seeds, n, origin)
	})
}
