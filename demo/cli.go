package demo

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Banner is what eddy demo says once the demo runs: where it is, what it
// does, and what to try next. The command fills it from its flags.
type Banner struct {
	Port       int    // the --port asked for (0: any free port)
	DataDir    string // where the embedded Kafka keeps its data ("": in memory)
	AMQP       string // the RabbitMQ URL, already redacted ("": the embedded Kafka)
	Rate       float64
	FailRate   float64
	Slow       []string
	Stall      []string
	Context    string // the config context the demo wrote
	ConfigPath string // the config file it is in
	SaveErr    error  // why the context could not be written (nil: it was)
	// Has says whether the running eddy has a command, so the hints name
	// only commands that exist in that build (nil: all of them).
	Has func(name string) bool
}

// WriteBanner writes b for the running demo d on w.
func (d *Demo) WriteBanner(w io.Writer, b Banner) {
	if d.Addr() != "" {
		where := "in memory: its data goes when the demo stops"
		if b.DataDir != "" {
			where = "data kept in " + b.DataDir
		}
		fmt.Fprintf(w, "eddy demo: Kafka on %s (in this process; %s)\n", d.Addr(), where)
		if b.Port != 0 && !strings.HasSuffix(d.Addr(), fmt.Sprintf(":%d", b.Port)) {
			fmt.Fprintf(w, "eddy demo: port %d was taken, so the demo took the next free one\n", b.Port)
		}
		fmt.Fprintf(w, "eddy demo: topics %s\n", strings.Join(d.Topics(), " "))
		fmt.Fprintf(w, "eddy demo: groups %s\n", strings.Join(d.Groups(), " "))
		if u := d.RegistryURL(); u != "" {
			fmt.Fprintf(w, "eddy demo: values are %s in the Confluent wire format; Schema Registry at %s (in this process), subjects %s\n",
				formatName(d.Format()), u, strings.Join(d.Subjects(), " "))
		} else {
			fmt.Fprintf(w, "eddy demo: values are plain JSON (--format avro, protobuf or json adds a Schema Registry)\n")
		}
	} else {
		fmt.Fprintf(w, "eddy demo: shop on RabbitMQ %s\n", b.AMQP)
		fmt.Fprintf(w, "eddy demo: queues %s\n", strings.Join(d.Queues(), " "))
	}
	fmt.Fprintf(w, "eddy demo: %g orders/s with bursts; %g%% of payments and inventory work is dead-lettered to %s\n",
		b.Rate, b.FailRate*100, strings.Join(d.DeadLetters(), " and "))
	for _, s := range b.Slow {
		fmt.Fprintf(w, "eddy demo: %s is slow and falls behind\n", s)
	}
	for _, s := range b.Stall {
		fmt.Fprintf(w, "eddy demo: %s is stalled and commits nothing\n", s)
	}
	if b.SaveErr != nil {
		fmt.Fprintf(w, "eddy demo: could not write the %q context (%v); pass the connection flags yourself\n", b.Context, b.SaveErr)
	} else {
		fmt.Fprintf(w, "eddy demo: context %q written to %s\n", b.Context, b.ConfigPath)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Try, in another terminal:")
	for _, h := range d.hints(b.Context, b.Has) {
		fmt.Fprintln(w, "  "+h)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ctrl-C stops the demo.")
}

// hints are the commands to try next against context, limited to those
// has says this eddy has.
func (d *Demo) hints(context string, has func(string) bool) []string {
	if has == nil {
		has = func(string) bool { return true }
	}
	ctx := " --context " + context
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
		if d.RegistryURL() != "" {
			add("schema", "eddy schema ls"+ctx)
			add("schema", "eddy schema show orders-value"+ctx)
		}
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

// Wait runs until the demo stops (its context ended: the normal way out),
// then closes it and writes its totals on w. With heartbeat > 0 it writes
// the running totals that often, so a quiet terminal never looks like a hang.
func (d *Demo) Wait(w io.Writer, heartbeat time.Duration) error {
	var tick <-chan time.Time
	if heartbeat > 0 {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-d.Done():
			if err := d.Close(); err != nil {
				return err
			}
			fmt.Fprintf(w, "eddy demo: stopped after %s\n", d.Stats())
			return nil
		case <-tick:
			fmt.Fprintf(w, "eddy demo: %s\n", d.Stats())
		}
	}
}

// formatName is how the banner names a format.
func formatName(f Format) string {
	switch f {
	case FormatAvro:
		return "Avro"
	case FormatProtobuf:
		return "Protobuf"
	case FormatJSONSchema:
		return "JSON Schema"
	}
	return "plain JSON"
}
