package file_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddy-sh/eddy/bus/file"
)

// TestSameFile: two paths name one file through a symlink or ./, and an
// absent file by its cleaned absolute path.
func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	if !file.SameFile(a, link) || !file.SameFile(a, dir+"/./a.jsonl") {
		t.Error("a file and its symlink or ./ path are one file")
	}
	if !file.SameFile(dir+"/new.jsonl", dir+"/x/../new.jsonl") || file.SameFile(a, dir+"/new.jsonl") {
		t.Error("absent files compare by cleaned path")
	}
}

// TestCheckCreatable: a directory under existing directories could be
// created (nothing is), one under a regular file could not.
func TestCheckCreatable(t *testing.T) {
	dir := t.TempDir()
	if err := file.CheckCreatable(filepath.Join(dir, "x", "y")); err != nil {
		t.Errorf("under a directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Error("CheckCreatable created something")
	}
	if err := file.CheckCreatable(filepath.Join(dir, "x", "y") + "/"); err != nil {
		t.Errorf("with a trailing slash: %v", err)
	}
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := file.CheckCreatable(filepath.Join(f, "y")); err == nil || !strings.Contains(err.Error(), "cannot create") {
		t.Errorf("under a file: %v", err)
	}
}
