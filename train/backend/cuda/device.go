//go:build cuda || cudaemu

package cuda

import "unsafe"

// devPtr is a device address.
type devPtr uintptr

// device is what the backend needs from CUDA: memory, copies and kernel
// launches on one stream. The real implementation (tag cuda) wraps
// gorgonia.org/cu; the emulation (tag cudaemu) runs kernels.cu on the host.
// Every method panics on a CUDA error.
type device interface {
	alloc(bytes int) devPtr
	free(p devPtr)
	allocHost(bytes int) unsafe.Pointer // pinned host memory
	freeHost(p unsafe.Pointer)
	// htod, dtoh, dtod and memset32 are enqueued on the stream. dtoh from
	// pageable memory returns when the copy is done.
	htod(dst devPtr, src unsafe.Pointer, bytes int)
	dtoh(dst unsafe.Pointer, src devPtr, bytes int)
	dtod(dst, src devPtr, bytes int)
	memset32(dst devPtr, v uint32, n int)
	// launch enqueues kernel name on a gx×gy grid of block threads; every
	// argument is one 8-byte slot (see arg helpers).
	launch(name string, gx, gy, block int, args []uint64)
	// newEvent returns an event that can be recorded on the stream and waited
	// for by the host.
	newEvent() event
	sync()
	// bound runs f with the device's context current on the calling thread
	// (for cuBLAS calls).
	bound(f func())
	// stream is the CUstream handle for cuBLAS (nil: the default stream).
	stream() unsafe.Pointer
	close()
}

type event interface {
	record()
	wait()
	destroy()
}
