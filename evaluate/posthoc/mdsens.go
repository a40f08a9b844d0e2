package posthoc

import "slices"

// MDSEnsembleNoises is mds_ensemble's sweep (OpenOOD's noise_list): the
// noises `t2f features --extra mds_ensemble` computes, in column order.
var MDSEnsembleNoises = []float64{0.0014}

// mdsEnsemble is OpenOOD's MDSEnsemblePostprocessor in its default
// configuration, scored from the column `t2f features --extra mds_ensemble`
// computed with the network: for each noise, max_c −½(f'−μ_c)ᵀP(f'−μ_c) of
// the pooled stem map f' of the input perturbed against the Mahalanobis
// distance to the closest class, with μ_c and P from ID train (see
// features.MDSStats and docs/posthoc.md). α = [1] (one layer), so the
// column is the score. noise default 0.0014, sweep [0.0014]; APS on.
type mdsEnsemble struct{ params }

func newMDSEnsemble() *mdsEnsemble {
	return &mdsEnsemble{newParams(Param{Name: "noise", Default: 0.0014, Sweep: MDSEnsembleNoises})}
}

func (m *mdsEnsemble) Name() string          { return "mds_ensemble" }
func (m *mdsEnsemble) Needs() Needs          { return Needs{APS: true, Extra: []string{"mds_ensemble"}} }
func (m *mdsEnsemble) Fit(in FitInput) error { return nil }
func (m *mdsEnsemble) Set(v ...float64) error {
	old := slices.Clone(m.vals)
	if err := m.setVals(m.Name(), v); err != nil {
		return err
	}
	if v[0] < 0 {
		copy(m.vals, old)
		return errorf("mds_ensemble: noise %v, want ≥ 0", v[0])
	}
	return nil
}
func (m *mdsEnsemble) Score(d *Data) ([]float64, error) {
	k, w := slices.Index(MDSEnsembleNoises, m.vals[0]), len(MDSEnsembleNoises)
	if k < 0 {
		return nil, errorf("mds_ensemble: %v is not in the noises `t2f features --extra mds_ensemble` computes (%v): %w",
			m.Setting(), MDSEnsembleNoises, ErrNotApplicable)
	}
	col, err := extraColumn(m.Name(), "scored data", d, "mds_ensemble", w, true)
	if err != nil {
		return nil, err
	}
	out := make([]float64, d.N)
	for i := range out {
		v := col[i*w+k]
		if v != v {
			return nil, errorf("mds_ensemble: %v was not computed for sample %d (rerun `t2f features --extra mds_ensemble`): %w",
				m.Setting(), i, ErrNotApplicable)
		}
		out[i] = float64(v)
	}
	return out, nil
}
