//go:build noasm || !amd64

package kernels

// bestKernel is the pure-Go micro-kernel: this build has no assembly.
func bestKernel() *microKernel { return goKernel }

// availableKernels lists the micro-kernels this build and CPU can run.
func availableKernels() []*microKernel { return []*microKernel{goKernel} }
