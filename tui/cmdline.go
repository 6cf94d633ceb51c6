package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/bus"
)

// command is one word of the : line: what it does with its arguments, and
// what Tab offers for them.
type command struct {
	name, alias string
	usage       string
	run         func(m *Model, args []string) tea.Cmd
	complete    func(m *Model) []string
}

// commands are the : line's words, as k9s's: a view by its name, or a view
// opened on something (:dlq payments.DLT, :tail kafka:/orders.*/,
// :ctx staging, :trace ord-1).
func commands() []command {
	return []command{
		{name: "sources", usage: ":sources", run: func(m *Model, _ []string) tea.Cmd { return m.jump(viewSources) }},
		{name: "tail", usage: ":tail [ADDR…]", run: (*Model).cmdTail, complete: (*Model).sourceNames},
		{name: "lag", usage: ":lag [GROUP]", run: (*Model).cmdLag, complete: (*Model).groupNames},
		{name: "dlq", usage: ":dlq [NAME]", run: (*Model).cmdDLQ, complete: (*Model).dlqNames},
		{name: "ctx", alias: "contexts", usage: ":ctx [NAME]", run: (*Model).cmdCtx, complete: func(m *Model) []string { return m.be.Contexts }},
		{name: "trace", usage: ":trace ID", run: (*Model).cmdTrace},
		{name: "event", usage: ":event", run: func(m *Model, _ []string) tea.Cmd { return m.push(viewEvent) }},
		{name: "help", usage: ":help", run: func(m *Model, _ []string) tea.Cmd { m.showHelp = true; return nil }},
		{name: "quit", alias: "q", usage: ":quit", run: func(m *Model, _ []string) tea.Cmd { return m.quit() }},
	}
}

// commandWords lists the words : takes, for the unknown-command line.
func commandWords() string {
	var w []string
	for _, c := range commands() {
		w = append(w, c.name)
	}
	return strings.Join(w, " ")
}

func findCommand(word string) (command, bool) {
	for _, c := range commands() {
		if word == c.name || word == c.alias {
			return c, true
		}
	}
	return command{}, false
}

// cmdLine is the : line: an input, and Tab's completion state (the
// candidates it cycles through, and what the line was before).
type cmdLine struct {
	in    input
	cands []string
	at    int
	stem  string // the line up to the word being completed
}

// cmdKey edits the : line: enter runs it, esc cancels, Tab completes.
func (m *Model) cmdKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	cl := &m.cmd
	switch {
	case key.Matches(msg, k.Accept):
		cl.in.active = false
		line := strings.TrimSpace(cl.in.value)
		cl.cands = nil
		return m.runCommand(line)
	case key.Matches(msg, k.Cancel), msg.String() == "backspace" && cl.in.value == "":
		// esc, or backspace on an empty line (vim's, k9s's), cancels.
		cl.in.active, cl.cands = false, nil
		return nil
	case key.Matches(msg, k.Complete):
		m.complete()
		return nil
	}
	cl.in.edit(msg)
	cl.cands = nil
	return nil
}

// runCommand runs one : line; an unknown word, or a bad argument, is one
// line on the status bar.
func (m *Model) runCommand(line string) tea.Cmd {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	c, ok := findCommand(strings.ToLower(f[0]))
	if !ok {
		return flash(fmt.Sprintf("unknown command :%s (commands: %s; Tab completes)", safe(f[0]), commandWords()), true)
	}
	return c.run(m, f[1:])
}

// quit is q: it asks first when quitting ends more than the TUI.
func (m *Model) quit() tea.Cmd {
	if q := m.quitQuestion(); q != "" {
		m.askQuit = q
		return nil
	}
	m.code, m.quitting = ExitQuit, true
	return tea.Quit
}

// cmdTail opens the tail on the addresses (kafka:TOPIC, kafka:/REGEX/,
// amqp:QUEUE; a bare name is a Kafka topic), or shows the tail as it is.
func (m *Model) cmdTail(args []string) tea.Cmd {
	if len(args) == 0 {
		return m.jump(viewTail)
	}
	var addrs []bus.Address
	for _, s := range args {
		if !strings.Contains(s, ":") {
			s = "kafka:" + s
		}
		a, err := bus.ParseAddress(s)
		if err == nil && (a.Transport == "file" || a.Transport == "amqp" && a.Name == "") {
			err = fmt.Errorf("%s: want kafka:TOPIC, kafka:/REGEX/ or amqp:QUEUE", s)
		}
		if err != nil {
			return flash(":tail "+safe(err.Error()), true)
		}
		addrs = append(addrs, a)
	}
	return tea.Batch(m.jump(viewTail), m.tail.open(addrs))
}

// cmdLag shows the Lag view, drilled into GROUP when one is named.
func (m *Model) cmdLag(args []string) tea.Cmd {
	cmd := m.jump(viewLag)
	if len(args) > 0 {
		m.lag.drill, m.lag.pcur = args[0], cursor{}
	} else {
		m.lag.drill = ""
	}
	return cmd
}

// cmdDLQ shows the DLQ view, with NAME's error groups when one is named
// (at once when the DLQs are listed, else once they are).
func (m *Model) cmdDLQ(args []string) tea.Cmd {
	m.dlqWant = ""
	var reload tea.Cmd
	if len(args) > 0 {
		if m.dlq.stage == stageRunning {
			return flash("a redrive is running: :dlq opens another DLQ once it is done", true)
		}
		if m.dlq.stage == stageResult {
			// After a redrive the counts changed: read them again first.
			reload = m.dlq.load()
		}
		m.dlq.stage = stageList
		m.dlqWant = args[0]
	}
	cmd := tea.Batch(m.jump(viewDLQ), reload)
	if m.dlqWant != "" && m.dlq.res != nil && !m.dlq.loading {
		return tea.Batch(cmd, m.openWantedDLQ())
	}
	return cmd
}

// openWantedDLQ opens the DLQ :dlq named, now that the DLQs are listed, or
// says it is not one.
func (m *Model) openWantedDLQ() tea.Cmd {
	want := m.dlqWant
	m.dlqWant = ""
	for i, s := range m.dlq.res.sums {
		if want == s.Name || want == s.Transport+":"+s.Name {
			m.dlq.openDLQ(i)
			return nil
		}
	}
	return flash(fmt.Sprintf(":dlq %s: not a dead-letter topic or queue here (Tab lists them)", safe(want)), true)
}

// cmdCtx shows the contexts, or switches to NAME.
func (m *Model) cmdCtx(args []string) tea.Cmd {
	if len(args) == 0 {
		return m.jump(viewContexts)
	}
	name := args[0]
	switch {
	case !slices.Contains(m.be.Contexts, name):
		return flash(fmt.Sprintf(":ctx %s: no such context (Tab lists them; eddy config list)", safe(name)), true)
	case name == m.be.Context:
		return flash("already on context "+safe(name), false)
	case m.be.Switch == nil:
		return flash("switching contexts is not available here", true)
	}
	sw := m.be.Switch
	return tea.Batch(flash("connecting to context "+safe(name)+"…", false), func() tea.Msg {
		be, err := sw(name)
		return backendMsg{be, err}
	})
}

// cmdTrace reads the flows of an id, as eddy trace ID: every topic from
// the trace window before now.
func (m *Model) cmdTrace(args []string) tea.Cmd {
	if len(args) != 1 {
		return flash(":trace needs one id (a correlation, trace or event id)", true)
	}
	return tea.Batch(m.push(viewTrace), m.trace.openID(args[0], m.o.Clock()))
}

// sourceNames are the topics and queues the Sources view listed.
func (m *Model) sourceNames() []string {
	var out []string
	for _, r := range m.sources.rows {
		out = append(out, r.addr.String())
	}
	return out
}

// groupNames are the consumer groups the Lag view sampled.
func (m *Model) groupNames() []string {
	var out []string
	if m.lag.snap != nil {
		for _, g := range m.lag.snap.Groups {
			out = append(out, g.Group)
		}
	}
	return out
}

// dlqNames are the DLQs the DLQ view listed.
func (m *Model) dlqNames() []string {
	var out []string
	if m.dlq.res != nil {
		for _, s := range m.dlq.res.sums {
			out = append(out, s.Name)
		}
	}
	return out
}

// complete is Tab: the word being typed is completed from the command
// words (the first word) or from what is loaded for the command (topics,
// groups, DLQs, contexts); one match is filled in, several fill their
// common start, and Tab again cycles through them.
func (m *Model) complete() {
	cl := &m.cmd
	if len(cl.cands) > 1 {
		cl.at = (cl.at + 1) % len(cl.cands)
		cl.in.value = cl.stem + cl.cands[cl.at]
		return
	}
	v := cl.in.value
	i := strings.LastIndexByte(v, ' ') + 1
	stem, word := v[:i], v[i:]
	var pool []string
	if strings.TrimSpace(stem) == "" {
		stem = v[:len(v)-len(strings.TrimLeft(v, " "))]
		for _, c := range commands() {
			pool = append(pool, c.name)
		}
	} else if c, ok := findCommand(strings.ToLower(strings.Fields(stem)[0])); ok && c.complete != nil {
		pool = c.complete(m)
	}
	var cands []string
	for _, p := range pool {
		if strings.HasPrefix(p, word) && !slices.Contains(cands, p) {
			cands = append(cands, p)
		}
	}
	switch len(cands) {
	case 0:
		return
	case 1:
		cl.in.value = stem + cands[0] + " "
		return
	}
	slices.Sort(cands)
	if p := commonPrefix(cands); len(p) > len(word) {
		cl.in.value = stem + p
		return
	}
	cl.cands, cl.at, cl.stem = cands, 0, stem
	cl.in.value = stem + cands[0]
}

func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// cmdLineView is the : line on the status bar, with Tab's candidates
// after it when it has several.
func (m *Model) cmdLineView() string {
	st := m.c.Styles
	s := st.Input.Render(":" + safe(m.cmd.in.value) + "█")
	if n := len(m.cmd.cands); n > 1 {
		var parts []string
		for i, c := range m.cmd.cands {
			if i == m.cmd.at {
				c = "[" + c + "]"
			}
			parts = append(parts, safe(c))
		}
		s += "  " + strings.Join(parts, " ")
	} else if m.cmd.in.value == "" {
		s += "  " + st.Dim.Render(commandWords()+" · Tab completes · esc cancels")
	}
	return s
}
