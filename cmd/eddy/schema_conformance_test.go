package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/internal/conformance"
	"github.com/eddy-sh/eddy/trace"
)

// TestSchemaConformance is issue 17's conformance table: every format ×
// every command that reads payloads. Rows (internal/conformance.Formats):
// avro, protobuf (a message nested in another: index path [2,0]),
// protobuf-refs (messages from a reference pinned below a newer,
// incompatible version; the [0] shortcut) and jsonschema through a
// registry; local-avsc and local-proto by --value-schema/--key-schema.
// Columns: tail-pretty, tail-jsonl, tail-template, tail-filter,
// trace-event-id, trace-correlation-id (nested), trace-capture,
// filter-capture, dlq-show-capture (captures read with no schema), expect,
// expect-too-slow, flows (trace flows), dlq-show (Spring dead letters),
// replay-keeps-bytes. The events' ids, types, times and fields are only
// inside their encoded values (the correlation id nested, the event time a
// logical timestamp), so each cell passes only if the command read the
// decoded value. The TUI's columns (event view, tail filter, trace view,
// DLQ view) are TestSchemaConformance in package tui, over the same
// fixtures; the RabbitMQ rows are TestSchemaConformanceAMQP.
//
//	go test ./cmd/eddy -run 'TestSchemaConformance/avro/trace'
func TestSchemaConformance(t *testing.T) {
	for _, f := range conformance.Formats(t) {
		t.Run(f.Name, func(t *testing.T) { conformanceRow(t, f) })
	}
}

// conformanceRow produces the format's events into a Kafka of its own and
// runs each command over them.
func conformanceRow(t *testing.T, f conformance.Format) {
	seeds := kafkatest.Cluster(t)
	for _, topic := range []string{conformance.Orders, conformance.Payments, conformance.OrdersDLT} {
		kafkatest.NamedTopic(t, seeds, topic, 1)
	}
	orders, payments, letters := conformance.Flow(f.Name)
	var recs []*kgo.Record
	for i := range orders {
		recs = append(recs, &kgo.Record{Topic: conformance.Orders, Key: f.EncodeKey(conformance.Orders, orders[i]), Value: f.Encode(conformance.Orders, orders[i])},
			&kgo.Record{Topic: conformance.Payments, Key: f.EncodeKey(conformance.Payments, payments[i]), Value: f.Encode(conformance.Payments, payments[i])})
	}
	for i, l := range letters {
		recs = append(recs, &kgo.Record{Topic: conformance.OrdersDLT, Key: f.EncodeKey(conformance.OrdersDLT, l), Value: f.Encode(conformance.OrdersDLT, l), Headers: []kgo.RecordHeader{
			{Key: convention.SpringExceptionFQCN, Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
			{Key: convention.SpringExceptionMessage, Value: []byte("no stock for " + l.SKU + " in order " + l.ID)},
			{Key: convention.SpringOriginalTopic, Value: []byte(conformance.Orders)},
			{Key: convention.SpringOriginalPartition, Value: binary.BigEndian.AppendUint32(nil, 0)},
			{Key: convention.SpringOriginalOffset, Value: binary.BigEndian.AppendUint64(nil, uint64(10+i))},
		}})
	}
	kafkatest.Produce(t, seeds, recs...)

	// The context's schema finds the ids where the events keep them.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("current-context: conf\ncontexts:\n  conf:\n    "+conformance.SchemaConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_CONFIG": cfg}
	eddy := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, stderr := runEddy(t, env, append(args, f.Flags...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("eddy %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, stderr)
		}
		return out
	}
	tail := []string{"tail", "kafka:" + conformance.Orders, "--from", "beginning", "--until", "end"}
	flowSources := []string{"kafka:" + conformance.Orders, "kafka:" + conformance.Payments}

	t.Run("tail-pretty", func(t *testing.T) {
		out := eddy(t, append(tail, "-o", "pretty")...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines:\n%s", len(lines), out)
		}
		for i, l := range lines {
			o := orders[i]
			for _, want := range []string{"[" + f.Marker(conformance.Orders) + "]", "OrderPlaced", "key=" + o.ID + " ", `"sku":"` + o.SKU + `"`} {
				if !strings.Contains(l, want) {
					t.Errorf("line %d lacks %q:\n%s", i, want, l)
				}
			}
		}
	})

	t.Run("tail-jsonl", func(t *testing.T) {
		out := eddy(t, append(tail, "-o", "jsonl")...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines:\n%s", len(lines), out)
		}
		for i, l := range lines {
			var env struct {
				KeyDecoded   json.RawMessage `json:"key_decoded"`
				KeySchema    map[string]any  `json:"key_schema"`
				Value        string          `json:"value"`
				ValueB64     string          `json:"value_b64"`
				ValueDecoded json.RawMessage `json:"value_decoded"`
				ValueSchema  map[string]any  `json:"value_schema"`
			}
			if err := json.Unmarshal([]byte(l), &env); err != nil {
				t.Fatalf("line %d: %v\n%s", i, err, l)
			}
			requireSameJSON(t, env.ValueDecoded, orders[i].JSON())
			if string(env.KeyDecoded) != `"`+orders[i].ID+`"` || env.KeySchema["format"] != "avro" {
				t.Errorf("line %d: key_decoded %s, key_schema %v", i, env.KeyDecoded, env.KeySchema)
			}
			if env.ValueSchema["format"] == nil || f.Registry != nil && env.ValueSchema["subject"] != conformance.Orders+"-value" ||
				f.Registry == nil && env.ValueSchema["file"] == nil {
				t.Errorf("line %d: value_schema %v", i, env.ValueSchema)
			}
			// The raw bytes are kept as they were read, beside the decoding.
			if env.Value == "" && env.ValueB64 == "" {
				t.Errorf("line %d: no raw value:\n%s", i, l)
			}
		}
	})

	t.Run("tail-template", func(t *testing.T) {
		out := eddy(t, append(tail, "-o", `template={{.Key}} [{{.KeySchema}}] {{.ID}} {{.Correlation}} {{.Get "order.sku"}} {{.Get "order.total"}} [{{.ValueSchema}}]`)...)
		want := ""
		for _, o := range orders {
			want += o.ID + " [" + f.KeyMarker(conformance.Orders) + "] " + o.ID + " " + o.Correlation + " " + o.SKU + " " + strconv.FormatFloat(o.Total, 'f', -1, 64) +
				" [" + f.Marker(conformance.Orders) + "]\n"
		}
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})

	t.Run("tail-filter", func(t *testing.T) {
		out := eddy(t, append(tail, "-o", "jsonl", "--filter", `value.order.sku == "SKU-2" && value.order.total > 20 && type == "OrderPlaced" && correlation_id == "`+orders[1].Correlation+`" && key == "`+orders[1].ID+`"`)...)
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"`+orders[1].ID+`"`) {
			t.Errorf("filter kept:\n%s", out)
		}
	})

	// trace ID, by the event id (top level) and by the correlation id
	// (nested): the order and its payment, one hop by causation; every
	// topic of the context read, the dead letters included.
	for _, q := range []struct{ name, id string }{{"trace-event-id", orders[0].ID}, {"trace-correlation-id", orders[0].Correlation}} {
		t.Run(q.name, func(t *testing.T) {
			out := eddy(t, "trace", q.id, "--since", "1h", "-o", "json")
			var tl trace.Timeline
			if err := json.Unmarshal([]byte(out), &tl); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			if len(tl.Flows) != 1 || tl.Flows[0].Key != orders[0].Correlation || len(tl.Flows[0].Events) != 2 {
				t.Fatalf("flows:\n%s", out)
			}
			ev := tl.Flows[0].Events
			if ev[0].ID != orders[0].ID || ev[0].Type != "OrderPlaced" || ev[1].ID != payments[0].ID || ev[1].Type != "PaymentAuthorized" ||
				ev[1].Causation != orders[0].ID || ev[1].Hop == nil || ev[1].Hop.Basis != trace.FromCausation {
				t.Errorf("events:\n%s", out)
			}
			// Event times from the decoded meta.at (a timestamp-millis, a
			// google.protobuf.Timestamp, a date-time string), not the
			// broker's: the hop is the payment's latency.
			for i, want := range []time.Time{orders[0].At, payments[0].At} {
				if !ev[i].At.Equal(want) || ev[i].TimeSource != "json:meta.at" {
					t.Errorf("event %d at %v from %q, want %v from json:meta.at", i, ev[i].At, ev[i].TimeSource, want)
				}
			}
			if ev[1].Hop != nil && ev[1].Hop.LatencyMS != float64(conformance.PaymentLatency.Milliseconds()) {
				t.Errorf("hop %v ms, want %v", ev[1].Hop.LatencyMS, conformance.PaymentLatency.Milliseconds())
			}
		})
	}

	// A capture keeps what the tail decoded (value_decoded beside the
	// bytes): read later with no schema flags, by trace, a filter and dlq
	// show, it is the same.
	capture := func(t *testing.T, sources ...string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "capture.jsonl")
		if err := os.WriteFile(path, []byte(eddy(t, append([]string{"tail", "--from", "beginning", "--until", "end", "-o", "jsonl"}, sources...)...)), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file:" + path
	}
	bare := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, stderr := runEddy(t, env, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("eddy %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
		}
		return out
	}
	t.Run("trace-capture", func(t *testing.T) {
		out := bare(t, "trace", orders[1].Correlation, capture(t, flowSources...), "-o", "json")
		var tl trace.Timeline
		if err := json.Unmarshal([]byte(out), &tl); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if len(tl.Flows) != 1 || len(tl.Flows[0].Events) != 2 || tl.Flows[0].Events[1].ID != payments[1].ID ||
			!tl.Flows[0].Events[1].At.Equal(payments[1].At) {
			t.Errorf("flows:\n%s", out)
		}
	})
	t.Run("filter-capture", func(t *testing.T) {
		out := bare(t, "tail", capture(t, "kafka:"+conformance.Orders), "-o", "template={{.ID}} [{{.ValueSchema}}]", "--filter", `value.order.sku == "SKU-2" && key == "`+orders[1].ID+`"`)
		if want := orders[1].ID + " [" + f.Marker(conformance.Orders) + "]\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
	t.Run("dlq-show-capture", func(t *testing.T) {
		out := bare(t, "dlq", "show", capture(t, "kafka:"+conformance.OrdersDLT), "-o", "json")
		var r struct{ DLQs []dlq.Summary }
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.DLQs) != 1 || len(r.DLQs[0].Groups) != 1 ||
			!slices.Equal(r.DLQs[0].Groups[0].IDs, []string{letters[0].ID, letters[1].ID}) {
			t.Errorf("%v:\n%s", err, out)
		}
	})

	// replay copies the bytes, never a re-encoding, and decodes nothing
	// even with a registry configured (it has no schema flags).
	t.Run("replay-keeps-bytes", func(t *testing.T) {
		copyTopic := kafkatest.NewTopic(t, seeds, 1)
		renv := maps.Clone(env)
		if f.Registry != nil {
			renv["EDDY_SCHEMA_REGISTRY"] = f.Registry.URL()
		}
		code, out, stderr := runEddy(t, renv, "replay", "kafka:"+conformance.Orders, "--to", "kafka:"+copyTopic, "--from", "beginning", "--until", "end")
		if code != 0 || strings.Contains(stderr, "decode") {
			t.Fatalf("replay: exit %d\n%s%s", code, out, stderr)
		}
		code, out, stderr = runEddy(t, env, "tail", "kafka:"+copyTopic, "--from", "beginning", "--until", "end", "-o", "jsonl", "--no-decode")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || len(lines) != 2 {
			t.Fatalf("the copy: exit %d\n%s%s", code, out, stderr)
		}
		for i, l := range lines {
			e, err := event.DecodeEnvelope([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			// recs[2*i] is orders[i] as produced (dynamicpb does not
			// write fields in one order, so encoding again could differ).
			if want := recs[2*i]; !bytes.Equal(e.Value, want.Value) || !bytes.Equal(e.Key, want.Key) || e.ValueDecoded != nil || e.KeyDecoded != nil {
				t.Errorf("copy %d: %q %q, want the bytes produced %q %q", i, e.Key, e.Value, want.Key, want.Value)
			}
		}
	})

	t.Run("expect", func(t *testing.T) {
		out := eddy(t, append([]string{"expect", "OrderPlaced -> PaymentAuthorized within 1m", "--since", "1h", "-o", "json"}, flowSources...)...)
		var r trace.ExpectReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if !r.OK || len(r.Results) != 1 || r.Results[0].Flows != 2 || r.Results[0].Passed != 2 {
			t.Errorf("report:\n%s", out)
		}
	})

	// Within 100ms: the broker's timestamps (one produce) would pass; the
	// decoded event times, 250ms apart, fail both flows as too slow.
	t.Run("expect-too-slow", func(t *testing.T) {
		args := append([]string{"expect", "OrderPlaced -> PaymentAuthorized within 100ms", "--since", "1h", "-o", "json"}, flowSources...)
		code, out, stderr := runEddy(t, env, append(args, f.Flags...)...)
		var r trace.ExpectReport
		if err := json.Unmarshal([]byte(out), &r); code != ExitPartial || err != nil {
			t.Fatalf("exit %d, %v:\n%s%s", code, err, out, stderr)
		}
		var flows []string
		if len(r.Results) == 1 {
			for _, v := range r.Results[0].Violations {
				if v.Kind == trace.TooSlow {
					flows = append(flows, v.Flow)
				}
			}
		}
		slices.Sort(flows)
		if r.OK || !slices.Equal(flows, []string{orders[0].Correlation, orders[1].Correlation}) {
			t.Errorf("report:\n%s", out)
		}
	})

	t.Run("flows", func(t *testing.T) {
		out := eddy(t, append([]string{"trace", "flows", "--from", "beginning", "--until", "end", "-o", "json"}, flowSources...)...)
		var r trace.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		var edge *trace.EdgeReport
		for i := range r.Edges {
			if r.Edges[i].From == "OrderPlaced" && r.Edges[i].To == "PaymentAuthorized" {
				edge = &r.Edges[i]
			}
		}
		if r.Flows.Total != 2 || r.Flows.Complete+r.Flows.Incomplete != 2 || r.Types["OrderPlaced"] != 2 || r.Types["PaymentAuthorized"] != 2 ||
			edge == nil || edge.Count != 2 || edge.MaxMS != float64(conformance.PaymentLatency.Milliseconds()) {
			t.Errorf("report:\n%s", out)
		}
	})

	t.Run("dlq-show", func(t *testing.T) {
		out := eddy(t, "dlq", "show", "kafka:"+conformance.OrdersDLT, "-o", "json")
		var r struct{ DLQs []dlq.Summary }
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.DLQs) != 1 {
			t.Fatalf("%v:\n%s", err, out)
		}
		s := r.DLQs[0]
		// One group: the errors differ only by their masked ids; its ids
		// the letters' event ids, read from their decoded values.
		if s.Count != 2 || len(s.Groups) != 1 || s.Groups[0].Count != 2 ||
			!slices.Equal(s.Groups[0].IDs, []string{letters[0].ID, letters[1].ID}) || s.Groups[0].Origin != conformance.Orders {
			t.Errorf("summary:\n%s", out)
		}
	})
}

// requireSameJSON fails unless got and want are the same JSON value.
func requireSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Errorf("decoded %s\nwant    %s", gj, wj)
	}
}
