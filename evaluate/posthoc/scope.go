package posthoc

// Excluded is an OpenOOD v1.5 post-processor that t2f does not implement,
// with the reason (docs/posthoc.md has the full table).
type Excluded struct {
	Name   string // OpenOOD postprocessor name
	Reason string // why it is out of scope, for the refusal message
}

// excluded lists OpenOOD's post-processors that need a network trained for
// them (an extra head, a different loss, a generator) or an anomaly-detection
// model, so they cannot score a classifier trained by `t2f train`.
var excluded = []Excluded{
	{"cider", "needs a network trained with the CIDER loss (hyperspherical embedding head, intermediate_forward)"},
	{"conf_branch", "needs a network trained with a confidence branch (ConfBranchNet)"},
	{"cutpaste", "anomaly detection: needs a CutPaste self-supervised network and its projection head"},
	{"draem", "anomaly detection: needs DRAEM's reconstructive and discriminative sub-networks"},
	{"dsvdd", "anomaly detection: needs a Deep SVDD network trained to a hypersphere centre"},
	{"godin", "needs a G-ODIN network (decomposed confidence head, trained for it)"},
	{"grood", "needs the network at scoring time: forward and gradient passes on generated noise images and OOD val through an intermediate layer"},
	{"mcd", "needs a network with two classifier heads trained with maximum classifier discrepancy"},
	{"mos", "needs a network trained with MOS's group-softmax head"},
	{"npos", "needs a network trained with NPOS (outlier synthesis, projection head)"},
	{"opengan", "needs an OpenGAN discriminator trained on the classifier's features"},
	{"patchcore", "anomaly detection: needs PatchCore's multi-layer patch memory bank of a pretrained backbone"},
	{"rd4ad", "anomaly detection: needs RD4AD's teacher encoder and trained student decoder"},
	{"reweightood", "needs a network trained with ReweightOOD (intermediate_forward embedding)"},
	{"rotpred", "needs a network trained with a rotation-prediction head"},
	{"ssd", "needs a self-supervised (SSD contrastive) network and its multi-layer statistics"},
}

// OutOfScope lists the OpenOOD post-processors t2f does not implement, in
// name order.
func OutOfScope() []Excluded { return append([]Excluded(nil), excluded...) }

// IsOutOfScope reports whether name is an OpenOOD post-processor t2f does not
// implement, and why.
func IsOutOfScope(name string) (reason string, ok bool) {
	for _, e := range excluded {
		if e.Name == name {
			return e.Reason, true
		}
	}
	return "", false
}
