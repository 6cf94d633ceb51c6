package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

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
	// openHdr are the headers shown whole (enter on a long one: a
	// kafka_dlt-exception-message or -stacktrace, wrapped at the width);
	// laidW is the width the lines were laid out for.
	openHdr map[int]bool
	laidW   int
	// nav steps through the list the event was opened from (the tail, a
	// trace's steps, a DLQ group's messages): ] and [; nil for none.
	nav func(d int) tea.Cmd
}

func newEventView(c *Common, be *Backend, o Options) *eventView {
	return &eventView{c: c, be: be, o: o}
}

func (v *eventView) title() string { return "Event" }

func (v *eventView) editing() bool { return false }

func (v *eventView) help() []key.Binding {
	k := v.c.Keys
	if v.e == nil {
		return nil
	}
	bs := append(k.moveHelp(), k.Fold, k.Unfold, relabel(k.Open, "fold/unfold; + header"), k.FoldAll, k.UnfoldAll, k.Copy, k.Save, k.Trace)
	if v.nav != nil {
		bs = append(bs, k.NextEvent, k.PrevEvent)
	}
	return bs
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
	// A payload a schema decoded shows its JSON (Payload): the tree.
	if p := e.Payload(); len(p) > 0 {
		if t, err := parseJSON(p); err == nil {
			v.tree = t
		}
	}
	v.cur = cursor{}
	v.openHdr = map[int]bool{}
	v.layout()
}

// layout renders the whole event into lines; the cursor moves over them.
func (v *eventView) layout() {
	v.lines = v.lines[:0]
	v.laidW = v.c.Width
	e := v.e
	if e == nil {
		return
	}
	add := func(s string) { v.lines = append(v.lines, jline{text: s}) }
	add("origin      " + safe(origin(e)))
	add("timestamp   " + e.Timestamp.In(v.o.Local).Format("2006-01-02 15:04:05.000 MST"))
	if e.Key != nil {
		k := "key         " + string(inspect.AppendSafe(nil, inspect.KeyText(e)))
		if e.KeyDecoded != nil {
			k += "  " + schemaNote(e.KeyDecoded)
		}
		add(k)
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
		title := len(v.lines) - 1
		for i := range e.Headers {
			v.header(i)
		}
		if slices.ContainsFunc(v.lines[title:], func(l jline) bool { return l.long }) {
			v.lines[title].text += " · + marks a long one: enter shows it whole"
		}
	}
	add("")
	d := e.ValueDecoded
	switch {
	case e.Value == nil:
		add("payload <null>")
	case len(e.Value) == 0:
		add("payload <empty>")
	case d != nil && d.JSON != nil && v.tree != nil:
		add(fmt.Sprintf("payload %s (%d bytes, decoded to JSON)", schemaNote(d), len(e.Value)))
		v.lines = v.tree.lines(v.lines, 0, true)
	case d != nil && d.Fail != "":
		add(fmt.Sprintf("payload %s (%d bytes, not decoded; shown escaped)", schemaNote(d), len(e.Value)))
		v.rawLines()
	case v.tree != nil:
		add(fmt.Sprintf("payload (JSON, %d bytes)", len(e.Value)))
		v.lines = v.tree.lines(v.lines, 0, true)
	default:
		add(fmt.Sprintf("payload (%d bytes, not JSON; shown escaped)", len(e.Value)))
		v.rawLines()
	}
}

// schemaNote is what decoded a key or value, for the view: its schema
// marker in brackets ([avro orders-value v3]), or a failure's reason and
// as much of the schema as was known ([unknown-schema: schema id 77]);
// terminal-safe.
func schemaNote(d *event.Decoded) string {
	m := inspect.SchemaMarker(d)
	if d.Fail != "" {
		if s := d.Schema; s != (event.SchemaRef{}) {
			m += ": " + inspect.SchemaMarker(&event.Decoded{Schema: s})
		}
	}
	return "[" + safe(m) + "]"
}

// rawLines lays out the payload's bytes as terminal-safe text.
func (v *eventView) rawLines() {
	// Lines of text stay lines; everything else a terminal could act on
	// is escaped.
	for _, l := range strings.Split(string(v.e.Value), "\n") {
		v.lines = append(v.lines, jline{text: "  " + string(inspect.AppendSafe(nil, []byte(l)))})
	}
}

// header lays out header i: one line, cut at the width with a + when it is
// longer (or holds line breaks); when opened, its key and then its value
// whole, line by line as the value breaks them, each wrapped at the width.
// Every piece is escaped: header values are untrusted bytes.
func (v *eventView) header(i int) {
	h := &v.e.Headers[i]
	key := "    " + string(inspect.AppendSafe(nil, []byte(h.Key))) + ": "
	var text string
	switch decoded, ok := inspect.DecodeKnownHeader(h.Key, h.Value); {
	case h.Value == nil && h.Typed == nil:
		text = "<null>"
	case ok:
		text = decoded + " (decoded)"
	default:
		text = string(inspect.AppendSafe(nil, h.Value))
	}
	if h.Typed != nil {
		text += " (" + event.TypeName(h.Typed) + ")"
	}
	// The view draws three cells before a line (cursor, fold mark).
	w := max(20, v.c.Width-3)
	long := strings.ContainsRune(string(h.Value), '\n') || ansi.StringWidth(key+text) > w
	if !long || !v.openHdr[i] {
		v.lines = append(v.lines, jline{text: fit(key+text, w), hdr: i + 1, long: long})
		return
	}
	v.lines = append(v.lines, jline{text: key, hdr: i + 1, long: true, open: true})
	indent := "      "
	for _, part := range strings.Split(string(h.Value), "\n") {
		// A stack trace indents its frames with tabs: spaces show them.
		part = strings.ReplaceAll(strings.TrimSuffix(part, "\r"), "\t", "    ")
		safe := string(inspect.AppendSafe(nil, []byte(part)))
		for _, l := range strings.Split(ansi.Wrap(safe, max(10, w-len(indent)), ""), "\n") {
			v.lines = append(v.lines, jline{text: indent + l, hdr: i + 1})
		}
	}
}

// toggleHeader opens or closes the header under the cursor, which then
// stays on the header's first line.
func (v *eventView) toggleHeader(open func(bool) bool) bool {
	if v.cur.pos >= len(v.lines) {
		return false
	}
	i := v.lines[v.cur.pos].hdr - 1
	if i < 0 {
		return false
	}
	was := v.openHdr[i]
	now := open(was)
	if now == was {
		return false
	}
	if now {
		if !v.lines[v.cur.pos].long {
			return false
		}
		v.openHdr[i] = true
	} else {
		delete(v.openHdr, i)
	}
	v.layout()
	for j := range v.lines {
		if v.lines[j].hdr == i+1 {
			v.cur.pos = j
			break
		}
	}
	return true
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
		} else {
			v.toggleHeader(func(open bool) bool { return !open })
		}
	case key.Matches(km, k.Fold):
		if n := node(); n != nil && !n.folded {
			n.folded = true
			v.layout()
		} else {
			v.toggleHeader(func(bool) bool { return false })
		}
	case key.Matches(km, k.Unfold):
		if n := node(); n != nil && n.folded {
			n.folded = false
			v.layout()
		} else {
			v.toggleHeader(func(bool) bool { return true })
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
	case key.Matches(km, k.NextEvent) && v.nav != nil:
		return v.nav(1)
	case key.Matches(km, k.PrevEvent) && v.nav != nil:
		return v.nav(-1)
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
	if v.laidW != c.Width {
		// Header lines are cut and wrapped at the width.
		v.layout()
	}
	v.cur.clamp(len(v.lines), h)
	out := make([]string, 0, h)
	for i := v.cur.top; i < len(v.lines) && len(out) < h; i++ {
		l := v.lines[i]
		mark := "  "
		switch {
		case l.node != nil:
			mark = "- "
			if l.node.folded {
				mark = "+ "
			}
		case l.open:
			mark = "- "
		case l.long:
			mark = "+ "
		}
		text := " " + mark + l.text
		if i == v.cur.pos {
			text = cursorRow(st, text, c.Width)
		}
		out = append(out, text)
	}
	return body(out, c.Width, h)
}
