//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static int t2f_mem_alloc_host(void **p, size_t n) { return (int)cuMemAllocHost(p, n); }
*/
import "C"

import (
	_ "embed"
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
)

//go:embed kernels.ptx
var kernelsPTX string

// cuDevice is the device on gorgonia.org/cu: the primary context of one GPU,
// a non-blocking stream and the functions of the embedded PTX module.
type cuDevice struct {
	ord    int
	ctx    cu.CUContext
	dev    cu.Device
	strm   cu.Stream
	mod    cu.Module
	fns    map[string]cu.Function
	params []unsafe.Pointer // reused launch parameter pointers
	slots  []uint64
}

func check(op string, err error) {
	if err != nil {
		panic(fmt.Sprintf("cuda: %s: %v", op, err))
	}
}

func openDevice(ordinal int) (d *cuDevice, err error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: count devices: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d, but %d device(s) are present", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: primary context: %w", ordinal, err)
	}
	d = &cuDevice{ord: ordinal, ctx: ctx, dev: dev, fns: map[string]cu.Function{}}
	d.bind()
	defer runtime.UnlockOSThread()
	if d.strm, err = cu.MakeStream(cu.NonBlocking); err != nil {
		_ = dev.ReleasePrimaryCtx()
		return nil, fmt.Errorf("cuda: create stream: %w", err)
	}
	if d.mod, err = cu.LoadData(kernelsPTX); err != nil {
		_ = d.strm.Destroy()
		_ = dev.ReleasePrimaryCtx()
		return nil, fmt.Errorf("cuda: load the embedded PTX (driver JIT): %w", err)
	}
	return d, nil
}

// bind locks the goroutine to its thread and makes the context current
// there; the caller unlocks (every method does, so a Backend may be used from
// any goroutine, one at a time).
func (d *cuDevice) bind() {
	runtime.LockOSThread()
	check("set context", cu.SetCurrentContext(d.ctx))
}

func (d *cuDevice) fn(name string) cu.Function {
	f, ok := d.fns[name]
	if !ok {
		var err error
		f, err = d.mod.Function(name)
		check("kernel "+name, err)
		d.fns[name] = f
	}
	return f
}

func (d *cuDevice) alloc(bytes int) devPtr {
	d.bind()
	defer runtime.UnlockOSThread()
	p, err := cu.MemAlloc(int64(bytes))
	check(fmt.Sprintf("alloc %d bytes", bytes), err)
	return devPtr(p)
}

func (d *cuDevice) free(p devPtr) {
	d.bind()
	defer runtime.UnlockOSThread()
	check("free", cu.MemFree(cu.DevicePtr(p)))
}

func (d *cuDevice) allocHost(bytes int) unsafe.Pointer {
	d.bind()
	defer runtime.UnlockOSThread()
	var p unsafe.Pointer
	if r := C.t2f_mem_alloc_host(&p, C.size_t(bytes)); r != 0 {
		panic(fmt.Sprintf("cuda: cuMemAllocHost %d bytes: CUresult %d", bytes, int(r)))
	}
	return p
}

func (d *cuDevice) freeHost(p unsafe.Pointer) {
	d.bind()
	defer runtime.UnlockOSThread()
	check("free host", cu.MemFreeHost(p))
}

func (d *cuDevice) htod(dst devPtr, src unsafe.Pointer, bytes int) {
	d.bind()
	defer runtime.UnlockOSThread()
	check("copy to device", cu.MemcpyHtoDAsync(cu.DevicePtr(dst), src, int64(bytes), d.strm))
}

func (d *cuDevice) dtoh(dst unsafe.Pointer, src devPtr, bytes int) {
	d.bind()
	defer runtime.UnlockOSThread()
	check("copy to host", cu.MemcpyDtoHAsync(dst, cu.DevicePtr(src), int64(bytes), d.strm))
}

func (d *cuDevice) dtod(dst, src devPtr, bytes int) {
	d.bind()
	defer runtime.UnlockOSThread()
	check("copy on device", cu.MemcpyDtoDAsync(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes), d.strm))
}

func (d *cuDevice) memset32(dst devPtr, v uint32, n int) {
	d.bind()
	defer runtime.UnlockOSThread()
	check("memset", cu.MemsetD32Async(cu.DevicePtr(dst), uint(v), int64(n), d.strm))
}

func (d *cuDevice) launch(name string, gx, gy, blk int, args []uint64) {
	d.bind()
	defer runtime.UnlockOSThread()
	f := d.fn(name)
	// cu.Function.Launch reads 8 bytes through each parameter pointer and
	// copies them to C memory before the call.
	d.slots = append(d.slots[:0], args...)
	d.params = d.params[:0]
	for i := range d.slots {
		d.params = append(d.params, unsafe.Pointer(&d.slots[i]))
	}
	check("launch "+name, f.Launch(gx, gy, 1, blk, 1, 1, 0, d.strm, d.params))
}

type cuEvent struct {
	d  *cuDevice
	ev cu.Event
}

func (d *cuDevice) newEvent() event {
	d.bind()
	defer runtime.UnlockOSThread()
	ev, err := cu.MakeEvent(cu.DisableTiming)
	check("create event", err)
	return &cuEvent{d, ev}
}

func (e *cuEvent) record() {
	e.d.bind()
	defer runtime.UnlockOSThread()
	check("record event", e.ev.Record(e.d.strm))
}

func (e *cuEvent) wait() {
	e.d.bind()
	defer runtime.UnlockOSThread()
	check("wait for event", e.ev.Synchronize())
}

func (e *cuEvent) destroy() {
	e.d.bind()
	defer runtime.UnlockOSThread()
	_ = cu.DestroyEvent(&e.ev)
}

func (d *cuDevice) sync() {
	d.bind()
	defer runtime.UnlockOSThread()
	check("synchronize", d.strm.Synchronize())
}

func (d *cuDevice) bound(f func()) {
	d.bind()
	defer runtime.UnlockOSThread()
	f()
}

func (d *cuDevice) stream() unsafe.Pointer { return unsafe.Pointer(d.strm.C()) }

func (d *cuDevice) close() {
	d.bind()
	defer runtime.UnlockOSThread()
	_ = d.mod.Unload()
	_ = d.strm.Destroy()
	_ = d.dev.ReleasePrimaryCtx()
}

// New opens GPU opts.Device (its primary context), loads the embedded PTX and
// picks the GEMM (see Options). A cuda-tagged binary only starts on a machine
// with a GPU, so New's errors are about the device, the PTX JIT and cuBLAS.
func New(opts Options) (*Backend, error) {
	if err := checkPrecision(opts.Precision); err != nil {
		return nil, err
	}
	d, err := openDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	d.bind()
	g, name, err := selectGemm(d, opts) // cuBLAS handle made with the context current
	runtime.UnlockOSThread()
	if err != nil {
		d.close()
		return nil, err
	}
	return newBackend(d, g, name), nil
}

// DeviceName describes the GPU of device ordinal (e.g. "NVIDIA H100 80GB HBM3
// (sm_90, 79.2 GiB)").
func DeviceName(ordinal int) (string, error) {
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return "", fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	name, err := dev.Name()
	if err != nil {
		return "", fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	major, _ := dev.Attribute(cu.ComputeCapabilityMajor)
	minor, _ := dev.Attribute(cu.ComputeCapabilityMinor)
	mem, _ := dev.TotalMem()
	return fmt.Sprintf("%s (sm_%d%d, %.1f GiB, driver API %d)", name, major, minor, float64(mem)/(1<<30), cu.Version()), nil
}
