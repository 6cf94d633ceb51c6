//go:build !(linux || darwin)

package trace

import "os"

// mapCapture maps a capture where that is supported; elsewhere captures are
// read.
func mapCapture(*os.File) (mapping, bool) { return mapping{}, false }
