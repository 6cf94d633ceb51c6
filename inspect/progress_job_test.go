package inspect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/replay"
)

// TestProgressJobShare: a worker of a shared job draws its own counts and
// the whole job's share done, from the group's offsets; a run that knows no
// job total draws no such part.
func TestProgressJobShare(t *testing.T) {
	var b bytes.Buffer
	NewProgress(&b, true, "redrive").Update(replay.Summary{Moved: 10, JobDone: 250, JobTotal: 1000})
	if !strings.Contains(b.String(), "10 moved") || !strings.Contains(b.String(), "job 25% (all workers)") {
		t.Fatalf("%q", b.String())
	}
	b.Reset()
	NewProgress(&b, true, "replay").Update(replay.Summary{Moved: 10})
	if strings.Contains(b.String(), "job") {
		t.Fatalf("%q", b.String())
	}
}
