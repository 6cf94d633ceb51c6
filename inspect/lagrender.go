package inspect

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LagWriteOptions configure WriteLag.
type LagWriteOptions struct {
	// Format is "table" (for a person), "tsv" (for scripts), "json" or
	// "jsonl" (the same object; jsonl is meant for one line per sample).
	Format string
	// Partitions adds a row per partition to the table (tsv and json always
	// have them).
	Partitions bool
	Color      bool
	Width      int
}

// WriteLag writes one sample of eddy lag. Every name is rendered
// terminal-safe.
//
// json (and each jsonl line) is one object, version 1 of this schema; fields
// are only ever added:
//
//	{"v":1,"time":"2026-11-23T10:00:00.123Z","isolation":"read_committed",
//	 "window":{"samples":1,"size":10},
//	 "groups":[{"group":"payments","type":"classic","state":"Stable",
//	   "status":"WARN","worst_partition_status":"WARN",
//	   "lag":120,"offset_lag":121,"time_lag_seconds":4.2,
//	   "members":[{"member_id":"…","instance_id":null,"client_id":"payments-0","host":"/10.0.0.7",
//	               "assigned":[{"topic":"orders","partitions":[0,1,2]}]}],
//	   "topics":[{"topic":"orders","partitions":6,"lag":120,"offset_lag":121,"time_lag_seconds":4.2}],
//	   "partitions":[{"topic":"orders","partition":0,"committed":4711,"log_start":0,"end":4731,
//	                  "lag":20,"offset_lag":20,"time_lag_seconds":4.2,
//	                  "head_offset":4711,"head_timestamp":"2026-11-23T09:59:55.9Z",
//	                  "member_id":"…","client_id":"payments-0","status":"WARN","note":null}],
//	   "error":null}],
//	 "queues":[{"queue":"orders.q","vhost":"/","type":"classic","ready":5,"unacked":1,"consumers":2,
//	            "publish_rate":12.5,"deliver_rate":12.1,"ack_rate":12.1,
//	            "head_age_seconds":3,"head_timestamp":"2026-11-23T09:59:57Z","via":"management","note":null}],
//	 "errors":[]}
//
// Unknown values are null: committed (no commit), end/log_start/lag (deleted
// topic), lag and offset_lag (committed offset beyond the log end),
// time_lag_seconds (head not reached, no or future timestamp), queue rates and
// head age (no management API, not a classic queue, no timestamp property).
// status is one of OK, WARN, ERR, UNKNOWN (not enough samples yet); partition
// status also STOP, STALL, REWIND, ERR (committed offset beyond the log end),
// or null for a partition with no commit.
//
// Added in version 1 (fields are only ever added):
//
//   - groups and topics: "lag_exact" (false: some partition's lag is a
//     range, and "lag" is its upper bound), "lag_min" (the lower bound; equal
//     to lag when exact), "time_lag_exact" (false: a partition with records to
//     read has no time lag, so time_lag_seconds is a lower bound or null).
//   - groups: "reasons", the partitions' reasons, sorted.
//   - partitions: "high_watermark" (offset_lag is high_watermark − committed,
//     as kafka-consumer-groups counts), "lag_min", "lag_exact" (false: the
//     read budget or --timeout stopped the count; lag is then an upper bound:
//     the records counted plus every offset not read), "reason" (null, or
//     commit_beyond_end, no_timestamp, future_timestamp).
//   - queues: "reason" (null, or future_timestamp: head_age_seconds is null
//     because the head message is dated ahead of eddy's clock).
func WriteLag(w io.Writer, s *LagSnapshot, o LagWriteOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch o.Format {
	case "", "table":
		writeLagTables(bw, s, o, isHeadless(w))
	case "tsv":
		writeLagTSV(bw, s, isHeadless(w))
	case "json", "jsonl":
		b, err := json.Marshal(lagJSON(s))
		if err != nil {
			return err
		}
		bw.Write(b)
		bw.WriteByte('\n')
	default:
		return &unknownFormatError{o.Format}
	}
	return bw.Flush()
}

type unknownFormatError struct{ f string }

func (e *unknownFormatError) Error() string {
	return "unknown lag format " + strconvQuote(e.f) + " (valid: table, tsv, json, jsonl)"
}

func strconvQuote(s string) string { return strconv.Quote(SafeString(s)) }

// safeJSON is a string marshalled terminal-safe (C1 and bidi controls escaped).
type safeJSON string

func (s safeJSON) MarshalJSON() ([]byte, error) { return appendJSONString(nil, string(s)), nil }

func optString(s string) *safeJSON {
	if s == "" {
		return nil
	}
	v := safeJSON(s)
	return &v
}

func optInt(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

func optSeconds(d time.Duration) *float64 {
	if d < 0 {
		return nil
	}
	v := math.Round(d.Seconds()*1000) / 1000
	return &v
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	return &v
}

type jLag struct {
	V         int        `json:"v"`
	Time      *string    `json:"time"`
	Isolation string     `json:"isolation"`
	Window    jWindow    `json:"window"`
	Groups    []jGroup   `json:"groups"`
	Queues    []jQueue   `json:"queues"`
	Errors    []safeJSON `json:"errors"`
	// HiddenJobs counts eddy's own job groups left out (eddy lag --jobs
	// lists them).
	HiddenJobs int `json:"hidden_jobs,omitempty"`
}

type jWindow struct {
	Samples int `json:"samples"`
	Size    int `json:"size"`
}

type jGroup struct {
	Group      safeJSON     `json:"group"`
	Type       *safeJSON    `json:"type"`
	State      safeJSON     `json:"state"`
	Status     string       `json:"status"`
	Worst      string       `json:"worst_partition_status"`
	Lag        int64        `json:"lag"`
	OffsetLag  int64        `json:"offset_lag"`
	TimeLag    *float64     `json:"time_lag_seconds"`
	Members    []jMember    `json:"members"`
	Topics     []jTopic     `json:"topics"`
	Partitions []jPartition `json:"partitions"`
	Error      *safeJSON    `json:"error"`
	LagMin     int64        `json:"lag_min"`
	LagExact   bool         `json:"lag_exact"`
	TimeExact  bool         `json:"time_lag_exact"`
	Reasons    []string     `json:"reasons"`
}

type jMember struct {
	ID         safeJSON    `json:"member_id"`
	InstanceID *safeJSON   `json:"instance_id"`
	ClientID   safeJSON    `json:"client_id"`
	Host       safeJSON    `json:"host"`
	Assigned   []jAssigned `json:"assigned"`
}

type jAssigned struct {
	Topic      safeJSON `json:"topic"`
	Partitions []int32  `json:"partitions"`
}

type jTopic struct {
	Topic      safeJSON `json:"topic"`
	Partitions int      `json:"partitions"`
	Lag        int64    `json:"lag"`
	OffsetLag  int64    `json:"offset_lag"`
	TimeLag    *float64 `json:"time_lag_seconds"`
	LagMin     int64    `json:"lag_min"`
	LagExact   bool     `json:"lag_exact"`
	TimeExact  bool     `json:"time_lag_exact"`
}

type jPartition struct {
	Topic      safeJSON  `json:"topic"`
	Partition  int32     `json:"partition"`
	Committed  *int64    `json:"committed"`
	LogStart   *int64    `json:"log_start"`
	End        *int64    `json:"end"`
	Lag        *int64    `json:"lag"`
	OffsetLag  *int64    `json:"offset_lag"`
	TimeLag    *float64  `json:"time_lag_seconds"`
	HeadOffset *int64    `json:"head_offset"`
	HeadTime   *string   `json:"head_timestamp"`
	Member     *safeJSON `json:"member_id"`
	ClientID   *safeJSON `json:"client_id"`
	Status     *string   `json:"status"`
	Note       *safeJSON `json:"note"`
	HWM        *int64    `json:"high_watermark"`
	LagMin     *int64    `json:"lag_min"`
	LagExact   *bool     `json:"lag_exact"`
	Reason     *string   `json:"reason"`
}

type jQueue struct {
	Queue       safeJSON  `json:"queue"`
	Vhost       safeJSON  `json:"vhost"`
	Type        *safeJSON `json:"type"`
	Ready       int64     `json:"ready"`
	Unacked     *int64    `json:"unacked"`
	Consumers   int64     `json:"consumers"`
	PublishRate *float64  `json:"publish_rate"`
	DeliverRate *float64  `json:"deliver_rate"`
	AckRate     *float64  `json:"ack_rate"`
	HeadAge     *float64  `json:"head_age_seconds"`
	HeadTime    *string   `json:"head_timestamp"`
	Via         safeJSON  `json:"via"`
	Note        *safeJSON `json:"note"`
	Reason      *string   `json:"reason"`
}

func lagJSON(s *LagSnapshot) jLag {
	out := jLag{V: 1, Time: optTime(s.Time), Isolation: s.Isolation, Window: jWindow{s.Samples, s.Window},
		Groups: []jGroup{}, Queues: []jQueue{}, Errors: []safeJSON{}, HiddenJobs: s.Hidden}
	for _, e := range s.Errors {
		out.Errors = append(out.Errors, safeJSON(e))
	}
	for _, g := range s.Groups {
		jg := jGroup{Group: safeJSON(g.Group), Type: optString(g.Type), State: safeJSON(g.State), Status: g.Status.String(),
			Worst: g.Worst.String(), Lag: g.Lag, OffsetLag: g.OffsetLag, TimeLag: optSeconds(g.TimeLag),
			Members: []jMember{}, Topics: []jTopic{}, Partitions: []jPartition{}, Error: optString(g.Err),
			LagMin: LagMin(g.Lag, g.LagMin, g.LagInexact), LagExact: !g.LagInexact, TimeExact: !g.TimeLagInexact, Reasons: append([]string{}, g.Reasons...)}
		for _, m := range g.Members {
			jm := jMember{ID: safeJSON(m.ID), InstanceID: optString(m.InstanceID), ClientID: safeJSON(m.ClientID), Host: safeJSON(m.Host), Assigned: []jAssigned{}}
			topics := make([]string, 0, len(m.Assigned))
			for t := range m.Assigned {
				topics = append(topics, t)
			}
			sort.Strings(topics)
			for _, t := range topics {
				jm.Assigned = append(jm.Assigned, jAssigned{Topic: safeJSON(t), Partitions: m.Assigned[t]})
			}
			jg.Members = append(jg.Members, jm)
		}
		for _, t := range g.Topics {
			jg.Topics = append(jg.Topics, jTopic{Topic: safeJSON(t.Topic), Partitions: t.Partitions, Lag: t.Lag, OffsetLag: t.OffsetLag, TimeLag: optSeconds(t.TimeLag),
				LagMin: LagMin(t.Lag, t.LagMin, t.LagInexact), LagExact: !t.LagInexact, TimeExact: !t.TimeLagInexact})
		}
		for _, p := range g.Partitions {
			jp := jPartition{Topic: safeJSON(p.Topic), Partition: p.Partition, Committed: optInt(p.Committed), LogStart: optInt(p.LogStart),
				End: optInt(p.End), Lag: optInt(p.Lag), OffsetLag: optInt(p.OffsetLag), TimeLag: optSeconds(p.TimeLag),
				HeadOffset: optInt(p.HeadOffset), HeadTime: optTime(p.HeadTime), Member: optString(p.Member), ClientID: optString(p.ClientID),
				Note: optString(p.Note), HWM: optInt(p.HighWatermark), LagMin: optInt(LagMin(p.Lag, p.LagMin, p.LagInexact))}
			if p.Lag >= 0 {
				exact := !p.LagInexact
				jp.LagExact = &exact
			}
			if p.Reason != "" {
				r := p.Reason
				jp.Reason = &r
			}
			if Judged(p) {
				st := p.Status.String()
				jp.Status = &st
			}
			jg.Partitions = append(jg.Partitions, jp)
		}
		out.Groups = append(out.Groups, jg)
	}
	for _, q := range s.Queues {
		jq := jQueue{Queue: safeJSON(q.Queue), Vhost: safeJSON(q.Vhost), Type: optString(q.Type), Ready: q.Ready, Consumers: q.Consumers,
			PublishRate: FiniteRate(q.PublishRate), DeliverRate: FiniteRate(q.DeliverRate), AckRate: FiniteRate(q.AckRate),
			HeadAge: optSeconds(q.HeadAge), HeadTime: optTime(q.HeadTime), Via: safeJSON(q.Via), Note: optString(q.Note)}
		if q.Reason != "" {
			r := q.Reason
			jq.Reason = &r
		}
		if q.Via == "management" {
			jq.Unacked = &q.Unacked
		}
		out.Queues = append(out.Queues, jq)
	}
	return out
}

func dash(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func tableStatus(s Status, worst Status) string {
	switch {
	case s == StatusUnknown:
		return "?"
	case worst > StatusErr:
		return s.String() + " (" + worst.String() + ")"
	}
	return s.String()
}

// reasonWords are the reasons as a table shows them.
var reasonWords = map[string]string{
	ReasonBeyondEnd:       "commit beyond end",
	ReasonNoTimestamp:     "no timestamp",
	ReasonFutureTimestamp: "timestamp in the future",
}

// withReasons appends the reasons to a status cell: "ERR (commit beyond end)".
func withReasons(cell string, reasons ...string) string {
	var words []string
	for _, r := range reasons {
		if r != "" {
			words = append(words, reasonWords[r])
		}
	}
	if len(words) == 0 {
		return cell
	}
	return cell + " (" + strings.Join(words, ", ") + ")"
}

// FormatLagCount is a lag in records for people: "-" when unknown
// (negative), "≤N" when N is an upper bound (inexact).
func FormatLagCount(lag int64, inexact bool) string {
	if lag < 0 {
		return "-"
	}
	if inexact {
		return "≤" + strconv.FormatInt(lag, 10)
	}
	return strconv.FormatInt(lag, 10)
}

// FormatTimeLag is FormatLagDuration marked "≥D" when D is a lower bound
// (inexact).
func FormatTimeLag(d time.Duration, inexact bool) string {
	if inexact && d >= 0 {
		return "≥" + FormatLagDuration(d)
	}
	return FormatLagDuration(d)
}

func writeLagTables(w *bufio.Writer, s *LagSnapshot, o LagWriteOptions, noHead bool) {
	lo := ListOptions{Color: o.Color, Width: o.Width, noHead: noHead}
	unknown, unjudged, lagBound, timeBound := false, false, false, false
	if len(s.Groups) > 0 {
		t := &table{
			head:  []string{"GROUP / TOPIC", "STATE", "STATUS", "MEMBERS", "COMMITTED", "END", "LAG", "TIME LAG"},
			right: []bool{false, false, false, true, true, true, true, true},
		}
		for _, g := range s.Groups {
			st := withReasons(tableStatus(g.Status, g.Worst), g.Reasons...)
			unjudged = unjudged || g.Status == StatusUnknown && g.Err == ""
			lag, tl := FormatLagCount(g.Lag, g.LagInexact), FormatTimeLag(g.TimeLag, g.TimeLagInexact)
			lagBound, timeBound = lagBound || g.LagInexact, timeBound || g.TimeLagInexact
			if g.Err != "" {
				st, lag, tl, unknown = "-", "-", "-", true
			}
			name := SafeString(g.Group)
			if g.Type == "consumer" {
				name += " (KIP-848)"
			}
			t.rows = append(t.rows, []string{name, SafeString(g.State), st, strconv.Itoa(len(g.Members)), "", "", lag, tl})
			if g.Err != "" {
				t.rows = append(t.rows, []string{"  error: " + SafeString(g.Err), "", "", "", "", "", "", ""})
			}
			for _, tp := range g.Topics {
				unknown = unknown || tp.TimeLag < 0
				t.rows = append(t.rows, []string{"  " + SafeString(tp.Topic) + " (" + strconv.Itoa(tp.Partitions) + ")", "", "", "", "", "",
					FormatLagCount(tp.Lag, tp.LagInexact), FormatTimeLag(tp.TimeLag, tp.TimeLagInexact)})
				if !o.Partitions {
					continue
				}
				for _, p := range g.Partitions {
					if p.Topic != tp.Topic {
						continue
					}
					pst := "-"
					if Judged(p) {
						pst = withReasons(tableStatus(p.Status, p.Status), p.Reason)
						if p.Status == StatusUnknown {
							unjudged = true
						}
					}
					unknown = unknown || p.Lag < 0 || p.TimeLag < 0 || p.Committed < 0
					owner := SafeString(p.ClientID)
					if owner == "" && p.Member != "" {
						owner = SafeString(p.Member)
					}
					name := "    [" + strconv.Itoa(int(p.Partition)) + "]"
					if p.Note != "" {
						name += " " + SafeString(p.Note)
					}
					t.rows = append(t.rows, []string{name, "", pst, owner, dash(p.Committed), dash(p.End), FormatLagCount(p.Lag, p.LagInexact), FormatLagDuration(p.TimeLag)})
				}
			}
		}
		t.write(w, lo)
	}
	if len(s.Queues) > 0 {
		if len(s.Groups) > 0 {
			w.WriteByte('\n')
		}
		t := &table{
			head:  []string{"QUEUE", "VHOST", "TYPE", "READY", "UNACKED", "CONSUMERS", "IN/S", "OUT/S", "ACK/S", "HEAD AGE"},
			right: []bool{false, false, false, true, true, true, true, true, true, true},
		}
		for _, q := range s.Queues {
			unacked := strconv.FormatInt(q.Unacked, 10)
			if q.Via != "management" {
				unacked = "-"
			}
			unknown = unknown || q.HeadAge < 0 || q.Via != "management"
			t.rows = append(t.rows, []string{SafeString(q.Queue), SafeString(q.Vhost), SafeString(q.Type), strconv.FormatInt(q.Ready, 10), unacked,
				strconv.FormatInt(q.Consumers, 10), tableRate(q.PublishRate), tableRate(q.DeliverRate), tableRate(q.AckRate), FormatLagDuration(q.HeadAge)})
		}
		t.write(w, lo)
	}
	var legend []string
	if unknown {
		legend = append(legend, "-  unknown (no committed offset, deleted topic, unreadable record, or not reported by RabbitMQ; -o json says why)")
	}
	if lagBound {
		legend = append(legend, "≤  not exact (the read budget, --timeout, or a commit beyond the log end): at most this many records (-o json: lag_min, the least)")
	}
	if timeBound {
		legend = append(legend, "≥  at least: a partition with records to read has no time lag (-o json says why)")
	}
	if unjudged {
		legend = append(legend, "?  status needs a window of samples: one sample tells only lag 0 = OK; WARN, STALL, STOP and REWIND need --watch")
	}
	if len(legend) > 0 {
		w.WriteByte('\n')
		for _, l := range legend {
			w.WriteString(l)
			w.WriteByte('\n')
		}
	}
}

func writeLagTSV(w *bufio.Writer, s *LagSnapshot, noHead bool) {
	row := func(cells ...string) {
		w.WriteString(strings.Join(cells, "\t"))
		w.WriteByte('\n')
	}
	header := func(cells ...string) {
		if !noHead {
			row(cells...)
		}
	}
	secs := func(d time.Duration) string {
		if d < 0 {
			return ""
		}
		return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	}
	blank := func(n int64) string {
		if n < 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	if len(s.Groups) > 0 {
		header("group", "type", "state", "status", "worst_partition_status", "members", "lag", "offset_lag", "time_lag_seconds",
			"lag_min", "lag_exact", "time_lag_exact", "reasons")
		for _, g := range s.Groups {
			row(SafeString(g.Group), SafeString(g.Type), SafeString(g.State), g.Status.String(), g.Worst.String(), strconv.Itoa(len(g.Members)),
				strconv.FormatInt(g.Lag, 10), strconv.FormatInt(g.OffsetLag, 10), secs(g.TimeLag),
				strconv.FormatInt(LagMin(g.Lag, g.LagMin, g.LagInexact), 10), strconv.FormatBool(!g.LagInexact), strconv.FormatBool(!g.TimeLagInexact), strings.Join(g.Reasons, ","))
		}
		w.WriteByte('\n')
		header("group", "topic", "partition", "committed", "log_start", "end", "lag", "offset_lag", "time_lag_seconds", "client_id", "status", "note",
			"high_watermark", "lag_min", "lag_exact", "reason")
		for _, g := range s.Groups {
			for _, p := range g.Partitions {
				st, exact := "", ""
				if Judged(p) {
					st = p.Status.String()
				}
				if p.Lag >= 0 {
					exact = strconv.FormatBool(!p.LagInexact)
				}
				row(SafeString(g.Group), SafeString(p.Topic), strconv.Itoa(int(p.Partition)), blank(p.Committed), blank(p.LogStart), blank(p.End),
					blank(p.Lag), blank(p.OffsetLag), secs(p.TimeLag), SafeString(p.ClientID), st, SafeString(p.Note),
					blank(p.HighWatermark), blank(LagMin(p.Lag, p.LagMin, p.LagInexact)), exact, p.Reason)
			}
		}
	}
	if len(s.Queues) > 0 {
		if len(s.Groups) > 0 {
			w.WriteByte('\n')
		}
		header("queue", "vhost", "type", "ready", "unacked", "consumers", "publish_rate", "deliver_rate", "ack_rate", "head_age_seconds", "via")
		for _, q := range s.Queues {
			unacked := strconv.FormatInt(q.Unacked, 10)
			if q.Via != "management" {
				unacked = ""
			}
			row(SafeString(q.Queue), SafeString(q.Vhost), SafeString(q.Type), strconv.FormatInt(q.Ready, 10), unacked, strconv.FormatInt(q.Consumers, 10),
				tsvRate(q.PublishRate), tsvRate(q.DeliverRate), tsvRate(q.AckRate), secs(q.HeadAge), SafeString(q.Via))
		}
	}
}
