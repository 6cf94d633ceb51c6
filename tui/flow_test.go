package tui

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/demo"
)

// probe wraps the root model for teatest: after every Update it keeps what
// the screen shows (without colour) and which view is on top, so the test
// waits on the UI's state rather than on the renderer's diffs.
type probe struct {
	*Model
	mu     sync.Mutex
	screen string
	view   viewID
	code   int
	events uint64
}

func (p *probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Model.Update(msg)
	p.mu.Lock()
	p.screen, p.view, p.code, p.events = p.Model.render(), p.Model.current(), p.Model.ExitCode(), p.Model.tail.total
	p.mu.Unlock()
	return p, cmd
}

func (p *probe) state() (string, viewID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen, p.view
}

// startProbe runs the TUI with opts in a w×h terminal under a probe; the
// model is closed when the test ends.
func startProbe(t *testing.T, opts Options, w, h int) (*probe, *teatest.TestModel) {
	t.Helper()
	m := New(context.Background(), opts)
	t.Cleanup(m.Close)
	p := &probe{Model: m}
	return p, teatest.NewTestModel(t, p, teatest.WithInitialTermSize(w, h))
}

// waitScreen waits until the screen satisfies cond, failing after the
// deadline with the last screen.
func waitScreen(t *testing.T, p *probe, what string, cond func(screen string, view viewID) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s, v := p.state()
		if cond(s, v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; the screen is:\n%s", what, s)
		}
		<-tick.C
	}
}

func startDemo(t *testing.T) (*demo.Demo, *kafka.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := demo.Start(ctx, demo.Config{Rate: 50, BurstEvery: -1, PoisonEvery: -1, FailRate: 0.2})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c, err := kafka.New([]string{d.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		d.Close()
	})
	return d, c
}

// TestFlowOnDemo is the path a person takes on eddy tui --demo: the sources
// are listed, orders is tailed, an event opened, its trace read from every
// topic, back to the event, and q exits 0.
func TestFlowOnDemo(t *testing.T) {
	_, c := startDemo(t)
	p, tm := startProbe(t, Options{Backend: &Backend{Context: "demo", Kafka: c}, Local: time.UTC}, 100, 30)

	waitScreen(t, p, "the demo's topics", func(s string, _ viewID) bool {
		return strings.Contains(s, "kafka:orders") && strings.Contains(s, "DLQ")
	})
	tm.Type("/orders")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "orders tailed", func(s string, v viewID) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return v == viewTail && strings.Contains(s, "OrderPlaced") && strings.Contains(s, "FOLLOW") && p.events >= 60
	})
	// An order of a second ago: its flow has gone on past the first topic.
	tm.Type(strings.Repeat("k", 50))
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "the event", func(s string, v viewID) bool {
		return v == viewEvent && strings.Contains(s, "payload (JSON") && strings.Contains(s, "correlation")
	})
	tm.Type("t")
	waitScreen(t, p, "its trace", func(s string, v viewID) bool {
		return v == viewTrace && strings.Contains(s, "flow ord-") && strings.Contains(s, "OrderPlaced") && strings.Contains(s, "edges of the")
	})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitScreen(t, p, "back on the event", func(s string, v viewID) bool { return v == viewEvent && strings.Contains(s, "payload (JSON") })
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitScreen(t, p, "back on the tail", func(_ string, v viewID) bool { return v == viewTail })
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	if p.code != ExitQuit {
		t.Fatalf("exit code %d", p.code)
	}
}

// TestFlowLagAndDLQOnDemo: the Lag view samples the demo's groups and drills
// into one; the DLQ view lists the demo's dead-letter topics with counts.
func TestFlowLagAndDLQOnDemo(t *testing.T) {
	_, c := startDemo(t)
	p, tm := startProbe(t, Options{Backend: &Backend{Context: "demo", Kafka: c}, Local: time.UTC, Refresh: 200 * time.Millisecond}, 100, 30)
	tm.Type("3")
	waitScreen(t, p, "the demo's groups", func(s string, v viewID) bool {
		// Lag samples from the start, shown or not: two samples or more.
		return v == viewLag && strings.Contains(s, "payments") && strings.Contains(s, "shipping") && twoSamples.MatchString(s)
	})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "a group's partitions", func(s string, _ viewID) bool { return strings.Contains(s, "TOPIC[PARTITION]") })
	tm.Type("4")
	waitScreen(t, p, "the demo's DLQs", func(s string, v viewID) bool {
		return v == viewDLQ && strings.Contains(s, "kafka:payments.DLT") && strings.Contains(s, "kafka:inventory-dlq")
	})
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	if p.code != ExitInterrupted {
		t.Fatalf("exit code %d, want 130", p.code)
	}
}

// twoSamples matches the Lag view's status once two samples or more were
// taken.
var twoSamples = regexp.MustCompile(`sample ([2-9]|[1-9][0-9]+)/`)
