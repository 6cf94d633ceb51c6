package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/schema"
)

// Conn is one context's connection as cmd/eddy resolves it from the flags,
// the environment and the config file: what Connect builds a Backend from.
type Conn struct {
	// Context names the context in force ("" for none); Contexts names the
	// configured ones.
	Context  string
	Contexts []string
	Schema   *event.Schema
	// Decoder decodes payloads with schemas (nil: none), as in eddy tail.
	Decoder *schema.Decoder
	// Kafka connects Kafka, at KafkaSeeds (shown in the top bar); nil when
	// only RabbitMQ is named. AMQP connects RabbitMQ; nil when not named.
	Kafka      func(...kafka.Option) (*kafka.Client, error)
	KafkaSeeds []string
	AMQP       func(...amqp.Option) (*amqp.Client, error)
	// JobLogDir says where Kafka redrive job logs live ("" for none): what
	// those jobs took from a DLQ is not counted in it.
	JobLogDir func() string
	// RedriveLogDir is where a Kafka redrive writes its job log; Ledger
	// opens the ledger of a RabbitMQ redrive (read-only for a dry run, nil
	// when there is none yet); ReadIDs expands --ids (@FILE).
	RedriveLogDir func() (string, error)
	Ledger        func(ctx context.Context, dryRun bool) (replay.Ledger, error)
	ReadIDs       func([]string) ([]string, error)
}

// Connect connects the clients the commands would use for the context
// resolve("") names: Kafka and RabbitMQ as conn says. The Backend's Switch
// connects to the context resolve(name) names, Redrive runs as eddy dlq
// redrive does, and Close closes the clients.
func Connect(resolve func(name string) (Conn, error)) (*Backend, error) {
	return connect(resolve, "")
}

func connect(resolve func(name string) (Conn, error), name string) (*Backend, error) {
	conn, err := resolve(name)
	if err != nil {
		return nil, err
	}
	be := &Backend{Context: conn.Context, Schema: conn.Schema, Decoder: conn.Decoder}
	be.Jobs = func(ctx context.Context, topic string) (dlq.Jobs, error) {
		return dlq.LocalJobs(ctx, be.Kafka, conn.JobLogDir(), topic)
	}
	be.Redrive = func(ctx context.Context, req RedriveRequest, progress func(replay.Summary)) (dlq.Report, error) {
		return redrive(ctx, conn, be, req, progress)
	}
	var closers []func()
	be.Close = func() {
		for _, c := range closers {
			c()
		}
	}
	if conn.Kafka != nil {
		c, err := conn.Kafka()
		if err != nil {
			return nil, err
		}
		be.Kafka = c
		closers = append(closers, c.Close)
		be.Endpoint = strings.Join(conn.KafkaSeeds, ",")
	}
	if conn.AMQP != nil {
		c, err := conn.AMQP()
		if err != nil {
			be.Close()
			return nil, err
		}
		be.AMQP = c
		closers = append(closers, func() { c.Close() })
		// The top bar shows it without user and password (Backend).
		be.Endpoint = strings.TrimPrefix(be.Endpoint+","+c.String(), ",")
	}
	be.Contexts = conn.Contexts
	be.Switch = func(name string) (*Backend, error) { return connect(resolve, name) }
	return be, nil
}

// redrive is eddy dlq redrive DLQ [--error RE] [--ids …] [--dry-run] for the DLQ
// view: the same plan (dlq.NewPlan: job name, routing, loop guard), the same
// ledger and job log, and the same run — dlq.RedriveKafka for a topic,
// dlq.RedriveAMQP through the ledger for a queue, as the command calls them.
// The plan shown is what Y runs: pinned to the messages it counted (req.Pin).
func redrive(ctx context.Context, conn Conn, be *Backend, req RedriveRequest, progress func(replay.Summary)) (dlq.Report, error) {
	a, err := bus.ParseAddress(cmp.Or(req.Transport, "kafka") + ":" + req.DLQ)
	if err != nil {
		return dlq.Report{}, cmdutil.AsUsage(err)
	}
	ids, err := conn.ReadIDs(req.IDs)
	if err != nil {
		return dlq.Report{}, err
	}
	schema := conn.Schema
	p, err := dlq.NewPlan(dlq.PlanOptions{DLQ: a, Naming: convention.DefaultNaming(), MaxRedrives: dlq.DefaultMaxRedrives,
		Error: req.Error, IDs: ids, ID: func(e *event.Event) string { return schema.Extract(e).ID }, Patterns: req.Patterns, Pin: req.Pin})
	if err != nil {
		return dlq.Report{}, cmdutil.AsUsage(err)
	}
	if a.Transport == "amqp" {
		if be.AMQP == nil {
			return dlq.Report{}, fmt.Errorf("redrive: no RabbitMQ in this context")
		}
		// A plan reads the ledger as a dry run does: nothing created.
		led, err := conn.Ledger(ctx, req.DryRun)
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
	logDir, err := conn.RedriveLogDir()
	if err != nil {
		return dlq.Report{}, err
	}
	return dlq.RedriveKafka(ctx, dlq.KafkaRedrive{
		Job: p.Job, LogDir: logDir, Route: p.Route,
		Progress: progress, DryRun: req.DryRun, RecordPin: req.DryRun, Client: be.Kafka,
	})
}

// SetBacklog sets --backlog on b and on every backend it switches to.
func (b *Backend) SetBacklog(on bool) {
	b.Backlog = on
	if sw := b.Switch; sw != nil {
		b.Switch = func(name string) (*Backend, error) {
			nb, err := sw(name)
			if nb != nil {
				nb.SetBacklog(on)
			}
			return nb, err
		}
	}
}

// Screen is the terminal the TUI draws on: what it writes goes through
// Writer (eddy's redactor), and bubbletea still finds the terminal behind
// it (Fd) to size it and read keys from it. Only Write reaches the
// terminal's output: no WriteString or ReadFrom of *os.File that would
// bypass Writer.
type Screen struct {
	io.Writer
	TTY *os.File
}

func (s *Screen) Read(p []byte) (int, error) { return s.TTY.Read(p) }

// Fd is the terminal's, for bubbletea to size it and set raw mode.
func (s *Screen) Fd() uintptr { return s.TTY.Fd() }

// Close leaves the terminal open: whoever opened it closes it.
func (s *Screen) Close() error { return nil }

// OpenScreen is where the TUI draws: on stderr (errOut, eddy's redacting
// writer) when it is a terminal, so stdout stays clean; else (stderr
// redirected: eddy tui 2>debug.log) on the controlling terminal openTTY
// opens, through redact, the file then getting only what eddy logs. nil
// when there is no terminal; closeTTY closes what it opened.
func OpenScreen(errTTY bool, errOut io.Writer, openTTY func() (*os.File, error), redact func(io.Writer) io.Writer) (screen *Screen, closeTTY func()) {
	closeTTY = func() {}
	if errTTY {
		return &Screen{Writer: errOut, TTY: os.Stderr}, closeTTY
	}
	if openTTY != nil {
		if tty, err := openTTY(); err == nil {
			return &Screen{Writer: redact(tty), TTY: tty}, func() { tty.Close() }
		}
	}
	return nil, closeTTY
}

// ErrInterrupted is what Run returns when ctrl+c ended the TUI (exit 130).
var ErrInterrupted = errors.New("tui: interrupted")

// Run runs the TUI on screen until it quits: nil for q, ErrInterrupted for
// ctrl+c, ctx's error when ctx ended it. It closes the Model and the last
// Backend (a context switch closed the ones it left).
func Run(ctx context.Context, opts Options, screen *Screen) error {
	m := New(ctx, opts)
	defer func() {
		m.Close()
		if b := m.Backend(); b.Close != nil {
			b.Close()
		}
	}()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithOutput(screen))
	final, err := p.Run()
	if fm, ok := final.(*Model); ok && fm != nil {
		m = fm
	}
	switch {
	case errors.Is(err, tea.ErrInterrupted):
		return ErrInterrupted
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("tui: %w", err)
	}
	if m.ExitCode() == ExitInterrupted {
		return ErrInterrupted
	}
	return nil
}
