package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestServeGroupKill: three eddy serve processes of one --group share a
// 6-partition co-partitioned topic set; one is killed with SIGKILL while
// flows are open on it, some of whose first steps its group had committed
// and some not. Every figure afterwards is predicted exactly, flow by flow,
// from where each partition was read again (the dead instance's last
// commits, taken from the group) and which instance holds it after the
// move, and the survivors' metrics must equal the prediction:
//
//   - the survivors hold every partition once the session timed out;
//   - the flows the dead instance counted before the kill stay counted
//     (its last scrape) and are not counted again: --flow-timeout (20 s)
//     exceeds the 5 s commit interval, so what it counted was committed;
//   - a flow open on it whose first steps it had not committed is read
//     again from the first step by the survivor that takes the partition,
//     and counted whole, once;
//   - a flow open on it whose first steps were committed reaches the
//     survivor without them: counted under flow="default" (no definition's
//     first step) — or, when only its OrderPlaced was read again,
//     incomplete under its own flow;
//   - the range assignor gives partitions out again by number, so a
//     partition can also move between two survivors: a flow open there is
//     counted twice, in parts (incomplete where it began, flow="default"
//     where it goes on);
//   - every flow produced after the move is counted whole, exactly once.
func TestServeGroupKill(t *testing.T) {
	t.Parallel()
	testServeGroupKill(t, kafkatest.Cluster(t))
}

// TestServeGroupKillRealKafka is the same on the real Kafka.
func TestServeGroupKillRealKafka(t *testing.T) {
	t.Parallel()
	testServeGroupKill(t, realKafkaSeeds(t))
}

// killFlowTimeout is --flow-timeout in the kill test: longer than the
// group's 5 s commit interval (what the dead instance counted was
// committed), and than the wait from a flow's first steps, through a commit
// and the move (the 6 s session timeout), to its last steps, so that no
// flow goes quiet on a survivor meanwhile.
const killFlowTimeout = 20 * time.Second

// killInstance is one eddy serve process of the kill test.
type killInstance struct {
	id     string // its Kafka client id: how the group names it
	cmd    *exec.Cmd
	addr   string
	errOut *lockedBuf
}

// killStep is one event of the kill test, with where it went.
type killStep struct {
	flow string
	step int // 0 OrderPlaced … 3 OrderShipped
	rec  *kgo.Record
	late bool // produced after the move
}

// killFigures are one instance's flow counts.
type killFigures struct {
	CheckoutCompleted, CheckoutIncomplete, DefaultCompleted, DefaultIncomplete, DeadLettered float64
	// Events is eddy_serve_events_total: the events read, those read
	// again included.
	Events float64
}

func figuresOf(fams map[string]*dto.MetricFamily) killFigures {
	v := func(name, flow string) float64 {
		x := value(fams, name, map[string]string{"flow": flow})
		if x != x { // NaN: no such series yet
			return 0
		}
		return x
	}
	return killFigures{CheckoutCompleted: v("eddy_flows_completed_total", "checkout"), CheckoutIncomplete: v("eddy_flows_incomplete_total", "checkout"),
		DefaultCompleted: v("eddy_flows_completed_total", "default"), DefaultIncomplete: v("eddy_flows_incomplete_total", "default"),
		DeadLettered: v("eddy_flows_dead_lettered_total", "checkout") + v("eddy_flows_dead_lettered_total", "default"),
		Events:       value(fams, "eddy_serve_events_total", nil)}
}

// flowsOpen is eddy_flows_open summed over the flow labels.
func flowsOpen(fams map[string]*dto.MetricFamily) float64 {
	var n float64
	if mf := fams["eddy_flows_open"]; mf != nil {
		for _, m := range mf.Metric {
			n += m.GetGauge().GetValue()
		}
	}
	return n
}

func testServeGroupKill(t *testing.T, seeds []string) {
	bin := eddyBinary(t)
	tp := shopTopics{orders: kafkatest.NewTopic(t, seeds, 6), payments: kafkatest.NewTopic(t, seeds, 6),
		stock: kafkatest.NewTopic(t, seeds, 6), shipping: kafkatest.NewTopic(t, seeds, 6)}
	topics := []string{tp.orders, tp.payments, tp.stock, tp.shipping}
	types := []string{"OrderPlaced", "PaymentAuthorized", "StockReserved", "OrderShipped"}
	group := kafkatest.UniqueName(t)
	cfg := filepath.Join(t.TempDir(), "none.yaml")
	insts := map[string]*killInstance{}
	for i := range 3 {
		in := &killInstance{id: fmt.Sprintf("eddy-kill-%d", i), errOut: &lockedBuf{}}
		// From the beginning of the test's own topics: an instance that has
		// not yet resolved "the end" of a partition it was just given
		// cannot miss a record produced meanwhile.
		in.cmd = exec.Command(bin, append([]string{"serve", "--flow", checkoutFlow, "--no-lag", "--group", group,
			"--session-timeout", "6s", "--flow-timeout", killFlowTimeout.String(), "--from", "beginning",
			"--listen", "127.0.0.1:0", "--brokers", strings.Join(seeds, ","), "-X", "client.id=" + in.id},
			"kafka:"+tp.orders, "kafka:"+tp.payments, "kafka:"+tp.stock, "kafka:"+tp.shipping)...)
		in.cmd.Env = append(os.Environ(), "EDDY_CONFIG="+cfg)
		in.cmd.Stderr = in.errOut
		if err := in.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			in.cmd.Process.Kill()
			in.cmd.Wait()
			if t.Failed() {
				t.Logf("%s:\n%s", in.id, in.errOut)
			}
		})
		insts[in.id] = in
	}
	for _, in := range insts {
		kafkatest.WaitFor(t, 60*time.Second, in.id+" listening", func() bool {
			s := in.errOut.String()
			if i := strings.Index(s, "serving on http://"); i >= 0 {
				in.addr = strings.SplitN(s[i+len("serving on http://"):], "/", 2)[0]
				return true
			}
			return false
		})
	}
	adm := kafkatest.Admin(t, seeds)
	ctx := context.Background()
	// owners waits for n members holding the 24 partitions, each member
	// partition p of every topic (the range assignor), and returns the
	// client id holding each partition number.
	owners := func(n int, within time.Duration, what string) map[int32]string {
		var own map[int32]string
		kafkatest.WaitFor(t, within, what, func() bool {
			dg, err := adm.DescribeGroups(ctx, group)
			if err != nil || len(dg[group].Members) != n || dg[group].State != "Stable" {
				return false
			}
			own = map[int32]string{}
			count := map[string]int{}
			for _, m := range dg[group].Members {
				a, ok := m.Assigned.AsConsumer()
				if !ok {
					return false
				}
				for _, at := range a.Topics {
					for _, p := range at.Partitions {
						count[at.Topic]++
						if o, ok := own[p]; ok && o != m.ClientID {
							t.Fatalf("partition %d of one topic at %s, of another at %s: not by number", p, o, m.ClientID)
						}
						own[p] = m.ClientID
					}
				}
			}
			for _, tn := range topics {
				if count[tn] != 6 {
					return false
				}
			}
			return true
		})
		return own
	}
	before := owners(3, 60*time.Second, "three members sharing the 24 partitions")

	var steps []*killStep
	produce := func(prefix string, flows int, which []int, late bool) []*killStep {
		base := time.Now().Truncate(time.Millisecond)
		var recs []*kgo.Record
		var out []*killStep
		for n := range flows {
			o := fmt.Sprintf("%s-o%d", prefix, n)
			b := base.Add(time.Duration(n) * time.Millisecond)
			ats := []time.Duration{0, 40 * time.Millisecond, 65 * time.Millisecond, 165 * time.Millisecond}
			for _, k := range which {
				cause := ""
				if k > 0 {
					cause = fmt.Sprintf("%s-%d", o, k-1)
				}
				r := shopEvent(topics[k], fmt.Sprintf("%s-%d", o, k), types[k], o, cause, b, ats[k])
				r.Partition = int32(n % 6) // co-partitioned by order
				recs = append(recs, r)
				out = append(out, &killStep{flow: o, step: k, rec: r, late: late})
			}
		}
		kafkatest.Produce(t, seeds, recs...)
		steps = append(steps, out...)
		return out
	}
	scrapeAll := func() map[string]map[string]*dto.MetricFamily {
		out := map[string]map[string]*dto.MetricFamily{}
		for id, in := range insts {
			out[id] = scrape(t, in.addr)
		}
		return out
	}
	committedAtEnd := func(parts func(int32) bool) bool {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return false
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		done := true
		ends.Each(func(e kadm.ListedOffset) {
			if parts(e.Partition) {
				if c, ok := committed.Lookup(e.Topic, e.Partition); !ok || c.At != e.Offset {
					done = false
				}
			}
		})
		return done
	}
	every := func(int32) bool { return true }

	// Round 1: 12 whole flows, counted (after the flow timeout) by the
	// three, 4 each.
	produce("r1", 12, []int{0, 1, 2, 3}, false)
	kafkatest.WaitFor(t, killFlowTimeout+60*time.Second, "the 12 flows of round 1 counted, 4 by each", func() bool {
		for _, fams := range scrapeAll() {
			if f := figuresOf(fams); f != (killFigures{CheckoutCompleted: 4, Events: 16}) {
				return false
			}
		}
		return true
	})
	// A: the first two steps of 12 flows, read and committed by the group.
	produce("a", 12, []int{0, 1}, false)
	aProduced := time.Now()
	kafkatest.WaitFor(t, 30*time.Second, "A's 12 flows open and their first steps committed", func() bool {
		n := 0.0
		for _, fams := range scrapeAll() {
			n += flowsOpen(fams)
		}
		return n == 12 && committedAtEnd(every)
	})
	// B: the first two steps of 12 more, read but (most likely: the next
	// commit is up to 5 s away) not yet committed when the victim dies.
	victim := before[0]
	produce("b", 12, []int{0, 1}, false)
	var last map[string]*dto.MetricFamily // the victim's last scrape
	kafkatest.WaitFor(t, 30*time.Second, "A's and B's 24 flows open, 8 on the victim", func() bool {
		all := scrapeAll()
		n := 0.0
		for _, fams := range all {
			n += flowsOpen(fams)
		}
		last = all[victim]
		// 16 events of round 1, 8 of A, 8 of B on its 2 partitions.
		return n == 24 && flowsOpen(last) == 8 && figuresOf(last).Events == 32
	})
	if err := insts[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	insts[victim].cmd.Wait()
	// The victim's last commits: where its partitions are read again from.
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	delete(insts, victim)
	after := owners(2, 60*time.Second, "the two survivors holding the 24 partitions (after the 6 s session timeout)")
	moved := time.Since(killed)

	// After the move: the last two steps of A's and B's flows, and 12
	// whole flows more.
	produce("a", 12, []int{2, 3}, true)
	produce("b", 12, []int{2, 3}, true)
	produce("r2", 12, []int{0, 1, 2, 3}, true)
	if d := time.Since(aProduced); d > killFlowTimeout-2*time.Second {
		// The prediction below holds A's flows open on the survivors
		// until their last steps: say so rather than mismatch.
		t.Fatalf("A's last steps came %v after its first, too close to --flow-timeout %v: the machine is too slow for this test", d, killFlowTimeout)
	}

	// The prediction. Each instance counts the part of a flow it saw as
	// one flow: a part with OrderPlaced is the checkout's (complete with
	// every step), one without it is the default flow's (complete: no
	// definition says a step is missing).
	parts := map[string]map[string]map[int]bool{} // instance -> flow -> steps
	events := map[string]float64{}
	see := func(inst, flow string, step int) {
		events[inst]++
		if parts[inst] == nil {
			parts[inst] = map[string]map[int]bool{}
		}
		if parts[inst][flow] == nil {
			parts[inst][flow] = map[int]bool{}
		}
		parts[inst][flow][step] = true
	}
	reread := 0 // the victim's records read again
	rereadFlows := map[string]bool{}
	for _, s := range steps {
		p := s.rec.Partition
		switch {
		case s.late:
			see(after[p], s.flow, s.step)
		case before[p] == victim:
			see(victim, s.flow, s.step)
			c, ok := committed.Lookup(s.rec.Topic, p)
			if !ok || s.rec.Offset >= c.At {
				see(after[p], s.flow, s.step)
				reread++
				rereadFlows[s.flow] = true
			}
		default:
			// A survivor's partition: what it read was committed when the
			// move revoked it, so a new holder starts past it.
			see(before[p], s.flow, s.step)
		}
	}
	want := map[string]*killFigures{}
	for inst, fl := range parts {
		want[inst] = &killFigures{Events: events[inst]}
		for flow, st := range fl {
			if inst == victim && !strings.HasPrefix(flow, "r1-") {
				continue // open at the kill: never counted by it
			}
			switch {
			case st[0] && len(st) == 4:
				want[inst].CheckoutCompleted++
			case st[0]:
				want[inst].CheckoutIncomplete++
			default:
				want[inst].DefaultCompleted++
			}
		}
	}
	if got := figuresOf(last); got != *want[victim] {
		t.Errorf("the victim's last scrape: %+v; want %+v", got, *want[victim])
	}
	var got map[string]killFigures
	deadline := time.Now().Add(killFlowTimeout + 60*time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		got = map[string]killFigures{}
		open := 0.0
		for id, fams := range scrapeAll() {
			got[id] = figuresOf(fams)
			open += flowsOpen(fams)
		}
		settled := open == 0
		for id := range insts {
			settled = settled && got[id] == *want[id]
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the survivors' figures: %+v (%v flows open); want %s", got, open, wantString(want, insts))
		}
		<-tick.C
	}

	// What the figures mean, flow by flow.
	counted := map[string]int{} // flow -> parts counted anywhere
	for inst, fl := range parts {
		for flow := range fl {
			if inst != victim || strings.HasPrefix(flow, "r1-") {
				counted[flow]++
			}
		}
	}
	var lost []string
	twice := 0
	for _, s := range steps {
		if counted[s.flow] == 0 && !slices.Contains(lost, s.flow) {
			lost = append(lost, s.flow)
		}
	}
	for inst, fl := range parts {
		for flow, st := range fl {
			if strings.HasPrefix(flow, "r") && (!st[0] || len(st) != 4) && (inst != victim || strings.HasPrefix(flow, "r1-")) {
				t.Errorf("flow %s counted in part by %s: a flow counted before the kill, or produced after the move, must be whole", flow, inst)
			}
		}
	}
	for flow, n := range counted {
		if n > 1 {
			twice++
			if strings.HasPrefix(flow, "r") {
				t.Errorf("flow %s counted %d times: a flow counted before the kill, or produced after the move, must be counted once", flow, n)
			}
		}
	}
	if len(lost) > 0 {
		t.Errorf("flows counted nowhere: %v", lost)
	}
	if len(counted) != 48 {
		t.Errorf("%d flows counted; want the 48 injected", len(counted))
	}
	inFlight, whole, partial := 0, 0, 0
	for flow := range parts[victim] {
		if strings.HasPrefix(flow, "r1-") {
			if rereadFlows[flow] {
				t.Errorf("flow %s, counted by the victim, read again: its records were not committed within the flow timeout", flow)
			}
			continue
		}
		inFlight++
		for inst, fl := range parts {
			if inst == victim || fl[flow] == nil {
				continue
			}
			if s := fl[flow]; s[0] && len(s) == 4 {
				whole++
			} else {
				partial++
			}
		}
	}
	var shifted []int32
	for p := range int32(6) {
		if before[p] != victim && before[p] != after[p] {
			shifted = append(shifted, p)
		}
	}
	var sumGot killFigures
	for _, f := range got {
		sumGot.CheckoutCompleted += f.CheckoutCompleted
		sumGot.CheckoutIncomplete += f.CheckoutIncomplete
		sumGot.DefaultCompleted += f.DefaultCompleted
		sumGot.Events += f.Events
	}
	lastV := figuresOf(last)
	if lastV.Events+sumGot.Events != float64(len(steps)+reread) {
		t.Errorf("%v events read by the victim and %v by the survivors; want the %d produced and the %d read again", lastV.Events, sumGot.Events, len(steps), reread)
	}
	if inFlight != 8 || whole+partial != inFlight {
		t.Errorf("%d flows in flight on the victim, %d counted whole and %d in part after; want 8, each once", inFlight, whole, partial)
	}
	t.Logf("kill -9 of %s (partitions %v) with %d flows open on it; partitions moved %.1f s after the kill (session timeout 6 s); %d of its records read again by the survivors (uncommitted at the kill)",
		victim, partitionsOf(before, victim), inFlight, moved.Seconds(), reread)
	t.Logf("its in-flight flows: %d counted whole by a survivor (first steps uncommitted, read again), %d in part (first steps committed: flow=\"default\", or checkout incomplete)", whole, partial)
	t.Logf("partitions moved between survivors: %v (flows open there counted twice, in parts: %d flows)", shifted, twice)
	t.Logf("figures: victim's last scrape %+v; survivors %+v; survivors' sum %+v; 48 flows injected, every one counted, %d counted twice in parts",
		lastV, got, sumGot, twice)
}

// partitionsOf lists the partition numbers own gives inst.
func partitionsOf(own map[int32]string, inst string) []int32 {
	var ps []int32
	for p, o := range own {
		if o == inst {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

func wantString(want map[string]*killFigures, insts map[string]*killInstance) string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(insts)) {
		out = append(out, fmt.Sprintf("%s:%+v", id, *want[id]))
	}
	return strings.Join(out, " ")
}

// TestServeSessionTimeoutUsage: --session-timeout is parsed, and refused in
// one line with exit 2 when negative or without a group to apply to (as is
// a config file's session-timeout of a cluster without a group); a value
// the brokers refuse is said on stderr, naming their bound.
func TestServeSessionTimeoutUsage(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *ServeOptions
	cmd := newCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"kafka:orders", "--group", "g", "--session-timeout", "10s"})
	if err := cmd.Execute(); err != nil || got.SessionTimeout != 10*time.Second || !got.set["session-timeout"] {
		t.Fatalf("parsed %v: %+v", err, got)
	}
	dir := t.TempDir()
	noGroup := filepath.Join(dir, "nogroup.yaml")
	os.WriteFile(noGroup, []byte("clusters:\n  - name: a\n    session-timeout: 10s\n"), 0o600)
	for _, c := range []struct {
		o    ServeOptions
		want string
	}{
		{ServeOptions{SessionTimeout: 10 * time.Second}, "--session-timeout 10s: it is a consumer group's: give --group too"},
		{ServeOptions{SessionTimeout: -time.Second, Group: "g"}, "--session-timeout -1s: want a positive duration"},
		{ServeOptions{Config: noGroup}, "nogroup.yaml: clusters[0]: session-timeout 10s: want a positive duration, with a group"},
	} {
		f, _, _ := testFactory(false)
		err := serveRun(context.Background(), f, serveOpts(c.o))
		if exitCode(err) != ExitUsage || err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: exit %d, %v; want %q", c.o, exitCode(err), err, c.want)
		}
	}

	// Below the brokers' group.min.session.timeout.ms (6 s by default):
	// the broker refuses the join, and serve says so (and reopens its
	// sources every --interval, as after any failure of theirs).
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(dir, "none.yaml")})
	startServe(t, f, serveOpts(ServeOptions{Sources: []string{"kafka:" + topic}, NoLag: true, Group: kafkatest.UniqueName(t), SessionTimeout: time.Second}))
	kafkatest.WaitFor(t, 30*time.Second, "the broker's refusal said", func() bool {
		return strings.Contains(errOut.String(), "INVALID_SESSION_TIMEOUT") && strings.Contains(errOut.String(), "group.min.session.timeout.ms")
	})
}
