package evaluate

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// NormRatioPlot is the file WriteComparisonPlots writes: grouped bars of the
// OOD/ID mean-norm ratio per OOD set, baseline vs T2FNorm.
const NormRatioPlot = "norm_ratio.png"

// WriteComparisonPlots writes NormRatioPlot into dir and returns its path
// (none when the results hold no OOD norms).
func WriteComparisonPlots(dir string, c *Comparison) ([]string, error) {
	var names []string
	var base, t2f plotter.Values
	for _, n := range c.Norms {
		if n.Role != RoleNear && n.Role != RoleFar {
			continue
		}
		names = append(names, n.Dataset)
		base = append(base, n.Ratio.Base.Mean)
		t2f = append(t2f, n.Ratio.T2F.Mean)
	}
	if len(names) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("mean ‖f‖ of each OOD set / mean ‖f‖ of %s test", c.ID)
	p.Y.Label.Text = "OOD / ID mean feature norm"
	w := vg.Points(14)
	for i, s := range []struct {
		name string
		v    plotter.Values
	}{{"cross-entropy baseline", base}, {"T2FNorm", t2f}} {
		bars, err := plotter.NewBarChart(s.v, w)
		if err != nil {
			return nil, fmt.Errorf("evaluate: norm ratio plot: %w", err)
		}
		bars.Color = palette[i+1]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(2*i-1) * w / 2
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	one, _ := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(names)) - 0.5, Y: 1}})
	one.Color = color.Gray{Y: 120}
	one.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(one)
	p.Legend.Top = true
	p.NominalX(names...)
	p.Y.Min = 0
	// Head room above the tallest bar (and the ratio-1 line) for the legend.
	top := 1.0
	for _, v := range append(slices.Clone(base), t2f...) {
		top = math.Max(top, v)
	}
	p.Y.Max = 1.3 * top
	path := filepath.Join(dir, NormRatioPlot)
	if err := savePNG(p, path); err != nil {
		return nil, err
	}
	return []string{path}, nil
}
