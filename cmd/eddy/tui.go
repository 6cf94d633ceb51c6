package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/demo"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/tui"
)

// TUIOptions are `eddy tui`'s flags and arguments.
type TUIOptions struct {
	// Sources, when given, open the Tail view on them at once.
	Sources []string
	// Demo starts the embedded demo and opens the TUI on it.
	Demo bool
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
		Long: `Open eddy's terminal UI on the current context: its topics and queues, a live
tail, one event's envelope, its trace across topics, consumer lag and the
dead-letter queues. It reads exactly as the commands do (tail joins no group
and commits nothing; RabbitMQ queues are tapped, not consumed) and shows every
payload terminal-safe.

VIEWS (the number keys switch; ? lists the keys of the view on top)
  1 Sources   topics and queues, partitions, messages, rate; DLQs marked;
              / filters, space selects several, enter tails them
  2 Tail      live events: p pause, f edit the --filter expression, / search
              (n/N: next/previous; the status line counts the matches),
              @ jump to a time or position (from the past, the tail stays on
              the target and stops reading when --buffer is full; p reads
              on), enter opens an event, t traces it
  .. Event    the whole envelope, headers, the JSON payload folded and
              unfolded (enter, ←/→, z/Z); y copies it (OSC 52), w writes a file;
              ] and [ show the next and previous event of the list it was
              opened from (the tail, a trace's steps, a DLQ group)
  .. Trace    the event's flow: a timeline across topics, hop latencies as bars,
              the dead-lettered or stuck step marked, a latency histogram
              per edge; enter on a step opens its event
  3 Lag       groups and queues, status, lag history; / filters; enter:
              partitions, and enter on a partition tails it from the
              group's committed offset (on a queue: its tail);
              eddy's own redrive and replay jobs are hidden (J lists them,
              as jobs done or running, not as stopped consumers)
  4 DLQ       dead-letter topics and queues, counts, errors; / filters;
              enter: groups by error (ids, numbers and quoted values
              masked), / filters them, enter lists a group's messages,
              enter on one opens it; space selects, P plans a redrive (eddy dlq redrive --dry-run;
              nothing selected means the whole DLQ), Y runs exactly that
              plan: letters that arrived since are left, and counted
              (Kafka topics and RabbitMQ queues alike). RabbitMQ DLQs show
              counts and origins from the management API; their errors and
              groups need --backlog (a peek, as eddy dlq ls)
  5 Contexts  the configured contexts; / filters, enter switches

: opens a command line (k9s's): :sources, :tail ADDR..., :lag [GROUP],
:dlq [NAME], :ctx [NAME], :trace ID, :event, :help, :quit; Tab completes
the command and the topics, groups, DLQs and contexts already read; esc
cancels. The top bar shows the trail of views esc walks back (Sources ›
Tail › Event › Trace) and the context, or with none the brokers, never a
URL's user or password. ? lists the keys that work in the view as it is.

SOURCES, when given (kafka:TOPIC, kafka:/REGEX/, amqp:QUEUE), open the tail at
once. --demo starts the embedded demo shop (as eddy demo does, writing the
"demo" context) and opens the TUI on it.

CONNECTION: the header says each transport's state: connected, reconnecting
since T (a check or a read failed), or DOWN since T (failing for --timeout);
each client is checked every 2 s. A view whose read failed says why in its
body and keeps its last good rows, marked with when they were read. Sources
and Lag read again every 2 s; the DLQ list every 30 s and at once when its
broker answers again (under --backlog, where a read peeks at RabbitMQ, only
then and on r); a trace that failed to connect, when its broker answers
again. A tail whose source ended (its broker lost for good, its topic or
queue deleted) reopens by itself with backoff (1 s, doubling to 30 s): from
the end, what was published meanwhile not shown, or from the beginning of a
topic deleted and created again. A context switched to is checked at once,
and its failure said within --timeout.

The UI draws on the terminal's alternate screen through stderr, so stdout
stays clean; when stderr is redirected (eddy tui 2>debug.log) it draws on
the controlling terminal (/dev/tty) instead, and without any terminal it
exits 2. Colours suit the terminal's background as it reports it (--theme
dark or light when it does not); NO_COLOR turns colour off. q quits (exit
0), ctrl+c interrupts (exit 130); under --demo, or while a redrive runs, q
asks first (q or y again quits). Any key closes the help, q and esc too.`,
		Example: `  # try it on the embedded demo
  eddy tui --demo
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
	cmd.Flags().IntVar(&o.Buffer, "buffer", 10000, "events the tail keeps in memory; older ones are dropped and counted")
	cmd.Flags().BoolVar(&o.Backlog, "backlog", false, backlogFlag+"; in the DLQ view and when the tail jumps back")
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
		return nil, usagef("--theme %s: want auto, dark or light", inspect.SafeString(o.Theme))
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
	// The UI draws on stderr so stdout stays clean; with stderr redirected
	// (`eddy tui 2>debug.log`) it draws on the controlling terminal instead,
	// and the file gets only what eddy logs. Either way through the
	// redactor, as all else eddy writes there.
	var screen *tuiScreen
	if f.IO.ErrTTY {
		screen = &tuiScreen{Writer: f.IO.ErrOut, tty: os.Stderr}
	} else if f.IO.OpenTTY != nil {
		if tty, err := f.IO.OpenTTY(); err == nil {
			defer tty.Close()
			screen = &tuiScreen{Writer: f.Redactor.Writer(tty), tty: tty}
		}
	}
	if screen == nil {
		return usagef("eddy tui needs a terminal: stderr is not one and there is no controlling terminal (/dev/tty)")
	}
	if o.Demo {
		stop, err := startTUIDemo(ctx, f)
		if err != nil {
			return err
		}
		defer stop()
	}
	be, err := tuiBackend(f)
	if err != nil {
		return err
	}
	withBacklog(be, o.Backlog)
	opts := tui.Options{Backend: be, Color: !f.IO.NoColor, Tail: addrs, Buffer: o.Buffer, Timeout: f.Global.Timeout}
	if o.Theme == "dark" || o.Theme == "light" {
		opts.Theme = o.Theme
	}
	if o.Demo {
		// q would end the demo's cluster, and every terminal's use of it.
		opts.QuitWarning = "the demo stops with it"
	}
	m := tui.New(ctx, opts)
	defer func() {
		m.Close()
		// A context switch closed the backends it left; this is the last.
		if b := m.Backend(); b.Close != nil {
			b.Close()
		}
	}()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithOutput(screen))
	final, err := p.Run()
	if fm, ok := final.(*tui.Model); ok && fm != nil {
		m = fm
	}
	switch {
	case errors.Is(err, tea.ErrInterrupted):
		return &silentError{code: ExitInterrupted}
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("tui: %w", err)
	}
	if m.ExitCode() == tui.ExitInterrupted {
		return &silentError{code: ExitInterrupted}
	}
	return nil
}

// tuiScreen is the terminal the TUI draws on: what it writes goes through
// w (the redactor), and bubbletea still finds the terminal behind it (Fd)
// to size it and read keys from it. Only Write reaches the terminal's
// output: no WriteString or ReadFrom of *os.File that would bypass w.
type tuiScreen struct {
	io.Writer
	tty *os.File
}

func (s *tuiScreen) Read(p []byte) (int, error) { return s.tty.Read(p) }
func (s *tuiScreen) Fd() uintptr                { return s.tty.Fd() }

// Close leaves the terminal open: tuiRun owns it.
func (s *tuiScreen) Close() error { return nil }

// startTUIDemo starts the demo as eddy demo does and points the factory at
// it; stop ends it.
func startTUIDemo(ctx context.Context, f *Factory) (stop func(), err error) {
	o := &DemoOptions{Port: demo.DefaultPort, Rate: 20, FailRate: 0.02}
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
	return func() { d.Close() }, nil
}

// tuiBackend connects the clients the commands would use for the current
// context: Kafka and RabbitMQ when the context (or a flag or the
// environment) names them; with nothing named, Kafka on the local default.
func tuiBackend(f *Factory) (*tui.Backend, error) {
	kExplicit, aExplicit, err := configuredTransports(f)
	if err != nil {
		return nil, err
	}
	schema, err := f.Schema()
	if err != nil {
		return nil, err
	}
	_, name, err := f.CurrentContext()
	if err != nil {
		return nil, err
	}
	be := &tui.Backend{Context: name, Schema: schema}
	be.Jobs = func(ctx context.Context, topic string) (dlq.Jobs, error) {
		return dlq.LocalJobs(ctx, be.Kafka, jobLogDir(f, ""), topic)
	}
	be.Redrive = func(ctx context.Context, req tui.RedriveRequest, progress func(replay.Summary)) (dlq.Report, error) {
		return tuiRedrive(ctx, f, be, req, progress)
	}
	var closers []func()
	be.Close = func() {
		for _, c := range closers {
			c()
		}
	}
	if kExplicit || !aExplicit {
		c, err := f.Kafka()
		if err != nil {
			return nil, err
		}
		be.Kafka = c
		closers = append(closers, c.Close)
		seeds, _, _, _ := f.kafkaSettings() // f.Kafka resolved them already
		be.Endpoint = strings.Join(seeds, ",")
	}
	if aExplicit {
		c, err := f.AMQP()
		if err != nil {
			be.Close()
			return nil, err
		}
		be.AMQP = c
		closers = append(closers, func() { c.Close() })
		// The top bar shows it without user and password (tui.Backend).
		be.Endpoint = strings.TrimPrefix(be.Endpoint+","+c.String(), ",")
	}
	if conf, err := f.Config(); err == nil {
		be.Contexts = conf.names()
	}
	be.Switch = func(name string) (*tui.Backend, error) {
		// A context names its own brokers: the flags that named others
		// for the first one no longer apply.
		prev := f.Global
		f.Global.Context, f.Global.Brokers, f.Global.AMQPURL, f.Global.AMQPMgmtURL = name, nil, "", ""
		nb, err := tuiBackend(f)
		if err != nil {
			f.Global = prev
			return nil, err
		}
		return nb, nil
	}
	return be, nil
}

// tuiRedrive is eddy dlq redrive DLQ [--error RE] [--ids …] [--dry-run] for the DLQ
// view: the same plan (dlq.NewPlan: job name, routing, loop guard), the same
// ledger and job log, and the same run — dlq.RedriveKafka for a topic,
// dlq.RedriveAMQP through the ledger for a queue, as redriveRun and
// redriveAMQP call them. The plan shown is what Y runs: pinned to the
// messages it counted (req.Pin).
func tuiRedrive(ctx context.Context, f *Factory, be *tui.Backend, req tui.RedriveRequest, progress func(replay.Summary)) (dlq.Report, error) {
	a, err := bus.ParseAddress(cmp.Or(req.Transport, "kafka") + ":" + req.DLQ)
	if err != nil {
		return dlq.Report{}, asUsage(err)
	}
	ids, err := readIDs(req.IDs)
	if err != nil {
		return dlq.Report{}, err
	}
	schema, err := f.Schema()
	if err != nil {
		return dlq.Report{}, err
	}
	p, err := dlq.NewPlan(dlq.PlanOptions{DLQ: a, Naming: convention.DefaultNaming(), MaxRedrives: dlq.DefaultMaxRedrives,
		Error: req.Error, IDs: ids, ID: func(e *event.Event) string { return schema.Extract(e).ID }, Patterns: req.Patterns, Pin: req.Pin})
	if err != nil {
		return dlq.Report{}, asUsage(err)
	}
	if a.Transport == "amqp" {
		if be.AMQP == nil {
			return dlq.Report{}, fmt.Errorf("redrive: no RabbitMQ in this context")
		}
		// A plan reads the ledger as a dry run does: nothing created.
		led, err := f.openRunLedger(ctx, "", replay.DefaultLedgerTTL, req.DryRun)
		if err != nil {
			return dlq.Report{}, err
		}
		if led != nil {
			defer led.Close()
		}
		return dlq.RedriveAMQP(ctx, dlq.AMQPRedrive{Client: be.AMQP, Job: p.Job, Ledger: led, Route: p.Route,
			Progress: progress, DryRun: req.DryRun, RecordPin: req.DryRun})
	}
	if be.Kafka == nil {
		return dlq.Report{}, fmt.Errorf("redrive: no Kafka in this context")
	}
	logDir, err := redriveLogDir(f, "")
	if err != nil {
		return dlq.Report{}, err
	}
	return dlq.RedriveKafka(ctx, dlq.KafkaRedrive{
		Job: p.Job, LogDir: logDir, Route: p.Route,
		Progress: progress, DryRun: req.DryRun, RecordPin: req.DryRun, Client: be.Kafka,
	})
}

// withBacklog sets --backlog on be and on every backend it switches to.
func withBacklog(be *tui.Backend, on bool) {
	be.Backlog = on
	if sw := be.Switch; sw != nil {
		be.Switch = func(name string) (*tui.Backend, error) {
			nb, err := sw(name)
			if nb != nil {
				withBacklog(nb, on)
			}
			return nb, err
		}
	}
}
