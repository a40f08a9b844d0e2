//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cuda/cublasload"
)

// GEMM paths (Options.GEMM).
const (
	GEMMAuto   = "auto"   // cuBLAS when one is found, else the PTX SGEMM
	GEMMCublas = "cublas" // cuBLAS or an error from New
	GEMMPTX    = "ptx"    // the embedded PTX SGEMM
)

// Options configure New.
type Options struct {
	Device int    // CUDA device ordinal (default 0)
	GEMM   string // GEMMAuto (default ""), GEMMCublas or GEMMPTX
	// Cublas says where to look for libcublas (an explicit file, or the
	// directories of LD_LIBRARY_PATH); see package cublasload.
	Cublas cublasload.Config
	// Precision of the convolutions and linear layers ("" is fp32).
	Precision backend.Precision
}

// Buffer is the storage of a CUDA tensor: a device allocation of n float32.
type Buffer struct {
	ptr   devPtr
	n     int
	freed bool
}

// Backend runs every op on one GPU stream. It is not safe for concurrent use.
type Backend struct {
	dev      device
	gemmImpl gemmer
	gemmName string
	colLimit int // floats per convolution chunk (tests lower it)

	// scratch, grown on demand and reused between ops (stream order makes
	// the reuse safe)
	col, col2 scratch // im2col columns / GEMM outputs
	part      scratch // per-block partial sums (double)
	coef      scratch // per-channel coefficients
	labels    scratch // int32 labels
	losses    scratch // per-row losses (double)
	flag      scratch // the NonFinite flag

	staging [2]stagingBuf // pinned upload buffers, used in turn
	next    int
	pinned  []pinnedBlock
	hostF64 []float64
}

type stagingBuf struct {
	p     unsafe.Pointer
	bytes int
	done  event // recorded after the copy out of p
	used  bool
}

type pinnedBlock struct {
	p     unsafe.Pointer
	bytes int
}

type scratch struct {
	p     devPtr
	bytes int
}

var _ backend.Backend = (*Backend)(nil)

func newBackend(dev device, gemm gemmer, gemmName string) *Backend {
	return &Backend{dev: dev, gemmImpl: gemm, gemmName: gemmName, colLimit: defaultColLimit}
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Precision is the arithmetic of the convolutions and linear layers.
func (b *Backend) Precision() backend.Precision {
	if g, ok := b.gemmImpl.(*cublasGemm); ok && g.bf16 {
		return backend.BF16
	}
	return backend.FP32
}

// GEMMPath describes the GEMM in use: "cublas <file>" or "ptx".
func (b *Backend) GEMMPath() string { return b.gemmName }

// Synchronize waits until every enqueued op has finished.
func (b *Backend) Synchronize() { b.dev.sync() }

// Close waits for the stream and releases the scratch, staging and pinned
// buffers, cuBLAS and the stream. Tensors must be freed before (or are lost
// with the context).
func (b *Backend) Close() error {
	b.dev.sync()
	for _, s := range []*scratch{&b.col, &b.col2, &b.part, &b.coef, &b.labels, &b.losses, &b.flag} {
		if s.p != 0 {
			b.dev.free(s.p)
		}
		*s = scratch{}
	}
	for i := range b.staging {
		if b.staging[i].p != nil {
			b.dev.freeHost(b.staging[i].p)
		}
		if b.staging[i].done != nil {
			b.staging[i].done.destroy()
		}
		b.staging[i] = stagingBuf{}
	}
	for _, p := range b.pinned {
		b.dev.freeHost(p.p)
	}
	b.pinned = nil
	if c, ok := b.gemmImpl.(interface{ close() }); ok {
		c.close()
	}
	b.dev.close()
	return nil
}

// ensure returns s grown to at least bytes.
func (b *Backend) ensure(s *scratch, bytes int) devPtr {
	if bytes <= s.bytes {
		return s.p
	}
	if s.p != 0 {
		b.dev.sync() // queued kernels may still read it
		b.dev.free(s.p)
	}
	bytes = max(bytes, 256)
	s.p, s.bytes = b.dev.alloc(bytes), bytes
	return s.p
}

func buf(t *backend.Tensor) *Buffer {
	d, ok := t.Storage().(*Buffer)
	if !ok {
		panic(fmt.Sprintf("cuda: tensor %v is not a cuda tensor (storage %T)", t.Shape(), t.Storage()))
	}
	if d.freed {
		panic(fmt.Sprintf("cuda: tensor %v used after Free", t.Shape()))
	}
	return d
}

func ptr(t *backend.Tensor) devPtr { return buf(t).ptr }

// optPtr is ptr(t), or 0 for a nil tensor.
func optPtr(t *backend.Tensor) devPtr {
	if t == nil {
		return 0
	}
	return ptr(t)
}

// Launch argument slots: cu copies 8 bytes per parameter, so each int32,
// float32 and pointer is widened into its own uint64.
func ai(v int) uint64 {
	if v < math.MinInt32 || v > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: kernel argument %d does not fit int32", v))
	}
	return uint64(uint32(int32(v)))
}
func af(v float32) uint64 { return uint64(math.Float32bits(v)) }
func ap(p devPtr) uint64  { return uint64(p) }
func ab(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

const (
	block     = 256 // threads per block of the elementwise kernels
	rblock    = 256 // RBLOCK in kernels.cu
	maxGrid   = 65535
	maxLaunch = math.MaxInt32 // elements of one launch (int indices)
)

// grid1 is the grid of a grid-stride kernel over n elements.
func grid1(n int) int {
	if n > maxLaunch {
		panic(fmt.Sprintf("cuda: %d elements in one launch", n))
	}
	return max(1, min((n+block-1)/block, maxGrid))
}

// each launches a grid-stride kernel over n elements (nothing for n == 0).
func (b *Backend) each(name string, n int, args ...uint64) { launchEach(b.dev, name, n, args...) }

func launchEach(dev device, name string, n int, args ...uint64) {
	if n == 0 {
		return
	}
	dev.launch(name, grid1(n), 1, block, args)
}

// Alloc returns a zero-filled device tensor.
func (b *Backend) Alloc(shape ...int) *backend.Tensor {
	s := backend.Shape(shape)
	for _, d := range s {
		if d < 0 {
			panic(fmt.Sprintf("cuda: alloc: negative extent in %v", s))
		}
	}
	n := s.Numel()
	d := &Buffer{n: n}
	if n > 0 {
		d.ptr = b.dev.alloc(4 * n)
		b.dev.memset32(d.ptr, 0, n)
	}
	return backend.NewTensor(s, d)
}

// Free releases t's device memory after the stream has finished with it.
func (b *Backend) Free(t *backend.Tensor) {
	d := buf(t)
	if d.ptr != 0 {
		b.dev.sync()
		b.dev.free(d.ptr)
	}
	d.freed, d.ptr = true, 0
}

// Upload copies src into dst: src is copied into a pinned staging buffer (or
// used directly when it came from PinnedAlloc) and the device copy is
// enqueued; Upload returns before the copy has finished.
func (b *Backend) Upload(dst *backend.Tensor, src []float32) {
	d := buf(dst)
	if len(src) != d.n {
		panic(fmt.Sprintf("cuda: upload: %d values into tensor %v", len(src), dst.Shape()))
	}
	if d.n == 0 {
		return
	}
	bytes := 4 * d.n
	if b.isPinned(src) {
		b.dev.htod(d.ptr, unsafe.Pointer(&src[0]), bytes) // read asynchronously; see PinnedAlloc
		return
	}
	s := &b.staging[b.next]
	b.next = (b.next + 1) % len(b.staging)
	if s.used {
		s.done.wait() // the copy from this buffer two uploads ago
	}
	if s.bytes < bytes {
		if s.p != nil {
			b.dev.freeHost(s.p)
		}
		s.p, s.bytes = b.dev.allocHost(bytes), bytes
		if s.done == nil {
			s.done = b.dev.newEvent()
		}
	}
	copy(unsafe.Slice((*float32)(s.p), d.n), src)
	b.dev.htod(d.ptr, s.p, bytes)
	s.done.record()
	s.used = true
}

// PinnedAlloc returns n float32 of page-locked host memory owned by the
// backend (released by Close). An Upload from it enqueues the device copy
// straight from this memory, without the staging copy, so the caller must
// not change the uploaded values before the next call that waits for the
// stream (Download, SoftmaxCrossEntropy, NonFinite, Synchronize).
func (b *Backend) PinnedAlloc(n int) []float32 {
	if n <= 0 {
		return nil
	}
	p := b.dev.allocHost(4 * n)
	b.pinned = append(b.pinned, pinnedBlock{p, 4 * n})
	return unsafe.Slice((*float32)(p), n)
}

func (b *Backend) isPinned(s []float32) bool {
	if len(b.pinned) == 0 || len(s) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(&s[0]))
	hi := lo + 4*uintptr(len(s))
	for _, p := range b.pinned {
		if base := uintptr(p.p); lo >= base && hi <= base+uintptr(p.bytes) {
			return true
		}
	}
	return false
}

// Download copies src into dst, waiting for the stream.
func (b *Backend) Download(dst []float32, src *backend.Tensor) {
	d := buf(src)
	if len(dst) != d.n {
		panic(fmt.Sprintf("cuda: download: tensor %v into %d values", src.Shape(), len(dst)))
	}
	if d.n == 0 {
		return
	}
	b.dev.dtoh(unsafe.Pointer(&dst[0]), d.ptr, 4*d.n)
	b.dev.sync()
}

// Fill sets every element to v.
func (b *Backend) Fill(t *backend.Tensor, v float32) {
	d := buf(t)
	if d.n > 0 {
		b.dev.memset32(d.ptr, math.Float32bits(v), d.n)
	}
}

// Copy copies src into dst (same element count).
func (b *Backend) Copy(dst, src *backend.Tensor) {
	mustNumel("copy", dst, src)
	if n := dst.Numel(); n > 0 {
		b.dev.dtod(ptr(dst), ptr(src), 4*n)
	}
}

func mustShape(op string, t *backend.Tensor, want ...int) {
	if !t.Shape().Equal(want) {
		panic(fmt.Sprintf("cuda: %s: tensor %v, want %v", op, t.Shape(), backend.Shape(want)))
	}
}

func mustNumel(op string, a, c *backend.Tensor) {
	if a.Numel() != c.Numel() {
		panic(fmt.Sprintf("cuda: %s: tensors %v and %v differ in size", op, a.Shape(), c.Shape()))
	}
}

func dims4(op string, t *backend.Tensor) (int, int, int, int) {
	s := t.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("cuda: %s: tensor %v, want 4-D (N,C,H,W)", op, s))
	}
	return s[0], s[1], s[2], s[3]
}

func dims2(op string, t *backend.Tensor) (int, int) {
	s := t.Shape()
	if len(s) != 2 {
		panic(fmt.Sprintf("cuda: %s: tensor %v, want 2-D", op, s))
	}
	return s[0], s[1]
}
