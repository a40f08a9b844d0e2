package evaluate

import "math"

// Stat is a value over runs: the mean, the population std and the number of
// runs.
type Stat struct {
	Mean, Std float64
	N         int
}

func statOf(v []float64) Stat {
	if len(v) == 0 {
		return Stat{Mean: math.NaN(), Std: math.NaN()}
	}
	var s float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return Stat{Mean: m, Std: math.Sqrt(ss / float64(len(v))), N: len(v)}
}

// Outcome says how T2FNorm's value compares with the baseline's.
type Outcome int

const (
	Same   Outcome = iota // the difference is within the noise threshold
	Better                // T2FNorm is better by more than the threshold
	Worse                 // T2FNorm is worse by more than the threshold
)

func (o Outcome) String() string {
	switch o {
	case Better:
		return "better"
	case Worse:
		return "worse"
	}
	return "same"
}

// Delta compares one metric of the baseline with T2FNorm.
type Delta struct {
	Base, T2F Stat
	Diff      float64 // T2F.Mean − Base.Mean
	Threshold float64 // |Diff| must exceed this to count as better or worse
	Outcome   Outcome
}

// Minimum effects (percentage points) below which a difference counts as
// "same", whatever the seeds say. With several runs the threshold is also
// at least twice the standard error of the difference of the means.
const (
	MinEffectAUROC = 0.5
	MinEffectFPR   = 1.0
	MinEffectACC   = 0.3
)

// compare builds a Delta; higherBetter says which direction is better.
func compare(base, t2f []float64, minEffect float64, higherBetter bool) Delta {
	d := Delta{Base: statOf(base), T2F: statOf(t2f)}
	d.Diff = d.T2F.Mean - d.Base.Mean
	se := 0.0
	if d.Base.N > 1 || d.T2F.N > 1 {
		se = math.Sqrt(d.Base.Std*d.Base.Std/float64(d.Base.N) + d.T2F.Std*d.T2F.Std/float64(d.T2F.N))
	}
	d.Threshold = math.Max(minEffect, 2*se)
	switch {
	case math.IsNaN(d.Diff) || math.Abs(d.Diff) <= d.Threshold:
		d.Outcome = Same
	case (d.Diff > 0) == higherBetter:
		d.Outcome = Better
	default:
		d.Outcome = Worse
	}
	return d
}
