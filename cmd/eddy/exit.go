package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/amqp"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// Exit codes. They are a contract with scripts: documented in `eddy help
// exit-codes`, in every command's help and in the README. Never renumber.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // an error: missing topic or queue, bad capture, broker error
	ExitUsage       = 2   // bad flags, arguments, expressions or configuration
	ExitPartial     = 3   // partial success, or an expectation or threshold failed, or records not decoded
	ExitConnect     = 4   // a broker or the schema registry could not be reached or refused the credentials
	ExitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM)
)

const exitCodesHelp = `EXIT STATUS
  0    success
  1    error (missing topic or queue, malformed capture, broker error)
  2    usage error (bad flag, argument, address, position, filter or template)
  3    partial success, or an expectation or threshold failed, or records
       that decoding was asked for could not be decoded (shown raw, counted
       in one line on stderr)
  4    cannot connect to a broker or the schema registry, or authentication
       failed
  130  interrupted (Ctrl-C or SIGTERM)`

// usageError marks an error as the user's input being wrong (exit 2); it is
// internal/cmdutil's, which internal/config returns too.
type usageError = cmdutil.UsageError

func usagef(format string, a ...any) error { return cmdutil.Usagef(format, a...) }

func asUsage(err error) error { return cmdutil.AsUsage(err) }

// safeUsagef is usagef with its string, error and fmt.Stringer arguments
// made terminal-safe (safeArgs): for messages that name what a user or a
// broker wrote.
func safeUsagef(format string, a ...any) error { return usagef(format, safeArgs(a)...) }

// notef writes one "eddy: " line on w, its arguments terminal-safe
// (safeArgs).
func notef(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "eddy: "+format+"\n", safeArgs(a)...)
}

// partialErr is err as a partial success (exit 3), its message escaped as
// one line (newlines shown as \n).
func partialErr(err error) error {
	return &exitError{code: ExitPartial, err: errors.New(inspect.SafeString(err.Error()))}
}

// safeArgs returns a with every string, error and fmt.Stringer argument
// replaced by its text rendered by inspect.SafeString: the one place cmd/eddy
// escapes what it puts in a message, so that no caller has to remember it.
// (usagef itself does not: its callers' %q of raw values is escaped by fmt.)
func safeArgs(a []any) []any {
	out := make([]any, len(a))
	for i, x := range a {
		switch v := x.(type) {
		case string:
			out[i] = inspect.SafeString(v)
		case error:
			out[i] = inspect.SafeString(v.Error())
		case fmt.Stringer:
			out[i] = inspect.SafeString(v.String())
		default:
			out[i] = x
		}
	}
	return out
}

// exitError carries an explicit exit code (for partial results and thresholds).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// silentError exits with a code after the command already reported everything.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// exitCode maps an error to the documented exit codes, in one place.
func exitCode(err error) int {
	var ue *usageError
	var ee *exitError
	var se *silentError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled), errors.Is(err, errInterrupted):
		return ExitInterrupted
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, bus.ErrConnect):
		return ExitConnect
	case errors.Is(err, amqp.ErrNoPosition):
		// A start the queue cannot give without touching its messages: the
		// fix is a flag (--backlog) or another position.
		return ExitUsage
	}
	return ExitError
}

var errInterrupted = errors.New("interrupted")

// partial reports what could not be read, one line each, after the output of
// what could, and makes that a partial success (exit 3); nil when nothing
// failed. ls and dlq ls share it.
func partial(f *Factory, failures []error) error {
	if len(failures) == 0 {
		return nil
	}
	for _, err := range failures {
		notef(f.IO.ErrOut, "%s", err)
	}
	return &silentError{code: ExitPartial}
}
