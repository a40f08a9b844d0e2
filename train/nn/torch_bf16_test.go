package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// bf16 against PyTorch's CPU autocast (train/testdata/torch/*_bf16, from
// scripts/gen_torch_fixtures.py): one training step (forward, loss, every
// parameter gradient) under torch.autocast("cpu", dtype=torch.bfloat16) and
// the same step in float64.
//
// The two bf16 engines round differently (PyTorch also keeps activations in
// bfloat16 between ops; t2f keeps them float32 and rounds only the operands
// of its products), so they are not compared bit for bit. The tolerance is
// what bf16 rounding costs, measured on PyTorch itself: with eP the relative
// L2 error of autocast against the float64 step and eT t2f's, every output
// and gradient must satisfy
//
//	eT ≤ 1.5·eP + 2⁻⁹      (t2f's bf16 is at least about as exact as autocast)
//	‖t2f − autocast‖/‖autocast‖ ≤ 2.5·eP + 2⁻⁹      (and agrees with it)
//
// for the logits, OOD logits, features and loss, and for the gradient of all
// parameters as one vector. The floor 2⁻⁹ is half a bfloat16 unit in the
// last place, for values on which autocast happens to be nearly exact.
var torchBF16Cases = []struct {
	file string
	cfg  Config
}{
	{"lenet_t2fnorm_bf16", Config{Arch: ArchLeNet, Classes: 10, InChannels: 3, Head: HeadT2FNorm, Tau: 0.1}},
	{"resnet18_32x32_w0.0625_linear_bf16", Config{Arch: ArchResNet18_32, Width: 0.0625, Classes: 10}},
	{"resnet18_32x32_w0.0625_t2fnorm_bf16", Config{Arch: ArchResNet18_32, Width: 0.0625, Classes: 10, Head: HeadT2FNorm, Tau: 0.1}},
}

const bf16Floor = 1.0 / 512

func TestAgainstPyTorchAutocastBF16(t *testing.T) {
	for _, tc := range torchBF16Cases {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads%d", tc.file, threads), func(t *testing.T) {
				be, err := cpu.NewPrecision(threads, backend.BF16)
				if err != nil {
					t.Fatal(err)
				}
				testAutocastCase(t, tc.file, tc.cfg, be)
			})
		}
	}
}

func testAutocastCase(t *testing.T, file string, cfg Config, be backend.Backend) {
	f := readFixture(t, file)
	m, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	isState := map[string]bool{}
	sd, _ := m.StateDict()
	for _, e := range sd {
		isState[e.Name] = true
	}
	if err := m.LoadStateDict(subset(t, f, func(n string) (string, bool) { return n, isState[n] })); err != nil {
		t.Fatalf("loading the PyTorch state_dict: %v", err)
	}
	x := fixF32(t, f, "input")
	target, _ := mustTensor(t, f, "target").Int64s()
	labels := make([]int32, len(target))
	for i, v := range target {
		labels[i] = int32(v)
	}
	out, err := m.ForwardHost(x, true)
	if err != nil {
		t.Fatal(err)
	}
	loss, dl, err := m.CrossEntropy(labels)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, ac, ex []float32) {
		t.Helper()
		eP, eT, d := relL2(ac, ex), relL2(got, ex), relL2(got, ac)
		if !(eT <= 1.5*eP+bf16Floor) {
			t.Errorf("%s: t2f bf16 error %.3g against float64, autocast's %.3g: want ≤ 1.5× + 2⁻⁹", name, eT, eP)
		}
		if !(d <= 2.5*eP+bf16Floor) {
			t.Errorf("%s: t2f bf16 differs from autocast by %.3g (autocast's own error %.3g): want ≤ 2.5× + 2⁻⁹", name, d, eP)
		}
		if testing.Verbose() {
			t.Logf("%-40s t2f %.2e  autocast %.2e  (t2f−autocast %.2e)", name, eT, eP, d)
		}
	}
	fix := func(name string) ([]float32, []float32) {
		return fixF32(t, f, "autocast."+name), fixF32(t, f, "fp64."+name)
	}
	for _, o := range []struct {
		name string
		t    *backend.Tensor
	}{{"logits", out.Logits}, {"logits_ood", out.OODLogits}, {"feature", out.Feature}} {
		ac, ex := fix(o.name)
		check(o.name, download(be, o.t), ac, ex)
	}
	ac, ex := fix("loss")
	check("loss", []float32{float32(loss)}, ac, ex)
	if err := m.Backward(dl); err != nil {
		t.Fatal(err)
	}
	// Gradients as one vector: on these tiny batches single BatchNorm
	// gradients are dominated by cancellation (autocast's own error reaches
	// 30–80% on some of them), so only the whole gradient is compared.
	var got, acs, exs []float32
	for _, p := range m.Params() {
		g := download(be, p.Grad)
		ac, ex := fix("grad." + p.Name)
		if testing.Verbose() {
			t.Logf("%-40s t2f %.2e  autocast %.2e", "grad."+p.Name, relL2(g, ex), relL2(ac, ex))
		}
		got, acs, exs = append(got, g...), append(acs, ac...), append(exs, ex...)
	}
	check("gradient (all parameters)", got, acs, exs)
	// The step must really be bf16: far from float64 compared with float32.
	if e := relL2(download(be, out.Logits), fixF32(t, f, "fp64.logits")); e < 1e-4 || math.IsNaN(e) {
		t.Errorf("logits within %.2g of float64: the products were not bfloat16", e)
	}
}
