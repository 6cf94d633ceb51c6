package dlq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// PlanOptions are a redrive's request: the DLQ, where its messages go and
// which are selected, as eddy dlq redrive's flags (once the command checked
// them) and the TUI's DLQ view give them.
type PlanOptions struct {
	DLQ bus.Address
	// To and Park are --to and --park, parsed (nil: not given); ToText and
	// ParkText are them as given, which the job's name is derived from.
	To, Park         *bus.Address
	ToText, ParkText string
	// Filter is --filter, compiled; FilterText its expression.
	Filter     replay.Matcher
	FilterText string
	// Error is --error: a regular expression the recorded error message or
	// exception class must match.
	Error string
	// IDs is --ids, @FILEs read: event ids or positions.
	IDs []string
	// ID names a message by its content (a schema's event id), for IDs.
	ID func(*event.Event) string
	// Patterns select the messages of these error groups (ErrorPattern);
	// Pin only the messages it pins (a dry run's Report.Pin, or a hand-made
	// pick).
	Patterns []string
	Pin      *Pin
	// MaxRedrives, KeepPartition and Naming: as in RouterOptions.
	MaxRedrives   int
	KeepPartition bool
	Naming        convention.Naming
	// Job names the job; "" derives it (see Plan.Job).
	Job string
}

// Plan is a redrive decided before it reads: the DLQ, the route of its
// messages and the job's name.
type Plan struct {
	DLQ   bus.Address
	Route RouterOptions
	// Job is the job's name: as given, else derived from the DLQ and the
	// selection, so that the same command is the same job (a rerun resumes)
	// and another selection another job. A queue's name may hold any
	// character: the job keeps the safe ones, and a hash tells apart the
	// names that differ in the others. A Kafka run pinned to messages or
	// error groups is a job of its own (its name ends in the pins' hash):
	// its group passes over what is not selected, which the whole DLQ's job
	// still redrives.
	Job string
}

// NewPlan plans a redrive. Its only error is a bad --error expression.
func NewPlan(o PlanOptions) (*Plan, error) {
	p := &Plan{DLQ: o.DLQ, Job: o.Job, Route: RouterOptions{DLQ: o.DLQ, Naming: o.Naming, To: o.To, Park: o.Park,
		KeepPartition: o.KeepPartition, MaxRedrives: o.MaxRedrives}}
	sel := &p.Route.Select
	sel.ID, sel.Filter, sel.Pin = o.ID, o.Filter, o.Pin
	if o.Error != "" {
		re, err := regexp.Compile(o.Error)
		if err != nil {
			return nil, fmt.Errorf("--error %q: bad regular expression: %v", o.Error, err)
		}
		sel.Error = re
	}
	if len(o.IDs) > 0 {
		sel.IDs = map[string]bool{}
		for _, id := range o.IDs {
			sel.IDs[id] = true
		}
	}
	if len(o.Patterns) > 0 {
		sel.Patterns = map[string]bool{}
		for _, pt := range o.Patterns {
			sel.Patterns[pt] = true
		}
	}
	if p.Job == "" {
		parts := []string{o.DLQ.String(), "to=" + o.ToText, "filter=" + o.FilterText, "error=" + o.Error, "ids=" + strings.Join(o.IDs, ","),
			fmt.Sprintf("max=%d", o.MaxRedrives), "park=" + o.ParkText, fmt.Sprintf("keep=%v", o.KeepPartition)}
		h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
		p.Job = replay.SafeJobName(o.DLQ.Name, replay.MaxJobName-9) + "-" + hex.EncodeToString(h[:4])
	}
	if (o.Pin != nil || len(o.Patterns) > 0) && o.DLQ.Transport == "kafka" {
		pins := o.Pin
		if pins == nil {
			pins = Pins(o.Patterns...) // the patterns, hashed as a set
		}
		p.Job += "-" + pins.Hash()
	}
	return p, nil
}

// StartRun starts the run's span ("eddy redrive", replay.StartRun): its
// destination is --to when given (else each message goes to its own origin,
// and the span names none), and eddy.dlq names the DLQ. A nil tracer traces
// nothing.
func (p *Plan) StartRun(ctx context.Context, tracer oteltrace.Tracer) (context.Context, func(replay.Summary, error)) {
	if tracer == nil {
		return ctx, func(replay.Summary, error) {}
	}
	var to bus.Address
	if p.Route.To != nil {
		to = *p.Route.To
	}
	return replay.StartRun(ctx, tracer, "redrive", p.Job, to, attribute.String("eddy.dlq", p.DLQ.String()))
}

// ReadIDs expands a redrive's --ids: @FILE reads ids one a line (blank lines
// and # comments skipped); blank items are skipped.
func ReadIDs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if path, ok := strings.CutPrefix(a, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--ids @%s: %v", path, err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					out = append(out, line)
				}
			}
			continue
		}
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out, nil
}
