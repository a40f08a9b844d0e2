package posthoc_test

import (
	"fmt"

	"github.com/t2f/t2f/evaluate/posthoc"
)

// A method is created by its OpenOOD name, fitted on ID data and then scores
// any split; higher means more in-distribution.
func Example() {
	// Two ID-train features (D = 2) and two queries: one near them, one far.
	// Squared distances of the normalised vectors: 2 − 2cos, e.g.
	// 2 − 2/√1.0025 = 0.0025 for the first query and its nearest, (1, 0).
	train := &posthoc.Data{N: 2, D: 2, C: 2, Feature: []float32{1, 0, 0.9, 0.1}}
	test := &posthoc.Data{N: 2, D: 2, C: 2, Feature: []float32{1, 0.05, 0, 1}}
	s, err := posthoc.New("knn")
	if err != nil {
		panic(err)
	}
	if err := s.(posthoc.Tunable).Set(1); err != nil { // K = 1 (OpenOOD's default is 50)
		panic(err)
	}
	if err := s.Fit(posthoc.FitInput{Train: train}); err != nil {
		panic(err)
	}
	scores, err := s.Score(test)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.3f %.3f\n", scores[0], scores[1])
	fmt.Println(s.Needs().APS, s.(posthoc.Tunable).Setting())
	// Output:
	// -0.002 -1.779
	// true K=1
}
