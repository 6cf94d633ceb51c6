package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/replay"
)

// ReplayReport is eddy replay's summary, as -o json prints it (version 1).
type ReplayReport struct {
	V        int      `json:"v"`
	Job      string   `json:"job"`
	Mode     string   `json:"mode"` // "transactional", "ledger", "dry-run"
	Read     int64    `json:"read"`
	Filtered int64    `json:"filtered"`
	Skipped  int64    `json:"skipped"`
	Retried  int64    `json:"retried"`
	Held     int64    `json:"held"`
	Moved    int64    `json:"moved"`
	Failed   int64    `json:"failed"`
	Seconds  float64  `json:"seconds"`
	Stopped  bool     `json:"stopped"`
	Plan     *DryPlan `json:"plan,omitempty"`
	// Unknown lists the identities whose write was in flight when the
	// target's connection was lost for good: in progress in the ledger, a
	// rerun moves them again (a duplicate carries the same eddy-redrive-id).
	Unknown []string `json:"outcome_unknown,omitempty"`
	Error   *string  `json:"error"`
}

// DryPlan is a dry run's plan in a ReplayReport.
type DryPlan struct {
	Targets  []replay.TargetCount `json:"targets"`
	FirstIDs []string             `json:"first_ids"`
	Total    int64                `json:"total"`
}

// SetSummary fills in what the run counted; runErr, unless the run was
// stopped, is the report's error.
func (r *ReplayReport) SetSummary(sum replay.Summary, runErr error) {
	r.Read, r.Filtered, r.Skipped, r.Retried, r.Held, r.Moved, r.Failed =
		sum.Read, sum.Filtered, sum.Skipped, sum.Retried, sum.Held, sum.Moved, sum.Failed
	r.Seconds, r.Stopped = sum.Elapsed.Seconds(), sum.Stopped
	if runErr != nil && !sum.Stopped {
		s := runErr.Error()
		r.Error = &s
	}
}

// SetPlan puts a dry run's plan in the report (lists never null).
func (r *ReplayReport) SetPlan(pl replay.Plan) {
	r.Plan = &DryPlan{Targets: pl.Targets, FirstIDs: pl.FirstIDs, Total: pl.Total}
	if r.Plan.Targets == nil {
		r.Plan.Targets = []replay.TargetCount{}
	}
	if r.Plan.FirstIDs == nil {
		r.Plan.FirstIDs = []string{}
	}
}

// WriteReplayReport writes rep: as one JSON line on out, or for a person —
// a dry run's plan on out, the summary line on errOut. A report that could
// not be written is an error (exit 1), as in JSON.
func WriteReplayReport(out, errOut io.Writer, rep *ReplayReport, asJSON bool) error {
	if asJSON {
		return writeJSONLine(out, rep)
	}
	w := &errWriter{w: out}
	if rep.Plan != nil {
		fmt.Fprintf(w, "dry run: would write %d event(s)\n", rep.Plan.Total)
		writeTargets(w, rep.Plan.Targets)
		if len(rep.Plan.FirstIDs) > 0 {
			fmt.Fprintf(w, "first ids: %s\n", safeJoin(rep.Plan.FirstIDs))
		}
	}
	verb := "moved"
	if rep.Mode == "dry-run" {
		verb = "would move"
	}
	fmt.Fprintf(errOut, "eddy: replay %s: read %d, %s %d, skipped %d (already done), filtered out %d",
		rep.Job, rep.Read, verb, rep.Moved, rep.Skipped, rep.Filtered)
	if rep.Retried > 0 {
		fmt.Fprintf(errOut, ", retried %d (possible duplicates, same %s)", rep.Retried, replay.HeaderRedriveID)
	}
	if rep.Held > 0 {
		fmt.Fprintf(errOut, ", left to another run %d (in progress there)", rep.Held)
	}
	if rep.Failed > 0 {
		fmt.Fprintf(errOut, ", not confirmed %d", rep.Failed)
	}
	fmt.Fprintf(errOut, " in %.1fs (%s)\n", rep.Seconds, rep.Mode)
	WriteOutcomeUnknown(errOut, rep.Unknown)
	return w.result()
}

// RedriveReport is eddy dlq redrive's summary, as -o json prints it
// (version 1).
type RedriveReport struct {
	V          int                  `json:"v"`
	Job        string               `json:"job"`
	Group      string               `json:"group,omitempty"`
	Mode       string               `json:"mode"` // "transactional", "ledger", "dry-run"
	Read       int64                `json:"read"`
	Redriven   int64                `json:"redriven"`
	Parked     int64                `json:"parked"`
	Unknown    int64                `json:"unknown_origin"`
	Unselected int64                `json:"not_selected"`
	Already    int64                `json:"already_removed"`
	Held       int64                `json:"held"`
	Targets    []replay.TargetCount `json:"targets"`
	Left       []dlq.LeftRecord     `json:"left"`
	FirstIDs   []string             `json:"first_ids,omitempty"`
	Seconds    float64              `json:"seconds"`
	Stopped    bool                 `json:"stopped"`
	// OutcomeUnknown: as in replay's report (RabbitMQ, a connection lost
	// for longer than --timeout).
	OutcomeUnknown []string `json:"outcome_unknown,omitempty"`
	Error          *string  `json:"error"`
}

// NewRedriveReport is the report of job's run rep, whose error (unless it
// was stopped) is runErr; group is the Kafka job's consumer group ("" for
// RabbitMQ).
func NewRedriveReport(job, group, mode string, rep dlq.Report, runErr error) *RedriveReport {
	out := &RedriveReport{V: 1, Job: job, Group: group, Mode: mode,
		Read: rep.Read, Redriven: rep.Redriven, Parked: rep.Parked, Unknown: rep.Unknown, Unselected: rep.Unselected,
		Already: rep.Already, Held: rep.Held, Targets: rep.Targets, Left: rep.Left, FirstIDs: rep.First,
		Seconds: rep.Elapsed.Seconds(), Stopped: rep.Stopped, OutcomeUnknown: rep.OutcomeUnknown}
	if out.Targets == nil {
		out.Targets = []replay.TargetCount{}
	}
	if out.Left == nil {
		out.Left = []dlq.LeftRecord{}
	}
	if runErr != nil && !rep.Stopped {
		s := runErr.Error()
		out.Error = &s
	}
	return out
}

// WriteRedriveReport writes r: as one JSON line on out, or for a person —
// the targets (a dry run's plan) on out, what was left and the summary line
// on errOut.
func WriteRedriveReport(out, errOut io.Writer, r *RedriveReport, asJSON bool) error {
	if asJSON {
		return writeJSONLine(out, r)
	}
	w := &errWriter{w: out}
	verb := "redriven"
	if r.Mode == "dry-run" {
		verb = "would redrive"
		fmt.Fprintf(w, "dry run: would write %d message(s)\n", r.Redriven+r.Parked)
	}
	writeTargets(w, r.Targets)
	if r.Unknown > 0 {
		fmt.Fprintf(w, "  %-40s %d\n", "(left: unknown origin)", r.Unknown)
	}
	if len(r.FirstIDs) > 0 {
		fmt.Fprintf(w, "first: %s\n", safeJoin(r.FirstIDs))
	}
	for _, l := range r.Left {
		fmt.Fprintf(errOut, "eddy: left %s: %s\n", SafeString(l.ID), SafeString(l.Reason))
	}
	if int64(len(r.Left)) < r.Unknown {
		fmt.Fprintf(errOut, "eddy: ... and %d more left ('eddy dlq show' lists them)\n", r.Unknown-int64(len(r.Left)))
	}
	fmt.Fprintf(errOut, "eddy: redrive %s: read %d, %s %d, parked %d, left %d (unknown origin), not selected %d, already removed %d in %.1fs (%s)\n",
		r.Job, r.Read, verb, r.Redriven, r.Parked, r.Unknown, r.Unselected, r.Already, r.Seconds, r.Mode)
	if r.Held > 0 {
		fmt.Fprintf(errOut, "eddy: redrive %s: %d message(s) held by another run sharing the ledger, left to it\n", r.Job, r.Held)
	}
	WriteOutcomeUnknown(errOut, r.OutcomeUnknown)
	return w.result()
}

// WriteOutcomeUnknown says which identities were in flight when a run gave
// up on a lost connection: one line, the ids safely rendered.
func WriteOutcomeUnknown(errOut io.Writer, unknown []string) {
	if len(unknown) == 0 {
		return
	}
	fmt.Fprintf(errOut, "eddy: outcome unknown for %d event(s) (in progress in the ledger; the same command moves them again, a duplicate carrying the same %s): %s\n",
		len(unknown), replay.HeaderRedriveID, safeJoin(unknown))
}

// WriteNotes writes a run's notes, one "eddy: note:" line each.
func WriteNotes(errOut io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(errOut, "eddy: note: %s\n", SafeString(n))
	}
}

func writeTargets(w io.Writer, targets []replay.TargetCount) {
	for _, t := range targets {
		fmt.Fprintf(w, "  %-40s %d\n", SafeString(t.Target), t.Count)
	}
}

// safeJoin renders each of ss terminal-safe, joined by spaces.
func safeJoin(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = SafeString(s)
	}
	return strings.Join(out, " ")
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// errWriter writes to w until a write fails, then writes nothing more and
// keeps that error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) result() error {
	if e.err != nil {
		return fmt.Errorf("writing the report: %w", e.err)
	}
	return nil
}

// Progress draws a run's progress as one line on a terminal (w), at most ten
// times a second; Done clears it.
type Progress struct {
	w     io.Writer
	tty   bool
	label string
	mu    sync.Mutex
	last  time.Time
	drew  bool
}

// NewProgress draws label's progress on w when tty says it is a terminal;
// otherwise it draws nothing.
func NewProgress(w io.Writer, tty bool, label string) *Progress {
	return &Progress{w: w, tty: tty, label: label}
}

// Update draws s (replay.Options.Progress).
func (p *Progress) Update(s replay.Summary) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Moved) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s: %d moved, %d skipped, %d filtered out, %.0f/s", p.label, s.Moved, s.Skipped, s.Filtered, rate)
	if s.JobTotal > 0 {
		// Several workers share a job: this one's figures are its share.
		fmt.Fprintf(p.w, "; job %d%% (all workers)", s.JobDone*100/s.JobTotal)
	}
	p.drew = true
}

// Done clears the line, if one was drawn.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
