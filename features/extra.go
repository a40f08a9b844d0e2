package features

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Extra methods: OpenOOD post-processors that need the network itself, not
// only the penultimate feature and the logits. `t2f features --extra` runs
// them at extraction time and stores what their scores need as extra
// columns (see ExtraColumns and docs/features.md); the scorers in
// evaluate/posthoc read those columns.
const (
	ExtraODIN      = "odin"         // ODIN: input preprocessing then temperature-scaled MSP, every (T, ε) of OpenOOD's sweep
	ExtraIODIN     = "iodin"        // IODIN: ODIN perturbing only the input element of largest |gradient|
	ExtraRankFeat  = "rankfeat"     // RankFeat: rank-1 removal from the layer-3 and layer-4 maps
	ExtraAdaScaleA = "adascale_a"   // AdaScale (activation scaling): the perturbed feature
	ExtraAdaScaleL = "adascale_l"   // AdaScale (logit scaling): the same column as adascale_a
	ExtraDropout   = "dropout"      // MC dropout on the penultimate feature: needs no extra column
	ExtraMDSEns    = "mds_ensemble" // Mahalanobis on the stem's pooled map after input preprocessing; needs ID-train statistics (MDSStats)
	ExtraGMM       = "gmm"          // tied GMM on layer2's PCA-reduced flattened map; needs ID-train statistics (GMMStats)
)

// ExtraNames lists the methods ParseExtra accepts, in OpenOOD's names.
var ExtraNames = []string{ExtraODIN, ExtraIODIN, ExtraRankFeat, ExtraAdaScaleA, ExtraAdaScaleL, ExtraDropout, ExtraMDSEns, ExtraGram, ExtraGMM}

// ODIN's and IODIN's sweep in OpenOOD v1.5 (configs/postprocessors/odin.yml,
// iodin.yml): temperature × noise, the default setting first in neither.
var (
	ODINTemperatures = []float64{1, 10, 100, 1000}
	ODINNoises       = []float64{0.0014, 0.0028}
)

// AdaScale's perturbation (configs/postprocessors/adascale_*.yml, o): the
// fraction of input elements of smallest |gradient| moved by 0.5·sign.
const AdaScaleFraction = 0.05

// ODINColumn is the name of the column holding ODIN's (or IODIN's, method
// "iodin") confidence at temperature t and noise eps:
// "odin_t1000_n0.0014".
func ODINColumn(method string, t, eps float64) string {
	return method + "_t" + strconv.FormatFloat(t, 'g', -1, 64) + "_n" + strconv.FormatFloat(eps, 'g', -1, 64)
}

// MDSEnsembleNoises is mds_ensemble's sweep in OpenOOD v1.5
// (configs/postprocessors/mds_ensemble.yml noise_list); MDSEnsembleStage
// the layer of its default configuration (feature_type_list [mean],
// reduce_dim_list [none], alpha_list [1]): feature_list[0] of
// ResNet18_32x32, the stem's output relu(bn1(conv1(x))), mean-pooled.
var MDSEnsembleNoises = []float64{0.0014}

const MDSEnsembleStage = 0

// MDSEnsembleColumn is the name of mds_ensemble's column at noise eps:
// "mds_ensemble_n0.0014".
func MDSEnsembleColumn(eps float64) string {
	return ExtraMDSEns + "_n" + strconv.FormatFloat(eps, 'g', -1, 64)
}

// MDSStats are mds_ensemble's ID-train statistics of the pooled stem map
// (Dim values per image): the class means μ_c and the precision P, the
// pseudo-inverse of the MLE covariance of the class-centred features
// (OpenOOD's get_MDS_stat). They must exist before the test splits'
// gradients are taken: `t2f features` computes them from the ID train
// split first (TrainStemFeatures, then posthoc.ClassGaussian).
type MDSStats struct {
	Dim, Classes int
	Means        []float64 // Classes×Dim
	Precision    []float64 // Dim×Dim
}

// Column names of the other extra methods.
const (
	ColRankFeatLogits    = "rankfeat_logits"    // (C) RankFeat's fused logits (logits1 + logits2)/2, OOD-inference head
	ColAdaScalePerturbed = "adascale_perturbed" // (D) the penultimate feature of AdaScale's perturbed input
)

// ExtraSpec says which extra columns to compute.
type ExtraSpec struct {
	// Methods are OpenOOD names from ExtraNames (ParseExtra's result).
	Methods []string
	// Temperatures and Noises restrict ODIN's and IODIN's grid; nil means
	// OpenOOD's whole sweep (ODINTemperatures × ODINNoises).
	Temperatures, Noises []float64
	// InputStd is the per-channel std of the input normalisation; ODIN
	// divides its signed perturbation by it (OpenOOD's input_std). Required
	// for odin and iodin, one value per input channel.
	InputStd []float64
	// MDS holds mds_ensemble's ID-train statistics; required for
	// mds_ensemble.
	MDS *MDSStats
	// Gram holds gram's ID-train statistics (TrainGramStats); required for
	// gram.
	Gram *GramStats
	// GMM holds gmm's ID-train statistics; required for gmm.
	GMM *GMMStats
	// Threads is the number of goroutines of the host-side work (gram's
	// Gram features); 0 means runtime.GOMAXPROCS(0).
	Threads int
}

// ParseExtra splits a comma-separated --extra value into known method
// names, in ExtraNames order without duplicates.
func ParseExtra(list string) ([]string, error) {
	seen := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			continue
		case !slices.Contains(ExtraNames, s):
			return nil, fmt.Errorf("features: --extra: unknown method %q (known: %s)", s, strings.Join(ExtraNames, ", "))
		}
		seen[s] = true
	}
	var out []string
	for _, n := range ExtraNames {
		if seen[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s ExtraSpec) has(m string) bool { return slices.Contains(s.Methods, m) }

func (s ExtraSpec) grid() (ts, ns []float64) {
	ts, ns = s.Temperatures, s.Noises
	if ts == nil {
		ts = ODINTemperatures
	}
	if ns == nil {
		ns = ODINNoises
	}
	return ts, ns
}

// ExtraColumn is one extra column: Width float32 values per row.
type ExtraColumn struct {
	Name  string
	Width int
}

// Columns lists the columns s produces for a network with feature
// dimension dim and numClasses classes, in file order. ODIN's columns run
// over the grid with the temperature varying fastest (OpenOOD's order).
func (s ExtraSpec) Columns(dim, numClasses int) []ExtraColumn {
	var out []ExtraColumn
	ts, ns := s.grid()
	for _, m := range []string{ExtraODIN, ExtraIODIN} {
		if !s.has(m) {
			continue
		}
		for _, e := range ns {
			for _, t := range ts {
				out = append(out, ExtraColumn{ODINColumn(m, t, e), 1})
			}
		}
	}
	if s.has(ExtraRankFeat) {
		out = append(out, ExtraColumn{ColRankFeatLogits, numClasses})
	}
	if s.has(ExtraAdaScaleA) || s.has(ExtraAdaScaleL) {
		out = append(out, ExtraColumn{ColAdaScalePerturbed, dim})
	}
	if s.has(ExtraMDSEns) {
		for _, e := range MDSEnsembleNoises {
			out = append(out, ExtraColumn{MDSEnsembleColumn(e), 1})
		}
	}
	if s.has(ExtraGram) {
		out = append(out, ExtraColumn{ColGramDeviation, 1})
	}
	if s.has(ExtraGMM) {
		out = append(out, ExtraColumn{ColGMMScore, 1})
	}
	return out
}

// Cost is the work per image in network passes: whole forward passes,
// backward passes (to the input, input gradients only: about the
// arithmetic of a forward) and partial passes (RankFeat's layer4, pooling
// and head from a stage map; mds_ensemble's stem forward, its backward and
// the perturbed stem forward). Plain extraction is one forward. Gradients
// of one input share its forward (ODIN's temperatures). TrainForward is
// the one-off work on the ID-train split that mds_ensemble, gram and gmm
// fit their statistics on, in forwards per train image (each method makes
// its own pass, so they add up when several run; mds_ensemble's stops at
// the stem, gmm's at layer2).
type Cost struct {
	Forward, Backward, Partial int
	TrainForward               float64
}

// Cost of computing s's columns, besides the plain extraction.
func (s ExtraSpec) Cost() Cost {
	var c Cost
	ts, ns := s.grid()
	odin, iodin := s.has(ExtraODIN), s.has(ExtraIODIN)
	if odin || iodin {
		c.Forward++ // the forward the gradients of every temperature differentiate
		c.Backward += len(ts)
		if odin {
			c.Forward += len(ts) * len(ns)
		}
		if iodin {
			c.Forward += len(ts) * len(ns)
		}
	}
	if s.has(ExtraRankFeat) {
		c.Forward++
		c.Partial += 2
	}
	if s.has(ExtraAdaScaleA) || s.has(ExtraAdaScaleL) {
		c.Forward += 2
		c.Backward++
	}
	if s.has(ExtraMDSEns) {
		c.Partial += 2 + len(MDSEnsembleNoises) // the stem, its backward, the perturbed stem per noise
		c.TrainForward++                        // MDSStats (the stem)
	}
	if s.has(ExtraGram) {
		c.Forward++
		c.TrainForward += 1.1 // GramStats: every image, then the 10% held out again
	}
	if s.has(ExtraGMM) {
		c.Forward++
		c.TrainForward++ // GMMStats, then the PCA/EM fit
	}
	return c
}

// String is "8 forward + 4 backward passes per image".
func (c Cost) String() string {
	s := fmt.Sprintf("%d forward + %d backward passes", c.Forward, c.Backward)
	if c.Partial > 0 {
		s += fmt.Sprintf(" + %d partial passes", c.Partial)
	}
	s += " per image"
	if c.TrainForward > 0 {
		unit := " forwards"
		if c.TrainForward == 1 {
			unit = " forward"
		}
		s += ", after " + strconv.FormatFloat(c.TrainForward, 'g', 3, 64) + unit + " per ID-train image for the statistics"
	}
	return s
}

// ExtraNetwork is what the extra methods need from the network besides
// Network's forward, all in eval mode (BatchNorm with running statistics).
// x is n×C×H×W (NCHW, test-transformed), logitsOOD n×NumClasses: the
// OOD-inference logits (Network.Forward's logitsOOD).
type ExtraNetwork interface {
	Network
	// InputGradients runs x once, writes its OOD logits into logitsOOD,
	// then for each j < k in turn calls grad(j, logitsOOD, g) for g =
	// ∂L_j/∂logitsOOD (n×NumClasses, zeroed before) of a scalar L_j and
	// use(j, dx) with dx = ∂L_j/∂x (n×C×H×W, valid during the call only;
	// use may run Forward and the other methods). A use error stops the
	// walk and is returned. The gradients share the forward: ODIN's
	// temperatures cost one forward and k backward passes.
	InputGradients(x []float32, n int, logitsOOD []float32, k int, grad func(j int, logitsOOD, g []float32), use func(j int, dx []float32) error) error
	// StageShape is the shape (channels, height, width) of stage s's output
	// (1-based, OpenOOD's intermediate_forward layer_index); an error when
	// the architecture has no stage s (LeNet has none).
	StageShape(s int) (c, h, w int, err error)
	// StageMaps runs x up to the last of the given stages (nothing after
	// it) and copies their outputs into dst (one n×c×h×w slice per stage).
	StageMaps(x []float32, n int, stages []int, dst [][]float32) error
	// StageGradient runs x up to stage s (0: the stem, relu(bn1(conv1(x)))
	// before any max-pool; nothing after it runs), copies the stage's output
	// into maps, calls grad(maps, g) for g = ∂L/∂maps of a scalar L (g
	// zeroed before), and writes ∂L/∂x into dx. StageShape and StageMaps
	// accept s = 0 too.
	StageGradient(x []float32, n, s int, maps []float32, grad func(maps, g []float32), dx []float32) error
	// ForwardFromStage runs h (n maps of stage s's shape) through the later
	// stages, global pooling and the head, and writes the OOD logits.
	ForwardFromStage(s int, h []float32, n int, logitsOOD []float32) error
	// Taps lists the activations gram reads, in the order the network
	// computes them: the output of every convolution and every ReLU module
	// of OpenOOD's network class (nn.Model.Taps).
	Taps() []Tap
	// TapMaps runs x, writes its OOD logits into logitsOOD, then calls
	// visit(l, maps) for every tap l in order with its output (n×C×H×W,
	// valid during the call only). A visit error stops the walk.
	TapMaps(x []float32, n int, logitsOOD []float32, visit func(l int, maps []float32) error) error
}

// ExtraTable holds the extra columns of one split, rows in the split's
// order (the feature file's).
type ExtraTable struct {
	Meta    Meta
	IDs     []int64
	Columns []ExtraColumn
	Values  map[string][]float32 // name → N×Width row-major
}

// Len is the number of rows.
func (t *ExtraTable) Len() int { return len(t.IDs) }

// ComputeExtra runs the extra methods of spec over every sample of src with
// net and returns their columns. opts.BatchSize and opts.Progress apply;
// batches run one at a time (the network is one instance).
func ComputeExtra(ctx context.Context, net ExtraNetwork, src Source, spec ExtraSpec, opts Options) (*ExtraTable, error) {
	opts = opts.withDefaults()
	nc, nh, nw := net.InputShape()
	if sc, sh, sw := src.Shape(); nc != sc || nh != sh || nw != sw {
		return nil, fmt.Errorf("features: extra: source images are [N %d %d %d], the network wants [N %d %d %d]", sc, sh, sw, nc, nh, nw)
	}
	if (spec.has(ExtraODIN) || spec.has(ExtraIODIN)) && len(spec.InputStd) != nc {
		return nil, fmt.Errorf("features: extra: odin needs the input std of each of %d channels, got %d values", nc, len(spec.InputStd))
	}
	for _, s := range spec.InputStd {
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("features: extra: input std %v, want positive", s)
		}
	}
	for _, m := range spec.Methods {
		if !slices.Contains(ExtraNames, m) {
			return nil, fmt.Errorf("features: extra: unknown method %q", m)
		}
	}
	if spec.has(ExtraMDSEns) {
		if err := spec.MDS.check(); err != nil {
			return nil, fmt.Errorf("features: extra: mds_ensemble: %w", err)
		}
	}
	if spec.has(ExtraGram) {
		if err := spec.Gram.check(net); err != nil {
			return nil, fmt.Errorf("features: extra: gram: %w", err)
		}
	}
	if spec.has(ExtraGMM) {
		if err := spec.GMM.check(); err != nil {
			return nil, fmt.Errorf("features: extra: gmm: %w", err)
		}
	}
	d, k := net.Dim(), net.NumClasses()
	cols := spec.Columns(d, k)
	total := src.Len()
	t := &ExtraTable{Meta: opts.Meta, Columns: cols, Values: map[string][]float32{}, IDs: make([]int64, 0, total)}
	for _, c := range cols {
		t.Values[c.Name] = make([]float32, 0, total*c.Width)
	}
	bs, per := opts.BatchSize, nc*nh*nw
	w := &extraWork{net: net, spec: spec, d: d, k: k, per: per, c: nc, t: t}
	err := eachBatch(ctx, src, bs, per, opts.Progress, "features: extra", func(start, n int, x []float32, ids []int64, _ []int32) error {
		if err := w.batch(x, n); err != nil {
			return fmt.Errorf("features: extra: rows %d..%d: %w", start, start+n-1, err)
		}
		t.IDs = append(t.IDs, ids...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// extraWork computes one batch's extra columns.
type extraWork struct {
	net       ExtraNetwork
	spec      ExtraSpec
	d, k, per int
	c         int
	t         *ExtraTable
	feat, lo  []float32
	lg, lp    []float32
	dx, xp    []float32
	maps      [2][]float32
	gw        *gramWork
}

func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	*s = (*s)[:n]
	return *s
}

func (w *extraWork) batch(x []float32, n int) error {
	if w.spec.has(ExtraODIN) || w.spec.has(ExtraIODIN) {
		if err := w.gradChunks(x, n, w.odin); err != nil {
			return err
		}
	}
	if w.spec.has(ExtraRankFeat) {
		if err := w.rankFeat(x, n); err != nil {
			return err
		}
	}
	if w.spec.has(ExtraAdaScaleA) || w.spec.has(ExtraAdaScaleL) {
		if err := w.gradChunks(x, n, func(x []float32, n, _ int) error { return w.adaScale(x, n) }); err != nil {
			return err
		}
	}
	if w.spec.has(ExtraMDSEns) {
		if err := w.gradChunks(x, n, w.mdsEnsemble); err != nil {
			return err
		}
	}
	if w.spec.has(ExtraGram) {
		if err := w.gram(x, n); err != nil {
			return err
		}
	}
	if w.spec.has(ExtraGMM) {
		if err := w.gmm(x, n); err != nil {
			return err
		}
	}
	return nil
}

// GradBatcher is an optional method of an ExtraNetwork: the most images
// one gradient pass (InputGradients, StageGradient) should run for its
// memory to stay bounded. ComputeExtra runs the gradient methods of a
// larger batch in chunks of that many images; the columns are the same
// (every image's arithmetic is its own, and the losses keep the batch's
// mean).
type GradBatcher interface {
	GradBatch() int
}

// gradChunks runs method (a gradient method appending its columns) over
// the n images of x in chunks of at most the network's GradBatch, passing
// each chunk's images and count and the batch size n (the mean of the
// loss).
func (w *extraWork) gradChunks(x []float32, n int, method func(x []float32, n, batch int) error) error {
	gb := n
	if g, ok := w.net.(GradBatcher); ok && g.GradBatch() > 0 {
		gb = g.GradBatch()
	}
	for lo := 0; lo < n; lo += gb {
		hi := min(n, lo+gb)
		if err := method(x[lo*w.per:hi*w.per], hi-lo, n); err != nil {
			return err
		}
	}
	return nil
}

func (w *extraWork) appendCol(name string, v []float32) {
	w.t.Values[name] = append(w.t.Values[name], v...)
}

// buffers sizes the work buffers of the gradient methods for n images: the
// OOD logits, the input gradient, the perturbed input, and its features and
// logits.
func (w *extraWork) buffers(n int) (lo, dx, xp, feat, lg []float32) {
	return grow(&w.lo, n*w.k), grow(&w.dx, n*w.per), grow(&w.xp, n*w.per), grow(&w.feat, n*w.d), grow(&w.lg, n*w.k)
}

// odin is OpenOOD's ODINPostprocessor.postprocess (and IODIN's) for every
// grid setting: labels = argmax of the OOD logits z; L = CE(z/T, labels)
// (mean over the batch); the perturbation is ε·s/std_c with s = +1 where
// ∂L/∂x ≥ 0, else −1 (IODIN: only at the first element of largest |∂L/∂x|
// of each image); the confidence is max softmax((z' )/T) of the perturbed
// input's logits z'. Softmax and the loss gradient follow PyTorch's float32
// arithmetic. x holds n images of a batch of batch images (a chunk, see
// gradChunks); the loss is the batch's mean.
func (w *extraWork) odin(x []float32, n, batch int) error {
	ts, ns := w.spec.grid()
	k, per := w.k, w.per
	lo, _, xp, feat, lg := w.buffers(n)
	lp := grow(&w.lp, n*k) // the perturbed input's OOD logits
	hw := per / w.c
	confs := map[string][]float32{}
	grad := func(j int, z, g []float32) {
		tf := float32(ts[j])
		for i := range n {
			zi, gi := z[i*k:(i+1)*k], g[i*k:(i+1)*k]
			label := argmax(zi)
			softmaxScaled(zi, tf, gi)
			gi[label] -= 1
			for c := range gi {
				gi[c] /= tf * float32(batch) // ∂/∂z of CE(z/T): (p − onehot)/(T·N), N the batch's size
			}
		}
	}
	use := func(j int, dx []float32) error {
		t := ts[j]
		tf := float32(t)
		for _, method := range []string{ExtraODIN, ExtraIODIN} {
			if !w.spec.has(method) {
				continue
			}
			for _, eps := range ns {
				e := float32(eps)
				for i := range n {
					xi, gi, pi := x[i*per:(i+1)*per], dx[i*per:(i+1)*per], xp[i*per:(i+1)*per]
					copy(pi, xi)
					if method == ExtraODIN {
						for j, g := range gi {
							s := float32(-1)
							if g >= 0 {
								s = 1
							}
							pi[j] = xi[j] + -e*(s/float32(w.spec.InputStd[j/hw]))
						}
						continue
					}
					j := argmaxAbs(gi)
					s := float32(-1)
					if gi[j] >= 0 {
						s = 1
					}
					pi[j] = xi[j] + -e*(s/float32(w.spec.InputStd[j/hw]))
				}
				if err := w.net.Forward(xp, n, feat, lg, lp); err != nil {
					return err
				}
				name := ODINColumn(method, t, eps)
				conf := make([]float32, n)
				p := make([]float32, k)
				for i := range n {
					zi := lp[i*k : (i+1)*k]
					softmaxScaled(zi, tf, p)
					conf[i] = p[argmax(p)]
				}
				confs[name] = conf
			}
		}
		return nil
	}
	if err := w.net.InputGradients(x, n, lo, len(ts), grad, use); err != nil {
		return err
	}
	for _, c := range w.t.Columns {
		if v, ok := confs[c.Name]; ok {
			w.appendCol(c.Name, v)
		}
	}
	return nil
}

// softmaxScaled writes softmax(z/t) into p in float32: z/t, minus its
// maximum, exp, divided by the sum (OpenOOD's nnOutput arithmetic).
func softmaxScaled(z []float32, t float32, p []float32) {
	m := float32(math.Inf(-1))
	for c, v := range z {
		p[c] = v / t
		m = max(m, p[c])
	}
	var sum float32
	for c := range p {
		p[c] = float32(math.Exp(float64(p[c] - m)))
		sum += p[c]
	}
	for c := range p {
		p[c] /= sum
	}
}

// argmax is the first index of the largest value (torch.argmax on the CPU).
func argmax(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}

func argmaxAbs(v []float32) int {
	b := 0
	for i, x := range v {
		if abs32(x) > abs32(v[b]) {
			b = i
		}
	}
	return b
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// rankFeat is OpenOOD's RankFeatPostprocessor (accelerate: False): the
// layer-4 map A (C×HW per image) loses its rank-1 part s₁u₁v₁ᵀ — computed
// as A·(I − v₁v₁ᵀ) (or (I − u₁u₁ᵀ)·A when C < HW) with the top singular
// vector from a float64 eigendecomposition of AᵀA (AAᵀ) — and goes through
// pooling and the head (logits1); the layer-3 map loses its rank-1 part the
// same way and goes through layer 4, pooling and the head (logits2). The
// column is (logits1 + logits2)/2 of the OOD-inference head.
func (w *extraWork) rankFeat(x []float32, n int) error {
	var shapes [2][3]int
	for i, s := range []int{3, 4} {
		c, h, ww, err := w.net.StageShape(s)
		if err != nil {
			return fmt.Errorf("rankfeat: %w", err)
		}
		shapes[i] = [3]int{c, h, ww}
		grow(&w.maps[i], n*c*h*ww)
	}
	if err := w.net.StageMaps(x, n, []int{3, 4}, w.maps[:]); err != nil {
		return fmt.Errorf("rankfeat: %w", err)
	}
	k := w.k
	l1, l2 := make([]float32, n*k), make([]float32, n*k)
	for i, s := range []int{3, 4} {
		c, hw := shapes[i][0], shapes[i][1]*shapes[i][2]
		for b := range n {
			removeRank1(w.maps[i][b*c*hw:(b+1)*c*hw], c, hw)
		}
		dst := l2
		if s == 4 {
			dst = l1
		}
		if err := w.net.ForwardFromStage(s, w.maps[i], n, dst); err != nil {
			return fmt.Errorf("rankfeat: %w", err)
		}
	}
	for i := range l1 {
		l1[i] = (l1[i] + l2[i]) / 2
	}
	w.appendCol(ColRankFeatLogits, l1)
	return nil
}

// adaScale is the data side of OpenOOD's AdaScalePostprocessor: the
// gradient g of the sum of each image's largest OOD logit with respect to
// its input; the int(C·H·W·o) elements of smallest |g| (ties in index
// order) move by 0.5·sign(g); the column is the perturbed input's feature.
func (w *extraWork) adaScale(x []float32, n int) error {
	k, per := w.k, w.per
	lo, _, xp, feat, lg := w.buffers(n)
	grad := func(_ int, z, g []float32) {
		for i := range n {
			g[i*k+argmax(z[i*k:(i+1)*k])] = 1
		}
	}
	m := int(float64(per) * AdaScaleFraction)
	idx := make([]int, per)
	perturb := func(_ int, dx []float32) error {
		w.adaScalePerturb(x, dx, n, m, idx, xp)
		return nil
	}
	if err := w.net.InputGradients(x, n, lo, 1, grad, perturb); err != nil {
		return fmt.Errorf("adascale: %w", err)
	}
	if err := w.net.Forward(xp, n, feat, lg, lo); err != nil {
		return fmt.Errorf("adascale: %w", err)
	}
	w.appendCol(ColAdaScalePerturbed, feat)
	return nil
}

// adaScalePerturb writes AdaScale's perturbed input xp of x given the
// gradient dx: the m elements of smallest |dx| of each image move by
// 0.5·sign(dx) (idx: per-image scratch).
func (w *extraWork) adaScalePerturb(x, dx []float32, n, m int, idx []int, xp []float32) {
	per := w.per
	for i := range n {
		xi, gi, pi := x[i*per:(i+1)*per], dx[i*per:(i+1)*per], xp[i*per:(i+1)*per]
		copy(pi, xi)
		for j := range idx {
			idx[j] = j
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmpF32(abs32(gi[a]), abs32(gi[b]))
		})
		for _, j := range idx[:m] {
			var s float32
			switch {
			case gi[j] > 0:
				s = 1
			case gi[j] < 0:
				s = -1
			}
			pi[j] = xi[j] + s*0.5
		}
	}
}

func cmpF32(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
