package amqp_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/amqp/amqptest"
)

// setTracing switches the firehose of vhost "/" with rabbitmqctl, as an
// operator would.
func setTracing(t *testing.T, on bool) {
	t.Helper()
	cmd := "trace_off"
	if on {
		cmd = "trace_on"
	}
	if out, err := exec.Command("rabbitmqctl", "-q", cmd, "-p", "/").CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl %s (needs rabbitmqctl on PATH with the node's cookie, as in CI): %v: %s", cmd, err, out)
	}
}

// TestDefaultExchangeOnly: a queue fed only by name cannot be tapped, and the
// error says so plainly with what works; with the firehose on, firehose mode
// rebuilds every message routed to it, and only those.
func TestDefaultExchangeOnly(t *testing.T) {
	url := amqptest.URL(t)
	tp := amqptest.Topology(t, url, amqptest.DefaultExchangeOnly())
	c := newClient(t, url)

	_, err := c.Source(ctxT(t), queueAddr(tp.Queue), bus.ReadOptions{})
	if !errors.Is(err, amqp.ErrUntappable) {
		t.Fatalf("err = %v, want ErrUntappable", err)
	}
	for _, want := range []string{"default exchange", "--backlog", "--firehose", "rabbitmqctl trace_on -p /", tp.Queue} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q: %v", want, err)
		}
	}
	// --backlog works on it as it is.
	amqptest.PublishTo(t, url, "", tp.Queue, msgs(2, "held")...)
	if got := readAll(t, open(t, c, tp.Queue, bus.ReadOptions{Backlog: true, Until: bus.Position{Kind: bus.PosEnd}})); bodies(got) != "held0,held1" {
		t.Fatalf("backlog: %s", bodies(got))
	}

	fire := newClient(t, url, amqp.WithFirehose())
	setTracing(t, false)
	_, err = fire.Source(ctxT(t), queueAddr(tp.Queue), bus.ReadOptions{})
	if !errors.Is(err, amqp.ErrFirehoseOff) || !strings.Contains(err.Error(), "rabbitmqctl trace_on -p /") {
		t.Fatalf("firehose off: err = %v", err)
	}

	setTracing(t, true)
	t.Cleanup(func() { setTracing(t, false) })
	src := open(t, fire, tp.Queue, bus.ReadOptions{Backlog: true})
	when := time.Unix(1700000000, 0).UTC()
	amqptest.PublishTo(t, url, "", tp.Queue, amqp091.Publishing{
		Body: []byte("by name"), MessageId: "m-1", CorrelationId: "c-1", ContentType: "text/plain", DeliveryMode: 2,
		Timestamp: when, Headers: amqp091.Table{"tenant": "acme", "n": int32(7), "bin": []byte{0, 0xff}},
	})
	// Not for the watched queue: must not show.
	amqptest.PublishTo(t, url, "", tp.Queue+".other", amqp091.Publishing{Body: []byte("elsewhere")})
	amqptest.PublishTo(t, url, "", tp.Queue, amqp091.Publishing{Body: []byte("second")})

	got := readN(t, src, 4)
	if bodies(got) != "held0,held1,by name,second" {
		t.Fatalf("firehose: %s, want the backlog then the two live messages", bodies(got))
	}
	e := got[2]
	if e.Queue != tp.Queue || e.Exchange != "" || e.RoutingKey != tp.Queue || e.Properties == nil ||
		e.Properties.MessageID != "m-1" || e.Properties.CorrelationID != "c-1" || e.Properties.ContentType != "text/plain" ||
		e.Properties.DeliveryMode != 2 || !e.Timestamp.Equal(when) {
		t.Fatalf("rebuilt event: %+v props %+v", e, e.Properties)
	}
	if len(e.Headers) != 3 || e.Headers[0].Key != "bin" || string(e.Headers[0].Value) != "\x00\xff" ||
		e.Headers[1].Typed != int32(7) || string(e.Headers[2].Value) != "acme" {
		t.Fatalf("rebuilt headers: %#v", e.Headers)
	}
	if d := amqptest.Depth(t, url, tp.Queue); d != 4 {
		t.Fatalf("depth %d, want 4", d)
	}
}
