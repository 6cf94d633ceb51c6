// Package cmdutil holds what eddy's commands share with the packages that
// check their input (internal/config, …) without depending on cobra: the
// error that marks the user's input as wrong, which cmd/eddy maps to exit 2
// (gh's cmdutil.FlagError).
package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/eddy-sh/eddy/inspect"
)

// UsageError marks an error as the user's input being wrong (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef is a UsageError with fmt.Errorf's message.
func Usagef(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// AsUsage marks err as a usage error; nil stays nil.
func AsUsage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{err}
}

// WriteError writes err for a person on w: "eddy: " and its first line,
// then its other lines indented under it, each terminal-safe, and for a
// filter error the snippet that points at the mistake.
func WriteError(w io.Writer, err error) {
	// A multi-line error (errors.Join, a YAML decoder's list) keeps its lines,
	// each terminal-safe; the ones after the first are indented under it.
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	fmt.Fprintf(w, "eddy: %s\n", inspect.SafeText(lines[0]))
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			l = "  " + l
		}
		fmt.Fprintln(w, inspect.SafeText(l))
	}
	var fe *inspect.FilterError
	if errors.As(err, &fe) {
		for _, line := range strings.Split(fe.Snippet(), "\n") {
			fmt.Fprintln(w, inspect.SafeString(line))
		}
	}
}
