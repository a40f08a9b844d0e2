package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend/cpu"
)

// TestGradientsFiniteDifference checks Model.Backward of LeNet (both heads)
// against central differences of the loss, (L(θ+h) − L(θ−h)) / 2h, for two
// sampled elements of every parameter tensor. The network runs in float32
// (the loss is summed in float64), so h is 1e-3 and the tolerance
// 3e-3 + 5%: it exercises the CPU backend end to end. The ResNets are not
// checked this way on the CPU: their train-mode BatchNorm makes the float32
// loss too noisy for a central difference (disagreements of 10-50% moving
// with h, where the same gradients match PyTorch to 1e-5); every network is
// checked in float64 on the reference backend instead (TestGradientsFloat64).
func TestGradientsFiniteDifference(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		n    int
	}{
		{"lenet-t2fnorm", Config{Arch: ArchLeNet, InChannels: 1, Classes: 5, Head: HeadT2FNorm}, 3},
		{"lenet-linear", Config{Arch: ArchLeNet, InChannels: 3, Classes: 10}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := cpu.New(2)
			m, err := New(be, tc.cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			x := make([]float32, m.InputShape(tc.n).Numel())
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			labels := make([]int32, tc.n)
			for i := range labels {
				labels[i] = int32(r.IntN(m.Config().Classes))
			}
			loss := func() float64 {
				if _, err := m.ForwardHost(x, true); err != nil {
					t.Fatal(err)
				}
				l, _, err := m.CrossEntropy(labels)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			loss()
			_, dl, _ := m.CrossEntropy(labels)
			if err := m.Backward(dl); err != nil {
				t.Fatal(err)
			}
			grads := map[string][]float32{}
			for _, p := range m.Params() {
				grads[p.Name] = download(be, p.Grad)
			}
			const h = 1e-3
			checked := 0
			for _, p := range m.Params() {
				v := download(be, p.Value)
				for range 2 {
					i := r.IntN(len(v))
					old := v[i]
					v[i] = old + h
					be.Upload(p.Value, v)
					lp := loss()
					v[i] = old - h
					be.Upload(p.Value, v)
					lm := loss()
					v[i] = old
					be.Upload(p.Value, v)
					fd := (lp - lm) / (2 * h)
					g := float64(grads[p.Name][i])
					if math.Abs(fd-g) > 3e-3+0.05*math.Abs(fd) {
						t.Errorf("%s[%d]: gradient %.6g, central difference %.6g", p.Name, i, g, fd)
					}
					checked++
				}
			}
			if checked < 10 {
				t.Fatalf("only %d coordinates checked", checked)
			}
		})
	}
}
