package main

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
	"github.com/eddy-sh/eddy/event"
)

const (
	orderAvroV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}`
	orderAvroV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"total","type":"double","default":0}]}`
	commonProto = `syntax = "proto3";
package shop;
message Money { int64 cents = 1; }`
	shipmentProto = `syntax = "proto3";
package shop;
import "common.proto";
message Shipment { string id = 1; Money cost = 2; }`
)

// seededRegistry is an srfake registry with orders-value (Avro, two
// versions), common (Protobuf, two versions) and shipments-value
// (Protobuf, referencing common pinned at version 1), as a registry holds
// them.
func seededRegistry(t *testing.T, opts ...srfake.Option) *srfake.Registry {
	t.Helper()
	reg := srfake.New(opts...)
	t.Cleanup(reg.Close)
	reg.SeedSchema("orders-value", 1, 1, sr.Schema{Schema: orderAvroV1})
	reg.SeedSchema("orders-value", 2, 2, sr.Schema{Schema: orderAvroV2})
	reg.SeedSchema("common", 1, 3, sr.Schema{Schema: commonProto, Type: sr.TypeProtobuf})
	reg.SeedSchema("common", 2, 4, sr.Schema{Schema: commonProto + "\nmessage Unused {}", Type: sr.TypeProtobuf})
	reg.SeedSchema("shipments-value", 1, 5, sr.Schema{Schema: shipmentProto, Type: sr.TypeProtobuf,
		References: []sr.SchemaReference{{Name: "common.proto", Subject: "common", Version: 1}}})
	return reg
}

// TestSchemaLsShow: eddy schema ls lists every subject with its versions,
// latest id, type, pinned references and the topics whose TopicNameStrategy
// subject it is (from the Kafka configured); eddy schema show shows one
// version, text and json.
func TestSchemaLsShow(t *testing.T) {
	reg := seededRegistry(t)
	seeds := kafkatest.Cluster(t)
	kafkatest.NamedTopic(t, seeds, "orders", 1)
	kafkatest.NamedTopic(t, seeds, "shipments", 1)
	kafkatest.NamedTopic(t, seeds, "payments", 1)
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_SCHEMA_REGISTRY": reg.URL()}

	code, out, stderr := runEddy(t, env, "schema", "ls", "-o", "json")
	if code != 0 || stderr != "" {
		t.Fatalf("schema ls -o json: exit %d: %s", code, stderr)
	}
	want := `{"v":1,"subjects":[` +
		`{"subject":"common","versions":[1,2],"latest":2,"id":4,"type":"protobuf","references":[],"topics":[]},` +
		`{"subject":"orders-value","versions":[1,2],"latest":2,"id":2,"type":"avro","references":[],"topics":["orders"]},` +
		`{"subject":"shipments-value","versions":[1],"latest":1,"id":5,"type":"protobuf","references":[{"name":"common.proto","subject":"common","version":1}],"topics":["shipments"]}]}` + "\n"
	if out != want {
		t.Errorf("schema ls -o json:\n got %s\nwant %s", out, want)
	}

	code, out, _ = runEddy(t, env, "schema", "ls", "-o", "table")
	wantTable := `SUBJECT          VERSIONS  LATEST  ID  TYPE      REFERENCES             TOPICS
common           1,2            2   4  protobuf  -                      -
orders-value     1,2            2   2  avro      -                      orders
shipments-value  1              1   5  protobuf  common.proto=common@1  shipments
`
	if code != 0 || out != wantTable {
		t.Errorf("schema ls -o table: exit %d\n%s\nwant\n%s", code, out, wantTable)
	}

	// Without a Kafka named, no topics are looked for.
	code, out, _ = runEddy(t, map[string]string{}, "schema", "ls", "-o", "tsv", "--schema-registry", reg.URL())
	if code != 0 || !strings.HasPrefix(out, "subject\tversions\tlatest\tid\ttype\treferences\ttopics\n") ||
		!strings.Contains(out, "\nshipments-value\t1\t1\t5\tprotobuf\tcommon.proto=common@1\t\n") {
		t.Errorf("schema ls -o tsv: exit %d\n%s", code, out)
	}

	code, out, stderr = runEddy(t, env, "schema", "show", "shipments-value")
	wantShow := "subject     shipments-value\nversion     1 (of 1)\nid          5\ntype        protobuf\n" +
		"references  common.proto -> common version 1\n\n" + shipmentProto + "\n"
	if code != 0 || out != wantShow {
		t.Errorf("schema show: exit %d %s\n%s\nwant\n%s", code, stderr, out, wantShow)
	}
	code, out, _ = runEddy(t, env, "schema", "show", "orders-value@1")
	if code != 0 || !strings.Contains(out, "version     1 (of 1,2)\nid          1\ntype        avro\nreferences  -\n\n{\n  \"type\": \"record\",") {
		t.Errorf("schema show orders-value@1: exit %d\n%s", code, out)
	}
	code, out, _ = runEddy(t, env, "schema", "show", "orders-value@latest", "-o", "json")
	var got struct {
		V        int    `json:"v"`
		Subject  string `json:"subject"`
		Version  int    `json:"version"`
		Versions []int  `json:"versions"`
		ID       int    `json:"id"`
		Type     string `json:"type"`
		Schema   string `json:"schema"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.V != 1 || got.Subject != "orders-value" ||
		got.Version != 2 || got.ID != 2 || got.Type != "avro" || got.Schema != orderAvroV2 || !slices.Equal(got.Versions, []int{1, 2}) {
		t.Errorf("schema show -o json: exit %d %v %+v\n%s", code, err, got, out)
	}

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"schema", "show", "nope-value"}, ExitError, `eddy: schema registry: subject "nope-value" not found` + "\n"},
		{[]string{"schema", "show", "orders-value@9"}, ExitError, `eddy: schema registry: subject version "orders-value@9" not found` + "\n"},
		{[]string{"schema", "show", "orders-value@0"}, ExitUsage, `schema show "orders-value@0": the version after @ is a number >= 1 or latest`},
		{[]string{"schema", "show", "@2"}, ExitUsage, `schema show "@2": no subject before @`},
		{[]string{"schema", "show"}, ExitUsage, "schema show needs one SUBJECT[@VERSION]"},
	} {
		code, _, stderr := runEddy(t, env, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d, %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
	if code, _, stderr := runEddy(t, map[string]string{}, "schema", "ls"); code != ExitUsage || !strings.Contains(stderr, "no schema registry: name one with --schema-registry URL") {
		t.Errorf("schema ls without a registry: exit %d, %q", code, stderr)
	}
}

// TestSchemaRegistryDownOrDenied: a registry that cannot be reached or
// refuses the credentials is exit 4, one line naming its URL and never a
// password (from the context's password-env, the URL's userinfo, or a
// token file).
func TestSchemaRegistryDownOrDenied(t *testing.T) {
	reg := seededRegistry(t, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte("eddy:right-password"))))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("tok-wrong-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "current-context: reg\ncontexts:\n" +
		"  reg:\n    schema-registry:\n      url: " + reg.URL() + "\n      username: eddy\n      password-env: REG_PASSWORD\n" +
		"  tok:\n    schema-registry:\n      url: " + reg.URL() + "\n      token-file: token\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()

	if code, out, stderr := runEddy(t, map[string]string{"EDDY_CONFIG": cfg, "REG_PASSWORD": "right-password"}, "schema", "ls", "-o", "tsv"); code != 0 || !strings.Contains(out, "orders-value") {
		t.Fatalf("the right password: exit %d %s", code, stderr)
	}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		secret string
		line   string
	}{
		{"wrong password", map[string]string{"EDDY_CONFIG": cfg, "REG_PASSWORD": "wrong-password-xyz"}, []string{"schema", "ls", "--debug"},
			"wrong-password-xyz", "eddy: schema registry: cannot connect to " + reg.URL() + ": access denied (HTTP 403): User not authorized"},
		{"wrong token", map[string]string{"EDDY_CONFIG": cfg}, []string{"schema", "show", "orders-value", "--context", "tok"},
			"tok-wrong-secret", "eddy: schema registry: cannot connect to " + reg.URL() + ": access denied (HTTP 403)"},
		{"password in the URL", map[string]string{}, []string{"schema", "ls", "--schema-registry", strings.Replace(reg.URL(), "http://", "http://eddy:url-pass-xyz@", 1)},
			"url-pass-xyz", "eddy: schema registry: cannot connect to " + reg.URL() + ": access denied (HTTP 403)"},
		{"down", map[string]string{"EDDY_SCHEMA_REGISTRY": strings.Replace(down, "http://", "http://eddy:down-pass-xyz@", 1)}, []string{"schema", "ls"},
			"down-pass-xyz", "eddy: schema registry: cannot connect to " + down + ": "},
	} {
		code, _, stderr := runEddy(t, tc.env, tc.args...)
		if code != ExitConnect || !strings.HasPrefix(stderr, tc.line) || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, tc.secret) {
			t.Errorf("%s: exit %d, stderr %q; want exit 4, one line starting %q, without %q", tc.name, code, stderr, tc.line, tc.secret)
		}
	}
}

// TestLsValueSubject: with a registry configured, eddy ls shows each
// topic's value subject (TOPIC-value), "-" (tsv: empty, json: null) for
// none; without one the listing is as it always was; a registry that does
// not answer leaves the topics listed and exits 3.
func TestLsValueSubject(t *testing.T) {
	reg := seededRegistry(t)
	seeds := kafkatest.Cluster(t)
	kafkatest.NamedTopic(t, seeds, "orders", 1)
	kafkatest.NamedTopic(t, seeds, "payments", 2)
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ",")}

	code, out, _ := runEddy(t, env, "ls", "kafka:", "-o", "json", "--schema-registry", reg.URL())
	if code != 0 || !strings.Contains(out, `"name":"orders",`) || !strings.Contains(out, `"internal":false,"value_subject":"orders-value"}`) ||
		!strings.Contains(out, `"internal":false,"value_subject":null}`) {
		t.Errorf("ls -o json with a registry: exit %d\n%s", code, out)
	}
	env["EDDY_SCHEMA_REGISTRY"] = reg.URL()
	code, out, _ = runEddy(t, env, "ls", "kafka:", "-o", "tsv")
	lines := strings.Split(out, "\n")
	if code != 0 || lines[0] != "topic\tpartitions\treplicas\tmessages\tstart_offsets\tend_offsets\tinternal\tvalue_subject" ||
		!slices.Contains(lines, "orders\t1\t1\t0\t0\t0\tfalse\torders-value") || !slices.Contains(lines, "payments\t2\t1\t0\t0,0\t0,0\tfalse\t") {
		t.Errorf("ls -o tsv with a registry: exit %d\n%s", code, out)
	}
	code, out, _ = runEddy(t, env, "ls", "kafka:", "-o", "table")
	if code != 0 || !strings.Contains(out, "VALUE SUBJECT") || !strings.Contains(out, "orders-value") || !strings.HasSuffix(strings.Split(out, "\n")[2], "  -") {
		t.Errorf("ls -o table with a registry: exit %d\n%s", code, out)
	}

	delete(env, "EDDY_SCHEMA_REGISTRY")
	if code, out, _ := runEddy(t, env, "ls", "kafka:", "-o", "json"); code != 0 || strings.Contains(out, "value_subject") {
		t.Errorf("ls without a registry: exit %d\n%s", code, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	code, out, stderr := runEddy(t, env, "ls", "kafka:", "-o", "tsv", "--schema-registry", down)
	if code != ExitPartial || !strings.Contains(out, "orders\t1\t1\t0\t0\t0\tfalse\t\n") || !strings.HasPrefix(stderr, "eddy: schema registry: cannot connect to "+down) {
		t.Errorf("ls with the registry down: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runEddy(t, env, "ls", "--schema-registry", "localhost:8081"); code != ExitUsage || !strings.Contains(stderr, `--schema-registry: "localhost:8081" is not a registry URL`) {
		t.Errorf("ls --schema-registry localhost:8081: exit %d %q", code, stderr)
	}
}

// TestSchemaCompletion: eddy schema show completes the registry's subjects
// (of --schema-registry, the environment or the context); with no
// registry, or one that is down, nothing.
func TestSchemaCompletion(t *testing.T) {
	reg := seededRegistry(t)
	env := map[string]string{"EDDY_SCHEMA_REGISTRY": reg.URL()}
	complete := func(env map[string]string, args ...string) []string {
		_, out, _ := runEddy(t, env, append([]string{"__complete", "schema", "show"}, args...)...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, l)
			}
		}
		return got
	}
	if got := complete(env, ""); !slices.Equal(got, []string{"common", "orders-value", "shipments-value"}) {
		t.Errorf("schema show <TAB>: %q", got)
	}
	if got := complete(map[string]string{}, "--schema-registry", reg.URL(), "sh"); !slices.Equal(got, []string{"shipments-value"}) {
		t.Errorf("schema show --schema-registry URL sh<TAB>: %q", got)
	}
	if got := complete(map[string]string{}, ""); got != nil {
		t.Errorf("schema show <TAB> with no registry: %q", got)
	}
	if got := complete(map[string]string{"EDDY_SCHEMA_REGISTRY": "http://127.0.0.1:1"}, ""); got != nil {
		t.Errorf("schema show <TAB> with the registry down: %q", got)
	}
}

// TestSchemaFlags: the schema flags are on every command that reads
// payloads and on none that copies them (replay and dlq redrive never
// decode); a bad value is one usage line, exit 2, before anything
// connects.
func TestSchemaFlags(t *testing.T) {
	readers := []string{"eddy tail", "eddy trace", "eddy trace flows", "eddy expect", "eddy dlq show", "eddy tui"}
	f, _, _ := testFactory(false)
	visibleCommands(newRootCmd(f), func(c *cobra.Command) {
		has := c.Flags().Lookup("value-schema") != nil
		if has && c.Flags().Lookup("schema-registry") == nil {
			t.Errorf("%s: --value-schema without --schema-registry", c.CommandPath())
		}
		for _, name := range []string{"key-schema", "validate", "no-decode"} {
			if (c.Flags().Lookup(name) != nil) != has {
				t.Errorf("%s: --value-schema and --%s are not together", c.CommandPath(), name)
			}
		}
		if want := slices.Contains(readers, c.CommandPath()); has != want {
			t.Errorf("%s: schema flags %v, want %v", c.CommandPath(), has, want)
		}
		// --schema-registry alone: the registry's listings, ls's column, and send's --encode.
		if registryOnly := []string{"eddy ls", "eddy schema ls", "eddy schema show", "eddy send"}; !has && (c.Flags().Lookup("schema-registry") != nil) != slices.Contains(registryOnly, c.CommandPath()) {
			t.Errorf("%s: --schema-registry where it does not belong, or missing", c.CommandPath())
		}
	})
	dir := t.TempDir()
	avsc := filepath.Join(dir, "order.avsc")
	if err := os.WriteFile(avsc, []byte(orderAvroV1), 0o600); err != nil {
		t.Fatal(err)
	}
	// Brokers that are never dialled: the error comes first.
	env := map[string]string{"EDDY_BROKERS": "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"tail", "kafka:orders", "--value-schema", "orders"}, env, `eddy: --value-schema "orders": want TOPIC=FILE[#MESSAGE]`},
		{[]string{"trace", "id-1", "--key-schema", "orders=/nonexistent/k.avsc"}, env, `eddy: --key-schema "orders=/nonexistent/k.avsc": /nonexistent/k.avsc: no such file or directory`},
		{[]string{"trace", "flows", "kafka:orders", "--schema-registry", "ftp://reg"}, env, `eddy: --schema-registry: "ftp://reg" is not a registry URL`},
		{[]string{"expect", "A -> B", "kafka:orders", "--value-schema", "orders=" + avsc + "#"}, env, "nothing after #"},
		{[]string{"dlq", "show", "kafka:orders.DLT", "--schema-registry", "registry:8081"}, env, `"registry:8081" is not a registry URL`},
		{[]string{"tail", "kafka:orders"}, map[string]string{"EDDY_BROKERS": "127.0.0.1:1", "EDDY_SCHEMA_REGISTRY": "http//reg"}, `eddy: EDDY_SCHEMA_REGISTRY: "http//reg" is not a registry URL`},
	} {
		code, out, stderr := runEddy(t, tc.env, tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSuffix(stderr, "\n"), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2, %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestDecodeFailuresExit3: a tail that decodes (a registry is configured)
// and meets records it cannot decode prints them, says once at the end how
// many and why, and exits 3; --no-decode reads the same records as bytes,
// exit 0. Replay never decodes: it copies the same records, exit 0.
func TestDecodeFailuresExit3(t *testing.T) {
	reg := seededRegistry(t)
	seeds := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, seeds, 1)
	// Magic byte 0 and schema id 99, which the registry does not have; then
	// a frame cut short of its id.
	// First a plain JSON record, which is no schema's: not a failure.
	kafkatest.Produce(t, seeds, &kgo.Record{Topic: topic, Value: []byte(`{"plain":1}`)},
		&kgo.Record{Topic: topic, Value: []byte{0, 0, 0, 0, 99, 2, 'x'}},
		&kgo.Record{Topic: topic, Value: []byte{0, 0, 1}})
	env := map[string]string{"EDDY_BROKERS": strings.Join(seeds, ","), "EDDY_SCHEMA_REGISTRY": reg.URL()}
	code, out, stderr := runEddy(t, env, "tail", "kafka:"+topic, "--from", "beginning", "--until", "end", "-o", "jsonl")
	if code != ExitPartial || strings.Count(out, "\n") != 3 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "eddy: ") {
		t.Errorf("tail with undecodable records: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runEddy(t, env, "tail", "kafka:"+topic, "--from", "beginning", "--until", "end", "-o", "jsonl", "--no-decode")
	if code != 0 || strings.Count(out, "\n") != 3 || stderr != "" {
		t.Errorf("tail --no-decode: exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = runEddy(t, env, "replay", "kafka:"+topic, "--to", "file:"+filepath.Join(t.TempDir(), "copy.jsonl"), "--from", "beginning", "--until", "end")
	if code != 0 || strings.Contains(stderr, "decode") {
		t.Errorf("replay (never decodes): exit %d %s", code, stderr)
	}
	// -n 1 shows only the plain record: the two the source decoded past it
	// were never looked at, so they are no failure of this run.
	code, out, stderr = runEddy(t, env, "tail", "kafka:"+topic, "--from", "beginning", "--until", "end", "-o", "jsonl", "-n", "1")
	if code != 0 || strings.Count(out, "\n") != 1 || stderr != "" {
		t.Errorf("tail -n 1 before the undecodable records: exit %d\n%s%s", code, out, stderr)
	}
}

// TestDLQShowDecodes: dlq show reads its letters decoded: a capture of
// Spring dead letters whose values are Avro (a local schema for the DLT
// topic) lists the event ids found in the decoded payloads.
func TestDLQShowDecodes(t *testing.T) {
	dir := t.TempDir()
	avsc := filepath.Join(dir, "letter.avsc")
	if err := os.WriteFile(avsc, []byte(`{"type":"record","name":"Payment","fields":[{"name":"event_id","type":"string"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var capture []byte
	for _, id := range []string{"evt-1", "evt-2"} {
		// The Avro string: its zigzag length, then its bytes.
		value := append([]byte{byte(len(id) * 2)}, id...)
		capture = event.AppendEnvelope(capture, &event.Event{Transport: event.Kafka, Topic: "payments.DLT", Value: value,
			Headers: []event.Header{{Key: "kafka_dlt-exception-message", Value: []byte("card declined")}}})
		capture = append(capture, '\n')
	}
	path := filepath.Join(dir, "dlt.jsonl")
	if err := os.WriteFile(path, capture, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runEddy(t, nil, "dlq", "show", "file:"+path, "-o", "tsv", "--value-schema", "payments.DLT="+avsc)
	if code != 0 || !strings.Contains(out, "evt-1 evt-2") {
		t.Errorf("dlq show with a schema: exit %d\n%s%s", code, out, stderr)
	}
}
