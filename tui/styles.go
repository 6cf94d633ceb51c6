package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are every style the TUI draws with, in one place. With colour off
// (NO_COLOR, TERM=dumb) every style is plain text: what a row means is also
// said with characters (the ▸ cursor, the * of a selection, [ERR]), never
// with colour alone.
type Styles struct {
	Color bool

	Title      lipgloss.Style // the top bar
	TitleView  lipgloss.Style // the view's name in the top bar
	Status     lipgloss.Style // the bottom bar
	StatusWarn lipgloss.Style // a warning in the bottom bar (drops, paused)
	Error      lipgloss.Style // an error line
	Header     lipgloss.Style // a table's column header
	Cursor     lipgloss.Style // the row under the cursor
	Selected   lipgloss.Style // a selected row's marker
	Dim        lipgloss.Style
	Match      lipgloss.Style // a search match
	Key        lipgloss.Style // a key in the help
	Desc       lipgloss.Style // a key's description in the help
	DLQ        lipgloss.Style // a dead-letter topic or queue, a dead-letter step
	Bar        lipgloss.Style // latency and progress bars
	Input      lipgloss.Style // an input line being edited

	// Lag statuses.
	OK, Warn, Err lipgloss.Style
}

// NewStyles returns the styles, coloured or not, for a dark terminal.
func NewStyles(colour bool) Styles { return newStylesFor(colour, true) }

// newStylesFor returns the styles for a dark or a light background: text
// colours that read on black (white input, bright yellow and cyan) vanish on
// white, so a light terminal gets darker ones.
func newStylesFor(colour, dark bool) Styles {
	p := lipgloss.NewStyle()
	s := Styles{Color: colour}
	if !colour {
		for _, st := range []*lipgloss.Style{&s.Title, &s.TitleView, &s.Status, &s.StatusWarn, &s.Error, &s.Header,
			&s.Cursor, &s.Selected, &s.Dim, &s.Match, &s.Key, &s.Desc, &s.DLQ, &s.Bar, &s.Input, &s.OK, &s.Warn, &s.Err} {
			*st = p
		}
		return s
	}
	c := func(n string) color.Color { return lipgloss.Color(n) }
	s.Title = p.Foreground(c("15")).Background(c("24"))
	s.TitleView = s.Title.Bold(true)
	s.Status = p.Foreground(c("250")).Background(c("236"))
	s.StatusWarn = p.Foreground(c("0")).Background(c("214"))
	s.Error = p.Foreground(c("9"))
	s.Header = p.Bold(true).Foreground(c("252"))
	s.Cursor = p.Reverse(true)
	s.Selected = p.Foreground(c("14")).Bold(true)
	s.Dim = p.Foreground(c("244"))
	s.Match = p.Foreground(c("0")).Background(c("11"))
	s.Key = p.Foreground(c("14")).Bold(true)
	s.Desc = p.Foreground(c("250"))
	s.DLQ = p.Foreground(c("13"))
	s.Bar = p.Foreground(c("12"))
	s.Input = p.Foreground(c("15"))
	s.OK = p.Foreground(c("10"))
	s.Warn = p.Foreground(c("11"))
	s.Err = p.Foreground(c("9")).Bold(true)
	if !dark {
		s.Status = p.Foreground(c("236")).Background(c("252"))
		s.Error = p.Foreground(c("1"))
		s.Header = p.Bold(true).Foreground(c("236"))
		s.Selected = p.Foreground(c("6")).Bold(true)
		s.Dim = p.Foreground(c("242"))
		s.Key = p.Foreground(c("25")).Bold(true)
		s.Desc = p.Foreground(c("238"))
		s.DLQ = p.Foreground(c("5"))
		s.Bar = p.Foreground(c("4"))
		s.Input = p.Foreground(c("0"))
		s.OK = p.Foreground(c("2"))
		s.Warn = p.Foreground(c("130"))
		s.Err = p.Foreground(c("1")).Bold(true)
	}
	return s
}
