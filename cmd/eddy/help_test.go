package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// visibleCommands walks the tree: every command a user can see in help.
func visibleCommands(c *cobra.Command, fn func(*cobra.Command)) {
	if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.Name(), "__") {
		return
	}
	fn(c)
	for _, sub := range c.Commands() {
		visibleCommands(sub, fn)
	}
}

// TestHelpEveryCommand: every runnable command has examples and ends its
// help with EXIT STATUS; every top-level command is in a group.
func TestHelpEveryCommand(t *testing.T) {
	f, _, _ := testFactory(false)
	root := newRootCmd(f)
	visibleCommands(root, func(c *cobra.Command) {
		if c.Parent() == root && c.GroupID == "" && c.Runnable() {
			t.Errorf("%s is in no help group", c.CommandPath())
		}
		if !c.Runnable() {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples (add them to the command or to helpExamples in help.go)", c.CommandPath())
		}
		if !strings.Contains(c.Long, "EXIT STATUS") {
			t.Errorf("%s's help has no EXIT STATUS section", c.CommandPath())
		}
	})
}

// TestHelpExamplesParse: every example command names a real command and
// flags it accepts, so examples cannot rot when a flag is renamed.
func TestHelpExamplesParse(t *testing.T) {
	f, _, _ := testFactory(false)
	n := 0
	visibleCommands(newRootCmd(f), func(c *cobra.Command) {
		for _, words := range exampleCommands(c.Example) {
			n++
			// A fresh tree per line: parsing flags changes the commands.
			f, _, _ := testFactory(false)
			root := newRootCmd(f)
			cmd, rest, err := root.Find(words[1:])
			if err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), strings.Join(words, " "), err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), strings.Join(words, " "), err)
				continue
			}
			if cmd == root && len(cmd.Flags().Args()) > 0 {
				t.Errorf("%s example %q: no such command", c.CommandPath(), strings.Join(words, " "))
			}
			if cmd.Args != nil {
				if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
					t.Errorf("%s example %q: %v", c.CommandPath(), strings.Join(words, " "), err)
				}
			}
		}
	})
	if n < 30 {
		t.Errorf("only %d example commands found; is exampleCommands broken?", n)
	}
}

func TestShellWords(t *testing.T) {
	for in, want := range map[string]string{
		`eddy tail 'kafka:/.*/' --context demo`:                  `eddy|tail|kafka:/.*/|--context|demo`,
		`eddy lag -o json | jq '.groups[]'`:                      `eddy|lag|-o|json`,
		`eddy tail kafka:a --filter "x == 'y'" > out.jsonl`:      `eddy|tail|kafka:a|--filter|x == 'y'`,
		`eddy completion zsh > "${fpath[1]}/_eddy"`:              `eddy|completion|zsh`,
		`eddy expect 'A -> B within 5s' file:run.jsonl --strict`: `eddy|expect|A -> B within 5s|file:run.jsonl|--strict`,
	} {
		if got := strings.Join(shellWords(in), "|"); got != want {
			t.Errorf("shellWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// exampleCommands returns the eddy command lines of an Example block: comment
// lines dropped, and each line cut at the first unquoted shell operator.
func exampleCommands(example string) [][]string {
	var out [][]string
	for _, line := range strings.Split(example, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "source <(") {
			line = strings.TrimSuffix(strings.TrimPrefix(line, "source <("), ")")
		}
		if !strings.HasPrefix(line, "eddy ") && line != "eddy" {
			continue
		}
		out = append(out, shellWords(line))
	}
	return out
}

// shellWords splits a command line as a POSIX shell would for the simple
// cases examples use (quotes, no expansions), stopping at |, >, <, ; or &.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune("|><;&", r):
			if inWord {
				words = append(words, cur.String())
			}
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
