//go:build !unix

package perf

import "time"

// cpuTime is unavailable here; the images/cpu-s metric is then omitted.
func cpuTime() time.Duration { return 0 }
