package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestWriteLagJSON: the documented schema, nulls for unknowns, and
// terminal-safe names.
func TestWriteLagJSON(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rate := 1.5
	s := &LagSnapshot{Time: now, Isolation: "read_committed", Samples: 1, Window: 10,
		Groups: []GroupLag{{Group: "g\u202e", Type: "classic", State: "Stable", Status: StatusOK, Worst: StatusOK, Lag: 3, OffsetLag: 4, TimeLag: 1500 * time.Millisecond,
			Members: []MemberLag{{ID: "m", ClientID: "c", Host: "/h", Assigned: map[string][]int32{"t": {0}}}},
			Topics:  []TopicLag{{Topic: "t", Partitions: 2, Lag: 3, OffsetLag: 4, TimeLag: 1500 * time.Millisecond}},
			Partitions: []PartitionLag{{Topic: "t", Partition: 0, Committed: 1, LogStart: 0, End: 5, Lag: 3, OffsetLag: 4, TimeLag: 1500 * time.Millisecond, HeadOffset: 1, HeadTime: now.Add(-1500 * time.Millisecond), Member: "m", ClientID: "c", Status: StatusOK},
				{Topic: "t", Partition: 1, Committed: -1, LogStart: 0, End: 5, Lag: -1, OffsetLag: -1, TimeLag: -1, HeadOffset: -1, Note: "no committed offset"}}}},
		Queues: []QueueLag{{Queue: "q", Vhost: "/", Type: "quorum", Ready: 5, Unacked: 1, Consumers: 2, PublishRate: &rate, HeadAge: -1, Via: "management", Note: "head age unknown"}},
	}
	var buf bytes.Buffer
	if err := WriteLag(&buf, s, LagWriteOptions{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\u202e") {
		t.Fatal("bidi control written raw")
	}
	var v struct {
		Groups []struct {
			Group      string
			State      string
			Status     string
			Lag        int64
			TimeLag    *float64 `json:"time_lag_seconds"`
			Partitions []struct {
				Topic     string
				Partition int32
				Committed *int64
				End       *int64
				Lag       *int64
				TimeLag   *float64 `json:"time_lag_seconds"`
				Status    *string
			}
		}
		Queues []struct {
			Queue            string
			Ready, Consumers int64
			Unacked          *int64
			HeadAge          *float64 `json:"head_age_seconds"`
			DeliverRate      *float64 `json:"deliver_rate"`
			PublishRate      *float64 `json:"publish_rate"`
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	g := v.Groups[0]
	if g.Group != "g\u202e" || g.Status != "OK" || g.Lag != 3 || *g.TimeLag != 1.5 || *g.Partitions[0].Committed != 1 || *g.Partitions[0].Status != "OK" {
		t.Errorf("group: %+v", g)
	}
	p1 := g.Partitions[1]
	if p1.Committed != nil || p1.Lag != nil || p1.TimeLag != nil || p1.Status != nil || *p1.End != 5 {
		t.Errorf("unknowns must be null: %s", buf.String())
	}
	q := v.Queues[0]
	if q.Ready != 5 || *q.Unacked != 1 || q.HeadAge != nil || q.DeliverRate != nil || *q.PublishRate != 1.5 {
		t.Errorf("queue: %s", buf.String())
	}

	buf.Reset()
	if err := WriteLag(&buf, s, LagWriteOptions{Format: "table", Partitions: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GROUP / TOPIC", "g\\u202e", "1.5s", "HEAD AGE", "-  unknown"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
