package augment

import (
	"math"
	"math/bits"
)

// Domain constants separate the streams derived from one seed.
const (
	domainSample  = 0x5a4d504c45000001 // per-sample augmentation choices
	domainShuffle = 0x5348554646000002 // per-epoch permutation
	golden        = 0x9e3779b97f4a7c15 // 2^64 / φ, the splitmix64 increment
	golden2       = 0x3c6ef372fe94f82a // 2·golden mod 2^64
)

// mix64 is the splitmix64 finaliser (Stafford's variant 13), a bijection of
// uint64 with full avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// key hashes (seed, domain, a, b) into a stream start. Each word is absorbed
// through the finaliser, so neighbouring epochs and rows get unrelated streams.
func key(seed, domain uint64, a, b uint64) uint64 {
	h := mix64(seed ^ domain)
	h = mix64(h + golden + a)
	h = mix64(h + golden2 + b)
	return h
}

// rng is a splitmix64 stream: a counter-based generator whose whole state is
// one uint64. The zero value is a valid stream.
type rng struct{ s uint64 }

// sampleRNG is the generator of dataset row index in epoch epoch.
func sampleRNG(seed uint64, epoch, index int) rng {
	return rng{key(seed, domainSample, uint64(epoch), uint64(index))}
}

func (r *rng) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// float64 returns a uniform value in [0, 1) with 53 random bits.
func (r *rng) float64() float64 {
	return float64(r.next()>>11) * (1.0 / (1 << 53))
}

// uniform returns a uniform value in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 {
	return lo + (hi-lo)*r.float64()
}

// intn returns a uniform integer in [0, n), n > 0, without modulo bias
// (Lemire's multiply-and-reject).
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("augment: intn of a non-positive bound")
	}
	bound := uint64(n)
	for {
		hi, lo := bits.Mul64(r.next(), bound)
		if lo >= bound || lo >= -bound%bound {
			return int(hi)
		}
	}
}

// permutation fills perm with the order of epoch epoch: a Fisher–Yates
// shuffle of 0..len(perm)-1 driven by the stream keyed by (seed, epoch).
func permutation(perm []int, seed uint64, epoch int) {
	for i := range perm {
		perm[i] = i
	}
	r := rng{key(seed, domainShuffle, uint64(epoch), 0)}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
}

// roundHalfEven is Python's round() for the values torchvision rounds.
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }
