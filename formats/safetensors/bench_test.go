package safetensors

import (
	"fmt"
	"path/filepath"
	"testing"
)

// resnetLike returns n F32 tensors of size elems each plus one I64 scalar.
func resnetLike(n, elems int) []Tensor {
	ts := make([]Tensor, 0, n+1)
	v := make([]float32, elems)
	for i := range v {
		v[i] = float32(i)
	}
	for i := range n {
		ts = append(ts, FromFloat32s(fmt.Sprintf("layer.%d.weight", i), []int{elems}, v))
	}
	return append(ts, FromInt64s("num_batches_tracked", nil, []int64{1}))
}

func BenchmarkMarshalParse(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 16} {
		ts := resnetLike(100, size)
		b.Run(fmt.Sprintf("100x%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(100 * size * 4))
			for b.Loop() {
				data, err := Marshal(ts, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Parse("bench", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteRead(b *testing.B) {
	ts := resnetLike(120, 1<<14) // ~7.9 MB, a small ResNet checkpoint
	path := filepath.Join(b.TempDir(), "ckpt.safetensors")
	b.ReportAllocs()
	b.SetBytes(int64(120 * (1 << 14) * 4))
	for b.Loop() {
		if err := Write(path, ts, map[string]string{"format": "pt"}); err != nil {
			b.Fatal(err)
		}
		if _, err := Read(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat32s(b *testing.B) {
	t := FromFloat32s("w", []int{1 << 16}, make([]float32, 1<<16))
	b.ReportAllocs()
	b.SetBytes(4 << 16)
	for b.Loop() {
		if _, err := t.Float32s(); err != nil {
			b.Fatal(err)
		}
	}
}
