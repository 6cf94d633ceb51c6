package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/demo"
)

// demoContext is the config context `eddy demo` writes, so every other command
// reaches the demo with --context demo.
const demoContext = "demo"

// DemoOptions are `eddy demo`'s flags.
type DemoOptions struct {
	Port     int
	Rate     float64
	FailRate float64
	Slow     []string
	Stall    []string
	DataDir  string
	AMQPURL  string

	// hasCommand says whether the running eddy has a command, so the hints
	// name only commands that exist in this build.
	hasCommand func(name string) bool
}

func newCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an in-process Kafka with a simulated shop to try eddy on",
		Long: `Start a Kafka cluster inside this process (franz-go's kfake, on 127.0.0.1) and a
small simulated shop on it, so every eddy command has a living system to work on,
with nothing installed. Its services consume and produce real events with real
consumer groups:

  orders -> OrderPlaced -> payments -> PaymentAuthorized | PaymentFailed
    -> inventory -> StockReserved | OutOfStock -> shipping -> OrderShipped
    -> notifications -> EmailSent

TOPICS
  orders payments inventory shipping notifications   the events (key = order id)
  payments.DLT    payments' failures, with Spring Kafka's kafka_dlt-* headers
  inventory-dlq   inventory's failures, with Kafka Connect's __connect.errors.* headers
GROUPS
  payments  connect-inventory  shipping  notifications

Events are JSON (event_id, type, occurred_at, correlation_id = the order,
causation_id = the event that caused it, payload) with CloudEvents ce_* headers
and a W3C traceparent that follows each order through every service. A share of
events fails and is dead-lettered (--fail-rate); now and then a poison message
arrives: truncated JSON, an Avro record, or an order whose customer name holds
terminal escape sequences. Orders come at --rate per second, with bursts.

--slow SERVICE makes that consumer fall behind, so its lag grows while the others
keep up; --stall SERVICE makes it hang without committing. SERVICE is payments,
inventory, shipping or notifications; both flags repeat or take a list.

The demo writes a context named "demo" into eddy's config file (see eddy config),
so other commands reach it with --context demo. It runs until Ctrl-C, then stops
everything and exits 0. The cluster lives in memory unless --data-dir keeps it.

RETENTION
  The topics keep the last 30 minutes of events, at most 64 MiB for the five
  event topics together, and dead letters for a day, at most 16 MiB for the
  two DLQs together. Older records are deleted (checked every minute), so a
  demo (or eddy tui --demo) left open stays bounded in memory; tail, trace and
  replay reach back as far as what is kept.

--amqp URL runs the same shop over that RabbitMQ instead: topic exchanges
shop.orders ... shop.notifications (routing key = event type), a work queue per
service (shop.payments.inbox, ...), and the dead-letter queues shop.payments.dlq
and shop.inventory.dlq, fed by the broker itself through x-dead-letter-exchange,
so dead letters carry real x-death headers. Nothing else on the broker is touched.`,
		Example: `  eddy demo
  # then, in another terminal
  eddy tail 'kafka:/.*/' --context demo
  # make payments fall behind, keep the data for next time
  eddy demo --slow payments --data-dir ~/.cache/eddy-demo
  # the same shop on a local RabbitMQ
  eddy demo --amqp amqp://guest:guest@localhost:5672/`,
		Args: cobra.NoArgs,
		// Ctrl-C is how a demo ends: it is success, not an interruption.
		Annotations: map[string]string{annotationInterruptOK: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			o.hasCommand = func(name string) bool {
				c, _, err := root.Find([]string{name})
				return err == nil && c != root && c.Name() == name
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return demoRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Port, "port", demo.DefaultPort, "Kafka port on 127.0.0.1 (the next free one if taken; 0: any free port)")
	fl.Float64Var(&o.Rate, "rate", 20, "orders per second (bursts go to five times this)")
	fl.Float64Var(&o.FailRate, "fail-rate", 0.02, "share of events payments and inventory fail on and dead-letter, 0 to 1")
	fl.StringSliceVar(&o.Slow, "slow", nil, "make these services fall behind: payments, inventory, shipping, notifications")
	fl.StringSliceVar(&o.Stall, "stall", nil, "make these services hang without committing")
	fl.StringVar(&o.DataDir, "data-dir", "", "keep the cluster's data in this directory between runs (default: in memory)")
	fl.StringVar(&o.AMQPURL, "amqp", "", "run the shop over this RabbitMQ (amqp://user:pass@host:port/vhost) instead of an embedded Kafka")
	return cmd
}

// demoConfig checks the flags and turns them into the demo's configuration, so
// a usage error never starts a broker.
func demoConfig(o *DemoOptions) (demo.Config, error) {
	cfg := demo.Config{Port: o.Port, Rate: o.Rate, DataDir: o.DataDir, AMQPURL: o.AMQPURL, Slow: o.Slow, Stall: o.Stall}
	switch {
	case o.Rate <= 0:
		return cfg, usagef("--rate %g: want a number of orders per second above 0", o.Rate)
	case o.FailRate < 0 || o.FailRate > 1:
		return cfg, usagef("--fail-rate %g: want a share from 0 to 1, e.g. 0.05", o.FailRate)
	case o.Port < 0 || o.Port > 65535:
		return cfg, usagef("--port %d: want 0 to 65535", o.Port)
	case o.AMQPURL != "" && !strings.HasPrefix(o.AMQPURL, "amqp://") && !strings.HasPrefix(o.AMQPURL, "amqps://"):
		return cfg, usagef("--amqp %q: want amqp://user:pass@host:port/vhost", amqp.Redact(o.AMQPURL))
	case o.AMQPURL != "" && o.DataDir != "":
		return cfg, usagef("--data-dir keeps the embedded Kafka's data; with --amqp the data stays in RabbitMQ")
	}
	// The demo package reads 0 as "the default"; here 0 means none.
	cfg.FailRate = o.FailRate
	if o.FailRate == 0 {
		cfg.FailRate = -1
	}
	return cfg, nil
}

func demoRun(ctx context.Context, f *Factory, o *DemoOptions) error {
	cfg, err := demoConfig(o)
	if err != nil {
		return err
	}
	if o.AMQPURL != "" {
		registerURLSecret(f.Redactor, o.AMQPURL)
	}
	conf, err := f.Config()
	if err != nil {
		return err
	}
	d, err := demo.Start(ctx, cfg)
	if errors.Is(err, demo.ErrConfig) || errors.Is(err, demo.ErrUnknownService) {
		return asUsage(err)
	}
	if err != nil {
		return err
	}
	// From here every way out stops the demo first.
	saveErr := writeDemoContext(conf, d, o.AMQPURL)

	w := f.IO.ErrOut
	if d.Addr() != "" {
		where := "in memory: its data goes when the demo stops"
		if o.DataDir != "" {
			where = "data kept in " + o.DataDir
		}
		fmt.Fprintf(w, "eddy demo: Kafka on %s (in this process; %s)\n", d.Addr(), where)
		if o.Port != 0 && !strings.HasSuffix(d.Addr(), fmt.Sprintf(":%d", o.Port)) {
			fmt.Fprintf(w, "eddy demo: port %d was taken, so the demo took the next free one\n", o.Port)
		}
		fmt.Fprintf(w, "eddy demo: topics %s\n", strings.Join(d.Topics(), " "))
		fmt.Fprintf(w, "eddy demo: groups %s\n", strings.Join(d.Groups(), " "))
	} else {
		fmt.Fprintf(w, "eddy demo: shop on RabbitMQ %s\n", amqp.Redact(o.AMQPURL))
		fmt.Fprintf(w, "eddy demo: queues %s\n", strings.Join(d.Queues(), " "))
	}
	fmt.Fprintf(w, "eddy demo: %g orders/s with bursts; %g%% of payments and inventory work is dead-lettered to %s\n",
		o.Rate, o.FailRate*100, strings.Join(d.DeadLetters(), " and "))
	for _, s := range o.Slow {
		fmt.Fprintf(w, "eddy demo: %s is slow and falls behind\n", s)
	}
	for _, s := range o.Stall {
		fmt.Fprintf(w, "eddy demo: %s is stalled and commits nothing\n", s)
	}
	if saveErr != nil {
		fmt.Fprintf(w, "eddy demo: could not write the %q context (%v); pass the connection flags yourself\n", demoContext, saveErr)
	} else {
		fmt.Fprintf(w, "eddy demo: context %q written to %s\n", demoContext, conf.Path())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Try, in another terminal:")
	for _, h := range demoHints(d, o) {
		fmt.Fprintln(w, "  "+h)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ctrl-C stops the demo.")

	var tick <-chan time.Time
	if f.IO.ErrTTY {
		// A heartbeat on a terminal, so a quiet screen never looks like a hang.
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-d.Done():
			if err := d.Close(); err != nil {
				return err
			}
			// The context ended: that is the normal way out.
			fmt.Fprintf(w, "eddy demo: stopped after %s\n", d.Stats())
			return nil
		case <-tick:
			fmt.Fprintf(w, "eddy demo: %s\n", d.Stats())
		}
	}
}

// writeDemoContext points the "demo" context at this run, keeping a schema the
// user may have added to it.
func writeDemoContext(conf *Config, d *demo.Demo, amqpURL string) error {
	return conf.PointAt(demoContext, d.Addr(), amqpURL)
}

// demoHints are the commands to try next, limited to those this eddy has.
func demoHints(d *demo.Demo, o *DemoOptions) []string {
	has := o.hasCommand
	if has == nil {
		has = func(string) bool { return true }
	}
	ctx := " --context " + demoContext
	var hints []string
	add := func(cmd, line string) {
		if has(cmd) {
			hints = append(hints, line)
		}
	}
	if d.Addr() != "" {
		add("ls", "eddy ls"+ctx)
		add("tail", "eddy tail 'kafka:/.*/'"+ctx)
		add("tail", "eddy tail kafka:payments.DLT --from beginning"+ctx)
		add("trace", "eddy trace flows 'kafka:/.*/'"+ctx)
		add("lag", "eddy lag"+ctx)
		add("dlq", "eddy dlq ls"+ctx)
		return hints
	}
	q := d.Queues()
	add("ls", "eddy ls amqp:"+ctx)
	if len(q) > 0 {
		add("tail", "eddy tail amqp:"+q[0]+ctx)
	}
	for _, dlq := range d.DeadLetters() {
		add("tail", "eddy tail amqp:"+dlq+" --backlog"+ctx)
	}
	add("lag", "eddy lag"+ctx)
	add("dlq", "eddy dlq ls"+ctx)
	return hints
}
