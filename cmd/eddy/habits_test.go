package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// runEddyTTY is runEddy with stdout a terminal.
func runEddyTTY(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, _, _, _ := TestStreams(true)
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return t.TempDir()
		}
		return ""
	}
	code = run(context.Background(), args, io, getenv, &Redactor{})
	return code, io.Out.(*syncWriter).String(), io.ErrOut.(*syncWriter).String()
}

// sameJSONYAML fails unless the YAML documents say what the JSON values say
// (but for the top-level keys in ignore: a sample's time).
func sameJSONYAML(t *testing.T, jsonOut, yamlOut string, ignore ...string) {
	t.Helper()
	var fromJSON []any
	dec := json.NewDecoder(strings.NewReader(jsonOut))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("json: %v\n%s", err, jsonOut)
		}
		fromJSON = append(fromJSON, dropKeys(v, ignore))
	}
	var fromYAML []any
	ydec := yaml.NewDecoder(strings.NewReader(yamlOut))
	for {
		var v any
		if err := ydec.Decode(&v); err != nil {
			break
		}
		// Through JSON, so that numbers compare as JSON's float64.
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("yaml value as JSON: %v", err)
		}
		var back any
		json.Unmarshal(b, &back)
		fromYAML = append(fromYAML, dropKeys(back, ignore))
	}
	if len(fromJSON) == 0 || !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Fatalf("-o yaml says something else than -o json:\njson: %s\nyaml: %s", jsonOut, yamlOut)
	}
	if strings.Contains(yamlOut, "{") && strings.HasPrefix(strings.TrimSpace(yamlOut), "{") {
		t.Errorf("-o yaml is in flow style:\n%s", yamlOut)
	}
}

func dropKeys(v any, keys []string) any {
	if m, ok := v.(map[string]any); ok {
		for _, k := range keys {
			delete(m, k)
		}
	}
	return v
}

func TestOutputYAML(t *testing.T) {
	seeds := strings.Join(kafkatest.Cluster(t, kfake.SeedTopics(3, "orders", "payments")), ",")
	kafkatest.Produce(t, strings.Split(seeds, ","), &kgo.Record{Topic: "orders", Partition: 1, Value: []byte("x")})
	for _, args := range [][]string{
		{"ls", "kafka:", "-b", seeds},
		{"lag", "kafka:", "-b", seeds},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, jsonOut, errOut := runEddy(t, nil, append(args, "-o", "json")...)
			if code != 0 {
				t.Fatalf("-o json: exit %d, %s", code, errOut)
			}
			code, yamlOut, errOut := runEddy(t, nil, append(args, "-o", "yaml")...)
			if code != 0 {
				t.Fatalf("-o yaml: exit %d, %s", code, errOut)
			}
			sameJSONYAML(t, jsonOut, yamlOut, "time")
		})
	}
	// yaml is offered where json is, and named in the error.
	if code, _, errOut := runEddy(t, nil, "ls", "-o", "xml"); code != ExitUsage || !strings.Contains(errOut, "table, tsv, json or yaml") {
		t.Errorf("-o xml: exit %d, %q", code, errOut)
	}
}

func TestNoHeaders(t *testing.T) {
	seeds := strings.Join(kafkatest.Cluster(t, kfake.SeedTopics(2, "orders", "payments")), ",")
	for _, format := range []string{"tsv", "table"} {
		t.Run(format, func(t *testing.T) {
			code, with, errOut := runEddy(t, nil, "ls", "kafka:", "-b", seeds, "-o", format)
			if code != 0 {
				t.Fatalf("exit %d, %s", code, errOut)
			}
			code, without, errOut := runEddy(t, nil, "ls", "kafka:", "-b", seeds, "-o", format, "--no-headers")
			if code != 0 {
				t.Fatalf("--no-headers: exit %d, %s", code, errOut)
			}
			lines := strings.SplitAfter(with, "\n")
			if !strings.Contains(strings.ToLower(lines[0]), "topic") || strings.Join(lines[1:], "") != without {
				t.Errorf("--no-headers:\n%s\nwant the output without its first line:\n%s", without, with)
			}
			if strings.Contains(strings.ToLower(without), "partitions") {
				t.Errorf("a header is left: %q", without)
			}
		})
	}
	// eddy config list is a table too.
	if code, _, errOut := runEddy(t, nil, "lag", "kafka:", "-b", seeds, "--no-headers", "-o", "tsv"); code != 0 {
		t.Errorf("lag --no-headers: exit %d, %s", code, errOut)
	}
}

func TestTailKcatFormat(t *testing.T) {
	seeds := kafkatest.Cluster(t, kfake.SeedTopics(1, "t"))
	ts := time.UnixMilli(1764547200123)
	kafkatest.Produce(t, seeds,
		&kgo.Record{Topic: "t", Key: []byte("k1"), Value: []byte("v1"), Timestamp: ts, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "g", Value: []byte("y")}}},
		&kgo.Record{Topic: "t", Value: []byte("\x1b[31mred"), Timestamp: ts})
	args := []string{"tail", "kafka:t", "-b", strings.Join(seeds, ","), "--from", "beginning", "--until", "end"}
	ms := strconv.FormatInt(ts.UnixMilli(), 10)

	code, out, errOut := runEddy(t, nil, append(args, "-f", `%t|%p|%o|%k|%s|%h|%S|%K|%T|%%\n`)...)
	want := "t|0|0|k1|v1|h=x,g=y|2|2|" + ms + "|%\n" + "t|0|1||\x1b[31mred||8|-1|" + ms + "|%\n"
	if code != 0 || out != want {
		t.Fatalf("-f in a pipe: exit %d, stderr %q\ngot  %q\nwant %q", code, errOut, out, want)
	}
	// On a terminal the event's bytes are escaped, as -o raw's are.
	code, out, errOut = runEddyTTY(t, append(args, "--format", `%s\n`)...)
	if code != 0 || strings.Contains(out, "\x1b") || !strings.Contains(out, `\x1b[31mred`) {
		t.Fatalf("-f on a terminal: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", "%z"}, "%z is not a directive"},
		{[]string{"-f", "%s", "-o", "jsonl"}, "-f and -o both say how to print"},
	} {
		if code, _, errOut := runEddy(t, nil, append(args, tc.args...)...); code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestPartitionsOneMeaning: --partitions names partitions (tail -p 0,2);
// lag's row-per-partition switch is --per-partition (-P), its old spelling
// still working with a deprecation notice.
func TestPartitionsOneMeaning(t *testing.T) {
	seeds := strings.Join(kafkatest.Cluster(t, kfake.SeedTopics(1, "t")), ",")
	code, out, errOut := runEddy(t, nil, "lag", "kafka:", "-b", seeds, "--partitions", "-o", "tsv")
	if code != 0 || !strings.Contains(errOut, "lag --partitions is deprecated: use --per-partition") || strings.Contains(out, "deprecated") {
		t.Errorf("lag --partitions: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out2, errOut := runEddy(t, nil, "lag", "kafka:", "-b", seeds, "--per-partition", "-o", "tsv")
	if code != 0 || out2 != out || errOut != "" {
		t.Errorf("lag --per-partition: exit %d, stdout %q (want %q), stderr %q", code, out2, out, errOut)
	}
	if code, _, errOut := runEddy(t, nil, "lag", "kafka:", "-b", seeds, "-P", "-o", "tsv"); code != 0 {
		t.Errorf("lag -P: exit %d, %q", code, errOut)
	}
}
