package amqp

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/event"
)

// streamOffsetHeader is added by the broker to every delivery from a stream
// queue. It says where the message sits, not what it is, so it becomes
// Event.Offset rather than a header.
const streamOffsetHeader = "x-stream-offset"

// headersFrom turns an AMQP header table into event headers sorted by key (AMQP
// tables are unordered). String values are plain byte headers, as a Kafka
// header would be; every other value keeps its AMQP type in Typed.
func headersFrom(t amqp091.Table) []event.Header {
	if len(t) == 0 {
		return nil
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	hs := make([]event.Header, 0, len(keys))
	for _, k := range keys {
		if s, ok := t[k].(string); ok {
			hs = append(hs, event.Header{Key: k, Value: []byte(s)})
			continue
		}
		typed := fromAMQP(t[k])
		hs = append(hs, event.Header{Key: k, Value: event.TypedText(typed), Typed: typed})
	}
	return hs
}

// fromAMQP converts an AMQP field value, as amqp091 decodes it, to the types
// event.Header.Typed documents.
func fromAMQP(v any) any {
	switch x := v.(type) {
	case nil:
		return event.Void{}
	case amqp091.Table:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = fromAMQP(v)
		}
		return m
	case map[string]any:
		return fromAMQP(amqp091.Table(x))
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = fromAMQP(v)
		}
		return l
	case amqp091.Decimal:
		return event.Decimal{Scale: x.Scale, Value: x.Value}
	case time.Time:
		return x.UTC()
	case []byte:
		if x == nil {
			return []byte{}
		}
		return x
	case bool, int8, uint8, int16, uint16, int32, uint32, int64, float32, float64, string:
		return x
	case int:
		return int64(x)
	}
	// amqp091 decodes nothing else; keep the value visible rather than drop it.
	return fmt.Sprint(v)
}

// toAMQP is fromAMQP's inverse, for publishing.
func toAMQP(v any) any {
	switch x := v.(type) {
	case nil, event.Void:
		return nil
	case map[string]any:
		t := make(amqp091.Table, len(x))
		for k, v := range x {
			t[k] = toAMQP(v)
		}
		return t
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = toAMQP(v)
		}
		return l
	case event.Decimal:
		return amqp091.Decimal{Scale: x.Scale, Value: x.Value}
	case bool, int8, uint8, int16, uint16, int32, uint32, int64, float32, float64, string, []byte, time.Time:
		return x
	case int:
		return int64(x)
	}
	return fmt.Sprint(v)
}

// tableFrom turns event headers into an AMQP header table. A repeated key keeps
// its last value (a table cannot repeat keys; the last one is also what
// Event.Header returns). A header with a nil value and no type (a Kafka null
// header) becomes void, so its presence survives.
func tableFrom(hs []event.Header) amqp091.Table {
	if len(hs) == 0 {
		return nil
	}
	t := make(amqp091.Table, len(hs))
	for _, h := range hs {
		switch {
		case h.Typed != nil:
			t[h.Key] = toAMQP(h.Typed)
		case h.Value == nil:
			t[h.Key] = nil
		default:
			t[h.Key] = string(h.Value)
		}
	}
	return t
}

func propertiesFrom(d *amqp091.Delivery) *event.Properties {
	p := event.Properties{
		ContentType: d.ContentType, ContentEncoding: d.ContentEncoding, DeliveryMode: d.DeliveryMode,
		Priority: d.Priority, CorrelationID: d.CorrelationId, ReplyTo: d.ReplyTo, Expiration: d.Expiration,
		MessageID: d.MessageId, Type: d.Type, UserID: d.UserId, AppID: d.AppId,
	}
	if !d.Timestamp.IsZero() {
		p.Timestamp = d.Timestamp.UTC()
	}
	if p == (event.Properties{}) {
		return nil
	}
	return &p
}

// fromDelivery builds the event for a message read from queue.
func fromDelivery(d *amqp091.Delivery, queue string, now time.Time) event.Event {
	e := event.Event{
		Transport: event.AMQP, Offset: -1, Queue: queue, Exchange: d.Exchange, RoutingKey: d.RoutingKey,
		Redelivered: d.Redelivered, Value: d.Body, Properties: propertiesFrom(d), Timestamp: now,
	}
	if e.Value == nil {
		e.Value = []byte{} // AMQP has no null body
	}
	hdrs := d.Headers
	if off, ok := hdrs[streamOffsetHeader]; ok {
		if n, ok := off.(int64); ok {
			e.Offset = n
		}
		hdrs = make(amqp091.Table, len(d.Headers))
		for k, v := range d.Headers {
			if k != streamOffsetHeader {
				hdrs[k] = v
			}
		}
	}
	e.Headers = headersFrom(hdrs)
	if e.Properties != nil && !e.Properties.Timestamp.IsZero() {
		e.Timestamp = e.Properties.Timestamp
	}
	return e
}

// fromTrace rebuilds the original message from a firehose trace message
// (routing key publish.EXCHANGE): the exchange and routing keys are headers, the
// original properties a table, the body the original body.
func fromTrace(d *amqp091.Delivery, queue string, now time.Time) event.Event {
	e := event.Event{Transport: event.AMQP, Offset: -1, Queue: queue, Value: d.Body, Timestamp: now}
	if e.Value == nil {
		e.Value = []byte{}
	}
	e.Exchange, _ = d.Headers["exchange_name"].(string)
	if keys, ok := d.Headers["routing_keys"].([]any); ok && len(keys) > 0 {
		e.RoutingKey, _ = keys[0].(string)
	}
	props, _ := d.Headers["properties"].(amqp091.Table)
	str := func(k string) string { s, _ := props[k].(string); return s }
	p := event.Properties{
		ContentType: str("content_type"), ContentEncoding: str("content_encoding"),
		DeliveryMode: uint8(intOf(props["delivery_mode"])), Priority: uint8(intOf(props["priority"])),
		CorrelationID: str("correlation_id"), ReplyTo: str("reply_to"), Expiration: str("expiration"),
		MessageID: str("message_id"), Type: str("type"), UserID: str("user_id"), AppID: str("app_id"),
	}
	switch ts := props["timestamp"].(type) {
	case time.Time:
		p.Timestamp = ts.UTC()
	case nil:
	default:
		// The tracer writes the timestamp property as a plain integer.
		if n := intOf(ts); n != 0 {
			p.Timestamp = time.Unix(n, 0).UTC()
		}
	}
	if p != (event.Properties{}) {
		e.Properties = &p
		if !p.Timestamp.IsZero() {
			e.Timestamp = p.Timestamp
		}
	}
	if h, ok := props["headers"].(amqp091.Table); ok {
		e.Headers = headersFrom(h)
	}
	return e
}

// tracedTo reports whether a firehose publish trace says the message was routed
// to queue. routed_queues is there since RabbitMQ 3.8; older brokers only let
// eddy recognise messages sent to the queue through the default exchange.
func tracedTo(d *amqp091.Delivery, queue string) bool {
	if routed, ok := d.Headers["routed_queues"].([]any); ok {
		for _, q := range routed {
			if s, _ := q.(string); s == queue {
				return true
			}
		}
		return false
	}
	if ex, _ := d.Headers["exchange_name"].(string); ex != "" {
		return false
	}
	keys, _ := d.Headers["routing_keys"].([]any)
	for _, k := range keys {
		if s, _ := k.(string); s == queue {
			return true
		}
	}
	return false
}

func intOf(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case uint8:
		return int64(x)
	case int16:
		return int64(x)
	case uint16:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	}
	return 0
}

// publishing maps an event to an AMQP message. See the Sink doc for the rules.
func publishing(e *event.Event, user string) amqp091.Publishing {
	p := amqp091.Publishing{Headers: tableFrom(e.Headers), Body: e.Value}
	if p.Body == nil {
		p.Body = []byte{}
	}
	if pr := e.Properties; pr != nil {
		p.ContentType, p.ContentEncoding, p.DeliveryMode, p.Priority = pr.ContentType, pr.ContentEncoding, pr.DeliveryMode, pr.Priority
		p.CorrelationId, p.ReplyTo, p.Expiration, p.MessageId = pr.CorrelationID, pr.ReplyTo, pr.Expiration, pr.MessageID
		p.Timestamp, p.Type, p.AppId = pr.Timestamp, pr.Type, pr.AppID
		// RabbitMQ refuses a user_id other than the connection's own.
		if pr.UserID == user {
			p.UserId = pr.UserID
		}
	} else {
		p.DeliveryMode = amqp091.Persistent
	}
	if p.Timestamp.IsZero() && e.Transport != event.AMQP && !e.Timestamp.IsZero() {
		p.Timestamp = e.Timestamp
	}
	return p
}

// tableFromJSON converts binding arguments from the management API's JSON back
// to AMQP values for binding a tap. JSON cannot say which integer type a value
// had; RabbitMQ's headers exchange compares numbers by value, so int64 (or
// float64 for fractions) matches what the original binding matched.
func tableFromJSON(o map[string]any) amqp091.Table {
	if len(o) == 0 {
		return nil
	}
	t := make(amqp091.Table, len(o))
	for k, v := range o {
		t[k] = fieldFromJSON(v)
	}
	return t
}

func fieldFromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return x.String()
		}
		return f
	case map[string]any:
		return tableFromJSON(x)
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = fieldFromJSON(v)
		}
		return l
	}
	return v // string, bool, nil
}
