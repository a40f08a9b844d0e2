package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The committed PTX belongs to the committed CUDA source: `go tool task
// cuda:ptx` writes kernels.ptx and the source's SHA-256 next to it, and every
// kernel of kernels.cu is an entry of kernels.ptx. Runs in every build (no
// nvcc or GPU needed).
func TestPTXUpToDate(t *testing.T) {
	src, err := os.ReadFile("kernels.cu")
	if err != nil {
		t.Fatal(err)
	}
	ptx, err := os.ReadFile("kernels.ptx")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile("kernels.cu.sha256")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	if got, want := hex.EncodeToString(sum[:]), strings.TrimSpace(string(rec)); got != want {
		t.Fatalf("kernels.cu has SHA-256 %s but kernels.ptx was generated from %s: run go tool task cuda:ptx and commit both", got, want)
	}
	names := regexp.MustCompile(`extern "C" __global__ void (?:__launch_bounds__\(\w+\) )?(\w+)\(`).FindAllSubmatch(src, -1)
	if len(names) < 30 {
		t.Fatalf("found %d kernels in kernels.cu; the pattern no longer matches the source", len(names))
	}
	for _, m := range names {
		if !regexp.MustCompile(`\.visible \.entry ` + string(m[1]) + `\(`).Match(ptx) {
			t.Errorf("kernels.ptx lacks kernel %s: run go tool task cuda:ptx", m[1])
		}
	}
	if !regexp.MustCompile(`(?m)^\.version 7\.8$`).Match(ptx) || !regexp.MustCompile(`(?m)^\.target sm_80$`).Match(ptx) {
		t.Error("kernels.ptx is not PTX ISA 7.8 for sm_80 (nvcc 11.8 -arch=compute_80)")
	}
}
