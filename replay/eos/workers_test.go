package eos_test

import (
	"sync"
	"testing"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/eos"
)

// TestWorkersShareJob: two workers of one job (kfake) share its partitions:
// both end without error, each moved some, together every record once; each
// one's summary ends with the whole job done (JobDone == JobTotal), which it
// read from the group's offsets — the progress of the job, not its own.
func TestWorkersShareJob(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	const n = 3000
	from := fixture(t, seeds, n)
	to := kafkatest.NewTopic(t, seeds, 3)
	var wg sync.WaitGroup
	sums := make([]replay.Summary, 2)
	errs := make([]error, 2)
	for i, w := range []string{"a", "b"} {
		o := options(t, seeds, "shared", from, to)
		o.Worker, o.Rate = w, 1000
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = eos.Run(ctxT(t), o)
		}()
	}
	wg.Wait()
	var moved int64
	for i, s := range sums {
		if errs[i] != nil || s.Moved == 0 || !s.Done {
			t.Errorf("worker %d: %v, %+v", i, errs[i], s)
		}
		if s.JobTotal != n || s.JobDone != n {
			t.Errorf("worker %d ends with the job %d of %d done, want %d of %d", i, s.JobDone, s.JobTotal, n, n)
		}
		moved += s.Moved
	}
	if moved != n {
		t.Errorf("the workers moved %d together, want %d", moved, n)
	}
	checkOnce(t, seeds, to, n)
}
