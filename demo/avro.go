package demo

import (
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/twmb/avro"
)

// avroNamespace is the namespace of every record of the Avro schemas.
const avroNamespace = "com.example.shop"

// avroSchema is the Avro schema of a topic's values: the envelope record
// name, with the payload record of each of types (a union of them when there
// are several). Customer and LineItem are defined where first used and
// referred to by name after that.
func avroSchema(name string, types []string) string {
	defined := map[string]bool{}
	named := func(n string, def map[string]any) any {
		if defined[n] {
			return n
		}
		defined[n] = true
		return def
	}
	dec := func(precision int) map[string]any {
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": 2}
	}
	field := func(n string, t any) map[string]any { return map[string]any{"name": n, "type": t} }
	var payloads []any
	for _, typ := range types {
		var fields []any
		for _, f := range payloadFields[typ] {
			switch f {
			case "customer":
				fields = append(fields, map[string]any{"name": f, "default": nil, "type": []any{"null", named("Customer", map[string]any{
					"type": "record", "name": "Customer", "fields": []any{
						field("id", "string"), field("name", "string"), field("email", "string"),
					}})}})
			case "items":
				fields = append(fields, field(f, map[string]any{"type": "array", "items": named("LineItem", map[string]any{
					"type": "record", "name": "LineItem", "fields": []any{
						field("sku", "string"), field("qty", "int"), field("price", dec(10)),
					}})}))
			case "amount":
				fields = append(fields, field(f, dec(12)))
			default:
				fields = append(fields, field(f, "string"))
			}
		}
		payloads = append(payloads, map[string]any{"type": "record", "name": typ, "fields": fields})
	}
	var payloadType any = payloads[0]
	if len(payloads) > 1 {
		payloadType = payloads
	}
	s := map[string]any{
		"type": "record", "name": name, "namespace": avroNamespace,
		"doc": "An event of the eddy demo's shop.",
		"fields": []any{
			field("event_id", map[string]any{"type": "string", "logicalType": "uuid"}),
			field("type", "string"),
			field("occurred_at", map[string]any{"type": "long", "logicalType": "timestamp-millis"}),
			field("correlation_id", "string"),
			map[string]any{"name": "causation_id", "type": []any{"null", "string"}, "default": nil},
			field("payload", payloadType),
		},
	}
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// newAvroCodec parses the topics' schemas, registered under ids.
func newAvroCodec(schemas map[string]string, ids map[string]int) (*framedCodec, error) {
	parsed := map[string]*avro.Schema{}
	byID := map[int]*avro.Schema{}
	multi := map[string]bool{}
	for _, te := range topicEvents {
		s, err := avro.Parse(schemas[te.topic])
		if err != nil {
			return nil, fmt.Errorf("demo: avro schema of %s: %w", te.topic, err)
		}
		parsed[te.topic] = s
		byID[ids[te.topic]] = s
		multi[te.topic] = len(te.types) > 1
	}
	return &framedCodec{
		name: "Avro", ctype: "application/avro", ids: ids,
		serde:     "io.confluent.kafka.serializers.KafkaAvroDeserializer",
		converter: "io.confluent.connect.avro.AvroConverter",
		body: func(topic string, b *body, p *payload) ([]int, []byte, error) {
			v, err := parsed[topic].Encode(avroValue(b, p, multi[topic]))
			return nil, v, err
		},
		read: func(id int, rest []byte) (*body, *payload, bool, error) {
			s, ok := byID[id]
			if !ok {
				return nil, nil, false, nil
			}
			var v any
			if _, err := s.Decode(rest, &v); err != nil {
				return nil, nil, true, err
			}
			b, p, err := fromAvro(v)
			return b, p, true, err
		},
	}, nil
}

// avroValue is the event as the Avro encoder takes it; union says the
// payload is a union of records, which takes the record's full name.
func avroValue(b *body, p *payload, union bool) map[string]any {
	t, err := time.Parse(time.RFC3339Nano, b.OccurredAt)
	if err != nil {
		panic(err) // the shop writes every time with formatTime
	}
	var causation any
	if b.CausationID != "" {
		causation = b.CausationID
	}
	pm := map[string]any{}
	for _, f := range payloadFields[b.Type] {
		switch f {
		case "customer":
			var c any
			if p.Customer != nil {
				c = map[string]any{avroNamespace + ".Customer": map[string]any{
					"id": p.Customer.ID, "name": p.Customer.Name, "email": p.Customer.Email}}
			}
			pm[f] = c
		case "items":
			items := make([]any, len(p.Items))
			for i, it := range p.Items {
				items[i] = map[string]any{"sku": it.SKU, "qty": int32(it.Qty), "price": decimal(it.Price)}
			}
			pm[f] = items
		case "amount":
			pm[f] = decimal(p.Amount)
		default:
			pm[f] = *p.str(f)
		}
	}
	var payloadValue any = pm
	if union {
		payloadValue = map[string]any{avroNamespace + "." + b.Type: pm}
	}
	return map[string]any{
		"event_id": b.EventID, "type": b.Type, "occurred_at": t, "correlation_id": b.CorrelationID,
		"causation_id": causation, "payload": payloadValue,
	}
}

// fromAvro reads back what avroValue wrote, from the decoder's generic
// value (records as maps, decimals as *big.Rat, timestamps as time.Time).
func fromAvro(v any) (*body, *payload, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("not a record: %T", v)
	}
	b := &body{}
	b.EventID, _ = m["event_id"].(string)
	b.Type, _ = m["type"].(string)
	if t, ok := m["occurred_at"].(time.Time); ok {
		b.OccurredAt = formatTime(t)
	}
	b.CorrelationID, _ = m["correlation_id"].(string)
	b.CausationID, _ = m["causation_id"].(string)
	pm, _ := m["payload"].(map[string]any)
	p := &payload{}
	for k, x := range pm {
		switch k {
		case "customer":
			if c, ok := x.(map[string]any); ok {
				p.Customer = &customer{}
				p.Customer.ID, _ = c["id"].(string)
				p.Customer.Name, _ = c["name"].(string)
				p.Customer.Email, _ = c["email"].(string)
			}
		case "items":
			xs, _ := x.([]any)
			for _, xi := range xs {
				im, _ := xi.(map[string]any)
				var it item
				it.SKU, _ = im["sku"].(string)
				if q, ok := im["qty"].(int32); ok {
					it.Qty = int(q)
				}
				it.Price = ratFloat(im["price"])
				p.Items = append(p.Items, it)
			}
		case "amount":
			p.Amount = ratFloat(x)
		default:
			if s := p.str(k); s != nil {
				*s, _ = x.(string)
			}
		}
	}
	if b.EventID == "" || b.Type == "" {
		return nil, nil, fmt.Errorf("not a shop event")
	}
	return b, p, nil
}

func ratFloat(x any) float64 {
	if r, ok := x.(*big.Rat); ok {
		f, _ := r.Float64()
		return f
	}
	return 0
}
