package completion

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestCandidates: transports and schemes are offered by prefix (no space
// after a scheme), names a terminal would act on are left out, a failing
// source offers nothing, and file: completes paths with / after directories.
func TestCandidates(t *testing.T) {
	ctx := context.Background()
	src := Sources{Contexts: func() ([]string, error) { return []string{"dev", "demo", "bad\x1b[2J", "prod"}, nil }}
	check := func(kind Kind, word string, want []string, wantNoSpace bool) {
		t.Helper()
		got, noSpace := Candidates(ctx, src, kind, word)
		if !slices.Equal(got, want) || noSpace != wantNoSpace {
			t.Errorf("Candidates(%d, %q) = %q, %v; want %q, %v", kind, word, got, noSpace, want, wantNoSpace)
		}
	}
	check(Contexts, "d", []string{"dev", "demo"}, false)
	check(Contexts, "b", nil, false)
	check(Transport, "a", []string{"amqp:"}, false)
	check(Addresses, "", []string{"kafka:", "amqp:", "file:"}, true)
	check(Brokers, "", []string{"kafka:", "amqp:"}, true)
	check(None, "x", nil, false)

	src.Contexts = func() ([]string, error) { return nil, errors.New("no config") }
	check(Contexts, "", nil, false)

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "caps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cap.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(Addresses, "file:"+dir+"/ca", []string{"file:" + dir + "/cap.jsonl", "file:" + dir + "/caps/"}, true)
}

// TestSubjectCandidates: a registry's subjects by prefix, names a terminal
// would act on left out; nothing when no registry is configured, when it
// fails, or when it does not answer within the completion's time bound.
func TestSubjectCandidates(t *testing.T) {
	src := Sources{Subjects: func(context.Context) ([]string, error) {
		return []string{"orders-key", "orders-value", "pay\x1b]0;x\x07-value"}, nil
	}}
	if got, noSpace := Candidates(context.Background(), src, Subjects, "orders-"); !slices.Equal(got, []string{"orders-key", "orders-value"}) || noSpace {
		t.Errorf("orders-<TAB> = %q, %v", got, noSpace)
	}
	if got, _ := Candidates(context.Background(), src, Subjects, "pay"); got != nil {
		t.Errorf("a subject with escapes was offered: %q", got)
	}
	if got, _ := Candidates(context.Background(), Sources{}, Subjects, ""); got != nil {
		t.Errorf("no registry: %q", got)
	}
	src.Subjects = func(context.Context) ([]string, error) { return nil, errors.New("denied") }
	if got, _ := Candidates(context.Background(), src, Subjects, ""); got != nil {
		t.Errorf("a failing registry: %q", got)
	}
	// A registry that ignores its context: the bound still holds.
	release := make(chan struct{})
	defer close(release)
	src.Subjects = func(context.Context) ([]string, error) { <-release; return []string{"late"}, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if got, _ := Candidates(ctx, src, Subjects, ""); got != nil {
		t.Errorf("a registry past the bound: %q", got)
	}
}
