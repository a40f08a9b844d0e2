//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// checkTrainSteps trains cfg's network for a few SGD steps on be and on the
// CPU backend from the same initialisation and batch, and compares the
// losses, the eval-mode logits and the OOD logits afterwards.
func checkTrainSteps(t *testing.T, be backend.Backend, cfg nn.Config, n, steps int) {
	t.Helper()
	const seed = 7
	ref, err := nn.New(cpu.New(1), cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := nn.New(be, cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	sgd := nn.SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true}
	refOpt, err := nn.NewSGD(ref, sgd)
	if err != nil {
		t.Fatal(err)
	}
	gotOpt, err := nn.NewSGD(got, sgd)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, ref.InputShape(n).Numel())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(cfg.Classes))
	}
	step := func(m *nn.Model, o *nn.SGD) float64 {
		t.Helper()
		if _, err := m.ForwardHost(x, true); err != nil {
			t.Fatal(err)
		}
		loss, dl, err := m.CrossEntropy(labels)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(dl); err != nil {
			t.Fatal(err)
		}
		if err := o.Step(0.05); err != nil {
			t.Fatal(err)
		}
		return loss
	}
	for s := range steps {
		lr, lg := step(ref, refOpt), step(got, gotOpt)
		if math.Abs(lr-lg) > 2e-4*math.Max(1, math.Abs(lr)) {
			t.Fatalf("step %d: loss %v, cpu %v", s, lg, lr)
		}
	}
	host := func(m *nn.Model, tt *backend.Tensor) []float32 {
		h := make([]float32, tt.Numel())
		m.Backend().Download(h, tt)
		return h
	}
	ro, err := ref.ForwardHost(x, false)
	if err != nil {
		t.Fatal(err)
	}
	want, wantOOD := host(ref, ro.Logits), host(ref, ro.OODLogits)
	g, err := got.ForwardHost(x, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want []float32
	}{{"eval logits", host(got, g.Logits), want}, {"ood logits", host(got, g.OODLogits), wantOOD}} {
		for i := range c.want {
			if d := math.Abs(float64(c.got[i] - c.want[i])); d > 2e-3+2e-3*math.Abs(float64(c.want[i])) {
				t.Fatalf("after %d steps: %s[%d] = %v, cpu %v", steps, c.what, i, c.got[i], c.want[i])
			}
		}
	}
	// The stage outputs of that forward (rankfeat's layer 3/4 maps, gmm's
	// layer-2 map, mds_ensemble's stem).
	for st := 0; st <= ref.Stages() && ref.Stages() > 0; st++ {
		ry, err := ref.StageOutput(st)
		if err != nil {
			t.Fatal(err)
		}
		gy, err := got.StageOutput(st)
		if err != nil {
			t.Fatal(err)
		}
		want, gotY := host(ref, ry), host(got, gy)
		if len(want) != len(gotY) {
			t.Fatalf("stage %d output: %d values, cpu %d", st, len(gotY), len(want))
		}
		for i := range want {
			if d := math.Abs(float64(gotY[i] - want[i])); d > 2e-3+2e-3*math.Abs(float64(want[i])) {
				t.Fatalf("after %d steps: stage %d output[%d] = %v, cpu %v", steps, st, i, gotY[i], want[i])
			}
		}
	}
	// The eval-mode input gradient (ODIN, AdaScale) of the forward just run.
	dood := make([]float32, n*cfg.Classes)
	for i := range dood {
		dood[i] = float32(r.NormFloat64())
	}
	inputGrad := func(m *nn.Model) []float32 {
		t.Helper()
		d := m.Backend().Alloc(n, cfg.Classes)
		m.Backend().Upload(d, dood)
		dx, err := m.InputGradient(d)
		if err != nil {
			t.Fatal(err)
		}
		return host(m, dx)
	}
	wantDx, gotDx := inputGrad(ref), inputGrad(got)
	scale := 0.0
	for _, v := range wantDx {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range wantDx {
		if d := math.Abs(float64(gotDx[i] - wantDx[i])); d > 2e-3*scale {
			t.Fatalf("after %d steps: input gradient[%d] = %v, cpu %v (largest %v)", steps, i, gotDx[i], wantDx[i], scale)
		}
	}
	// The same gradient by the path of --extra: the fused forward kept for
	// input gradients (GradForward) and input gradients only (GradInput,
	// convolutions without their weight gradient), twice from one forward.
	gradInput := func(m *nn.Model) []float32 {
		t.Helper()
		if _, err := m.GradForwardHost(x, -1); err != nil {
			t.Fatal(err)
		}
		d := m.Backend().Alloc(n, cfg.Classes)
		m.Backend().Upload(d, dood)
		var out []float32
		for range 2 {
			dx, err := m.GradInput(d)
			if err != nil {
				t.Fatal(err)
			}
			out = host(m, dx)
		}
		return out
	}
	gotDx = gradInput(got)
	for i := range wantDx {
		if d := math.Abs(float64(gotDx[i] - wantDx[i])); d > 2e-3*scale {
			t.Fatalf("after %d steps: grad input[%d] = %v, cpu InputGradient %v (largest %v)", steps, i, gotDx[i], wantDx[i], scale)
		}
	}
	// Every conv and ReLU module's output (gram's taps), in eval mode.
	taps := func(m *nn.Model) [][]float32 {
		t.Helper()
		in := m.Backend().Alloc(m.InputShape(n)...)
		defer m.Backend().Free(in)
		m.Backend().Upload(in, x)
		if _, err := m.ForwardTaps(in); err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		if err := m.VisitTaps(func(_ int, tt *backend.Tensor) error {
			out = append(out, host(m, tt))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	wantTaps, gotTaps := taps(ref), taps(got)
	if len(wantTaps) != len(ref.Taps()) || len(gotTaps) != len(wantTaps) {
		t.Fatalf("%d taps visited, cpu %d, listed %d", len(gotTaps), len(wantTaps), len(ref.Taps()))
	}
	for l, w := range wantTaps {
		scale := 0.0
		for _, v := range w {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i := range w {
			if d := math.Abs(float64(gotTaps[l][i] - w[i])); d > 2e-3*math.Max(scale, 1e-3) {
				t.Fatalf("after %d steps: tap %d (%s)[%d] = %v, cpu %v (largest %v)", steps, l, ref.Taps()[l].Name, i, gotTaps[l][i], w[i], scale)
			}
		}
	}
	// The input gradient from the stem's output (mds_ensemble).
	if ref.Stages() == 0 {
		return
	}
	stemGrad := func(m *nn.Model) []float32 {
		t.Helper()
		if _, err := m.ForwardHost(x, false); err != nil {
			t.Fatal(err)
		}
		y, err := m.StageOutput(0)
		if err != nil {
			t.Fatal(err)
		}
		dx, err := m.StageInputGradient(0, stemSeed(m, y))
		if err != nil {
			t.Fatal(err)
		}
		return host(m, dx)
	}
	wantDx, gotDx = stemGrad(ref), stemGrad(got)
	scale = 0
	for _, v := range wantDx {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range wantDx {
		if d := math.Abs(float64(gotDx[i] - wantDx[i])); d > 2e-3*scale {
			t.Fatalf("after %d steps: stem input gradient[%d] = %v, cpu %v (largest %v)", steps, i, gotDx[i], wantDx[i], scale)
		}
	}
	// The same by the path of --extra mds_ensemble: a forward of the stem
	// alone (GradForward to stage 0) and GradStageInput.
	stemGrad2 := func(m *nn.Model) []float32 {
		t.Helper()
		if _, err := m.GradForwardHost(x, 0); err != nil {
			t.Fatal(err)
		}
		y, err := m.GradStage()
		if err != nil {
			t.Fatal(err)
		}
		dx, err := m.GradStageInput(stemSeed(m, y))
		if err != nil {
			t.Fatal(err)
		}
		return host(m, dx)
	}
	gotDx = stemGrad2(got)
	for i := range wantDx {
		if d := math.Abs(float64(gotDx[i] - wantDx[i])); d > 2e-3*scale {
			t.Fatalf("after %d steps: grad stage input[%d] = %v, cpu StageInputGradient %v (largest %v)", steps, i, gotDx[i], wantDx[i], scale)
		}
	}
	// Stage maps without a kept forward (rankfeat, gmm, mds_ensemble's
	// statistics): InferStages against the CPU's StageOutput.
	in := got.Backend().Alloc(got.InputShape(n)...)
	defer got.Backend().Free(in)
	got.Backend().Upload(in, x)
	if _, err := ref.ForwardHost(x, false); err != nil {
		t.Fatal(err)
	}
	var stages []int
	for st := 0; st <= ref.Stages(); st++ {
		stages = append(stages, st)
	}
	if err := got.InferStages(in, stages, func(st int, gy *backend.Tensor) error {
		ry, err := ref.StageOutput(st)
		if err != nil {
			return err
		}
		want, gotY := host(ref, ry), host(got, gy)
		for i := range want {
			if d := math.Abs(float64(gotY[i] - want[i])); d > 2e-3+2e-3*math.Abs(float64(want[i])) {
				return fmt.Errorf("after %d steps: infer stages %d output[%d] = %v, cpu %v", steps, st, i, gotY[i], want[i])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func modelName(cfg nn.Config, n int) string {
	if r, err := cfg.Resolve(); err == nil {
		cfg = r
	}
	return fmt.Sprintf("%s_w%g_%dx%d_%s_batch%d", cfg.Arch, cfg.Width, cfg.InChannels, cfg.ImageSize, cfg.Head, n)
}

// checkUploads: staged and pinned uploads arrive, and a staging buffer is not
// overwritten while its copy may be pending (many uploads in a row, then one
// check each).
func checkUploads(t *testing.T, b *Backend) {
	t.Helper()
	const n = 1 << 16
	pinned := b.PinnedAlloc(n)
	if len(pinned) != n || uintptr(unsafe.Pointer(&pinned[0]))%4 != 0 {
		t.Fatalf("PinnedAlloc(%d): %d values", n, len(pinned))
	}
	if !b.isPinned(pinned[10:20]) || b.isPinned(make([]float32, 4)) {
		t.Fatal("isPinned does not tell pinned from Go memory")
	}
	ts := make([]*backend.Tensor, 6)
	want := make([][]float32, len(ts))
	for i := range ts {
		ts[i] = b.Alloc(n)
		want[i] = make([]float32, n)
		for j := range want[i] {
			want[i][j] = float32(i*n + j)
		}
		if i == 5 {
			copy(pinned, want[i])
			b.Upload(ts[i], pinned)
		} else {
			b.Upload(ts[i], want[i])
		}
	}
	got := make([]float32, n)
	for i := range ts {
		b.Download(got, ts[i])
		for j := range got {
			if got[j] != want[i][j] {
				t.Fatalf("upload %d: [%d] = %v, want %v", i, j, got[j], want[i][j])
			}
		}
		b.Free(ts[i])
	}
}

// stemSeed is the seeded gradient both stem input-gradient paths start
// from: N(0, 1) values in a tensor shaped like y on m's backend.
func stemSeed(m *nn.Model, y *backend.Tensor) *backend.Tensor {
	dh := make([]float32, y.Numel())
	rr := rand.New(rand.NewPCG(3, 4))
	for i := range dh {
		dh[i] = float32(rr.NormFloat64())
	}
	d := m.Backend().Alloc(y.Shape()...)
	m.Backend().Upload(d, dh)
	return d
}
