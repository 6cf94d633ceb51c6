package inspect

import (
	"fmt"
	"io"
)

// WriteNote writes one line for a person on stderr, "eddy: " and s
// terminal-safe.
func WriteNote(w io.Writer, s string) {
	fmt.Fprintln(w, "eddy: "+SafeString(s))
}

// WriteSkipped says on w how many malformed lines a capture's reader
// skipped (--skip-bad), when it skipped any. The name is the path the user
// gave, written as given.
func WriteSkipped(w io.Writer, name string, lines int) {
	if lines > 0 {
		fmt.Fprintf(w, "eddy: skipped %d malformed line(s) in %s\n", lines, name)
	}
}
