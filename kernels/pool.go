package kernels

import (
	"runtime"
	"sync/atomic"
	"time"
)

// helperSpin is how long an idle helper goroutine keeps polling for the next
// job before it parks. Waking a parked goroutine on an idle core costs
// ~100 µs on the development VM (the core must be woken by the hypervisor),
// more than a whole ResNet layer's GEMM half; a helper that is still polling
// starts within a microsecond. Polling yields to other goroutines
// (runtime.Gosched) so it never starves them.
const helperSpin = time.Millisecond

// ownerSpin is how many polls the submitting goroutine makes for a running
// helper job before it blocks (when the machine is oversubscribed the helper's
// thread may be descheduled, and spinning would only steal its CPU).
const ownerSpin = 1 << 12

// gemmJob is one share of a product handed to a helper.
type gemmJob struct {
	kern           *microKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

// helper is a goroutine owned by a Gemm or Team that runs one job at a time.
// It holds no reference to its owner, so an unreachable owner's helpers are
// stopped by a cleanup.
//
// Protocol: the owner writes the job, stores its sequence number s in
// pending, then in seq. Whoever swaps pending from s to 0 runs job s: the
// helper when it sees seq change, or the owner after its own share when the
// helper has not started (descheduled, parked), so a late helper never
// delays the owner. The helper stores s in done when it ran job s.
type helper struct {
	seq      atomic.Uint32 // last job published
	pending  atomic.Uint32 // sequence number of the unclaimed job, 0 if none
	done     atomic.Uint32 // last job the helper finished
	sleeping atomic.Bool   // helper is (about to be) parked on wake
	waiting  atomic.Bool   // owner is (about to be) blocked on finished
	stop     atomic.Bool
	exited   atomic.Bool   // set when loop returns (for tests)
	wake     chan struct{} // capacity 1
	finished chan struct{} // capacity 1
	job      gemmJob       // written by the owner before pending is set
	fn       func(int)     // a Team task (instead of job) and its argument
	arg      int
	work     gemmWorker
}

func newHelper() *helper {
	h := &helper{wake: make(chan struct{}, 1), finished: make(chan struct{}, 1)}
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
			// Park. The owner stores seq then reads sleeping; we store
			// sleeping then re-read seq: one of us sees the other.
			h.sleeping.Store(true)
			if h.seq.Load() == last && !h.stop.Load() {
				<-h.wake
			}
			h.sleeping.Store(false)
			start = time.Now()
		}
		last = h.seq.Load()
		if !h.pending.CompareAndSwap(last, 0) {
			continue // the owner took it
		}
		h.run(&h.work)
		h.done.Store(last)
		if h.waiting.Load() {
			select {
			case h.finished <- struct{}{}:
			default:
			}
		}
	}
}

// run executes the current job on scratch w.
func (h *helper) run(w *gemmWorker) {
	if h.fn != nil {
		h.fn(h.arg)
		h.fn = nil
		return
	}
	j := &h.job
	w.gemm(j.kern, j.transA, j.transB, j.m, j.n, j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
	h.job = gemmJob{} // drop references to the caller's slices
}

// submit hands j to the helper; the owner must call finish before the next submit.
func (h *helper) submit(j gemmJob) {
	h.job = j
	h.publish()
}

// submitFunc hands fn(arg) to the helper; the owner must call finish before
// the next submit.
func (h *helper) submitFunc(fn func(int), arg int) {
	h.fn, h.arg = fn, arg
	h.publish()
}

func (h *helper) publish() {
	s := h.seq.Load() + 1
	if s == 0 {
		s = 1 // 0 means "none" in pending
	}
	h.pending.Store(s)
	h.seq.Store(s)
	if h.sleeping.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// finish returns when the last submitted job has run: on the calling
// goroutine (with scratch w) if the helper has not claimed it yet, else by
// waiting for the helper.
func (h *helper) finish(w *gemmWorker) {
	s := h.seq.Load()
	if h.pending.CompareAndSwap(s, 0) {
		h.run(w)
		return
	}
	for i := 0; i < ownerSpin; i++ {
		if h.done.Load() == s {
			return
		}
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	h.waiting.Store(true)
	for h.done.Load() != s {
		<-h.finished // a stale token only costs one more check
	}
	h.waiting.Store(false)
}

// shutdown stops the helper goroutine (it must be idle).
func (h *helper) shutdown() {
	h.stop.Store(true)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Team is a fixed set of goroutines for parallel loops with a start latency of
// about a microsecond: its helpers keep polling for work for a millisecond
// after each loop (see helperSpin) instead of parking at once, which is what
// makes splitting 20–200 µs operations worthwhile on this kind of VM. Like a
// Gemm it must be used by one goroutine at a time; Close stops the helpers
// (an unreachable Team is stopped by a cleanup).
type Team struct {
	threads int
	helpers []*helper // threads-1, started by the first parallel loop
}

// NewTeam returns a team of threads goroutines (the caller's plus threads-1
// helpers; threads < 1 means 1).
func NewTeam(threads int) *Team { return &Team{threads: max(threads, 1)} }

// Threads reports the number of goroutines a loop may use.
func (t *Team) Threads() int { return t.threads }

// For splits [0, n) into at most Threads() contiguous ranges of at least
// grain items (grain < 1 means 1) and runs fn(w, lo, hi) on each; the last
// range runs on the calling goroutine, the others on helpers, or on the
// calling goroutine too when a helper has not started its range by then (so
// the ranges must not wait for each other). w identifies the range (use it to
// index per-worker scratch). It returns when all have finished. With one
// range it just calls fn(0, 0, n).
func (t *Team) For(n, grain int, fn func(w, lo, hi int)) {
	parts := min(t.threads, n/max(grain, 1))
	parts = max(1, min(parts, n))
	if parts == 1 {
		fn(0, 0, n)
		return
	}
	t.Run(parts, func(w int) {
		lo, hi := split(n, parts, w)
		fn(w, lo, hi)
	})
}

// Run calls fn(w) for every w < parts (parts ≤ Threads()), fn(parts-1) on the
// calling goroutine and the others as For does, and returns when all calls
// have returned.
func (t *Team) Run(parts int, fn func(w int)) {
	if parts < 1 || parts > t.threads {
		panic("kernels: Team.Run: parts out of range")
	}
	if parts == 1 {
		fn(0)
		return
	}
	if t.helpers == nil {
		t.helpers = startHelpers(t, t.threads-1)
	}
	for w := range parts - 1 {
		t.helpers[w].submitFunc(fn, w)
	}
	fn(parts - 1)
	for _, h := range t.helpers[:parts-1] {
		h.finish(nil)
	}
}

// Close stops the team's helpers; later loops run on the calling goroutine.
func (t *Team) Close() {
	for _, h := range t.helpers {
		h.shutdown()
	}
	t.helpers = nil
	t.threads = 1
}

// startHelpers starts n helpers whose goroutines are stopped by a cleanup
// once owner is unreachable.
func startHelpers[T any](owner *T, n int) []*helper {
	hs := make([]*helper, n)
	for i := range hs {
		hs[i] = newHelper()
	}
	runtime.AddCleanup(owner, func(hs []*helper) {
		for _, h := range hs {
			h.shutdown()
		}
	}, hs)
	return hs
}
