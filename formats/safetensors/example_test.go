package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/t2f/t2f/formats/safetensors"
)

func Example() {
	dir, _ := os.MkdirTemp("", "st")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err := safetensors.Write(path, []safetensors.Tensor{
		safetensors.FromFloat32s("fc.weight", []int{2, 2}, []float32{1, 2, 3, 4}),
		safetensors.FromInt64s("bn1.num_batches_tracked", nil, []int64{10}),
		safetensors.FromFloat32s("tau", nil, []float32{0.1}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := safetensors.Read(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Names())
	w, _ := f.Tensor("fc.weight")
	v, _ := w.Float32s()
	fmt.Println(w.DType, w.Shape, v)
	// Output:
	// [bn1.num_batches_tracked fc.weight tau]
	// F32 [2 2] [1 2 3 4]
}
