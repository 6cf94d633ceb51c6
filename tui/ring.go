package tui

import "github.com/eddy-sh/eddy/event"

// ring is a bounded buffer of events numbered by arrival (seq). When full,
// the oldest event makes room and is counted as dropped: memory stays
// bounded however long the tail runs, and the loss is shown, never silent.
type ring struct {
	buf     []event.Event
	next    uint64 // seq the next event gets
	dropped uint64
}

func newRing(n int) *ring { return &ring{buf: make([]event.Event, n)} }

// oldest is the seq of the oldest event held.
func (r *ring) oldest() uint64 {
	if r.next > uint64(len(r.buf)) {
		return r.next - uint64(len(r.buf))
	}
	return 0
}

func (r *ring) len() int { return int(r.next - r.oldest()) }

// free is how many events fit before the oldest is dropped.
func (r *ring) free() int { return len(r.buf) - r.len() }

// push stores e and returns its seq.
func (r *ring) push(e event.Event) uint64 {
	if r.next >= uint64(len(r.buf)) {
		r.dropped++
	}
	seq := r.next
	r.buf[seq%uint64(len(r.buf))] = e
	r.next++
	return seq
}

// get returns the event of seq, nil when it was dropped or never came.
func (r *ring) get(seq uint64) *event.Event {
	if seq < r.oldest() || seq >= r.next {
		return nil
	}
	return &r.buf[seq%uint64(len(r.buf))]
}

// seqList is the seqs of the events a view shows (those its filter
// matched), oldest first; it drops seqs the ring no longer holds.
type seqList struct {
	s    []uint64
	head int
}

func (l *seqList) len() int        { return len(l.s) - l.head }
func (l *seqList) at(i int) uint64 { return l.s[l.head+i] }
func (l *seqList) add(seq uint64)  { l.s = append(l.s, seq) }
func (l *seqList) clear()          { l.s, l.head = l.s[:0], 0 }

// prepend puts seqs (all lower than those held) in front.
func (l *seqList) prepend(seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	l.s, l.head = append(seqs, l.s[l.head:]...), 0
}
func (l *seqList) items() []uint64 { return l.s[l.head:] }

// trim drops seqs below oldest and returns how many went.
func (l *seqList) trim(oldest uint64) int {
	n := 0
	for l.head < len(l.s) && l.s[l.head] < oldest {
		l.head++
		n++
	}
	// Compact once the dead prefix is as large as the live part.
	if l.head > 1024 && l.head > len(l.s)/2 {
		l.s = append(l.s[:0], l.s[l.head:]...)
		l.head = 0
	}
	return n
}
