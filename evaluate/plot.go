package evaluate

import (
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"regexp"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/t2f/t2f/evaluate/metrics"
)

// palette of distinguishable line colours; ID is always the first (black).
var palette = []color.RGBA{
	{0, 0, 0, 255}, {0xd6, 0x27, 0x28, 255}, {0x1f, 0x77, 0xb4, 255}, {0x2c, 0xa0, 0x2c, 255},
	{0xff, 0x7f, 0x0e, 255}, {0x94, 0x67, 0xbd, 255}, {0x8c, 0x56, 0x4b, 255}, {0xe3, 0x77, 0xc2, 255},
	{0x7f, 0x7f, 0x7f, 255}, {0xbc, 0xbd, 0x22, 255}, {0x17, 0xbe, 0xcf, 255},
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileSafe turns a dataset or method name into a file-name part.
func fileSafe(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// series is one named sample of values for a histogram.
type series struct {
	name   string
	values []float64
}

// densityLine turns values into a step line of a density histogram over
// [lo, hi] with bins bins; values outside the range are left out (not
// piled into the end bins) but still count in the normalisation.
func densityLine(values []float64, lo, hi float64, bins int) plotter.XYs {
	counts := make([]float64, bins)
	w := (hi - lo) / float64(bins)
	for _, v := range values {
		if v < lo || v > hi {
			continue // outside the plotted range; the density still divides by all values
		}
		b := min(int((v-lo)/w), bins-1)
		counts[b]++
	}
	n := float64(len(values))
	xys := make(plotter.XYs, 0, 2*bins+2)
	xys = append(xys, plotter.XY{X: lo, Y: 0})
	for i, c := range counts {
		y := c / (n * w)
		xys = append(xys, plotter.XY{X: lo + float64(i)*w, Y: y}, plotter.XY{X: lo + float64(i+1)*w, Y: y})
	}
	return append(xys, plotter.XY{X: hi, Y: 0})
}

// histPlot overlays density histograms of several series on one range
// (the 0.5–99.5 percentiles of all values, so a few outliers do not squash
// the plot).
func histPlot(title, xlabel string, ss []series) (*plot.Plot, error) {
	var all []float64
	for _, s := range ss {
		all = append(all, s.values...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no values")
	}
	slices.Sort(all)
	lo, hi := quantile(all, 0.005), quantile(all, 0.995)
	if !(hi > lo) {
		lo, hi = all[0]-0.5, all[0]+0.5
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "density (x range: 0.5–99.5% of all values)"
	p.Legend.Top = true
	for i, s := range ss {
		l, err := plotter.NewLine(densityLine(s.values, lo, hi, 60))
		if err != nil {
			return nil, err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", s.name, len(s.values)), l)
	}
	return p, nil
}

// savePNG writes p atomically as a PNG of 7×4.5 inches.
func savePNG(p *plot.Plot, path string) error {
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("evaluate: plot %q: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

// WritePlots writes the PNG plots of the first run into dir and returns
// their paths:
//
//	norm_<dataset>.png   density histograms of ‖f‖: ID test vs that OOD/CSID set
//	scores_<method>.png  density histograms of the method's scores: ID test and every OOD set
//	roc_<method>.png     the method's ROC curves (OpenOOD convention: x = FPR of ID, y = TPR of OOD), one per OOD set
func WritePlots(dir string, res *Result) ([]string, error) {
	var paths []string
	save := func(p *plot.Plot, name string) error {
		path := filepath.Join(dir, name)
		if err := savePNG(p, path); err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	}
	// Norm histograms.
	var id *NormSample
	for i := range res.NormSamples {
		if s := &res.NormSamples[i]; s.Run == 0 && s.Role == RoleID {
			id = s
		}
	}
	if id != nil {
		for _, s := range res.NormSamples {
			if s.Run != 0 || (s.Role != RoleNear && s.Role != RoleFar && s.Role != RoleCSID) {
				continue
			}
			p, err := histPlot(fmt.Sprintf("feature norm ‖f‖: %s (ID test) vs %s (%s)", id.Dataset, s.Dataset, s.Role), "‖f‖",
				[]series{{id.Dataset + " (ID)", f64(id.Values)}, {s.Dataset, f64(s.Values)}})
			if err != nil {
				return paths, fmt.Errorf("evaluate: norm plot of %s: %w", s.Dataset, err)
			}
			if err := save(p, "norm_"+fileSafe(s.Dataset)+".png"); err != nil {
				return paths, err
			}
		}
	}
	// Score histograms and ROC curves.
	for _, m := range res.Methods {
		if m.Err != nil {
			continue
		}
		var idScores []float64
		var ss []series
		for _, s := range m.Scores {
			if s.Run != 0 {
				continue
			}
			switch s.Role {
			case RoleID:
				idScores = s.Values
				ss = append([]series{{s.Dataset + " (ID)", s.Values}}, ss...)
			case RoleNear, RoleFar:
				ss = append(ss, series{s.Dataset + " (" + s.Role + ")", s.Values})
			}
		}
		p, err := histPlot("scores of "+m.Method+" (higher = more ID)", "score", ss)
		if err != nil {
			return paths, fmt.Errorf("evaluate: score plot of %s: %w", m.Method, err)
		}
		if err := save(p, "scores_"+fileSafe(m.Method)+".png"); err != nil {
			return paths, err
		}
		p = plot.New()
		p.Title.Text = "ROC of " + m.Method + " (OOD positive)"
		p.X.Label.Text = "FPR (ID flagged OOD)"
		p.Y.Label.Text = "TPR (OOD flagged OOD)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		p.Legend.Top = true
		p.Legend.Left = false
		p.Legend.YOffs = -vg.Points(4)
		diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		diag.Color = color.Gray{Y: 180}
		diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(diag)
		for i, s := range ss[1:] {
			fpr, tpr, err := metrics.ROC(idScores, s.values)
			if err != nil {
				return paths, fmt.Errorf("evaluate: ROC of %s on %s: %w", m.Method, s.name, err)
			}
			l, err := plotter.NewLine(thin(fpr, tpr, 2000))
			if err != nil {
				return paths, err
			}
			l.Color = palette[(i+1)%len(palette)]
			l.Width = vg.Points(1.2)
			p.Add(l)
			r, _ := metrics.Evaluate(idScores, s.values)
			p.Legend.Add(fmt.Sprintf("%s AUROC %.2f", s.name, 100*r.AUROC), l)
		}
		p.Legend.Top, p.Legend.Left = false, false
		p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(6)
		if err := save(p, "roc_"+fileSafe(m.Method)+".png"); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// thin keeps at most about n points of a monotone curve, always the ends.
func thin(x, y []float64, n int) plotter.XYs {
	step := max(1, len(x)/n)
	var xys plotter.XYs
	for i := 0; i < len(x); i += step {
		xys = append(xys, plotter.XY{X: x[i], Y: y[i]})
	}
	if last := len(x) - 1; (last % step) != 0 {
		xys = append(xys, plotter.XY{X: x[last], Y: y[last]})
	}
	return xys
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
