package pipeline

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"sort"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/t2f/t2f/shards"
)

// PreviewRows picks n rows of a dataset of size total for a contact sheet:
// the first n when seed is 0, otherwise n distinct rows drawn with that seed,
// in ascending order.
func PreviewRows(total, n int, seed uint64) []int {
	n = min(n, total)
	if seed == 0 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0x70726576)) // "prev"
	out := rng.Perm(total)[:n]
	sort.Ints(out)
	return out
}

// ContactSheet draws the given rows of r on a grid of cols columns, each
// image scaled up by an integer factor (nearest neighbour) so a cell is at
// least minCell pixels wide, with its label under it ("3 cat": index and
// class name, cut to the cell width; "OOD" for −1).
func ContactSheet(r *shards.Reader, rows []int, cols, minCell int) (*image.RGBA, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("pipeline: contact sheet of no rows (dataset has %d)", r.Len())
	}
	for _, i := range rows {
		if i < 0 || i >= r.Len() {
			return nil, fmt.Errorf("pipeline: contact sheet row %d out of range [0, %d)", i, r.Len())
		}
	}
	if cols <= 0 {
		return nil, fmt.Errorf("pipeline: contact sheet columns %d must be positive", cols)
	}
	m := r.Meta()
	face := basicfont.Face7x13
	const textH, pad = 14, 4
	scale := max(1, (minCell+m.Width-1)/m.Width)
	cellW := max(m.Width*scale, 12*7) + pad
	cellH := m.Height*scale + textH + pad
	cols = min(cols, len(rows))
	nrows := (len(rows) + cols - 1) / cols
	sheet := image.NewRGBA(image.Rect(0, 0, cols*cellW+pad, nrows*cellH+pad))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	for k, i := range rows {
		x0 := pad + (k%cols)*cellW
		y0 := pad + (k/cols)*cellH
		img := r.Image(i)
		for y := 0; y < m.Height*scale; y++ {
			for x := 0; x < m.Width*scale; x++ {
				p := ((y/scale)*m.Width + x/scale) * m.Channels
				var c color.RGBA
				if m.Channels == 1 {
					c = color.RGBA{img[p], img[p], img[p], 255}
				} else {
					c = color.RGBA{img[p], img[p+1], img[p+2], 255}
				}
				sheet.SetRGBA(x0+x, y0+y, c)
			}
		}
		text := labelText(r.Label(i), m.Classes)
		maxChars := (cellW - pad) / 7
		if len(text) > maxChars {
			text = text[:maxChars]
		}
		d := font.Drawer{Dst: sheet, Src: image.NewUniform(color.RGBA{240, 240, 120, 255}), Face: face,
			Dot: fixed.P(x0, y0+m.Height*scale+textH-3)}
		d.DrawString(text)
	}
	return sheet, nil
}

func labelText(l int32, classes []string) string {
	if l < 0 {
		return "OOD"
	}
	if int(l) < len(classes) && classes[l] != strconv.Itoa(int(l)) {
		return strconv.Itoa(int(l)) + " " + classes[l]
	}
	return strconv.Itoa(int(l))
}
