package amqp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/eddy-sh/eddy/bus"
)

// QueueInfo describes one queue, for eddy ls and eddy lag.
type QueueInfo struct {
	Name  string
	Vhost string
	// Type is "classic", "quorum" or "stream"; empty when unknown (Via passive).
	Type string
	// Ready and Unacked are messages waiting and delivered-but-unacknowledged.
	// Through the management API both are the broker's last statistics sample
	// (every 5 s by default); through a passive declare Ready is exact (-1 for
	// a queue exclusive to another connection, which hides it) and Unacked
	// unknown (0). A stream queue reports its length as Ready.
	Ready, Unacked int64
	Consumers      int64
	// Via says where the figures come from: "management" or "passive".
	Via string
	// PublishRate, DeliverRate (deliveries and gets) and AckRate are messages
	// per second from the management API; nil when unknown.
	PublishRate, DeliverRate, AckRate *float64
	// DeadLetterExchange is the queue's x-dead-letter-exchange argument, or
	// the dead-letter-exchange of its policy; empty when none (or unknown).
	DeadLetterExchange string
}

// Queues describes the named queues, or with names nil every queue of the
// vhost. It asks the management API; when that is unreachable (or refuses the
// credentials) it falls back to passive declares of the named queues, which
// give ready count and consumers only. Listing every queue needs the API: with
// names nil and no API the error says so. A named queue that does not exist is
// a *bus.NotFoundError.
func (c *Client) Queues(ctx context.Context, names []string) ([]QueueInfo, error) {
	vhost := c.uri.Vhost
	if names == nil {
		qs, err := c.mgmt.queues(ctx)
		if err == nil {
			out := make([]QueueInfo, len(qs))
			for i := range qs {
				out[i] = qs[i].info(vhost)
			}
			return out, nil
		}
		if isMgmtUnusable(err) {
			u, _ := url.Parse(c.mgmt.base)
			return nil, &bus.ConnectError{Transport: "amqp", Addr: u.Host + " (management API)", Err: &tipError{
				msg: fmt.Sprintf("%v; listing every queue needs it: name the queues to check them with passive declares instead", err),
				err: err,
			}}
		}
		return nil, err
	}
	out := make([]QueueInfo, 0, len(names))
	for i, name := range names {
		q, err := c.mgmt.queue(ctx, name)
		if err == nil {
			out = append(out, q.info(vhost))
			continue
		}
		if !isMgmtUnusable(err) {
			return nil, err
		}
		c.logf("queues: %v; using passive declares", err)
		rest, err := c.passiveInfos(ctx, names[i:])
		if err != nil {
			return nil, err
		}
		return append(out, rest...), nil
	}
	return out, nil
}

func (c *Client) passiveInfos(ctx context.Context, names []string) ([]QueueInfo, error) {
	conn, err := c.adminConn(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]QueueInfo, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q, err := c.passive(conn, name)
		if err != nil {
			return nil, err
		}
		out = append(out, QueueInfo{Name: name, Vhost: c.uri.Vhost, Ready: int64(q.Messages), Consumers: int64(q.Consumers), Via: "passive"})
	}
	return out, nil
}

// DeadLetterQueues finds the vhost's dead-letter queues by topology, through
// the management API: every queue bound (directly, or through
// exchange-to-exchange bindings) to an exchange that some queue names as its
// dead-letter exchange (x-dead-letter-exchange, or a policy's
// dead-letter-exchange), whatever the binding's key; and for a queue that
// dead-letters through the default exchange, the queue its dead-letter
// routing key names. The result maps each dead-letter queue to the queues
// that dead-letter into it, sorted.
func (c *Client) DeadLetterQueues(ctx context.Context) (map[string][]string, error) {
	qs, err := c.mgmt.queues(ctx)
	if err != nil {
		return nil, err
	}
	var bs []mgmtBinding
	if err := c.mgmt.get(ctx, c.mgmt.path("bindings", c.mgmt.vhost()), &bs); err != nil {
		if errors.Is(err, errMgmtNotFound) {
			return nil, &bus.NotFoundError{Transport: "amqp", Kind: "vhost", Name: c.mgmt.vhost()}
		}
		return nil, err
	}
	exists := make(map[string]bool, len(qs))
	for _, q := range qs {
		exists[q.Name] = true
	}
	out := map[string]map[string]bool{}
	add := func(dlq, origin string) {
		if dlq == origin || !exists[dlq] {
			return
		}
		if out[dlq] == nil {
			out[dlq] = map[string]bool{}
		}
		out[dlq][origin] = true
	}
	for _, q := range qs {
		v, ok := q.setting("x-dead-letter-exchange", "dead-letter-exchange")
		if !ok {
			continue
		}
		dlx, _ := v.(string)
		if dlx == "" {
			// The default exchange routes by queue name.
			if k, ok := q.setting("x-dead-letter-routing-key", "dead-letter-routing-key"); ok {
				if key, _ := k.(string); key != "" {
					add(key, q.Name)
				}
			}
			continue
		}
		seen := map[string]bool{dlx: true}
		for todo := []string{dlx}; len(todo) > 0; todo = todo[1:] {
			for _, b := range bs {
				if b.Source != todo[0] {
					continue
				}
				switch b.DestinationType {
				case "queue":
					add(b.Destination, q.Name)
				case "exchange":
					if !seen[b.Destination] {
						seen[b.Destination] = true
						todo = append(todo, b.Destination)
					}
				}
			}
		}
	}
	res := make(map[string][]string, len(out))
	for dlq, origins := range out {
		for o := range origins {
			res[dlq] = append(res[dlq], o)
		}
		slices.Sort(res[dlq])
	}
	return res, nil
}
