package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// kfakeOutage makes the kfake cluster c drop every request (closing the
// connection, as a dead broker would) while down is set, and counts the
// requests it dropped.
func kfakeOutage(c *kfake.Cluster) (down *atomic.Bool, dropped *atomic.Int64) {
	down, dropped = new(atomic.Bool), new(atomic.Int64)
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		dropped.Add(1)
		return nil, errors.New("outage"), true
	})
	return down, dropped
}

// valueRecords are n records for topic's partition 0 with values
// prefix-000, prefix-001, ...
func valueRecords(topic, prefix string, from, n int) []*kgo.Record {
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "%s-%03d", prefix, i)})
	}
	return recs
}

func wantValues(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s-%03d\n", prefix, i)
	}
	return b.String()
}

// liveRun is one live reader of the outage tests, run in process.
type liveRun struct {
	out, errOut *lockedBuffer
	cancel      context.CancelFunc
	done        chan struct{}
	err         error
}

func startLive(f *Factory, run func(context.Context, *Factory) error) *liveRun {
	r := &liveRun{out: &lockedBuffer{}, errOut: &lockedBuffer{}, done: make(chan struct{})}
	f.IO.Out, f.IO.ErrOut = r.out, r.errOut
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.err = run(ctx, f)
	}()
	return r
}

// stop interrupts the reader and waits for it.
func (r *liveRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the reader did not stop within 30s of its interrupt")
	}
}

func (r *liveRun) running(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		t.Fatalf("the reader ended: %v; stderr %q", r.err, r.errOut.String())
	default:
	}
}

// TestKafkaOutageLiveReaders (issue 13, item 7): a live Kafka reader whose
// cluster goes away says so on stderr (one prefixed line, once), keeps
// trying while the user waits, says when the cluster is back and goes on
// with exactly the records written since: none lost, none twice. kfake
// stands for the dead broker by dropping every request (the connection
// closes); TestKafkaRestartLiveTail does it with a real broker killed and
// restarted.
func TestKafkaOutageLiveReaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		tty  bool
		run  func(topic string) func(context.Context, *Factory) error
		// read says the reader has shown exactly n records so far.
		read func(out string, n int) bool
	}{
		{"tail", false, func(topic string) func(context.Context, *Factory) error {
			return func(ctx context.Context, f *Factory) error {
				return tailRun(ctx, f, &TailOptions{Sources: []string{"kafka:" + topic}, From: "beginning", Output: "raw"})
			}
		}, func(out string, n int) bool { return out == wantValues("v", n) }},
		// On a terminal trace flows redraws its report every --refresh;
		// every record is a flow of its own (no correlation id).
		{"trace flows", true, func(topic string) func(context.Context, *Factory) error {
			return func(ctx context.Context, f *Factory) error {
				return traceFlowsRun(ctx, f, &TraceOptions{Sources: []string{"kafka:" + topic}, From: "beginning", Refresh: 200 * time.Millisecond, FlowTimeout: time.Minute})
			}
		}, func(out string, n int) bool {
			i := strings.LastIndex(out, "\x1b[H\x1b[2J")
			return i >= 0 && strings.Contains(out[i:], fmt.Sprintf("flows  %d total", n))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.NewCluster(t)
			seeds := c.ListenAddrs()
			topic := kafkatest.NewTopic(t, seeds, 1)
			kafkatest.Produce(t, seeds, valueRecords(topic, "v", 0, 20)...)
			down, dropped := kfakeOutage(c)
			f, _, _ := testFactory(tc.tty)
			f.Global.Brokers, f.Global.Timeout = seeds, time.Second
			r := startLive(f, tc.run(topic))
			defer r.stop(t)
			kafkatest.WaitFor(t, 30*time.Second, "the first 20 records", func() bool { r.running(t); return tc.read(r.out.String(), 20) })

			down.Store(true)
			kafkatest.WaitFor(t, 30*time.Second, "a warning that the cluster is unreachable", func() bool {
				r.running(t)
				return strings.Contains(r.errOut.String(), "cannot reach")
			})
			// It keeps trying, and says so once.
			seen := dropped.Load()
			kafkatest.WaitFor(t, 30*time.Second, "more retries after the warning", func() bool { r.running(t); return dropped.Load() >= seen+5 })
			down.Store(false)
			kafkatest.WaitFor(t, 30*time.Second, "word that the cluster is back", func() bool {
				r.running(t)
				return strings.Contains(r.errOut.String(), "reachable again")
			})
			kafkatest.Produce(t, seeds, valueRecords(topic, "v", 20, 10)...)
			kafkatest.WaitFor(t, 30*time.Second, "the 10 records written after the outage, each once", func() bool { r.running(t); return tc.read(r.out.String(), 30) })
			stderr := r.errOut.String()
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "eddy: kafka: cannot reach "+seeds[0]) || !strings.Contains(lines[0], "still trying") ||
				!strings.HasPrefix(lines[1], "eddy: kafka: "+seeds[0]+" is reachable again") {
				t.Fatalf("stderr, want one line on the outage and one on its end:\n%s", stderr)
			}
			r.stop(t)
			if code := exitCode(r.err); code != ExitInterrupted && code != ExitOK {
				t.Fatalf("interrupted: exit %d: %v", code, r.err)
			}
			if out := r.out.String(); tc.name == "tail" && out != wantValues("v", 30) {
				t.Fatalf("tail printed\n%s\nwant v-000 to v-029, each once", out)
			}
			t.Logf("stderr:\n%s", stderr)
		})
	}
}

// TestKafkaOutageUntilEnd: a bounded read (--until end) whose cluster goes
// away mid-read does not wait for it: it fails with exit 4 once --timeout
// has passed without an answer, one line saying so.
func TestKafkaOutageUntilEnd(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	topic := kafkatest.NewTopic(t, seeds, 1)
	kafkatest.Produce(t, seeds, valueRecords(topic, "v", 0, 5)...)
	// The cluster goes away at the reader's first fetch: after the source
	// opened (that part fails at once with exit 4 anyway).
	var down, healed atomic.Bool
	defer healed.Store(true) // the topic's cleanup needs the cluster
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if healed.Load() {
			return nil, nil, false
		}
		if kmsg.Key(req.Key()) == kmsg.Fetch {
			down.Store(true)
		}
		if !down.Load() {
			return nil, nil, false
		}
		return nil, errors.New("outage"), true
	})
	f, out, errOut := testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, time.Second
	start := time.Now()
	err := tailRun(context.Background(), f, &TailOptions{Sources: []string{"kafka:" + topic}, From: "beginning", Until: "end", Output: "raw"})
	took := time.Since(start)
	if !down.Load() {
		t.Fatal("the reader never fetched: nothing was tested")
	}
	if code := exitCode(err); code != ExitConnect {
		t.Fatalf("exit %d (%v), want %d; stdout %q stderr\n%s", code, err, ExitConnect, out.String(), errOut.String())
	}
	if !strings.Contains(err.Error(), "cannot connect to "+seeds[0]) || strings.Contains(errOut.String(), "still trying") {
		t.Fatalf("error %q; stderr %q", err, errOut.String())
	}
	if took > 15*time.Second {
		t.Fatalf("took %v to give up with --timeout 1s", took)
	}
	t.Logf("after %v: %v", took, err)
}

// TestKafkaRestartLiveTail: the real thing. A throwaway Apache Kafka of the
// test's own is killed (SIGKILL) under a live tail and restarted on the same
// ports and log directory: the tail warns once within --timeout, keeps
// trying, says when the broker is back, and prints exactly the records
// written since, after the ones before, none twice.
func TestKafkaRestartLiveTail(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a Kafka broker twice")
	}
	b := kafkatest.StartBroker(t)
	seeds := b.Seeds()
	topic := kafkatest.NewTopic(t, seeds, 1)
	kafkatest.Produce(t, seeds, valueRecords(topic, "v", 0, 20)...)
	f, _, _ := testFactory(false)
	f.Global.Brokers, f.Global.Timeout = seeds, 2*time.Second
	r := startLive(f, func(ctx context.Context, f *Factory) error {
		return tailRun(ctx, f, &TailOptions{Sources: []string{"kafka:" + topic}, From: "beginning", Output: "raw"})
	})
	defer r.stop(t)
	kafkatest.WaitFor(t, 60*time.Second, "the first 20 records", func() bool { r.running(t); return r.out.String() == wantValues("v", 20) })

	b.Kill()
	killed := time.Now()
	kafkatest.WaitFor(t, 30*time.Second, "a warning that the broker is unreachable", func() bool {
		r.running(t)
		return strings.Contains(r.errOut.String(), "cannot reach")
	})
	// kgo notices a dead connection at once; the warning follows --timeout
	// after that.
	if took := time.Since(killed); took > 2*time.Second+5*time.Second {
		t.Errorf("warned %v after the kill, --timeout 2s", took)
	}
	b.Restart()
	kafkatest.WaitFor(t, 60*time.Second, "word that the broker is back", func() bool {
		r.running(t)
		return strings.Contains(r.errOut.String(), "reachable again")
	})
	kafkatest.Produce(t, seeds, valueRecords(topic, "v", 20, 10)...)
	kafkatest.WaitFor(t, 60*time.Second, "the 10 records written after the restart", func() bool {
		r.running(t)
		return len(r.out.String()) >= len(wantValues("v", 30))
	})
	if out := r.out.String(); out != wantValues("v", 30) {
		t.Fatalf("tail printed\n%s\nwant v-000 to v-029, each once", out)
	}
	stderr := r.errOut.String()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "eddy: kafka: cannot reach "+seeds[0]) ||
		!strings.HasPrefix(lines[1], "eddy: kafka: "+seeds[0]+" is reachable again") {
		t.Fatalf("stderr, want one line on the outage and one on its end:\n%s", stderr)
	}
	r.stop(t)
	if code := exitCode(r.err); code != ExitInterrupted && code != ExitOK {
		t.Fatalf("interrupted: exit %d: %v", code, r.err)
	}
	t.Logf("stderr:\n%s", stderr)
}
