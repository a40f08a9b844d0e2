//go:build (cuda || cudaemu) && cgo

package cublasload

import (
	"errors"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// fakeLib compiles testdata/fakecublas.c into dir/name with extra gcc flags.
func fakeLib(t *testing.T, dir, name string, flags ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := append([]string{"-shared", "-fPIC", "-O1", "-o", out, filepath.Join("testdata", "fakecublas.c")}, flags...)
	if msg, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, msg)
	}
	return out
}

// fakeNames keep the tests away from a real cuBLAS installed on the machine.
var fakeNames = []string{"libt2ffakecublas.so.13", "libt2ffakecublas.so.12"}

func TestOpenFoundInDir(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	fakeLib(t, a, fakeNames[1])
	want := fakeLib(t, b, fakeNames[0])
	l, err := Open(Config{Dirs: []string{a, b}, Sonames: fakeNames})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Path() != want {
		t.Fatalf("opened %s, want the newest soname %s", l.Path(), want)
	}
	h, err := l.Create()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetStream(h, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(h); err != nil {
		t.Fatal(err)
	}
	if err := l.SetStream(Handle{}, nil); err == nil || !strings.Contains(err.Error(), "INVALID_VALUE") {
		t.Fatalf("SetStream on a zero handle: err = %v, want CUBLAS_STATUS_INVALID_VALUE", err)
	}
}

func TestOpenExplicitPath(t *testing.T) {
	dir := t.TempDir()
	other := fakeLib(t, dir, fakeNames[0])
	explicit := fakeLib(t, t.TempDir(), "anything.so")
	l, err := Open(Config{Path: explicit, Dirs: []string{dir}, Sonames: fakeNames})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Path() != explicit {
		t.Fatalf("opened %s, want the explicit %s (not %s)", l.Path(), explicit, other)
	}
}

func TestOpenNotFound(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(Config{Dirs: []string{dir}, Sonames: fakeNames})
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want a *NotFoundError", err)
	}
	if strings.Join(nf.Tried, ",") != strings.Join(fakeNames, ",") || len(nf.Errors) != len(fakeNames) {
		t.Fatalf("tried %v with errors %v, want the bare names %v", nf.Tried, nf.Errors, fakeNames)
	}
	if !strings.Contains(err.Error(), fakeNames[1]) {
		t.Fatalf("message %q does not name the last candidate", err)
	}
}

func TestOpenMissingSymbol(t *testing.T) {
	dir := t.TempDir()
	fakeLib(t, dir, fakeNames[0], "-DNO_SGEMM")
	fakeLib(t, dir, fakeNames[1]) // complete, but a broken newer library is an error, not skipped
	_, err := Open(Config{Dirs: []string{dir}, Sonames: fakeNames})
	if err == nil || !strings.Contains(err.Error(), "missing symbol cublasSgemm_v2") || !strings.Contains(err.Error(), fakeNames[0]) {
		t.Fatalf("err = %v, want a missing cublasSgemm_v2 in %s", err, fakeNames[0])
	}
}

func TestCreateStatus(t *testing.T) {
	lib := fakeLib(t, t.TempDir(), "nogpu.so", "-DCREATE_FAILS")
	l, err := Open(Config{Path: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Create()
	var st *Status
	if !errors.As(err, &st) || st.Code != 1 || !strings.Contains(err.Error(), "CUBLAS_STATUS_NOT_INITIALIZED") {
		t.Fatalf("Create: err = %v, want status 1 NOT_INITIALIZED", err)
	}
}

// TestSgemmRowMajor checks the row-major → column-major argument mapping for
// every transposition against a float64 row-major reference, with leading
// dimensions wider than the matrices and beta ≠ 0.
func TestSgemmRowMajor(t *testing.T) {
	l, err := Open(Config{Path: fakeLib(t, t.TempDir(), "gemm.so")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h, err := l.Create()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const m, n, k, pad = 5, 7, 3, 2
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		ta, tb := tr[0], tr[1]
		ar, ac := m, k // stored extents of A
		if ta {
			ar, ac = k, m
		}
		br, bc := k, n
		if tb {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+pad, bc+pad, n+pad
		A, B, C := make([]float32, ar*lda), make([]float32, br*ldb), make([]float32, m*ldc)
		for _, s := range [][]float32{A, B, C} {
			for i := range s {
				s[i] = float32(r.Float64()*2 - 1)
			}
		}
		at := func(i, p int) float64 { // op(A)[i][p]
			if ta {
				return float64(A[p*lda+i])
			}
			return float64(A[i*lda+p])
		}
		bt := func(p, j int) float64 {
			if tb {
				return float64(B[j*ldb+p])
			}
			return float64(B[p*ldb+j])
		}
		const alpha, beta = 1.5, 0.5
		want := make([]float64, len(C))
		for i := range want {
			want[i] = float64(C[i]) // padding columns must stay untouched
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += at(i, p) * bt(p, j)
				}
				want[i*ldc+j] = alpha*s + beta*float64(C[i*ldc+j])
			}
		}
		addr := func(s []float32) uintptr { return uintptr(unsafe.Pointer(&s[0])) }
		if err := l.SgemmRowMajor(h, ta, tb, m, n, k, alpha, addr(A), lda, addr(B), ldb, beta, addr(C), ldc); err != nil {
			t.Fatal(err)
		}
		for i := range C {
			if math.Abs(float64(C[i])-want[i]) > 1e-5 {
				t.Fatalf("transA=%v transB=%v: C[%d,%d] = %v, want %v", ta, tb, i/ldc, i%ldc, C[i], want[i])
			}
		}
	}
}
