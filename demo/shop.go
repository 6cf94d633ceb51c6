package demo

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// body is the JSON every shop event is: the field names are the ones
// event.DefaultSchema reads without configuration.
type body struct {
	EventID       string          `json:"event_id"`
	Type          string          `json:"type"`
	OccurredAt    string          `json:"occurred_at"`
	CorrelationID string          `json:"correlation_id"`
	CausationID   string          `json:"causation_id,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// Payloads. One struct for all types keeps decoding downstream trivial; the
// omitempty tags make each type carry only what it needs.
type payload struct {
	OrderID       string    `json:"order_id"`
	Customer      *customer `json:"customer,omitempty"`
	Items         []item    `json:"items,omitempty"`
	Amount        float64   `json:"amount,omitempty"`
	Currency      string    `json:"currency,omitempty"`
	PaymentID     string    `json:"payment_id,omitempty"`
	PSP           string    `json:"psp,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	ReservationID string    `json:"reservation_id,omitempty"`
	Warehouse     string    `json:"warehouse,omitempty"`
	SKU           string    `json:"sku,omitempty"`
	ShipmentID    string    `json:"shipment_id,omitempty"`
	Carrier       string    `json:"carrier,omitempty"`
	Tracking      string    `json:"tracking,omitempty"`
	To            string    `json:"to,omitempty"`
	Template      string    `json:"template,omitempty"`
}

type customer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type item struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

// failure is an exception a service threw on an event, in the terms the
// dead-letter writers need.
type failure struct {
	// Class and Message of the exception the application threw.
	Class, Message string
	// Frames are the application frames of its stack trace, innermost first.
	Frames []string
	// Deserialization marks a record that could not be read at all.
	Deserialization bool
	// Cause is the parser's exception for a deserialization failure.
	CauseClass, CauseMessage string
	// Serde, for a value of a framed format, is the Confluent deserializer
	// that threw, and Converter the Connect converter that calls it; empty
	// for plain JSON (Spring's JsonDeserializer and Connect's JsonConverter
	// over Jackson).
	Serde, Converter string
}

func (f *failure) Error() string { return f.Class + ": " + f.Message }

// service is one consuming service of the shop, transport-neutral: the Kafka and
// AMQP runners feed it events and deliver what it returns.
type service struct {
	name  string
	group string   // Kafka consumer group
	input []string // Kafka topics it reads
	// bindings are the AMQP (exchange service, routing key) pairs its work
	// queue is bound to.
	bindings    [][2]string
	accepts     map[string]bool
	output      string // the topic / exchange (service name) it emits to
	deadLetters bool
	handle      func(r *lockedRand, failRate float64, in *body, p *payload) ([]*outEvent, *failure)
}

// outEvent is an event a service emits: its type and payload; ids, times and
// causation are filled in by emit.
type outEvent struct {
	typ string
	p   payload
}

var shopServices = []*service{
	{
		name: "payments", group: "payments", input: []string{TopicOrders}, output: TopicPayments,
		bindings: [][2]string{{"orders", "#"}}, accepts: set(OrderPlaced), deadLetters: true,
		handle: handlePayments,
	},
	{
		name: "inventory", group: "connect-inventory", input: []string{TopicPayments}, output: TopicInventory,
		bindings: [][2]string{{"payments", PaymentAuthorized}}, accepts: set(PaymentAuthorized), deadLetters: true,
		handle: handleInventory,
	},
	{
		name: "shipping", group: "shipping", input: []string{TopicInventory}, output: TopicShipping,
		bindings: [][2]string{{"inventory", StockReserved}}, accepts: set(StockReserved),
		handle: handleShipping,
	},
	{
		name: "notifications", group: "notifications", input: []string{TopicShipping, TopicPayments, TopicInventory}, output: TopicNotifications,
		bindings: [][2]string{{"shipping", OrderShipped}, {"payments", PaymentFailed}, {"inventory", OutOfStock}},
		accepts:  set(OrderShipped, PaymentFailed, OutOfStock),
		handle:   handleNotifications,
	},
}

func set(types ...string) map[string]bool {
	m := map[string]bool{}
	for _, t := range types {
		m[t] = true
	}
	return m
}

// Shares of the business outcomes that are not failures: an order's card is
// declined, an item is out of stock. These are ordinary events, not dead letters.
const (
	declineRate    = 0.05
	outOfStockRate = 0.04
)

func handlePayments(r *lockedRand, failRate float64, in *body, p *payload) ([]*outEvent, *failure) {
	switch x := r.Float64(); {
	case x < failRate:
		return nil, &failure{
			Class:   "com.example.shop.payments.PaymentGatewayException",
			Message: fmt.Sprintf("acme-pay: no answer within 2000 ms for order %s after 3 attempts", p.OrderID),
			Frames: []string{
				"com.example.shop.payments.AcmePayClient.authorize(AcmePayClient.java:88)",
				"com.example.shop.payments.PaymentListener.onOrderPlaced(PaymentListener.java:41)",
			},
		}
	case x < failRate+declineRate:
		return []*outEvent{{typ: PaymentFailed, p: payload{OrderID: p.OrderID, Customer: p.Customer, Amount: p.Amount, Currency: p.Currency, Reason: "card_declined"}}}, nil
	}
	return []*outEvent{{typ: PaymentAuthorized, p: payload{OrderID: p.OrderID, Customer: p.Customer, Items: p.Items,
		Amount: p.Amount, Currency: p.Currency, PaymentID: "pay-" + r.Hex(10), PSP: "acme-pay"}}}, nil
}

func handleInventory(r *lockedRand, failRate float64, in *body, p *payload) ([]*outEvent, *failure) {
	sku := "sku-0000"
	if len(p.Items) > 0 {
		sku = p.Items[r.IntN(len(p.Items))].SKU
	}
	switch x := r.Float64(); {
	case x < failRate:
		return nil, &failure{
			Class:   "org.apache.kafka.connect.errors.DataException",
			Message: fmt.Sprintf("cannot reserve %s for order %s: SKU is not in the catalog of warehouse ams-1", sku, p.OrderID),
			Frames: []string{
				"com.example.shop.inventory.ReservationSinkTask.reserve(ReservationSinkTask.java:112)",
				"com.example.shop.inventory.ReservationSinkTask.put(ReservationSinkTask.java:64)",
			},
		}
	case x < failRate+outOfStockRate:
		return []*outEvent{{typ: OutOfStock, p: payload{OrderID: p.OrderID, Customer: p.Customer, SKU: sku, Warehouse: "ams-1"}}}, nil
	}
	return []*outEvent{{typ: StockReserved, p: payload{OrderID: p.OrderID, Customer: p.Customer, Items: p.Items,
		ReservationID: "res-" + r.Hex(10), Warehouse: "ams-1"}}}, nil
}

var carriers = []string{"DHL", "PostNL", "UPS", "DPD"}

func handleShipping(r *lockedRand, _ float64, in *body, p *payload) ([]*outEvent, *failure) {
	c := carriers[r.IntN(len(carriers))]
	return []*outEvent{{typ: OrderShipped, p: payload{OrderID: p.OrderID, Customer: p.Customer,
		ShipmentID: "shp-" + r.Hex(10), Carrier: c, Tracking: strings.ToUpper(c[:2]) + r.Digits(12)}}}, nil
}

func handleNotifications(_ *lockedRand, _ float64, in *body, p *payload) ([]*outEvent, *failure) {
	tmpl := map[string]string{OrderShipped: "order-shipped", PaymentFailed: "payment-failed", OutOfStock: "out-of-stock"}[in.Type]
	to := ""
	if p.Customer != nil {
		to = p.Customer.Email
	}
	return []*outEvent{{typ: EmailSent, p: payload{OrderID: p.OrderID, To: to, Template: tmpl}}}, nil
}

// decode reads an event body the way the services' JSON deserializers do, and
// describes a failure the way their parser (Jackson) would.
func decode(v []byte) (*body, *payload, *failure) {
	var b body
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, nil, parseFailure(v, err)
	}
	var p payload
	if len(b.Payload) > 0 {
		if err := json.Unmarshal(b.Payload, &p); err != nil {
			return nil, nil, parseFailure(v, err)
		}
	}
	return &b, &p, nil
}

func parseFailure(v []byte, err error) *failure {
	f := &failure{Deserialization: true}
	switch {
	case len(v) > 0 && v[0] < 0x20:
		// What Jackson says about a control byte where a value should start,
		// e.g. the 0x00 magic byte of Confluent's Avro wire format.
		f.CauseClass = "com.fasterxml.jackson.core.JsonParseException"
		f.CauseMessage = fmt.Sprintf("Illegal character ((CTRL-CHAR, code %d)): only regular white space (\\r, \\n, \\t) is allowed between tokens\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 2]", v[0])
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		f.CauseClass = "com.fasterxml.jackson.core.io.JsonEOFException"
		f.CauseMessage = fmt.Sprintf("Unexpected end-of-input: expected close marker for Object (start marker at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1])\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: %d]", len(v)+1)
	default:
		f.CauseClass = "com.fasterxml.jackson.core.JsonParseException"
		f.CauseMessage = "Unexpected character: " + err.Error() + "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1]"
	}
	return f
}

// newEvent fills in the envelope of an event caused by cause (nil for a new
// order).
func newEvent(r *lockedRand, now time.Time, typ, order string, cause *body, p payload) (*body, []byte) {
	b := newBody(r, now, typ, order, cause)
	return b, marshalEvent(b, &p)
}

// newBody is the envelope of an event caused by cause (nil for a new order),
// its Payload left for the encoder.
func newBody(r *lockedRand, now time.Time, typ, order string, cause *body) *body {
	b := &body{EventID: r.UUID(), Type: typ, OccurredAt: formatTime(now), CorrelationID: order}
	if cause != nil {
		b.CausationID = cause.EventID
	}
	return b
}

// formatTime is RFC 3339 in UTC with milliseconds, as most producers write it.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
}

var customers = []customer{
	{ID: "cus-1001", Name: "Ada Lovelace", Email: "ada@example.com"},
	{ID: "cus-1002", Name: "Grace Hopper", Email: "grace@example.com"},
	{ID: "cus-1003", Name: "Edsger Dijkstra", Email: "edsger@example.org"},
	{ID: "cus-1004", Name: "Barbara Liskov", Email: "barbara@example.net"},
	{ID: "cus-1005", Name: "Ken Thompson", Email: "ken@example.com"},
	{ID: "cus-1006", Name: "Frances Allen", Email: "fran@example.org"},
}

// evilName is a customer name a hostile sign-up form let through: it sets the
// terminal's title, clears the screen and paints text red when printed raw.
const evilName = "\x1b]0;pwned\x07\x1b[2J\x1b[31mMallory\x1b[0m"

var catalog = []item{
	{SKU: "sku-1001", Price: 19.99}, {SKU: "sku-1002", Price: 4.50}, {SKU: "sku-1003", Price: 129.00},
	{SKU: "sku-1004", Price: 7.25}, {SKU: "sku-1005", Price: 49.90}, {SKU: "sku-1006", Price: 2.99},
}

// newOrder makes the payload of an OrderPlaced.
func newOrder(r *lockedRand, id string, evil bool) payload {
	c := customers[r.IntN(len(customers))]
	if evil {
		c = customer{ID: "cus-6666", Name: evilName, Email: "mallory@example.com"}
	}
	n := 1 + r.IntN(3)
	p := payload{OrderID: id, Customer: &c, Currency: "EUR"}
	var total float64
	for range n {
		it := catalog[r.IntN(len(catalog))]
		it.Qty = 1 + r.IntN(4)
		total += float64(it.Qty) * it.Price
		p.Items = append(p.Items, it)
	}
	p.Amount = math.Round(total*100) / 100
	return p
}

// Poison kinds, in the order they take turns.
const (
	poisonTruncatedJSON = iota // into orders: payments cannot deserialize it
	poisonAvro                 // into payments: inventory's JSON converter cannot read it
	poisonEscapes              // an OrderPlaced with escape sequences in a field
	poisonKinds
)

// poisonMsg is a message a legacy importer writes: its envelope (for the
// headers), the broken value, and what it claims to be.
type poisonMsg struct {
	b           *body
	p           *payload // the order, for the truncated kind
	typ         string
	value       []byte
	contentType string
	now         time.Time
}

// newPoison makes a truncated-JSON OrderPlaced (as a producer that crashed
// mid-write leaves it) or an Avro-encoded PaymentAuthorized.
func newPoison(r *lockedRand, now time.Time, kind int64) poisonMsg {
	order := "ord-" + r.Hex(10)
	if kind == poisonAvro {
		b := &body{EventID: r.UUID(), Type: PaymentAuthorized, OccurredAt: formatTime(now), CorrelationID: order}
		return poisonMsg{b: b, typ: PaymentAuthorized, value: avroRecord(r, order), contentType: "application/avro", now: now}
	}
	p := newOrder(r, order, false)
	b, v := newEvent(r, now, OrderPlaced, order, nil, p)
	return poisonMsg{b: b, p: &p, typ: OrderPlaced, value: v[:len(v)*2/3], contentType: "application/json", now: now}
}

// avroRecord is a PaymentAuthorized as a producer that switched to Avro with a
// schema registry writes it: magic byte 0, a 4-byte schema id, then Avro
// binary (zig-zag varints and length-prefixed strings). The customer name holds
// raw escape bytes, so a tool that prints payloads raw is caught out.
func avroRecord(r *lockedRand, order string) []byte {
	b := []byte{0, 0, 0, 0, 42}
	str := func(s string) {
		b = binary.AppendVarint(b, int64(len(s)))
		b = append(b, s...)
	}
	str(order)
	str("pay-" + r.Hex(10))
	b = binary.AppendVarint(b, int64(r.IntN(50000)))
	str("EUR")
	str("\x1b[31mrefund me\x1b[0m")
	return b
}

// lockedRand is a seeded source shared by one component's goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(seed, stream uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, stream))}
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) NormFloat64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.NormFloat64()
}

func (l *lockedRand) ExpFloat64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.ExpFloat64()
}

const hexDigits = "0123456789abcdef"

func (l *lockedRand) Hex(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[l.r.IntN(16)]
	}
	return string(b)
}

func (l *lockedRand) Digits(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + l.r.IntN(10))
	}
	return string(b)
}

// UUID returns a random (version 4) UUID.
func (l *lockedRand) UUID() string {
	l.mu.Lock()
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], l.r.Uint64())
	binary.BigEndian.PutUint64(u[8:], l.r.Uint64())
	l.mu.Unlock()
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// sample draws one processing time.
func (l Latency) sample(r *lockedRand) time.Duration {
	if l.Median <= 0 {
		return 0
	}
	if l.P99 <= l.Median {
		return l.Median
	}
	// ln X ~ N(mu, sigma): the median is e^mu and the 99th percentile
	// e^(mu + 2.3263 sigma).
	sigma := math.Log(float64(l.P99)/float64(l.Median)) / 2.3263
	d := float64(l.Median) * math.Exp(sigma*r.NormFloat64())
	// Cap the tail so one unlucky draw cannot freeze a partition.
	return time.Duration(math.Min(d, 3*float64(l.P99)))
}
