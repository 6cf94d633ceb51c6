package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/replay/eos"
)

// lagJSONOut is the part of eddy lag -o json the tests read.
type lagJSONOut struct {
	V      int
	Window struct{ Samples, Size int }
	Groups []struct {
		Group, Type, State, Status string
		Worst                      string   `json:"worst_partition_status"`
		Lag                        int64    `json:"lag"`
		OffsetLag                  int64    `json:"offset_lag"`
		TimeLag                    *float64 `json:"time_lag_seconds"`
		Members                    []struct {
			ClientID string `json:"client_id"`
		}
		Partitions []struct {
			Topic     string
			Partition int32
			Committed *int64
			End       *int64
			Lag       *int64
			OffsetLag *int64   `json:"offset_lag"`
			TimeLag   *float64 `json:"time_lag_seconds"`
			Status    *string
		}
	}
	Queues []struct {
		Queue                    string
		Ready, Consumers         int64
		Unacked                  *int64
		HeadAge                  *float64 `json:"head_age_seconds"`
		PublishRate, DeliverRate *float64
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lagFactory(tty bool, env map[string]string) (*Factory, *lockedBuf, *lockedBuf) {
	io, _, _, _ := TestStreams(tty)
	f := newFactory(io, func(k string) string { return env[k] }, &Redactor{})
	f.Global.Timeout = 10 * time.Second
	o, e := &lockedBuf{}, &lockedBuf{}
	f.IO.Out, f.IO.ErrOut = o, e
	return f, o, e
}

// runLag runs eddy lag in process and returns its exit code and streams.
func runLag(t *testing.T, brokers string, tty bool, args ...string) (int, string, string) {
	t.Helper()
	f, out, errOut := lagFactory(tty, map[string]string{"EDDY_BROKERS": brokers, "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	cmd := newCmdLag(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if err != nil && exitCode(err) != ExitPartial {
		errOut.Write([]byte("eddy: " + err.Error() + "\n"))
	}
	return exitCode(err), out.String(), errOut.String()
}

func lagJSON(t *testing.T, brokers string, args ...string) lagJSONOut {
	t.Helper()
	code, out, errOut := runLag(t, brokers, false, append([]string{"-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("eddy lag %v exited %d: %s", args, code, errOut)
	}
	var v lagJSONOut
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return v
}

func commitOffsets(t *testing.T, seeds []string, group, topic string, offs map[int32]int64) {
	t.Helper()
	var o kadm.Offsets
	for p, at := range offs {
		o.AddOffset(topic, p, at, -1)
	}
	resp, err := kafkatest.Admin(t, seeds).CommitOffsets(context.Background(), group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestLagFlags checks flag parsing alone, through runF.
func TestLagFlags(t *testing.T) {
	f, _, _ := lagFactory(false, nil)
	var got *LagOptions
	cmd := newCmdLag(f, func(_ context.Context, o *LagOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"g1", "amqp:q", "-o", "json", "--watch", "5s", "--samples", "3", "--window", "4", "--fail-on", "lag>1", "--fail-on", "g1:status>=WARN", "-P", "--read-uncommitted"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Targets, ",") != "g1,amqp:q" || got.Output != "json" || got.Watch != 5*time.Second || got.Samples != 3 || got.Window != 4 ||
		len(got.FailOn) != 2 || !got.Partitions || !got.ReadUncommitted {
		t.Fatalf("parsed %+v", *got)
	}
	var sgot *LagServeOptions
	serve := newCmdLagServe(f, func(_ context.Context, o *LagServeOptions) error { sgot = o; return nil })
	serve.SetArgs([]string{"--listen", ":0", "--interval", "2s", "--otlp", "localhost:4318", "g"})
	if err := serve.Execute(); err != nil {
		t.Fatal(err)
	}
	if sgot.Listen != ":0" || sgot.Interval != 2*time.Second || sgot.OTLP != "localhost:4318" || sgot.Targets[0] != "g" {
		t.Fatalf("serve parsed %+v", *sgot)
	}
}

// TestLagUsageErrors: bad expressions and flags exit 2 before connecting.
func TestLagUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--fail-on", "lag>>3"}, {"--fail-on", "status>=MEH"}, {"--fail-on", "latency>3"}, {"-o", "xml"},
		{"--samples", "3"}, {"--window", "1"},
	} {
		code, _, errOut := runLag(t, "127.0.0.1:1", false, args...)
		if code != ExitUsage || errOut != "" && !strings.Contains(errOut, "") {
			t.Errorf("%v: exit %d (%s); want 2", args, code, errOut)
		}
	}
}

// TestLagCommand: json, tsv and table on kfake, gates pass and fail.
// TestLagLeavesOutEddyJobs: eddy's own redrive and replay groups are not
// consumers (a finished job has no member and what arrived since counts as
// its lag), so "every group" leaves them out — a gate over all groups is not
// tripped by a redrive run yesterday — says so, and lists them on --jobs or
// by name.
func TestLagLeavesOutEddyJobs(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	brokers := strings.Join(seeds, ",")
	topic := kafkatest.NewTopic(t, seeds, 1)
	var recs []*kgo.Record
	for range 5 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte("v")})
	}
	kafkatest.Produce(t, seeds, recs...)
	job := dlq.RedriveGroup("orders.DLT-1a2b3c4d")
	commitOffsets(t, seeds, "billing", topic, map[int32]int64{0: 5})
	commitOffsets(t, seeds, job, topic, map[int32]int64{0: 1})
	commitOffsets(t, seeds, eos.GroupName("r-9f8e"), topic, map[int32]int64{0: 2})

	code, out, errOut := runLag(t, brokers, false, "-o", "json", "--fail-on", "lag>0")
	var v struct {
		Groups []struct {
			Group string
			Lag   int64
		}
		HiddenJobs int `json:"hidden_jobs"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if code != 0 || len(v.Groups) != 1 || v.Groups[0].Group != "billing" || v.HiddenJobs != 2 {
		t.Fatalf("every group: exit %d, groups %+v, hidden_jobs %d; want exit 0, billing alone, 2 hidden\n%s", code, v.Groups, v.HiddenJobs, errOut)
	}
	if !strings.Contains(errOut, "2 of eddy's own redrive or replay job groups not listed (--jobs lists them)") {
		t.Fatalf("stderr does not say what was left out: %q", errOut)
	}
	code, out, _ = runLag(t, brokers, false, "-o", "json", "--jobs", "--fail-on", "lag>0")
	if code != ExitPartial || !strings.Contains(out, job) || strings.Contains(out, "hidden_jobs") {
		t.Fatalf("--jobs: exit %d, want 3 with the job listed: %s", code, out)
	}
	if v := lagJSON(t, brokers, job); len(v.Groups) != 1 || v.Groups[0].Group != job || v.Groups[0].Lag != 4 {
		t.Fatalf("a job named: %+v", v.Groups)
	}
}

func TestLagCommand(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	brokers := strings.Join(seeds, ",")
	topic := kafkatest.NewTopic(t, seeds, 2)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("v"), Timestamp: time.Now().Add(-time.Minute)})
	}
	kafkatest.Produce(t, seeds, recs...)
	commitOffsets(t, seeds, "orders-svc", topic, map[int32]int64{0: 2, 1: 5})
	commitOffsets(t, seeds, "billing", topic, map[int32]int64{0: 5, 1: 5})

	v := lagJSON(t, brokers)
	if v.V != 1 || len(v.Groups) != 2 || v.Groups[0].Group != "billing" || v.Groups[1].Group != "orders-svc" {
		t.Fatalf("groups: %+v", v.Groups)
	}
	o := v.Groups[1]
	if o.Lag != 3 || o.TimeLag == nil || *o.TimeLag < 59 || o.Status != "UNKNOWN" || v.Groups[0].Status != "OK" || len(o.Partitions) != 2 {
		t.Fatalf("orders-svc: %+v", o)
	}

	code, out, _ := runLag(t, brokers, false, "orders-svc")
	if code != 0 || !strings.HasPrefix(out, "group\ttype\tstate\tstatus") || !strings.Contains(out, "orders-svc\t"+topic+"\t0\t2\t0\t5\t3\t3\t") {
		t.Fatalf("tsv (exit %d):\n%s", code, out)
	}
	code, out, _ = runLag(t, brokers, true, "--per-partition")
	if code != 0 || !strings.Contains(out, "GROUP / TOPIC") || !strings.Contains(out, "?  status needs a window") {
		t.Fatalf("table (exit %d):\n%s", code, out)
	}

	code, _, errOut := runLag(t, brokers, false, "--fail-on", "lag>2", "--fail-on", "billing:lag>0", "--fail-on", "time_lag>30s")
	if code != ExitPartial || !strings.Contains(errOut, "lag>2: group orders-svc has lag 3") || !strings.Contains(errOut, "time_lag>30s: group orders-svc has time lag") ||
		strings.Contains(errOut, "billing:lag>0") {
		t.Fatalf("gates: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runLag(t, brokers, false, "--fail-on", "lag>3", "--fail-on", "orders-svc:time_lag>1h"); code != 0 {
		t.Fatalf("gates that hold: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runLag(t, brokers, false, "no-such-group"); code != ExitError || !strings.Contains(errOut, "") {
		t.Fatalf("missing group: exit %d %s", code, errOut)
	}
	// --watch in a pipe: one jsonl line per sample; the second sample judges.
	code, out, _ = runLag(t, brokers, false, "--watch", "10ms", "--samples", "2", "orders-svc", "--fail-on", "status>=ERR")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("watch wrote %d lines:\n%s", len(lines), out)
	}
	var last lagJSONOut
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	// Nobody owns the partitions and the offsets did not move: Burrow's STOP.
	if code != ExitPartial || last.Groups[0].Status != "ERR" || last.Groups[0].Worst != "STOP" || last.Window.Samples != 2 {
		t.Fatalf("after two samples: exit %d, %+v", code, last.Groups[0])
	}
}

// TestLagServeScrape scrapes eddy lag serve's endpoint.
func TestLagServeScrape(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Value: []byte("a")}, &kgo.Record{Topic: topic, Value: []byte("b")})
	commitOffsets(t, seeds, "scraped", topic, map[int32]int64{0: 0})
	f, _, errOut := lagFactory(false, map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- lagServeRun(ctx, f, &LagServeOptions{Listen: "127.0.0.1:0", Interval: time.Hour, Window: 10, ready: func(a string) { addr <- a }})
	}()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatalf("serve ended: %v %s", err, errOut)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	resp, err := http.Get("http://" + a + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cancel()
	<-done
	metrics := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			metrics[line[:i]] = line[i+1:]
		}
	}
	for k, want := range map[string]string{
		`eddy_kafka_consumergroup_lag{group="scraped"}`:                                                            "2",
		`eddy_kafka_consumergroup_offset_lag{group="scraped"}`:                                                     "2",
		`eddy_kafka_consumergroup_status{group="scraped"}`:                                                         "0",
		`eddy_kafka_consumergroup_partition_lag{group="scraped",partition="0",topic="` + topic + `"}`:              "2",
		`eddy_kafka_consumergroup_partition_committed_offset{group="scraped",partition="0",topic="` + topic + `"}`: "0",
		`eddy_kafka_consumergroup_partition_end_offset{group="scraped",partition="0",topic="` + topic + `"}`:       "2",
		`eddy_kafka_consumergroup_lag_exact{group="scraped"}`:                                                      "1",
		`eddy_kafka_consumergroup_lag_min{group="scraped"}`:                                                        "2",
		`eddy_kafka_consumergroup_time_lag_exact{group="scraped"}`:                                                 "1",
		`eddy_kafka_consumergroup_partition_lag_exact{group="scraped",partition="0",topic="` + topic + `"}`:        "1",
		`eddy_kafka_consumergroup_partition_high_watermark{group="scraped",partition="0",topic="` + topic + `"}`:   "2",
	} {
		if metrics[k] != want {
			t.Errorf("%s = %q; want %s\n%s", k, metrics[k], want, body)
		}
	}
	if _, ok := metrics[`eddy_kafka_consumergroup_time_lag_seconds{group="scraped"}`]; !ok {
		t.Errorf("no time lag metric:\n%s", body)
	}
}

// TestLagTruthKafkaTool: on the real broker, eddy's offset lag of every
// partition equals what Kafka's own kafka-consumer-groups --describe says for
// the same group at the same moment (nothing is produced or committed in
// between), and eddy's lag equals it too on a topic without transactions.
func TestLagTruthKafkaTool(t *testing.T) {
	seeds := realKafkaSeeds(t)
	libs := os.Getenv("EDDY_TEST_KAFKA_LIBS")
	if libs == "" {
		if requireBrokers() {
			t.Fatal("EDDY_TEST_KAFKA_LIBS is not set: scripts/brokers.sh exports the Kafka jars")
		}
		t.Skip("EDDY_TEST_KAFKA_LIBS not set: no Kafka tools to compare with")
	}
	topic := kafkatest.NewTopic(t, seeds, 4)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 4), Value: []byte("v")})
	}
	kafkatest.Produce(t, seeds, recs...)
	g := kafkatest.UniqueName(t)
	commitOffsets(t, seeds, g, topic, map[int32]int64{0: 0, 1: 7, 2: 25})
	brokers := strings.Join(seeds, ",")
	before := lagJSON(t, brokers, g)
	cmd := exec.Command("java", "-cp", libs+"/*", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
		"--bootstrap-server", brokers, "--describe", "--group", g)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-consumer-groups: %v\n%s", err, out)
	}
	after := lagJSON(t, brokers, g)
	kafkaLag := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[0] == g {
			kafkaLag[f[1]+"/"+f[2]] = f[5]
		}
	}
	// An Empty group: Kafka lists the 3 committed partitions; eddy also the
	// fourth, with offset_lag null.
	if len(kafkaLag) != 3 {
		t.Fatalf("kafka-consumer-groups described %d partitions:\n%s", len(kafkaLag), out)
	}
	for _, v := range []lagJSONOut{before, after} {
		for _, p := range v.Groups[0].Partitions {
			k := p.Topic + "/" + strconv.Itoa(int(p.Partition))
			want, ok := kafkaLag[k]
			if !ok {
				want = "-"
			}
			got := "-"
			if p.OffsetLag != nil {
				got = strconv.FormatInt(*p.OffsetLag, 10)
			}
			if got != want {
				t.Errorf("%s: eddy offset_lag %s, kafka-consumer-groups LAG %s\n%s", k, got, want, out)
			}
			if p.Lag != nil && got != strconv.FormatInt(*p.Lag, 10) {
				t.Errorf("%s: lag %d differs from offset lag %s without transactions", k, *p.Lag, got)
			}
		}
	}
	t.Logf("kafka-consumer-groups:\n%s", out)
}

func realKafkaSeeds(t *testing.T) []string {
	t.Helper()
	if os.Getenv(kafkatest.EnvReal) == "" && requireBrokers() {
		t.Fatalf("%s is not set: run the tests with scripts/test.sh, which starts a real Kafka", kafkatest.EnvReal)
	}
	return kafkatest.Real(t)
}

// TestLagDemo: on the demo shop, a slowed service turns WARN (its lag and
// time lag grow while it still commits) and, stalled, ERR (STALL), while the
// other services stay OK. One partition per topic, so that the slow service's
// commits move the offset Burrow's rules look at every sample.
func TestLagDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, demo.Config{Rate: 200, BurstEvery: -1, FailRate: -1, PoisonEvery: -1, Partitions: 1, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	brokers := d.Addr()
	kafkatest.WaitFor(t, 30*time.Second, "every demo group to commit", func() bool {
		return len(lagJSON(t, brokers).Groups) >= len(d.Groups())
	})
	f, _, _ := lagFactory(false, map[string]string{"EDDY_BROKERS": brokers, "EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	m, closeFn, err := lagMonitor(f, nil, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	group := demo.Group("payments")
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	await := func(want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		var last map[string]string
		for time.Now().Before(deadline) {
			<-tick.C
			s, err := m.Sample(ctx)
			if err != nil {
				t.Fatal(err)
			}
			last = map[string]string{}
			lags := map[string]int64{}
			var g inspect.GroupLag
			for _, x := range s.Groups {
				last[x.Group] = statusText(x)
				lags[x.Group] = x.Lag
				if x.Group == group {
					g = x
				}
			}
			if last[group] != want || g.Lag <= 0 || g.TimeLag <= 0 {
				continue
			}
			// The others keep up: never ERR, and never as far behind as
			// payments. (On a loaded machine a healthy consumer can be WARN
			// for a window — Burrow's "lag did not decrease" — so WARN alone
			// is not held against it.)
			for other, st := range last {
				if other != group && (strings.HasPrefix(st, "ERR") || lags[other] >= g.Lag) {
					t.Fatalf("%s is %s with lag %d while only payments (lag %d) is in trouble: %v", other, st, lags[other], g.Lag, last)
				}
			}
			t.Logf("payments %s: lag %d, time lag %v; all: %v", want, g.Lag, g.TimeLag, last)
			return
		}
		t.Fatalf("payments never %s within 60s; last: %v", want, last)
	}
	if err := d.Slow("payments"); err != nil {
		t.Fatal(err)
	}
	await("WARN")
	if err := d.Stall("payments"); err != nil {
		t.Fatal(err)
	}
	await("ERR (STALL)")
}

func statusText(g inspect.GroupLag) string {
	if g.Worst > inspect.StatusErr {
		return g.Status.String() + " (" + g.Worst.String() + ")"
	}
	return g.Status.String()
}

// TestLagRabbitMQ: queues in the same command: ready, unacked, consumers,
// and the head message's age where the management API knows it (a classic
// queue whose messages carry a timestamp); null and a note where it does not.
func TestLagRabbitMQ(t *testing.T) {
	url := amqptest.URL(t)
	classic := amqptest.Topology(t, url)
	quorum := amqptest.Topology(t, url, amqptest.Quorum())
	sent := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	for range 3 {
		classic.Publish(t, amqp091.Publishing{Body: []byte("x"), Timestamp: sent})
	}
	quorum.Publish(t, amqp091.Publishing{Body: []byte("y"), Timestamp: sent})
	f, out, errOut := lagFactory(false, map[string]string{"EDDY_AMQP_URL": url, "EDDY_AMQP_MGMT_URL": os.Getenv("EDDY_TEST_AMQP_MGMT"),
		"EDDY_CONFIG": filepath.Join(t.TempDir(), "none.yaml")})
	var v lagJSONOut
	// The management API's counts are samples taken every few seconds, and
	// its head-message timestamp can come a sample later than the counts:
	// wait for both.
	amqptest.Eventually(t, 30*time.Second, "the management API to count the messages and date the head", func() bool {
		out.mu.Lock()
		out.b.Reset()
		out.mu.Unlock()
		err := lagRun(context.Background(), f, &LagOptions{Targets: []string{"amqp:" + classic.Queue, "amqp:" + quorum.Queue}, Output: "json", Window: 10})
		if err != nil {
			t.Fatalf("%v: %s", err, errOut)
		}
		v = lagJSONOut{}
		if err := json.Unmarshal([]byte(out.String()), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Queues) != 2 || v.Queues[0].Ready+v.Queues[1].Ready != 4 {
			return false
		}
		for _, q := range v.Queues {
			if q.Queue == classic.Queue && q.HeadAge == nil {
				return false
			}
		}
		return true
	})
	// The head was published `sent`; its age grows while the test polls.
	maxAge := time.Since(sent).Seconds() + 1
	var c, q = v.Queues[0], v.Queues[1]
	if c.Queue != classic.Queue {
		c, q = q, c
	}
	if c.Ready != 3 || c.Unacked == nil || *c.Unacked != 0 || c.HeadAge == nil || *c.HeadAge < 119 || *c.HeadAge > maxAge {
		t.Errorf("classic queue: %+v (head age %v, unacked %v)", c, deref(c.HeadAge), deref(c.Unacked))
	}
	if q.Ready != 1 || q.HeadAge != nil {
		t.Errorf("quorum queue: %+v; want ready 1, head age unknown", q)
	}
	if !strings.Contains(out.String(), "classic queues only") {
		t.Errorf("no note on the quorum queue's head age: %s", out.String())
	}
	code, _, stderr := runLagEnv(t, map[string]string{"EDDY_AMQP_URL": url, "EDDY_AMQP_MGMT_URL": os.Getenv("EDDY_TEST_AMQP_MGMT")},
		"amqp:"+classic.Queue, "--fail-on", "time_lag>1m", "--fail-on", classic.Queue+":lag>2")
	if code != ExitPartial || !strings.Contains(stderr, "head message age") || !strings.Contains(stderr, "3 ready messages") {
		t.Errorf("queue gates: exit %d\n%s", code, stderr)
	}
}

func runLagEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	env["EDDY_CONFIG"] = filepath.Join(t.TempDir(), "none.yaml")
	f, out, errOut := lagFactory(false, env)
	cmd := newCmdLag(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(context.Background())
	return exitCode(err), out.String(), errOut.String()
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestLagRabbitMQFutureHead: a classic queue whose head message is dated 30
// minutes ahead (a publisher's clock) has no head age rather than 0, says
// why, and a time_lag gate on it fails instead of passing.
func TestLagRabbitMQFutureHead(t *testing.T) {
	url := amqptest.URL(t)
	classic := amqptest.Topology(t, url)
	classic.Publish(t, amqp091.Publishing{Body: []byte("x"), Timestamp: time.Now().Add(30 * time.Minute)})
	classic.Publish(t, amqp091.Publishing{Body: []byte("y"), Timestamp: time.Now().Add(-time.Hour)})
	env := map[string]string{"EDDY_AMQP_URL": url, "EDDY_AMQP_MGMT_URL": os.Getenv("EDDY_TEST_AMQP_MGMT")}
	var out string
	amqptest.Eventually(t, 30*time.Second, "the management API to date the head", func() bool {
		_, out, _ = runLagEnv(t, env, "amqp:"+classic.Queue, "-o", "json")
		return strings.Contains(out, `"reason":"future_timestamp"`)
	})
	if !strings.Contains(out, `"head_age_seconds":null`) || !strings.Contains(out, "in the future") {
		t.Errorf("future head: %s", out)
	}
	code, _, stderr := runLagEnv(t, env, "amqp:"+classic.Queue, "--fail-on", "time_lag>1m")
	if code != ExitPartial || !strings.Contains(stderr, "cannot pass") {
		t.Errorf("time_lag>1m on a head dated ahead: exit %d\n%s", code, stderr)
	}
}
