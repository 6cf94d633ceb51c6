package main

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/tui"
)

// TUIOptions are `eddy tui`'s flags and arguments.
type TUIOptions struct {
	// Sources, when given, open the Tail view on them at once.
	Sources []string
	// Demo starts the embedded demo and opens the TUI on it.
	Demo bool
	// DemoFormat is --format: the demo's value format (plain, avro,
	// protobuf, json), as eddy demo's.
	DemoFormat string
	// Buffer is how many events the tail keeps.
	Buffer int
	// Backlog is --backlog: peek at RabbitMQ queues (see tui.Backend.Backlog).
	Backlog bool
	// Theme is auto, dark or light: the colours for the terminal's
	// background.
	Theme string
}

func newCmdTUI(f *Factory, runF func(context.Context, *TUIOptions) error) *cobra.Command {
	o := &TUIOptions{}
	cmd := &cobra.Command{
		Use:   "tui [SOURCE...]",
		Short: "Browse, tail, trace, lag and dead letters in an interactive terminal UI",
		Long:  helptext.TUI,
		Example: `  # try it on the embedded demo
  eddy tui --demo
  # the demo with Avro values, decoded through its in-process Schema Registry
  eddy tui --demo --format avro
  # the current context, tailing two topics at once
  eddy tui kafka:orders kafka:payments`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Sources = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return tuiRun(cmd.Context(), f, o)
		},
	}
	cmd.Flags().BoolVar(&o.Demo, "demo", false, "start the embedded demo shop and open the TUI on it")
	cmd.Flags().StringVar(&o.DemoFormat, "format", string(demo.FormatPlain), "with --demo: the shop's value format: "+strings.Join(demo.Formats(), ", ")+
		" (avro, protobuf and json run a Schema Registry in this process, and the TUI decodes through it)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(demo.Formats(), cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().IntVar(&o.Buffer, "buffer", 10000, "events the tail keeps in memory; older ones are dropped and counted")
	cmd.Flags().BoolVar(&o.Backlog, "backlog", false, backlogFlag+"; in the DLQ view and when the tail jumps back")
	bindSchemaFlags(cmd.Flags(), &f.Schemas)
	// The TUI shows an undecodable record where it is: the exit status does
	// not change for it.
	cmd.Annotations = map[string]string{annotationNoDecodeExit: "true"}
	cmd.Flags().StringVar(&o.Theme, "theme", "auto", "colours for a dark or light terminal background: auto (ask the terminal), dark or light")
	return cmd
}

// planTUI checks the arguments before anything connects.
func planTUI(o *TUIOptions) ([]bus.Address, error) {
	if o.Buffer < 100 {
		return nil, usagef("--buffer %d: want at least 100 events", o.Buffer)
	}
	switch o.Theme {
	case "", "auto", "dark", "light":
	default:
		return nil, safeUsagef("--theme %s: want auto, dark or light", o.Theme)
	}
	if o.DemoFormat != "" && o.DemoFormat != string(demo.FormatPlain) && !o.Demo {
		return nil, usagef("--format is the demo's value format: it needs --demo")
	}
	if _, err := demo.ParseFormat(o.DemoFormat); err != nil && o.Demo {
		return nil, safeUsagef("--format %q: want one of %s", o.DemoFormat, strings.Join(demo.Formats(), ", "))
	}
	var addrs []bus.Address
	for _, s := range o.Sources {
		a, err := bus.ParseAddress(s)
		if err != nil {
			return nil, asUsage(err)
		}
		if a.Transport == "file" || a.Transport == "amqp" && a.Name == "" {
			return nil, usagef("tui %q: want kafka:TOPIC, kafka:/REGEX/ or amqp:QUEUE", s)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

func tuiRun(ctx context.Context, f *Factory, o *TUIOptions) error {
	addrs, err := planTUI(o)
	if err != nil {
		return err
	}
	// A bad schema flag is said before the screen is taken.
	if _, err := f.Decoder(); err != nil {
		return err
	}
	// The UI draws on stderr so stdout stays clean; with stderr redirected
	// (`eddy tui 2>debug.log`) it draws on the controlling terminal instead,
	// and the file gets only what eddy logs. Either way through the
	// redactor, as all else eddy writes there.
	screen, closeTTY := tui.OpenScreen(f.IO.ErrTTY, f.IO.ErrOut, f.IO.OpenTTY, f.Redactor.Writer)
	defer closeTTY()
	if screen == nil {
		return usagef("eddy tui needs a terminal: stderr is not one and there is no controlling terminal (/dev/tty)")
	}
	if o.Demo {
		stop, err := startTUIDemo(ctx, f, o.DemoFormat)
		if err != nil {
			return err
		}
		defer stop()
	}
	be, err := tuiBackend(f)
	if err != nil {
		return err
	}
	be.SetBacklog(o.Backlog)
	opts := tui.Options{Backend: be, Color: !f.IO.NoColor, Tail: addrs, Buffer: o.Buffer, Timeout: f.Global.Timeout}
	if o.Theme == "dark" || o.Theme == "light" {
		opts.Theme = o.Theme
	}
	if o.Demo {
		// q would end the demo's cluster, and every terminal's use of it.
		opts.QuitWarning = "the demo stops with it"
	}
	err = tui.Run(ctx, opts, screen)
	if errors.Is(err, tui.ErrInterrupted) {
		return &silentError{code: ExitInterrupted}
	}
	return err
}

// tuiBackend connects the clients the commands would use for the current
// context (tui.Connect): Kafka and RabbitMQ when the context (or a flag or
// the environment) names them; with nothing named, Kafka on the local default.
func tuiBackend(f *Factory) (*tui.Backend, error) { return tui.Connect(tuiConn(f)) }

// tuiConn resolves a context's connection for tui.Connect: with name "",
// as the flags, environment and config file say; else the context named,
// whose own brokers replace those the flags named for the first one.
func tuiConn(first *Factory) func(name string) (tui.Conn, error) {
	return func(name string) (tui.Conn, error) {
		f := first
		if name != "" {
			g := *f
			g.Global.Context, g.Global.Brokers, g.Global.AMQPURL, g.Global.AMQPMgmtURL = name, nil, "", ""
			// Its own registry and schemas: the context's, not the first one's
			// (the --value-schema and --key-schema mappings stay).
			g.Schemas.Registry, g.dec = "", &decoderState{}
			f = &g
		}
		kExplicit, aExplicit, err := configuredTransports(f)
		if err != nil {
			return tui.Conn{}, err
		}
		schema, err := f.Schema()
		if err != nil {
			return tui.Conn{}, err
		}
		_, ctxName, err := f.CurrentContext()
		if err != nil {
			return tui.Conn{}, err
		}
		dec, err := f.Decoder()
		if err != nil {
			return tui.Conn{}, err
		}
		c := tui.Conn{Context: ctxName, Schema: schema, Decoder: dec, ReadIDs: readIDs,
			JobLogDir:     func() string { return jobLogDir(f, "") },
			RedriveLogDir: func() (string, error) { return redriveLogDir(f, "") },
			Ledger: func(ctx context.Context, dryRun bool) (replay.Ledger, error) {
				return f.openRunLedger(ctx, "", replay.DefaultLedgerTTL, dryRun)
			}}
		if kExplicit || !aExplicit {
			c.Kafka = f.Kafka
			c.KafkaSeeds, _, _, _ = f.kafkaSettings()
		}
		if aExplicit {
			c.AMQP = f.AMQP
		}
		if conf, err := f.Config(); err == nil {
			c.Contexts = conf.names()
		}
		return c, nil
	}
}
