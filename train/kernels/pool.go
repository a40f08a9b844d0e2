package kernels

import (
	"runtime"
	"sync/atomic"
	"time"
)

// helperSpin is how long an idle helper goroutine keeps polling for the next
// product before it parks. Waking a parked goroutine on an idle core costs
// ~100 µs on the development VM (the core must be woken by the hypervisor),
// more than a whole ResNet layer's GEMM half; a helper that is still spinning
// starts within a microsecond. Spinning yields to other goroutines
// (runtime.Gosched) so it never starves them.
const helperSpin = time.Millisecond

// gemmJob is one share of a product handed to a helper.
type gemmJob struct {
	kern           *microKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

// helper is a goroutine owned by a Gemm that runs shares of large products
// on its own packing scratch. It holds no reference to the Gemm, so an
// unreachable Gemm's helpers are stopped by a cleanup.
type helper struct {
	seq      atomic.Uint32 // jobs published by the owner
	done     atomic.Uint32 // jobs finished by the helper
	sleeping atomic.Bool
	stop     atomic.Bool
	exited   atomic.Bool   // set when loop returns (for tests)
	wake     chan struct{} // capacity 1
	job      gemmJob       // written by the owner before seq is bumped
	work     gemmWorker
}

func newHelper() *helper {
	h := &helper{wake: make(chan struct{}, 1)}
	go h.loop()
	return h
}

func (h *helper) loop() {
	defer h.exited.Store(true)
	var last uint32
	for {
		start := time.Now()
		for i := 0; h.seq.Load() == last; i++ {
			if h.stop.Load() {
				return
			}
			if i%64 != 63 {
				continue
			}
			runtime.Gosched()
			if time.Since(start) < helperSpin {
				continue
			}
			// Park. The owner bumps seq then reads sleeping; we set
			// sleeping then re-read seq: one of us sees the other.
			h.sleeping.Store(true)
			if h.seq.Load() == last && !h.stop.Load() {
				<-h.wake
			}
			h.sleeping.Store(false)
			start = time.Now()
		}
		last = h.seq.Load()
		j := &h.job
		h.work.gemm(j.kern, j.transA, j.transB, j.m, j.n, j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
		h.job = gemmJob{} // drop references to the caller's slices
		h.done.Store(last)
	}
}

// submit hands j to the helper; the caller must wait before the next submit.
func (h *helper) submit(j gemmJob) {
	h.job = j
	h.seq.Add(1)
	if h.sleeping.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// wait returns when the last submitted job is finished.
func (h *helper) wait() {
	want := h.seq.Load()
	for i := 0; h.done.Load() != want; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
}

// shutdown stops the helper goroutine (it must be idle).
func (h *helper) shutdown() {
	h.stop.Store(true)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}
