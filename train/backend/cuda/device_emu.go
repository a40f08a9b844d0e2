//go:build cudaemu && !cuda

package cuda

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wno-unknown-pragmas -Wno-div-by-zero
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uintptr_t emu_alloc(size_t n) { void *p = malloc(n); if (p) memset(p, 0x7f, n); return (uintptr_t)p; }
static void emu_free(uintptr_t p) { free((void *)p); }
static void emu_h2d(uintptr_t dst, const void *src, size_t n) { memcpy((void *)dst, src, n); }
static void emu_d2h(void *dst, uintptr_t src, size_t n) { memcpy(dst, (const void *)src, n); }
static void emu_d2d(uintptr_t dst, uintptr_t src, size_t n) { memmove((void *)dst, (const void *)src, n); }
static void emu_memset32(uintptr_t dst, uint32_t v, size_t n) { uint32_t *d = (uint32_t *)dst; for (size_t i = 0; i < n; i++) d[i] = v; }

int emu_launch(const char *name, int gx, int gy, int block, const uint64_t *args, int nargs);
int emu_kernel_count(void);
*/
import "C"

import (
	_ "embed"
	"fmt"
	"unsafe"
)

// kernelsSource is embedded so that the go command's build cache sees
// kernels.cu, which emu_kernels.cc #includes (the cache tracks .h files, not
// .cu): an edit to the kernels rebuilds the emulation.
//
//go:embed kernels.cu
var kernelsSource string

// emuDevice runs kernels.cu on the host (see emu_kernels.cc): device memory
// is C heap memory, every call is synchronous.
type emuDevice struct {
	// gridCap limits the grid of grid-stride kernels, so the emulation runs
	// few blocks and the stride loops are exercised.
	gridCap int
}

// gridStride are the kernels whose loops cover any grid (FOR_EACH).
var gridStride = map[string]bool{
	"splitk_reduce": true, "im2col": true, "col2im": true, "cn_to_nchw": true, "nchw_to_cn": true, "bias_rows": true, "col_sum": true,
	"bn_stats_final": true, "bn_apply": true, "bn_eval": true, "bn_bwd_final": true, "bn_bwd_dx": true,
	"relu_fwd": true, "relu_bwd": true, "add": true, "add_relu": true, "div_scalar": true, "sgd": true, "nonfinite": true,
	"maxpool_fwd": true, "maxpool_bwd": true, "gap_fwd": true, "gap_bwd": true,
}

func (d *emuDevice) alloc(bytes int) devPtr {
	p := C.emu_alloc(C.size_t(bytes)) // filled with garbage, as fresh device memory may be
	if p == 0 {
		panic(fmt.Sprintf("cuda: emulated alloc of %d bytes failed", bytes))
	}
	return devPtr(p)
}

func (d *emuDevice) free(p devPtr) { C.emu_free(C.uintptr_t(p)) }

func (d *emuDevice) allocHost(bytes int) unsafe.Pointer {
	p := C.malloc(C.size_t(bytes))
	if p == nil {
		panic(fmt.Sprintf("cuda: emulated host alloc of %d bytes failed", bytes))
	}
	return p
}

func (d *emuDevice) freeHost(p unsafe.Pointer) { C.free(p) }

func (d *emuDevice) htod(dst devPtr, src unsafe.Pointer, bytes int) {
	C.emu_h2d(C.uintptr_t(dst), src, C.size_t(bytes))
}

func (d *emuDevice) dtoh(dst unsafe.Pointer, src devPtr, bytes int) {
	C.emu_d2h(dst, C.uintptr_t(src), C.size_t(bytes))
}

func (d *emuDevice) dtod(dst, src devPtr, bytes int) {
	C.emu_d2d(C.uintptr_t(dst), C.uintptr_t(src), C.size_t(bytes))
}

func (d *emuDevice) memset32(dst devPtr, v uint32, n int) {
	C.emu_memset32(C.uintptr_t(dst), C.uint32_t(v), C.size_t(n))
}

func (d *emuDevice) launch(name string, gx, gy, blk int, args []uint64) {
	if gridStride[name] && d.gridCap > 0 {
		// the stride loops cover any grid and block size: fewer emulated
		// blocks and threads
		gx, blk = min(gx, d.gridCap), min(blk, 32)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	// args in C memory: the C++ side reads them from several threads
	cargs := (*C.uint64_t)(C.malloc(C.size_t(8 * max(len(args), 1))))
	defer C.free(unsafe.Pointer(cargs))
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(cargs)), len(args)), args)
	switch rc := C.emu_launch(cname, C.int(gx), C.int(gy), C.int(blk), cargs, C.int(len(args))); rc {
	case 0:
	case -1:
		panic(fmt.Sprintf("cuda: emulated launch: no kernel %q", name))
	case -2:
		panic(fmt.Sprintf("cuda: emulated launch: kernel %q called with %d arguments, which is not its parameter count", name, len(args)))
	default:
		panic(fmt.Sprintf("cuda: emulated launch %q: code %d", name, int(rc)))
	}
}

type emuEvent struct{}

func (emuEvent) record()  {}
func (emuEvent) wait()    {}
func (emuEvent) destroy() {}

func (d *emuDevice) newEvent() event        { return emuEvent{} }
func (d *emuDevice) sync()                  {}
func (d *emuDevice) bound(f func())         { f() }
func (d *emuDevice) stream() unsafe.Pointer { return nil }
func (d *emuDevice) close()                 {}

// newEmu returns a Backend on the emulated device (tests).
func newEmu(opts Options, gridCap int) (*Backend, error) {
	if err := checkPrecision(opts.Precision); err != nil {
		return nil, err
	}
	d := &emuDevice{gridCap: gridCap}
	g, name, err := selectGemm(d, opts)
	if err != nil {
		return nil, err
	}
	return newBackend(d, g, name), nil
}

func emuKernelCount() int { return int(C.emu_kernel_count()) }
