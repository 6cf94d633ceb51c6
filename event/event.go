// Package event defines eddy's one value type, Event, the identities derived from it
// (Fields, extracted by a Schema), and the JSONL capture format (the envelope) that
// every eddy command reads and writes.
//
// An Event is what one broker record or message is, transport-neutral enough that
// every stage (filter, printer, correlator, replay) handles Kafka and RabbitMQ alike,
// yet lossless: key, value and headers keep their exact bytes (binary included), and
// AMQP header tables keep their AMQP types.
package event

import (
	"bytes"
	"time"
)

// Transport names where an event was read from.
type Transport string

// The transports eddy speaks.
const (
	Kafka Transport = "kafka"
	AMQP  Transport = "amqp"
)

// Event is one record (Kafka) or message (AMQP).
//
// Byte slices may alias the buffers of the source that produced the event; the
// event owns them from then on, and stages must not modify them in place.
type Event struct {
	Transport Transport

	// Topic, Partition and Offset locate a Kafka record. For AMQP, Offset is the
	// stream offset when the message came from a stream queue, else -1.
	Topic     string
	Partition int32
	Offset    int64

	// Timestamp is the record's timestamp (Kafka: producer or log-append time) or,
	// for AMQP, the message's timestamp property when set, else the time eddy
	// received it.
	Timestamp time.Time

	// Key is nil for a null key (and for AMQP, which has no key); Value is nil for
	// a tombstone. Empty and nil differ and both survive the envelope.
	Key   []byte
	Value []byte

	// Headers keep their order and duplicate keys. For AMQP they are the message's
	// header table, sorted by key (AMQP tables are unordered on the wire).
	Headers []Header

	// KeyDecoded and ValueDecoded, when a schema decoder ran (schema.Source),
	// are the key and value as JSON and the schema that decoded them; nil
	// when decoding was not asked for, or the payload is not in a schema's
	// wire format. Key and Value keep the bytes.
	KeyDecoded, ValueDecoded *Decoded

	// AMQP-only fields.
	Queue       string
	Exchange    string
	RoutingKey  string
	Redelivered bool
	Properties  *Properties
}

// Header is one record header. Value holds bytes for Kafka headers and for AMQP
// string and byte-array headers. Other AMQP field values (numbers, booleans,
// timestamps, tables, arrays, decimals, void) are kept in Typed with their AMQP
// type, and Value then holds their text rendering for filters and display.
type Header struct {
	Key   string
	Value []byte
	// Typed, when non-nil, is the AMQP value: one of bool, int8, uint8, int16,
	// uint16, int32, uint32, int64, float32, float64, Decimal, string, []byte,
	// time.Time, map[string]any (a table), []any (an array) or Void.
	Typed any
}

// Decimal is the AMQP decimal field type: Value × 10^-Scale.
type Decimal struct {
	Scale uint8
	Value int32
}

// Void is the AMQP void field value ('V'), which is distinct from an absent header.
type Void struct{}

// Properties are the AMQP basic properties of a message. Zero values mean unset.
type Properties struct {
	ContentType     string    `json:"content_type,omitempty"`
	ContentEncoding string    `json:"content_encoding,omitempty"`
	DeliveryMode    uint8     `json:"delivery_mode,omitempty"`
	Priority        uint8     `json:"priority,omitempty"`
	CorrelationID   string    `json:"correlation_id,omitempty"`
	ReplyTo         string    `json:"reply_to,omitempty"`
	Expiration      string    `json:"expiration,omitempty"`
	MessageID       string    `json:"message_id,omitempty"`
	Timestamp       time.Time `json:"timestamp,omitzero"`
	Type            string    `json:"type,omitempty"`
	UserID          string    `json:"user_id,omitempty"`
	AppID           string    `json:"app_id,omitempty"`
}

// Source returns the name of the topic (Kafka) or queue (AMQP) the event was read
// from; for an AMQP message seen through a tap or published to an exchange it
// falls back to the exchange.
func (e *Event) Source() string {
	if e.Transport == AMQP {
		if e.Queue != "" {
			return e.Queue
		}
		return e.Exchange
	}
	return e.Topic
}

// Header returns the value of the last header named key, and whether there was
// one. The last one wins because that is how Kafka clients (Spring's among them)
// read a repeated header.
func (e *Event) Header(key string) ([]byte, bool) {
	for i := len(e.Headers) - 1; i >= 0; i-- {
		if e.Headers[i].Key == key {
			return e.Headers[i].Value, true
		}
	}
	return nil, false
}

// Equal reports whether two events carry the same origin, key, value, headers,
// properties and decodings (KeyDecoded, ValueDecoded: their JSON compared
// without the whitespace between tokens), distinguishing nil from empty bytes. Used by tests and by the
// conformance suite to prove adapters lossless.
func Equal(a, b *Event) bool {
	if a.Transport != b.Transport || a.Topic != b.Topic || a.Partition != b.Partition ||
		a.Offset != b.Offset || !a.Timestamp.Equal(b.Timestamp) ||
		a.Queue != b.Queue || a.Exchange != b.Exchange || a.RoutingKey != b.RoutingKey ||
		a.Redelivered != b.Redelivered {
		return false
	}
	if !bytesEqualNil(a.Key, b.Key) || !bytesEqualNil(a.Value, b.Value) {
		return false
	}
	if !HeadersEqual(a.Headers, b.Headers) {
		return false
	}
	if !decodedEqual(a.KeyDecoded, b.KeyDecoded) || !decodedEqual(a.ValueDecoded, b.ValueDecoded) {
		return false
	}
	switch {
	case a.Properties == nil && b.Properties == nil:
	case a.Properties == nil || b.Properties == nil:
		return false
	default:
		pa, pb := *a.Properties, *b.Properties
		if !pa.Timestamp.Equal(pb.Timestamp) {
			return false
		}
		pa.Timestamp, pb.Timestamp = time.Time{}, time.Time{}
		if pa != pb {
			return false
		}
	}
	return true
}

// decodedEqual compares two decodings: the same schema and failure, and
// the same JSON up to the whitespace between its tokens (the envelope
// writes it compacted).
func decodedEqual(a, b *Decoded) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Schema != b.Schema || a.Fail != b.Fail || (a.JSON == nil) != (b.JSON == nil) {
		return false
	}
	return bytes.Equal(appendCompactJSON(nil, a.JSON), appendCompactJSON(nil, b.JSON))
}

// Payload returns e's value as readers of its content mean it (filters,
// templates, the schema's id lookup): the decoded JSON when a schema decoded
// it, else the bytes. Replay and redrive copy Value, never this.
func (e *Event) Payload() []byte {
	if d := e.ValueDecoded; d != nil && d.JSON != nil {
		return d.JSON
	}
	return e.Value
}

// KeyPayload is Payload for the key.
func (e *Event) KeyPayload() []byte {
	if d := e.KeyDecoded; d != nil && d.JSON != nil {
		return d.JSON
	}
	return e.Key
}

// HeadersEqual reports whether two header lists are the same, in order, with the
// same bytes and typed values.
func HeadersEqual(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytesEqualNil(a[i].Value, b[i].Value) || !typedEqual(a[i].Typed, b[i].Typed) {
			return false
		}
	}
	return true
}

func bytesEqualNil(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func typedEqual(a, b any) bool {
	switch av := a.(type) {
	case nil:
		return b == nil
	case []byte:
		bv, ok := b.([]byte)
		return ok && bytes.Equal(av, bv)
	case time.Time:
		bv, ok := b.(time.Time)
		return ok && av.Equal(bv)
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, v := range av {
			w, ok := bv[k]
			if !ok || !typedEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !typedEqual(av[i], bv[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}
