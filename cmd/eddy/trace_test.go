package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/trace"
)

// TestTraceFlags checks flag parsing alone, through runF.
func TestTraceFlags(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *TraceOptions
	run := func(_ context.Context, o *TraceOptions) error { got = o; return nil }
	cmd := newCmdTrace(f, run)
	cmd.SetArgs([]string{"o-1", "kafka:orders", "file:c.jsonl", "--since", "2h", "-o", "json", "--flow", "A -> B", "--flow", "shop", "--flow-timeout", "1m", "--otlp", "http://x:4318"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.ID != "o-1" || strings.Join(got.Sources, ",") != "kafka:orders,file:c.jsonl" || got.Since != "2h" || !got.SinceSet ||
		got.Output != "json" || len(got.Flows) != 2 || got.FlowTimeout != time.Minute || got.OTLP != "http://x:4318" {
		t.Fatalf("parsed %+v", *got)
	}
	cmd = newCmdTrace(f, run)
	cmd.SetArgs([]string{"flows", "kafka:a", "--from", "beginning", "--until", "end", "--refresh", "2s"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.ID != "" || strings.Join(got.Sources, ",") != "kafka:a" || got.From != "beginning" || got.Until != "end" || got.Refresh != 2*time.Second {
		t.Fatalf("flows parsed %+v", *got)
	}
	var eo *ExpectOptions
	ecmd := newCmdExpect(f, func(_ context.Context, o *ExpectOptions) error { eo = o; return nil })
	ecmd.SetArgs([]string{"A -> B within 5s", "kafka:a", "B → C", "file:x", "--strict", "--file", "e.txt"})
	if err := ecmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(eo.Expectations, "|") != "A -> B within 5s|B → C" || strings.Join(eo.Sources, ",") != "kafka:a,file:x" || !eo.Strict || eo.File != "e.txt" || eo.SinceSet {
		t.Fatalf("expect parsed %+v", *eo)
	}
}

// TestTraceFlowsTTYAndPipe: a terminal gets the text report, a pipe asked for
// JSON gets exactly one JSON document.
func TestTraceFlowsTTYAndPipe(t *testing.T) {
	capture := "../../testdata/trace/truth.jsonl"
	f, out, _ := testFactory(true)
	if err := traceFlowsRun(context.Background(), f, &TraceOptions{Sources: []string{"file:" + capture}, FlowTimeout: time.Minute, Refresh: time.Second}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "flows  25 total") || strings.Contains(s, "\x1b]0;") {
		t.Fatalf("terminal report:\n%s", s)
	}
	f, out, _ = testFactory(false)
	if err := traceFlowsRun(context.Background(), f, &TraceOptions{Sources: []string{"file:" + capture}, Output: "json", FlowTimeout: time.Minute, Refresh: time.Second}); err != nil {
		t.Fatal(err)
	}
	var r trace.Report
	dec := json.NewDecoder(strings.NewReader(out.String()))
	if err := dec.Decode(&r); err != nil || dec.More() {
		t.Fatalf("pipe output is not one JSON document (%v):\n%s", err, out)
	}
	if r.V != 1 || r.Flows.Total != 25 || r.Edges[0].From != "Placed" || r.Edges[0].P99MS != 200 {
		t.Fatalf("report %+v", r)
	}
}

// TestTraceDemoEndToEnd runs the demo shop on kfake and traces one order that
// shipped: eddy trace ID --brokers ADDR shows its whole flow, in order, with
// the latency of every hop, and eddy trace flows sees the shop's edges.
func TestTraceDemoEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, demo.Config{Rate: 200, FailRate: -1, PoisonEvery: -1, BurstEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// One order that reached OrderShipped.
	c, err := kafka.New([]string{d.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, err := c.Source(ctx, []bus.Address{{Transport: "kafka", Name: demo.TopicShipping}}, bus.ReadOptions{From: bus.Position{Kind: bus.PosBeginning}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	evs, err := src.Next(rctx)
	rcancel()
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	order := event.DefaultSchema().Extract(&evs[0]).Correlation
	if order == "" {
		t.Fatalf("no correlation id on %s", evs[0].Value)
	}

	var tl trace.Timeline
	kafkatest.WaitFor(t, 30*time.Second, "the order's EmailSent", func() bool {
		f, out, errOut := testFactory(false)
		f.Global.Brokers, f.Global.Timeout = []string{d.Addr()}, 10*time.Second
		if err := traceRun(ctx, f, &TraceOptions{ID: order, Since: "1h", Output: "json", Flows: []string{"shop"}, FlowTimeout: time.Minute}); err != nil {
			t.Fatalf("trace: %v\n%s", err, errOut)
		}
		tl = trace.Timeline{}
		if err := json.Unmarshal([]byte(out.String()), &tl); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return len(tl.Flows) == 1 && tl.Flows[0].LastStep == demo.EmailSent
	})
	fl := tl.Flows[0]
	var types []string
	for i, e := range fl.Events {
		types = append(types, e.Type)
		if i > 0 && (e.Hop == nil || e.Hop.From != i-1 || e.Hop.Basis != trace.FromCausation || e.Hop.LatencyMS < 0 || e.At.Before(fl.Events[i-1].At)) {
			t.Errorf("event %d %s: hop %+v", i, e.Type, e.Hop)
		}
	}
	if got := strings.Join(types, " -> "); got != shopFlow || fl.Missing != "" || fl.Key != order {
		t.Fatalf("flow %s: %s (missing %q)", fl.Key, got, fl.Missing)
	}

	// The same on a terminal: a readable timeline.
	f, out, _ := testFactory(true)
	f.IO.NoColor = true
	f.Global.Brokers, f.Global.Timeout = []string{d.Addr()}, 10*time.Second
	if err := traceRun(ctx, f, &TraceOptions{ID: order, Since: "1h", Flows: []string{"shop"}, FlowTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flow " + order, "StockReserved", "ms after PaymentAuthorized", "last step: EmailSent · complete"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}

	f, out, _ = testFactory(false)
	f.Global.Brokers, f.Global.Timeout = []string{d.Addr()}, 10*time.Second
	if err := traceFlowsRun(ctx, f, &TraceOptions{Sources: []string{"kafka:/.*/"}, From: "beginning", Until: "end", Output: "json",
		Flows: []string{"shop"}, FlowTimeout: time.Minute, Refresh: time.Second}); err != nil {
		t.Fatal(err)
	}
	var r trace.Report
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatal(err)
	}
	edges := map[string]trace.EdgeReport{}
	for _, e := range r.Edges {
		edges[e.From+">"+e.To] = e
	}
	if e := edges["OrderPlaced>PaymentAuthorized"]; e.Count == 0 || e.P50MS <= 0 || e.MaxMS < e.P99MS || r.Flows.Complete == 0 {
		t.Errorf("report %+v", r)
	}
}

// TestTraceMemStats: EDDY_TRACE_MEMSTATS=FILE (bench/soak.sh's view of the
// Go heap) writes CSV samples of the heap while trace flows runs.
func TestTraceMemStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.csv")
	f, _, _ := testFactory(false)
	f.Getenv = func(k string) string {
		if k == "EDDY_TRACE_MEMSTATS" {
			return path
		}
		return ""
	}
	if err := traceFlowsRun(context.Background(), f, &TraceOptions{Sources: []string{"file:../../testdata/trace/truth.jsonl"}, Output: "json", FlowTimeout: time.Minute, Refresh: time.Second}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]), ",")
	if len(fields) != 5 {
		t.Fatalf("memstats line %q, want unix,heap_alloc,heap_inuse,heap_objects,num_gc", b)
	}
	for _, v := range fields {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("memstats line %q: %v", b, err)
		}
	}
}

// TestStdinReadOnce: file:- named twice is refused (exit 2) before anything
// is read, by tail as before and now by trace, trace flows and expect too,
// which used to start two readers on the one stdin (each getting some of
// its lines).
func TestStdinReadOnce(t *testing.T) {
	ctx := context.Background()
	two := []string{"file:-", "file:-"}
	for name, run := range map[string]func(f *Factory) error{
		"tail": func(f *Factory) error { return tailRun(ctx, f, &TailOptions{Sources: two}) },
		"trace": func(f *Factory) error {
			return traceRun(ctx, f, &TraceOptions{ID: "o-1", Sources: two, Since: "1h", FlowTimeout: time.Minute})
		},
		"trace flows": func(f *Factory) error {
			return traceFlowsRun(ctx, f, &TraceOptions{Sources: two, FlowTimeout: time.Minute, Refresh: time.Second})
		},
		"expect": func(f *Factory) error {
			return expectRun(ctx, f, &ExpectOptions{Expectations: []string{"A -> B"}, Sources: two, Since: "1h", Until: "end", FlowTimeout: time.Minute})
		},
	} {
		f, _, _ := testFactory(false)
		f.IO.In = strings.NewReader("")
		err := run(f)
		if err == nil || exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "file:- (stdin) can be read only once") {
			t.Errorf("%s file:- file:-: %v (exit %d), want the usage error", name, err, exitCode(err))
		}
	}
}
