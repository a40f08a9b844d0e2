package kernels

// BatchNorm plane kernels. A BatchNorm channel is N planes of H·W values;
// the backend calls these once per plane. The reductions accumulate over
// sumLanes interleaved partial sums (element i goes to lane i mod sumLanes,
// missing tail elements count as +0) folded by halving (lane l += lane l+h
// for h = 16, 8, 4, 2, 1), so the assembly and the pure-Go twins give the
// same bits. Sum and SqDev accumulate in float64 (a channel's mean must be
// exact to far below its spread: BatchNorm subtracts it from values that can
// be much larger than the spread; PyTorch accumulates both statistics in
// float64 too); the gradient sums in float32.

// sumLanes is the number of partial sums of the plane reductions (two
// 16-lane AVX-512 registers).
const sumLanes = 32

// Sum returns Σ x[i] (lane-interleaved float64 accumulation, see above).
func Sum(x []float32) float64 { return sumPlane(x) }

// SumPlane returns Sum(x[off:off+n]) and hints the CPU to fetch
// x[off+ahead : off+ahead+n] meanwhile (ahead = 0: no hint): the BatchNorm
// statistics walk N planes that are C·H·W apart, too far for the hardware
// prefetcher to follow. The hint never reads outside x.
func SumPlane(x []float32, off, n, ahead int) float64 {
	return sumAhead(x[off:off+n], clampAhead(len(x), off, n, ahead))
}

// clampAhead returns ahead when the plane it points at lies inside a slice
// of length l, else 0.
func clampAhead(l, off, n, ahead int) int {
	if ahead < 0 || off+ahead+n > l {
		return 0
	}
	return ahead
}

// SqDev returns Σ d², d = float64(x[i]−m) with the difference rounded to
// float32 and the squares summed in float64 (lane-interleaved): the
// numerator of a plane's variance about a known mean.
func SqDev(x []float32, m float32) float64 { return sqDevPlane(x, m) }

// GradStats returns Σ g[i] and Σ float32((x[i]−m)·g[i]) with g = dy, or,
// when y is not nil, g[i] = dy[i] where y[i] > 0 or is NaN and 0 elsewhere
// (the gradient through a fused ReLU whose output is y). These are the two
// reductions of the BatchNorm backward pass. dy (and y) have x's length.
func GradStats(x, dy, y []float32, m float32) (sum, dot float32) {
	if len(dy) != len(x) || (y != nil && len(y) != len(x)) {
		panic("kernels: GradStats: lengths differ")
	}
	return gradStats(x, dy, y, m)
}

// GradStatsPlane returns GradStats of the planes [off, off+n) of x, dy (and
// y unless nil), hinting the CPU to fetch the planes ahead floats further
// (ahead = 0: no hint; as SumPlane).
func GradStatsPlane(x, dy, y []float32, off, n, ahead int, m float32) (sum, dot float32) {
	ahead = clampAhead(min(len(x), len(dy)), off, n, ahead)
	var yp []float32
	if y != nil {
		yp = y[off : off+n]
		ahead = clampAhead(len(y), off, n, ahead)
	}
	return gradStatsAhead(x[off:off+n], dy[off:off+n], yp, m, ahead)
}

// BNGrad writes the BatchNorm input gradient of one plane:
//
//	dx[i] = float32(g[i]·w) + (float32(x[i]·a) + c)
//
// with g as in GradStats (dy, masked by y > 0 when y is not nil). All
// slices have dx's length; dx may alias dy.
func BNGrad(dx, dy, y, x []float32, w, a, c float32) {
	if len(dy) != len(dx) || len(x) != len(dx) || (y != nil && len(y) != len(dx)) {
		panic("kernels: BNGrad: lengths differ")
	}
	bnGrad(dx, dy, y, x, w, a, c)
}

// fold64 is fold in float64.
func fold64(acc *[sumLanes]float64) float64 {
	for h := sumLanes / 2; h >= 1; h /= 2 {
		for l := range h {
			acc[l] += acc[l+h]
		}
	}
	return acc[0]
}

// fold reduces the sumLanes partial sums in the documented order.
func fold(acc *[sumLanes]float32) float32 {
	for h := sumLanes / 2; h >= 1; h /= 2 {
		for l := range h {
			acc[l] += acc[l+h]
		}
	}
	return acc[0]
}

func sumGo(x []float32) float64 {
	var acc [sumLanes]float64
	for i0 := 0; i0 < len(x); i0 += sumLanes {
		for l := range sumLanes {
			var v float64
			if i0+l < len(x) {
				v = float64(x[i0+l])
			}
			acc[l] += v
		}
	}
	return fold64(&acc)
}

func sqDevGo(x []float32, m float32) float64 {
	var acc [sumLanes]float64
	for i0 := 0; i0 < len(x); i0 += sumLanes {
		for l := range sumLanes {
			var v float64
			if i0+l < len(x) {
				d := float64(x[i0+l] - m)
				v = float64(d * d)
			}
			acc[l] += v
		}
	}
	return fold64(&acc)
}

func gradStatsGo(x, dy, y []float32, m float32) (float32, float32) {
	var s, d [sumLanes]float32
	for i0 := 0; i0 < len(x); i0 += sumLanes {
		for l := range sumLanes {
			var g, p float32
			if i := i0 + l; i < len(x) {
				g = dy[i]
				if y != nil && !keep(y[i]) {
					g = 0
				}
				p = float32((x[i] - m) * g)
			}
			s[l] += g
			d[l] += p
		}
	}
	return fold(&s), fold(&d)
}

func bnGradGo(dx, dy, y, x []float32, w, a, c float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i := range dx {
		g := dy[i]
		if y != nil && !keep(y[i]) {
			g = 0
		}
		dx[i] = float32(g*w) + (float32(x[i]*a) + c)
	}
}
