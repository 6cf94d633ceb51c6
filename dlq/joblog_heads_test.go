package dlq

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestJobLogTwoWorkersOpenAtOnce: two workers of one job on one machine
// that open its new log at the same moment may both write its head. The
// second head is not a record passed over (it would read as partition 0,
// offset 0), and both workers' records are read.
func TestJobLogTwoWorkersOpenAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eddy-redrive-j.log")
	head := `{"v":1,"dlq":"orders.DLT","group":"eddy-redrive-j"}` + "\n"
	if err := os.WriteFile(path, []byte(head+head), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, r := range []LeftRecord{{Partition: 1, Offset: 5, Outcome: Unselected}, {Partition: 2, Offset: 7, Outcome: Unknown}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := OpenJobLog(dir, "eddy-redrive-j", "orders.DLT")
			if err != nil {
				t.Error(err)
				return
			}
			defer l.Close()
			l.Add(r)
			if err := l.Flush(); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	j, ok, err := readLog(path, "orders.DLT")
	if err != nil || !ok {
		t.Fatalf("%v, %v", ok, err)
	}
	if _, bad := j.Left[0][0]; bad {
		t.Fatal("the second head reads as a record passed over at 0@0")
	}
	if _, ok := j.Left[1][5]; !ok {
		t.Fatalf("worker 1's record missing: %v", j.Left)
	}
	if _, ok := j.Left[2][7]; !ok {
		t.Fatalf("worker 2's record missing: %v", j.Left)
	}
}
