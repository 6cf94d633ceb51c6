package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/replay"
)

// isRedisLedger reports whether spec names a Redis ledger rather than a file.
func isRedisLedger(spec string) bool {
	return strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://")
}

// LedgerSpec resolves which ledger a command uses: --ledger, else
// EDDY_LEDGER, else the default bbolt file.
func (f *Factory) LedgerSpec(flag string) (string, error) {
	spec := flag
	if spec == "" {
		spec = f.Getenv("EDDY_LEDGER")
	}
	if spec == "" {
		return replay.DefaultLedgerPath()
	}
	return spec, nil
}

// OpenLedger opens the ledger that flag (the --ledger value) and the
// environment name: the one place `eddy replay`, `eddy dlq redrive` and
// `eddy dlq ledger` resolve it. A Redis URL's password is registered with the
// redactor before anything could print it.
func (f *Factory) OpenLedger(ctx context.Context, flag string, ttl time.Duration, more ...replay.LedgerOption) (replay.Store, error) {
	spec, err := f.LedgerSpec(flag)
	if err != nil {
		return nil, err
	}
	opts := append([]replay.LedgerOption{replay.WithTTL(ttl)}, more...)
	if isRedisLedger(spec) {
		registerURLSecret(f.Redactor, spec)
		l, err := replay.OpenRedisLedger(ctx, spec, opts...)
		if errors.Is(err, replay.ErrLedgerURL) {
			return nil, asUsage(err)
		}
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	if strings.Contains(spec, "://") {
		return nil, usagef("--ledger %s: want a file path or redis://HOST:PORT/DB", replay.RedactURL(spec))
	}
	l, err := replay.OpenLedger(spec, opts...)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// openRunLedger opens the ledger of a replay or redrive: for a dry run as
// openDryLedger does (read-only; nil when there is none yet), else as
// OpenLedger does.
func (f *Factory) openRunLedger(ctx context.Context, flag string, ttl time.Duration, dryRun bool) (replay.Ledger, error) {
	if dryRun {
		return f.openDryLedger(ctx, flag, ttl)
	}
	return f.OpenLedger(ctx, flag, ttl)
}

// LedgerOptions are `eddy dlq ledger`'s flags and arguments.
type LedgerOptions struct {
	Ledger string
	Output string
	// Job is show's argument.
	Job string
	// Limit bounds how many outcome-unknown ids show lists (0: all).
	Limit int
	// Prune's selection.
	OlderThan     time.Duration
	PruneJob      string
	CompletedOnly bool
	All           bool
}

func newCmdLedger(f *Factory, runF func(context.Context, string, *LedgerOptions) error) *cobra.Command {
	o := &LedgerOptions{}
	run := func(verb string, fn func(context.Context, *Factory, *LedgerOptions) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.Job = args[0]
			}
			if runF != nil {
				return runF(c.Context(), verb, o)
			}
			return fn(c.Context(), f, o)
		}
	}
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "List, inspect and prune the replay and redrive ledger",
		Long: `List, inspect and prune the ledger that makes replays and redrives rerun-safe.

For each job the ledger holds every source record it moved (COMPLETED: a rerun
skips it) or was moving (INPROGRESS: the target may or may not have it — the
outcome is unknown; a rerun moves it again, and a duplicate then carries the
same eddy-redrive-id header). An entry is forgotten the --ledger-ttl of the
replay or redrive that last wrote it (default 30d) after that write.

The ledger is the bbolt file $XDG_STATE_HOME/eddy/ledger.db unless --ledger
(or EDDY_LEDGER) names another file or a shared Redis, redis://HOST:PORT/DB.

  eddy dlq ledger [ls]      jobs, with counts per state, oldest and newest
  eddy dlq ledger show JOB  one job's counts and its INPROGRESS ids
  eddy dlq ledger prune     delete entries: --older-than, --job, --completed-only
                            (or --all)

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: run("ls", ledgerLsRun),
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the ledger's jobs: counts per state, oldest and newest entry",
		Args:  cobra.NoArgs,
		RunE:  run("ls", ledgerLsRun),
	}
	show := &cobra.Command{
		Use:   "show JOB",
		Short: "Show one job's counts and its in-progress (outcome-unknown) ids",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("dlq ledger show needs one JOB (eddy dlq ledger ls lists them)")
			}
			return nil
		},
		RunE: run("show", ledgerShowRun),
	}
	show.Flags().IntVar(&o.Limit, "limit", 100, "list at most this many in-progress ids (0: all)")
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Delete ledger entries by age, job and state",
		Long: `Delete ledger entries: those older than --older-than, of --job, and only
COMPLETED ones with --completed-only; the selectors combine. --all deletes
everything. Deleting an INPROGRESS entry forgets that its record may already be
in the target: a rerun would move it again.`,
		Args: cobra.NoArgs,
		RunE: run("prune", ledgerPruneRun),
	}
	pf := prune.Flags()
	pf.Var((*days)(&o.OlderThan), "older-than", "only entries last written longer ago than this (e.g. 7d, 12h)")
	pf.StringVar(&o.PruneJob, "job", "", "only this job's entries")
	pf.BoolVar(&o.CompletedOnly, "completed-only", false, "only COMPLETED entries: keep every outcome-unknown one")
	pf.BoolVar(&o.All, "all", false, "every entry (when no other selector is given)")
	for _, c := range []*cobra.Command{cmd, ls, show, prune} {
		bindLedgerFlags(c.Flags(), &o.Ledger, nil)
		if c != prune {
			tableOutput.bind(c.Flags(), &o.Output)
		}
	}
	cmd.AddCommand(ls, show, prune)
	return cmd
}

// open opens the ledger read-only and lists its jobs: ls and show only
// read, so nothing is created and nothing expired is deleted.
func (o *LedgerOptions) open(ctx context.Context, f *Factory) (replay.Store, string, []replay.JobInfo, error) {
	format := tableOutput.resolve(o.Output, f.IO)
	l, err := f.OpenLedger(ctx, o.Ledger, replay.DefaultLedgerTTL, replay.ReadOnlyLedger())
	if err != nil {
		return nil, "", nil, err
	}
	jobs, err := l.Jobs()
	if err != nil {
		l.Close()
		return nil, "", nil, err
	}
	return l, format, jobs, nil
}

func ledgerLsRun(ctx context.Context, f *Factory, o *LedgerOptions) error {
	l, format, jobs, err := o.open(ctx, f)
	if err != nil {
		return err
	}
	defer l.Close()
	return inspect.WriteLedgerJobs(f.IO.Out, format, jobs, f.Now())
}

func ledgerShowRun(ctx context.Context, f *Factory, o *LedgerOptions) error {
	if o.Limit < 0 {
		return usagef("--limit wants a number >= 0")
	}
	l, format, jobs, err := o.open(ctx, f)
	if err != nil {
		return err
	}
	defer l.Close()
	var job *replay.JobInfo
	for i := range jobs {
		if jobs[i].Job == o.Job {
			job = &jobs[i]
		}
	}
	if job == nil {
		return fmt.Errorf("dlq ledger: no job %s in the ledger (eddy dlq ledger ls lists them)", strconv.Quote(o.Job))
	}
	ents, err := l.Entries(o.Job, replay.InProgress, o.Limit)
	if err != nil {
		return err
	}
	if err := inspect.WriteLedgerJob(f.IO.Out, format, *job, ents, f.Now()); err != nil {
		return err
	}
	if n := job.Counts[replay.InProgress]; format == "table" && len(ents) < n {
		fmt.Fprintf(f.IO.ErrOut, "eddy: %d more in progress (--limit 0 lists all)\n", n-len(ents))
	}
	return nil
}

func ledgerPruneRun(ctx context.Context, f *Factory, o *LedgerOptions) error {
	if o.OlderThan == 0 && o.PruneJob == "" && !o.CompletedOnly && !o.All {
		return usagef("dlq ledger prune needs --older-than, --job or --completed-only (or --all to delete everything)")
	}
	p := replay.Prune{Job: o.PruneJob, CompletedOnly: o.CompletedOnly}
	if o.OlderThan > 0 {
		p.Before = f.Now().Add(-o.OlderThan)
	}
	l, err := f.OpenLedger(ctx, o.Ledger, replay.DefaultLedgerTTL)
	if err != nil {
		return err
	}
	defer l.Close()
	n, err := l.Prune(p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f.IO.Out, "pruned %d entr%s\n", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	return err
}
