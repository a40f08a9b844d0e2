package nn

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend"
)

// Metadata keys a t2f checkpoint carries (safetensors "__metadata__"), so a
// checkpoint describes its own network. PyTorch state_dicts lack them; pass
// the Config explicitly then.
const (
	MetaArch       = "t2f.arch"
	MetaWidth      = "t2f.width"
	MetaInChannels = "t2f.in_channels"
	MetaImageSize  = "t2f.image_size"
	MetaClasses    = "t2f.classes"
	MetaHead       = "t2f.head"
	MetaTau        = "t2f.tau"
)

// StateDict returns the model's state under OpenOOD's state_dict names:
// parameters and BatchNorm running statistics as F32, num_batches_tracked as
// I64 scalars and, for T2FNorm, the F32 scalar "tau". Values are host copies.
func (m *Model) StateDict() (ts []safetensors.Tensor, err error) {
	defer guard("state dict", &err)
	for _, e := range m.entries {
		switch {
		case e.count != nil:
			ts = append(ts, safetensors.FromInt64s(e.name, []int{}, []int64{*e.count}))
		case e.scalar != nil:
			ts = append(ts, safetensors.FromFloat32s(e.name, []int{}, []float32{*e.scalar}))
		default:
			h := make([]float32, e.t.Numel())
			m.be.Download(h, e.t)
			ts = append(ts, safetensors.FromFloat32s(e.name, e.t.Shape(), h))
		}
	}
	return ts, nil
}

// Metadata returns the checkpoint metadata describing m's Config.
func (m *Model) Metadata() map[string]string {
	c := m.cfg
	md := map[string]string{
		MetaArch:       c.Arch,
		MetaWidth:      strconv.FormatFloat(c.Width, 'g', -1, 64),
		MetaInChannels: strconv.Itoa(c.InChannels),
		MetaImageSize:  strconv.Itoa(c.ImageSize),
		MetaClasses:    strconv.Itoa(c.Classes),
		MetaHead:       c.Head,
	}
	if c.Head == HeadT2FNorm {
		md[MetaTau] = strconv.FormatFloat(float64(m.tau), 'g', -1, 32)
	}
	return md
}

// Save writes the model's state dict to path as safetensors (atomically),
// with Metadata plus extra (extra may be nil; its keys win).
func (m *Model) Save(path string, extra map[string]string) error {
	ts, err := m.StateDict()
	if err != nil {
		return err
	}
	md := m.Metadata()
	for k, v := range extra {
		md[k] = v
	}
	if err := safetensors.Write(path, ts, md); err != nil {
		return fmt.Errorf("nn: save %q: %w", path, err)
	}
	return nil
}

// Load reads a safetensors state dict (a t2f checkpoint, or a PyTorch
// state_dict saved with safetensors.torch.save_file) into m; see
// LoadStateDict.
func (m *Model) Load(path string) error {
	f, err := safetensors.Read(path)
	if err != nil {
		return fmt.Errorf("nn: load: %w", err)
	}
	if err := m.LoadStateDict(f); err != nil {
		return fmt.Errorf("nn: load %q: %w", path, err)
	}
	return nil
}

// LoadStateDict copies f's tensors into m. Every name of m's state dict must
// be present with its dtype and shape, and f must hold no other name; the
// first mismatch (in state_dict order, then extra names in sorted order) is
// the error, and m is unchanged unless everything matches. For T2FNorm the
// loaded "tau" replaces the model's τ.
func (m *Model) LoadStateDict(f *safetensors.File) (err error) {
	defer guard("load state dict", &err)
	want := map[string]bool{}
	type load struct {
		e   entry
		f32 []float32
		i64 int64
	}
	loads := make([]load, 0, len(m.entries))
	for _, e := range m.entries {
		want[e.name] = true
		t, err := f.Tensor(e.name)
		if err != nil {
			return fmt.Errorf("nn: checkpoint has no tensor %q (a %s %s)", e.name, entryDType(e), entryShape(e))
		}
		if t.DType != entryDType(e) {
			return fmt.Errorf("nn: checkpoint tensor %q has dtype %s, want %s", e.name, t.DType, entryDType(e))
		}
		if !backend.Shape(t.Shape).Equal(entryShape(e)) {
			return fmt.Errorf("nn: checkpoint tensor %q has shape %v, want %v", e.name, backend.Shape(t.Shape), entryShape(e))
		}
		l := load{e: e}
		if e.count != nil {
			v, err := t.Int64s()
			if err != nil {
				return fmt.Errorf("nn: checkpoint tensor %q: %w", e.name, err)
			}
			l.i64 = v[0]
		} else {
			v, err := t.Float32s()
			if err != nil {
				return fmt.Errorf("nn: checkpoint tensor %q: %w", e.name, err)
			}
			for i, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("nn: checkpoint tensor %q holds %v at index %d", e.name, x, i)
				}
			}
			if e.scalar != nil && !(v[0] > 0) {
				return fmt.Errorf("nn: checkpoint tau is %v, want a positive number", v[0])
			}
			l.f32 = v
		}
		loads = append(loads, l)
	}
	var extra []string
	for _, name := range f.Names() {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		hint := ""
		if extra[0] == TauBuffer || len(extra[0]) > len(BackbonePrefix) && strings.HasPrefix(extra[0], BackbonePrefix) {
			hint = " (a T2FNorm checkpoint: build the model with head t2fnorm)"
		}
		return fmt.Errorf("nn: checkpoint has unexpected tensor %q (%d unexpected in all)%s", extra[0], len(extra), hint)
	}
	for _, l := range loads {
		switch {
		case l.e.count != nil:
			*l.e.count = l.i64
		case l.e.scalar != nil:
			*l.e.scalar = l.f32[0]
		default:
			m.be.Upload(l.e.t, l.f32)
		}
	}
	return nil
}

func entryDType(e entry) string {
	if e.count != nil {
		return safetensors.I64
	}
	return safetensors.F32
}

func entryShape(e entry) backend.Shape {
	if e.count != nil || e.scalar != nil {
		return backend.Shape{}
	}
	return e.t.Shape()
}

// ConfigFromMetadata rebuilds the Config a t2f checkpoint was saved with.
func ConfigFromMetadata(md map[string]string) (Config, error) {
	var c Config
	get := func(k string) (string, error) {
		v, ok := md[k]
		if !ok {
			return "", fmt.Errorf("nn: checkpoint metadata has no %q (not a t2f checkpoint? give the model configuration explicitly)", k)
		}
		return v, nil
	}
	var err error
	if c.Arch, err = get(MetaArch); err != nil {
		return c, err
	}
	if c.Head, err = get(MetaHead); err != nil {
		return c, err
	}
	ints := []struct {
		key string
		dst *int
	}{{MetaInChannels, &c.InChannels}, {MetaImageSize, &c.ImageSize}, {MetaClasses, &c.Classes}}
	for _, it := range ints {
		v, err := get(it.key)
		if err != nil {
			return c, err
		}
		if *it.dst, err = strconv.Atoi(v); err != nil {
			return c, fmt.Errorf("nn: checkpoint metadata %s = %q: %w", it.key, v, err)
		}
	}
	v, err := get(MetaWidth)
	if err != nil {
		return c, err
	}
	if c.Width, err = strconv.ParseFloat(v, 64); err != nil {
		return c, fmt.Errorf("nn: checkpoint metadata %s = %q: %w", MetaWidth, v, err)
	}
	if c.Head == HeadT2FNorm {
		v, err := get(MetaTau)
		if err != nil {
			return c, err
		}
		t, err := strconv.ParseFloat(v, 32)
		if err != nil {
			return c, fmt.Errorf("nn: checkpoint metadata %s = %q: %w", MetaTau, v, err)
		}
		c.Tau = float32(t)
	}
	return c.withDefaults()
}

// SaveState writes the optimiser's momentum buffers (named
// "<param name>.momentum_buffer") and step count, plus the caller's
// training position in meta (e.g. epoch, step), to path atomically. It is
// the companion of Model.Save for exact resumption.
func (o *SGD) SaveState(path string, meta map[string]string) (err error) {
	defer guard("save optimiser state", &err)
	ts, md, err := o.State(meta)
	if err != nil {
		return err
	}
	if err := safetensors.Write(path, ts, md); err != nil {
		return fmt.Errorf("nn: save optimiser state %q: %w", path, err)
	}
	return nil
}

// State returns what SaveState writes: the momentum buffers, named
// "<param>.momentum_buffer", and the metadata (the optimiser's t2f.* keys
// plus meta), so a caller can store them in a file of its own next to
// other tensors; LoadStateFile reads them back.
func (o *SGD) State(meta map[string]string) (ts []safetensors.Tensor, md map[string]string, err error) {
	defer guard("save optimiser state", &err)
	md = map[string]string{
		"t2f.optimizer":    "sgd",
		"t2f.steps":        strconv.FormatInt(o.steps, 10),
		"t2f.momentum":     strconv.FormatFloat(float64(o.cfg.Momentum), 'g', -1, 32),
		"t2f.weight_decay": strconv.FormatFloat(float64(o.cfg.WeightDecay), 'g', -1, 32),
		"t2f.nesterov":     strconv.FormatBool(o.cfg.Nesterov),
	}
	for k, v := range meta {
		if strings.HasPrefix(k, "t2f.") {
			return nil, nil, fmt.Errorf("nn: save optimiser state: metadata key %q: the t2f. prefix is reserved", k)
		}
		md[k] = v
	}
	for i, p := range o.params {
		if o.bufs == nil {
			break
		}
		h := make([]float32, p.Value.Numel())
		o.be.Download(h, o.bufs[i])
		ts = append(ts, safetensors.FromFloat32s(p.Name+".momentum_buffer", p.Value.Shape(), h))
	}
	return ts, md, nil
}

// LoadState restores what SaveState wrote and returns the caller's metadata
// (the t2f.* keys removed). The optimiser configuration must match.
func (o *SGD) LoadState(path string) (meta map[string]string, err error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, fmt.Errorf("nn: load optimiser state: %w", err)
	}
	return o.LoadStateFile(f, nil)
}

// LoadStateFile is LoadState on a file already read; tensors for which
// other returns true belong to the caller and are ignored (other may be
// nil: then f must hold the optimiser's tensors only).
func (o *SGD) LoadStateFile(f *safetensors.File, other func(name string) bool) (meta map[string]string, err error) {
	defer guard("load optimiser state", &err)
	path := f.Source
	md := f.Metadata
	if md["t2f.optimizer"] != "sgd" {
		return nil, fmt.Errorf("nn: load optimiser state %q: not a t2f SGD state file", path)
	}
	steps, err := strconv.ParseInt(md["t2f.steps"], 10, 64)
	if err != nil || steps < 0 {
		return nil, fmt.Errorf("nn: load optimiser state %q: bad step count %q", path, md["t2f.steps"])
	}
	cfgWant := map[string]string{
		"t2f.momentum":     strconv.FormatFloat(float64(o.cfg.Momentum), 'g', -1, 32),
		"t2f.weight_decay": strconv.FormatFloat(float64(o.cfg.WeightDecay), 'g', -1, 32),
		"t2f.nesterov":     strconv.FormatBool(o.cfg.Nesterov),
	}
	for _, k := range []string{"t2f.momentum", "t2f.weight_decay", "t2f.nesterov"} {
		if md[k] != cfgWant[k] {
			return nil, fmt.Errorf("nn: load optimiser state %q: %s is %q, this optimiser has %q", path, k, md[k], cfgWant[k])
		}
	}
	bufs := make([][]float32, len(o.params))
	want := map[string]bool{}
	for i, p := range o.params {
		if o.bufs == nil {
			break
		}
		name := p.Name + ".momentum_buffer"
		want[name] = true
		t, err := f.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("nn: load optimiser state %q: no tensor %q", path, name)
		}
		if t.DType != safetensors.F32 || !backend.Shape(t.Shape).Equal(p.Value.Shape()) {
			return nil, fmt.Errorf("nn: load optimiser state %q: tensor %q is %s %v, want F32 %v", path, name, t.DType, backend.Shape(t.Shape), p.Value.Shape())
		}
		if bufs[i], err = t.Float32s(); err != nil {
			return nil, fmt.Errorf("nn: load optimiser state %q: %w", path, err)
		}
	}
	for _, name := range f.Names() {
		if !want[name] && (other == nil || !other(name)) {
			return nil, fmt.Errorf("nn: load optimiser state %q: unexpected tensor %q", path, name)
		}
	}
	for i := range bufs {
		if o.bufs != nil {
			o.be.Upload(o.bufs[i], bufs[i])
		}
	}
	o.steps = steps
	meta = map[string]string{}
	for k, v := range md {
		if !strings.HasPrefix(k, "t2f.") {
			meta[k] = v
		}
	}
	return meta, nil
}
