package demo

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
)

// Format is how the Kafka shop writes its events' values.
type Format string

// The formats. Every framed one writes the Confluent wire format (magic byte
// 0, the 4-byte schema id, for Protobuf the message-index array, then the
// body) against the demo's own Schema Registry, with one schema per topic
// under the subject "<topic>-value", as Confluent's serializers with the
// default TopicNameStrategy do.
const (
	// FormatPlain is the default: the bare JSON event, no registry.
	FormatPlain Format = "plain"
	// FormatAvro: Avro binary. Each topic's schema is a record with the
	// envelope (event_id a uuid, occurred_at a timestamp-millis,
	// causation_id a ["null","string"] union) and a payload record (a union
	// of records on topics with two event types) holding a nested Customer
	// record, an array of LineItem records and decimal amounts.
	FormatAvro Format = "avro"
	// FormatProtobuf: Protobuf binary. Each topic's .proto imports
	// google/protobuf/timestamp.proto and shop/common.proto (Customer,
	// LineItem), a schema of its own that the topic schemas reference by
	// subject and version. Single-event topics use the first message (index
	// [0], written as the one-byte shortcut); payments and inventory carry two
	// event messages nested in a container message (indexes [0,0] and [0,1]).
	FormatProtobuf Format = "protobuf"
	// FormatJSONSchema: the same JSON as FormatPlain, framed with the id of a
	// JSON Schema.
	FormatJSONSchema Format = "json"
)

// Formats returns the names Config.Format accepts, the default first.
func Formats() []string {
	return []string{string(FormatPlain), string(FormatAvro), string(FormatProtobuf), string(FormatJSONSchema)}
}

// ParseFormat reads a format name ("" is FormatPlain).
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatPlain, nil
	}
	for _, f := range Formats() {
		if s == f {
			return Format(s), nil
		}
	}
	return "", fmt.Errorf("%w: format %q (want one of %s)", ErrConfig, s, strings.Join(Formats(), ", "))
}

// framed says whether values carry a schema id from the demo's registry.
func (f Format) framed() bool { return f != FormatPlain && f != "" }

// codec writes and reads the shop's events on Kafka. The services decode
// what they consume with the same codec, as a deserializer with the
// registry's schemas cached would.
type codec interface {
	// encode writes the event b (its Payload ignored) with payload p for
	// topic.
	encode(topic string, b *body, p *payload) ([]byte, error)
	// decode reads a value the way the consuming service's deserializer does,
	// describing what it cannot read as that deserializer would.
	decode(v []byte) (*body, *payload, *failure)
	// contentType is the CloudEvents content-type header of an encoded value.
	contentType() string
}

// plainCodec is the bare JSON event.
type plainCodec struct{}

func (plainCodec) encode(_ string, b *body, p *payload) ([]byte, error) {
	return marshalEvent(b, p), nil
}

func (plainCodec) decode(v []byte) (*body, *payload, *failure) { return decode(v) }
func (plainCodec) contentType() string                         { return "application/json" }

// marshalEvent is the JSON of an event: the envelope b with payload p.
func marshalEvent(b *body, p *payload) []byte {
	pj, err := json.Marshal(p)
	if err != nil {
		panic(err) // a payload of plain fields always marshals
	}
	c := *b
	c.Payload = pj
	v, err := json.Marshal(&c)
	if err != nil {
		panic(err)
	}
	return v
}

// wire writes and reads the Confluent wire format's header.
var wire sr.ConfluentHeader

// serdeFailure is what a Confluent deserializer throws on a value it cannot
// read: a SerializationException, whose message names the format and the id.
func (c *framedCodec) serdeFailure(msg string) *failure {
	return &failure{
		Deserialization: true,
		CauseClass:      "org.apache.kafka.common.errors.SerializationException",
		CauseMessage:    msg,
		Serde:           c.serde,
		Converter:       c.converter,
	}
}

// framedCodec reads and writes the wire format around a body codec of one
// of the framed formats.
type framedCodec struct {
	name  string // as Confluent's exception messages name the format: Avro, Protobuf, JSON
	ctype string
	// serde and converter are the Confluent classes that read the format in
	// a Spring listener and in Kafka Connect, for the dead letters.
	serde, converter string
	// ids maps each topic to its schema's id.
	ids map[string]int
	// body encodes the event for topic after the header (and, for
	// Protobuf, says the message index).
	body func(topic string, b *body, p *payload) (index []int, v []byte, err error)
	// read decodes the rest of a value (after the id) written with schema
	// id; ok=false: the id is not one of ours.
	read func(id int, rest []byte) (b *body, p *payload, known bool, err error)
}

func (c *framedCodec) encode(topic string, b *body, p *payload) ([]byte, error) {
	id, ok := c.ids[topic]
	if !ok {
		return nil, fmt.Errorf("demo: no %s schema for topic %s", c.name, topic)
	}
	index, v, err := c.body(topic, b, p)
	if err != nil {
		return nil, err
	}
	out, _ := wire.AppendEncode(make([]byte, 0, 8+len(v)), id, index)
	return append(out, v...), nil
}

func (c *framedCodec) decode(v []byte) (*body, *payload, *failure) {
	id, rest, err := wire.DecodeID(v)
	if err != nil {
		return nil, nil, c.serdeFailure("Unknown magic byte!")
	}
	b, p, known, err := c.read(id, rest)
	switch {
	case !known:
		return nil, nil, c.serdeFailure(fmt.Sprintf("Error retrieving %s value schema for id %d", c.name, id))
	case err != nil:
		return nil, nil, c.serdeFailure(fmt.Sprintf("Error deserializing %s message for id %d", c.name, id))
	}
	return b, p, nil
}

func (c *framedCodec) contentType() string { return c.ctype }

// payloadFields lists, per event type, the payload fields it carries, in
// schema order: the same fields its JSON has.
var payloadFields = map[string][]string{
	OrderPlaced:       {"order_id", "customer", "items", "amount", "currency"},
	PaymentAuthorized: {"order_id", "customer", "items", "amount", "currency", "payment_id", "psp"},
	PaymentFailed:     {"order_id", "customer", "amount", "currency", "reason"},
	StockReserved:     {"order_id", "customer", "items", "reservation_id", "warehouse"},
	OutOfStock:        {"order_id", "customer", "sku", "warehouse"},
	OrderShipped:      {"order_id", "customer", "shipment_id", "carrier", "tracking"},
	EmailSent:         {"order_id", "to", "template"},
}

// fieldNumbers are the payload fields' Protobuf field numbers, the same in
// every message, so a field keeps its number wherever it appears.
var fieldNumbers = map[string]int{
	"order_id": 1, "customer": 2, "items": 3, "amount": 4, "currency": 5, "payment_id": 6, "psp": 7,
	"reason": 8, "reservation_id": 9, "warehouse": 10, "sku": 11, "shipment_id": 12, "carrier": 13,
	"tracking": 14, "to": 15, "template": 16,
}

// topicEvents are the event types each event topic carries, with the name of
// the schema's top-level record or message.
var topicEvents = []struct {
	topic, record string
	types         []string
}{
	{TopicOrders, "OrderEvent", []string{OrderPlaced}},
	{TopicPayments, "PaymentEvent", []string{PaymentAuthorized, PaymentFailed}},
	{TopicInventory, "InventoryEvent", []string{StockReserved, OutOfStock}},
	{TopicShipping, "ShipmentEvent", []string{OrderShipped}},
	{TopicNotifications, "NotificationEvent", []string{EmailSent}},
}

// str returns the payload's string field by its JSON name, or nil for a
// field that is not a string.
func (p *payload) str(name string) *string {
	switch name {
	case "order_id":
		return &p.OrderID
	case "currency":
		return &p.Currency
	case "payment_id":
		return &p.PaymentID
	case "psp":
		return &p.PSP
	case "reason":
		return &p.Reason
	case "reservation_id":
		return &p.ReservationID
	case "warehouse":
		return &p.Warehouse
	case "sku":
		return &p.SKU
	case "shipment_id":
		return &p.ShipmentID
	case "carrier":
		return &p.Carrier
	case "tracking":
		return &p.Tracking
	case "to":
		return &p.To
	case "template":
		return &p.Template
	}
	return nil
}

// decimal writes an amount with its two decimals, as a decimal schema with
// scale 2 (or a price string) holds it.
func decimal(f float64) string { return fmt.Sprintf("%.2f", f) }
