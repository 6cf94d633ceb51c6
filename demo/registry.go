package demo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// DefaultRegistryPort is where `eddy demo` puts its Schema Registry unless
// told otherwise: the port Confluent's registry listens on.
const DefaultRegistryPort = 8081

// First schema ids of each format. The ids are fixed rather than handed out
// in registration order, so a data directory kept from a run in another
// format holds ids this run's registry does not have (an unknown schema, as
// eddy reports it) instead of ids that now name a schema of another format.
const (
	avroFirstID     = 100
	protobufFirstID = 200 // shop/common.proto; the topics' schemas follow
	jsonFirstID     = 300
)

// registry is the demo's in-process Schema Registry (franz-go's srfake,
// served on a loopback port) and the codec its schemas make.
type registry struct {
	reg   *srfake.Registry
	srv   *http.Server
	url   string
	codec *framedCodec
	done  chan struct{}
}

// startRegistry registers the format's schemas and serves the registry on
// 127.0.0.1:port (the next free port if taken; 0: any free port).
func startRegistry(f Format, port int) (*registry, error) {
	reg := srfake.NewRegistry(srfake.WithGlobalCompat(sr.CompatBackward))
	codec, err := seedSchemas(reg, f)
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if port == 0 {
		ln, err = net.Listen("tcp", addr)
	} else {
		ln, err = listenFrom("tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("demo: start the schema registry: %w", err)
	}
	r := &registry{reg: reg, codec: codec, url: "http://" + ln.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(r.done)
		// Serve returns when stop closes the server; nothing else ends it.
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// stop closes the registry's server and waits until it has returned.
func (r *registry) stop() {
	_ = r.srv.Close()
	<-r.done
}

// seedSchemas registers one schema per event topic under "<topic>-value"
// (version 1) and returns the codec that writes and reads them.
func seedSchemas(reg *srfake.Registry, f Format) (*framedCodec, error) {
	ids := map[string]int{}
	texts := map[string]string{}
	var typ sr.SchemaType
	first := 0
	var refs []sr.SchemaReference
	switch f {
	case FormatAvro:
		typ, first = sr.TypeAvro, avroFirstID
	case FormatProtobuf:
		typ, first = sr.TypeProtobuf, protobufFirstID+1
		reg.SeedSchema(protoCommonPath, 1, protobufFirstID, sr.Schema{Schema: protoCommon, Type: sr.TypeProtobuf})
		refs = []sr.SchemaReference{{Name: protoCommonPath, Subject: protoCommonPath, Version: 1}}
	case FormatJSONSchema:
		typ, first = sr.TypeJSON, jsonFirstID
	default:
		return nil, fmt.Errorf("%w: format %q has no schemas", ErrConfig, f)
	}
	for i, te := range topicEvents {
		var text string
		switch f {
		case FormatAvro:
			text = avroSchema(te.record, te.types)
		case FormatProtobuf:
			text = protoSchema(te.topic, te.record, te.types)
		case FormatJSONSchema:
			text = jsonSchema(te.record, te.types)
		}
		ids[te.topic] = first + i
		texts[te.topic] = text
		reg.SeedSchema(te.topic+"-value", 1, first+i, sr.Schema{Schema: text, Type: typ, References: refs})
	}
	switch f {
	case FormatAvro:
		return newAvroCodec(texts, ids)
	case FormatProtobuf:
		return newProtoCodec(texts, ids)
	}
	return newJSONCodec(ids), nil
}

// jsonSchema is the JSON Schema of a topic's values: the envelope and, for
// each of types, the payload's fields.
func jsonSchema(title string, types []string) string {
	str := map[string]any{"type": "string"}
	props := map[string]any{}
	for _, typ := range types {
		for _, f := range payloadFields[typ] {
			switch f {
			case "customer":
				props[f] = map[string]any{"type": "object", "required": []string{"id", "email"}, "properties": map[string]any{
					"id": str, "name": str, "email": map[string]any{"type": "string", "format": "email"}}}
			case "items":
				props[f] = map[string]any{"type": "array", "minItems": 1, "items": map[string]any{
					"type": "object", "required": []string{"sku", "qty", "price"}, "properties": map[string]any{
						"sku": str, "qty": map[string]any{"type": "integer", "minimum": 1},
						"price": map[string]any{"type": "number", "minimum": 0}}}}
			case "amount":
				props[f] = map[string]any{"type": "number", "minimum": 0}
			default:
				props[f] = str
			}
		}
	}
	s := map[string]any{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"title":   title, "type": "object",
		"required": []string{"event_id", "type", "occurred_at", "correlation_id", "payload"},
		"properties": map[string]any{
			"event_id":       map[string]any{"type": "string", "format": "uuid"},
			"type":           map[string]any{"enum": types},
			"occurred_at":    map[string]any{"type": "string", "format": "date-time"},
			"correlation_id": str,
			"causation_id":   map[string]any{"type": "string", "format": "uuid"},
			"payload":        map[string]any{"type": "object", "required": []string{"order_id"}, "properties": props},
		},
	}
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// newJSONCodec frames the plain JSON event with its topic's JSON Schema id.
func newJSONCodec(ids map[string]int) *framedCodec {
	known := map[int]bool{}
	for _, id := range ids {
		known[id] = true
	}
	return &framedCodec{
		name: "JSON", ctype: "application/json", ids: ids,
		serde:     "io.confluent.kafka.serializers.json.KafkaJsonSchemaDeserializer",
		converter: "io.confluent.connect.json.JsonSchemaConverter",
		body: func(_ string, b *body, p *payload) ([]int, []byte, error) {
			return nil, marshalEvent(b, p), nil
		},
		read: func(id int, rest []byte) (*body, *payload, bool, error) {
			if !known[id] {
				return nil, nil, false, nil
			}
			b, p, f := decode(rest)
			if f != nil {
				return nil, nil, true, f
			}
			return b, p, true, nil
		},
	}
}
