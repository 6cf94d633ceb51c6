// Package cmdutil holds what eddy's commands share with the packages that
// check their input (internal/config, …) without depending on cobra: the
// error that marks the user's input as wrong, which cmd/eddy maps to exit 2
// (gh's cmdutil.FlagError).
package cmdutil

import "fmt"

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
