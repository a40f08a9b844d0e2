package metrics

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// sklearnCurve transliterates scikit-learn 1.2's _binary_clf_curve: sort by
// score descending, one point per distinct score, cumulative true and false
// positives there.
func sklearnCurve(pos []bool, score []float64) (fps, tps []float64) {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	var tp, fp float64
	for k, i := range idx {
		if pos[i] {
			tp++
		} else {
			fp++
		}
		if k == len(idx)-1 || score[idx[k+1]] != score[i] {
			fps = append(fps, fp)
			tps = append(tps, tp)
		}
	}
	return fps, tps
}

// sklearnROC is roc_curve with drop_intermediate=True.
func sklearnROC(pos []bool, score []float64) (fpr, tpr []float64) {
	fps, tps := sklearnCurve(pos, score)
	if len(fps) > 2 {
		var f, t []float64
		for i := range fps {
			if i == 0 || i == len(fps)-1 || fps[i+1]-2*fps[i]+fps[i-1] != 0 || tps[i+1]-2*tps[i]+tps[i-1] != 0 {
				f = append(f, fps[i])
				t = append(t, tps[i])
			}
		}
		fps, tps = f, t
	}
	fps = append([]float64{0}, fps...)
	tps = append([]float64{0}, tps...)
	for i := range fps {
		fpr = append(fpr, fps[i]/fps[len(fps)-1])
		tpr = append(tpr, tps[i]/tps[len(tps)-1])
	}
	return fpr, tpr
}

// sklearnAUPR is auc(recall, precision) of precision_recall_curve.
func sklearnAUPR(pos []bool, score []float64) float64 {
	fps, tps := sklearnCurve(pos, score)
	n := len(fps)
	var prec, rec []float64
	for i := n - 1; i >= 0; i-- { // reversed so recall decreases, then (recall 0, precision 1)
		prec = append(prec, tps[i]/(tps[i]+fps[i]))
		rec = append(rec, tps[i]/tps[n-1])
	}
	prec = append(prec, 1)
	rec = append(rec, 0)
	return -trapz(rec, prec) // auc with direction −1
}

func trapz(x, y []float64) float64 {
	var a float64
	for i := 1; i < len(x); i++ {
		a += (x[i] - x[i-1]) * (y[i] + y[i-1]) / 2
	}
	return a
}

func at95(fpr, tpr []float64) float64 {
	for i := range tpr {
		if tpr[i] >= 0.95 {
			return fpr[i]
		}
	}
	return fpr[0] // argmax of all-false is 0
}

func reference(id, ood []float64) Result {
	var score, neg []float64
	var isOOD []bool
	for _, s := range id {
		score = append(score, s)
		neg = append(neg, -s)
		isOOD = append(isOOD, false)
	}
	for _, s := range ood {
		score = append(score, s)
		neg = append(neg, -s)
		isOOD = append(isOOD, true)
	}
	isID := make([]bool, len(isOOD))
	for i, o := range isOOD {
		isID[i] = !o
	}
	fpr, tpr := sklearnROC(isOOD, neg)
	cfpr, ctpr := sklearnROC(isID, score)
	return Result{FPR95: at95(fpr, tpr), FPR95ID: at95(cfpr, ctpr), AUROC: trapz(fpr, tpr),
		AUPRIn: sklearnAUPR(isID, score), AUPROut: sklearnAUPR(isOOD, neg), NumID: len(id), NumOOD: len(ood)}
}

func checkAgainstReference(t *testing.T, id, ood []float64) {
	t.Helper()
	got, err := Evaluate(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(id, ood)
	if got.NumID != want.NumID || got.NumOOD != want.NumOOD ||
		math.Abs(got.FPR95-want.FPR95) > 1e-12 || math.Abs(got.FPR95ID-want.FPR95ID) > 1e-12 ||
		math.Abs(got.AUROC-want.AUROC) > 1e-9 || math.Abs(got.AUPRIn-want.AUPRIn) > 1e-9 || math.Abs(got.AUPROut-want.AUPROut) > 1e-9 {
		t.Fatalf("id %v ood %v:\n got %+v\nwant %+v", id, ood, got, want)
	}
	fpr, tpr, err := ROC(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	score := append(append([]float64{}, id...), ood...)
	isOOD := make([]bool, len(score))
	for i := len(id); i < len(score); i++ {
		isOOD[i] = true
		score[i] = -score[i]
	}
	for i := 0; i < len(id); i++ {
		score[i] = -score[i]
	}
	wf, wt := sklearnROC(isOOD, score)
	if len(fpr) != len(wf) {
		t.Fatalf("id %v ood %v: %d ROC points, reference %d", id, ood, len(fpr), len(wf))
	}
	for i := range fpr {
		if fpr[i] != wf[i] || tpr[i] != wt[i] {
			t.Fatalf("ROC point %d: (%v, %v), reference (%v, %v)", i, fpr[i], tpr[i], wf[i], wt[i])
		}
	}
}

// Random small inputs over tiny score alphabets (heavy ties, equal steps
// that drop_intermediate removes) against a direct transliteration of
// scikit-learn's algorithm.
func TestAgainstSklearnTransliteration(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		id := make([]float64, 1+rng.IntN(30))
		ood := make([]float64, 1+rng.IntN(30))
		alpha := 1 + rng.IntN(6)
		for i := range id {
			id[i] = float64(rng.IntN(alpha) + rng.IntN(2))
		}
		for i := range ood {
			ood[i] = float64(rng.IntN(alpha))
		}
		checkAgainstReference(t, id, ood)
	}
}

func FuzzAgainstSklearnTransliteration(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5}, uint8(2))
	f.Add([]byte{0, 0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		if len(data) < 2 || len(data) > 200 {
			return
		}
		k := 1 + int(split)%(len(data)-1)
		var id, ood []float64
		for i, b := range data {
			v := float64(b%16) - 8
			if i < k {
				id = append(id, v)
			} else {
				ood = append(ood, v)
			}
		}
		checkAgainstReference(t, id, ood)
	})
}
