package inspect

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/replay"
)

// DLQList is eddy dlq ls and dlq show -o json, version 1.
type DLQList struct {
	V    int           `json:"v"`
	DLQs []dlq.Summary `json:"dlqs"`
}

// WriteDLQs writes eddy dlq ls as format ("table", "tsv" or "json": a
// DLQList) says: a row per DLQ, names[i] being sums[i]'s address; ages are
// relative to now.
func WriteDLQs(w io.Writer, format string, sums []dlq.Summary, names []string, now time.Time) error {
	if format == "json" {
		return encodeJSON(w, DLQList{V: 1, DLQs: append([]dlq.Summary{}, sums...)})
	}
	t := &table{head: []string{"DLQ", "COUNT", "OLDEST", "NEWEST", "TOP ERROR", "ORIGINS"}}
	for i, s := range sums {
		top := "-"
		if len(s.Errors) > 0 {
			top = s.Errors[0].Value + " (" + strconv.FormatInt(s.Errors[0].Count, 10) + ")"
		}
		var origins []string
		for _, c := range s.Origins {
			origins = append(origins, c.Value)
		}
		t.add(format, names[i], strconv.FormatInt(s.Count, 10), when(s.Oldest, now, format), when(s.Newest, now, format),
			top, strings.Join(origins, ","))
	}
	return t.writeFormat(w, format, "", false, "dlq", "count", "oldest", "newest", "top_error", "origins")
}

// WriteDLQGroups writes eddy dlq show of the DLQ at addr: for a person a
// title line, then a row per group.
func WriteDLQGroups(w io.Writer, format, addr string, s dlq.Summary, now time.Time) error {
	if format == "json" {
		return encodeJSON(w, DLQList{V: 1, DLQs: []dlq.Summary{s}})
	}
	t := &table{head: []string{"COUNT", "ERROR", "CLASS", "ORIGIN", "FIRST", "LAST", "IDS"}}
	for _, g := range s.Groups {
		class := g.Class
		if class == "" {
			class = "-"
		}
		t.add(format, strconv.FormatInt(g.Count, 10), g.Pattern, class, g.Origin,
			when(g.First, now, format), when(g.Last, now, format), strings.Join(g.IDs, " "))
	}
	title := SafeString(addr) + ": " + strconv.FormatInt(s.Count, 10) + " message(s), oldest " + when(s.Oldest, now, format) +
		", newest " + when(s.Newest, now, format) + "\n\n"
	return t.writeFormat(w, format, title, false, "count", "error", "class", "origin", "first", "last", "ids")
}

// LedgerJob is one job of eddy dlq ledger -o json (version 1).
type LedgerJob struct {
	Job        string     `json:"job"`
	Completed  int        `json:"completed"`
	InProgress int        `json:"in_progress"`
	Oldest     *time.Time `json:"oldest"`
	Newest     *time.Time `json:"newest"`
}

func ledgerJob(j replay.JobInfo) LedgerJob {
	out := LedgerJob{Job: j.Job, Completed: j.Counts[replay.Completed], InProgress: j.Counts[replay.InProgress]}
	if !j.Oldest.IsZero() {
		o, n := j.Oldest.UTC(), j.Newest.UTC()
		out.Oldest, out.Newest = &o, &n
	}
	return out
}

// WriteLedgerJobs writes eddy dlq ledger ls: a row per job.
func WriteLedgerJobs(w io.Writer, format string, jobs []replay.JobInfo, now time.Time) error {
	if format == "json" {
		out := struct {
			V    int         `json:"v"`
			Jobs []LedgerJob `json:"jobs"`
		}{V: 1, Jobs: []LedgerJob{}}
		for _, j := range jobs {
			out.Jobs = append(out.Jobs, ledgerJob(j))
		}
		return encodeJSON(w, out)
	}
	t := &table{head: []string{"JOB", "COMPLETED", "INPROGRESS", "OLDEST", "NEWEST"}}
	for _, j := range jobs {
		t.add(format, j.Job, strconv.Itoa(j.Counts[replay.Completed]), strconv.Itoa(j.Counts[replay.InProgress]),
			when(j.Oldest, now, format), when(j.Newest, now, format))
	}
	return t.writeFormat(w, format, "", false, "job", "completed", "in_progress", "oldest", "newest")
}

// WriteLedgerJob writes eddy dlq ledger show: for a person a line of the
// job's counts, then its in-progress entries, ents, if any.
func WriteLedgerJob(w io.Writer, format string, job replay.JobInfo, ents []replay.Entry, now time.Time) error {
	if format == "json" {
		type idJSON struct {
			ID string    `json:"id"`
			At time.Time `json:"at"`
		}
		out := struct {
			V int `json:"v"`
			LedgerJob
			InProgressIDs []idJSON `json:"in_progress_ids"`
		}{V: 1, LedgerJob: ledgerJob(job), InProgressIDs: []idJSON{}}
		for _, e := range ents {
			out.InProgressIDs = append(out.InProgressIDs, idJSON{ID: e.ID, At: e.At.UTC()})
		}
		return encodeJSON(w, out)
	}
	t := &table{head: []string{"IN PROGRESS ID", "SINCE"}}
	for _, e := range ents {
		t.add(format, e.ID, when(e.At, now, format))
	}
	title := "job " + strconv.Quote(job.Job) + ": " + strconv.Itoa(job.Counts[replay.Completed]) + " completed, " +
		strconv.Itoa(job.Counts[replay.InProgress]) + " in progress (outcome unknown), oldest " + when(job.Oldest, now, format) +
		", newest " + when(job.Newest, now, format) + "\n"
	return t.writeFormat(w, format, title, true, "in_progress_id", "since")
}

// encodeJSON writes v as one line of JSON, with <, > and & as they are.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
