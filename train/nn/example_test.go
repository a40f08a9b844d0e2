package nn_test

import (
	"fmt"

	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// One training step of a T2FNorm LeNet on a batch of two blank images, and
// the names its checkpoint uses.
func Example() {
	be := cpu.New(1)
	m, err := nn.New(be, nn.Config{Arch: nn.ArchLeNet, InChannels: 1, Classes: 10, Head: nn.HeadT2FNorm}, 42)
	if err != nil {
		panic(err)
	}
	opt, err := nn.NewSGD(m, nn.SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if err != nil {
		panic(err)
	}
	x := make([]float32, m.InputShape(2).Numel()) // NCHW
	out, err := m.ForwardHost(x, true)
	if err != nil {
		panic(err)
	}
	_, dlogits, err := m.CrossEntropy([]int32{3, 7})
	if err != nil {
		panic(err)
	}
	if err := m.Backward(dlogits); err != nil {
		panic(err)
	}
	if err := opt.Step(0.1); err != nil {
		panic(err)
	}
	fmt.Println("feature", out.Feature.Shape(), "logits", out.Logits.Shape(), "ood logits", out.OODLogits.Shape())
	sd, _ := m.StateDict()
	fmt.Println(len(sd), "tensors:", sd[0].Name, sd[1].Name, "…", sd[len(sd)-1].Name)
	// Output:
	// feature [2 84] logits [2 10] ood logits [2 10]
	// 11 tensors: tau backbone.block1.0.weight … backbone.fc.bias
}
