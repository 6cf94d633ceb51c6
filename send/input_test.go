package send

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestSendLinesInput reads lines as kcat -P does, whatever sizes the reader
// returns them in: each item's bytes are its line's and stay so while later
// lines are read (they are sent later), across the slabs lines are read
// into, for lines longer than a slab too.
func TestSendLinesInput(t *testing.T) {
	long := strings.Repeat("x", 3*lineSlab+17)
	var want []string
	var in strings.Builder
	for i := range 30000 {
		l := strings.Repeat(string(rune('a'+i%26)), 1+i%300)
		if i == 20000 {
			l = long
		}
		if i%1000 == 999 {
			in.WriteString("\n") // an empty line: skipped
		}
		in.WriteString(l + "\n")
		want = append(want, l)
	}
	in.WriteString("last") // no "\n" at the end
	want = append(want, "last")
	for name, r := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(in.String()) },
		"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in.String())) },
		"halves":   func() io.Reader { return iotest.HalfReader(strings.NewReader(in.String())) },
	} {
		t.Run(name, func(t *testing.T) {
			l := Lines(r(), "in", nil, nil)
			var got [][]byte
			for {
				it, err := l.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, it.Value)
			}
			if len(got) != len(want) {
				t.Fatalf("%d lines, want %d", len(got), len(want))
			}
			for i := range want {
				if string(got[i]) != want[i] {
					t.Fatalf("line %d: %.40q (%d B), want %.40q (%d B)", i, got[i], len(got[i]), want[i], len(want[i]))
				}
			}
		})
	}
}

// TestSendLinesKeysAndPositions: a key delimiter splits a line, a line
// without it is a value, and an item says which line of what it is (empty
// lines counted).
func TestSendLinesKeysAndPositions(t *testing.T) {
	l := Lines(strings.NewReader("k1:v1\n\nv2\nk3::v3\n"), "stdin", []byte(":"), nil)
	for _, w := range []struct{ key, value, pos string }{
		{"k1", "v1", "stdin line 1"}, {"", "v2", "stdin line 3"}, {"k3", ":v3", "stdin line 4"},
	} {
		it, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if string(it.Key) != w.key || string(it.Value) != w.value || it.Position() != w.pos {
			t.Fatalf("key %q value %q at %q, want %q %q at %q", it.Key, it.Value, it.Position(), w.key, w.value, w.pos)
		}
	}
	if _, err := l.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v, want EOF", err)
	}
	if got := (&Item{Where: "order.json"}).Position(); got != "order.json" {
		t.Fatalf("a file's position: %q", got)
	}
}

// TestSendLinesReadError: the whole lines read before a read error are
// items; then the error, saying what was read, and not the cut line.
func TestSendLinesReadError(t *testing.T) {
	boom := errors.New("boom")
	l := Lines(io.MultiReader(strings.NewReader("a\nb\ncut"), iotest.ErrReader(boom)), "orders.txt", nil, nil)
	var got []string
	var err error
	for {
		var it *Item
		if it, err = l.Next(context.Background()); err != nil {
			break
		}
		got = append(got, string(it.Value))
	}
	if strings.Join(got, ",") != "a,b" || !errors.Is(err, boom) || !strings.Contains(err.Error(), "reading orders.txt") {
		t.Fatalf("lines %q, error %v; want a,b then reading orders.txt: boom", got, err)
	}
}
