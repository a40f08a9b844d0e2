package features_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/t2f/t2f/features"
)

// A feature file round trip: two rows of a 3-d feature with 2 classes.
func Example() {
	dir, err := os.MkdirTemp("", "features")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	t := &features.Table{
		Meta: features.Meta{Dataset: "mnist", Split: "test", Model: "lenet", Width: 1, Head: "t2fnorm", Tau: 0.1,
			Classes: []string{"even", "odd"}, CheckpointSHA256: "00ff"},
		Dim: 3, NumClasses: 2,
		IDs:               []int64{7, 9},
		Labels:            []int32{1, -1},
		Preds:             []int32{1, 0},
		Feature:           []float32{3, 4, 0, 0, 0, 2},
		FeatureNormalized: []float32{0.6, 0.8, 0, 0, 0, 1},
		FeatureNorm:       []float32{5, 2},
		Logits:            []float32{-1, 1, 2, 0},
		LogitsOOD:         []float32{-5, 5, 20, 0},
	}
	path := filepath.Join(dir, features.FileName(t.Meta.Dataset, t.Meta.Split))
	if err := features.WriteFile(path, t); err != nil {
		log.Fatal(err)
	}
	got, err := features.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(path), got.Len(), "rows, D =", got.Dim, "C =", got.NumClasses)
	fmt.Println("ids", got.IDs, "norms", got.FeatureNorm, "classes", got.Meta.Classes)
	fmt.Println("row 1 feature", got.Feature[got.Dim:2*got.Dim])
	// Output:
	// mnist_test.parquet 2 rows, D = 3 C = 2
	// ids [7 9] norms [5 2] classes [even odd]
	// row 1 feature [0 0 2]
}
