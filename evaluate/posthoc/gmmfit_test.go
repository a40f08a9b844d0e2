package posthoc

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// gmmFixture is testdata/gmm (scripts/gen_gmm_fixtures.py): scikit-learn's
// PCA, KMeans and GaussianMixture, and OpenOOD's GMMPostprocessor, on a
// real network's layer-2 maps and on small synthetic matrices.
type gmmFixture struct {
	SKLowerBound  float64 `json:"sk_lower_bound"`
	SKNIter       int     `json:"sk_n_iter"`
	MixLowerBound float64 `json:"mix_lower_bound"`
	MixNIter      int     `json:"mix_n_iter"`
	Spread        []struct {
		AUROC      float64 `json:"auroc"`
		LowerBound float64 `json:"lower_bound"`
	} `json:"spread"`
	Arrays map[string]fixtureArray `json:"arrays"` // fixture_test.go's array entry
	raw    []byte
}

func loadGMMFixture(t *testing.T) *gmmFixture {
	t.Helper()
	dir := filepath.Join("testdata", "gmm")
	b, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx gmmFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if fx.raw, err = os.ReadFile(filepath.Join(dir, "arrays.bin")); err != nil {
		t.Fatal(err)
	}
	return &fx
}

// f64 returns array name as float64 values and its shape.
func (fx *gmmFixture) f64(t *testing.T, name string) ([]float64, []int) {
	t.Helper()
	a, ok := fx.Arrays[name]
	if !ok {
		t.Fatalf("fixture has no array %s", name)
	}
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	out := make([]float64, n)
	for i := range out {
		switch a.Dtype {
		case "f8":
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(fx.raw[a.Offset+8*i:]))
		case "f4":
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(fx.raw[a.Offset+4*i:])))
		case "i4":
			out[i] = float64(int32(binary.LittleEndian.Uint32(fx.raw[a.Offset+4*i:])))
		default:
			t.Fatalf("array %s: dtype %s", name, a.Dtype)
		}
	}
	return out, a.Shape
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func toInt32(x []float64) []int32 {
	out := make([]int32, len(x))
	for i, v := range x {
		out[i] = int32(v)
	}
	return out
}

// closeRel reports whether got and want agree to tol relative to the
// largest |want|.
func maxRelDiff(got, want []float64) float64 {
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(got[i]-want[i])/scale)
	}
	return worst
}

// TestPCAMatchesScikitLearn: on rank-10 data plus noise, PCA(10) gives
// scikit-learn's components (signs included) and explained variances, with
// the solver its 'auto' picks: randomized on 80×600 (transposed) and on
// 600×510 (not transposed, 7 power iterations), full on 300×40 (the Gram
// matrix) and on 40×300 (the data in memory). Both randomized solvers
// converge to the exact basis here, so the different random draws agree to
// rounding.
func TestPCAMatchesScikitLearn(t *testing.T) {
	fx := loadGMMFixture(t)
	for _, c := range []struct{ name, solver string }{{"pca", "randomized"}, {"pcatall", "randomized"}, {"pcafull", "full"}, {"pcawide", "full"}} {
		t.Run(c.name, func(t *testing.T) {
			var x []float64
			var sh []int
			if c.name == "pcatall" {
				x, sh = pcaTall(t, fx)
			} else {
				x, sh = fx.f64(t, c.name+"_x")
			}
			want, _ := fx.f64(t, c.name+"_components")
			wantVar, _ := fx.f64(t, c.name+"_variance")
			for _, seed := range []uint64{0, 1, 2} {
				p, err := FitPCA(context.Background(), DenseRows{N: sh[0], D: sh[1], X: to32(x)}, 10, seed)
				if err != nil {
					t.Fatal(err)
				}
				if p.Solver != c.solver {
					t.Errorf("solver %s, scikit-learn %s", p.Solver, c.solver)
				}
				if d := maxRelDiff(p.Components, want); d > 1e-7 {
					t.Errorf("seed %d: components differ from scikit-learn's by %.3g (relative to the largest)", seed, d)
				}
				for k := range wantVar {
					if r := math.Abs(p.Variance[k]-wantVar[k]) / wantVar[k]; r > 1e-9 {
						t.Errorf("seed %d: variance %d = %v, scikit-learn %v", seed, k, p.Variance[k], wantVar[k])
					}
				}
			}
		})
	}
}

// TestLloydMatchesScikitLearn: from the k-means++ centres scikit-learn's
// KMeans(50, random_state=0) picks on OpenOOD's projected layer-2 maps,
// the Lloyd iterations end at scikit-learn's labels, every one.
func TestLloydMatchesScikitLearn(t *testing.T) {
	fx := loadGMMFixture(t)
	x, sh := fx.f64(t, "train_proj")
	init, _ := fx.f64(t, "kmeans_init")
	want, _ := fx.f64(t, "kmeans_labels")
	idx := make([]int, len(init))
	for i, v := range init {
		idx[i] = int(v)
	}
	got := lloyd(x, sh[0], sh[1], len(idx), idx)
	diff := 0
	for i := range got {
		if got[i] != int32(want[i]) {
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d labels differ from scikit-learn's KMeans", diff, len(got))
	}
}

// TestGMMEMMatchesScikitLearn: from scikit-learn's KMeans labels, the EM
// reaches GaussianMixture(50, 'tied', random_state=0)'s means, precision,
// weights, lower bound and iteration count on OpenOOD's projected layer-2
// maps (OpenOOD's fitted statistics, in float64).
func TestGMMEMMatchesScikitLearn(t *testing.T) {
	fx := loadGMMFixture(t)
	x, sh := fx.f64(t, "train_proj")
	labels, _ := fx.f64(t, "kmeans_labels")
	g, err := gmmEM(context.Background(), x, sh[0], sh[1], 50, toInt32(labels))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  []float64
	}{{"sk_means", g.Means}, {"sk_precision", g.Precision}, {"sk_weights", g.Weights}} {
		want, _ := fx.f64(t, c.name)
		if d := maxRelDiff(c.got, want); d > 1e-7 {
			t.Errorf("%s differs from scikit-learn's by %.3g relative", c.name, d)
		}
	}
	if g.Iterations != fx.SKNIter || math.Abs(g.LowerBound-fx.SKLowerBound) > 1e-9*math.Abs(fx.SKLowerBound) {
		t.Errorf("%d iterations, lower bound %v; scikit-learn %d, %v", g.Iterations, g.LowerBound, fx.SKNIter, fx.SKLowerBound)
	}
}

// TestFitGMMFindsScikitLearnsMixture: on a well-separated 4-component tied
// mixture, FitGMM from its own k-means++ draws (several seeds) reaches
// scikit-learn's fit: the same means up to the order of the components,
// precision, weights and lower bound.
func TestFitGMMFindsScikitLearnsMixture(t *testing.T) {
	fx := loadGMMFixture(t)
	x, sh := fx.f64(t, "mix_x")
	wantMeans, _ := fx.f64(t, "mix_means")
	wantPrec, _ := fx.f64(t, "mix_precision")
	wantW, _ := fx.f64(t, "mix_weights")
	n, d, k := sh[0], sh[1], 4
	for seed := range uint64(5) {
		g, err := FitGMM(context.Background(), x, n, d, k, seed)
		if err != nil {
			t.Fatal(err)
		}
		// match each fitted component to scikit-learn's closest mean
		perm := make([]int, k)
		for c := range k {
			best := math.Inf(1)
			for w := range k {
				if v := sqDist(g.Means[c*d:(c+1)*d], wantMeans[w*d:(w+1)*d]); v < best {
					best, perm[c] = v, w
				}
			}
		}
		gm, gw := make([]float64, k*d), make([]float64, k)
		for c, w := range perm {
			copy(gm[w*d:(w+1)*d], g.Means[c*d:(c+1)*d])
			gw[w] = g.Weights[c]
		}
		if dm, dp, dw := maxRelDiff(gm, wantMeans), maxRelDiff(g.Precision, wantPrec), maxRelDiff(gw, wantW); dm > 1e-6 || dp > 1e-6 || dw > 1e-6 {
			t.Errorf("seed %d: means, precision, weights differ from scikit-learn's by %.3g, %.3g, %.3g", seed, dm, dp, dw)
		}
		if math.Abs(g.LowerBound-fx.MixLowerBound) > 1e-6 {
			t.Errorf("seed %d: lower bound %v, scikit-learn %v", seed, g.LowerBound, fx.MixLowerBound)
		}
	}
}

// TestFitGMMLikelihood: on OpenOOD's projected layer-2 maps (400 samples,
// 50 components in 50 dimensions — many local optima), FitGMM's own
// initialisation reaches a mean log-likelihood no worse than 1 nat per
// sample below the worst of scikit-learn's fits over random_state 0..9
// (fixture "spread": −121.62 … −121.20).
func TestFitGMMLikelihood(t *testing.T) {
	fx := loadGMMFixture(t)
	x, sh := fx.f64(t, "train_proj")
	worst := math.Inf(1)
	for _, s := range fx.Spread {
		worst = math.Min(worst, s.LowerBound)
	}
	for seed := range uint64(3) {
		g, err := FitGMM(context.Background(), x, sh[0], sh[1], 50, seed)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: lower bound %.4f after %d iterations (scikit-learn random_state 0: %.4f)", seed, g.LowerBound, g.Iterations, fx.SKLowerBound)
		if g.LowerBound < worst-1 {
			t.Errorf("seed %d: lower bound %.4f, scikit-learn's worst over 10 seeds %.4f", seed, g.LowerBound, worst)
		}
	}
}

// TestFitGMMLayerStops: a done context stops the fit with its error.
func TestFitGMMLayerStops(t *testing.T) {
	fx := loadGMMFixture(t)
	x, sh := fx.f64(t, "pca_x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := FitGMMLayer(ctx, DenseRows{N: sh[0], D: sh[1], X: to32(x)}, 5, 3, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("FitGMMLayer with a cancelled context: %v, want context.Canceled", err)
	}
	if _, _, err := FitGMMLayer(context.Background(), DenseRows{N: sh[0], D: sh[1], X: to32(x)}, 5, 3, 0); err != nil {
		t.Errorf("FitGMMLayer: %v", err)
	}
}

// pcaTall rebuilds the fixture's 600×510 matrix float32(a·b + 0.05·sin(0.013·i·j
// + 0.5·i) + 3) from its stored factors (numpy's rounding may differ in the
// last float32 bit of a few entries, far below the tolerance).
func pcaTall(t *testing.T, fx *gmmFixture) ([]float64, []int) {
	t.Helper()
	a, _ := fx.f64(t, "pcatall_a")
	b, _ := fx.f64(t, "pcatall_b")
	n, d, r := 600, 510, 10
	x := make([]float64, n*d)
	for i := range n {
		for j := range d {
			v := 0.0
			for k := range r {
				v += a[i*r+k] * b[k*d+j]
			}
			x[i*d+j] = float64(float32(v + 0.05*math.Sin(0.013*float64(i)*float64(j)+0.5*float64(i)) + 3))
		}
	}
	return x, []int{n, d}
}

// BenchmarkFitGMMLayer is gmm's fit (PCA(50) by the randomized solver, then
// the 50-component tied GMM) on n synthetic maps of d values — rank 64
// plus noise, d = 32,768 as ResNet18_32x32's layer2 — in memory, on
// GOMAXPROCS threads; it reports the EM iterations. scripts/bench_gmm_fit.py
// times scikit-learn's PCA and GaussianMixture (OpenOOD's get_GMM_stat) on
// the same shapes.
func BenchmarkFitGMMLayer(b *testing.B) {
	for _, sz := range [][2]int{{2000, 32768}, {10000, 32768}} {
		n, d := sz[0], sz[1]
		b.Run(fmt.Sprintf("n%d_d%d", n, d), func(b *testing.B) {
			x := synthMaps(n, d, 64)
			b.SetBytes(int64(4 * n * d))
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				_, g, err := FitGMMLayer(context.Background(), DenseRows{N: n, D: d, X: x}, 50, 50, 0)
				if err != nil {
					b.Fatal(err)
				}
				iters = g.Iterations
			}
			b.ReportMetric(float64(iters), "em-iters")
		})
	}
}

// synthMaps is n rows of d non-negative values: a rank-r signal with
// decaying scales plus noise, through a ReLU (like a stage map).
func synthMaps(n, d, r int) []float32 {
	rng := rand.New(rand.NewPCG(5, 6))
	f := make([]float64, n*r)
	for i := range f {
		f[i] = rng.NormFloat64() * 10 / float64(1+i%r)
	}
	basis := make([]float64, r*d)
	for i := range basis {
		basis[i] = rng.NormFloat64() / math.Sqrt(float64(d))
	}
	x := make([]float32, n*d)
	row := make([]float64, d)
	for i := range n {
		clear(row)
		for k := range r {
			c := f[i*r+k]
			for j, v := range basis[k*d : (k+1)*d] {
				row[j] += c * v
			}
		}
		for j, v := range row {
			x[i*d+j] = float32(max(0, v+0.1*rng.NormFloat64()))
		}
	}
	return x
}
