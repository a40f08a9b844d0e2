//go:build !unix

package augment

import "time"

// cpuTime is unavailable here; benchmarks then omit the per-CPU-second rate.
func cpuTime() time.Duration { return 0 }
