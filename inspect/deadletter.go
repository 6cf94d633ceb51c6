package inspect

import "github.com/eddy-sh/eddy/trace"

// DeadLetterText is the one sentence for a dead-letter hop, in eddy trace's
// timeline and the TUI's Trace view alike: "dead-lettered from ORIGIN:
// CLASS: ERROR", each part only when recorded. It is the recorded text
// itself: render it terminal-safe.
func DeadLetterText(d *trace.DeadLetter) string {
	msg := "dead-lettered"
	if d.Origin != "" {
		msg += " from " + d.Origin
	}
	if d.Class != "" {
		msg += ": " + d.Class
	}
	if d.Error != "" {
		msg += ": " + d.Error
	}
	return msg
}
