package dlq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sync"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// Pin is a selection by identity (replay.DefaultIdentity: a Kafka record's
// position, a RabbitMQ dead-lettering): a hand-made pick of messages, or
// what a dry run decided to write, so that the run it planned writes
// exactly that. A message that is not pinned is not selected; one that
// arrived after the plan read the DLQ is counted as Report.Arrived.
type Pin struct {
	// Write are the identities of the messages to write (redrive or park).
	Write map[string]bool
	// Ends (Kafka) is, per partition of the DLQ, the offset after the last
	// record the plan read; nil when the pin is no plan.
	Ends map[int32]int64
	// Seen (RabbitMQ) are the identities of every message the plan read;
	// nil when the pin is no plan.
	Seen map[string]bool
}

// Pins returns a hand-made pin: only the messages with these identities.
func Pins(ids ...string) *Pin {
	p := &Pin{Write: map[string]bool{}}
	for _, id := range ids {
		p.Write[id] = true
	}
	return p
}

// Has reports whether p pins e.
func (p *Pin) Has(e *event.Event) bool { return p.Write[replay.DefaultIdentity(e)] }

// arrived reports whether e was not there when the plan read the DLQ.
func (p *Pin) arrived(e *event.Event) bool {
	switch {
	case e.Transport == event.AMQP && p.Seen != nil:
		return !p.Seen[replay.DefaultIdentity(e)]
	case e.Transport != event.AMQP && p.Ends != nil:
		end, ok := p.Ends[e.Partition]
		return !ok || e.Offset >= end
	}
	return false
}

// Hash names the pin's set of messages, for a job name: a pinned Kafka run
// is a job of its own, since its group passes over what is not pinned.
func (p *Pin) Hash() string {
	ids := make([]string, 0, len(p.Write))
	for id := range p.Write {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	parts := make([]int32, 0, len(p.Ends))
	for q := range p.Ends {
		parts = append(parts, q)
	}
	slices.Sort(parts)
	for _, q := range parts {
		h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, uint32(q)), uint64(p.Ends[q])))
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// pinRecorder builds the Pin of a dry run: safe for concurrent use.
type pinRecorder struct {
	mu  sync.Mutex
	pin *Pin
}

func newPinRecorder(amqp bool) *pinRecorder {
	p := &Pin{Write: map[string]bool{}}
	if amqp {
		p.Seen = map[string]bool{}
	} else {
		p.Ends = map[int32]int64{}
	}
	return &pinRecorder{pin: p}
}

// read records that the plan read e; write, that it would write e.
func (r *pinRecorder) read(e *event.Event) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pin.Seen != nil {
		r.pin.Seen[replay.DefaultIdentity(e)] = true
	} else if e.Offset+1 > r.pin.Ends[e.Partition] {
		r.pin.Ends[e.Partition] = e.Offset + 1
	}
}

func (r *pinRecorder) write(e *event.Event) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.pin.Write[replay.DefaultIdentity(e)] = true
	r.mu.Unlock()
}

func (r *pinRecorder) result() *Pin {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pin
}
