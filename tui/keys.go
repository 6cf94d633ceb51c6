package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the TUI answers to, in one place; `?` shows it.
type KeyMap struct {
	// Global.
	Quit, Interrupt, Help, Back                     key.Binding
	GoSources, GoTail, GoLag, GoDLQ, GoContexts     key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom         key.Binding
	Open, Select, SelectAll, Refresh                key.Binding
	ListFilter                                      key.Binding
	Pause, EditFilter, Search, NextMatch, PrevMatch key.Binding
	JumpTime, Follow, Clear                         key.Binding
	Fold, Unfold, FoldAll, UnfoldAll, Copy, Save    key.Binding
	Trace                                           key.Binding
	Plan, Confirm                                   key.Binding
	Jobs                                            key.Binding
	Sort, SortReverse                               key.Binding
	ToggleID, ScrollLeft, ScrollRight               key.Binding
	Accept, Cancel                                  key.Binding
	Command, Complete                               key.Binding
	NextEvent, PrevEvent                            key.Binding
}

// DefaultKeyMap returns eddy's keys.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:       b("q", "quit", "q"),
		Interrupt:  b("ctrl+c", "interrupt (exit 130)", "ctrl+c"),
		Help:       b("?", "help", "?"),
		Back:       b("esc", "back", "esc", "backspace"),
		GoSources:  b("1", "sources", "1"),
		GoTail:     b("2", "tail", "2"),
		GoLag:      b("3", "lag", "3"),
		GoDLQ:      b("4", "dlq", "4"),
		GoContexts: b("5", "contexts", "5"),

		Up:        b("↑/k", "up", "up", "k"),
		Down:      b("↓/j", "down", "down", "j"),
		PageUp:    b("pgup/ctrl+b", "page up", "pgup", "ctrl+b"),
		PageDown:  b("pgdn/ctrl+f", "page down", "pgdown", "ctrl+f"),
		Top:       b("g/home", "first", "g", "home"),
		Bottom:    b("G/end", "last", "G", "end"),
		Open:      b("enter", "open", "enter"),
		Select:    b("space", "select", "space"),
		SelectAll: b("a", "select all shown", "a"),
		Refresh:   b("r", "refresh", "r"),

		ListFilter: b("/", "filter list", "/"),

		Pause:      b("p", "pause/resume", "p"),
		EditFilter: b("f", "edit --filter", "f"),
		Search:     b("/", "search", "/"),
		NextMatch:  b("n", "next match", "n"),
		PrevMatch:  b("N", "previous match", "N"),
		JumpTime:   b("@", "jump to time", "@"),
		Follow:     b("F", "follow", "F"),
		Clear:      b("c", "clear buffer", "c"),

		Fold:      b("←/h", "fold", "left", "h"),
		Unfold:    b("→/l", "unfold", "right", "l"),
		FoldAll:   b("z", "fold all", "z"),
		UnfoldAll: b("Z", "unfold all", "Z"),
		Copy:      b("y", "copy JSON (OSC 52)", "y"),
		Save:      b("w", "write JSON to a file", "w"),
		Trace:     b("t", "trace", "t"),

		Plan:    b("P", "plan redrive (dry run)", "P"),
		Confirm: b("Y", "confirm redrive", "Y"),

		Jobs: b("J", "show/hide eddy's own jobs", "J"),

		Sort:        b("s", "sort by the next column", "s"),
		SortReverse: b("S", "reverse the sort", "S"),

		ToggleID:    b("i", "show/hide the id column", "i"),
		ScrollLeft:  b("←/h", "scroll the payload left", "left", "h"),
		ScrollRight: b("→/l", "scroll the payload right", "right", "l"),

		Accept: b("enter", "apply", "enter"),
		Cancel: b("esc", "cancel", "esc"),

		Command:  b(":", "command (Tab completes)", ":"),
		Complete: b("tab", "complete", "tab"),

		NextEvent: b("]", "next event", "]"),
		PrevEvent: b("[", "previous event", "["),
	}
}

// helpSection is one titled group of keys in the full help.
type helpSection struct {
	title string
	keys  []key.Binding
}

func (k KeyMap) globalHelp() helpSection {
	return helpSection{"global", []key.Binding{k.Help, k.Command, k.Back, k.Quit, k.Interrupt, k.GoSources, k.GoTail, k.GoLag, k.GoDLQ, k.GoContexts}}
}

func (k KeyMap) moveHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// relabel is b described for one view ("enter: tail from the committed
// offset"), so the help says what the key does there.
func relabel(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}
