package metrics_test

import (
	"fmt"

	"github.com/t2f/t2f/evaluate/metrics"
)

// Three ID and two OOD scores (higher = more ID). The expected values are
// scikit-learn's, computed with OpenOOD's recipe.
func ExampleEvaluate() {
	id := []float64{0.9, 0.8, 0.4}
	ood := []float64{0.5, 0.1}
	r, err := metrics.Evaluate(id, ood)
	if err != nil {
		panic(err)
	}
	fmt.Printf("FPR@95 (OOD positive, OpenOOD v1.5) %.4f\n", r.FPR95)
	fmt.Printf("FPR@95 (ID positive, classic)      %.4f\n", r.FPR95ID)
	fmt.Printf("AUROC %.4f  AUPR-IN %.4f  AUPR-OUT %.4f\n", r.AUROC, r.AUPRIn, r.AUPROut)
	// Output:
	// FPR@95 (OOD positive, OpenOOD v1.5) 0.3333
	// FPR@95 (ID positive, classic)      0.5000
	// AUROC 0.8333  AUPR-IN 0.9028  AUPR-OUT 0.7917
}
