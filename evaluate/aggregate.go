package evaluate

import "math"

// OpenOOD's aggregation (scripts/eval_ood.py): per-run metric values into
// table rows, per dataset and per near/far group, mean ± std over runs.

// table aggregates per-run values ([run][dataset], datasets in near then far
// order) into rows: per dataset, then the plain means, then mean ± std over
// runs.
func table(cfg Config, perRun [][]Values, counts []int) []Row {
	nNear := len(cfg.Near)
	var rows []Row
	add := func(name, kind string, get func(run []Values) Values, count int) {
		row := Row{Dataset: name, Kind: kind, NumOOD: count}
		for _, run := range perRun {
			row.Runs = append(row.Runs, get(run))
		}
		row.Mean, row.Std = meanStd(row.Runs)
		rows = append(rows, row)
	}
	group := func(names []string, off int, kind, meanName, meanKind string) {
		if len(names) == 0 {
			return
		}
		for i, ref := range names {
			name, _ := parseRef(ref)
			add(name, kind, func(run []Values) Values { return run[off+i] }, counts[off+i])
		}
		add(meanName, meanKind, func(run []Values) Values { v, _ := meanStd(run[off : off+len(names)]); return v }, 0)
	}
	group(cfg.Near, 0, KindNear, KindNearOOD, KindNearOOD)
	group(cfg.Far, nNear, KindFar, KindFarOOD, KindFarOOD)
	return rows
}

// meanStd is the element-wise mean and population standard deviation
// (numpy's default ddof=0, as OpenOOD's scripts/eval_ood.py uses).
func meanStd(vs []Values) (mean, std Values) {
	n := float64(len(vs))
	get := func(v *Values) []*float64 {
		return []*float64{&v.FPR95, &v.AUROC, &v.AUPRIn, &v.AUPROut, &v.ACC, &v.FPR95ID, &v.ECE}
	}
	m, s := get(&mean), get(&std)
	for j := range m {
		var sum float64
		for i := range vs {
			sum += *get(&vs[i])[j]
		}
		mu := sum / n
		var ss float64
		for i := range vs {
			d := *get(&vs[i])[j] - mu
			ss += d * d
		}
		*m[j], *s[j] = mu, math.Sqrt(ss/n)
	}
	return mean, std
}
