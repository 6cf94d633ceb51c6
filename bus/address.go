package bus

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Address names a place events are read from or written to.
//
//	kafka:TOPIC        one Kafka topic
//	kafka:/REGEX/      every Kafka topic whose whole name matches REGEX
//	amqp:QUEUE         one RabbitMQ queue
//	amqp:exchange/EX   a RabbitMQ exchange (a sink; with routing key EX/KEY)
//	file:PATH          a capture in eddy's envelope format; file:- is stdin/stdout
type Address struct {
	Transport string // "kafka", "amqp" or "file"
	// Name is the topic, queue or path. Empty for a regex address.
	Name string
	// Regex is set for kafka:/REGEX/; it is anchored to match whole names.
	Regex *regexp.Regexp
	// Exchange and RoutingKey are set for amqp:exchange/EX[/KEY].
	Exchange   string
	RoutingKey string
}

// String returns the address as the user would type it.
func (a Address) String() string {
	switch {
	case a.Regex != nil:
		return a.Transport + ":/" + strings.TrimSuffix(strings.TrimPrefix(a.Regex.String(), "^(?:"), ")$") + "/"
	case a.Exchange != "" || (a.Transport == "amqp" && a.Name == "" && a.RoutingKey != ""):
		s := "amqp:exchange/" + a.Exchange
		if a.RoutingKey != "" {
			s += "/" + a.RoutingKey
		}
		return s
	}
	return a.Transport + ":" + a.Name
}

// ParseAddress parses one address. Errors say what is wrong with which part.
func ParseAddress(s string) (Address, error) {
	transport, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Address{}, fmt.Errorf("address %q: want TRANSPORT:NAME, e.g. kafka:orders, amqp:orders.dlq, file:capture.jsonl", s)
	}
	a := Address{Transport: transport}
	switch transport {
	case "kafka":
		if len(rest) >= 2 && rest[0] == '/' && rest[len(rest)-1] == '/' {
			// The pattern alone first, so an error quotes what was typed
			// rather than the anchored form eddy matches with.
			if _, err := regexp.Compile(rest[1 : len(rest)-1]); err != nil {
				return Address{}, fmt.Errorf("address %q: bad regular expression: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
			re, err := regexp.Compile("^(?:" + rest[1:len(rest)-1] + ")$")
			if err != nil {
				return Address{}, fmt.Errorf("address %q: bad regular expression: %v", s, err)
			}
			a.Regex = re
			return a, nil
		}
		if err := validTopic(rest); err != nil {
			return Address{}, fmt.Errorf("address %q: %v", s, err)
		}
		a.Name = rest
	case "amqp":
		if ex, ok := strings.CutPrefix(rest, "exchange/"); ok {
			a.Exchange, a.RoutingKey, _ = strings.Cut(ex, "/")
			return a, nil
		}
		if rest == "" {
			return Address{}, fmt.Errorf("address %q: no queue name", s)
		}
		if len(rest) > 255 {
			return Address{}, fmt.Errorf("address %q: a queue name is at most 255 bytes", s)
		}
		a.Name = rest
	case "file":
		if rest == "" {
			return Address{}, fmt.Errorf("address %q: no path (file:- is standard input or output)", s)
		}
		a.Name = rest
	default:
		return Address{}, fmt.Errorf("address %q: unknown transport %q (want kafka, amqp or file)", s, transport)
	}
	return a, nil
}

// validTopic applies Kafka's own rules, so a typo fails here with a clear message
// instead of as a broker error.
func validTopic(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("no topic name")
	case t == "." || t == "..":
		return fmt.Errorf("topic name cannot be %q", t)
	case len(t) > 249:
		return fmt.Errorf("a topic name is at most 249 characters")
	}
	for i, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			// The character as typed, not its first byte; a byte that is
			// not UTF-8 as \xNN.
			what := strconv.QuoteRune(c)
			if c == utf8.RuneError {
				if _, size := utf8.DecodeRuneInString(t[i:]); size == 1 {
					what = fmt.Sprintf("byte 0x%02x", t[i])
				}
			}
			return fmt.Errorf("topic name %q has %s; Kafka allows ASCII letters, digits, '.', '_' and '-' (use /REGEX/ for a pattern)", t, what)
		}
	}
	return nil
}
