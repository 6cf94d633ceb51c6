package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// TestCommandLine: : opens a command line on the status bar; Tab completes
// the command word and then what is loaded for it (DLQs, contexts,
// topics); enter runs it; esc cancels; an unknown word says so in one line.
func TestCommandLine(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(testSources())

	press(m, ":")
	if !m.cmd.in.active || !strings.Contains(m.render(), ":█") {
		t.Fatalf(": did not open the command line:\n%s", m.render())
	}
	typeText(m, "zz")
	press(m, "backspace", "backspace")
	if !m.cmd.in.active {
		t.Fatal("backspace on a non-empty line closed it")
	}
	press(m, "backspace")
	if m.cmd.in.active {
		t.Fatal("backspace on an empty line did not cancel")
	}
	runCommand(m, "zz", "esc")
	if m.cmd.in.active || m.current() != viewSources || m.flash != "" {
		t.Fatalf("esc: active %v view %d flash %q", m.cmd.in.active, m.current(), m.flash)
	}

	// An unknown command: one line, the commands named.
	runCommand(m, "lga", "enter")
	if !m.flashErr || m.flash != "unknown command :lga (commands: "+commandWords()+"; Tab completes)" || m.current() != viewSources {
		t.Fatalf("unknown command: %q (err %v)", m.flash, m.flashErr)
	}
	if strings.Contains(m.flash, "\n") {
		t.Fatal("the unknown-command message is more than one line")
	}

	// Tab over the command words: one match fills it in.
	runCommand(m, "la", "tab")
	if m.cmd.in.value != "lag " {
		t.Fatalf("tab on la: %q", m.cmd.in.value)
	}
	press(m, "enter")
	if m.current() != viewLag || m.cmd.in.active {
		t.Fatalf(":lag: view %d", m.current())
	}

	// :dlq NAME before the DLQs are listed opens it once they are.
	runCommand(m, "dlq payments.DLT", "enter")
	if m.current() != viewDLQ || m.dlq.stage != stageList || m.dlqWant != "payments.DLT" {
		t.Fatalf(":dlq before the listing: view %d stage %d want %q", m.current(), m.dlq.stage, m.dlqWant)
	}
	m.Update(dlqResult{m.dlq.gen, testDLQs()})
	if s := m.dlq.opened(); s == nil || s.Name != "payments.DLT" || m.dlq.stage != stageGroups {
		t.Fatalf(":dlq payments.DLT did not open it: stage %d", m.dlq.stage)
	}
	if top := strings.SplitN(m.render(), "\n", 2)[0]; !strings.Contains(top, "Sources › DLQ payments.DLT │ context test") {
		t.Fatalf("breadcrumb: %q", top)
	}

	// Tab completes a DLQ's name from the listing; a second DLQ by its
	// transport-qualified name.
	runCommand(m, "dlq sh", "tab")
	if m.cmd.in.value != "dlq shop.payments.dlq " {
		t.Fatalf("tab on a DLQ: %q", m.cmd.in.value)
	}
	press(m, "enter")
	if s := m.dlq.opened(); s == nil || s.Name != "shop.payments.dlq" || m.dlq.cur.pos != 1 {
		t.Fatalf(":dlq shop.payments.dlq: %+v", s)
	}
	runCommand(m, "dlq nope.DLT", "enter")
	if !m.flashErr || !strings.Contains(m.flash, ":dlq nope.DLT: not a dead-letter topic or queue here") {
		t.Fatalf(":dlq of no DLQ: %q", m.flash)
	}

	// Several matches: Tab fills their common start, then cycles.
	runCommand(m, "tail kafka:", "tab")
	if v := m.cmd.in.value; len(m.cmd.cands) < 2 || v != "tail "+m.cmd.cands[0] {
		t.Fatalf("tab on kafka: %q, candidates %q", v, m.cmd.cands)
	}
	first := m.cmd.in.value
	press(m, "tab")
	if m.cmd.in.value == first {
		t.Fatalf("tab again did not cycle: %q", m.cmd.in.value)
	}
	press(m, "esc")

	// :tail opens the tail on a regex.
	cmd := commandCmd(m, "tail kafka:/orders.*/")
	if cmd == nil || m.current() != viewTail || m.tail.title() != "Tail kafka:/orders.*/" {
		t.Fatalf(":tail: view %d title %q", m.current(), m.tail.title())
	}
	runCommand(m, "tail file:x.jsonl", "enter")
	if !m.flashErr || !strings.Contains(m.flash, "want kafka:TOPIC, kafka:/REGEX/ or amqp:QUEUE") {
		t.Fatalf(":tail file: %q", m.flash)
	}

	// :trace ID reads the flows of that id.
	cmd = commandCmd(m, "trace ord-7")
	if cmd == nil || m.current() != viewTrace || m.trace.query != "ord-7" || !m.trace.loading {
		t.Fatalf(":trace: view %d query %q", m.current(), m.trace.query)
	}
	if top := strings.SplitN(m.render(), "\n", 2)[0]; !strings.Contains(top, "Sources › Tail kafka:/orders.*/ › Trace ord-7") {
		t.Fatalf("breadcrumb: %q", top)
	}
	runCommand(m, "trace", "enter")
	if !m.flashErr || !strings.Contains(m.flash, ":trace needs one id") {
		t.Fatalf(":trace without an id: %q", m.flash)
	}
}

// TestCommandLineContexts: :ctx NAME switches (Tab completes the
// configured contexts); a context that is not configured is said at once.
func TestCommandLineContexts(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var asked []string
	m.be.Switch = func(name string) (*Backend, error) {
		asked = append(asked, name)
		return &Backend{Context: name, Contexts: []string{"prod", "test"}}, nil
	}
	runCommand(m, "ctx staging", "enter")
	if !m.flashErr || !strings.Contains(m.flash, ":ctx staging: no such context") || len(asked) != 0 {
		t.Fatalf(":ctx staging: %q, asked %q", m.flash, asked)
	}
	runCommand(m, "ctx p", "tab")
	if m.cmd.in.value != "ctx prod " {
		t.Fatalf("tab on a context: %q", m.cmd.in.value)
	}
	press(m, "enter")
	if len(asked) != 1 || asked[0] != "prod" || m.be.Context != "prod" || m.flash != "switched to context prod" {
		t.Fatalf(":ctx prod: asked %q, context %q, flash %q", asked, m.be.Context, m.flash)
	}
	runCommand(m, "ctx", "enter")
	if m.current() != viewContexts {
		t.Fatalf(":ctx: view %d", m.current())
	}
}

// TestBreadcrumbEndpoint: with no context (--brokers, --amqp-url) the top
// bar names the brokers, never a URL's user or password; a long trail
// gives up its oldest views first and the context stays whole.
func TestBreadcrumbEndpoint(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.be.Context = ""
	m.be.Endpoint = "127.0.0.1:39092,amqp://eddy:s3cret@127.0.0.1:5672/shop"
	top := strings.SplitN(m.render(), "\n", 2)[0]
	if !strings.Contains(top, "│ 127.0.0.1:39092,amqp://127.0.0.1:5672/shop") || strings.Contains(top, "s3cret") || strings.Contains(top, "eddy:") {
		t.Fatalf("top bar: %q", top)
	}
	for in, want := range map[string]string{
		"amqp://u:p@h:5672/":        "amqp://h:5672/",
		"amqp://u:p@ss@h:5672/":     "amqp://h:5672/",
		"amqps://user:****@h/vhost": "amqps://h/vhost",
		"amqp://h:5672/":            "amqp://h:5672/",
		"127.0.0.1:9092":            "127.0.0.1:9092",
	} {
		if got := withoutUserinfo(in); got != want {
			t.Errorf("withoutUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
	m.be.Endpoint = ""
	if top := strings.SplitN(m.render(), "\n", 2)[0]; !strings.Contains(top, "no context") {
		t.Fatalf("nothing named: %q", top)
	}
}

// breadcrumbModel is a model deep in a trail (Tail › Event › Trace) with
// the : line open and Tab's candidates listed.
func breadcrumbModel(t *testing.T, w, h int) *Model {
	m := newTestModel(t, w, h)
	m.Update(testSources())
	openTestTail(t, m, nil)
	e := orderEvent(1, "orders", "OrderPlaced")
	m.Update(openEventMsg{e: &e})
	m.Update(openTraceMsg{&e})
	m.Update(traceResult{m.trace.gen, testFlow()})
	runCommand(m, "tail kafka:", "tab")
	return m
}

func TestGoldenCommandLine(t *testing.T) {
	for _, sz := range [][2]int{{60, 20}, {80, 24}, {120, 35}, {200, 60}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m := breadcrumbModel(t, sz[0], sz[1])
			top := strings.SplitN(m.render(), "\n", 2)[0]
			if !strings.Contains(top, "Trace ord-1 │ context test") {
				t.Fatalf("the trail's end and the context: %q", top)
			}
			requireScreen(t, m)
			press(m, "esc")
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			if strings.Contains(m.render(), ":tail") {
				t.Fatal("esc left the command line")
			}
		})
	}
}

// runCommand opens the command line, types line and presses end (enter, tab
// or esc), running what the keys return.
func runCommand(m *Model, line, end string) {
	press(m, ":")
	typeText(m, line)
	press(m, end)
}

// commandCmd opens the command line, types line and presses enter; the
// command enter returns is handed back unrun (it would start reads).
func commandCmd(m *Model, line string) tea.Cmd {
	press(m, ":")
	typeText(m, line)
	_, cmd := m.Update(keyMsg("enter"))
	return cmd
}
