package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/t2f/t2f/train/backend/cpu"
)

// TestHeadsOnHost recomputes both heads' outputs on the host from the
// downloaded feature and fc parameters: T2FNorm logits W·(f/‖f‖)/τ + b, OOD
// logits W·(f/τ) + b, except with 1000 classes (OpenOOD's T2FNormNet does not
// divide by τ for ImageNet-1k): W·f + b; the linear head's OOD logits are its
// logits.
func TestHeadsOnHost(t *testing.T) {
	for _, tc := range []struct {
		head    string
		classes int
		tau     float32
	}{{HeadT2FNorm, 10, 0.1}, {HeadT2FNorm, 1000, 0.05}, {HeadLinear, 7, 0}} {
		t.Run(fmt.Sprintf("%s-%d", tc.head, tc.classes), func(t *testing.T) {
			be := cpu.New(1)
			m, err := New(be, Config{Arch: ArchLeNet, Classes: tc.classes, Head: tc.head, Tau: tc.tau}, 3)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, m.InputShape(3).Numel())
			for i := range x {
				x[i] = float32(math.Sin(float64(i)))
			}
			out, err := m.ForwardHost(x, false)
			if err != nil {
				t.Fatal(err)
			}
			f := download(be, out.Feature)
			var w, b []float32
			for _, p := range m.Params() {
				switch {
				case strings.HasSuffix(p.Name, "fc.weight"):
					w = download(be, p.Value)
				case strings.HasSuffix(p.Name, "fc.bias"):
					b = download(be, p.Value)
				}
			}
			k, d := tc.classes, 84
			logits, ood := download(be, out.Logits), download(be, out.OODLogits)
			for n := 0; n < 3; n++ {
				fr := f[n*d : (n+1)*d]
				var ss float64
				for _, v := range fr {
					ss += float64(v) * float64(v)
				}
				norm := math.Max(math.Sqrt(ss), 1e-12)
				for j := 0; j < k; j++ {
					var dot float64
					for i, v := range fr {
						dot += float64(w[j*d+i]) * float64(v)
					}
					var wantL, wantO float64
					switch {
					case tc.head == HeadLinear:
						wantL, wantO = dot+float64(b[j]), dot+float64(b[j])
					case k == 1000:
						wantL, wantO = dot/norm/float64(tc.tau)+float64(b[j]), dot+float64(b[j])
					default:
						wantL, wantO = dot/norm/float64(tc.tau)+float64(b[j]), dot/float64(tc.tau)+float64(b[j])
					}
					if math.Abs(float64(logits[n*k+j])-wantL) > 1e-4*(1+math.Abs(wantL)) {
						t.Fatalf("logits[%d][%d] = %v, want %v", n, j, logits[n*k+j], wantL)
					}
					if math.Abs(float64(ood[n*k+j])-wantO) > 1e-4*(1+math.Abs(wantO)) {
						t.Fatalf("ood logits[%d][%d] = %v, want %v", n, j, ood[n*k+j], wantO)
					}
				}
			}
		})
	}
}
