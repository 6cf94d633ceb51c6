// Command liveshop is the steady live producer of bench/serve-soak.sh: shop
// flows at a fixed rate of events per second, for as long as it runs, on six
// topics of its own (PREFIX.orders, .payments, .inventory, .shipping,
// .notifications and the dead-letter topic .payments.DLT), so that a
// long-running `eddy serve` sees flows that complete, flows that time out and
// flows that are dead-lettered, with correlation and event ids that never
// repeat: a flow that eddy kept after it finalised would show as memory that
// grows.
//
//	liveshop -brokers HOST:PORT -prefix P -rate 20000 [-partitions 6] \
//	         [-incomplete 0.05] [-dead 0.05] [-retention 2m] [-lag-records 1000]
//	liveshop -brokers HOST:PORT -prefix P -cleanup   delete P's topics and group
//
// Flows of three kinds start so that the events of all of them add up to
// -rate per second: complete (OrderPlaced -> PaymentAuthorized ->
// StockReserved -> OrderShipped -> EmailSent), incomplete (OrderPlaced ->
// PaymentAuthorized, then nothing: finalised after eddy's --flow-timeout with
// steps missing) and dead-lettered (OrderPlaced, then its copy on
// PREFIX.payments.DLT with Spring Kafka's kafka_dlt-* headers). A flow's next
// event follows 10 to 50 ms after its previous one; every event is keyed by
// its correlation id (the topics are co-partitioned).
//
// The topics keep -retention of records (the broker deletes older segments),
// so an hour at 20,000 events/s does not fill the broker's disk. Every 5 s it
// commits, for the consumer group PREFIX-lagging, the end offsets of
// PREFIX.orders less -lag-records per partition: a group that always lags,
// so eddy serve has lag to export.
//
// Each second it prints "unix_seconds asked acked failed" on stdout (asked:
// events handed to the client, acked: written by the broker); on SIGINT,
// or SIGTERM it flushes, prints a last such line and a summary
// on stderr, and exits 0.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const tick = 10 * time.Millisecond

var (
	types  = []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped", "EmailSent"}
	topics = []string{"orders", "payments", "inventory", "shipping", "notifications"}
)

// kind of flow: how many steps it takes, and whether its last is a dead
// letter.
const (
	complete = iota
	incomplete
	deadLettered
)

type flow struct {
	corr  string
	kind  int
	step  int
	last  string // the previous event's id: the next one's cause
	trace [16]byte
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:39092", "Kafka bootstrap brokers")
	prefix := flag.String("prefix", "", "name prefix of the topics and the lagging group (required)")
	rate := flag.Float64("rate", 20000, "events per second")
	partitions := flag.Int("partitions", 6, "partitions of each topic")
	incShare := flag.Float64("incomplete", 0.05, "share of flows that stop after PaymentAuthorized")
	deadShare := flag.Float64("dead", 0.05, "share of flows dead-lettered after OrderPlaced")
	retention := flag.Duration("retention", 2*time.Minute, "retention.ms of the topics")
	lagRecords := flag.Int64("lag-records", 1000, "records per partition of PREFIX.orders the group PREFIX-lagging stays behind")
	cleanup := flag.Bool("cleanup", false, "delete the topics and the group of -prefix, then exit")
	flag.Parse()
	if *prefix == "" || *rate <= 0 || *incShare < 0 || *deadShare < 0 || *incShare+*deadShare > 1 || *partitions < 1 {
		fmt.Fprintln(os.Stderr, "liveshop: -prefix is required; -rate > 0, -partitions >= 1, -incomplete and -dead >= 0 with a sum <= 1")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.MaxBufferedRecords(1<<17), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "liveshop:", err)
		os.Exit(1)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := make([]string, 0, len(topics)+1)
	for _, t := range topics {
		names = append(names, *prefix+"."+t)
	}
	dlt := *prefix + ".payments.DLT"
	names = append(names, dlt)
	group := *prefix + "-lagging"
	ctx := context.Background()
	if *cleanup {
		_, _ = adm.DeleteGroups(ctx, group)
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			fmt.Fprintln(os.Stderr, "liveshop: delete topics:", err)
			os.Exit(1)
		}
		return
	}
	ms := strconv.FormatInt(retention.Milliseconds(), 10)
	seg := strconv.FormatInt(max(retention.Milliseconds()/2, 1000), 10)
	created, err := adm.CreateTopics(ctx, int32(*partitions), 1, map[string]*string{"retention.ms": &ms, "segment.ms": &seg}, names...)
	if err == nil {
		err = created.Error()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "liveshop: create topics:", err)
		os.Exit(1)
	}

	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; close(stop) }()
	go lagger(ctx, adm, names[0], group, *lagRecords, stop)

	var asked, acked, failed atomic.Int64
	var firstErr atomic.Value
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		acked.Add(1)
	}
	var outMu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	report := func() {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, "%d %d %d %d\n", time.Now().Unix(), asked.Load(), acked.Load(), failed.Load())
		out.Flush()
	}

	// Events per flow on average, so that flows start at rate / that.
	avg := 5*(1-*incShare-*deadShare) + 2**incShare + 2**deadShare
	perTick := *rate * tick.Seconds() / avg
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	// A ring of the ticks ahead: the flows whose next event is due then.
	var ring [8][]*flow
	var nflow, nevent int64
	var owed float64
	t := time.NewTicker(tick)
	defer t.Stop()
	// The counts are reported from a goroutine of their own: when the
	// client's buffer is full, Produce blocks the loop, and the acks still
	// tell what the broker wrote.
	go func() {
		sec := time.NewTicker(time.Second)
		defer sec.Stop()
		for {
			select {
			case <-stop:
				return
			case <-sec.C:
				report()
			}
		}
	}()
	start := time.Now()
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)
	var hdrBuf [8]byte
	emit := func(now int) {
		slot := now % len(ring)
		due := ring[slot]
		ring[slot] = nil
		for owed += perTick; owed >= 1; owed-- {
			f := &flow{corr: fmt.Sprintf("%s-o-%d", run, nflow)}
			nflow++
			switch x := r.Float64(); {
			case x < *incShare:
				f.kind = incomplete
			case x < *incShare+*deadShare:
				f.kind = deadLettered
			}
			for i := range f.trace {
				f.trace[i] = byte(r.IntN(256))
			}
			due = append(due, f)
		}
		ts := time.Now()
		at := ts.UTC().Format(time.RFC3339Nano)
		for _, f := range due {
			nevent++
			id := fmt.Sprintf("%s-e-%d", run, nevent)
			step, topic := f.step, names[f.step]
			dead := f.kind == deadLettered && f.step == 1
			if dead {
				step, topic = 0, dlt // a copy of OrderPlaced, as payments dead-letters it
			}
			typ := types[step]
			value := fmt.Sprintf(`{"event_id":%q,"type":%q,"occurred_at":%q,"correlation_id":%q`, id, typ, at, f.corr)
			if f.step > 0 {
				value += fmt.Sprintf(`,"causation_id":%q`, f.last)
			}
			value += fmt.Sprintf(`,"payload":{"order_id":%q,"customer":{"id":"c-%d","name":"Customer %d"},"amount":%d.%02d,"currency":"EUR"}}`,
				f.corr, r.IntN(10000), r.IntN(10000), r.IntN(500), r.IntN(100))
			var span [8]byte
			binary.LittleEndian.PutUint64(span[:], r.Uint64())
			hs := []kgo.RecordHeader{
				{Key: "ce_type", Value: []byte(typ)}, {Key: "ce_source", Value: []byte("shop/" + topics[step])},
				{Key: "traceparent", Value: []byte(fmt.Sprintf("00-%x-%x-01", f.trace, span))},
			}
			if dead {
				binary.BigEndian.PutUint64(hdrBuf[:], uint64(ts.UnixMilli()))
				hs = append(hs,
					kgo.RecordHeader{Key: "kafka_dlt-exception-fqcn", Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
					kgo.RecordHeader{Key: "kafka_dlt-exception-message", Value: []byte(fmt.Sprintf("payment declined for order %s", f.corr))},
					kgo.RecordHeader{Key: "kafka_dlt-original-topic", Value: []byte(names[0])},
					kgo.RecordHeader{Key: "kafka_dlt-original-timestamp", Value: append([]byte(nil), hdrBuf[:]...)})
			}
			asked.Add(1)
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(f.corr), Value: []byte(value), Headers: hs, Timestamp: ts}, done)
			f.last = id
			f.step++
			last := 5
			if f.kind != complete {
				last = 2
			}
			if f.step < last {
				later := (now + 1 + r.IntN(5)) % len(ring) // 10 to 50 ms on
				ring[later] = append(ring[later], f)
			}
		}
	}
	// The ticks are counted from the start by the clock, not by the
	// ticker's deliveries: a tick the ticker dropped (a busy machine) is
	// caught up at the next, so the rate stays what was asked while the CPU
	// allows it.
	emitted := -1
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-t.C:
		}
		cur := int(time.Since(start) / tick)
		for ; emitted < cur; emitted++ {
			emit(emitted + 1)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "liveshop: flush:", err)
	}
	report()
	el := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "liveshop: %d flows, %d events asked, %d acked, %d failed in %.1f s: %.0f events/s acked (asked for %.0f)\n",
		nflow, asked.Load(), acked.Load(), failed.Load(), el, float64(acked.Load())/el, *rate)
	if e, ok := firstErr.Load().(string); ok {
		fmt.Fprintln(os.Stderr, "liveshop: first produce error:", e)
	}
}

// lagger commits, every 5 s until stop, the end offsets of topic less
// records per partition for group: a consumer group that always lags.
func lagger(ctx context.Context, adm *kadm.Client, topic, group string, records int64, stop <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "liveshop: end offsets:", err)
			continue
		}
		offs := kadm.Offsets{}
		ends.Each(func(o kadm.ListedOffset) {
			offs.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: max(o.Offset-records, 0), LeaderEpoch: -1})
		})
		if _, err := adm.CommitOffsets(ctx, group, offs); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "liveshop: commit the lagging group:", err)
		}
	}
}
