package demo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaRetentionBounded: the in-process broker keeps every record in
// memory until retention deletes it, and a demo left open grew past 600 MB.
// Its topics are bounded by size as well as by time: run the shop far faster
// than a person would and, round after round, what the broker retains
// (DescribeLogDirs, as a real Kafka reports it) comes back under the budget
// each time retention runs (kfake runs it every minute; the test runs it at
// once), and the oldest records are gone.
func TestKafkaRetentionBounded(t *testing.T) {
	prevE, prevD := retainEventBytes, retainDeadLetterBytes
	retainEventBytes, retainDeadLetterBytes = 1<<20, 256<<10
	t.Cleanup(func() { retainEventBytes, retainDeadLetterBytes = prevE, prevD })
	cfg := fastConfig()
	cfg.Rate, cfg.PoisonEvery = 5000, -1
	ctx := context.Background()
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// While the sizes are measured, the broker refuses every produce with a
	// retriable error (the services retry), so nothing lands between
	// retention and the measure: the bound is exact, not raced.
	var paused atomic.Bool
	cluster := d.kafka.cluster
	cluster.ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !paused.Load() {
			return nil, nil, false
		}
		req := r.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	sizes := func() (events, dead int64) {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		dirs.Each(func(dir kadm.DescribedLogDir) {
			for topic, ps := range dir.Topics {
				for _, p := range ps {
					switch topic {
					case TopicPaymentsDLT, TopicInventoryDLQ:
						dead += p.Size
					default:
						events += p.Size
					}
				}
			}
		})
		return events, dead
	}
	for round := range 3 {
		waitFor(t, fmt.Sprintf("round %d: the shop to write 4 times the budget", round), time.Minute, func() (bool, string) {
			e, _ := sizes()
			return e >= 4*retainEventBytes, fmt.Sprintf("%d bytes retained", e)
		})
		paused.Store(true)
		cluster.ApplyRetention()
		e, dl := sizes()
		paused.Store(false)
		if e > retainEventBytes || dl > retainDeadLetterBytes {
			t.Fatalf("round %d: after retention the events keep %d bytes (budget %d), the dead letters %d (budget %d)",
				round, e, retainEventBytes, dl, retainDeadLetterBytes)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, TopicOrders)
	if err != nil {
		t.Fatal(err)
	}
	var deleted int64
	starts.Each(func(o kadm.ListedOffset) { deleted += o.Offset })
	if deleted == 0 {
		t.Fatal("no record of orders was deleted")
	}
}
