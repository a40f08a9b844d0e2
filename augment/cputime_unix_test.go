//go:build unix

package augment

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used, all
// threads together. Benchmarks divide work by it to get a per-core rate that
// other jobs on a shared machine distort less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
