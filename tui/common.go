package tui

import (
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddy-sh/eddy/inspect"
)

// Common is what every view shares: the terminal size, the styles and the
// keys. Views hold a pointer, so a resize reaches all of them at once.
type Common struct {
	Width, Height int
	Styles        Styles
	Keys          KeyMap
	// Conn is each transport's connection state (conn.go), for the
	// header's marker and the views' bodies.
	Conn *connBook
	// Now is the TUI's clock (Options.Clock).
	Now func() time.Time
}

// bodyHeight is the rows a view may draw: the screen less the top and
// bottom bars.
func (c *Common) bodyHeight() int { return max(1, c.Height-2) }

// component is what the root asks of every view. Only the root is a
// tea.Model; views mutate themselves and return commands.
type component interface {
	update(msg tea.Msg) tea.Cmd
	// view draws exactly the body: at most bodyHeight lines of at most Width
	// cells.
	view() string
	// title names the view in the top bar.
	title() string
	// status is the view's part of the bottom bar.
	status() string
	// help is the view's keys, for the bottom bar and the ? screen.
	help() []key.Binding
	// editing reports whether an input line has the keyboard, so global keys
	// such as q are typed into it instead.
	editing() bool
}

// safe renders untrusted text for the screen: every control or escape
// sequence shown escaped, never sent (inspect's rendering, the CLI's).
func safe(s string) string { return inspect.SafeString(s) }

// fit cuts a line (which may hold SGR sequences of our own styles) to w
// cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// fitName fits a name to w cells by cutting its middle: names that share a
// start (kafka:inventory, kafka:inventory-dlq) and differ at the end stay
// apart ("kafka:inv…entory", "kafka:inv…ory-dlq"), and a label at the end
// ("(dead letter)") stays whole where it can. s holds no escape sequences
// (names are safe()d text).
func fitName(s string, w int) string {
	n := ansi.StringWidth(s)
	if n <= w {
		return s
	}
	if w < 5 {
		return fit(s, w)
	}
	head := (w - 1) / 2
	tail := w - 1 - head
	return ansi.Truncate(s, head, "") + "…" + ansi.TruncateLeft(s, n-tail, "")
}

// pad fits s to w cells and fills the rest with spaces, so a background
// style spans the line.
func pad(s string, w int) string {
	s = fit(s, w)
	if n := w - ansi.StringWidth(s); n > 0 {
		s += strings.Repeat(" ", n)
	}
	return s
}

// body joins lines into exactly h lines of at most w cells.
func body(lines []string, w, h int) string {
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(fit(lines[i], w))
		}
	}
	return b.String()
}

// cursor is a position in a list of n rows with a window of h rows shown.
type cursor struct {
	pos, top int
}

// move handles the movement keys; it reports whether msg was one.
func (c *cursor) move(k KeyMap, msg tea.KeyPressMsg, n, h int) bool {
	switch {
	case key.Matches(msg, k.Up):
		c.pos--
	case key.Matches(msg, k.Down):
		c.pos++
	case key.Matches(msg, k.PageUp):
		c.pos -= max(1, h-1)
	case key.Matches(msg, k.PageDown):
		c.pos += max(1, h-1)
	case key.Matches(msg, k.Top):
		c.pos = 0
	case key.Matches(msg, k.Bottom):
		c.pos = n - 1
	default:
		return false
	}
	c.clamp(n, h)
	return true
}

// follow puts the cursor back on the row named k after the list changed
// under it (a refresh, a re-sort, a filter): a cursor stays on its item, not
// on its row number, so enter opens what was under it. The row keeps its
// place on the screen where it can. When k is gone (or ""), the cursor keeps
// its number (clamped when drawn).
func (c *cursor) follow(k string, n int, key func(i int) string) {
	if k == "" {
		return
	}
	for i := range n {
		if key(i) == k {
			c.top += i - c.pos
			c.pos = i
			return
		}
	}
}

// clamp keeps the cursor in [0,n) and visible in a window of h rows.
func (c *cursor) clamp(n, h int) {
	c.pos = max(0, min(c.pos, n-1))
	if c.pos < c.top {
		c.top = c.pos
	}
	if h > 0 && c.pos >= c.top+h {
		c.top = c.pos - h + 1
	}
	c.top = max(0, min(c.top, n-h))
}

// input is a one-line editor: typing, backspace, ctrl+u, ctrl+w. It keeps no
// cursor of its own (the end is where typing goes) so views render it
// deterministically.
type input struct {
	prompt string
	value  string
	active bool
}

func (in *input) start(prompt, value string) {
	in.prompt, in.value, in.active = prompt, value, true
}

// edit applies a key to the line; it reports whether the key was an edit.
func (in *input) edit(msg tea.KeyPressMsg) bool {
	switch msg.String() {
	case "backspace", "ctrl+h":
		if in.value != "" {
			_, size := utf8.DecodeLastRuneInString(in.value)
			in.value = in.value[:len(in.value)-size]
		}
		return true
	case "ctrl+u":
		in.value = ""
		return true
	case "ctrl+w":
		v := strings.TrimRight(in.value, " ")
		if i := strings.LastIndexByte(v, ' '); i >= 0 {
			in.value = v[:i+1]
		} else {
			in.value = ""
		}
		return true
	}
	if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
		in.value += msg.Text
		return true
	}
	return false
}

// filterKey handles a key while the line is a list's live filter: enter
// keeps the filter and leaves the line, esc clears it, anything else edits.
// The caller applies the filter after every key.
func (in *input) filterKey(k KeyMap, msg tea.KeyPressMsg) {
	switch {
	case key.Matches(msg, k.Accept):
		in.active = false
	case key.Matches(msg, k.Cancel):
		in.active, in.value = false, ""
	default:
		in.edit(msg)
	}
}

// paste adds pasted text, with line breaks turned into spaces.
func (in *input) paste(s string) {
	in.value += strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s)
}

// render draws the line; a list filter kept (enter) is drawn dim and
// without the cursor block, so that / (edit it again) shows a change.
func (in *input) render(st Styles, w int) string {
	if !in.active {
		return fit(st.Dim.Render(in.prompt+safe(in.value)), w)
	}
	return fit(st.Input.Render(in.prompt+safe(in.value)+"█"), w)
}

// cursorRow draws line as the row under the cursor: marked ▸ (visible
// without colour) and styled as one piece.
func cursorRow(st Styles, line string, w int) string {
	plain := []rune(ansi.Strip(line))
	if len(plain) > 0 {
		plain = plain[1:]
	}
	return st.Cursor.Render(pad("▸"+string(plain), w))
}
