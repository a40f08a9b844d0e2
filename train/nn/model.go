package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/t2f/t2f/train/backend"
)

// Architectures.
const (
	ArchLeNet                = "lenet"            // OpenOOD LeNet, 28×28 input, 84-d feature
	ArchResNet18_32          = "resnet18_32x32"   // OpenOOD ResNet18_32x32 (CIFAR)
	ArchResNet18_224         = "resnet18_224x224" // torchvision ResNet-18 (ImageNet-200)
	ArchResNet50             = "resnet50"         // torchvision ResNet-50 (ImageNet-1k)
	ArchSmallResNet          = "small_resnet"     // ResNet-8 of the benchmarks: 32×32 stem, widths 16-32-64, one block per stage
	HeadLinear               = "linear"           // cross-entropy baseline: logits = W·f + b
	HeadT2FNorm              = "t2fnorm"          // T2FNorm: logits = W·(f/‖f‖)/τ + b, OOD logits = W·f/τ + b
	DefaultTau       float32 = 0.1
	normEps                  = 1e-12 // F.normalize's eps
)

// Archs lists the architecture names New accepts.
var Archs = []string{ArchLeNet, ArchResNet18_32, ArchResNet18_224, ArchResNet50, ArchSmallResNet}

// ErrDiverged is wrapped by every error that means the weights have
// diverged: NaN or Inf in the activations, the loss or its gradient. A
// trainer tells it from bad input or a broken backend with errors.Is.
var ErrDiverged = errors.New("the weights have diverged")

// Config describes a network. Zero fields take the defaults noted.
type Config struct {
	Arch       string  // one of Archs
	Width      float64 // width multiplier, stage widths max(1, round(base·Width)); 0 means 1; LeNet: must be 1
	InChannels int     // input channels; 0 means 3
	ImageSize  int     // input height = width; 0 means 28 (LeNet), 32 (32×32 ResNets) or 224
	Classes    int     // number of classes, ≥ 1
	Head       string  // HeadLinear or HeadT2FNorm; "" means HeadLinear
	Tau        float32 // T2FNorm temperature; 0 means DefaultTau
}

// Resolve returns c with its zero fields set to their defaults, or an error
// naming the first invalid field. New calls it; a CLI can call it first to
// tell a usage error from a run-time one.
func (c Config) Resolve() (Config, error) { return c.withDefaults() }

// withDefaults fills zero fields and validates c.
// Bounds on a Config, so that values read from files (checkpoint metadata,
// config.yaml) cannot size a model beyond memory: a ResNet-50 at width 2
// has about 4× the published parameters (≈ 100 M, 400 MB).
const (
	MaxWidth     = 2
	MaxClasses   = 1 << 16
	MaxImageSize = 4096
)

func (c Config) withDefaults() (Config, error) {
	if c.Width == 0 {
		c.Width = 1
	}
	if c.InChannels == 0 {
		c.InChannels = 3
	}
	if c.Head == "" {
		c.Head = HeadLinear
	}
	if c.Tau == 0 && c.Head == HeadT2FNorm {
		c.Tau = DefaultTau
	}
	if c.ImageSize == 0 {
		switch c.Arch {
		case ArchLeNet:
			c.ImageSize = 28
		case ArchResNet18_32, ArchSmallResNet:
			c.ImageSize = 32
		default:
			c.ImageSize = 224
		}
	}
	switch {
	case !contains(Archs, c.Arch):
		return c, fmt.Errorf("nn: unknown architecture %q (known: %v)", c.Arch, Archs)
	case c.Head != HeadLinear && c.Head != HeadT2FNorm:
		return c, fmt.Errorf("nn: unknown head %q (known: %s, %s)", c.Head, HeadLinear, HeadT2FNorm)
	case c.Classes < 1:
		return c, fmt.Errorf("nn: %d classes, want at least 1", c.Classes)
	case c.InChannels < 1:
		return c, fmt.Errorf("nn: %d input channels, want at least 1", c.InChannels)
	case !(c.Width > 0) || c.Width > MaxWidth:
		return c, fmt.Errorf("nn: width multiplier %v, want a number in (0, %d]", c.Width, MaxWidth)
	case c.Classes > MaxClasses:
		return c, fmt.Errorf("nn: %d classes, at most %d", c.Classes, MaxClasses)
	case c.ImageSize > MaxImageSize || c.InChannels > 4:
		return c, fmt.Errorf("nn: image size %d with %d channels, at most %d and 4", c.ImageSize, c.InChannels, MaxImageSize)
	case c.Arch == ArchLeNet && c.Width != 1:
		return c, fmt.Errorf("nn: lenet has no width multiplier (got %v)", c.Width)
	case c.Arch == ArchSmallResNet && c.Width != 1:
		return c, fmt.Errorf("nn: small_resnet has fixed widths 16-32-64 (got width %v)", c.Width)
	case c.Arch == ArchLeNet && c.ImageSize != 28:
		return c, fmt.Errorf("nn: lenet needs 28×28 input (its classifier takes 120 = 120×1×1 features), got image size %d", c.ImageSize)
	case c.ImageSize < 1:
		return c, fmt.Errorf("nn: image size %d, want at least 1", c.ImageSize)
	case c.Head == HeadT2FNorm && (!(c.Tau > 0) || math.IsInf(float64(c.Tau), 0)):
		return c, fmt.Errorf("nn: T2FNorm tau %v, want a positive number", c.Tau)
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Model is a backbone plus a head on one backend. Its tensors (parameters,
// gradients, activations, outputs) live on that backend. A Model is not safe
// for concurrent use.
type Model struct {
	cfg     Config
	be      backend.Backend
	bb      backbone
	fcW     *Param
	fcB     *Param
	params  []*Param
	entries []entry
	tau     float32 // T2FNorm's τ (the state_dict buffer "tau")

	x                        *backend.Tensor // input of the last forward
	feat                     *backend.Tensor
	g, norms, h              *backend.Tensor // T2FNorm: normalised feature/τ, ‖f‖, f/τ
	logits, ood, dlogits, dg *backend.Tensor
	df                       *backend.Tensor
	dx                       *backend.Tensor // the last InputGradient (a pool buffer)
	hostIn                   *backend.Tensor
	hostZ, hostGrad          []float32       // host logits and dlogits of the host-side losses (loss.go)
	grads                    *gradPool       // gradient buffers shared by all layers
	acts                     *actPool        // activation buffers of Infer
	gt                       *gradTape       // GradForward's kept activations (evalgrad.go)
	inferFeat                *backend.Tensor // the feature of the last Infer
	inferBudget              int             // inferChunk's budget when > 0 (tests), else inferChunkBudget
	train                    bool            // the last forward ran in training mode
	ready                    bool            // a training forward awaits its backward
	evalGrad                 bool            // an eval forward awaits InputGradient
	tapped                   bool            // the last forward was ForwardTaps (VisitTaps may read the taps)
}

// Output is what Forward returns. The tensors belong to the model and are
// overwritten by the next Forward.
type Output struct {
	Logits    *backend.Tensor // (N, classes): the training/classification forward
	OODLogits *backend.Tensor // (N, classes): T2FNorm W·f/τ + b (W·f + b when classes == 1000); linear head: = Logits
	Feature   *backend.Tensor // (N, F): the penultimate feature f
}

// New builds the network described by cfg on be, initialised as PyTorch
// initialises it (see docs/engine.md) from a generator seeded with seed.
func New(be backend.Backend, cfg Config, seed uint64) (*Model, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if be == nil {
		return nil, errors.New("nn: nil backend")
	}
	bd := &builder{be: be, pool: newGradPool(be), rng: rand.New(rand.NewPCG(seed, 0x7432666e6f726d))}
	m := &Model{cfg: cfg, be: be, tau: cfg.Tau, grads: bd.pool}
	prefix := ""
	if cfg.Head == HeadT2FNorm {
		prefix = BackbonePrefix
		bd.entries = append(bd.entries, entry{name: TauBuffer, scalar: &m.tau})
	}
	w := func(base int) int { return scaled(base, cfg.Width) }
	widths := []int{w(64), w(128), w(256), w(512)}
	switch cfg.Arch {
	case ArchLeNet:
		m.bb = newLeNet(bd, prefix, cfg.InChannels)
	case ArchResNet18_32:
		m.bb = newResNet32(bd, prefix, cfg.InChannels, widths, []int{2, 2, 2, 2})
	case ArchSmallResNet:
		m.bb = newResNet32(bd, prefix, cfg.InChannels, []int{16, 32, 64}, []int{1, 1, 1})
	case ArchResNet18_224:
		m.bb = newResNetTV(bd, prefix, cfg.InChannels, widths, []int{2, 2, 2, 2}, false)
	case ArchResNet50:
		m.bb = newResNetTV(bd, prefix, cfg.InChannels, widths, []int{3, 4, 6, 3}, true)
	}
	fc := newLinear(bd, prefix+"fc", m.bb.featureSize(), cfg.Classes)
	m.fcW, m.fcB = fc.w, fc.b
	m.params, m.entries = bd.params, bd.entries
	return m, nil
}

// Config returns the model's configuration with defaults filled in.
func (m *Model) Config() Config { return m.cfg }

// Backend returns the backend the model's tensors live on.
func (m *Model) Backend() backend.Backend { return m.be }

// FeatureSize is the length of the penultimate feature f.
func (m *Model) FeatureSize() int { return m.bb.featureSize() }

// Tau is T2FNorm's τ (after Load, the checkpoint's value); 0 for the linear head.
func (m *Model) Tau() float32 { return m.tau }

// Params returns the trainable parameters in state_dict order, with their
// full state_dict names. Backward overwrites every Grad.
func (m *Model) Params() []*Param { return m.params }

// InputShape is the input shape for a batch of n images: [n C S S].
func (m *Model) InputShape(n int) backend.Shape {
	return backend.Shape{n, m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ImageSize}
}

// guard turns a panic inside the engine into an error, so none escapes the
// public API.
func guard(op string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("nn: %s: internal error: %v", op, r)
	}
}

// ForwardHost uploads a host batch (NCHW, len = n·C·S·S) into a reused
// input tensor and runs Forward on it.
func (m *Model) ForwardHost(x []float32, train bool) (Output, error) {
	per := m.InputShape(1).Numel()
	if len(x) == 0 || len(x)%per != 0 {
		return Output{}, fmt.Errorf("nn: forward: %d input values is not a whole number of %v images", len(x), m.InputShape(1)[1:])
	}
	in := ensure(m.be, &m.hostIn, m.InputShape(len(x)/per)...)
	m.be.Upload(in, x)
	return m.Forward(in, train)
}

// Forward runs the network on x (N, C, S, S). In training mode BatchNorm
// uses (and updates) batch statistics and the activations are kept for
// Backward; in eval mode BatchNorm uses its running statistics.
func (m *Model) Forward(x *backend.Tensor, train bool) (out Output, err error) {
	defer guard("forward", &err)
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || !s[1:].Equal(m.InputShape(1)[1:]) {
		return Output{}, fmt.Errorf("nn: forward: input %v, want [N %d %d %d] for %s", s, m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ImageSize, m.cfg.Arch)
	}
	n := s[0]
	if o := m.bb.outSize(m.cfg.ImageSize); train && n*o*o <= 1 {
		return Output{}, fmt.Errorf("nn: forward: training BatchNorm on input %v sees one value per channel in the last stage; use a batch of at least 2", s)
	}
	m.ready, m.evalGrad, m.tapped = false, false, false
	if m.x != nil && m.x.Shape()[0] != n {
		m.grads.reset() // gradients of the old batch size would only linger
	}
	m.x, m.train = x, train
	out, err = m.head(m.bb.forward(x, train))
	if err != nil {
		if m.be.NonFinite(x) {
			return Output{}, fmt.Errorf("nn: forward: input %v contains NaN or Inf", s)
		}
		return Output{}, fmt.Errorf("nn: forward: %v batch: %w", s, err)
	}
	m.ready, m.evalGrad = train, !train
	return out, nil
}

// head runs the classifier on the feature f (N, F) and checks the outputs
// are finite.
func (m *Model) head(f *backend.Tensor) (out Output, err error) {
	m.feat = f
	n, k := f.Shape()[0], m.cfg.Classes
	logits := ensure(m.be, &m.logits, n, k)
	switch m.cfg.Head {
	case HeadLinear:
		m.be.LinearForward(f, m.fcW.Value, m.fcB.Value, logits, false)
		out = Output{Logits: logits, OODLogits: logits, Feature: f}
	case HeadT2FNorm:
		fs := f.Shape()
		g := ensure(m.be, &m.g, fs...)
		norms := ensure(m.be, &m.norms, n)
		m.be.RowNormalize(f, g, norms, m.tau, normEps)
		m.be.LinearForward(g, m.fcW.Value, m.fcB.Value, logits, false)
		ood := ensure(m.be, &m.ood, n, k)
		hin := f
		if k != 1000 { // OpenOOD: no temperature for ImageNet-1k fine-tuning
			hin = ensure(m.be, &m.h, fs...)
			m.be.DivScalar(f, hin, m.tau)
		}
		m.be.LinearForward(hin, m.fcW.Value, m.fcB.Value, ood, false)
		out = Output{Logits: logits, OODLogits: ood, Feature: f}
	}
	if m.be.NonFinite(out.Logits) || m.be.NonFinite(out.OODLogits) || m.be.NonFinite(f) {
		return Output{}, fmt.Errorf("non-finite activations (NaN or Inf) in the feature or logits: %w", ErrDiverged)
	}
	return out, nil
}

// CrossEntropy is the mean softmax cross-entropy of the last Forward's
// Logits against labels (one per image, in [0, classes)). It returns the loss
// and dlogits = ∂loss/∂logits (owned by the model) for Backward.
func (m *Model) CrossEntropy(labels []int32) (loss float64, dlogits *backend.Tensor, err error) {
	defer guard("cross-entropy", &err)
	if m.logits == nil || m.feat == nil {
		return 0, nil, errors.New("nn: cross-entropy: no forward pass yet")
	}
	n, k := m.logits.Shape()[0], m.cfg.Classes
	if len(labels) != n {
		return 0, nil, fmt.Errorf("nn: cross-entropy: %d labels for logits %v", len(labels), m.logits.Shape())
	}
	for i, l := range labels {
		if l < 0 || int(l) >= k {
			return 0, nil, fmt.Errorf("nn: cross-entropy: label %d of image %d outside [0, %d)", l, i, k)
		}
	}
	d := ensure(m.be, &m.dlogits, n, k)
	loss = m.be.SoftmaxCrossEntropy(m.logits, labels, d)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, nil, fmt.Errorf("nn: cross-entropy: loss is %v: %w", loss, ErrDiverged)
	}
	return loss, d, nil
}

// Backward back-propagates dlogits (N, classes), the gradient of the loss
// with respect to the last training Forward's Logits, and overwrites every
// parameter's Grad.
func (m *Model) Backward(dlogits *backend.Tensor) (err error) {
	defer guard("backward", &err)
	if !m.ready {
		return errors.New("nn: backward: no training forward pass to differentiate (call Forward with train=true first, once per Backward)")
	}
	want := m.logits.Shape()
	if !dlogits.Shape().Equal(want) {
		return fmt.Errorf("nn: backward: dlogits %v, want %v", dlogits.Shape(), want)
	}
	if m.be.NonFinite(dlogits) {
		return fmt.Errorf("nn: backward: dlogits contains NaN or Inf: %w", ErrDiverged)
	}
	m.ready = false
	f := m.feat
	df := ensure(m.be, &m.df, f.Shape()...)
	switch m.cfg.Head {
	case HeadLinear:
		m.be.LinearBackward(f, m.fcW.Value, dlogits, df, m.fcW.Grad, m.fcB.Grad)
	case HeadT2FNorm:
		dg := ensure(m.be, &m.dg, f.Shape()...)
		m.be.LinearBackward(m.g, m.fcW.Value, dlogits, dg, m.fcW.Grad, m.fcB.Grad)
		m.be.RowNormalizeBackward(f, m.norms, dg, df, m.tau, normEps)
	}
	m.bb.backward(df, false)
	return nil
}
