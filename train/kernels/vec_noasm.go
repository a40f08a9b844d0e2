//go:build noasm || !amd64

package kernels

func addTo(dst, src []float32) { addToGo(dst, src) }

func addToLevel(_ int, dst, src []float32) { addToGo(dst, src) }

func vecLevels() []int { return []int{0} }
