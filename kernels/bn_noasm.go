//go:build noasm || !amd64

package kernels

func sumPlane(x []float32) float64                               { return sumGo(x) }
func sqDevPlane(x []float32, m float32) float64                  { return sqDevGo(x, m) }
func gradStats(x, dy, y []float32, m float32) (float32, float32) { return gradStatsGo(x, dy, y, m) }
func bnGrad(dx, dy, y, x []float32, w, a, c float32)             { bnGradGo(dx, dy, y, x, w, a, c) }

func sumLevel(_ int, x []float32) float64              { return sumGo(x) }
func sqDevLevel(_ int, x []float32, m float32) float64 { return sqDevGo(x, m) }
func gradStatsLevel(_ int, x, dy, y []float32, m float32) (float32, float32) {
	return gradStatsGo(x, dy, y, m)
}
func bnGradLevel(_ int, dx, dy, y, x []float32, w, a, c float32) { bnGradGo(dx, dy, y, x, w, a, c) }

func sumAhead(x []float32, _ int) float64 { return sumGo(x) }
func gradStatsAhead(x, dy, y []float32, m float32, _ int) (float32, float32) {
	return gradStatsGo(x, dy, y, m)
}
