// Command eddy tails Kafka topics and RabbitMQ queues, follows events across
// them, measures lag, and redrives dead letters. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/internal/config"
)

func main() { os.Exit(Main()) }

// Main runs eddy with the process's arguments and streams and returns the exit
// code; it is also what the CLI tests run in process.
func Main() int {
	r := &Redactor{}
	return run(context.Background(), os.Args[1:], SystemStreams(r), os.Getenv, r)
}

// annotationInterruptOK marks a command for which Ctrl-C is the normal way to
// stop, so it exits 0.
const annotationInterruptOK = "eddy.interrupt-is-success"

// interruptGrace is how long a command may take to wind down after Ctrl-C
// before eddy exits anyway: the contract is "exits within 2 s".
const interruptGrace = 1500 * time.Millisecond

func run(parent context.Context, args []string, io *IOStreams, getenv func(string) string, r *Redactor) int {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The command gets its own copy of the streams: -o yaml and
	// --no-headers replace its Out (wrapOutput), and the caller's streams
	// must not change under it. A caller may read them while the command
	// runs (a test polls a live tail's output), and the command's goroutine
	// can outlive run after an interrupt.
	own := *io
	io = &own

	f := newFactory(io, getenv, r)
	if u := getenv("EDDY_AMQP_URL"); u != "" {
		registerURLSecret(r, u)
	}
	for _, k := range []string{"EDDY_SASL_PASSWORD", "EDDY_SASL_OAUTH_TOKEN", "EDDY_SASL_OAUTH_CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if p := getenv(k); p != "" {
			r.Add(p)
		}
	}
	if p := getenv(config.EnvEventHubs); p != "" {
		r.Add(strings.TrimSpace(p))
	}
	if u := getenv("EDDY_SCHEMA_REGISTRY"); u != "" {
		registerURLSecret(r, u)
	}
	root := newRootCmd(f)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)

	type result struct {
		cmd *cobra.Command
		err error
	}
	done := make(chan result, 1)
	go func() {
		cmd, err := root.ExecuteContextC(ctx)
		done <- result{cmd, err}
	}()

	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		// A second signal ends eddy at once; otherwise give the command a
		// moment to flush and report, then go regardless.
		stop()
		select {
		case res = <-done:
		case <-time.After(interruptGrace):
			fmt.Fprintln(io.ErrOut, "eddy: interrupted")
			return ExitInterrupted
		}
	}
	err := res.err
	// Records that could not be decoded were shown raw, each with its
	// reason; once at the end, one line says how many and why, and a run
	// that otherwise succeeded is a partial success.
	undecoded := f.decodeSummary()
	if undecoded != "" {
		fmt.Fprintln(io.ErrOut, undecoded)
	}
	if ctx.Err() != nil && parent.Err() == nil && (err == nil || errors.Is(err, context.Canceled)) {
		// Commands whose normal end is Ctrl-C (eddy demo) say so; for the
		// others an interrupt is exit 130, as shells expect.
		if res.cmd != nil && res.cmd.Annotations[annotationInterruptOK] == "true" {
			return ExitOK
		}
		fmt.Fprintln(io.ErrOut, "eddy: interrupted")
		return ExitInterrupted
	}
	if err == nil {
		if undecoded != "" && (res.cmd == nil || res.cmd.Annotations[annotationNoDecodeExit] != "true") {
			return ExitPartial
		}
		return ExitOK
	}
	reportError(io, err)
	return exitCode(err)
}

// reportError prints one line for err (plus a pointer for usage errors), unless
// the command already reported.
func reportError(io *IOStreams, err error) {
	var se *silentError
	if errors.As(err, &se) {
		return
	}
	cmdutil.WriteError(io.ErrOut, err)
}
