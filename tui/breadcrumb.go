package tui

import (
	"net/url"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// crumbSep joins the views of the trail in the top bar.
const crumbSep = " › "

// topBar is the first line: the trail of views that esc walks back
// (Sources › Tail kafka:orders › Event › Trace ord-1) and what the TUI is
// connected to, which stays whole however narrow the terminal: the trail
// gives up its oldest views first ("…"), then the middle of its last one.
func (m *Model) topBar(w int) string {
	st := m.c.Styles
	where := " │ " + m.where() + " "
	crumbs := make([]string, len(m.stack))
	for i, id := range m.stack {
		crumbs[i] = m.comp(id).title()
	}
	avail := w - ansi.StringWidth(" eddy ") - ansi.StringWidth("│ ") - ansi.StringWidth(where)
	trail := strings.Join(crumbs, crumbSep)
	for drop := 1; ansi.StringWidth(trail) > avail && drop < len(crumbs); drop++ {
		trail = "…" + crumbSep + strings.Join(crumbs[drop:], crumbSep)
	}
	if ansi.StringWidth(trail) > avail && len(crumbs) > 0 {
		// Not even "… › current" fits: the current view alone, cut.
		trail = fitName(crumbs[len(crumbs)-1], max(1, avail))
	}
	return st.TitleView.Render(" eddy ") + st.Title.Render("│ "+trail+where)
}

// where names what the TUI reads: the context, else the brokers it was
// pointed at (--brokers, --amqp-url, the environment), never with the
// credentials a URL may carry.
func (m *Model) where() string {
	switch {
	case m.be.Context != "":
		return "context " + safe(m.be.Context)
	case m.be.Endpoint != "":
		var parts []string
		for _, p := range strings.Split(m.be.Endpoint, ",") {
			parts = append(parts, withoutUserinfo(strings.TrimSpace(p)))
		}
		return safe(strings.Join(parts, ","))
	}
	return "no context"
}

// withoutUserinfo is s with a URL's user and password taken out
// (amqp://user:secret@host/ → amqp://host/); a string that does not parse
// loses everything up to its last '@' after the scheme, so a password with
// a character a URL must escape is not shown either.
func withoutUserinfo(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil && strings.Count(s, "@") == 1 {
		u.User = nil
		return u.String()
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		scheme = s[:i+3]
	}
	return scheme + s[at+1:]
}
