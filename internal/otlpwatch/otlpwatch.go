// Package otlpwatch keeps the books of OTLP metrics pushes for a person
// reading stderr: a failure is said once when a streak of failures starts
// (not once per push interval), and once more when pushes arrive again.
package otlpwatch

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/trace"
)

// Push watches the pushes to one endpoint. The zero value is ready: no
// endpoint yet, not failing. It is safe for concurrent use.
type Push struct {
	mu       sync.Mutex
	endpoint string
	failing  bool
}

// SetEndpoint names the endpoint the lines speak of.
func (p *Push) SetEndpoint(e string) {
	p.mu.Lock()
	p.endpoint = e
	p.mu.Unlock()
}

// Report takes the outcome of one push (bounded by timeout) and writes a line
// on w when it starts or ends a streak of failures.
func (p *Push) Report(w io.Writer, timeout time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil && !p.failing:
		p.failing = true
		fmt.Fprintf(w, "eddy: otlp: could not export metrics to %s: %s (still trying every interval; said again when it works)\n",
			inspect.SafeString(p.endpoint), inspect.SafeString(trace.ExportReason(err, timeout)))
	case err == nil && p.failing:
		p.failing = false
		fmt.Fprintf(w, "eddy: otlp: metrics are exported to %s again\n", inspect.SafeString(p.endpoint))
	}
}

// Final reports a failed shutdown that no push reported (the last push
// could not even start).
func (p *Push) Final(w io.Writer, timeout time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failing {
		p.failing = true
		fmt.Fprintf(w, "eddy: otlp: could not export metrics to %s: %s\n",
			inspect.SafeString(p.endpoint), inspect.SafeString(trace.ExportReason(err, timeout)))
	}
}
