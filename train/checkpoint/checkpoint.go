package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/nn"
)

// ErrSettings marks an error in the settings given (Options) or missing
// from them: a contradiction with the file, or a file that needs a setting
// it does not state. The CLI reports it as a usage error.
var ErrSettings = errors.New("checkpoint: settings")

// settingsError is an ErrSettings with its message.
type settingsError struct{ msg string }

func (e settingsError) Error() string        { return e.msg }
func (e settingsError) Is(target error) bool { return target == ErrSettings }

func settingsf(format string, args ...any) error {
	return settingsError{fmt.Sprintf(format, args...)}
}

// Options are the caller's settings (the flags); a zero field is not given.
type Options struct {
	Arch          string  // --model
	Width         float64 // --width
	Head          string  // --head
	Tau           float64 // --tau: required for a T2FNorm file that stores no τ; else must equal the file's
	Normalization string  // --normalization: an augment preset (cifar10, cifar100, imagenet200, imagenet1k, mnist, …)
	// Data are the inputs the model will run on (at least one): their image
	// size and channels, and the ID dataset (the first with one class name
	// per output) for the class names and OpenOOD's normalisation rule.
	Data []shards.Meta
}

// Model is the model a checkpoint describes, resolved against Options.
type Model struct {
	Path   string
	Format string // "safetensors" or "pth"
	SHA256 string // of the file, recorded in every feature file
	// Config is complete: architecture, width, head, τ (the file's when it
	// stores one), classes, input channels and image size.
	Config nn.Config
	// From says where the network settings came from, for messages: the
	// metadata, config.yaml, the tensor names and shapes, or the options.
	From string
	// Classes are the ID class names (nil when no input has one name per
	// output).
	Classes []string
	// Method is the training method (ce, t2fnorm, logitnorm, oe, …) from
	// the checkpoint's metadata or config.yaml; "" when unknown.
	Method string
	// Normalization is the augment preset of the test transform and
	// NormalizationFrom where it came from.
	Normalization, NormalizationFrom string

	tensors []safetensors.Tensor
}

// Open reads the checkpoint at path and resolves the model it describes
// (see the package documentation for the order). Errors wrapping
// ErrSettings are the caller's to fix with a setting; the rest concern the
// files.
func Open(path string, o Options) (*Model, error) {
	if len(o.Data) == 0 {
		return nil, errors.New("checkpoint: no inputs to run the model on")
	}
	ts, format, md, err := nn.ReadWeights(path, pth.DefaultMaxBytes)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	sum, err := shards.FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	m := &Model{Path: path, Format: format, SHA256: sum, tensors: ts}
	if err := m.resolve(md, o); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) resolve(md map[string]string, o Options) error {
	cfg := &m.Config
	desc, descErr := nn.Describe(m.tensors)
	known := map[string]string{} // setting → the file that states it
	var trainedSize int
	c, err := nn.ConfigFromMetadata(md)
	if _, ok := md[nn.MetaArch]; ok && err != nil {
		return fmt.Errorf("checkpoint: %s metadata: %w", m.Path, err) // e.g. a width beyond nn.MaxWidth
	}
	if err == nil {
		*cfg = c
		trainedSize = c.ImageSize
		for _, k := range []string{"model", "width", "head", "tau"} {
			known[k] = m.Path + " metadata"
		}
		m.From = "checkpoint metadata"
	}
	m.Method = md[train.MetaMethod]
	cfgPath := filepath.Join(filepath.Dir(m.Path), train.ConfigFile)
	run, err := train.ReadConfig(cfgPath)
	switch {
	case err == nil:
		cfg.Arch, cfg.Width, cfg.Head, cfg.Tau = run.Model, run.Width, run.Head, float32(run.Tau)
		m.Method = run.Method()
		if run.InChannels > 0 {
			cfg.InChannels = run.InChannels
		}
		if run.Normalization != "" && run.Normalization != train.NormalizationAuto {
			m.Normalization, m.NormalizationFrom = run.Normalization, cfgPath
			known["normalization"] = cfgPath
		}
		for _, k := range []string{"model", "width", "head", "tau"} {
			known[k] = cfgPath
		}
		m.From = cfgPath
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("checkpoint: %w", err)
	}
	if desc.Tau > 0 {
		known["tau"] = m.Path + " (its tau)"
	}
	conflict := func(flag, got, want string) error {
		return settingsf("features: --%s %s contradicts %s (%s); drop the flag", flag, got, known[flag], want)
	}
	if o.Arch != "" {
		if _, ok := known["model"]; ok && o.Arch != cfg.Arch {
			return conflict("model", o.Arch, cfg.Arch)
		}
		cfg.Arch = o.Arch
	}
	if o.Width != 0 {
		if _, ok := known["width"]; ok && o.Width != cfg.Width {
			return conflict("width", fmt.Sprint(o.Width), fmt.Sprint(cfg.Width))
		}
		cfg.Width = o.Width
	}
	if o.Head != "" {
		if _, ok := known["head"]; ok && o.Head != cfg.Head {
			return conflict("head", o.Head, cfg.Head)
		}
		if desc.Tau > 0 && o.Head != nn.HeadT2FNorm {
			return settingsf("features: --head %s contradicts %s: it holds tau and the network under backbone. (fc.weight included), an OpenOOD T2FNormNet; drop the flag",
				o.Head, m.Path)
		}
		cfg.Head = o.Head
	}
	if o.Normalization != "" {
		if _, ok := known["normalization"]; ok && !samePreset(o.Normalization, m.Normalization) {
			return conflict("normalization", o.Normalization, m.Normalization)
		}
		m.Normalization, m.NormalizationFrom = o.Normalization, "--normalization"
	}

	// What the options and files leave open comes from the names and shapes.
	if cfg.Arch == "" || cfg.Head == "" || (cfg.Width == 0 && cfg.Arch == desc.Arch) {
		if descErr != nil {
			if cfg.Arch == "" {
				return settingsError{fmt.Sprintf("features: %s has no t2f metadata and there is no %s beside it, and its network cannot be told: %v; give --model and --head if it is one of t2f's networks",
					m.Path, train.ConfigFile, descErr)}
			}
			return fmt.Errorf("checkpoint: %s: %w", m.Path, descErr)
		}
		inferred := false
		if cfg.Arch == "" {
			cfg.Arch, inferred = desc.Arch, true
		}
		if cfg.Width == 0 && cfg.Arch == desc.Arch {
			cfg.Width, inferred = desc.Width, true
		}
		if cfg.Head == "" {
			switch {
			case desc.Tau > 0:
				cfg.Head = nn.HeadT2FNorm
			case desc.Backbone && o.Tau > 0:
				cfg.Head = nn.HeadT2FNorm
			case desc.Backbone:
				return settingsf("features: %s holds its network under backbone. but no tau: an OpenOOD T2FNormNet checkpoint saved without τ. "+
					"Give --tau with the τ it was trained with (OpenOOD's T2FNorm recipe: 0.1), or --head linear if it is a plain network under another wrapper", m.Path)
			default:
				cfg.Head = nn.HeadLinear
			}
			inferred = true
		}
		if cfg.InChannels == 0 {
			cfg.InChannels = desc.InChannels
		}
		if inferred {
			if m.From == "" {
				m.From = "the tensor names and shapes"
			} else {
				m.From += " and the tensor names and shapes"
			}
		}
	}
	if m.From == "" {
		m.From = "flags"
	}

	// τ: the file's when it stores one (a flag must agree), else the
	// settings', else it must be given.
	if cfg.Head == nn.HeadT2FNorm {
		switch {
		case desc.Tau > 0:
			if o.Tau != 0 && o.Tau != roundTau(desc.Tau) {
				return settingsf("features: --tau %g contradicts the checkpoint's tau %g, which the network uses; drop the flag", o.Tau, roundTau(desc.Tau))
			}
			cfg.Tau = desc.Tau
		case o.Tau != 0:
			if _, ok := known["tau"]; ok && float32(o.Tau) != cfg.Tau {
				return conflict("tau", fmt.Sprint(o.Tau), fmt.Sprint(roundTau(cfg.Tau)))
			}
			cfg.Tau = float32(o.Tau)
		case cfg.Tau == 0:
			return settingsf("features: %s is a T2FNorm checkpoint that stores no tau: give --tau, the τ it was trained with (OpenOOD's T2FNorm recipe: 0.1)", m.Path)
		}
	} else {
		cfg.Tau = 0
	}

	// Classes from fc; image size and channels from the inputs.
	if descErr == nil {
		if cfg.Classes != 0 && cfg.Classes != desc.Classes {
			return fmt.Errorf("checkpoint: %s: metadata says %d classes, fc.weight has %d rows", m.Path, cfg.Classes, desc.Classes)
		}
		cfg.Classes = desc.Classes
	} else if cfg.Classes == 0 {
		fc, err := m.tensor(nn.FCWeight)
		if err != nil {
			return fmt.Errorf("checkpoint: %s %q head: %w", cfg.Arch, cfg.Head, err)
		}
		if len(fc.Shape) != 2 {
			return fmt.Errorf("checkpoint: %s: fc.weight has shape %v, want [classes features]", m.Path, fc.Shape)
		}
		cfg.Classes = fc.Shape[0]
	}
	data := o.Data[0]
	for _, d := range o.Data {
		if len(d.Classes) == cfg.Classes {
			data, m.Classes = d, d.Classes
			break
		}
	}
	if data.Height != data.Width {
		return fmt.Errorf("checkpoint: the shards hold %d×%d images; the models take square inputs", data.Height, data.Width)
	}
	if trainedSize != 0 && trainedSize != data.Height {
		return fmt.Errorf("checkpoint: %s was trained on %d×%d inputs, the shards hold %d×%d images", m.Path, trainedSize, trainedSize, data.Height, data.Width)
	}
	cfg.ImageSize = data.Height
	if cfg.InChannels == 0 {
		cfg.InChannels = data.Channels
	}
	if cfg.Width == 0 {
		cfg.Width = 1
	}
	if m.Normalization == "" {
		m.Normalization = train.NormalizationFor(data.Dataset)
		m.NormalizationFrom = fmt.Sprintf("OpenOOD's choice for the ID dataset %q", data.Dataset)
	}
	if _, err := augment.Preset(m.Normalization); err != nil {
		return settingsf("features: --normalization: %v", err)
	}
	if _, err := cfg.Resolve(); err != nil {
		return settingsf("features: model from %s: %v", m.From, err)
	}
	return nil
}

// tensor returns the file's tensor called name after the wrapper prefixes.
func (m *Model) tensor(name string) (*safetensors.Tensor, error) {
	for i := range m.tensors {
		if n, _ := nn.StripPrefixes(m.tensors[i].Name); n == name {
			return &m.tensors[i], nil
		}
	}
	return nil, fmt.Errorf("%s has no tensor %q", m.Path, name)
}

// New builds the model on be and loads the checkpoint's weights into it:
// every tensor, the classifier included, with the model's shape; the file
// holding no other name.
func (m *Model) New(be backend.Backend) (*nn.Model, error) {
	net, err := nn.New(be, m.Config, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: model from %s: %w", m.From, err)
	}
	rep, err := net.LoadPretrainedTensors(m.Path, m.tensors)
	if err == nil && !rep.FCLoaded {
		err = errors.New(rep.FCSkipped)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: load %s as %s (%s head, width %g, from %s): %w",
			m.Path, m.Config.Arch, m.Config.Head, m.Config.Width, m.From, err)
	}
	return net, nil
}

// Head returns the classifier's fc.weight (C×D, row-major) and fc.bias.
func (m *Model) Head() (weight, bias []float32, err error) {
	for name, dst := range map[string]*[]float32{nn.FCWeight: &weight, nn.FCBias: &bias} {
		t, err := m.tensor(name)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint: %w", err)
		}
		if *dst, err = pth.Float32s(t); err != nil {
			return nil, nil, fmt.Errorf("checkpoint: %s: %w", m.Path, err)
		}
	}
	return weight, bias, nil
}

// Tau is τ as the shortest decimal of its float32 value (0.1, not
// 0.10000000149011612); 1 for a linear head.
func (m *Model) Tau() float64 {
	if m.Config.Head != nn.HeadT2FNorm {
		return 1
	}
	return roundTau(m.Config.Tau)
}

func roundTau(t float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(t), 'g', -1, 32), 64)
	return v
}

// samePreset reports whether two preset names give the same constants
// (imagenet200 and imagenet do).
func samePreset(a, b string) bool {
	pa, errA := augment.Preset(a)
	pb, errB := augment.Preset(b)
	return errA == nil && errB == nil && slices.Equal(pa.Mean, pb.Mean) && slices.Equal(pa.Std, pb.Std)
}
