package replay

import (
	"context"
	"slices"
	"sync"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
)

// DryRunRead is how a dry run reads a RabbitMQ queue it would consume (eddy
// replay amqp:QUEUE, eddy dlq redrive amqp:QUEUE): the peek of --backlog
// (messages got and given back at once, marked redelivered) up to what the
// queue held at the start; a stream queue by offset.
var DryRunRead = bus.ReadOptions{Backlog: true, From: bus.Position{Kind: bus.PosBeginning}, Until: bus.Position{Kind: bus.PosEnd}}

// Plan is what a dry run would have written.
type Plan struct {
	// Targets counts events per target, in the order targets were first seen.
	Targets []TargetCount
	// FirstIDs are the ids (or, without one, the redrive ids) of the first
	// events, up to the DryRun's limit.
	FirstIDs []string
	// Total is the number of events that would have been written.
	Total int64
}

// TargetCount is the number of events for one target.
type TargetCount struct {
	Target string
	Count  int64
}

// DryRun is a bus.Sink that writes nothing: it records a Plan of what it was
// given and confirms every write. Run with a DryRun sink and a ReadOnly ledger
// is a dry run of the same job.
type DryRun struct {
	target func(*event.Event) string
	id     func(*event.Event) string
	first  int

	// Check, when set, is asked once per target, with the first event
	// bound for it, whether the real run could write there (the target
	// exists, the user may write to it): a dry run refuses what the real
	// run would be refused. Its error fails the Write.
	Check func(ctx context.Context, e *event.Event) error

	mu   sync.Mutex
	plan Plan
	idx  map[string]int
}

// NewDryRun returns a dry-run sink. target names where an event would go
// (e.g. "kafka:orders"); id names an event for the plan's FirstIDs (nil: its
// eddy-redrive-id); first is how many ids to keep.
func NewDryRun(target, id func(*event.Event) string, first int) *DryRun {
	if id == nil {
		id = func(e *event.Event) string {
			v, _ := e.Header(HeaderRedriveID)
			return string(v)
		}
	}
	return &DryRun{target: target, id: id, first: first, idx: map[string]int{}}
}

// Write records evs in the plan and returns nil, or Check's error for the
// first event of a new target.
func (d *DryRun) Write(ctx context.Context, evs []event.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range evs {
		e := &evs[i]
		t := d.target(e)
		j, ok := d.idx[t]
		if !ok {
			if d.Check != nil {
				if err := d.Check(ctx, e); err != nil {
					return err
				}
			}
			j = len(d.plan.Targets)
			d.idx[t] = j
			d.plan.Targets = append(d.plan.Targets, TargetCount{Target: t})
		}
		d.plan.Targets[j].Count++
		d.plan.Total++
		if len(d.plan.FirstIDs) < d.first {
			d.plan.FirstIDs = append(d.plan.FirstIDs, d.id(e))
		}
	}
	return nil
}

// Plan returns the plan so far.
func (d *DryRun) Plan() Plan {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.plan
	p.Targets = slices.Clone(p.Targets)
	p.FirstIDs = slices.Clone(p.FirstIDs)
	return p
}

// Close does nothing.
func (d *DryRun) Close() error { return nil }

// NewDryRunTo is the plan of a run that writes everything to target: each
// event named by its schema id, else its eddy-redrive-id header (eddy
// replay --dry-run).
func NewDryRunTo(target string, schema *event.Schema, first int) *DryRun {
	return NewDryRun(func(*event.Event) string { return target }, func(e *event.Event) string {
		if id := schema.Extract(e).ID; id != "" {
			return id
		}
		v, _ := e.Header(HeaderRedriveID)
		return string(v)
	}, first)
}
