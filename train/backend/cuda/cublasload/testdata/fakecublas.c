// A stand-in for libcublas built by open_test.go with gcc: the four v2 entry
// points with cuBLAS's column-major semantics computed naively on host
// memory, so the row-major mapping of SgemmRowMajor is checked without a GPU.
// cublasGemmEx does the same with float32 matrices and
// CUBLAS_COMPUTE_32F_FAST_16BF only: operands rounded to bfloat16 (nearest
// even, as PyTorch), float32 sums. -DNO_SGEMM leaves out cublasSgemm_v2; -DCREATE_FAILS makes cublasCreate_v2
// return CUBLAS_STATUS_NOT_INITIALIZED, as a real cuBLAS does without a GPU.
#include <stddef.h>

static int magic;

int cublasCreate_v2(void **handle) {
#ifdef CREATE_FAILS
	return 1;
#endif
	*handle = &magic;
	return 0;
}

int cublasDestroy_v2(void *handle) { return handle == &magic ? 0 : 7; }

int cublasSetStream_v2(void *handle, void *stream) {
	(void)stream;
	return handle == &magic ? 0 : 7;
}

#ifndef NO_SGEMM
// Column-major: C (m×n, ldc) = alpha·op(A)·op(B) + beta·C, op(A) m×k, op(B) k×n.
int cublasSgemm_v2(void *handle, int transa, int transb, int m, int n, int k,
		const float *alpha, const float *A, int lda, const float *B, int ldb,
		const float *beta, float *C, int ldc) {
	if (handle != &magic) return 7;
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			double s = 0;
			for (int p = 0; p < k; p++) {
				double a = transa ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
				double b = transb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
				s += a * b;
			}
			float *c = &C[i + (size_t)j * ldc];
			*c = (float)(*alpha * s + (*beta == 0 ? 0.0 : *beta * (double)*c));
		}
	}
	return 0;
}
#endif

// bf16 rounds x to bfloat16 (round to nearest even, NaN kept) and widens it.
static float bf16(float x) {
	union { float f; unsigned u; } v = {x};
	if ((v.u & 0x7fffffffu) > 0x7f800000u) return x;
	v.u = (v.u + 0x7fffu + ((v.u >> 16) & 1u)) & 0xffff0000u;
	return v.f;
}

int cublasGemmEx(void *handle, int transa, int transb, int m, int n, int k,
		const void *alpha, const void *A, int Atype, int lda, const void *B, int Btype, int ldb,
		const void *beta, void *C, int Ctype, int ldc, int computeType, int algo) {
	if (handle != &magic) return 7;
	if (Atype != 0 || Btype != 0 || Ctype != 0 || computeType != 75 || algo != -1) return 15; // NOT_SUPPORTED
	const float *a = A, *b = B, al = *(const float *)alpha, be = *(const float *)beta;
	float *c = C;
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			float s = 0;
			for (int p = 0; p < k; p++) {
				float x = bf16(transa ? a[p + (size_t)i * lda] : a[i + (size_t)p * lda]);
				float y = bf16(transb ? b[j + (size_t)p * ldb] : b[p + (size_t)j * ldb]);
				s += x * y;
			}
			float *cc = &c[i + (size_t)j * ldc];
			*cc = al * s + (be == 0 ? 0.0f : be * *cc);
		}
	}
	return 0;
}
