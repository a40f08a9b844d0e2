package metrics

import (
	"fmt"
	"math"
)

// Result holds the metrics of one ID-vs-OOD comparison, as fractions in
// [0, 1]. See the package documentation for the exact definitions.
type Result struct {
	FPR95   float64 // OpenOOD v1.5: OOD positive; fraction of ID flagged OOD when ≥95% of OOD is flagged
	FPR95ID float64 // classic (OpenOOD v1.0): ID positive; fraction of OOD accepted when ≥95% of ID is kept
	AUROC   float64 // area under the ROC curve (same for either positive class)
	AUPRIn  float64 // trapezoidal area under the precision–recall curve, ID positive
	AUPROut float64 // trapezoidal area under the precision–recall curve, OOD positive
	NumID   int     // ID samples compared
	NumOOD  int     // OOD samples compared
}

// Compute returns the metrics for scores (higher = more ID) with labels
// (−1 = OOD, ≥ 0 = ID class index), as OpenOOD's compute_all_metrics does.
// Both classes must be present and every score finite.
func Compute(scores []float64, labels []int32) (Result, error) {
	if len(scores) != len(labels) {
		return Result{}, fmt.Errorf("metrics: %d scores but %d labels", len(scores), len(labels))
	}
	nOOD := 0
	for i, l := range labels {
		switch {
		case l == -1:
			nOOD++
		case l < -1:
			return Result{}, fmt.Errorf("metrics: label %d at index %d: want −1 (OOD) or a class index ≥ 0", l, i)
		}
	}
	id := make([]uint64, 0, len(scores)-nOOD)
	ood := make([]uint64, 0, nOOD)
	for i, s := range scores {
		k, ok := key(s)
		if !ok {
			return Result{}, fmt.Errorf("metrics: score %d is %v; scores must be finite", i, s)
		}
		if labels[i] == -1 {
			ood = append(ood, k)
		} else {
			id = append(id, k)
		}
	}
	return fromKeys(id, ood, nil)
}

// Evaluate returns the metrics for the ID scores id against the OOD scores
// ood (both higher = more ID): the same as Compute on their concatenation
// with labels ≥ 0 for id and −1 for ood.
func Evaluate(id, ood []float64) (Result, error) {
	idKeys, err := keys(id, "ID")
	if err != nil {
		return Result{}, err
	}
	oodKeys, err := keys(ood, "OOD")
	if err != nil {
		return Result{}, err
	}
	return fromKeys(idKeys, oodKeys, nil)
}

// ROC returns the ROC curve of OpenOOD's convention (OOD positive, detector
// output −score), point for point as scikit-learn's
// roc_curve(ood, −score) with drop_intermediate=True: fpr is the fraction of
// ID samples flagged OOD, tpr the fraction of OOD samples flagged OOD; the
// curve starts at (0, 0) and ends at (1, 1).
func ROC(id, ood []float64) (fpr, tpr []float64, err error) {
	idKeys, err := keys(id, "ID")
	if err != nil {
		return nil, nil, err
	}
	oodKeys, err := keys(ood, "OOD")
	if err != nil {
		return nil, nil, err
	}
	var c curve
	if _, err := fromKeys(idKeys, oodKeys, &c); err != nil {
		return nil, nil, err
	}
	return c.fpr, c.tpr, nil
}

// Accuracy is mean(pred == label) over the rows with label ≥ 0 (OpenOOD's
// acc()); rows labelled −1 are skipped. It fails when no row has a label ≥ 0.
func Accuracy(preds, labels []int32) (float64, error) {
	if len(preds) != len(labels) {
		return 0, fmt.Errorf("metrics: %d predictions but %d labels", len(preds), len(labels))
	}
	n, correct := 0, 0
	for i, l := range labels {
		if l < 0 {
			continue
		}
		n++
		if preds[i] == l {
			correct++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("metrics: accuracy of %d rows without an ID label", len(labels))
	}
	return float64(correct) / float64(n), nil
}

// key maps a score to a uint64 whose unsigned order is the float order,
// with −0 and +0 equal. ok is false for NaN and ±Inf.
func key(s float64) (k uint64, ok bool) {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return 0, false
	}
	if s == 0 {
		s = 0 // −0 → +0
	}
	b := math.Float64bits(s)
	if b>>63 != 0 {
		return ^b, true
	}
	return b | 1<<63, true
}

func keys(scores []float64, what string) ([]uint64, error) {
	out := make([]uint64, len(scores))
	for i, s := range scores {
		k, ok := key(s)
		if !ok {
			return nil, fmt.Errorf("metrics: %s score %d is %v; scores must be finite", what, i, s)
		}
		out[i] = k
	}
	return out, nil
}

// curve collects the ROC points for ROC.
type curve struct{ fpr, tpr []float64 }

// fromKeys sorts the ID and OOD keys (in place) and accumulates every
// metric in one ascending pass over the distinct scores.
//
// Notation: the K distinct scores v_0 < … < v_{K−1} form groups; group k
// holds a_k ID and o_k OOD samples. Boundary b (0 ≤ b ≤ K) lies below group
// b; A(b), O(b) count the ID/OOD samples below it. With OOD positive
// (score −s), scikit-learn's curve point k is boundary k+1 ("flag as OOD all
// samples below"); with ID positive it is boundary K−1−k ("accept as ID all
// samples above"). An interior boundary is a drop_intermediate candidate iff
// the groups on its two sides have equal counts.
func fromKeys(id, ood []uint64, roc *curve) (Result, error) {
	ni, no := len(id), len(ood)
	if ni == 0 || no == 0 {
		return Result{}, fmt.Errorf("metrics: need both ID and OOD samples, got %d ID and %d OOD", ni, no)
	}
	tmp := make([]uint64, ni+no) // disjoint scratch: either sort may end in it
	id = radixSort(id, tmp[:ni])
	ood = radixSort(ood, tmp[ni:])

	fNI, fNO := float64(ni), float64(no)
	var (
		A, O         int // below the current boundary
		prevA, prevO int // counts of the group below the current boundary
		k            int // index of the group being entered

		aurocNum int64 // Σ a_k (2·O(k) + o_k)

		fpr95Found bool
		fpr95      float64
		// Classic FPR: the largest kept boundary whose ID-above fraction is ≥ 0.95.
		fprIDCand   = 1.0 // boundary 0 (all accepted) is always kept and always qualifies
		lastFPRID   float64
		lastQualify bool

		// PR-OUT (OOD positive): previous point, starting at (recall 0, precision 1).
		rOutPrev, pOutPrev = 0.0, 1.0
		auprOut            float64
		// PR-IN (ID positive): previous point (boundary b−1).
		rInPrev, pInPrev float64
		auprIn           float64
	)
	if roc != nil {
		roc.fpr = append(roc.fpr, 0)
		roc.tpr = append(roc.tpr, 0)
	}
	// boundary handles boundary b = k (0 ≤ b ≤ K−1) when group k (counts a, o)
	// is known; group b−1 had prevA, prevO.
	boundary := func(b, a, o int) {
		// PR-IN point at boundary b: everything above is accepted as ID.
		ti, to := ni-A, no-O
		rIn := float64(ti) / fNI
		pIn := float64(ti) / float64(ti+to)
		if b > 0 {
			auprIn += (rInPrev - rIn) * (pIn + pInPrev) / 2
		}
		rInPrev, pInPrev = rIn, pIn
		if b == 0 {
			return
		}
		differ := a != prevA || o != prevO
		// OOD-positive point at boundary b (curve point k = b−1).
		rOut := float64(O) / fNO
		pOut := float64(O) / float64(O+A)
		auprOut += (rOut - rOutPrev) * (pOut + pOutPrev) / 2
		rOutPrev, pOutPrev = rOut, pOut
		keptOOD := b == 1 || differ
		if keptOOD {
			fpr := float64(A) / fNI
			if !fpr95Found && rOut >= 0.95 {
				fpr95Found, fpr95 = true, fpr
			}
			if roc != nil {
				roc.fpr = append(roc.fpr, fpr)
				roc.tpr = append(roc.tpr, rOut)
			}
		}
		// ID-positive point at boundary b: kept when the groups differ; the
		// topmost one (b = K−1) is always kept, settled after the loop.
		lastFPRID = float64(to) / fNO
		lastQualify = rIn >= 0.95
		if differ && lastQualify {
			fprIDCand = lastFPRID
		}
	}

	i, j := 0, 0
	for i < ni || j < no {
		var v uint64
		if j >= no || (i < ni && id[i] <= ood[j]) {
			v = id[i]
		} else {
			v = ood[j]
		}
		a := 0
		for i < ni && id[i] == v {
			i++
			a++
		}
		o := 0
		for j < no && ood[j] == v {
			j++
			o++
		}
		boundary(k, a, o)
		aurocNum += int64(a) * int64(2*O+o)
		A += a
		O += o
		prevA, prevO = a, o
		k++
	}
	K := k
	// Boundary K: everything flagged OOD / nothing accepted.
	// PR-IN: last pair from boundary K−1 to the appended (recall 0, precision 1).
	auprIn += (rInPrev - 0) * (1 + pInPrev) / 2
	// PR-OUT point at boundary K: recall 1, precision no/(ni+no).
	pOut := fNO / (fNO + fNI)
	auprOut += (1 - rOutPrev) * (pOut + pOutPrev) / 2
	if !fpr95Found {
		fpr95 = 1 // boundary K: all ID flagged
	}
	if roc != nil {
		roc.fpr = append(roc.fpr, 1)
		roc.tpr = append(roc.tpr, 1)
	}
	if K >= 2 && lastQualify {
		fprIDCand = lastFPRID // boundary K−1 is always kept (first ID-positive point)
	}
	return Result{
		FPR95:   fpr95,
		FPR95ID: fprIDCand,
		AUROC:   float64(aurocNum) / (2 * fNI * fNO),
		AUPRIn:  auprIn,
		AUPROut: auprOut,
		NumID:   ni,
		NumOOD:  no,
	}, nil
}

// ECEBins is the number of equal-width confidence bins of ECE, as OpenOOD's
// ece_evaluator.
const ECEBins = 15

// ECE is the expected calibration error over the ID-labelled rows (label
// ≥ 0): rows are binned by confidence conf (the max softmax probability)
// into ECEBins equal-width bins [i/15, (i+1)/15) as OpenOOD's ece_evaluator
// — the last bin also holds conf = 1, which float32 softmaxes reach — and
// ECE = Σ_b (n_b/n)·|mean conf_b − accuracy_b| over the non-empty bins.
func ECE(conf []float64, preds, labels []int32) (float64, error) {
	if len(conf) != len(labels) || len(preds) != len(labels) {
		return 0, fmt.Errorf("metrics: ECE of %d confidences, %d predictions and %d labels", len(conf), len(preds), len(labels))
	}
	var sum, hit [ECEBins]float64
	var cnt [ECEBins]int
	n := 0
	for i, l := range labels {
		if l < 0 {
			continue
		}
		c := conf[i]
		if math.IsNaN(c) || c < 0 || c > 1 {
			return 0, fmt.Errorf("metrics: ECE: confidence of row %d is %v, want a probability in [0, 1]", i, c)
		}
		b := min(int(c*ECEBins), ECEBins-1)
		// numpy's tau_tab = linspace(0, 1, 16) edges: move to the bin whose
		// [lo, hi) holds c exactly.
		for b > 0 && c < float64(b)/ECEBins {
			b--
		}
		for b < ECEBins-1 && c >= float64(b+1)/ECEBins {
			b++
		}
		sum[b] += c
		cnt[b]++
		if preds[i] == l {
			hit[b]++
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("metrics: ECE of %d rows without an ID label", len(labels))
	}
	var ece float64
	for b := range cnt {
		if cnt[b] > 0 {
			k := float64(cnt[b])
			ece += k / float64(n) * math.Abs(sum[b]/k-hit[b]/k)
		}
	}
	return ece, nil
}
