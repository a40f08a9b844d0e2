package nn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend"
)

// Initialising a model from pretrained weights (fine-tuning), as OpenOOD
// does for ImageNet-1k with torchvision's ResNet-50: every backbone tensor
// comes from the file, the classifier fc only when its shape fits.

// PretrainedReport says what LoadPretrained took from a file.
type PretrainedReport struct {
	Source   string // the file
	Format   string // "pth" (torch.save) or "safetensors"
	Loaded   int    // model tensors copied from the file (fc included when loaded)
	Total    int    // tensors of the model's state_dict, tau excluded
	FCLoaded bool   // fc.weight and fc.bias came from the file
	// FCSkipped says why the fc was left at its fresh initialisation
	// ("" when it was loaded): absent from the file, or another shape
	// (fine-tuning to a different class count).
	FCSkipped string
	// ZeroCounts lists the BatchNorm num_batches_tracked buffers the file
	// lacks (torchvision's oldest weights have none); they are set to 0, as
	// PyTorch does when loading such a file.
	ZeroCounts []string
	// FileTau is the file's "tau" (a T2FNorm checkpoint), which is ignored:
	// the model keeps the τ it was built with. NaN when the file has none.
	FileTau float32
}

// String is a short human-readable summary, one line per fact.
func (r PretrainedReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "initialised from %s (%s): %d of %d tensors loaded", r.Source, r.Format, r.Loaded, r.Total)
	if r.FCLoaded {
		b.WriteString(", the fc classifier included")
	}
	if r.FCSkipped != "" {
		fmt.Fprintf(&b, "\n  fc not loaded: %s", r.FCSkipped)
	}
	if n := len(r.ZeroCounts); n > 0 {
		fmt.Fprintf(&b, "\n  %d num_batches_tracked buffers absent from the file: set to 0 (%s…)", n, r.ZeroCounts[0])
	}
	if !math.IsNaN(float64(r.FileTau)) {
		fmt.Fprintf(&b, "\n  the file's tau (%g) is ignored: the configured τ is kept", r.FileTau)
	}
	return b.String()
}

// LoadPretrained initialises m from the weights in path: a PyTorch
// checkpoint written by torch.save (read by package pth) or a safetensors
// file (a t2f best/last checkpoint, or safetensors.torch.save_file output).
// See LoadPretrainedTensors for the rules.
func (m *Model) LoadPretrained(path string) (PretrainedReport, error) {
	ts, format, md, err := ReadWeights(path, m.initByteLimit())
	if err != nil {
		return PretrainedReport{}, err
	}
	if arch, ok := md[MetaArch]; ok && arch != m.cfg.Arch {
		return PretrainedReport{}, fmt.Errorf("nn: init from %q: it is a t2f %s checkpoint, the model is %s", path, arch, m.cfg.Arch)
	}
	if w, ok := md[MetaWidth]; ok && w != strconv.FormatFloat(m.cfg.Width, 'g', -1, 64) {
		return PretrainedReport{}, fmt.Errorf("nn: init from %q: it is a checkpoint of width %s, the model has width %g", path, w, m.cfg.Width)
	}
	r, err := m.LoadPretrainedTensors(path, ts)
	r.Format = format
	return r, err
}

// ReadWeights reads path as safetensors when it looks like one (an 8-byte
// length, then '{'), else as a torch.save file (zip or legacy, through the
// restricted unpickler of formats/pth). format is "safetensors" or "pth";
// md is the safetensors metadata (nil for pth). A torch.save file may read
// at most limit bytes of storages and tensors (pth.ReadLimit).
func ReadWeights(path string, limit int64) (ts []safetensors.Tensor, format string, md map[string]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", nil, fmt.Errorf("nn: read weights: %w", err)
	}
	var head [9]byte
	n, err := io.ReadFull(f, head[:])
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, "", nil, fmt.Errorf("nn: read weights %q: %w", path, err)
	}
	if n == 9 && head[8] == '{' && !bytes.HasPrefix(head[:], []byte("PK")) {
		sf, err := safetensors.Read(path)
		if err != nil {
			return nil, "", nil, fmt.Errorf("nn: read weights: %w", err)
		}
		return sf.Tensors(), "safetensors", sf.Metadata, nil
	}
	ts, err = pth.ReadLimit(path, limit)
	if err != nil {
		return nil, "", nil, fmt.Errorf("nn: read weights: %w", err)
	}
	return ts, "pth", nil, nil
}

// Wrapper prefixes a state_dict name may carry: DataParallel's "module."
// and T2FNormNet's "backbone." (which t2f writes too: a T2FNorm model's
// backbone tensors are named BackbonePrefix + the torchvision/OpenOOD name),
// and "net." (describe.go).
const (
	prefixModule   = "module."
	BackbonePrefix = "backbone."
)

// State-dict names of the classifier head (bare for a linear head, under
// BackbonePrefix for T2FNorm) and of T2FNorm's temperature buffer, always
// bare.
const (
	FCWeight  = "fc.weight"
	FCBias    = "fc.bias"
	TauBuffer = "tau"
)

// canonical strips the wrapper prefixes (module., net., backbone., in any
// nesting) from a state_dict name.
func canonical(name string) string {
	name, _ = StripPrefixes(name)
	return name
}

// LoadPretrainedTensors initialises m from a state_dict (source names it in
// errors). Names are matched after removing the wrapper prefixes "module."
// (DataParallel) and "backbone." (OpenOOD's T2FNormNet), so torchvision,
// OpenOOD and t2f files load into either head. Rules:
//
//   - every backbone tensor of m must be in the file with m's shape, except
//     BatchNorm num_batches_tracked, which is set to 0 when absent;
//   - fc.weight and fc.bias are loaded when both are present with m's
//     shapes, otherwise both keep their fresh initialisation (fine-tuning to
//     another class count) and the report says why;
//   - "tau" is ignored: m keeps the τ of its Config;
//   - any other name in the file is an error listing the unknown names;
//   - float tensors may be F32, F64, F16 or BF16 (converted to float32) and
//     must be finite; num_batches_tracked an integer scalar.
//
// Nothing is copied unless every check passes.
func (m *Model) LoadPretrainedTensors(source string, ts []safetensors.Tensor) (rep PretrainedReport, err error) {
	defer guard("load pretrained weights", &err)
	rep = PretrainedReport{Source: source, FileTau: float32(math.NaN())}
	fail := func(format string, args ...any) (PretrainedReport, error) {
		return PretrainedReport{}, fmt.Errorf("nn: init from %q: %s", source, fmt.Sprintf(format, args...))
	}
	file := map[string]*safetensors.Tensor{}
	orig := map[string]string{}
	for i := range ts {
		t := &ts[i]
		c := canonical(t.Name)
		if prev, ok := orig[c]; ok {
			return fail("tensors %q and %q are the same after removing the module./backbone. prefixes", prev, t.Name)
		}
		file[c], orig[c] = t, t.Name
	}
	if t, ok := file[TauBuffer]; ok {
		if v, err := pth.Float32s(t); err == nil && len(v) == 1 {
			rep.FileTau = v[0]
		}
		delete(file, TauBuffer)
	}

	type load struct {
		e    entry
		f32  []float32
		i64  int64
		zero bool // a num_batches_tracked the file lacks
	}
	var loads, fc []load
	var problems []string
	used := map[string]bool{}
	var fcWhy []string
	for _, e := range m.entries {
		if e.scalar != nil { // tau
			continue
		}
		rep.Total++
		name := e.name
		if m.cfg.Head == HeadT2FNorm {
			name = strings.TrimPrefix(name, BackbonePrefix)
		}
		isFC := name == FCWeight || name == FCBias
		t, ok := file[name]
		if !ok {
			switch {
			case isFC:
				fcWhy = append(fcWhy, fmt.Sprintf("the file has no %s", name))
			case e.count != nil:
				rep.ZeroCounts = append(rep.ZeroCounts, name)
				loads = append(loads, load{e: e, zero: true})
			default:
				problems = append(problems, fmt.Sprintf("%s missing (the model's is %v)", name, entryShape(e)))
			}
			continue
		}
		used[name] = true
		if want := entryShape(e); !backend.Shape(t.Shape).Equal(want) {
			if isFC {
				fcWhy = append(fcWhy, fmt.Sprintf("%s is %v in the file, %v in the model", name, backend.Shape(t.Shape), want))
			} else {
				problems = append(problems, fmt.Sprintf("%s is %v in the file, %v in the model", name, backend.Shape(t.Shape), want))
			}
			continue
		}
		l := load{e: e}
		if e.count != nil {
			switch t.DType {
			case safetensors.I64:
				v, err := t.Int64s()
				if err != nil {
					return fail("%v", err)
				}
				l.i64 = v[0]
			case safetensors.I32:
				v, err := t.Int32s()
				if err != nil {
					return fail("%v", err)
				}
				l.i64 = int64(v[0])
			default:
				return fail("%s has dtype %s, want an integer", orig[name], t.DType)
			}
		} else {
			v, err := pth.Float32s(t)
			if err != nil {
				return fail("%s: %v", orig[name], err)
			}
			for i, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fail("%s holds %v at index %d", orig[name], x, i)
				}
			}
			l.f32 = v
		}
		if isFC {
			fc = append(fc, l)
		} else {
			loads = append(loads, l)
		}
	}
	var extra []string
	for c := range file {
		if !used[c] {
			extra = append(extra, orig[c])
		}
	}
	slices.Sort(extra)
	if len(problems) > 0 || len(extra) > 0 {
		var b strings.Builder
		if len(problems) > 0 {
			fmt.Fprintf(&b, "%d backbone tensors are missing or have another shape: %s", len(problems), firstFew(problems))
		}
		if len(extra) > 0 {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%d tensors of the file are not in the model: %s", len(extra), firstFew(extra))
		}
		return fail("%s (the file is not a %s of width %g: check --model and --width)", b.String(), m.cfg.Arch, m.cfg.Width)
	}
	if len(fcWhy) == 0 {
		loads = append(loads, fc...)
		rep.FCLoaded = true
	} else {
		rep.FCSkipped = strings.Join(fcWhy, ", ") + fmt.Sprintf("; the %d-class fc keeps its fresh initialisation", m.cfg.Classes)
	}
	for _, l := range loads {
		switch {
		case l.e.count != nil:
			*l.e.count = l.i64
		default:
			m.be.Upload(l.e.t, l.f32)
		}
		if !l.zero {
			rep.Loaded++
		}
	}
	return rep, nil
}

// firstFew joins up to five items, saying how many more there are.
func firstFew(items []string) string {
	const n = 5
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; … and %d more", len(items)-n)
}

// initByteLimit bounds what reading pretrained weights for m may allocate:
// its state dict stored as float64 (the widest dtype read), twice (the
// storages and the tensors built from them), plus 64 MiB for the rest of
// a checkpoint (another class count's fc, counters).
func (m *Model) initByteLimit() int64 {
	var n int64
	for _, e := range m.entries {
		n += int64(entryShape(e).Numel())
	}
	return 16*n + 64<<20
}
