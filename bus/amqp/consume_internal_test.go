package amqp

import (
	"testing"

	"github.com/eddy-sh/eddy/event"
)

// TestHandBatchStraddlesReconnect: when the channel dies while Next is
// assembling a batch and the new channel's first delivery is already
// queued, the batch holds only deliveries of the live channel. The earlier
// ones are void and the broker delivers them again; handing them out as well
// would give the caller the same message twice (counted twice, or written
// twice).
func TestHandBatchStraddlesReconnect(t *testing.T) {
	k := &Consumer{c: &Client{}, held: map[int64]*heldDelivery{}, gen: 1}
	deliver := func(seq int64, id string) consumed {
		k.held[seq] = &heldDelivery{gen: k.gen, tag: uint64(seq)}
		return consumed{seq: seq, gen: k.gen, ev: event.Event{Key: []byte(id)}}
	}
	var evs []event.Event
	evs = k.hand(evs, deliver(1, "a"))
	evs = k.hand(evs, deliver(2, "b"))
	stale := deliver(3, "c") // queued before the channel died
	k.void("test")
	evs = k.hand(evs, stale)
	if len(evs) != 2 {
		t.Fatalf("a delivery of the dead channel was handed out: %d events", len(evs))
	}
	evs = k.hand(evs, deliver(4, "a")) // the redelivery, on the new channel
	if len(evs) != 1 || string(evs[0].Key) != "a" || k.Generation() != 2 {
		t.Fatalf("batch %d events (first %q), generation %d; want only the new channel's delivery, generation 2", len(evs), evs[0].Key, k.Generation())
	}
	// A batch of one channel is kept whole.
	evs = k.hand(evs, deliver(5, "b"))
	if len(evs) != 2 || k.Generation() != 2 {
		t.Fatalf("batch %d events, generation %d; want 2 and 2", len(evs), k.Generation())
	}
}
