//go:build linux || darwin

package trace

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mapCapture maps the rest of f, from its offset to its size, read-only:
// workers then decode the page cache in place instead of a copy of it that
// one goroutine read(2) in, which on two cores was a tenth of the time of
// a large capture. ok is false when f cannot be mapped (not a regular file,
// empty, a file system that refuses): it is then read as any reader.
func mapCapture(f *os.File) (m mapping, ok bool) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return m, false
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil || off >= st.Size() {
		return m, false
	}
	// The mapping starts at a page boundary.
	base := off &^ int64(os.Getpagesize()-1)
	size := st.Size() - base
	if int64(int(size)) != size {
		return m, false
	}
	all, err := unix.Mmap(int(f.Fd()), base, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return m, false
	}
	// Read once, front to back: the kernel may read ahead further and drop
	// pages behind.
	_ = unix.Madvise(all, unix.MADV_SEQUENTIAL)
	return mapping{data: all[off-base:], off: off, unmap: func() { _ = unix.Munmap(all) }}, true
}
