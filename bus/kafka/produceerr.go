package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-sh/eddy/bus"
)

// ProduceError says why a record produced to topic through a kgo client
// built from KgoOpts failed, as the sink says it: a *bus.ConnectError for an
// unreachable broker or refused credentials (exit 4), a *bus.NotFoundError
// for a topic gone, else the broker's error with any password removed.
func (c *Client) ProduceError(topic string, err error) error {
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Errorf("kafka: the event is larger than topic %s accepts (max.message.bytes): %w", topic, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return &bus.NotFoundError{Transport: transport, Kind: "topic", Name: topic, Hint: "deleted while writing"}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("kafka: not authorized to write to topic %s: %w", topic, err)
	}
	if cause := c.connectCause(err, false); cause != nil {
		return &bus.ConnectError{Transport: transport, Addr: c.addr, Err: cause}
	}
	return fmt.Errorf("kafka: producing to %s: %w", topic, c.scrub(err))
}
