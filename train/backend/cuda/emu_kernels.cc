//go:build cudaemu && !cuda

// CPU emulation of kernels.cu for the cudaemu test build: the CUDA source is
// compiled as C++ with the few CUDA built-ins it uses defined here. A launch
// runs each block in turn on blockDim OS threads; __syncthreads is a barrier
// of those threads and __shared__ arrays are statics (one block runs at a
// time). Not fast; meant for the conformance suite on machines without a GPU.

#pragma GCC optimize("fp-contract=off")
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <utility>

struct emu_uint3 {
	unsigned x, y, z;
};
static thread_local emu_uint3 threadIdx, blockIdx;
static emu_uint3 blockDim, gridDim;
static pthread_barrier_t emu_barrier;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
#define __restrict__ __restrict

static inline void __syncthreads() { pthread_barrier_wait(&emu_barrier); }
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
	K(sgemm_nn), K(sgemm_nt), K(sgemm_tn), K(sgemm_tt),
	K(im2col), K(col2im), K(cn_to_nchw), K(nchw_to_cn), K(channel_sum),
	K(bias_rows), K(col_sum),
	K(bn_stats_partial), K(bn_stats_final), K(bn_apply), K(bn_eval),
	K(bn_bwd_partial), K(bn_bwd_final), K(bn_bwd_dx),
	K(relu_fwd), K(relu_bwd), K(add), K(add_relu), K(div_scalar), K(sgd), K(nonfinite),
	K(maxpool_fwd), K(maxpool_bwd), K(gap_fwd), K(gap_bwd),
	K(rownorm_fwd), K(rownorm_bwd), K(softmax_ce),
};

struct emu_job {
	const emu_kernel *k;
	const uint64_t *args;
	unsigned tid;
};

static void *emu_thread(void *p) {
	emu_job *j = (emu_job *)p;
	threadIdx = {j->tid, 0, 0};
	for (unsigned by = 0; by < gridDim.y; by++) {
		for (unsigned bx = 0; bx < gridDim.x; bx++) {
			blockIdx = {bx, by, 0};
			j->k->run(j->args);
			pthread_barrier_wait(&emu_barrier); // the block is done before the next reuses shared memory
		}
	}
	return nullptr;
}

extern "C" {

// emu_kernel_count returns the number of kernels (for the Go test that
// checks kernels.cu and this table agree).
int emu_kernel_count(void) { return (int)(sizeof(kernels) / sizeof(kernels[0])); }

// emu_launch runs kernel name synchronously. Returns 0, or -1 for an unknown
// kernel, -2 for an argument count that differs from the kernel's, -3 when
// threads cannot be started.
int emu_launch(const char *name, int gx, int gy, int block, const uint64_t *args, int nargs) {
	const emu_kernel *k = nullptr;
	for (const emu_kernel &c : kernels) {
		if (strcmp(c.name, name) == 0) k = &c;
	}
	if (!k) return -1;
	if (k->nargs != nargs) return -2;
	gridDim = {(unsigned)gx, (unsigned)gy, 1};
	blockDim = {(unsigned)block, 1, 1};
	pthread_barrier_init(&emu_barrier, nullptr, (unsigned)block);
	pthread_t *th = new pthread_t[block];
	emu_job *jobs = new emu_job[block];
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 18);
	int rc = 0;
	for (int t = 0; t < block; t++) {
		jobs[t] = {k, args, (unsigned)t};
		if (pthread_create(&th[t], &attr, emu_thread, &jobs[t]) != 0) {
			rc = -3; // cannot recover a half-started barrier: abort below
			break;
		}
	}
	if (rc != 0) abort();
	for (int t = 0; t < block; t++) pthread_join(th[t], nullptr);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&emu_barrier);
	delete[] th;
	delete[] jobs;
	return 0;
}

} // extern "C"
