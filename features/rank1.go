package features

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// removeRank1 replaces a (rows×cols, row-major, float32) by a − s₁u₁v₁ᵀ,
// its best rank-1 approximation removed. With v₁ the top eigenvector of aᵀa
// (cols ≤ rows) the update is a·(I − v₁v₁ᵀ); otherwise (I − u₁u₁ᵀ)·a with u₁
// the top eigenvector of aaᵀ. Sums run in float64; the result is rounded to
// float32 once. A zero matrix is left as is.
func removeRank1(a []float32, rows, cols int) {
	byCols := cols <= rows
	k := rows
	if byCols {
		k = cols
	}
	g := mat.NewSymDense(k, nil)
	for i := range k {
		for j := i; j < k; j++ {
			var s float64
			if byCols {
				for r := range rows {
					s += float64(a[r*cols+i]) * float64(a[r*cols+j])
				}
			} else {
				for c := range cols {
					s += float64(a[i*cols+c]) * float64(a[j*cols+c])
				}
			}
			g.SetSym(i, j, s)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(g, true) {
		return
	}
	vals := eig.Values(nil)
	top := 0
	for i, v := range vals {
		if v > vals[top] {
			top = i
		}
	}
	if !(vals[top] > 0) || math.IsInf(vals[top], 0) {
		return
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	v := make([]float64, k)
	for i := range v {
		v[i] = vecs.At(i, top)
	}
	if byCols {
		row := make([]float64, cols)
		for r := range rows {
			var p float64
			for c := range cols {
				row[c] = float64(a[r*cols+c])
				p += row[c] * v[c]
			}
			for c := range cols {
				a[r*cols+c] = float32(row[c] - p*v[c])
			}
		}
		return
	}
	p := make([]float64, cols)
	for r := range rows {
		for c := range cols {
			p[c] += v[r] * float64(a[r*cols+c])
		}
	}
	for r := range rows {
		for c := range cols {
			a[r*cols+c] = float32(float64(a[r*cols+c]) - v[r]*p[c])
		}
	}
}
