package features

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/formats/safetensors"
)

// Importing features made elsewhere (a model t2f cannot run, dumped with
// PyTorch/JAX/NumPy): arrays by role → a Table and a Head, checked as
// strictly as extraction checks a network's outputs.

// Array names Import recognises, in order of preference for each role.
var (
	NamesFeatures  = []string{"features", "feature", "feats"}
	NamesLogits    = []string{colLogits}
	NamesLogitsOOD = []string{colLogitsOOD}
	NamesLabels    = []string{"labels", "label", "targets"}
	NamesIDs       = []string{"ids", "id"}
	NamesWeight    = []string{headWeight, "weight", "W"}
	NamesBias      = []string{headBias, "bias", "b"}
	NamesTau       = []string{headTau}
)

// Pick returns the first of ts whose name is one of names (in the order of
// names), or nil.
func Pick(ts []safetensors.Tensor, names []string) *safetensors.Tensor {
	for _, n := range names {
		for i := range ts {
			if ts[i].Name == n {
				return &ts[i]
			}
		}
	}
	return nil
}

// Arrays are one split's arrays by role. Features and Labels are required;
// the rest may be nil.
type Arrays struct {
	Source    string              // the file, for errors
	Features  *safetensors.Tensor // N×D float: the penultimate feature f
	Logits    *safetensors.Tensor // N×C float: computed from the head when nil
	LogitsOOD *safetensors.Tensor // N×C float: computed from the head when nil
	Labels    *safetensors.Tensor // N integer: class index, −1 for OOD
	IDs       *safetensors.Tensor // N integer: 0..N−1 when nil
}

// ImportHead builds a Head from the classifier's arrays: weight C×D, bias C
// and, for kind HeadT2FNorm, τ (tau, a scalar array, or the tau argument
// when the arrays have none; 1 for HeadLinear). CheckpointSHA256 is the SHA-256 of
// the weight and bias bytes (as float32), so the feature files of every
// split imported with the same head belong together.
func ImportHead(source, kind string, weight, bias, tauArr *safetensors.Tensor, tau float64) (Head, error) {
	fail := func(format string, args ...any) (Head, error) {
		return Head{}, fmt.Errorf("features: import %s: %s", source, fmt.Sprintf(format, args...))
	}
	if weight == nil || bias == nil {
		return fail("no classifier head: want arrays %s (C×D) and %s (C) (the model's last linear layer, e.g. model.fc.weight / model.fc.bias)",
			strings.Join(NamesWeight, "/"), strings.Join(NamesBias, "/"))
	}
	if len(weight.Shape) != 2 || len(bias.Shape) != 1 || bias.Shape[0] != weight.Shape[0] {
		return fail("head weight is %v and bias %v, want [C D] and [C]", weight.Shape, bias.Shape)
	}
	h := Head{Kind: kind, NumClasses: weight.Shape[0], Dim: weight.Shape[1], Tau: 1}
	var err error
	if h.Weight, err = floats(source, weight); err != nil {
		return Head{}, err
	}
	if h.Bias, err = floats(source, bias); err != nil {
		return Head{}, err
	}
	switch kind {
	case HeadLinear:
		if tauArr != nil {
			return fail("the arrays hold tau, the head is linear: give --head t2fnorm for a T2FNorm model")
		}
	case HeadT2FNorm:
		switch {
		case tauArr != nil:
			v, err := floats(source, tauArr)
			if err != nil || len(v) != 1 {
				return fail("tau is %v, want one number", tauArr.Shape)
			}
			if tau != 0 && float64(v[0]) != tau && math.Abs(float64(v[0])-tau) > 1e-6*tau {
				return fail("--tau %g contradicts the arrays' tau %g", tau, v[0])
			}
			h.Tau = float64(float32(v[0]))
		case tau > 0:
			h.Tau = tau
		default:
			return fail("a T2FNorm head needs τ: give --tau or a scalar array tau")
		}
	default:
		return fail("head kind %q, want %s or %s", kind, HeadLinear, HeadT2FNorm)
	}
	sum := sha256.New()
	for _, v := range [][]float32{h.Weight, h.Bias} {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			u := math.Float32bits(x)
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		}
		sum.Write(b)
	}
	h.CheckpointSHA256 = hex.EncodeToString(sum.Sum(nil))
	if err := h.Check(); err != nil {
		return fail("%v", err)
	}
	return h, nil
}

// floats converts a float array (F16, BF16, F32, F64) to float32.
func floats(source string, t *safetensors.Tensor) ([]float32, error) {
	v, err := pth.Float32s(t)
	if err != nil {
		return nil, fmt.Errorf("features: import %s: array %q: %w (want a float array)", source, t.Name, err)
	}
	return v, nil
}

// ints converts an integer array to int64.
func ints(source string, t *safetensors.Tensor) ([]int64, error) {
	n := t.NumElements()
	out := make([]int64, n)
	size := safetensors.DTypeSize(t.DType)
	for i := range n {
		b := t.Data[i*size : (i+1)*size]
		switch t.DType {
		case safetensors.I8:
			out[i] = int64(int8(b[0]))
		case safetensors.U8:
			out[i] = int64(b[0])
		case safetensors.I16:
			out[i] = int64(int16(uint16(b[0]) | uint16(b[1])<<8))
		case safetensors.U16:
			out[i] = int64(uint16(b[0]) | uint16(b[1])<<8)
		case safetensors.I32:
			out[i] = int64(int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24))
		case safetensors.U32:
			out[i] = int64(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		case safetensors.I64:
			var u uint64
			for k := 7; k >= 0; k-- {
				u = u<<8 | uint64(b[k])
			}
			out[i] = int64(u)
		default:
			return nil, fmt.Errorf("features: import %s: array %q has dtype %s, want an integer array", source, t.Name, t.DType)
		}
	}
	return out, nil
}

// Import builds one split's Table from a, with h the classifier head (its
// Dim and NumClasses must match): missing logits are computed from h (the
// training forward W·f/‖f‖/τ + b for T2FNorm, W·f + b for linear; the OOD
// forward W·f/τ + b), given ones must agree with h to 1e-3 relative (a
// head from another model is refused), and feature_normalized,
// feature_norm and pred are derived as extraction derives them. meta's
// Model, Width, Head, Tau and CheckpointSHA256 are taken from h.
func Import(a Arrays, h Head, meta Meta) (*Table, error) {
	fail := func(format string, args ...any) (*Table, error) {
		return nil, fmt.Errorf("features: import %s: %s", a.Source, fmt.Sprintf(format, args...))
	}
	if a.Features == nil {
		return fail("no features array: want one called %s (N×D)", strings.Join(NamesFeatures, " or "))
	}
	if a.Labels == nil {
		return fail("no labels array: want one called %s (N class indices, −1 for OOD)", strings.Join(NamesLabels, " or "))
	}
	fs := a.Features.Shape
	switch {
	case len(fs) > 2:
		return fail("features is %v: a feature map, not one vector per sample; pool it first (e.g. x.mean(dim=(2, 3)) in PyTorch, as the ResNets' global average pool does) or flatten it", fs)
	case len(fs) != 2:
		return fail("features is %v, want N×D", fs)
	case fs[0] < 1 || fs[1] < 1:
		return fail("features is %v, want at least one row and one column", fs)
	case fs[1] != h.Dim:
		return fail("features has D = %d columns, the head's weight is %d×%d", fs[1], h.NumClasses, h.Dim)
	}
	n, d, c := fs[0], fs[1], h.NumClasses
	t := &Table{Dim: d, NumClasses: c, Meta: meta}
	t.Meta.Model, t.Meta.Width, t.Meta.Head, t.Meta.Tau, t.Meta.CheckpointSHA256 = h.Model, h.Width, h.Kind, h.Tau, h.CheckpointSHA256
	if t.Meta.Classes == nil {
		t.Meta.Classes = h.Classes
	}
	var err error
	if t.Feature, err = floats(a.Source, a.Features); err != nil {
		return nil, err
	}
	if len(a.Labels.Shape) != 1 || a.Labels.Shape[0] != n {
		return fail("labels is %v, want [%d] (one per feature row)", a.Labels.Shape, n)
	}
	labels, err := ints(a.Source, a.Labels)
	if err != nil {
		return nil, err
	}
	t.Labels = make([]int32, n)
	for i, l := range labels {
		if l < -1 || l >= int64(c) {
			return fail("labels[%d] = %d, want −1 (OOD) or a class index below C = %d", i, l, c)
		}
		t.Labels[i] = int32(l)
	}
	t.IDs = make([]int64, n)
	if a.IDs != nil {
		if len(a.IDs.Shape) != 1 || a.IDs.Shape[0] != n {
			return fail("ids is %v, want [%d]", a.IDs.Shape, n)
		}
		if t.IDs, err = ints(a.Source, a.IDs); err != nil {
			return nil, err
		}
	} else {
		for i := range t.IDs {
			t.IDs[i] = int64(i)
		}
	}
	if i := firstNonFinite(t.Feature); i >= 0 {
		return fail("features[%d, %d] is %v", i/d, i%d, t.Feature[i])
	}
	t.FeatureNorm = make([]float32, n)
	t.FeatureNormalized = make([]float32, n*d)
	t.Preds = make([]int32, n)
	lg, lo := make([]float32, n*c), make([]float32, n*c)
	for i := range n {
		f := t.Feature[i*d : (i+1)*d]
		var ss float64
		for _, v := range f {
			ss += float64(v) * float64(v)
		}
		den := max(float32(math.Sqrt(ss)), 1e-12)
		for k := range c {
			var wf float64
			for j, v := range f {
				wf += float64(h.Weight[k*d+j]) * float64(v)
			}
			b := float64(h.Bias[k])
			lo[i*c+k] = float32(wf/h.Tau + b)
			if h.Kind == HeadT2FNorm {
				lg[i*c+k] = float32(wf/float64(den)/h.Tau + b)
			} else {
				lg[i*c+k] = lo[i*c+k]
			}
		}
	}
	for _, col := range []struct {
		name string
		arr  *safetensors.Tensor
		dst  *[]float32
		head []float32
	}{{colLogits, a.Logits, &t.Logits, lg}, {colLogitsOOD, a.LogitsOOD, &t.LogitsOOD, lo}} {
		if col.arr == nil {
			*col.dst = col.head
			continue
		}
		if s := col.arr.Shape; len(s) != 2 || s[0] != n || s[1] != c {
			return fail("%s is %v, want [%d %d] (N×C)", col.name, s, n, c)
		}
		v, err := floats(a.Source, col.arr)
		if err != nil {
			return nil, err
		}
		for i, x := range v {
			y := col.head[i]
			if math.IsNaN(float64(x)) || math.Abs(float64(x-y)) > 1e-3*math.Max(1, math.Abs(float64(y))) {
				return fail("%s[%d, %d] = %v, but the head gives %v from the features: the head is not this model's (or the %s are not W·f + b%s)",
					col.name, i/c, i%c, x, y, col.name, map[bool]string{true: " of the T2FNorm forward", false: ""}[h.Kind == HeadT2FNorm])
			}
		}
		*col.dst = v
	}
	for i := range n {
		t.deriveRow(i)
	}
	if err := t.Check(); err != nil {
		return fail("%v", err)
	}
	return t, nil
}
