package nn

import (
	"errors"
	"fmt"
	"math"

	"github.com/t2f/t2f/train/backend"
)

// Training objectives besides the plain cross-entropy (Model.CrossEntropy).
// Both run on the host over the last Forward's Logits (N×classes values:
// small next to the network) in float64, so every backend gets them without
// a kernel of its own, and upload dlogits for Backward.

// LabelOutlier is the label of an auxiliary outlier row in an Outlier
// Exposure batch (the shards' OOD label).
const LabelOutlier int32 = -1

// LogitNormEps is the constant LogitNorm adds to the logit norm
// (OpenOOD's LogitNormLoss: torch.norm(x) + 1e-7).
const LogitNormEps = 1e-7

// LogitNorm is OpenOOD's LogitNormLoss (Wei et al., 2022) of the last
// Forward's Logits z against labels: the mean cross-entropy of
// z/(‖z‖₂ + 1e-7)/τ. It returns the loss and dlogits = ∂loss/∂z (owned by
// the model) for Backward. The network itself is unchanged: LogitNorm only
// changes the loss, so the model scores with its plain logits.
func (m *Model) LogitNorm(labels []int32, tau float64) (loss float64, dlogits *backend.Tensor, err error) {
	defer guard("logitnorm", &err)
	if !(tau > 0) || math.IsInf(tau, 0) {
		return 0, nil, fmt.Errorf("nn: logitnorm: tau %v, want a positive number", tau)
	}
	z, n, k, err := m.hostLogits("logitnorm", labels)
	if err != nil {
		return 0, nil, err
	}
	for i, l := range labels {
		if l < 0 || int(l) >= k {
			return 0, nil, fmt.Errorf("nn: logitnorm: label %d of image %d outside [0, %d)", l, i, k)
		}
	}
	m.hostGrad = grow32(m.hostGrad, n*k)
	loss = LogitNormLoss(z, labels, k, tau, m.hostGrad)
	return m.uploadGrad("logitnorm", loss, n, k)
}

// OutlierExposure is OpenOOD's Outlier Exposure objective (Hendrycks et
// al., 2019) on the last Forward's Logits: labels holds one entry per row,
// a class index for an in-distribution row and LabelOutlier (−1) for an
// auxiliary outlier row. The loss is the mean cross-entropy over the
// in-distribution rows plus lambda times the mean over the outlier rows of
// logsumexp(z) − mean(z), the cross-entropy to the uniform distribution
// (OpenOOD's oe_trainer.py with its batch concatenated as [ID; outliers]).
// Without outlier rows it is the cross-entropy.
func (m *Model) OutlierExposure(labels []int32, lambda float64) (loss float64, dlogits *backend.Tensor, err error) {
	defer guard("outlier exposure", &err)
	if !(lambda >= 0) || math.IsInf(lambda, 0) {
		return 0, nil, fmt.Errorf("nn: outlier exposure: lambda %v, want a finite number ≥ 0", lambda)
	}
	z, n, k, err := m.hostLogits("outlier exposure", labels)
	if err != nil {
		return 0, nil, err
	}
	in := 0
	for i, l := range labels {
		switch {
		case l == LabelOutlier:
		case l < 0 || int(l) >= k:
			return 0, nil, fmt.Errorf("nn: outlier exposure: label %d of image %d outside [0, %d) and not the outlier label %d", l, i, k, LabelOutlier)
		default:
			in++
		}
	}
	if in == 0 {
		return 0, nil, errors.New("nn: outlier exposure: the batch holds no in-distribution row")
	}
	m.hostGrad = grow32(m.hostGrad, n*k)
	loss = OutlierExposureLoss(z, labels, k, lambda, m.hostGrad)
	return m.uploadGrad("outlier exposure", loss, n, k)
}

// hostLogits checks that a training forward awaits its loss and returns a
// host copy of its logits, N and classes.
func (m *Model) hostLogits(op string, labels []int32) (z []float32, n, k int, err error) {
	if m.logits == nil || m.feat == nil {
		return nil, 0, 0, fmt.Errorf("nn: %s: no forward pass yet", op)
	}
	n, k = m.logits.Shape()[0], m.cfg.Classes
	if len(labels) != n {
		return nil, 0, 0, fmt.Errorf("nn: %s: %d labels for logits %v", op, len(labels), m.logits.Shape())
	}
	m.hostZ = grow32(m.hostZ, n*k)
	m.be.Download(m.hostZ, m.logits)
	return m.hostZ, n, k, nil
}

// uploadGrad moves m.hostGrad into the model's dlogits tensor.
func (m *Model) uploadGrad(op string, loss float64, n, k int) (float64, *backend.Tensor, error) {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, nil, fmt.Errorf("nn: %s: loss is %v: %w", op, loss, ErrDiverged)
	}
	d := ensure(m.be, &m.dlogits, n, k)
	m.be.Upload(d, m.hostGrad)
	return loss, d, nil
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// logSoftmaxRow writes p = softmax(s) and returns logsumexp(s), in float64.
func logSoftmaxRow(s, p []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var sum float64
	for j, v := range s {
		p[j] = math.Exp(v - mx)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
	return mx + math.Log(sum)
}

// LogitNormLoss is the reference computation behind Model.LogitNorm on host
// logits z (N×k, row-major, N = len(labels), labels in [0, k)): it returns
// mean_i CE(u_i/τ, y_i) with u_i = z_i/(‖z_i‖₂ + 1e-7) and writes ∂loss/∂z
// into dz (N×k). The derivative of ‖z‖ at z = 0 is taken as 0, as PyTorch's.
func LogitNormLoss(z []float32, labels []int32, k int, tau float64, dz []float32) float64 {
	n := len(labels)
	if len(z) != n*k || len(dz) != n*k {
		panic("nn: LogitNormLoss: slice lengths do not match N×k")
	}
	s, p, u := make([]float64, k), make([]float64, k), make([]float64, k)
	var loss float64
	for i, y := range labels {
		row := z[i*k : (i+1)*k]
		var sq float64
		for _, v := range row {
			sq += float64(v) * float64(v)
		}
		norm := math.Sqrt(sq)
		den := norm + LogitNormEps
		for j, v := range row {
			u[j] = float64(v) / den
			s[j] = u[j] / tau
		}
		lse := logSoftmaxRow(s, p)
		loss += lse - s[y]
		// ds = (p − onehot)/N; du = ds/τ; dz = du/den − z·(z·du)/(den²·‖z‖).
		var zdu float64
		for j := range p {
			g := p[j]
			if j == int(y) {
				g--
			}
			p[j] = g / float64(n) / tau // now du
			zdu += float64(row[j]) * p[j]
		}
		c := 0.0
		if norm > 0 {
			c = zdu / (den * den * norm)
		}
		for j := range p {
			dz[i*k+j] = float32(p[j]/den - float64(row[j])*c)
		}
	}
	return loss / float64(n)
}

// OutlierExposureLoss is the reference computation behind
// Model.OutlierExposure on host logits z (N×k, row-major, N = len(labels)):
// mean CE over the rows labelled in [0, k) + λ·mean over the rows labelled
// LabelOutlier of (logsumexp(z) − mean(z)); ∂loss/∂z goes to dz. At least
// one row must be in-distribution.
func OutlierExposureLoss(z []float32, labels []int32, k int, lambda float64, dz []float32) float64 {
	n := len(labels)
	if len(z) != n*k || len(dz) != n*k {
		panic("nn: OutlierExposureLoss: slice lengths do not match N×k")
	}
	var in, out int
	for _, l := range labels {
		if l == LabelOutlier {
			out++
		} else {
			in++
		}
	}
	if in == 0 {
		panic("nn: OutlierExposureLoss: no in-distribution row")
	}
	s, p := make([]float64, k), make([]float64, k)
	var ce, oe float64
	for i, y := range labels {
		row := z[i*k : (i+1)*k]
		var mean float64
		for j, v := range row {
			s[j] = float64(v)
			mean += s[j]
		}
		mean /= float64(k)
		lse := logSoftmaxRow(s, p)
		if y == LabelOutlier {
			oe += lse - mean
			w := lambda / float64(out)
			for j := range p {
				dz[i*k+j] = float32(w * (p[j] - 1/float64(k)))
			}
			continue
		}
		ce += lse - s[y]
		for j := range p {
			g := p[j]
			if j == int(y) {
				g--
			}
			dz[i*k+j] = float32(g / float64(in))
		}
	}
	loss := ce / float64(in)
	if out > 0 {
		loss += lambda * oe / float64(out)
	}
	return loss
}
