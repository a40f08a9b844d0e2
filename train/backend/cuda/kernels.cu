// Kernels of the t2f CUDA backend (package cuda). Compiled to PTX with
//
//   nvcc -ptx -O3 -arch=compute_80 -o kernels.ptx kernels.cu   (go tool task cuda:ptx)
//
// and embedded in the Go binary; the driver JIT-compiles the PTX for the GPU
// it runs on (sm_80 and newer). Every kernel is extern "C" (unmangled names)
// and takes only pointers, int and float parameters: gorgonia.org/cu copies
// 8 bytes per launch parameter, so no structs are passed.
//
// Layouts are the backend package's: row-major float32, NCHW activations,
// (OC, C, KH, KW) convolution weights, (O, I) linear weights. Index arithmetic
// is int: the Go side splits work so that no launch exceeds 2^31 - 1 elements.
// Reductions are deterministic: every sum is taken in a fixed order (per
// thread, then a fixed shared-memory tree, then a fixed order over blocks);
// there are no floating-point atomics.

#include <stdint.h>

#define FOR_EACH(i, n) \
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// Block size of the reduction kernels (the Go side launches them with it).
#define RBLOCK 256

// blockSum returns the sum of v over the block (all threads get it). buf has
// RBLOCK doubles. The tree is fixed, so the result is deterministic.
__device__ double blockSum(double v, double *buf) {
	int t = threadIdx.x;
	buf[t] = v;
	__syncthreads();
	for (int s = RBLOCK / 2; s > 0; s >>= 1) {
		if (t < s) buf[t] += buf[t + s];
		__syncthreads();
	}
	double r = buf[0];
	__syncthreads();
	return r;
}

__device__ double blockMax(double v, double *buf) {
	int t = threadIdx.x;
	buf[t] = v;
	__syncthreads();
	for (int s = RBLOCK / 2; s > 0; s >>= 1) {
		if (t < s) buf[t] = fmax(buf[t], buf[t + s]);
		__syncthreads();
	}
	double r = buf[0];
	__syncthreads();
	return r;
}

__device__ __forceinline__ float relu(float v) { return v > 0.0f ? v : 0.0f; }

// ---------------------------------------------------------------- GEMM

// sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices:
// op(A) is M×K (A stored M×K with leading dimension lda, or K×M when TA),
// op(B) is K×N (B stored K×N, or N×K when TB), C is M×N (ldc). C is not read
// when beta == 0. 64×64 tiles, K steps of 16, 256 threads with 4×4 outputs
// each. Grid: (ceil(N/64), ceil(M/64)).
template <bool TA, bool TB>
__device__ void sgemm(int M, int N, int K, float alpha, const float *__restrict__ A, int lda,
		const float *__restrict__ B, int ldb, float beta, float *__restrict__ C, int ldc) {
	__shared__ float As[16][64 + 4]; // As[p][i] = op(A)[i0+i][p0+p]
	__shared__ float Bs[16][64 + 4]; // Bs[p][j] = op(B)[p0+p][j0+j]
	int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	int i0 = blockIdx.y * 64, j0 = blockIdx.x * 64;
	float acc[4][4];
#pragma unroll
	for (int r = 0; r < 4; r++)
#pragma unroll
		for (int c = 0; c < 4; c++) acc[r][c] = 0.0f;
	for (int p0 = 0; p0 < K; p0 += 16) {
#pragma unroll
		for (int l = threadIdx.x; l < 64 * 16; l += 256) {
			// load along the contiguous axis of each operand
			int ii = TA ? l % 64 : l / 16, pp = TA ? l / 64 : l % 16;
			int i = i0 + ii, p = p0 + pp;
			float v = 0.0f;
			if (i < M && p < K) v = TA ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
			As[pp][ii] = v;
			int jj = TB ? l / 16 : l % 64, qq = TB ? l % 16 : l / 64;
			int j = j0 + jj, q = p0 + qq;
			float w = 0.0f;
			if (j < N && q < K) w = TB ? B[(size_t)j * ldb + q] : B[(size_t)q * ldb + j];
			Bs[qq][jj] = w;
		}
		__syncthreads();
#pragma unroll
		for (int p = 0; p < 16; p++) {
			float a[4], b[4];
#pragma unroll
			for (int r = 0; r < 4; r++) a[r] = As[p][ty + 16 * r];
#pragma unroll
			for (int c = 0; c < 4; c++) b[c] = Bs[p][tx + 16 * c];
#pragma unroll
			for (int r = 0; r < 4; r++)
#pragma unroll
				for (int c = 0; c < 4; c++) acc[r][c] += a[r] * b[c];
		}
		__syncthreads();
	}
#pragma unroll
	for (int r = 0; r < 4; r++) {
		int i = i0 + ty + 16 * r;
		if (i >= M) continue;
#pragma unroll
		for (int c = 0; c < 4; c++) {
			int j = j0 + tx + 16 * c;
			if (j >= N) continue;
			float *dst = &C[(size_t)i * ldc + j];
			float v = alpha * acc[r][c];
			if (beta != 0.0f) v += beta * *dst;
			*dst = v;
		}
	}
}

extern "C" __global__ void __launch_bounds__(256) sgemm_nn(int M, int N, int K, float alpha, const float *A, int lda,
		const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm<false, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
extern "C" __global__ void __launch_bounds__(256) sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda,
		const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm<false, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
extern "C" __global__ void __launch_bounds__(256) sgemm_tn(int M, int N, int K, float alpha, const float *A, int lda,
		const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm<true, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
extern "C" __global__ void __launch_bounds__(256) sgemm_tt(int M, int N, int K, float alpha, const float *A, int lda,
		const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm<true, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// splitk_reduce: C (M×N, ldc) = Σ over s of parts[s] (S partial products of
// M×N, each row-major with leading dimension N, summed in order) + beta·C
// (C not read when beta == 0).
extern "C" __global__ void splitk_reduce(const float *parts, int S, int M, int N, float beta, float *C, int ldc) {
	FOR_EACH(idx, M * N) {
		int i = idx / N, j = idx - i * N;
		float v = 0.0f;
		for (int s = 0; s < S; s++) v += parts[(size_t)s * M * N + idx];
		float *dst = &C[(size_t)i * ldc + j];
		if (beta != 0.0f) v += beta * *dst;
		*dst = v;
	}
}

// ---------------------------------------------------------------- convolution

// im2col: col (C·KH·KW, nb·OH·OW), row (c·KH + kh)·KW + kw, column
// img·OH·OW + oh·OW + ow, from x (nb, C, H, W); zero outside the image. One
// thread per column walks down its rows (neighbouring threads write
// neighbouring addresses; the index divisions happen once per column).
extern "C" __global__ void im2col(const float *x, float *col, int nb, int C, int H, int W, int KH, int KW,
		int SH, int SW, int PH, int PW, int OH, int OW) {
	int ohw = OH * OW, ncol = nb * ohw;
	FOR_EACH(j, ncol) {
		int img = j / ohw, p = j - img * ohw;
		int oh = p / OW, ow = p - oh * OW;
		int ih0 = oh * SH - PH, iw0 = ow * SW - PW;
		const float *xi = x + (size_t)img * C * H * W;
		float *dst = col + j;
		for (int c = 0; c < C; c++) {
			const float *plane = xi + (size_t)c * H * W;
			for (int kh = 0; kh < KH; kh++) {
				int ih = ih0 + kh;
				bool rowIn = ih >= 0 && ih < H;
				for (int kw = 0; kw < KW; kw++) {
					int iw = iw0 + kw;
					*dst = rowIn && iw >= 0 && iw < W ? plane[ih * W + iw] : 0.0f;
					dst += ncol;
				}
			}
		}
	}
}

// col2im is im2col's adjoint: dx (nb, C, H, W) = the sum of every column
// entry that im2col copied from that pixel (gathered, so no atomics).
extern "C" __global__ void col2im(const float *col, float *dx, int nb, int C, int H, int W, int KH, int KW,
		int SH, int SW, int PH, int PW, int OH, int OW) {
	int ohw = OH * OW, ncol = nb * ohw, total = nb * C * H * W;
	FOR_EACH(idx, total) {
		int iw = idx % W, t = idx / W;
		int ih = t % H;
		t /= H;
		int c = t % C, img = t / C;
		float s = 0.0f;
		for (int kh = 0; kh < KH; kh++) {
			int hn = ih + PH - kh;
			if (hn < 0 || hn % SH != 0) continue;
			int oh = hn / SH;
			if (oh >= OH) continue;
			for (int kw = 0; kw < KW; kw++) {
				int wn = iw + PW - kw;
				if (wn < 0 || wn % SW != 0) continue;
				int ow = wn / SW;
				if (ow >= OW) continue;
				s += col[(size_t)((c * KH + kh) * KW + kw) * ncol + img * ohw + oh * OW + ow];
			}
		}
		dx[idx] = s;
	}
}

// cn_to_nchw: y (nb, OC, P) = ycol (OC, nb·P) permuted, + bias[oc] when
// hasBias, then max(·,0) when relu.
extern "C" __global__ void cn_to_nchw(const float *ycol, float *y, const float *bias, int hasBias, int doRelu,
		int nb, int OC, int P) {
	int total = nb * OC * P;
	FOR_EACH(idx, total) {
		int p = idx % P, t = idx / P;
		int oc = t % OC, img = t / OC;
		float v = ycol[(size_t)oc * nb * P + img * P + p];
		if (hasBias) v += bias[oc];
		y[idx] = doRelu ? relu(v) : v;
	}
}

// nchw_to_cn: dycol (OC, nb·P) = dy (nb, OC, P) permuted.
extern "C" __global__ void nchw_to_cn(const float *dy, float *dycol, int nb, int OC, int P) {
	int total = nb * OC * P;
	FOR_EACH(idx, total) {
		int p = idx % P, t = idx / P;
		int oc = t % OC, img = t / OC;
		dycol[(size_t)oc * nb * P + img * P + p] = dy[idx];
	}
}

// channel_sum: out[c] = Σ over n, s of x (N, C, S). One block of RBLOCK
// threads per channel.
extern "C" __global__ void __launch_bounds__(RBLOCK) channel_sum(const float *x, float *out, int N, int C, int S) {
	__shared__ double buf[RBLOCK];
	int c = blockIdx.x;
	double s = 0;
	for (int m = threadIdx.x; m < N * S; m += RBLOCK) {
		int n = m / S, k = m - n * S;
		s += x[(size_t)(n * C + c) * S + k];
	}
	s = blockSum(s, buf);
	if (threadIdx.x == 0) out[c] = (float)s;
}

// ---------------------------------------------------------------- linear

// bias_rows: y (N, O) += b (O) broadcast over rows, then max(·,0) when relu.
extern "C" __global__ void bias_rows(float *y, const float *b, int N, int O, int doRelu) {
	FOR_EACH(idx, N * O) {
		float v = y[idx] + b[idx % O];
		y[idx] = doRelu ? relu(v) : v;
	}
}

// col_sum: db[o] = Σ over rows of dy (N, O), one thread per column.
extern "C" __global__ void col_sum(const float *dy, float *db, int N, int O) {
	FOR_EACH(o, O) {
		double s = 0;
		for (int n = 0; n < N; n++) s += dy[(size_t)n * O + o];
		db[o] = (float)s;
	}
}

// ---------------------------------------------------------------- BatchNorm

// bn_stats_partial: for channel c = blockIdx.y and slice p = blockIdx.x of
// the M = N·S values of the channel (slices of ceil(M/P)), part[(c·P + p)·2]
// = Σx and part[(c·P + p)·2 + 1] = Σx² (in double).
extern "C" __global__ void __launch_bounds__(RBLOCK) bn_stats_partial(const float *x, double *part, int N, int C,
		int S, int P) {
	__shared__ double buf[RBLOCK];
	int c = blockIdx.y, p = blockIdx.x, M = N * S;
	int chunk = (M + P - 1) / P, lo = p * chunk, hi = min(M, lo + chunk);
	double s = 0, q = 0;
	for (int m = lo + threadIdx.x; m < hi; m += RBLOCK) {
		int n = m / S, k = m - n * S;
		double v = x[(size_t)(n * C + c) * S + k];
		s += v;
		q += v * v;
	}
	s = blockSum(s, buf);
	q = blockSum(q, buf);
	if (threadIdx.x == 0) {
		part[(c * P + p) * 2] = s;
		part[(c * P + p) * 2 + 1] = q;
	}
}

// bn_stats_final: one thread per channel: the batch mean and biased variance
// from the partial sums (in slice order), saveMean, saveInvStd =
// 1/√(var+eps), and the running averages with the unbiased variance.
extern "C" __global__ void bn_stats_final(const double *part, int P, int C, int M, float *saveMean, float *saveInvStd,
		float *runMean, float *runVar, float momentum, float eps) {
	FOR_EACH(c, C) {
		double s = 0, q = 0;
		for (int p = 0; p < P; p++) {
			s += part[(c * P + p) * 2];
			q += part[(c * P + p) * 2 + 1];
		}
		double mean = s / M, var = fmax(q / M - mean * mean, 0.0);
		saveMean[c] = (float)mean;
		saveInvStd[c] = (float)(1.0 / sqrt(var + (double)eps));
		double m = momentum;
		runMean[c] = (float)((1 - m) * runMean[c] + m * mean);
		runVar[c] = (float)((1 - m) * runVar[c] + m * var * M / (M - 1));
	}
}

// bn_apply: y = (x − mean[c])·invstd[c]·gamma[c] + beta[c], then max(·,0)
// when relu; x, y (N, C, S).
extern "C" __global__ void bn_apply(const float *x, float *y, const float *mean, const float *invstd,
		const float *gamma, const float *beta, int N, int C, int S, int doRelu) {
	FOR_EACH(idx, N * C * S) {
		int c = (idx / S) % C;
		float a = invstd[c] * gamma[c];
		float v = (x[idx] - mean[c]) * a + beta[c];
		y[idx] = doRelu ? relu(v) : v;
	}
}

// bn_eval: y = (x − runMean[c])/√(runVar[c]+eps)·gamma[c] + beta[c], then
// max(·,0) when relu.
extern "C" __global__ void bn_eval(const float *x, float *y, const float *runMean, const float *runVar,
		const float *gamma, const float *beta, float eps, int N, int C, int S, int doRelu) {
	FOR_EACH(idx, N * C * S) {
		int c = (idx / S) % C;
		float a = gamma[c] / sqrtf(runVar[c] + eps);
		float v = (x[idx] - runMean[c]) * a + beta[c];
		y[idx] = doRelu ? relu(v) : v;
	}
}

// bn_bwd_partial: per channel and slice (as bn_stats_partial), Σg and
// Σg·(x − mean) with g = dy, masked by y > 0 when relu.
extern "C" __global__ void __launch_bounds__(RBLOCK) bn_bwd_partial(const float *x, const float *y, const float *dy,
		const float *mean, double *part, int N, int C, int S, int P, int doRelu) {
	__shared__ double buf[RBLOCK];
	int c = blockIdx.y, p = blockIdx.x, M = N * S;
	int chunk = (M + P - 1) / P, lo = p * chunk, hi = min(M, lo + chunk);
	double mu = mean[c], s = 0, q = 0;
	for (int m = lo + threadIdx.x; m < hi; m += RBLOCK) {
		int n = m / S, k = m - n * S;
		size_t i = (size_t)(n * C + c) * S + k;
		double g = dy[i];
		if (doRelu && !(y[i] > 0.0f)) g = 0;
		s += g;
		q += g * ((double)x[i] - mu);
	}
	s = blockSum(s, buf);
	q = blockSum(q, buf);
	if (threadIdx.x == 0) {
		part[(c * P + p) * 2] = s;
		part[(c * P + p) * 2 + 1] = q;
	}
}

// bn_bwd_final: one thread per channel: dbeta = Σg, dgamma = invstd·Σg(x−μ),
// and the coefficients of dx = k1·(g − k2 − (x−μ)·k3) in coef (C, 3):
// k1 = gamma·invstd, k2 = Σg/M, k3 = invstd²·Σg(x−μ)/M.
extern "C" __global__ void bn_bwd_final(const double *part, int P, int C, int M, const float *gamma,
		const float *invstd, float *dgamma, float *dbeta, float *coef) {
	FOR_EACH(c, C) {
		double s = 0, q = 0;
		for (int p = 0; p < P; p++) {
			s += part[(c * P + p) * 2];
			q += part[(c * P + p) * 2 + 1];
		}
		double is = invstd[c];
		dbeta[c] = (float)s;
		dgamma[c] = (float)(q * is);
		coef[c * 3] = (float)(gamma[c] * is);
		coef[c * 3 + 1] = (float)(s / M);
		coef[c * 3 + 2] = (float)(is * is * q / M);
	}
}

extern "C" __global__ void bn_bwd_dx(const float *x, const float *y, const float *dy, const float *mean,
		const float *coef, float *dx, int N, int C, int S, int doRelu) {
	FOR_EACH(idx, N * C * S) {
		int c = (idx / S) % C;
		float g = dy[idx];
		if (doRelu && !(y[idx] > 0.0f)) g = 0.0f;
		dx[idx] = coef[c * 3] * (g - coef[c * 3 + 1] - (x[idx] - mean[c]) * coef[c * 3 + 2]);
	}
}

// ---------------------------------------------------------------- elementwise

extern "C" __global__ void relu_fwd(const float *x, float *y, int n) {
	FOR_EACH(i, n) y[i] = relu(x[i]);
}

// relu_bwd: dx = dy where y > 0, else 0 (dx may alias dy).
extern "C" __global__ void relu_bwd(const float *y, const float *dy, float *dx, int n) {
	FOR_EACH(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

extern "C" __global__ void add(const float *a, const float *b, float *y, int n) {
	FOR_EACH(i, n) y[i] = __fadd_rn(a[i], b[i]);
}

extern "C" __global__ void add_relu(const float *a, const float *b, float *y, int n) {
	FOR_EACH(i, n) y[i] = relu(__fadd_rn(a[i], b[i]));
}

// div_scalar: y = x / s, IEEE division (nvcc's default -prec-div=true).
extern "C" __global__ void div_scalar(const float *x, float *y, float s, int n) {
	FOR_EACH(i, n) y[i] = __fdiv_rn(x[i], s);
}

// sgd: torch.optim.SGD in PyTorch's order with each product and sum rounded
// separately (__fmul_rn/__fadd_rn are never contracted into FMAs), so it
// matches the CPU backend bit for bit.
extern "C" __global__ void sgd(float *param, const float *grad, float *buf, int n, float lr, float mom, float wd,
		int nesterov, int first) {
	FOR_EACH(i, n) {
		float p = param[i], d = grad[i];
		if (wd != 0.0f) d = __fadd_rn(d, __fmul_rn(wd, p));
		if (mom != 0.0f) {
			float b = first ? d : __fadd_rn(__fmul_rn(mom, buf[i]), d);
			buf[i] = b;
			d = nesterov ? __fadd_rn(d, __fmul_rn(mom, b)) : b;
		}
		param[i] = __fadd_rn(p, __fmul_rn(-lr, d));
	}
}

// nonfinite: flag[0] = 1 when any x is NaN or ±Inf (flag is zeroed first by
// the caller; every writer stores the same value).
extern "C" __global__ void nonfinite(const float *x, int n, int *flag) {
	FOR_EACH(i, n) {
		if ((__float_as_uint(x[i]) & 0x7f800000u) == 0x7f800000u) flag[0] = 1;
	}
}

// ---------------------------------------------------------------- pooling

// maxpool_fwd: y (N,C,OH,OW) = max over each window of x (N,C,H,W); padded
// positions never win; the first maximum in row-major order is kept.
extern "C" __global__ void maxpool_fwd(const float *x, float *y, int N, int C, int H, int W, int OH, int OW,
		int KH, int KW, int SH, int SW, int PH, int PW) {
	FOR_EACH(idx, N * C * OH * OW) {
		int ow = idx % OW, t = idx / OW;
		int oh = t % OH, nc = t / OH;
		const float *plane = x + (size_t)nc * H * W;
		float best = 0.0f;
		bool found = false;
		for (int kh = 0; kh < KH; kh++) {
			int ih = oh * SH - PH + kh;
			if (ih < 0 || ih >= H) continue;
			for (int kw = 0; kw < KW; kw++) {
				int iw = ow * SW - PW + kw;
				if (iw < 0 || iw >= W) continue;
				float v = plane[ih * W + iw];
				if (!found || v > best) {
					best = v;
					found = true;
				}
			}
		}
		y[idx] = best;
	}
}

// windowArg is the plane offset of the first maximum of window (oh, ow).
__device__ int windowArg(const float *plane, int H, int W, int oh, int ow, int KH, int KW, int SH, int SW, int PH,
		int PW) {
	float best = 0.0f;
	int arg = -1;
	for (int kh = 0; kh < KH; kh++) {
		int ih = oh * SH - PH + kh;
		if (ih < 0 || ih >= H) continue;
		for (int kw = 0; kw < KW; kw++) {
			int iw = ow * SW - PW + kw;
			if (iw < 0 || iw >= W) continue;
			float v = plane[ih * W + iw];
			if (arg < 0 || v > best) {
				best = v;
				arg = ih * W + iw;
			}
		}
	}
	return arg;
}

// maxpool_bwd: dx (N,C,H,W) = Σ dy over the windows whose first maximum is
// this element (gathered per input element, windows in row-major order);
// with reluInput nothing reaches an element ≤ 0.
extern "C" __global__ void maxpool_bwd(const float *x, const float *y, const float *dy, float *dx, int N, int C,
		int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int reluInput) {
	FOR_EACH(idx, N * C * H * W) {
		int iw = idx % W, t = idx / W;
		int ih = t % H, nc = t / H;
		const float *plane = x + (size_t)nc * H * W;
		float v = plane[ih * W + iw];
		float s = 0.0f;
		if (!reluInput || v > 0.0f) {
			// windows (oh, ow) with oh·SH − PH ≤ ih ≤ oh·SH − PH + KH − 1
			int ohLo = max(0, (ih + PH - KH + SH) / SH), ohHi = min(OH - 1, (ih + PH) / SH);
			int owLo = max(0, (iw + PW - KW + SW) / SW), owHi = min(OW - 1, (iw + PW) / SW);
			for (int oh = ohLo; oh <= ohHi; oh++) {
				for (int ow = owLo; ow <= owHi; ow++) {
					size_t o = ((size_t)nc * OH + oh) * OW + ow;
					if (y[o] != v) continue;
					if (windowArg(plane, H, W, oh, ow, KH, KW, SH, SW, PH, PW) == ih * W + iw) s += dy[o];
				}
			}
		}
		dx[idx] = s;
	}
}

// gap_fwd: y[r] = mean of the S values of row r of x (R, S).
extern "C" __global__ void gap_fwd(const float *x, float *y, int R, int S) {
	FOR_EACH(r, R) {
		float s = 0.0f;
		for (int k = 0; k < S; k++) s += x[(size_t)r * S + k];
		y[r] = s / (float)S;
	}
}

// gap_bwd: dx (R, S) = dy[r]/S broadcast.
extern "C" __global__ void gap_bwd(const float *dy, float *dx, int R, int S) {
	FOR_EACH(i, R * S) dx[i] = dy[i / S] / (float)S;
}

// ---------------------------------------------------------------- T2FNorm head

// rownorm_fwd: one block per row of x (N, K): norms[n] = ‖x[n]‖₂ and
// y[n] = (x[n] / max(norms[n], eps)) / s.
extern "C" __global__ void __launch_bounds__(RBLOCK) rownorm_fwd(const float *x, float *y, float *norms, int K,
		float s, float eps) {
	__shared__ double buf[RBLOCK];
	const float *row = x + (size_t)blockIdx.x * K;
	double ss = 0;
	for (int j = threadIdx.x; j < K; j += RBLOCK) ss += (double)row[j] * row[j];
	ss = blockSum(ss, buf);
	float nrm = (float)sqrt(ss);
	if (threadIdx.x == 0) norms[blockIdx.x] = nrm;
	float den = fmaxf(nrm, eps);
	float *out = y + (size_t)blockIdx.x * K;
	for (int j = threadIdx.x; j < K; j += RBLOCK) out[j] = __fdiv_rn(__fdiv_rn(row[j], den), s);
}

// rownorm_bwd: with g = dy/s and r = ‖x‖: dx = g/r − x·(x·g)/r³ when r > eps,
// else g/eps (in double, rounded once).
extern "C" __global__ void __launch_bounds__(RBLOCK) rownorm_bwd(const float *x, const float *norms, const float *dy,
		float *dx, int K, float s, float eps) {
	__shared__ double buf[RBLOCK];
	size_t off = (size_t)blockIdx.x * K;
	const float *xr = x + off, *gr = dy + off;
	float *out = dx + off;
	float nf = norms[blockIdx.x];
	if (nf <= eps) {
		for (int j = threadIdx.x; j < K; j += RBLOCK) out[j] = (float)((double)gr[j] / (double)s / (double)eps);
		return;
	}
	double dot = 0;
	for (int j = threadIdx.x; j < K; j += RBLOCK) dot += (double)xr[j] * gr[j];
	dot = blockSum(dot, buf) / (double)s;
	double nrm = nf, c = dot / (nrm * nrm * nrm);
	for (int j = threadIdx.x; j < K; j += RBLOCK) out[j] = (float)((double)gr[j] / (double)s / nrm - (double)xr[j] * c);
}

// ---------------------------------------------------------------- loss

// softmax_ce: one block per row of z (N, K): losses[n] = logsumexp(z[n]) −
// z[n][label[n]] (double); when hasGrad, dz = (softmax(z) − onehot)/N.
extern "C" __global__ void __launch_bounds__(RBLOCK) softmax_ce(const float *z, const int *labels, float *dz,
		double *losses, int N, int K, int hasGrad) {
	__shared__ double buf[RBLOCK];
	int n = blockIdx.x;
	const float *row = z + (size_t)n * K;
	double m = -1.0 / 0.0;
	for (int j = threadIdx.x; j < K; j += RBLOCK) m = fmax(m, (double)row[j]);
	m = blockMax(m, buf);
	double s = 0;
	for (int j = threadIdx.x; j < K; j += RBLOCK) s += exp((double)row[j] - m);
	s = blockSum(s, buf);
	double lse = m + log(s);
	int l = labels[n];
	if (threadIdx.x == 0) losses[n] = lse - (double)row[l];
	if (hasGrad) {
		float *d = dz + (size_t)n * K;
		for (int j = threadIdx.x; j < K; j += RBLOCK) {
			double p = exp((double)row[j] - lse);
			if (j == l) p -= 1;
			d[j] = (float)(p / N);
		}
	}
}
