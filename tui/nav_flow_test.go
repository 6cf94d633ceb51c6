package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// navProbe is probe plus what the lag-to-tail flow asserts, read in Update
// (the program's goroutine): the committed offset of the lag partition
// under the cursor, the tail's start and partitions, and its first event.
type navProbe struct {
	*probe
	mu        sync.Mutex
	committed int64
	fromOff   int64
	parts     []int32
	first     struct {
		ok        bool
		partition int32
		offset    int64
	}
}

func (p *navProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m := p.Model
	_, cmd := p.probe.Update(msg)
	p.mu.Lock()
	defer p.mu.Unlock()
	// The commit the row under the cursor shows, as of the last message
	// before enter (enter itself opens the tail from it; a sample that
	// comes after is not what the tail was opened from).
	km, isKey := msg.(tea.KeyPressMsg)
	if m.current() == viewLag && m.lag.drill != "" && (!isKey || km.Code != tea.KeyEnter) {
		if g := m.lag.group(m.lag.drill); g != nil && m.lag.pcur.pos < len(g.Partitions) {
			p.committed = g.Partitions[m.lag.pcur.pos].Committed
		}
	}
	if m.current() == viewTail {
		p.fromOff, p.parts = m.tail.from.Offset, m.tail.parts
		if m.tail.shown.len() > 0 && !p.first.ok {
			e := m.tail.ring.get(m.tail.shown.at(0))
			p.first.ok, p.first.partition, p.first.offset = true, e.Partition, e.Offset
		}
	}
	return p, cmd
}

// TestFlowCommandLineOnDemo: : navigation on the embedded demo. :tail with
// Tab completing a topic tails it; :dlq payments.DLT opens that DLQ's
// error groups (once the DLQs are read); an unknown command says so; :lag
// shows the groups.
func TestFlowCommandLineOnDemo(t *testing.T) {
	_, c := startDemo(t)
	p, tm := startProbe(t, Options{Backend: &Backend{Context: "demo", Kafka: c}, Local: time.UTC}, 100, 30)
	waitScreen(t, p, "the demo's topics", func(s string, _ viewID) bool { return strings.Contains(s, "kafka:orders") })

	tm.Type(":tail kafka:or")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyTab})
	waitScreen(t, p, "the topic completed", func(s string, _ viewID) bool { return strings.Contains(s, ":tail kafka:orders █") })
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "orders tailed", func(s string, v viewID) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return v == viewTail && strings.Contains(s, "Sources › Tail kafka:orders │ context demo") && strings.Contains(s, "OrderPlaced") && p.events >= 60
	})

	// A trace's step opens its event; ] shows the next step's.
	tm.Type(strings.Repeat("k", 50) + "t")
	waitScreen(t, p, "its trace", func(s string, v viewID) bool {
		return v == viewTrace && strings.Contains(s, "flow ord-") && strings.Contains(s, "▸ +0") && !strings.Contains(s, "· 1 steps ·")
	})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "the first step's event", func(s string, v viewID) bool {
		return v == viewEvent && strings.Contains(s, "Tail kafka:orders › Trace ord-") && strings.Contains(s, "› Event") && strings.Contains(s, "origin      kafka:orders[")
	})
	tm.Type("]")
	waitScreen(t, p, "the second step's event", func(s string, v viewID) bool {
		// The order's next step, on the topic of the service that
		// handled the order.
		return v == viewEvent && strings.Contains(s, "origin      kafka:") && !strings.Contains(s, "origin      kafka:orders[")
	})

	tm.Type(":dlq payments.DLT")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "payments.DLT's groups", func(s string, v viewID) bool {
		return v == viewDLQ && strings.Contains(s, "Sources › DLQ payments.DLT │") && strings.Contains(s, "groups")
	})

	tm.Type(":lgs")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "the unknown command said", func(s string, _ viewID) bool { return strings.Contains(s, "unknown command :lgs") })
	tm.Type(":lag")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "the groups", func(s string, v viewID) bool {
		return v == viewLag && strings.Contains(s, "GROUP / QUEUE") && strings.Contains(s, "payments")
	})
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// TestFlowLagPartitionTailOnDemo: enter on a lag partition on the demo
// tails that partition from the group's committed offset: the first event
// shown is the one at that offset, on that partition.
func TestFlowLagPartitionTailOnDemo(t *testing.T) {
	_, c := startDemo(t)
	m := New(context.Background(), Options{Backend: &Backend{Context: "demo", Kafka: c}, Local: time.UTC, Refresh: 200 * time.Millisecond})
	defer m.Close()
	p := &navProbe{probe: &probe{Model: m}}
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(120, 35))
	tm.Type(":lag payments")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p.probe, "payments' partitions with a commit", func(s string, v viewID) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return v == viewLag && strings.Contains(s, "TOPIC[PARTITION]") && strings.Contains(s, "Lag payments") && p.committed > 0 && strings.Contains(s, "[0]")
	})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p.probe, "the partition's first event", func(_ string, v viewID) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return v == viewTail && p.first.ok
	})
	p.mu.Lock()
	committed, from, parts, first := p.committed, p.fromOff, p.parts, p.first
	p.mu.Unlock()
	if len(parts) != 1 || from != committed || first.partition != parts[0] || first.offset != committed {
		t.Fatalf("committed %d; the tail read partitions %v from %d; its first event is [%d]@%d", committed, parts, from, first.partition, first.offset)
	}
	s, _ := p.state()
	if !strings.Contains(s, "Lag payments › Tail kafka:") {
		t.Fatalf("breadcrumb:\n%s", s)
	}
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}
