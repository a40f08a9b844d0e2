// Package nn holds t2f's networks: layers (Conv2d, BatchNorm2d, ReLU,
// MaxPool2d, global average pool, Linear), residual blocks (BasicBlock,
// Bottleneck), the four OpenOOD backbones (LeNet, ResNet-18 32×32,
// ResNet-18 224×224, ResNet-50, plus the benchmark ResNet-8), the linear and
// T2FNorm heads, PyTorch's default initialisation, torch.optim.SGD and
// safetensors checkpoints. Every op runs on a backend.Backend.
//
// Typical use (the trainer):
//
//	be := cpu.New(2)
//	m, err := nn.New(be, nn.Config{Arch: nn.ArchResNet18_32, Classes: 10, Head: nn.HeadT2FNorm}, seed)
//	opt, err := nn.NewSGD(m, nn.SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
//	for each batch (x: N·3·32·32 floats, NCHW; labels: N class indices):
//		out, err := m.ForwardHost(x, true)     // out.Logits, out.OODLogits, out.Feature
//		loss, dlogits, err := m.CrossEntropy(labels)
//		err = m.Backward(dlogits)              // overwrites every Param.Grad
//		err = opt.Step(lr)                      // lr from the caller's schedule
//	m.Save("model.safetensors", nil); opt.SaveState("optimizer.safetensors", position)
//
// Layout: activations are NCHW float32 tensors on the model's backend; the
// feature f is (N, F), logits (N, classes). Parameter and buffer names are
// exactly those of OpenOOD's PyTorch state_dict for the same network: bare
// for the linear head (conv1.weight, layer2.0.shortcut.0.weight, fc.bias,
// LeNet block1.0.weight, …) and under "backbone." with the F32 scalar buffer
// "tau" for T2FNorm (OpenOOD's T2FNormNet); BatchNorm num_batches_tracked is
// an I64 scalar. Checkpoints are safetensors files with those names (plus
// t2f.* metadata describing the Config); optimiser state and the training
// position go to a separate safetensors file (SGD.SaveState).
// Model.LoadPretrained initialises a model from another network's weights:
// a PyTorch .pth state_dict (read by formats/pth) or a safetensors file, with
// torchvision/OpenOOD names, the fc kept fresh when the class count differs.
// Describe reads the architecture, width, input channels, classes and τ off
// a bare state_dict's names and shapes (describe.go), for package
// train/checkpoint; ReadWeights reads a .pth or .safetensors file.
//
// The heads: linear logits = W·f + b. T2FNorm training logits
// = W·(f/max(‖f‖₂, 1e-12))/τ + b, OOD logits = W·(f/τ) + b (W·f + b when
// classes == 1000, as OpenOOD's T2FNormNet does for ImageNet-1k
// fine-tuning).
//
// Errors: every public method returns an error for input a user can get
// wrong (shapes, labels, non-finite values, checkpoint mismatches) naming
// the shapes or tensor, and converts any internal panic into an error.
package nn
