package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/all"
	"github.com/eddy-sh/eddy/bus/file"
	"github.com/eddy-sh/eddy/internal/cmdutil"
	"github.com/eddy-sh/eddy/replay"
	"github.com/eddy-sh/eddy/replay/eos"
)

// checkJobFlag checks a --job value (empty: not given, the job's name is
// derived) with the one validation every job name goes through: it becomes a
// file name, a consumer group id and a transactional id.
func checkJobFlag(job string) error {
	if job == "" {
		return nil
	}
	if err := replay.CheckJobName(job); err != nil {
		return safeUsagef("--job %q: %v", job, err)
	}
	return nil
}

// checkEmptyFlags refuses every flag of cmdutil.NonEmptyFlags given with an
// empty or blank value: such a flag would mean "everything" or "the
// default". It runs before every command (the root's PersistentPreRunE).
// Blank items of --ids are skipped (as blank lines of @FILE are);
// planRedrive refuses a list that ends up empty.
func checkEmptyFlags(cmd *cobra.Command) error {
	return cmdutil.CheckNonEmpty(cmd.Flags(), cmdutil.NonEmptyFlags, "ids")
}

// checkNotOwnSource refuses a replay whose target is one of its sources:
// Kafka doubles the topic's range (allowed with --allow-same-target, when it
// is meant); a capture or a RabbitMQ queue would read its own copies, on and
// on, and is refused always.
func checkNotOwnSource(p *replayPlan, allow bool) error {
	to := p.to
	switch to.Transport {
	case "kafka":
		for _, a := range p.src.Kafka {
			if a.Name == to.Name || a.Regex != nil && a.Regex.MatchString(to.Name) {
				if allow {
					return nil
				}
				return safeUsagef("--to %s is a source of this replay (%s): every record of the range would be written to the topic again; pass --allow-same-target if that is meant",
					to.String(), a.String())
			}
		}
	case "file":
		for _, a := range p.src.Files {
			if a.Name != "-" && file.SameFile(a.Name, to.Name) {
				return safeUsagef("--to %s is the capture this replay reads (%s): it would read its own copies; write to another file",
					to.String(), a.String())
			}
		}
	case "amqp":
		for _, a := range p.src.AMQP {
			if sameQueue(to, a.Name) {
				return safeUsagef("--to %s is the queue this replay consumes: it would consume its own copies; write to another queue",
					to.String())
			}
		}
	}
	return nil
}

// sameQueue reports whether the RabbitMQ address to writes to the queue q
// itself (amqp:Q, through the default exchange).
func sameQueue(to bus.Address, q string) bool {
	return to.Transport == "amqp" && to.Exchange == "" && to.Name == q
}

// preflightTarget checks a run's target before anything is read or written,
// the real run and its dry run alike (all.Preflight). It writes nothing.
func preflightTarget(ctx context.Context, f *Factory, to bus.Address) error {
	return all.Preflight(ctx, sourceClients(f, nil, nil), to)
}

// openDryLedger opens the ledger a dry run reads: the one OpenLedger would
// open, failing as it would, but neither created nor changed (opened with
// replay.ReadOnlyLedger: a bbolt file read-only with its expired entries left,
// a Redis ledger pinged without an owner lease). It is nil when the file does
// not exist yet but could be created: no job has done anything.
func (f *Factory) openDryLedger(ctx context.Context, flag string, ttl time.Duration) (replay.Ledger, error) {
	l, err := f.OpenLedger(ctx, flag, ttl, replay.ReadOnlyLedger())
	if errors.Is(err, replay.ErrNoLedger) {
		spec, serr := f.LedgerSpec(flag)
		if serr != nil {
			return nil, serr
		}
		if err := file.CheckCreatable(filepath.Dir(spec)); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// concurrentRun maps a run fenced by another run of the same job (Kafka's
// transactional path) to exit 3, partial: what this run committed stands,
// the other run moves the rest, nothing was lost. The message says that in
// words, never Kafka's error code.
func concurrentRun(err error) error {
	var cr *eos.ConcurrentRunError
	if errors.As(err, &cr) {
		return partialErr(cr)
	}
	return err
}

// checkCreatable reports whether os.MkdirAll(dir) could succeed, creating
// nothing (file.CheckCreatable).
func checkCreatable(dir string) error { return file.CheckCreatable(dir) }
