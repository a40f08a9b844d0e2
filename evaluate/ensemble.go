package evaluate

import (
	"fmt"
	"slices"

	"github.com/t2f/t2f/evaluate/posthoc"
)

// members returns d with the scoring-view logits (logits_ood) of every
// run's copy of split sp: the members of the ensemble method. The runs must
// hold the same samples in the same order.
func (p *prepared) members(d *posthoc.Data, sp *Split) (*posthoc.Data, error) {
	c := *d
	c.Members = nil
	for _, q := range p.peers {
		qs := q.counterpart(p, sp)
		if qs == nil {
			return nil, fmt.Errorf("ensemble: run %s has no split matching %s", q.run.Name, sp.Path)
		}
		if !slices.Equal(qs.Table.IDs, sp.Table.IDs) {
			return nil, fmt.Errorf("ensemble: %s and %s hold different samples (ids); the members must be scored on the same data", sp.Path, qs.Path)
		}
		c.Members = append(c.Members, qs.Table.LogitsOOD)
	}
	return &c, nil
}

// counterpart is q's split in the role sp has in p (nil if none).
func (q *prepared) counterpart(p *prepared, sp *Split) *Split {
	switch {
	case sp == p.idTest:
		return q.idTest
	case sp == p.idTrain:
		return q.idTrain
	case sp == p.idVal:
		return q.idVal
	case sp == p.oodVal:
		return q.oodVal
	}
	for i, o := range p.ood {
		if o == sp && i < len(q.ood) {
			return q.ood[i]
		}
	}
	for i, o := range p.csid {
		if o == sp && i < len(q.csid) {
			return q.csid[i]
		}
	}
	return nil
}
