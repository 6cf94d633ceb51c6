package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/internal/config"
	"github.com/eddy-sh/eddy/internal/helptext"
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
	// Format is how the Kafka shop writes its values (demo.Formats());
	// RegistryPort is where the Schema Registry of a framed one listens.
	Format       string
	RegistryPort int

	// hasCommand says whether the running eddy has a command, so the hints
	// name only commands that exist in this build.
	hasCommand func(name string) bool
}

func newCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an in-process Kafka with a simulated shop to try eddy on",
		Long:  helptext.Demo,
		Example: `  eddy demo
  # then, in another terminal
  eddy tail 'kafka:/.*/' --context demo
  # make payments fall behind, keep the data for next time
  eddy demo --slow payments --data-dir ~/.cache/eddy-demo
  # Avro in the Confluent wire format, with a Schema Registry on port 8081
  eddy demo --format avro
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
	fl.StringVar(&o.Format, "format", string(demo.FormatPlain), "the Kafka shop's value format: "+strings.Join(demo.Formats(), ", ")+
		" (JSON Schema); avro, protobuf and json run a Schema Registry in this process (Kafka only, not with --amqp)")
	fl.IntVar(&o.RegistryPort, "registry-port", demo.DefaultRegistryPort, "Schema Registry port on 127.0.0.1 with --format avro|protobuf|json (the next free one if taken; 0: any free port)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(demo.Formats(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// demoConfig checks the flags and turns them into the demo's configuration, so
// a usage error never starts a broker.
func demoConfig(o *DemoOptions) (demo.Config, error) {
	cfg := demo.Config{Port: o.Port, Rate: o.Rate, DataDir: o.DataDir, AMQPURL: o.AMQPURL, Slow: o.Slow, Stall: o.Stall,
		RegistryPort: o.RegistryPort}
	format, err := demo.ParseFormat(o.Format)
	if err != nil || o.Format == "" { // an empty --format= is a mistake, not the default
		return cfg, safeUsagef("--format %q: want one of %s", o.Format, strings.Join(demo.Formats(), ", "))
	}
	cfg.Format = format
	switch {
	case format != demo.FormatPlain && o.AMQPURL != "":
		return cfg, usagef("--format %s is for the embedded Kafka; the RabbitMQ shop writes plain JSON", format)
	case o.RegistryPort < 0 || o.RegistryPort > 65535:
		return cfg, usagef("--registry-port %d: want 0 to 65535", o.RegistryPort)
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

	amqpShown := ""
	if o.AMQPURL != "" {
		amqpShown = amqp.Redact(o.AMQPURL)
	}
	d.WriteBanner(f.IO.ErrOut, demo.Banner{Port: o.Port, DataDir: o.DataDir, AMQP: amqpShown,
		Rate: o.Rate, FailRate: o.FailRate, Slow: o.Slow, Stall: o.Stall,
		Context: demoContext, ConfigPath: conf.Path(), SaveErr: saveErr, Has: o.hasCommand})
	var heartbeat time.Duration
	if f.IO.ErrTTY {
		heartbeat = 10 * time.Second // a quiet terminal never looks like a hang
	}
	return d.Wait(f.IO.ErrOut, heartbeat)
}

// startTUIDemo starts the demo as eddy demo does and points the factory at
// it; stop ends it.
func startTUIDemo(ctx context.Context, f *Factory, format string) (stop func(), err error) {
	if format == "" {
		format = string(demo.FormatPlain)
	}
	o := &DemoOptions{Port: demo.DefaultPort, Rate: 20, FailRate: 0.02, Format: format}
	cfg, err := demoConfig(o)
	if err != nil {
		return nil, err
	}
	conf, err := f.Config()
	if err != nil {
		return nil, err
	}
	d, err := demo.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Other terminals reach it with --context demo, as after eddy demo; a
	// config that cannot be written only loses that convenience.
	if writeDemoContext(conf, d, "") == nil {
		f.Global.Context = demoContext
	}
	f.Global.Brokers = []string{d.Addr()}
	if url := d.RegistryURL(); url != "" {
		// The decoder was resolved (to check the flags) before the demo
		// had a registry: resolve it again, with the demo's.
		f.Schemas.Registry, f.dec = url, &decoderState{}
	}
	return func() { d.Close() }, nil
}

// writeDemoContext points the "demo" context at this run, keeping a schema the
// user may have added to it.
func writeDemoContext(conf *Config, d *demo.Demo, amqpURL string) error {
	if ctx := conf.Contexts[demoContext]; ctx != nil {
		ctx.SchemaRegistry = nil // a registry of an earlier demo run is gone
	}
	if url := d.RegistryURL(); url != "" {
		// A framed format (--format avro|protobuf|json): the demo's own
		// registry decodes it in every command pointed at the demo.
		if conf.Contexts[demoContext] == nil {
			conf.Contexts[demoContext] = &config.Context{}
		}
		conf.Contexts[demoContext].SchemaRegistry = &config.SchemaRegistryConfig{URL: url}
	}
	return conf.PointAt(demoContext, d.Addr(), amqpURL)
}
