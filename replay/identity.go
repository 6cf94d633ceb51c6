package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/eddy-sh/eddy/event"
)

// HeaderRedriveID is the header every moved event carries: the same value for
// every attempt at moving one source record in one job, so that a duplicate
// left by a crash (see Ledger) is recognisable in the target.
const HeaderRedriveID = "eddy-redrive-id"

// IdentityFunc names the source record an event is, for the ledger. Two events
// with the same identity are one record: moved once per job.
type IdentityFunc func(e *event.Event) string

// DefaultIdentity is the identity of the record or dead-lettering e is:
//
//   - Kafka: its topic, partition and offset ("kafka:orders.DLT/0@42"). A
//     record dead-lettered again is a new record at a new offset, so it can be
//     moved again.
//   - AMQP: its queue, its message id (or, without one, a SHA-256 of its
//     payload), and the count, time and queue of its latest x-death entry, so
//     a message that is dead-lettered again is a new identity while two copies
//     of one dead-lettering are one. The x-death queue tells apart the copies
//     of one publish that several queues received (a fanout, CC keys) and
//     each dead-lettered in the same second: each is a dead-lettering of its
//     own, redriven on its own.
func DefaultIdentity(e *event.Event) string {
	if e.Transport != event.AMQP {
		return "kafka:" + e.Topic + "/" + strconv.FormatInt(int64(e.Partition), 10) + "@" + strconv.FormatInt(e.Offset, 10)
	}
	id := ""
	if e.Properties != nil {
		id = e.Properties.MessageID
	}
	if id == "" {
		sum := sha256.Sum256(e.Value)
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	s := "amqp:" + e.Source() + "/" + id
	if count, at, queue, ok := latestDeath(e); ok {
		s += "/death:" + strconv.FormatInt(count, 10) + "@" + at.UTC().Format(time.RFC3339Nano)
		if queue != "" {
			s += "/from:" + queue
		}
	}
	return s
}

// latestDeath returns the count, time and queue of the first (most recent)
// x-death entry of an AMQP message.
func latestDeath(e *event.Event) (count int64, at time.Time, queue string, ok bool) {
	for _, h := range e.Headers {
		if h.Key != "x-death" {
			continue
		}
		arr, _ := h.Typed.([]any)
		if len(arr) == 0 {
			return 0, time.Time{}, "", false
		}
		t, _ := arr[0].(map[string]any)
		if t == nil {
			return 0, time.Time{}, "", false
		}
		switch c := t["count"].(type) {
		case int64:
			count = c
		case int32:
			count = int64(c)
		case int:
			count = int64(c)
		}
		at, _ = t["time"].(time.Time)
		queue, _ = t["queue"].(string)
		return count, at, queue, true
	}
	return 0, time.Time{}, "", false
}

// RedriveID is the value of the eddy-redrive-id header for the record with
// identity id moved by job: deterministic, so every attempt carries the same.
func RedriveID(job, id string) string {
	h := sha256.New()
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
