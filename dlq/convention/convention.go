// Package convention knows the dead-letter conventions: which topics and
// queues are dead-letter queues by name, and what a dead letter says about why
// it failed and where it came from (Spring Kafka's kafka_dlt-* headers, Kafka
// Connect's __connect.errors.*, RabbitMQ's x-death and x-first-death-*). It
// depends on package event alone, so that everything which meets dead
// letters (dlq's listing and redrive, trace's timelines, the TUI) reads them
// alike.
package convention

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// Conventions a dead letter can follow.
const (
	Spring  = "spring"  // Spring Kafka's DeadLetterPublishingRecoverer
	Connect = "connect" // Kafka Connect's DeadLetterQueueReporter
	XDeath  = "x-death" // RabbitMQ dead-lettering
	Name    = "name"    // only the topic or queue name says DLQ
)

// Header names of the conventions.
const (
	SpringExceptionFQCN      = "kafka_dlt-exception-fqcn"
	SpringExceptionCauseFQCN = "kafka_dlt-exception-cause-fqcn"
	SpringExceptionMessage   = "kafka_dlt-exception-message"
	SpringOriginalTopic      = "kafka_dlt-original-topic"
	SpringOriginalPartition  = "kafka_dlt-original-partition"
	SpringOriginalOffset     = "kafka_dlt-original-offset"
	SpringOriginalTimestamp  = "kafka_dlt-original-timestamp"
	SpringOriginalGroup      = "kafka_dlt-original-consumer-group"

	ConnectTopic            = "__connect.errors.topic"
	ConnectPartition        = "__connect.errors.partition"
	ConnectOffset           = "__connect.errors.offset"
	ConnectConnectorName    = "__connect.errors.connector.name"
	ConnectExceptionClass   = "__connect.errors.exception.class.name"
	ConnectExceptionMessage = "__connect.errors.exception.message"

	HeaderXDeath             = "x-death"
	HeaderFirstDeathQueue    = "x-first-death-queue"
	HeaderFirstDeathReason   = "x-first-death-reason"
	HeaderFirstDeathExchange = "x-first-death-exchange"
)

// Letter is what a dead letter records about its failure and origin. Unknown
// fields are zero; OriginPartition and OriginOffset are -1 when unknown.
type Letter struct {
	Convention string `json:"convention"`
	// Error is the exception message (Spring, Connect) or the x-death reason
	// (rejected, expired, maxlen, delivery_limit); Class the exception class.
	Error string `json:"error,omitempty"`
	Class string `json:"class,omitempty"`
	// Origin is the topic (Kafka) or queue (RabbitMQ) the message failed on.
	Origin          string    `json:"origin,omitempty"`
	OriginPartition int32     `json:"origin_partition"`
	OriginOffset    int64     `json:"origin_offset"`
	OriginTime      time.Time `json:"origin_time,omitzero"`
	// Consumer is the Spring consumer group or the Connect connector.
	Consumer string `json:"consumer,omitempty"`
	// RabbitMQ: where the message was published before it died, and how
	// often it died from Origin.
	Exchange    string   `json:"exchange,omitempty"`
	RoutingKeys []string `json:"routing_keys,omitempty"`
	Count       int64    `json:"count,omitempty"`
}

// Read returns what e records as a dead letter, and false when it carries no
// dead-letter headers (its source's name may still make it one: see Naming).
func Read(e *event.Event) (Letter, bool) {
	l := Letter{OriginPartition: -1, OriginOffset: -1}
	switch {
	case has(e, SpringExceptionFQCN) || has(e, SpringExceptionMessage) || has(e, SpringOriginalTopic):
		l.Convention = Spring
		l.Error = str(e, SpringExceptionMessage)
		if l.Class = str(e, SpringExceptionCauseFQCN); l.Class == "" {
			l.Class = str(e, SpringExceptionFQCN)
		}
		l.Origin = str(e, SpringOriginalTopic)
		l.Consumer = str(e, SpringOriginalGroup)
		if n, ok := binInt(e, SpringOriginalPartition, 4); ok {
			l.OriginPartition = int32(n)
		}
		if n, ok := binInt(e, SpringOriginalOffset, 8); ok {
			l.OriginOffset = n
		}
		if n, ok := binInt(e, SpringOriginalTimestamp, 8); ok {
			l.OriginTime = time.UnixMilli(n).UTC()
		}
		return l, true
	case has(e, ConnectExceptionClass) || has(e, ConnectExceptionMessage) || has(e, ConnectTopic):
		l.Convention = Connect
		l.Error = str(e, ConnectExceptionMessage)
		l.Class = str(e, ConnectExceptionClass)
		l.Origin = str(e, ConnectTopic)
		l.Consumer = str(e, ConnectConnectorName)
		// Connect writes its numbers as text.
		if n, err := strconv.ParseInt(str(e, ConnectPartition), 10, 32); err == nil {
			l.OriginPartition = int32(n)
		}
		if n, err := strconv.ParseInt(str(e, ConnectOffset), 10, 64); err == nil {
			l.OriginOffset = n
		}
		return l, true
	}
	for _, h := range e.Headers {
		if h.Key != HeaderXDeath {
			continue
		}
		l.Convention = XDeath
		// Most recent first: the death that put it where it is now.
		if arr, ok := h.Typed.([]any); ok && len(arr) > 0 {
			if t, ok := arr[0].(map[string]any); ok {
				l.Error = text(t["reason"])
				l.Origin = text(t["queue"])
				l.Exchange = text(t["exchange"])
				l.Count = integer(t["count"])
				if at, ok := t["time"].(time.Time); ok {
					l.OriginTime = at.UTC()
				}
				if keys, ok := t["routing-keys"].([]any); ok {
					for _, k := range keys {
						l.RoutingKeys = append(l.RoutingKeys, text(k))
					}
				}
			}
		}
		if l.Origin == "" {
			l.Origin = str(e, HeaderFirstDeathQueue)
		}
		if l.Error == "" {
			l.Error = str(e, HeaderFirstDeathReason)
		}
		if l.Exchange == "" {
			l.Exchange = str(e, HeaderFirstDeathExchange)
		}
		return l, true
	}
	return l, false
}

func has(e *event.Event, key string) bool {
	_, ok := e.Header(key)
	return ok
}

func str(e *event.Event, key string) string {
	v, _ := e.Header(key)
	return string(v)
}

// binInt reads Spring's big-endian binary numbers; a header of another size
// (an older Spring wrote some as text) is parsed as text.
func binInt(e *event.Event, key string, size int) (int64, bool) {
	v, ok := e.Header(key)
	if !ok {
		return 0, false
	}
	switch {
	case len(v) == size && size == 4:
		return int64(int32(binary.BigEndian.Uint32(v))), true
	case len(v) == size && size == 8:
		return int64(binary.BigEndian.Uint64(v)), true
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	return n, err == nil
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func integer(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	}
	return 0
}

// Naming says which names are dead-letter queues. The zero value is not
// useful; use DefaultNaming.
type Naming struct {
	// Suffixes, matched case-insensitively, mark a DLQ and are cut off to
	// name its origin (orders.DLT → orders).
	Suffixes []string
	// Prefixes, matched case-insensitively, mark a DLQ and are cut off to
	// name its origin (dlq.orders → orders).
	Prefixes []string
	// Contains, matched case-insensitively anywhere, mark a DLQ whose
	// origin the name does not say.
	Contains []string
}

// DefaultNaming is the suffixes .DLT -dlt _dlt .dlq -dlq _dlq, the
// prefixes dlq. dlq-, and "dead-letter", "deadletter" or "dead_letter"
// anywhere.
func DefaultNaming() Naming {
	return Naming{
		Suffixes: []string{".dlt", "-dlt", "_dlt", ".dlq", "-dlq", "_dlq"},
		Prefixes: []string{"dlq.", "dlq-"},
		Contains: []string{"dead-letter", "deadletter", "dead_letter"},
	}
}

// IsZero reports whether n names no DLQ at all (an unset Naming).
func (n Naming) IsZero() bool {
	return n.Suffixes == nil && n.Prefixes == nil && n.Contains == nil
}

// Is reports whether name is a dead-letter queue's name.
func (n Naming) Is(name string) bool {
	_, ok := n.origin(name)
	return ok
}

// Origin returns the topic or queue the name says a DLQ is for ("" when the
// name does not say), and whether name is a DLQ at all.
func (n Naming) Origin(name string) (string, bool) { return n.origin(name) }

func (n Naming) origin(name string) (string, bool) {
	low := strings.ToLower(name)
	for _, s := range n.Suffixes {
		if strings.HasSuffix(low, strings.ToLower(s)) && len(name) > len(s) {
			return name[:len(name)-len(s)], true
		}
	}
	for _, p := range n.Prefixes {
		if strings.HasPrefix(low, strings.ToLower(p)) && len(name) > len(p) {
			return name[len(p):], true
		}
	}
	for _, c := range n.Contains {
		if strings.Contains(low, strings.ToLower(c)) {
			return "", true
		}
	}
	return "", false
}
