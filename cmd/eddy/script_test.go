package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

var update = flag.Bool("update", false, "rewrite testscript golden blocks (cmp) with actual output")

// TestMain registers eddy's Main as the `eddy` command of the test scripts: the
// scripts run the real binary's code path, in a subprocess of this test binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"eddy": func() { os.Exit(Main()) }})
}

// requireBrokers: in CI a missing broker fails the run instead of skipping.
func requireBrokers() bool {
	return os.Getenv("EDDY_REQUIRE_BROKERS") != "" || os.Getenv("CI") == "true"
}

// TestScripts runs testdata/script/*.txtar against an in-process kfake cluster
// started for each script.
func TestScripts(t *testing.T) {
	runScripts(t, "kfake")
}

// TestScriptsRealKafka runs the same scripts against a real Apache Kafka broker
// (EDDY_TEST_KAFKA, set by scripts/brokers.sh).
func TestScriptsRealKafka(t *testing.T) {
	if os.Getenv("EDDY_TEST_KAFKA") == "" {
		if requireBrokers() {
			t.Fatal("EDDY_TEST_KAFKA is not set: run the tests with scripts/test.sh, which starts a real Kafka")
		}
		t.Skip("EDDY_TEST_KAFKA not set: skipping the scripts against a real Kafka broker (scripts/test.sh starts one)")
	}
	runScripts(t, "real")
}

var topicSeq atomic.Int64

func runScripts(t *testing.T, kafkaMode string) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("KAFKA_MODE", kafkaMode)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("NO_COLOR", "")
			for _, k := range []string{"EDDY_TEST_AMQP", "EDDY_TEST_AMQP_MGMT", "EDDY_TEST_KAFKA", "EDDY_REQUIRE_BROKERS", "CI"} {
				env.Setenv(k, os.Getenv(k))
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "realkafka":
				return kafkaMode == "real", nil
			case "amqp":
				if os.Getenv("EDDY_TEST_AMQP") == "" && requireBrokers() {
					return false, fmt.Errorf("EDDY_TEST_AMQP is not set: run the tests with scripts/test.sh, which starts RabbitMQ")
				}
				return os.Getenv("EDDY_TEST_AMQP") != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"kafka":        cmdKafka,
			"topic":        cmdTopic,
			"produce":      cmdProduce,
			"amqp-queue":   cmdAMQPQueue,
			"amqp-publish": cmdAMQPPublish,
			"exitcode":     cmdExitCode,
			"nobytes":      cmdNoBytes,
			"groupstate":   cmdGroupState,
			"commit":       cmdCommit,
			"member":       cmdMember,
			"kcat-agree":   cmdKcatAgree,
			"filesize":     cmdFileSize,
			"registry":     cmdRegistry,
		},
	})
}

// kafka: start a Kafka for this script (kfake, or the real broker) and point
// EDDY_BROKERS at it.
func cmdKafka(ts *testscript.TestScript, neg bool, args []string) {
	if ts.Getenv("KAFKA_MODE") == "real" {
		ts.Setenv("EDDY_BROKERS", ts.Getenv("EDDY_TEST_KAFKA"))
		return
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	ts.Check(err)
	ts.Defer(c.Close)
	ts.Setenv("EDDY_BROKERS", strings.Join(c.ListenAddrs(), ","))
}

func kgoClient(ts *testscript.TestScript, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(ts.Getenv("EDDY_BROKERS"), ",")...)}, opts...)...)
	ts.Check(err)
	return cl
}

// topic NAME PARTITIONS [CONFIG=VALUE...]: create a topic with a unique name and
// set $NAME to it, so scripts run on a shared real broker without colliding;
// deleted afterwards.
func cmdTopic(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: topic NAME PARTITIONS [CONFIG=VALUE...]")
	}
	configs := map[string]string{}
	for _, kv := range args[2:] {
		k, v, _ := strings.Cut(kv, "=")
		configs[k] = v
	}
	args = args[:2]
	parts, err := strconv.Atoi(args[1])
	ts.Check(err)
	name := fmt.Sprintf("%s-%d-%d", args[0], time.Now().UnixNano()%1e9, topicSeq.Add(1))
	cl := kgoClient(ts)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, int32(parts), 1, kafkatest.TopicConfigs(configs), name)
	ts.Check(err)
	ts.Check(resp.Err)
	ts.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adm.DeleteTopics(ctx, name)
		cl.Close()
	})
	ts.Setenv(args[0], name)
}

// produce [-p N] [-k KEY] [-H name=value]... [-n COUNT] [-t RFC3339] [-size BYTES] TOPIC VALUE:
// produce records (COUNT copies, with VALUE's "%d" replaced by the index).
// -size pads VALUE with "z" to that many bytes. VALUE is unquoted Go-style (\x1b etc. allowed) so hostile bytes are easy to write.
func cmdProduce(ts *testscript.TestScript, neg bool, args []string) {
	part, count := int32(-1), 1
	var key []byte
	var headers []kgo.RecordHeader
	var ts0 time.Time
	size := 0
	for len(args) > 2 {
		switch args[0] {
		case "-p":
			n, err := strconv.Atoi(args[1])
			ts.Check(err)
			part = int32(n)
		case "-k":
			key = []byte(unquote(ts, args[1]))
		case "-H":
			k, v, _ := strings.Cut(args[1], "=")
			headers = append(headers, kgo.RecordHeader{Key: unquote(ts, k), Value: []byte(unquote(ts, v))})
		case "-n":
			n, err := strconv.Atoi(args[1])
			ts.Check(err)
			count = n
		case "-t":
			t, err := time.Parse(time.RFC3339Nano, args[1])
			ts.Check(err)
			ts0 = t
		case "-size":
			n, err := strconv.Atoi(args[1])
			ts.Check(err)
			size = n
		default:
			ts.Fatalf("produce: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: produce [-p N] [-k KEY] [-H k=v] [-n COUNT] [-t TIME] TOPIC VALUE")
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(args[0]), kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(64 << 20), kgo.BrokerMaxWriteBytes(128 << 20)}
	if part >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl := kgoClient(ts, opts...)
	defer cl.Close()
	value := unquote(ts, args[1])
	var recs []*kgo.Record
	for i := range count {
		v := value
		if strings.Contains(v, "%d") {
			v = strings.ReplaceAll(v, "%d", strconv.Itoa(i))
		}
		if size > len(v) {
			v += strings.Repeat("z", size-len(v))
		}
		r := &kgo.Record{Key: key, Value: []byte(v), Headers: headers, Partition: max(part, 0)}
		if !ts0.IsZero() {
			r.Timestamp = ts0.Add(time.Duration(i) * time.Millisecond)
		}
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts.Check(cl.ProduceSync(ctx, recs...).FirstErr())
}

func unquote(ts *testscript.TestScript, s string) string {
	u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		ts.Fatalf("cannot unquote %q: %v", s, err)
	}
	return u
}

// amqp-queue NAME: declare a unique topic exchange and a queue bound to it with
// key "#"; sets $NAME (the queue) and $NAME_EXCHANGE; deleted afterwards.
func cmdAMQPQueue(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: amqp-queue NAME")
	}
	conn, err := amqp091.Dial(ts.Getenv("EDDY_TEST_AMQP"))
	ts.Check(err)
	ch, err := conn.Channel()
	ts.Check(err)
	q := fmt.Sprintf("%s-%d-%d", args[0], time.Now().UnixNano()%1e9, topicSeq.Add(1))
	ex := q + ".x"
	ts.Check(ch.ExchangeDeclare(ex, "topic", false, true, false, false, nil))
	_, err = ch.QueueDeclare(q, false, false, false, false, nil)
	ts.Check(err)
	ts.Check(ch.QueueBind(q, "#", ex, false, nil))
	ts.Defer(func() {
		ch.QueueDelete(q, false, false, false)
		ch.ExchangeDelete(ex, false, false)
		conn.Close()
	})
	ts.Setenv(args[0], q)
	ts.Setenv(args[0]+"_EXCHANGE", ex)
}

// amqp-publish [-t RFC3339] EXCHANGE KEY BODY: publish one message with
// confirms; -t sets its timestamp property (whole seconds, as AMQP has it).
func cmdAMQPPublish(ts *testscript.TestScript, neg bool, args []string) {
	var stamp time.Time
	if len(args) == 5 && args[0] == "-t" {
		t, err := time.Parse(time.RFC3339Nano, args[1])
		ts.Check(err)
		stamp, args = t, args[2:]
	}
	if len(args) != 3 {
		ts.Fatalf("usage: amqp-publish [-t TIME] EXCHANGE KEY BODY")
	}
	conn, err := amqp091.Dial(ts.Getenv("EDDY_TEST_AMQP"))
	ts.Check(err)
	defer conn.Close()
	ch, err := conn.Channel()
	ts.Check(err)
	ts.Check(ch.Confirm(false))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, args[0], args[1], true, false,
		amqp091.Publishing{Body: []byte(unquote(ts, args[2])), MessageId: "m-" + args[1], Headers: amqp091.Table{"tenant": "acme"}, Timestamp: stamp})
	ts.Check(err)
	ok, err := dc.WaitContext(ctx)
	ts.Check(err)
	if !ok {
		ts.Fatalf("publish was nacked")
	}
}

// exitcode N PROGRAM ARGS...: run PROGRAM and require exit status N exactly; its
// stdout and stderr are kept for the next commands, as with exec.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Logf("stdout:\n%s\nstderr:\n%s", ts.ReadFile("stdout"), ts.ReadFile("stderr"))
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// nobytes FILE HEX...: FILE (or stdout/stderr) contains none of these bytes.
// Regexps cannot say "the raw byte 0x9b", which is why this exists.
func cmdNoBytes(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: nobytes FILE HEX...")
	}
	data := []byte(ts.ReadFile(args[0]))
	for _, h := range args[1:] {
		b, err := strconv.ParseUint(h, 16, 8)
		ts.Check(err)
		if i := bytes.IndexByte(data, byte(b)); i >= 0 {
			ts.Fatalf("%s has byte 0x%02x at %d: %q", args[0], b, i, data[max(0, i-20):min(len(data), i+20)])
		}
	}
}

// groupstate FILE [TOPIC...]: write every consumer group with its state,
// member count and committed offsets to FILE, so a script can prove a read
// changed none of them. On a shared real broker other tests make and drop
// groups meanwhile, so there only the script's own groups (eddy-script*)
// are written in full, and of the others only those holding a commit on one
// of TOPIC (the script's topics): a read that committed would show there.
func cmdGroupState(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: groupstate FILE [TOPIC...]")
	}
	topics := args[1:]
	real := ts.Getenv("KAFKA_MODE") == "real"
	cl := kgoClient(ts)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := adm.ListGroups(ctx)
	ts.Check(err)
	names := groups.Groups()
	sort.Strings(names)
	var out strings.Builder
	for _, g := range names {
		offs, err := adm.FetchOffsets(ctx, g)
		if real && !strings.HasPrefix(g, "eddy-script") {
			if errors.Is(err, kerr.GroupIDNotFound) {
				continue // dropped by its test since the listing
			}
			ts.Check(err)
			ours := false
			offs.Each(func(o kadm.OffsetResponse) { ours = ours || slices.Contains(topics, o.Topic) })
			if !ours {
				continue // another test's group
			}
		}
		ts.Check(err)
		desc, err := adm.DescribeGroups(ctx, g)
		ts.Check(err)
		fmt.Fprintf(&out, "group %s state=%s members=%d\n", g, desc[g].State, len(desc[g].Members))
		offs.Each(func(o kadm.OffsetResponse) {
			fmt.Fprintf(&out, "  %s/%d=%d\n", o.Topic, o.Partition, o.At)
		})
	}
	if !real {
		fmt.Fprintf(&out, "groups=%d\n", len(names))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(out.String()), 0o644))
}

// commit GROUP TOPIC PARTITION OFFSET: commit an offset for an empty group.
func cmdCommit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: commit GROUP TOPIC PARTITION OFFSET")
	}
	p, err := strconv.Atoi(args[2])
	ts.Check(err)
	o, err := strconv.ParseInt(args[3], 10, 64)
	ts.Check(err)
	cl := kgoClient(ts)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var offs kadm.Offsets
	offs.AddOffset(args[1], int32(p), o, -1)
	resp, err := kadm.NewClient(cl).CommitOffsets(ctx, args[0], offs)
	ts.Check(err)
	ts.Check(resp.Error())
}

// member GROUP TOPIC: keep an active member in GROUP until the script ends;
// returns once the group is stable with that member.
func cmdMember(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: member GROUP TOPIC")
	}
	cl := kgoClient(ts, kgo.ConsumerGroup(args[0]), kgo.ConsumeTopics(args[1]), kgo.DisableAutoCommit())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	ts.Defer(func() { cancel(); <-done; cl.Close() })
	adm := kadm.NewClient(kgoClient(ts))
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := adm.DescribeGroups(context.Background(), args[0])
		if err == nil && d[args[0]].State == "Stable" && len(d[args[0]].Members) > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("group %s did not become stable with a member within 30s", args[0])
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
}

// kcat-agree EDDY_JSONL KCAT_JSON: every record agrees between eddy's envelope
// and kcat -J (topic, partition, offset, timestamp, key, payload, headers).
func cmdKcatAgree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: kcat-agree EDDY_JSONL KCAT_JSON")
	}
	eddyLines := strings.Split(strings.TrimSpace(ts.ReadFile(args[0])), "\n")
	kcatLines := strings.Split(strings.TrimSpace(ts.ReadFile(args[1])), "\n")
	if len(eddyLines) != len(kcatLines) {
		ts.Fatalf("eddy read %d records, kcat %d", len(eddyLines), len(kcatLines))
	}
	type kc struct {
		Topic     string   `json:"topic"`
		Partition int32    `json:"partition"`
		Offset    int64    `json:"offset"`
		TS        int64    `json:"ts"`
		Headers   []string `json:"headers"`
		Key       *string  `json:"key"`
		Payload   *string  `json:"payload"`
	}
	byPos := map[string]kc{}
	for _, l := range kcatLines {
		var k kc
		ts.Check(json.Unmarshal([]byte(l), &k))
		byPos[fmt.Sprintf("%s/%d/%d", k.Topic, k.Partition, k.Offset)] = k
	}
	for _, l := range eddyLines {
		e, err := event.DecodeEnvelope([]byte(l))
		ts.Check(err)
		pos := fmt.Sprintf("%s/%d/%d", e.Topic, e.Partition, e.Offset)
		k, ok := byPos[pos]
		if !ok {
			ts.Fatalf("kcat did not read %s", pos)
		}
		if k.TS != e.Timestamp.UnixMilli() {
			ts.Fatalf("%s: timestamp eddy %d kcat %d", pos, e.Timestamp.UnixMilli(), k.TS)
		}
		if (k.Key == nil) != (e.Key == nil) || k.Key != nil && *k.Key != string(e.Key) {
			ts.Fatalf("%s: key eddy %q kcat %v", pos, e.Key, k.Key)
		}
		if (k.Payload == nil) != (e.Value == nil) || k.Payload != nil && *k.Payload != string(e.Value) {
			ts.Fatalf("%s: payload eddy %q kcat %v", pos, e.Value, k.Payload)
		}
		var hs []string
		for _, h := range e.Headers {
			hs = append(hs, h.Key, string(h.Value))
		}
		if fmt.Sprint(hs) != fmt.Sprint(k.Headers) {
			ts.Fatalf("%s: headers eddy %q kcat %q", pos, hs, k.Headers)
		}
	}
}

// filesize FILE N | FILE MIN-MAX: FILE's size in bytes.
func cmdFileSize(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filesize FILE N|MIN-MAX")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	lo, hi, isRange := strings.Cut(args[1], "-")
	minSize, err := strconv.ParseInt(lo, 10, 64)
	ts.Check(err)
	maxSize := minSize
	if isRange {
		maxSize, err = strconv.ParseInt(hi, 10, 64)
		ts.Check(err)
	}
	if fi.Size() < minSize || fi.Size() > maxSize {
		ts.Fatalf("%s is %d bytes, want %s", args[0], fi.Size(), args[1])
	}
}

// registry [-auth USER:PASS] [SUBJECT TYPE FILE]...: start a Schema
// Registry for this script (franz-go's srfake, on loopback), register each
// FILE's text under SUBJECT as TYPE (avro, protobuf, json; each in turn a
// new version), and set $REGISTRY to its URL.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	var opts []srfake.Option
	if len(args) >= 2 && args[0] == "-auth" {
		opts = append(opts, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte(args[1]))))
		args = args[2:]
	}
	if len(args)%3 != 0 {
		ts.Fatalf("usage: registry [-auth USER:PASS] [SUBJECT TYPE FILE]...")
	}
	reg := srfake.New(opts...)
	ts.Defer(reg.Close)
	types := map[string]sr.SchemaType{"avro": sr.TypeAvro, "protobuf": sr.TypeProtobuf, "json": sr.TypeJSON}
	for ; len(args) > 0; args = args[3:] {
		typ, ok := types[args[1]]
		if !ok {
			ts.Fatalf("registry: type %q: want avro, protobuf or json", args[1])
		}
		_, _, err := reg.RegisterSchema(args[0], sr.Schema{Schema: ts.ReadFile(args[2]), Type: typ})
		ts.Check(err)
	}
	ts.Setenv("REGISTRY", reg.URL())
}
