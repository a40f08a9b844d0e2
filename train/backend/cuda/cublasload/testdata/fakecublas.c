// A stand-in for libcublas built by open_test.go with gcc: the four v2 entry
// points with cuBLAS's column-major semantics computed naively on host
// memory, so the row-major mapping of SgemmRowMajor is checked without a GPU.
// -DNO_SGEMM leaves out cublasSgemm_v2; -DCREATE_FAILS makes cublasCreate_v2
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
