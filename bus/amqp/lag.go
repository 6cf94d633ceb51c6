package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// QueueHeads returns, by queue name, the time of the message at the head of
// each queue of the vhost (names nil) or of the named queues, as the
// management API reports it (head_message_timestamp): the `timestamp`
// property of the oldest ready message, in whole seconds. Nothing is consumed.
//
// A queue is missing from the result when its head time cannot be known this
// way: it is empty, its head message has no timestamp property, or it is a
// quorum or stream queue (RabbitMQ reports head timestamps for classic queues
// only). Without a usable management API the error says so and nothing is
// known.
func (c *Client) QueueHeads(ctx context.Context, names []string) (map[string]time.Time, error) {
	type head struct {
		Name string      `json:"name"`
		TS   json.Number `json:"head_message_timestamp"`
	}
	out := map[string]time.Time{}
	add := func(h head) {
		if h.TS == "" {
			return
		}
		if s, err := h.TS.Int64(); err == nil && s > 0 {
			out[h.Name] = time.Unix(s, 0)
		}
	}
	if names == nil {
		var hs []head
		if err := c.mgmt.get(ctx, c.mgmt.path("queues", c.mgmt.vhost())+"?columns=name,head_message_timestamp", &hs); err != nil {
			return nil, err
		}
		for _, h := range hs {
			add(h)
		}
		return out, nil
	}
	for _, n := range names {
		var h head
		err := c.mgmt.get(ctx, c.mgmt.path("queues", c.mgmt.vhost(), n)+"?columns=name,head_message_timestamp", &h)
		if errors.Is(err, errMgmtNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		add(h)
	}
	return out, nil
}
