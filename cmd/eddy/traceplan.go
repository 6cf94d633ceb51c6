package main

import (
	"strings"
	"time"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/trace"
)

// tracePlan is what trace, trace flows and expect validated before reading:
// the settings they share (-o, --flow-timeout, --flow and the schema),
// checked here once for the three.
type tracePlan struct {
	schema *event.Schema
	defs   []trace.Definition
	json   bool
}

// planTrace checks the settings trace, trace flows and expect share, before
// anything is read: expect passes its own (it has no --flow) instead of
// building a TraceOptions.
func planTrace(f *Factory, output string, flowTimeout time.Duration, flows []string) (*tracePlan, error) {
	p := &tracePlan{}
	p.json = output == "json" // traceOutput's enum checked the value while parsing flags
	if flowTimeout <= 0 {
		return nil, usagef("--flow-timeout %s: want a positive duration", flowTimeout)
	}
	for _, s := range flows {
		if s == "shop" || s == "demo" {
			s = shopFlow
		}
		d, err := trace.ParseDefinition(s)
		if err != nil {
			return nil, asUsage(err)
		}
		p.defs = append(p.defs, d)
	}
	var err error
	if p.schema, err = f.Schema(); err != nil {
		return nil, err
	}
	return p, p.schema.Compile()
}

// parseSince reads --since: a duration back from now, or a time.
func parseSince(s string, now time.Time) (bus.Position, error) {
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil && d > 0 {
		return bus.Position{Kind: bus.PosTime, Time: now.Add(-d)}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return bus.Position{Kind: bus.PosTime, Time: t}, nil
	}
	return bus.Position{}, usagef("--since %q: want a duration like 1h or 30m, or an RFC 3339 time", s)
}

// traceReads are how trace and expect read brokers (from since to until)
// and captures: whole, unless --since was given (sinceSet), to until when
// that is a time.
func traceReads(since, until bus.Position, sinceSet, skipBad, backlog bool) (read, fileRead bus.ReadOptions) {
	read = bus.ReadOptions{From: since, Until: until, SkipBad: skipBad, Backlog: backlog}
	fileRead = bus.ReadOptions{SkipBad: skipBad}
	if sinceSet {
		fileRead.From = since
	}
	if until.Kind == bus.PosTime {
		fileRead.Until = until
	}
	return read, fileRead
}
