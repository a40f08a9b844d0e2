package evaluate

import (
	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
)

// Training methods as feature files record them (features.Meta.Method; the
// names of t2f train --method, train.Method*, which a test checks) and the
// post-hoc scorer OpenOOD reports each with.
const (
	TrainCE        = "ce"
	TrainT2FNorm   = "t2fnorm"
	TrainLogitNorm = "logitnorm"
	TrainOE        = "oe"
	TrainT2FNormOE = "t2fnorm+oe"
)

// TrainingMethod is the run's training method: the one its feature files
// record, else what its head implies (t2fnorm for a T2FNorm head, ce for a
// linear one: files written before methods were recorded, or from a
// PyTorch state_dict).
func (r RunInfo) TrainingMethod() string {
	if r.Method != "" {
		return r.Method
	}
	if r.Head == features.HeadT2FNorm {
		return TrainT2FNorm
	}
	return TrainCE
}

// ScoringView is the post-hoc method a training method's model is judged by
// in OpenOOD's tables: t2fnorm (the OOD forward W·f/τ + b) for T2FNorm
// models, Outlier Exposure included, and msp for the others — for LogitNorm
// MSP on the plain logits W·f + b (the logit normalisation is a training
// loss only; OpenOOD's LogitNorm network is a plain one), for OE and the
// cross-entropy baseline MSP too.
func ScoringView(method string) string {
	switch method {
	case TrainT2FNorm, TrainT2FNormOE:
		return posthoc.MethodT2FNorm
	}
	return posthoc.MethodMSP
}

// MethodLabel is a training method's name in tables: CE, T2FNorm,
// LogitNorm, OE, T2FNorm+OE (the name itself when unknown).
func MethodLabel(method string) string {
	switch method {
	case TrainCE:
		return "CE"
	case TrainT2FNorm:
		return "T2FNorm"
	case TrainLogitNorm:
		return "LogitNorm"
	case TrainOE:
		return "OE"
	case TrainT2FNormOE:
		return "T2FNorm+OE"
	}
	return method
}
