//go:build unix

package send

import "syscall"

// cpuTime is the process's CPU time so far (user + system), in ns: what a
// benchmark on a loaded machine can compare where wall time cannot.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
