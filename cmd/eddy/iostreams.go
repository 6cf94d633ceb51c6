package main

import (
	"bytes"

	"github.com/eddy-sh/eddy/internal/iostreams"
)

// IOStreams, Redactor and the test streams live in internal/iostreams; these
// names keep the commands' spelling.
type (
	IOStreams  = iostreams.IOStreams
	Redactor   = iostreams.Redactor
	syncWriter = iostreams.SyncWriter
)

// SystemStreams returns the process's streams, stderr redacted.
func SystemStreams(r *Redactor) *IOStreams { return iostreams.System(r) }

// TestStreams returns streams over buffers, for tests.
func TestStreams(tty bool) (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	return iostreams.Test(tty)
}

// registerURLSecret makes the redactor mask the password in a URL.
func registerURLSecret(r *Redactor, raw string) { r.AddURL(raw) }
