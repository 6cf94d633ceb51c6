package docs

import "testing"

// TestManMarkdown: indented blocks become literal blocks (a blank line inside
// one does not end it), and EXIT STATUS becomes a man section.
func TestManMarkdown(t *testing.T) {
	in := "Intro.\n\n  a table\n\n  more of it\nAfter.\nEXIT STATUS\n  0 ok"
	want := "Intro.\n\n```\n  a table\n\n  more of it\n```\nAfter.\n# EXIT STATUS\n```\n  0 ok\n```\n"
	if got := manMarkdown(in); got != want {
		t.Errorf("manMarkdown:\n%q\nwant\n%q", got, want)
	}
}
