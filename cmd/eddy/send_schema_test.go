package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

const sendAvroSchema = `{"type":"record","name":"Order","namespace":"eddy.send","fields":[
 {"name":"id","type":"string"},
 {"name":"qty","type":"int"},
 {"name":"amount","type":"double"},
 {"name":"paid","type":"boolean"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
 {"name":"customer","type":{"type":"record","name":"Customer","fields":[{"name":"email","type":"string"}]}}]}`

const sendAvroValue = `{"id":"o-1","qty":2,"amount":19.5,"paid":true,"note":"hi","tags":["a","b"],"attrs":{"x":1,"y":-2},"status":"PAID","customer":{"email":"a@example.com"}}`

// sendProtoFile is the Protobuf schema (the file name matters to the
// Python check, which compiles it).
const (
	sendProtoFile   = "eddy_send_order.proto"
	sendProtoSchema = `syntax = "proto3";
package eddy.send;
message Order {
  string id = 1;
  int32 qty = 2;
  message Line {
    string sku = 1;
    int32 qty = 2;
  }
  repeated Line lines = 3;
  bool paid = 4;
}
message Other {
  string x = 1;
}
`
)

const sendJSONSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",
 "properties":{"id":{"type":"string"},"qty":{"type":"integer","minimum":1}},"required":["id","qty"]}`

// sendCase is one value to encode: the subject's format, flags, the JSON.
type sendCase struct {
	format, topic, message, value string
	flags                         []string
}

func sameJSON(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%v: %s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

// sendEncoded sends each case with --encode and reads it back, decoded by
// eddy tail with the registry; it returns the raw values, by case.
func sendEncoded(t *testing.T, seeds []string, registry string, cases []sendCase) [][]byte {
	t.Helper()
	b := strings.Join(seeds, ",")
	var raws [][]byte
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "v.json")
		os.WriteFile(p, []byte(c.value), 0o600)
		args := append([]string{"send", "kafka:" + c.topic, p, "-b", b, "--schema-registry", registry, "--encode"}, c.flags...)
		if code, _, errOut := runEddyIn(t, nil, nil, args...); code != 0 {
			t.Fatalf("%s: send: exit %d: %s", c.format, code, errOut)
		}
		evs := readBack(t, seeds, c.topic, "--schema-registry", registry)
		e := evs[len(evs)-1]
		if e.ValueDecoded == nil || !sameJSON(t, e.ValueDecoded.JSON, []byte(c.value)) {
			t.Fatalf("%s: read back %+v, sent %s", c.format, e.ValueDecoded, c.value)
		}
		if e.Value[0] != 0 {
			t.Fatalf("%s: no Confluent magic byte: % x", c.format, e.Value[:8])
		}
		raws = append(raws, e.Value)
	}
	return raws
}

// TestSendEncode: JSON in, the registered schema's wire format out — Avro
// (every kind of field), Protobuf (the first message, a nested one and the
// second by name: index paths [0], [0,0], [1]) and JSON Schema — read back
// by eddy's decoders equal to the JSON sent; a value that does not fit is
// exit 2 naming the field, and nothing is sent.
func TestSendEncode(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	seeds := kafkatest.Cluster(t)
	avroT, protoT, jsonT := kafkatest.NewTopic(t, seeds, 1), kafkatest.NewTopic(t, seeds, 1), kafkatest.NewTopic(t, seeds, 1)
	reg.SeedSchema(avroT+"-value", 1, 1, sr.Schema{Schema: sendAvroSchema})
	reg.SeedSchema(protoT+"-value", 1, 2, sr.Schema{Schema: sendProtoSchema, Type: sr.TypeProtobuf})
	reg.SeedSchema("order-json", 1, 3, sr.Schema{Schema: sendJSONSchema, Type: sr.TypeJSON})
	sendEncoded(t, seeds, reg.URL(), []sendCase{
		{format: "avro", topic: avroT, value: sendAvroValue},
		{format: "protobuf", topic: protoT, value: `{"id":"o-1","qty":2,"lines":[{"sku":"s-1","qty":1}],"paid":true}`},
		{format: "protobuf", topic: protoT, value: `{"sku":"s-2","qty":3}`, flags: []string{"--proto-message", "eddy.send.Order.Line"}},
		{format: "protobuf", topic: protoT, value: `{"x":"other"}`, flags: []string{"--proto-message", "Other", "--schema-version", "1"}},
		{format: "json", topic: jsonT, value: `{"id":"o-1","qty":2}`, flags: []string{"--subject", "order-json"}},
	})

	bad := kafkatest.NewTopic(t, seeds, 1)
	reg.SeedSchema(bad+"-value", 1, 4, sr.Schema{Schema: sendAvroSchema})
	for _, tc := range []struct {
		value, field string
		flags        []string
	}{
		{strings.Replace(sendAvroValue, `"a@example.com"`, `42`, 1), "field customer.email", nil},
		{strings.Replace(sendAvroValue, `"qty":2`, `"qty":"two"`, 1), "field qty", nil},
		{strings.Replace(sendAvroValue, `"PAID"`, `"LOST"`, 1), "field status", nil},
		{strings.Replace(sendAvroValue, `"a@example.com"`, `"a@example.com","phone":"+1"`, 1), "field customer.phone: is not a field of the Avro schema", nil},
		{strings.Replace(sendAvroValue, `"id":"o-1"`, `"id":"o-1","extra":1`, 1), "field extra: is not a field", nil},
		{`{"id":"o-1","qty":0}`, "field qty", []string{"--subject", "order-json"}},
		{`{"id":"o-1","qty":"many"}`, "Protobuf message eddy.send.Order", []string{"--subject", protoT + "-value"}},
	} {
		p := filepath.Join(t.TempDir(), "v.json")
		os.WriteFile(p, []byte(`{"event_id":"e-ok"}`+"\n"), 0o600)
		bp := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bp, []byte(tc.value), 0o600)
		args := append([]string{"send", "kafka:" + bad, bp, "-b", seeds[0], "--schema-registry", reg.URL(), "--encode"}, tc.flags...)
		code, _, errOut := runEddyIn(t, nil, nil, args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.field) || !strings.Contains(errOut, "nothing of it was sent") {
			t.Errorf("%s: exit %d, want 2 naming %q: %s", tc.value, code, tc.field, errOut)
		}
	}
	if evs := readBack(t, seeds, bad); len(evs) != 0 {
		t.Fatalf("%d events sent despite the refusals", len(evs))
	}
	// A subject that does not exist, a message that does not: exit 2.
	for _, args := range [][]string{{"--subject", "nope-value"}, {"--proto-message", "Nope"}} {
		p := filepath.Join(t.TempDir(), "v.json")
		os.WriteFile(p, []byte(`{}`), 0o600)
		code, _, errOut := runEddyIn(t, nil, nil, append([]string{"send", "kafka:" + protoT, p, "-b", seeds[0], "--schema-registry", reg.URL()}, args...)...)
		if code != ExitUsage || !strings.Contains(errOut, "--encode") {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
}

// TestSendEncodeConfluentInterop: what send encodes through the real
// registry (Apicurio's Confluent API) into the real Kafka, Confluent's own
// Python deserializers (AvroDeserializer, ProtobufDeserializer,
// JSONDeserializer) read back equal to the JSON sent.
func TestSendEncodeConfluentInterop(t *testing.T) {
	kafka, registry, python := interopEnv(t)
	seeds := strings.Split(kafka, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := sr.NewClient(sr.URLs(registry))
	if err != nil {
		t.Fatal(err)
	}
	avroT, protoT, jsonT := kafkatest.NewTopic(t, seeds, 1), kafkatest.NewTopic(t, seeds, 1), kafkatest.NewTopic(t, seeds, 1)
	for subject, s := range map[string]sr.Schema{
		avroT + "-value":  {Schema: sendAvroSchema},
		protoT + "-value": {Schema: sendProtoSchema, Type: sr.TypeProtobuf},
		jsonT + "-value":  {Schema: sendJSONSchema, Type: sr.TypeJSON},
	} {
		if _, err := cl.CreateSchema(ctx, subject, s); err != nil {
			t.Fatalf("registering %s: %v", subject, err)
		}
	}
	cases := []sendCase{
		{format: "avro", topic: avroT, value: sendAvroValue},
		{format: "protobuf", topic: protoT, message: "Order", value: `{"id":"o-1","qty":2,"lines":[{"sku":"s-1","qty":1}],"paid":true}`},
		{format: "protobuf", topic: protoT, message: "Order.Line", value: `{"sku":"s-2","qty":3}`, flags: []string{"--proto-message", "eddy.send.Order.Line"}},
		{format: "protobuf", topic: protoT, message: "Other", value: `{"x":"other"}`, flags: []string{"--proto-message", "Other"}},
		{format: "json", topic: jsonT, value: `{"id":"o-1","qty":2}`},
	}
	raws := sendEncoded(t, seeds, registry, cases)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, sendProtoFile), []byte(sendProtoSchema), 0o600)
	var lines []byte
	for i, c := range cases {
		rec, _ := json.Marshal(map[string]any{"topic": c.topic, "format": c.format, "proto_file": sendProtoFile, "message": c.message,
			"value_b64": base64.StdEncoding.EncodeToString(raws[i]), "expected": json.RawMessage(c.value)})
		lines = append(append(lines, rec...), '\n')
	}
	recs := filepath.Join(dir, "records.jsonl")
	os.WriteFile(recs, lines, 0o600)
	out, err := exec.CommandContext(ctx, python, "../../scripts/interop/verify_send.py", registry, recs, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("Confluent's deserializers disagree: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d records, 0 differ", len(cases))) {
		t.Fatalf("verify_send.py: %s", out)
	}
}
