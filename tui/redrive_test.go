package tui

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/dlq"
	"github.com/eddy-sh/eddy/dlq/convention"
	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/replay"
)

// redriveBackend wires Redrive and Jobs as cmd/eddy does (planRedrive's
// router and job log, dlq.RedriveKafka), on the demo's cluster.
func redriveBackend(t *testing.T, addr string, be *Backend) {
	dir := t.TempDir()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	be.Jobs = func(ctx context.Context, topic string) (dlq.Jobs, error) {
		return dlq.LoadJobs(ctx, kadm.NewClient(cl), dir, topic)
	}
	be.Redrive = func(ctx context.Context, req RedriveRequest, progress func(replay.Summary)) (dlq.Report, error) {
		a := bus.Address{Transport: "kafka", Name: req.DLQ}
		route := dlq.RouterOptions{DLQ: a, Naming: convention.DefaultNaming(), MaxRedrives: dlq.DefaultMaxRedrives}
		if req.Error != "" {
			route.Select.Error = regexp.MustCompile(req.Error)
		}
		if len(req.IDs) > 0 {
			route.Select.IDs = map[string]bool{}
			for _, id := range req.IDs {
				route.Select.IDs[id] = true
			}
			route.Select.ID = func(e *event.Event) string { return be.schema().Extract(e).ID }
		}
		route.Select.Pin = req.Pin
		job := "tui-test-" + req.DLQ
		if req.Pin != nil {
			job += "-" + req.Pin.Hash()
		}
		return dlq.RedriveKafka(ctx, dlq.KafkaRedrive{Job: job, LogDir: dir,
			Route: route, Progress: progress, DryRun: req.DryRun, RecordPin: req.DryRun, Client: be.Kafka})
	}
}

// dlqCount reads a DLQ's count off the DLQ list on the screen.
func dlqCount(screen, name string) (int64, bool) {
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(strings.TrimLeft(l, "▸ "))
		if len(f) >= 2 && f[0] == name {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// TestFlowRedriveOnDemo: DLQ → a DLQ's error groups → plan (the dry run) →
// explicit confirm → the redrive → its result; back on the list the DLQ's
// count went down by what was redriven.
func TestFlowRedriveOnDemo(t *testing.T) {
	d, c := startDemo(t)
	be := &Backend{Context: "demo", Kafka: c}
	redriveBackend(t, d.Addr(), be)
	p, tm := startProbe(t, Options{Backend: be, Local: time.UTC}, 100, 30)

	// Wait for a few dead letters, then stall payments so no more come.
	tm.Type("4")
	for {
		waitScreen(t, p, "the DLQ list", func(s string, _ viewID) bool { return strings.Contains(s, "COUNT") })
		s, _ := p.state()
		if n, ok := dlqCount(s, "kafka:payments.DLT"); ok && n >= 5 {
			break
		}
		tm.Type("r")
		waitScreen(t, p, "the DLQs read again", func(s string, _ viewID) bool { return !strings.Contains(s, "reading") })
	}
	if err := d.Stall("payments"); err != nil {
		t.Fatal(err)
	}
	tm.Type("r")
	var before int64
	waitScreen(t, p, "payments.DLT counted", func(s string, _ viewID) bool {
		var ok bool
		before, ok = dlqCount(s, "kafka:payments.DLT")
		return ok && !strings.Contains(s, "reading")
	})
	// Move to payments.DLT: from the top (the cursor stays on its DLQ when
	// the list is read again and re-sorted, so it may be anywhere).
	tm.Type("g")
	s, _ := p.state()
	rows := strings.Split(s, "\n")[2:]
	for _, r := range rows {
		if strings.Contains(r, "kafka:payments.DLT") {
			break
		}
		tm.Type("j")
	}
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "the error groups", func(s string, _ viewID) bool {
		return strings.Contains(s, "DLQ payments.DLT") && strings.Contains(s, "ORIGIN")
	})
	tm.Type("P")
	waitScreen(t, p, "the plan", func(s string, _ viewID) bool {
		return strings.Contains(s, "plan (dry run") && strings.Contains(s, "→ kafka:")
	})
	tm.Type("Y")
	waitScreen(t, p, "the result", func(s string, _ viewID) bool { return strings.Contains(s, "result") && strings.Contains(s, "done") })
	s, _ = p.state()
	var redriven int64
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "redriven" {
			redriven, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	if redriven < 1 {
		t.Fatalf("nothing redriven:\n%s", s)
	}
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, p, "the counts read again", func(s string, _ viewID) bool {
		n, ok := dlqCount(s, "kafka:payments.DLT")
		return ok && n < before && !strings.Contains(s, "reading")
	})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}
