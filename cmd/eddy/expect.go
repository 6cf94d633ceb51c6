package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/helptext"
	"github.com/eddy-sh/eddy/trace"
)

// ExpectOptions are `eddy expect`'s flags and arguments.
type ExpectOptions struct {
	Expectations []string
	File         string
	Sources      []string
	Since        string
	SinceSet     bool
	Until        string
	Strict       bool
	Output       string
	FlowTimeout  time.Duration
	SkipBad      bool
	// Backlog is --backlog: peek at what RabbitMQ classic queues hold.
	Backlog bool
	// AllowEmpty: a step type that never occurs in what was read does not
	// fail the expectation.
	AllowEmpty bool
	// ForID: judge only the flows of these events (--for-id; @FILE read).
	ForID    []string
	Wait     time.Duration
	UntilSet bool
}

func newCmdExpect(f *Factory, runF func(context.Context, *ExpectOptions) error) *cobra.Command {
	o := &ExpectOptions{}
	cmd := &cobra.Command{
		Use:   "expect 'A -> B -> C [within DURATION]'... SOURCE...",
		Short: "Assert that business flows happen, in order and in time (for CI)",
		Long: helptext.Expect + backlogHelp + `

FLOW TESTS (--for-id)
  --for-id ID judges only the flows of that event (by event id, the flow's key
  or trace id) and ignores every other: send a test event, then expect its
  flow, on a system others use too. Repeatable; @FILE (or @- for stdin) reads
  one id per line, as eddy send --print-id writes them:
    eddy send kafka:orders order.json --print-id > ids
    eddy expect 'OrderPlaced -> OrderShipped within 30s' kafka:/.*/ --for-id @ids --since 5m
  On Kafka it reads from --since and follows until each of those flows has
  passed or failed for good (a deadline passed, a step dead-lettered), at most
  --wait; a flow still unfinished then fails, as does an id no event has
  (missing_ids in -o json). A RabbitMQ queue is read from when expect starts
  (a tap; a stream queue from --since): start expect before send there.

Exit 0 when no flow failed; 3 with a report of each failing flow (or step
type never seen, or --for-id id never read) otherwise.

` + expectJSONHelp,
		Example: `  # in CI, after the end-to-end tests ran
  eddy expect 'OrderPlaced -> PaymentAuthorized -> OrderShipped within 5s' kafka:/.*/
  # several, over a capture, strict
  eddy expect 'OrderPlaced -> PaymentAuthorized within 1s' 'OrderShipped -> EmailSent within 2s' file:run.jsonl --strict
  # from a file
  eddy expect --file flows.expect kafka:orders kafka:payments -o json`,
		Args: func(cmd *cobra.Command, args []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Expectations, o.Sources = nil, nil
			for _, a := range args {
				if strings.Contains(a, "->") || strings.Contains(a, "→") {
					o.Expectations = append(o.Expectations, a)
				} else {
					o.Sources = append(o.Sources, a)
				}
			}
			if len(o.Expectations) == 0 && o.File == "" {
				return usagef("expect needs an expectation, e.g. 'OrderPlaced -> PaymentAuthorized within 5s', or --file")
			}
			if len(o.Sources) == 0 {
				return usagef("expect needs at least one SOURCE, e.g. kafka:/.*/ or file:capture.jsonl")
			}
			o.SinceSet = cmd.Flags().Changed("since")
			o.UntilSet = cmd.Flags().Changed("until")
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return expectRun(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.File, "file", "", "read expectations from this file, one per line")
	fl.StringVar(&o.Since, "since", "1h", "how far back to look: a duration (1h) or an RFC3339 time")
	bindPositions(fl, nil, &o.Until, "", "end")
	fl.BoolVar(&o.Strict, "strict", false, "flows still pending at the end of input fail")
	traceOutput.bind(fl, &o.Output)
	fl.DurationVar(&o.FlowTimeout, "flow-timeout", trace.DefaultTimeout, "a flow with no event for this long is finished (its missing steps fail)")
	fl.BoolVar(&o.SkipBad, "skip-bad", false, "captures: skip malformed lines and report how many, instead of stopping")
	fl.BoolVar(&o.Backlog, "backlog", false, backlogFlag)
	bindSchemaFlags(fl, &f.Schemas)
	fl.BoolVar(&o.AllowEmpty, "allow-empty", false, "a step type that no event read has does not fail the expectation (by default it does, exit 3)")
	bindForID(fl, &o.ForID, &o.Wait)
	return cmd
}

func expectRun(ctx context.Context, f *Factory, o *ExpectOptions) error {
	var exps []trace.Expectation
	for _, s := range o.Expectations {
		e, err := trace.ParseExpectation(s)
		if err != nil {
			return asUsage(err)
		}
		exps = append(exps, e)
	}
	if o.File != "" {
		r, err := os.Open(o.File)
		if err != nil {
			return usagef("--file: %v", err)
		}
		more, err := trace.ParseExpectations(r, o.File)
		r.Close()
		if err != nil {
			return asUsage(err)
		}
		exps = append(exps, more...)
	}
	p, err := planTrace(f, o.Output, o.FlowTimeout, nil)
	if err != nil {
		return err
	}
	now := f.Now()
	since, err := parseSince(o.Since, now)
	if err != nil {
		return err
	}
	until, err := bus.ParseUntil(o.Until, now)
	if err != nil {
		return asUsage(err)
	}
	if err := bus.CheckRange("--since", o.Since, since, o.Until, until, now); err != nil {
		return asUsage(err)
	}
	ids, err := readForIDs(o.ForID, f.IO.In)
	if err != nil {
		return err
	}
	live := all.Live(o.Sources)
	if len(ids) > 0 && live && !o.UntilSet {
		// --for-id follows the brokers until the flows of its events
		// settle (or --wait ends): the events it waits for are yet to come.
		until = bus.Position{}
	}
	read, fileRead := traceReads(since, until, o.SinceSet, o.SkipBad, o.Backlog)
	in, err := openTraceInput(ctx, f, o.Sources, read, fileRead)
	if err != nil {
		return err
	}
	defer in.Close()
	chk := trace.NewChecker(exps, o.Strict)
	chk.AllowEmpty = o.AllowEmpty
	// What is still open when the input ends is judged against the end of
	// the window: for a broker, now (the latest record read may be long
	// past: a flow whose deadline passed with no next step has failed),
	// or --until when that is earlier (what came after it was not read);
	// for captures, the latest time in the data.
	endAt := func(latest time.Time) time.Time {
		if !live {
			return latest
		}
		end := f.Now()
		if until.Kind == bus.PosTime && until.Time.Before(end) {
			end = until.Time
		}
		return end
	}
	var types, missing []string
	if len(ids) > 0 {
		// A flow the run waited for and that did not finish fails: the
		// job sent its event to see it through.
		chk.Strict = chk.Strict || live
		types, missing, err = trace.ExpectFor(ctx, in.Input, trace.Config{Schema: p.schema, Timeout: o.FlowTimeout}, chk, ids, live,
			f.Now().Add(forIDWait(o.Wait, exps)), f.Now, endAt)
	} else {
		types, err = trace.Expect(ctx, in.Input, trace.Config{Schema: p.schema, Timeout: o.FlowTimeout}, chk, endAt)
	}
	if err != nil {
		return err
	}
	in.reportSkipped(f)
	rep := chk.Report()
	if len(missing) > 0 {
		rep.OK, rep.MissingIDs = false, missing
	}
	if p.json {
		if err := writeJSON(f.IO.Out, rep); err != nil {
			return err
		}
	} else if err := inspect.WriteExpect(f.IO.Out, chk, types, o.AllowEmpty); err != nil {
		return err
	}
	for _, id := range missing {
		notef(f.IO.ErrOut, "--for-id %s: no event with this id (or a flow keyed by it) was read from %s", id, strings.Join(o.Sources, " "))
	}
	if !rep.OK {
		if !chk.Failed() {
			return &silentError{code: ExitPartial}
		}
		inspect.ExpectFailed(f.IO.ErrOut, rep.Results, o.AllowEmpty, types)
		return &silentError{code: ExitPartial}
	}
	return nil
}
