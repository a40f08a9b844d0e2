//go:build cudaemu && !cuda

// CPU emulation of kernels.cu for the cudaemu test build: the CUDA source is
// compiled as C++ with the few CUDA built-ins it uses defined here. A launch
// runs each block in turn; the block's threads are coroutines (ucontext) on
// one OS thread, run round-robin: each runs until it reaches __syncthreads
// (or returns), and none passes a barrier before every thread of the block
// has reached it. __shared__ arrays are statics (one block runs at a time).
// Meant for the conformance suite on machines without a GPU.

#pragma GCC optimize("fp-contract=off")
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <algorithm>
#include <utility>

struct emu_uint3 {
	unsigned x, y, z;
};
static emu_uint3 threadIdx, blockIdx; // of the coroutine running now
static emu_uint3 blockDim, gridDim;
static ucontext_t emu_sched;          // the scheduler's context
static ucontext_t *emu_fibers;        // one per thread of the block

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
#define __restrict__ __restrict

// __syncthreads yields to the scheduler, which resumes this thread after
// every other thread of the block has reached the barrier too.
static inline void __syncthreads() { swapcontext(&emu_fibers[threadIdx.x], &emu_sched); }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline unsigned __float_as_uint(float f) {
	unsigned u;
	memcpy(&u, &f, 4);
	return u;
}
using std::max;
using std::min;

#include "kernels.cu"

template <typename T>
static T unpack(uint64_t v) {
	if constexpr (std::is_pointer_v<T>) {
		return (T)(uintptr_t)v;
	} else if constexpr (std::is_same_v<T, float>) {
		uint32_t u = (uint32_t)v;
		float f;
		memcpy(&f, &u, 4);
		return f;
	} else {
		static_assert(std::is_same_v<T, int>);
		return (int)(int32_t)(uint32_t)v;
	}
}

template <typename... A, size_t... I>
static void callWith(void (*f)(A...), const uint64_t *a, std::index_sequence<I...>) {
	f(unpack<A>(a[I])...);
}

template <typename... A>
static constexpr int arity(void (*)(A...)) {
	return sizeof...(A);
}

struct emu_kernel {
	const char *name;
	int nargs;
	void (*run)(const uint64_t *);
};

#define K(fn) \
	{ #fn, arity(fn), [](const uint64_t *a) { callWith(fn, a, std::make_index_sequence<arity(fn)>{}); } }

static const emu_kernel kernels[] = {
	K(sgemm_nn), K(sgemm_nt), K(sgemm_tn), K(sgemm_tt), K(splitk_reduce),
	K(im2col), K(col2im), K(cn_to_nchw), K(nchw_to_cn), K(channel_sum),
	K(bias_rows), K(col_sum),
	K(bn_stats_partial), K(bn_stats_final), K(bn_apply), K(bn_eval),
	K(bn_bwd_partial), K(bn_bwd_final), K(bn_bwd_dx),
	K(relu_fwd), K(relu_bwd), K(add), K(add_relu), K(div_scalar), K(sgd), K(nonfinite),
	K(maxpool_fwd), K(maxpool_bwd), K(gap_fwd), K(gap_bwd),
	K(rownorm_fwd), K(rownorm_bwd), K(softmax_ce),
};

static const emu_kernel *emu_cur;
static const uint64_t *emu_args;
static bool *emu_done;

static void emu_entry(void) {
	emu_cur->run(emu_args);
	emu_done[threadIdx.x] = true; // uc_link returns to the scheduler
}

extern "C" {

// emu_kernel_count returns the number of kernels (for the Go test that
// checks kernels.cu and this table agree).
int emu_kernel_count(void) { return (int)(sizeof(kernels) / sizeof(kernels[0])); }

// emu_launch runs kernel name synchronously. Returns 0, or -1 for an unknown
// kernel, -2 for an argument count that differs from the kernel's, -3 when out of
// memory.
int emu_launch(const char *name, int gx, int gy, int block, const uint64_t *args, int nargs) {
	const emu_kernel *k = nullptr;
	for (const emu_kernel &c : kernels) {
		if (strcmp(c.name, name) == 0) k = &c;
	}
	if (!k) return -1;
	if (k->nargs != nargs) return -2;
	gridDim = {(unsigned)gx, (unsigned)gy, 1};
	blockDim = {(unsigned)block, 1, 1};
	const size_t stackSize = 1 << 16;
	char *stacks = (char *)malloc(stackSize * block);
	if (!stacks) return -3;
	emu_fibers = new ucontext_t[block];
	emu_done = new bool[block];
	emu_cur = k;
	emu_args = args;
	for (unsigned by = 0; by < gridDim.y; by++) {
		for (unsigned bx = 0; bx < gridDim.x; bx++) {
			blockIdx = {bx, by, 0};
			for (int t = 0; t < block; t++) {
				getcontext(&emu_fibers[t]);
				emu_fibers[t].uc_stack.ss_sp = stacks + stackSize * t;
				emu_fibers[t].uc_stack.ss_size = stackSize;
				emu_fibers[t].uc_link = &emu_sched;
				makecontext(&emu_fibers[t], emu_entry, 0);
				emu_done[t] = false;
			}
			// rounds: every unfinished thread runs to its next barrier or its end
			for (int live = block; live > 0;) {
				live = 0;
				for (int t = 0; t < block; t++) {
					if (emu_done[t]) continue;
					threadIdx = {(unsigned)t, 0, 0};
					swapcontext(&emu_sched, &emu_fibers[t]);
					if (!emu_done[t]) live++;
				}
			}
		}
	}
	free(stacks);
	delete[] emu_fibers;
	delete[] emu_done;
	return 0;
}

} // extern "C"
