package replay_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/redistest"
)

// BenchmarkLedger measures what the ledger costs the engine per moved event:
// one Begin and one Complete per chunk, at the chunk sizes the engine sees
// (a Kafka fetch gives up to 4096 events, a capture 512, a rate-limited run
// rate/10). ns/op is per identity; ids/s is the ceiling the ledger puts on a
// run's rate. bench/RESULTS.md has the figures and the machine they came from.
func BenchmarkLedger(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) replay.Store
	}{
		{"bolt", func(b *testing.B) replay.Store {
			l, err := replay.OpenLedger(filepath.Join(b.TempDir(), "ledger.db"))
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
		{"redis", func(b *testing.B) replay.Store {
			l, err := replay.OpenRedisLedger(context.Background(), redistest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
	}
	for _, st := range stores {
		for _, batch := range []int{1, 64, 512, 4096} {
			b.Run(fmt.Sprintf("%s/batch=%d", st.name, batch), func(b *testing.B) {
				l := st.open(b)
				job := uniqueJob("bench")
				defer func() {
					l.Prune(replay.Prune{Job: job})
					l.Close()
				}()
				ids := make([]string, batch)
				n := 0
				b.ResetTimer()
				for done := 0; done < b.N; done += batch {
					for i := range ids {
						ids[i] = fmt.Sprintf("kafka:orders.DLT/%d@%d", n%3, n)
						n++
					}
					if _, err := l.Begin(job, ids); err != nil {
						b.Fatal(err)
					}
					if err := l.Complete(job, ids); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ids/s")
			})
		}
	}
}
