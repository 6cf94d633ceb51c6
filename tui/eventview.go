package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddy-sh/eddy/event"
	"github.com/eddy-sh/eddy/inspect"
)

// eventView shows one event whole: where it was read, its derived ids, its
// headers (known binary ones decoded, as tail --headers shows them) and its
// payload, pretty-printed and foldable when it is JSON.
type eventView struct {
	c  *Common
	be *Backend
	o  Options

	e     *event.Event
	tree  *jnode // nil when the payload is not JSON
	lines []jline
	cur   cursor
}

func newEventView(c *Common, be *Backend, o Options) *eventView {
	return &eventView{c: c, be: be, o: o}
}

func (v *eventView) title() string { return "Event" }

func (v *eventView) editing() bool { return false }

func (v *eventView) help() []key.Binding {
	k := v.c.Keys
	return append(k.moveHelp(), k.Fold, k.Unfold, k.Open, k.FoldAll, k.UnfoldAll, k.Copy, k.Save, k.Trace)
}

func (v *eventView) status() string {
	if v.e == nil {
		return "no event: open one from the Tail view (enter)"
	}
	return shortHelp(v.c.Keys.Open, v.c.Keys.Copy, v.c.Keys.Save, v.c.Keys.Trace)
}

// show makes e the event shown.
func (v *eventView) show(e *event.Event) {
	v.e = e
	v.tree = nil
	if t, err := parseJSON(e.Value); err == nil && len(e.Value) > 0 {
		v.tree = t
	}
	v.cur = cursor{}
	v.layout()
}

// layout renders the whole event into lines; the cursor moves over them.
func (v *eventView) layout() {
	v.lines = v.lines[:0]
	e := v.e
	if e == nil {
		return
	}
	add := func(s string) { v.lines = append(v.lines, jline{text: s}) }
	add("origin      " + safe(origin(e)))
	add("timestamp   " + e.Timestamp.In(v.o.Local).Format("2006-01-02 15:04:05.000 MST"))
	if e.Key != nil {
		add("key         " + string(inspect.AppendSafe(nil, e.Key)))
	}
	f := v.be.schema().Extract(e)
	for _, kv := range [][2]string{{"type", f.Type}, {"id", f.ID}, {"correlation", f.Correlation}, {"causation", f.Causation}, {"trace_id", f.TraceID}, {"span_id", f.SpanID}} {
		if kv[1] != "" {
			add(fmt.Sprintf("%-11s %s", kv[0], safe(kv[1])))
		}
	}
	if !f.OccurredAt.IsZero() {
		add("occurred    " + f.OccurredAt.In(v.o.Local).Format("2006-01-02 15:04:05.000 MST"))
	}
	if e.Transport == event.AMQP && e.Properties != nil {
		p := e.Properties
		for _, kv := range [][2]string{{"content_type", p.ContentType}, {"message_id", p.MessageID}, {"correlation_id", p.CorrelationID}, {"type", p.Type}, {"app_id", p.AppID}, {"reply_to", p.ReplyTo}} {
			if kv[1] != "" {
				add(fmt.Sprintf("prop %-14s %s", kv[0], safe(kv[1])))
			}
		}
	}
	if len(e.Headers) > 0 {
		add("")
		add(fmt.Sprintf("headers (%d)", len(e.Headers)))
		r, err := inspect.NewRenderer(inspect.PrinterOptions{Width: max(40, v.c.Width), Schema: v.be.schema(), Local: v.o.Local})
		if err == nil {
			for _, l := range strings.Split(strings.TrimRight(string(r.AppendHeaders(nil, e)), "\n"), "\n") {
				add(l)
			}
		}
	}
	add("")
	switch {
	case e.Value == nil:
		add("payload <null>")
	case len(e.Value) == 0:
		add("payload <empty>")
	case v.tree != nil:
		add(fmt.Sprintf("payload (JSON, %d bytes)", len(e.Value)))
		v.lines = v.tree.lines(v.lines, 0, true)
	default:
		add(fmt.Sprintf("payload (%d bytes, not JSON; shown escaped)", len(e.Value)))
		// Lines of text stay lines; everything else a terminal could act on
		// is escaped.
		for _, l := range strings.Split(string(e.Value), "\n") {
			add("  " + string(inspect.AppendSafe(nil, []byte(l))))
		}
	}
}

func origin(e *event.Event) string {
	if e.Transport == event.AMQP {
		s := "amqp:" + e.Source()
		if e.Exchange != "" || e.RoutingKey != "" {
			s += " (exchange " + e.Exchange + ", routing key " + e.RoutingKey + ")"
		}
		if e.Offset >= 0 {
			s += " @" + strconv.FormatInt(e.Offset, 10)
		}
		if e.Redelivered {
			s += " redelivered"
		}
		return s
	}
	return fmt.Sprintf("kafka:%s[%d]@%d", e.Topic, e.Partition, e.Offset)
}

func (v *eventView) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok || v.e == nil {
		return nil
	}
	k := v.c.Keys
	h := v.c.bodyHeight()
	if v.cur.move(k, km, len(v.lines), h) {
		return nil
	}
	node := func() *jnode {
		if v.cur.pos < len(v.lines) {
			return v.lines[v.cur.pos].node
		}
		return nil
	}
	switch {
	case key.Matches(km, k.Open), key.Matches(km, k.Select):
		if n := node(); n != nil {
			n.folded = !n.folded
			v.layout()
		}
	case key.Matches(km, k.Fold):
		if n := node(); n != nil && !n.folded {
			n.folded = true
			v.layout()
		}
	case key.Matches(km, k.Unfold):
		if n := node(); n != nil && n.folded {
			n.folded = false
			v.layout()
		}
	case key.Matches(km, k.FoldAll):
		if v.tree != nil {
			v.tree.foldAll(true, 0)
			v.layout()
		}
	case key.Matches(km, k.UnfoldAll):
		if v.tree != nil {
			v.tree.foldAll(false, 0)
			v.layout()
		}
	case key.Matches(km, k.Copy):
		// OSC 52 asks the terminal to set the clipboard; terminals that do
		// not support it ignore it, so w (a file) is offered too.
		return tea.Batch(tea.SetClipboard(v.envelope()), flash("copied the event as JSON (OSC 52; if your terminal ignores it, w writes a file)", false))
	case key.Matches(km, k.Save):
		path, err := v.save()
		if err != nil {
			return flash("write: "+safe(err.Error()), true)
		}
		return flash("wrote "+safe(path), false)
	case key.Matches(km, k.Trace):
		e := v.e
		return func() tea.Msg { return openTraceMsg{e} }
	}
	v.cur.clamp(len(v.lines), h)
	return nil
}

// envelope is the event as eddy's capture format writes it (one JSON line,
// what eddy tail -o jsonl prints).
func (v *eventView) envelope() string {
	return string(event.AppendEnvelope(nil, v.e))
}

// save writes the envelope to a new file in SaveDir, named after the
// event's origin.
func (v *eventView) save() (string, error) {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, fmt.Sprintf("eddy-event-%s-%d-%d", v.e.Source(), v.e.Partition, v.e.Offset))
	f, err := os.CreateTemp(v.o.SaveDir, name+"-*.json")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(v.envelope() + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return filepath.Clean(f.Name()), nil
}

func (v *eventView) view() string {
	c, st := v.c, v.c.Styles
	h := c.bodyHeight()
	if v.e == nil {
		return body([]string{"", "  No event yet: pick one in the Tail view (2) and press enter."}, c.Width, h)
	}
	v.cur.clamp(len(v.lines), h)
	out := make([]string, 0, h)
	for i := v.cur.top; i < len(v.lines) && len(out) < h; i++ {
		l := v.lines[i]
		mark := "  "
		if l.node != nil {
			mark = "- "
			if l.node.folded {
				mark = "+ "
			}
		}
		text := " " + mark + l.text
		if i == v.cur.pos {
			text = cursorRow(st, text, c.Width)
		}
		out = append(out, text)
	}
	return body(out, c.Width, h)
}
