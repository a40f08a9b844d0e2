//go:build noasm || !amd64

package kernels

func addTo(dst, src []float32) { addToGo(dst, src) }

func addToLevel(_ int, dst, src []float32) { addToGo(dst, src) }

func vecLevels() []int { return []int{0} }

func affine(dst, src []float32, a, c float32, relu bool) { affineGo(dst, src, a, c, relu) }
func addVec(dst, x, y []float32, relu bool)              { addVecGo(dst, x, y, relu) }
func reluMask(dst, dy, y []float32)                      { reluMaskGo(dst, dy, y) }

func affineLevel(_ int, dst, src []float32, a, c float32, relu bool) { affineGo(dst, src, a, c, relu) }
func addVecLevel(_ int, dst, x, y []float32, relu bool)              { addVecGo(dst, x, y, relu) }
func reluMaskLevel(_ int, dst, dy, y []float32)                      { reluMaskGo(dst, dy, y) }

func prefetch([]float32) {}
