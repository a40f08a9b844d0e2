package features

import (
	"context"
	"errors"
	"fmt"
	"math"
)

func (st *MDSStats) check() error {
	switch {
	case st == nil:
		return errors.New("no ID-train statistics (class means and precision of the pooled stem map): compute them from the ID train split first")
	case st.Dim <= 0 || st.Classes <= 0:
		return fmt.Errorf("statistics of %d classes × %d values, want both > 0", st.Classes, st.Dim)
	case len(st.Means) != st.Classes*st.Dim || len(st.Precision) != st.Dim*st.Dim:
		return fmt.Errorf("%d means and a precision of %d values, want %d×%d and %d×%d",
			len(st.Means), len(st.Precision), st.Classes, st.Dim, st.Dim, st.Dim)
	}
	for _, v := range st.Means {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("class mean %v", v)
		}
	}
	for _, v := range st.Precision {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("precision entry %v", v)
		}
	}
	return nil
}

// poolMaps writes the spatial mean of each of the c channels of one image's
// map m (c×hw) into f.
func poolMaps(m []float32, c, hw int, f []float64) {
	for ch := range c {
		var s float64
		for _, v := range m[ch*hw : (ch+1)*hw] {
			s += float64(v)
		}
		f[ch] = s / float64(hw)
	}
}

// TrainStemFeatures runs every sample of src (the ID train split, with the
// test transform: OpenOOD's data_aux) through net and returns the
// mean-pooled stem map of each (n×dim, float32 as torch's mean is) and its
// label: what mds_ensemble's class means and precision are estimated from.
func TrainStemFeatures(ctx context.Context, net ExtraNetwork, src Source, opts Options) (x []float32, labels []int32, dim int, err error) {
	opts = opts.withDefaults()
	c, h, w, err := net.StageShape(MDSEnsembleStage)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("features: mds_ensemble: %w", err)
	}
	nc, nh, nw := net.InputShape()
	if sc, sh, sw := src.Shape(); nc != sc || nh != sh || nw != sw {
		return nil, nil, 0, fmt.Errorf("features: mds_ensemble: source images are [N %d %d %d], the network wants [N %d %d %d]", sc, sh, sw, nc, nh, nw)
	}
	total, bs, per, hw := src.Len(), opts.BatchSize, nc*nh*nw, h*w
	in := make([]float32, bs*per)
	maps := make([]float32, bs*c*hw)
	ids := make([]int64, bs)
	x, labels = make([]float32, 0, total*c), make([]int32, total)
	f := make([]float64, c)
	if opts.Progress != nil {
		opts.Progress(0, total)
	}
	for start := 0; start < total; start += bs {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, err
		}
		n := min(bs, total-start)
		if err := src.Load(start, in[:n*per], ids[:n], labels[start:start+n]); err != nil {
			return nil, nil, 0, fmt.Errorf("features: mds_ensemble: load rows %d..%d: %w", start, start+n-1, err)
		}
		if err := net.StageMaps(in[:n*per], n, []int{MDSEnsembleStage}, [][]float32{maps[:n*c*hw]}); err != nil {
			return nil, nil, 0, fmt.Errorf("features: mds_ensemble: rows %d..%d: %w", start, start+n-1, err)
		}
		for i := range n {
			poolMaps(maps[i*c*hw:(i+1)*c*hw], c, hw, f)
			for _, v := range f {
				x = append(x, float32(v))
			}
		}
		if opts.Progress != nil {
			opts.Progress(start+n, total)
		}
	}
	return x, labels, c, nil
}

// gauss returns max_c −½(f−μ_c)ᵀP(f−μ_c) over the classes and its first
// argmax (OpenOOD's gaussian_score and its max), with Pf scratch.
func (st *MDSStats) gauss(f, z []float64) (best float64, arg int) {
	D := st.Dim
	best = math.Inf(-1)
	for c := range st.Classes {
		mu := st.Means[c*D : (c+1)*D]
		for j := range D {
			z[j] = f[j] - mu[j]
		}
		var q float64
		for i := range D {
			row := st.Precision[i*D : (i+1)*D]
			var s float64
			for j, v := range z {
				s += row[j] * v
			}
			q += z[i] * s
		}
		if t := -0.5 * q; t > best {
			best, arg = t, c
		}
	}
	return best, arg
}

// mdsEnsemble is OpenOOD's MDSEnsemblePostprocessor in its default
// configuration (one layer: the stem's map, mean-pooled; no dimension
// reduction; α = [1]): ĉ = argmax_c −½(f−μ_c)ᵀP(f−μ_c) of the pooled stem
// map f; L = mean over the batch of ½(f−μ_ĉ)ᵀP(f−μ_ĉ); the perturbed input
// is x − ε·s/0.5 with s = +1 where ∂L/∂x ≥ 0, else −1 (OpenOOD divides
// channels 0..2 by its hard-coded 0.5, not by the input std; a further
// channel keeps s); the column is max_c −½(f'−μ_c)ᵀP(f'−μ_c) of the
// perturbed input's pooled stem map f'.
func (w *extraWork) mdsEnsemble(x []float32, n, batch int) error {
	st := w.spec.MDS
	c, h, ww, err := w.net.StageShape(MDSEnsembleStage)
	if err != nil {
		return fmt.Errorf("mds_ensemble: %w", err)
	}
	if c != st.Dim {
		return fmt.Errorf("mds_ensemble: the stem has %d channels, the ID-train statistics %d", c, st.Dim)
	}
	hw, per, D := h*ww, w.per, st.Dim
	maps := grow(&w.maps[0], n*c*hw)
	dx, xp := grow(&w.dx, n*per), grow(&w.xp, n*per)
	f, z := make([]float64, D), make([]float64, D)
	grad := func(m, g []float32) {
		scale := 1 / float64(batch*hw) // the loss is the batch's mean
		for i := range n {
			poolMaps(m[i*c*hw:(i+1)*c*hw], c, hw, f)
			_, k := st.gauss(f, z)
			mu := st.Means[k*D : (k+1)*D]
			for j := range D {
				z[j] = f[j] - mu[j]
			}
			for ch := range D {
				row := st.Precision[ch*D : (ch+1)*D]
				var s float64
				for j, v := range z {
					s += row[j] * v
				}
				v := float32(s * scale)
				gi := g[i*c*hw+ch*hw : i*c*hw+(ch+1)*hw]
				for p := range gi {
					gi[p] = v
				}
			}
		}
	}
	if err := w.net.StageGradient(x, n, MDSEnsembleStage, maps, grad, dx); err != nil {
		return fmt.Errorf("mds_ensemble: %w", err)
	}
	hwIn := per / w.c
	col := make([]float32, n)
	for _, eps := range MDSEnsembleNoises {
		for i := range xp {
			s := float32(-1)
			if dx[i] >= 0 {
				s = 1
			}
			if (i%per)/hwIn < 3 {
				s /= 0.5
			}
			xp[i] = x[i] - float32(eps)*s
		}
		if err := w.net.StageMaps(xp, n, []int{MDSEnsembleStage}, [][]float32{maps}); err != nil {
			return fmt.Errorf("mds_ensemble: %w", err)
		}
		for i := range n {
			poolMaps(maps[i*c*hw:(i+1)*c*hw], c, hw, f)
			best, _ := st.gauss(f, z)
			col[i] = float32(best)
		}
		w.appendCol(MDSEnsembleColumn(eps), col)
	}
	return nil
}
