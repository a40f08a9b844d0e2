package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gridSource is n samples of shape 1×2×2: sample r is x[j] = (4r+j)/10, id
// 100+r, label r%3 − 1.
type gridSource struct {
	n     int
	calls atomic.Int32 // concurrent Load calls (must stay ≤ 1)
}

func (s *gridSource) Len() int             { return s.n }
func (s *gridSource) Shape() (c, h, w int) { return 1, 2, 2 }
func (s *gridSource) Load(start int, x []float32, ids []int64, labels []int32) error {
	if s.calls.Add(1) > 1 {
		panic("Load called concurrently")
	}
	defer s.calls.Add(-1)
	if len(x) != 4*len(ids) || len(ids) != len(labels) || start+len(ids) > s.n {
		return fmt.Errorf("bad Load(%d, %d, %d, %d)", start, len(x), len(ids), len(labels))
	}
	for i := range ids {
		r := start + i
		for j := range 4 {
			x[4*i+j] = float32(4*r+j) / 10
		}
		ids[i] = int64(100 + r)
		labels[i] = int32(r%3 - 1)
	}
	return nil
}

// linearNet is a fixed T2FNorm network on 1×2×2 inputs: f = A·x (D = 3),
// logits = W·f/‖f‖/τ + b, logitsOOD = W·f/τ + b (C = 2), computed in
// float64. It is safe for concurrent use; delay(batch start) sleeps to
// shuffle the order in which concurrent batches finish.
type linearNet struct {
	delay   func(first float32) time.Duration
	failAt  int // row whose batch fails, −1: none
	nanAt   int // row whose feature is NaN, −1: none
	running atomic.Int32
	maxRun  atomic.Int32
}

var (
	netA = [3][4]float64{{1, -1, 0.5, 0}, {0, 2, 0, -1}, {0.25, 0.25, 0.25, 0.25}}
	netW = [2][3]float64{{1, 0, -1}, {0.5, 2, 0}}
	netB = [2]float64{0.1, -0.2}
)

const netTau = 0.1

func (n *linearNet) InputShape() (c, h, w int) { return 1, 2, 2 }
func (n *linearNet) Dim() int                  { return 3 }
func (n *linearNet) NumClasses() int           { return 2 }
func (n *linearNet) Forward(x []float32, k int, feature, logits, logitsOOD []float32) error {
	if len(x) != 4*k || len(feature) != 3*k || len(logits) != 2*k || len(logitsOOD) != 2*k {
		return fmt.Errorf("bad Forward(%d, %d, %d, %d, %d)", len(x), k, len(feature), len(logits), len(logitsOOD))
	}
	r := n.running.Add(1)
	defer n.running.Add(-1)
	for m := n.maxRun.Load(); r > m && !n.maxRun.CompareAndSwap(m, r); m = n.maxRun.Load() {
	}
	if n.delay != nil {
		time.Sleep(n.delay(x[0]))
	}
	for i := range k {
		row := int(math.Round(float64(x[4*i]) * 10 / 4))
		if row == n.failAt {
			return errors.New("out of memory")
		}
		f, norm := netFeature(x[4*i : 4*i+4])
		for d := range 3 {
			feature[3*i+d] = float32(f[d])
		}
		if row == n.nanAt {
			feature[3*i+1] = float32(math.NaN())
		}
		for c := range 2 {
			var z float64
			for d := range 3 {
				z += netW[c][d] * f[d]
			}
			logits[2*i+c] = float32(z/norm/netTau + netB[c])
			logitsOOD[2*i+c] = float32(z/netTau + netB[c])
		}
	}
	return nil
}

func netFeature(x []float32) (f [3]float64, norm float64) {
	for d := range 3 {
		for j := range 4 {
			f[d] += netA[d][j] * float64(x[j])
		}
		norm += f[d] * f[d]
	}
	return f, math.Sqrt(norm)
}

// wantRows is the reference for gridSource through linearNet, computed
// directly in float64.
func wantRows(n int) *Table {
	t := &Table{Dim: 3, NumClasses: 2}
	for r := range n {
		x := []float32{float32(4*r) / 10, float32(4*r+1) / 10, float32(4*r+2) / 10, float32(4*r+3) / 10}
		f, norm := netFeature(x)
		t.IDs = append(t.IDs, int64(100+r))
		t.Labels = append(t.Labels, int32(r%3-1))
		t.FeatureNorm = append(t.FeatureNorm, float32(norm))
		var z [2]float64
		for c := range 2 {
			for d := range 3 {
				z[c] += netW[c][d] * f[d]
			}
			t.Logits = append(t.Logits, float32(z[c]/norm/netTau+netB[c]))
			t.LogitsOOD = append(t.LogitsOOD, float32(z[c]/netTau+netB[c]))
		}
		pred := int32(0)
		if z[1]/norm/netTau+netB[1] > z[0]/norm/netTau+netB[0] {
			pred = 1
		}
		t.Preds = append(t.Preds, pred)
		for d := range 3 {
			t.Feature = append(t.Feature, float32(f[d]))
			t.FeatureNormalized = append(t.FeatureNormalized, float32(f[d]/norm))
		}
	}
	return t
}

// closeTo compares derived float columns within 1 ulp-ish relative error
// (the driver computes in float32 where the reference uses float64) and
// everything else exactly.
func closeTo(t *testing.T, got, want *Table) {
	t.Helper()
	if got.Len() != want.Len() || got.Dim != want.Dim || got.NumClasses != want.NumClasses {
		t.Fatalf("got %d rows D %d C %d, want %d rows D %d C %d", got.Len(), got.Dim, got.NumClasses, want.Len(), want.Dim, want.NumClasses)
	}
	for i := range want.IDs {
		if got.IDs[i] != want.IDs[i] || got.Labels[i] != want.Labels[i] || got.Preds[i] != want.Preds[i] {
			t.Fatalf("row %d: id %d label %d pred %d, want %d %d %d", i, got.IDs[i], got.Labels[i], got.Preds[i], want.IDs[i], want.Labels[i], want.Preds[i])
		}
	}
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"feature", got.Feature, want.Feature}, {"feature_normalized", got.FeatureNormalized, want.FeatureNormalized},
		{"feature_norm", got.FeatureNorm, want.FeatureNorm}, {"logits", got.Logits, want.Logits},
		{"logits_ood", got.LogitsOOD, want.LogitsOOD},
	} {
		for i := range c.want {
			if d := math.Abs(float64(c.got[i] - c.want[i])); d > 2e-7*math.Max(1, math.Abs(float64(c.want[i]))) {
				t.Fatalf("%s[%d] = %v, want %v", c.name, i, c.got[i], c.want[i])
			}
		}
	}
}

func TestExtractMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name              string
		n, batch, workers int
		delay             func(first float32) time.Duration
	}{
		{name: "batches divide n", n: 40, batch: 8, workers: 1},
		{name: "ragged last batch", n: 23, batch: 5, workers: 1},
		{name: "one batch larger than n", n: 3, batch: 128, workers: 1},
		{name: "three workers, later batches finish first", n: 50, batch: 4, workers: 3,
			delay: func(first float32) time.Duration { return time.Duration(int(first*10)%7) * time.Millisecond }},
		{name: "empty source", n: 0, batch: 4, workers: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var progress [][2]int
			net := &linearNet{delay: tc.delay, failAt: -1, nanAt: -1}
			src := &gridSource{n: tc.n}
			meta := Meta{Dataset: "grid", Split: "test"}
			got, err := Extract(context.Background(), net, src, Options{BatchSize: tc.batch, Workers: tc.workers, Meta: meta,
				Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) }})
			if err != nil {
				t.Fatal(err)
			}
			if got.Meta.Dataset != "grid" || got.Meta.Split != "test" {
				t.Errorf("meta %+v, want the options' meta", got.Meta)
			}
			closeTo(t, got, wantRows(tc.n))
			// Progress: (0, n), then after every batch, ending at (n, n).
			nb := (tc.n + tc.batch - 1) / tc.batch
			if len(progress) != nb+1 || progress[0] != [2]int{0, tc.n} || progress[nb] != [2]int{tc.n, tc.n} {
				t.Errorf("progress calls %v, want %d calls from (0, %d) to (%d, %d)", progress, nb+1, tc.n, tc.n, tc.n)
			}
			if tc.workers > 1 && tc.delay != nil && net.maxRun.Load() < 2 {
				t.Errorf("at most %d Forward calls ran at once with %d workers", net.maxRun.Load(), tc.workers)
			}
		})
	}
}

// fixedNet returns given features and logits for sample r (x[0] = r), to
// check the derived columns against values worked out by hand.
type fixedNet struct {
	f, logits [][]float32
}

func (n fixedNet) InputShape() (c, h, w int) { return 1, 1, 1 }
func (n fixedNet) Dim() int                  { return len(n.f[0]) }
func (n fixedNet) NumClasses() int           { return len(n.logits[0]) }
func (n fixedNet) Forward(x []float32, k int, feature, logits, logitsOOD []float32) error {
	d, c := n.Dim(), n.NumClasses()
	for i := range k {
		r := int(x[i])
		copy(feature[i*d:], n.f[r])
		copy(logits[i*c:], n.logits[r])
		copy(logitsOOD[i*c:], n.logits[r])
	}
	return nil
}

type countSource int

func (s countSource) Len() int             { return int(s) }
func (s countSource) Shape() (c, h, w int) { return 1, 1, 1 }
func (s countSource) Load(start int, x []float32, ids []int64, labels []int32) error {
	for i := range ids {
		x[i], ids[i], labels[i] = float32(start+i), int64(start+i), -1
	}
	return nil
}

func TestExtractDerivedColumnsByHand(t *testing.T) {
	net := fixedNet{
		f:      [][]float32{{3, 4, 0}, {0, 0, 0}, {0, 0, 2}, {1e-13, 0, 0}},
		logits: [][]float32{{1, 5, 2}, {2, 2, 1}, {-1, -3, -1}, {0, 0, 7}},
	}
	got, err := Extract(context.Background(), net, countSource(4), Options{BatchSize: 3, Meta: Meta{Dataset: "h", Split: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	wantNorm := []float32{5, 0, 2, 1e-13}
	// f/max(‖f‖, 1e-12): (3,4,0)/5; zero stays zero; (0,0,2)/2; a norm below
	// the epsilon divides by 1e-12, not by the norm.
	wantNormalized := []float32{0.6, 0.8, 0, 0, 0, 0, 0, 0, 1, 1e-13 / 1e-12, 0, 0}
	wantPred := []int32{1, 0, 0, 2} // ties go to the first maximum
	for i := range wantNorm {
		if got.FeatureNorm[i] != wantNorm[i] || got.Preds[i] != wantPred[i] {
			t.Errorf("row %d: norm %v pred %d, want %v %d", i, got.FeatureNorm[i], got.Preds[i], wantNorm[i], wantPred[i])
		}
	}
	for i, w := range wantNormalized {
		if math.Abs(float64(got.FeatureNormalized[i]-w)) > 1e-7 {
			t.Errorf("feature_normalized[%d] = %v, want %v", i, got.FeatureNormalized[i], w)
		}
	}
}

func TestExtractErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		net     *linearNet
		src     Source
		timeout time.Duration
		wantErr string
		wantIs  error
	}{
		{name: "forward fails", net: &linearNet{failAt: 7, nanAt: -1}, src: &gridSource{n: 20},
			wantErr: "features: forward rows 5..9: out of memory"},
		{name: "NaN feature", net: &linearNet{failAt: -1, nanAt: 13}, src: &gridSource{n: 20},
			wantErr: "row 13 (id 113): the network's feature[1] is NaN"},
		{name: "shape mismatch", net: &linearNet{failAt: -1, nanAt: -1}, src: countSource(3),
			wantErr: "source images are [N 1 1 1], the network wants [N 1 2 2]"},
		{name: "cancelled", net: &linearNet{failAt: -1, nanAt: -1, delay: func(float32) time.Duration { return time.Millisecond }},
			src: &gridSource{n: 1000}, timeout: 5 * time.Millisecond, wantIs: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, workers := range []int{1, 2} {
				ctx, cancel := context.WithCancel(context.Background())
				if tc.timeout > 0 {
					ctx, cancel = context.WithTimeout(context.Background(), tc.timeout)
				}
				defer cancel()
				path := filepath.Join(t.TempDir(), "grid_test.parquet")
				err := ExtractFile(ctx, tc.net, tc.src, Options{BatchSize: 5, Workers: workers, Meta: Meta{Dataset: "grid", Split: "test"}}, path)
				if err == nil || (tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr)) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
					t.Fatalf("workers %d: error %v, want %q / %v", workers, err, tc.wantErr, tc.wantIs)
				}
				if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
					t.Errorf("workers %d: a failed extraction left %d files", workers, len(entries))
				}
			}
		})
	}
}

func TestExtractFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grid_test.parquet")
	meta := Meta{Dataset: "grid", Split: "test", Model: "linear4", Width: 1, Head: "t2fnorm", Tau: netTau, CheckpointSHA256: "00"}
	if err := ExtractFile(context.Background(), &linearNet{failAt: -1, nanAt: -1}, &gridSource{n: 37},
		Options{BatchSize: 8, Workers: 2, Meta: meta}, path, WithRowGroupRows(10)); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, got, wantRows(37))
	if got.Meta.Model != "linear4" || got.Meta.Tau != netTau {
		t.Errorf("meta %+v, want %+v", got.Meta, meta)
	}
}

// countingNet wraps linearNet (safe for concurrent use) and counts calls
// per instance, failing if one instance is entered twice at once.
type countingNet struct {
	*linearNet
	busy  atomic.Int32
	calls atomic.Int32
}

func (c *countingNet) Forward(x []float32, k int, f, l, o []float32) error {
	if c.busy.Add(1) > 1 {
		panic("instance used by two goroutines at once")
	}
	defer c.busy.Add(-1)
	c.calls.Add(1)
	return c.linearNet.Forward(x, k, f, l, o)
}

func TestPool(t *testing.T) {
	delay := func(first float32) time.Duration { return time.Duration(int(first*10)%5) * time.Millisecond }
	nets := []*countingNet{{linearNet: &linearNet{failAt: -1, nanAt: -1, delay: delay}},
		{linearNet: &linearNet{failAt: -1, nanAt: -1, delay: delay}}, {linearNet: &linearNet{failAt: -1, nanAt: -1, delay: delay}}}
	p, err := NewPool(nets[0], nets[1], nets[2])
	if err != nil {
		t.Fatal(err)
	}
	got, err := Extract(context.Background(), p, &gridSource{n: 90}, Options{BatchSize: 3, Workers: p.Size()})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, got, wantRows(90))
	var total int32
	for i, n := range nets {
		if n.calls.Load() == 0 {
			t.Errorf("instance %d never ran", i)
		}
		total += n.calls.Load()
	}
	if total != 30 {
		t.Errorf("%d Forward calls, want 30 batches", total)
	}
	if _, err := NewPool(&linearNet{}, fixedNet{f: [][]float32{{1}}, logits: [][]float32{{1, 2}}}); err == nil ||
		!strings.Contains(err.Error(), "pool network 1 has input [N 1 1 1], dim 1, 2 classes") {
		t.Errorf("NewPool of different networks: error %v", err)
	}
}
