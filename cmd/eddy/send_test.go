package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

// runSend runs eddy in process with stdin and the given environment.
func runEddyIn(t *testing.T, env map[string]string, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, in, _, _ := TestStreams(false)
	in.Write(stdin)
	cfg := t.TempDir()
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return cfg
		}
		return env[k]
	}
	code = run(context.Background(), args, io, getenv, &Redactor{})
	return code, io.Out.(*syncWriter).String(), io.ErrOut.(*syncWriter).String()
}

// readBack is what eddy tail reads from topic, every record from the
// beginning, decoded from its envelope (bytes exact).
func readBack(t *testing.T, seeds []string, topic string, extra ...string) []*event.Event {
	t.Helper()
	args := append([]string{"tail", "kafka:" + topic, "-b", strings.Join(seeds, ","), "--from", "beginning", "--until", "end", "-o", "jsonl"}, extra...)
	code, out, errOut := runEddy(t, nil, args...)
	if code != 0 {
		t.Fatalf("tail: exit %d: %s", code, errOut)
	}
	var evs []*event.Event
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		e, err := event.DecodeEnvelope([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		evs = append(evs, e)
	}
	slices.SortStableFunc(evs, func(a, b *event.Event) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return evs
}

// kafkaTargets are kfake and, when EDDY_TEST_KAFKA names one, the real broker.
func kafkaTargets(t *testing.T, run func(t *testing.T, seeds []string)) {
	t.Run("kfake", func(t *testing.T) { run(t, kafkatest.Cluster(t)) })
	t.Run("real", func(t *testing.T) { run(t, kafkatest.Real(t)) })
}

// TestSendRoundTrip: what send writes, tail reads back byte for byte —
// files (one event each, with bytes that are not UTF-8, and braces that are
// not placeholders), stdin lines split into key and value by -K, headers in
// order, a fixed partition and timestamp.
func TestSendRoundTrip(t *testing.T) {
	kafkaTargets(t, func(t *testing.T, seeds []string) {
		topic := kafkatest.NewTopic(t, seeds, 3)
		dir := t.TempDir()
		files := [][]byte{
			[]byte(`{"a":{"b":[1,2,{}]},"t":"{{ .Value }}"}`),
			{0x00, 0xff, 0xfe, '\n', '{', '{', 0x1b, '['},
			[]byte("last line without newline\r"),
		}
		var paths []string
		for i, b := range files {
			p := filepath.Join(dir, "ev"+string(rune('0'+i)))
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		b := strings.Join(seeds, ",")
		args := append([]string{"send", "kafka:" + topic, "-b", b, "--partition", "1", "-k", "k1",
			"-H", "h1=v1", "-H", "h2=", "-H", "h1=again", "--timestamp", "2026-01-02T03:04:05.678Z"}, paths...)
		if code, _, errOut := runEddyIn(t, nil, nil, args...); code != 0 {
			t.Fatalf("send files: exit %d: %s", code, errOut)
		}
		evs := readBack(t, seeds, topic)
		if len(evs) != len(files) {
			t.Fatalf("read %d events, want %d", len(evs), len(files))
		}
		for i, e := range evs {
			if !bytes.Equal(e.Value, files[i]) || string(e.Key) != "k1" || e.Partition != 1 ||
				!e.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)) {
				t.Fatalf("event %d: key %q value %q partition %d at %v", i, e.Key, e.Value, e.Partition, e.Timestamp)
			}
			var hs []string
			for _, h := range e.Headers {
				hs = append(hs, h.Key+"="+string(h.Value))
			}
			if got := strings.Join(hs, ","); got != "h1=v1,h2=,h1=again" {
				t.Fatalf("event %d headers %s", i, got)
			}
		}

		// stdin, kcat -P -K: style; a line without the delimiter has no key.
		topic2 := kafkatest.NewTopic(t, seeds, 1)
		in := "o-1:{\"n\":1}\n\no-2:{\"n\":2}:x\nnokey\n"
		if code, _, errOut := runEddyIn(t, nil, []byte(in), "send", "kafka:"+topic2, "-b", b, "-K", ":"); code != 0 {
			t.Fatalf("send lines: exit %d: %s", code, errOut)
		}
		evs = readBack(t, seeds, topic2)
		var got []string
		for _, e := range evs {
			k := "<nil>"
			if e.Key != nil {
				k = string(e.Key)
			}
			got = append(got, k+"|"+string(e.Value))
		}
		if want := []string{`o-1|{"n":1}`, `o-2|{"n":2}:x`, `<nil>|nokey`}; !slices.Equal(got, want) {
			t.Fatalf("lines: %q, want %q", got, want)
		}
	})
}

// TestSendCapture: a capture written by tail -o jsonl is sent back with its
// keys, headers, timestamps and values, byte for byte.
func TestSendCapture(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	b := strings.Join(seeds, ",")
	src := kafkatest.NewTopic(t, seeds, 1)
	in := "a\x01:v1\n:v2\nk3:\xff\xfe\n"
	if code, _, errOut := runEddyIn(t, nil, []byte(in), "send", "kafka:"+src, "-b", b, "-K", ":", "-H", "x=1", "--ce-type", "T"); code != 0 {
		t.Fatalf("send: exit %d: %s", code, errOut)
	}
	code, capture, errOut := runEddy(t, nil, "tail", "kafka:"+src, "-b", b, "--from", "beginning", "--until", "end", "-o", "jsonl")
	if code != 0 {
		t.Fatalf("tail: %d %s", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "c.jsonl")
	if err := os.WriteFile(path, []byte(capture), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := kafkatest.NewTopic(t, seeds, 1)
	if code, _, errOut := runEddyIn(t, nil, nil, "send", "kafka:"+dst, "-b", b, "file:"+path); code != 0 {
		t.Fatalf("send capture: exit %d: %s", code, errOut)
	}
	want, got := readBack(t, seeds, src), readBack(t, seeds, dst)
	if len(want) != 3 || len(got) != 3 {
		t.Fatalf("%d and %d events", len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Key, g.Key) || !bytes.Equal(w.Value, g.Value) || !w.Timestamp.Equal(g.Timestamp) || len(w.Headers) != len(g.Headers) {
			t.Fatalf("event %d: sent back %+v, captured %+v", i, g, w)
		}
		for k := range w.Headers {
			if w.Headers[k].Key != g.Headers[k].Key || !bytes.Equal(w.Headers[k].Value, g.Headers[k].Value) {
				t.Fatalf("event %d header %d: %q, want %q", i, k, g.Headers[k], w.Headers[k])
			}
		}
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestSendTemplatesPrintID: one file sent --count times is a new event each
// time ({{uuid}}, {{now}}, {{seq}}), --print-id prints the ids that landed,
// one per line, and they are the events' ids as trace finds them; a
// traceparent and CloudEvents headers are added on request.
func TestSendTemplatesPrintID(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	b := strings.Join(seeds, ",")
	topic := kafkatest.NewTopic(t, seeds, 1)
	p := filepath.Join(t.TempDir(), "order.json")
	os.WriteFile(p, []byte(`{"event_id":"{{uuid}}","type":"OrderPlaced","occurred_at":"{{now}}","correlation_id":"ord-{{seq}}","causation_id":"{{uuid}}"}`), 0o600)
	before := time.Now().Add(-time.Second)
	code, out, errOut := runEddyIn(t, nil, nil, "send", "kafka:"+topic, "-b", b, p, "--count", "3", "--print-id",
		"--traceparent", "new", "--ce-type", "OrderPlaced", "--ce-source", "/test", "-k", "{{seq}}")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ids := strings.Fields(out)
	if len(ids) != 3 {
		t.Fatalf("printed %q", out)
	}
	evs := readBack(t, seeds, topic)
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	schema := event.DefaultSchema()
	for i, e := range evs {
		f := schema.Extract(e)
		if !uuidV4.MatchString(ids[i]) || f.ID != ids[i] || f.Causation != ids[i] || f.Correlation != "ord-"+string(rune('1'+i)) || string(e.Key) != string(rune('1'+i)) {
			t.Fatalf("event %d: id %q printed %q, fields %+v, key %q", i, f.ID, ids[i], f, e.Key)
		}
		at, err := time.Parse(time.RFC3339, string(regexp.MustCompile(`"occurred_at":"([^"]+)"`).FindSubmatch(e.Value)[1]))
		if err != nil || at.Before(before) || at.After(time.Now()) {
			t.Fatalf("event %d: occurred_at %v (%v)", i, at, err)
		}
		if f.TraceID == "" {
			t.Fatalf("event %d: no traceparent: %v", i, e.Headers)
		}
		if v, _ := e.Header("ce_type"); string(v) != "OrderPlaced" {
			t.Fatalf("event %d: ce_type %q", i, v)
		}
		if v, _ := e.Header("ce_source"); string(v) != "/test" {
			t.Fatalf("event %d: ce_source %q", i, v)
		}
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("ids repeat: %v", ids)
	}
}

// TestSendUsage: bad input is exit 2 with one line saying what, before
// anything is sent.
func TestSendUsage(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "e.json")
	os.WriteFile(p, []byte(`{}`), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send"}, "needs an ADDRESS"},
		{[]string{"send", "kafka:/x.*/", p}, "send writes to a Kafka topic"},
		{[]string{"send", "file:x", p}, "send writes to a Kafka topic"},
		{[]string{"send", "amqp:q", p, "--partition", "1"}, "--partition is for Kafka"},
		{[]string{"send", "amqp:q", p, "-k", "x"}, "--key is for Kafka"},
		{[]string{"send", "kafka:t", p, "--persistent"}, "--persistent is for RabbitMQ"},
		{[]string{"send", "amqp:q", p, "--routing-key", "r"}, "--routing-key"},
		{[]string{"send", "amqp:exchange/ex", p}, "give a routing key"},
		{[]string{"send", "kafka:t", p, "--timestamp", "yesterday"}, "--timestamp"},
		{[]string{"send", "kafka:t", p, "--traceparent", "00-zz"}, "--traceparent"},
		{[]string{"send", "kafka:t", p, "--ce-source", "/x"}, "go with --ce-type"},
		{[]string{"send", "kafka:t", p, "-"}, "read alone"},
		{[]string{"send", "kafka:t", p, "-K", ":"}, "--key-delimiter splits lines"},
		{[]string{"send", "kafka:t", filepath.Join(dir, "missing")}, "missing"},
		{[]string{"send", "kafka:t", "file:" + p, p}, "sent alone"},
		{[]string{"send", "kafka:t", p, "--schema-version", "x", "--encode"}, "--schema-version"},
		{[]string{"send", "amqp:q", p, "--encode"}, "--subject"},
		{[]string{"send", "kafka:t", p, "--expiration", "soon"}, "--expiration"},
	} {
		code, _, errOut := runEddyIn(t, nil, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, want 2 with %q: %s", tc.args, code, tc.want, errOut)
		}
	}
}

// TestSendNoIDRefused: --print-id cannot print an id the event lacks: the
// event is refused (exit 2), and the line says which events landed before.
func TestSendNoIDRefused(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	in := `{"event_id":"a1"}` + "\n" + `{"no":"id"}` + "\n"
	code, out, errOut := runEddyIn(t, nil, []byte(in), "send", "kafka:"+topic, "-b", seeds[0], "--print-id")
	if code != ExitUsage || !strings.Contains(errOut, "stdin line 2") || !strings.Contains(errOut, "no event id") ||
		!strings.Contains(errOut, "1 of 1 events landed (#0)") || strings.TrimSpace(out) != "a1" {
		t.Fatalf("exit %d out %q err %s", code, out, errOut)
	}
}

// TestSendMissingTopicAndUnreachable: a topic that does not exist is exit 1
// naming it; a broker that does not answer is exit 4.
func TestSendMissingTopicAndUnreachable(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	code, _, errOut := runEddyIn(t, nil, []byte("x\n"), "send", "kafka:nope-not-here", "-b", seeds[0])
	if code != ExitError || !strings.Contains(errOut, `topic "nope-not-here" not found`) {
		t.Fatalf("missing topic: exit %d: %s", code, errOut)
	}
	code, _, errOut = runEddyIn(t, nil, []byte("x\n"), "send", "kafka:t", "-b", "127.0.0.1:1", "--timeout", "2s")
	if code != ExitConnect {
		t.Fatalf("unreachable: exit %d: %s", code, errOut)
	}
}

// TestSendPartialKafka: an event the producer cannot write (larger than a
// batch may be) fails alone; the line names it with its id and says which
// events landed, and exit is 3.
func TestSendPartialKafka(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	dir := t.TempDir()
	var paths []string
	for i, v := range []string{`{"event_id":"e0"}`, `{"event_id":"e1","pad":"` + strings.Repeat("x", 2<<20) + `"}`, `{"event_id":"e2"}`} {
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, []byte(v), 0o600)
		paths = append(paths, p)
	}
	code, out, errOut := runEddyIn(t, nil, nil, append([]string{"send", "kafka:" + topic, "-b", seeds[0], "--print-id"}, paths...)...)
	if code != ExitPartial || !strings.Contains(errOut, "event #1 (id e1) was not confirmed") ||
		!strings.Contains(errOut, "2 of 3 events landed (#0, #2)") || out != "e0\ne2\n" {
		t.Fatalf("exit %d out %q: %s", code, out, errOut)
	}
	if evs := readBack(t, seeds, topic); len(evs) != 2 {
		t.Fatalf("%d events on the topic, want 2", len(evs))
	}
}

// TestSendSecrets: send logs in with SASL as every command does; neither
// --debug nor a refused login nor a refused registry nor an unreachable
// RabbitMQ shows a password.
func TestSendSecrets(t *testing.T) {
	const user, pass, wrong = "admin", "s3nd-c0rrect-h0rse", "s3nd-wr0ng-pass"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, pass), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := strings.Join(c.ListenAddrs(), ",")
	args := []string{"send", "kafka:t", "--brokers", seeds, "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", user, "--timeout", "3s", "--debug", "--print-id"}
	code, out, errOut := runEddyIn(t, map[string]string{"EDDY_SASL_PASSWORD": pass}, []byte(`{"id":"x1"}`+"\n"), args...)
	if code != 0 || out != "x1\n" || strings.Contains(errOut, pass) {
		t.Fatalf("right password: exit %d, stdout %q (stderr has the password: %v)", code, out, strings.Contains(errOut, pass))
	}
	code, out, errOut = runEddyIn(t, map[string]string{"EDDY_SASL_PASSWORD": wrong}, []byte("x\n"), args...)
	if code != ExitConnect || strings.Contains(out+errOut, wrong) {
		t.Fatalf("wrong password: exit %d, password shown: %v: %s", code, strings.Contains(out+errOut, wrong), errOut)
	}

	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("u:reg-good-secret"))))
	defer reg.Close()
	regURL := strings.Replace(reg.URL(), "http://", "http://u:reg-bad-secret@", 1)
	code, _, errOut = runEddyIn(t, nil, []byte("{}\n"), "send", "kafka:t", "-b", kafkatest.Cluster(t)[0], "--encode", "--schema-registry", regURL)
	if code != ExitConnect || strings.Contains(errOut, "reg-bad-secret") {
		t.Fatalf("registry refused: exit %d: %s", code, errOut)
	}

	code, _, errOut = runEddyIn(t, map[string]string{"EDDY_AMQP_URL": "amqp://guest:amqp-url-secret@127.0.0.1:1/"}, []byte("x\n"), "send", "amqp:q", "--timeout", "2s")
	if code != ExitConnect || strings.Contains(errOut, "amqp-url-secret") {
		t.Fatalf("RabbitMQ unreachable: exit %d: %s", code, errOut)
	}
}

// TestSendRateCount: --count stops a stream of lines at N, and --rate R
// spaces the events (N events at R/s cannot take less than (N-1)/R).
func TestSendRateCount(t *testing.T) {
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	start := time.Now()
	code, _, errOut := runEddyIn(t, nil, []byte(strings.Repeat("x\n", 10)), "send", "kafka:"+topic, "-b", seeds[0], "--count", "5", "--rate", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("5 events at 20/s took %s", took)
	}
	if evs := readBack(t, seeds, topic); len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
}

// TestSendPrintIDReaderGone: `eddy send --print-id | head -1` — the reader
// of the ids goes away after the first; every event is sent all the same,
// stderr says so in one line and the exit status is send's (0), where the
// default SIGPIPE killed send between two events, unreported. A live tail
// into a closed pipe still ends by SIGPIPE, as kcat and tail(1) do.
func TestSendPrintIDReaderGone(t *testing.T) {
	bin := eddyBinary(t)
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	// 3,000 ids of 41 bytes: more than a pipe holds (64 KiB), so send
	// writes into the pipe after the reader closed it, however fast.
	const n = 3000
	cmd := exec.Command(bin, "send", "kafka:"+topic, "-b", strings.Join(seeds, ","), "--print-id")
	cmd.Env = append(os.Environ(), "EDDY_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"event_id":"e%039d","type":"T"}`+"\n", i)
	}
	cmd.Stdin = strings.NewReader(in.String())
	errOut := &lockedBuf{}
	cmd.Stderr = errOut
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// head -1: read one line, then close the pipe.
	first, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if err != nil || first != fmt.Sprintf("e%039d\n", 0) {
		t.Fatalf("first id %q (%v)", first, err)
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("send ended with %v: %s", err, errOut)
	}
	if s := errOut.String(); !regexp.MustCompile(`^eddy: stdout was closed after \d+ printed ids; the events after them were sent all the same\n$`).MatchString(s) {
		t.Fatalf("stderr %q", s)
	}
	if evs := readBack(t, seeds, topic); len(evs) != n {
		t.Fatalf("%d events landed; want %d", len(evs), n)
	}
}

// TestSendKafkaOutage: the cluster goes away mid-send for longer than
// --timeout: send gives up within a bounded time with exit 4, its last line
// says how many events landed, and --print-id printed exactly those: every
// printed id is on the topic once (what was in flight at the cut is reported
// not confirmed — it may or may not have landed — and never printed).
func TestSendKafkaOutage(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	topic := kafkatest.NewTopic(t, seeds, 1)
	var down atomic.Bool
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if !down.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("outage"), true // closes the connection
	})
	const n = 2000
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"event_id":"e%d","type":"T"}`+"\n", i)
	}
	f, out, errOut := testFactory(false)
	f.IO.In = io.NopCloser(strings.NewReader(in.String()))
	f.Global.Brokers, f.Global.Timeout = seeds, 2*time.Second
	done := make(chan error, 1)
	go func() {
		// 100/s: 20 s for all, the outage comes first.
		done <- sendRun(context.Background(), f, &SendOptions{Address: "kafka:" + topic, Inputs: []string{"-"}, PrintID: true, Rate: 100, Partition: -1, CESource: "/eddy/send", SchemaVersion: "latest"})
	}()
	kafkatest.WaitFor(t, 30*time.Second, "events on the topic", func() bool { return len(kafkatest.ReadCommitted(t, seeds, topic)) >= 60 })
	down.Store(true)
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("send still running 60 s into an outage, --timeout 2s")
	}
	down.Store(false)
	stderr := errOut.String()
	t.Logf("exit %d: %v\n%s", exitCode(err), err, stderr)
	if code := exitCode(err); code != ExitConnect {
		t.Fatalf("exit %d; want %d (unreachable)", code, ExitConnect)
	}
	// Two lines: the one cause, said once, and what landed.
	m := regexp.MustCompile(`^eddy: \d+ events were not confirmed \(#\d+-#\d+\): no event confirmed for 2s and kafka: cannot connect to [^\n]+; those on the wire at the cut may or may not have landed\neddy: (\d+) of (\d+) events landed \(#0-#\d+\) to kafka:[^\n]+\n$`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("not the two lines saying what did not land and what did: %s", stderr)
	}
	printed := strings.Fields(out.String())
	if m[1] != fmt.Sprint(len(printed)) {
		t.Fatalf("the report says %s landed, --print-id printed %d", m[1], len(printed))
	}
	on := map[string]int{}
	for _, r := range kafkatest.ReadCommitted(t, seeds, topic) {
		on[event.DefaultSchema().Extract(&event.Event{Value: r.Value}).ID]++
	}
	for _, id := range printed {
		if on[id] != 1 {
			t.Fatalf("printed id %s is on the topic %d times", id, on[id])
		}
	}
	if len(printed) == 0 || len(printed) == n {
		t.Fatalf("%d of %d printed: the outage did not come mid-send", len(printed), n)
	}
	t.Logf("%d landed and printed before the outage; %d on the topic", len(printed), len(on))
}

// TestSendKafkaSlowBroker: a cluster that answers, slowly, is waited for —
// each produce answered 2.5 s late with --timeout 1s: every event lands,
// exit 0 (the outage watch pings the cluster before it gives up).
func TestSendKafkaSlowBroker(t *testing.T) {
	c := kafkatest.NewCluster(t)
	seeds := c.ListenAddrs()
	topic := kafkatest.NewTopic(t, seeds, 1)
	var slow atomic.Bool
	slow.Store(true)
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		if req.Key() != int16(kmsg.Produce) || !slow.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		// The broker is slow, not the test waiting: franz-go sends
		// produce requests on a connection of their own, so pings are
		// answered meanwhile.
		c.SleepControl(func() { time.Sleep(2500 * time.Millisecond) })
		return nil, nil, false
	})
	f, out, errOut := testFactory(false)
	f.IO.In = io.NopCloser(strings.NewReader("{\"event_id\":\"s1\"}\n{\"event_id\":\"s2\"}\n"))
	f.Global.Brokers, f.Global.Timeout = seeds, time.Second
	err := sendRun(context.Background(), f, &SendOptions{Address: "kafka:" + topic, Inputs: []string{"-"}, PrintID: true, Partition: -1, CESource: "/eddy/send", SchemaVersion: "latest"})
	slow.Store(false)
	if err != nil || out.String() != "s1\ns2\n" {
		t.Fatalf("%v: out %q: %s", err, out, errOut)
	}
}
