package pipeline

import (
	"fmt"
	"image"
	"image/color"
)

// Image is a decoded image: H rows of W pixels of C interleaved uint8
// channels (HWC), C = 1 (grey) or 3 (RGB).
type Image struct {
	W, H, C int
	Pix     []uint8 // len = W·H·C
}

// Item is what a source knows about record i without decoding it.
type Item struct {
	Source string // provenance: a path (relative to the data root) or "file#record"
	Label  int32  // class index, −1 = OOD / unlabelled
}

// Source is one dataset split in some input format.
type Source interface {
	// Classes returns the class names; label k names Classes()[k].
	Classes() []string
	// Len returns the number of records.
	Len() int
	// Item returns record i's provenance and label.
	Item(i int) Item
	// Load decodes record i. It is safe for concurrent use. Errors name the
	// file and line or record.
	Load(i int) (Image, error)
	// Inputs returns the files the source reads (for change detection when
	// a build resumes); nil for generated data.
	Inputs() []string
}

// fromImage converts a decoded image to HWC uint8 with its natural channel
// count: 1 for grey images, 3 otherwise (alpha is dropped, as PIL's
// convert("RGB") does).
func fromImage(img image.Image) Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		out := Image{W: w, H: h, C: 1, Pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			copy(out.Pix[y*w:(y+1)*w], m.Pix[y*m.Stride:y*m.Stride+w])
		}
		return out
	case *image.Gray16:
		out := Image{W: w, H: h, C: 1, Pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < w; x++ {
				out.Pix[y*w+x] = row[2*x]
			}
		}
		return out
	case *image.NRGBA:
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			o := out.Pix[y*w*3:]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
		return out
	case *image.RGBA:
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			o := out.Pix[y*w*3:]
			for x := 0; x < w; x++ {
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 0xff && a != 0 { // un-premultiply, as non-premultiplied RGB is what PIL keeps
					r, g, bb = uint8(int(r)*255/int(a)), uint8(int(g)*255/int(a)), uint8(int(bb)*255/int(a))
				}
				o[3*x], o[3*x+1], o[3*x+2] = r, g, bb
			}
		}
		return out
	case *image.Paletted:
		pal := make([][3]uint8, len(m.Palette))
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			o := out.Pix[y*w*3:]
			for x := 0; x < w; x++ {
				var p [3]uint8
				if int(row[x]) < len(pal) {
					p = pal[row[x]]
				}
				o[3*x], o[3*x+1], o[3*x+2] = p[0], p[1], p[2]
			}
		}
		return out
	case *image.YCbCr:
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		// Chroma position of luma (x, y) relative to the rectangle's origin.
		var cx, cy int // shifts
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
		case image.YCbCrSubsampleRatio422:
			cx = 1
		case image.YCbCrSubsampleRatio420:
			cx, cy = 1, 1
		case image.YCbCrSubsampleRatio440:
			cy = 1
		default:
			for y := 0; y < h; y++ {
				o := out.Pix[y*w*3:]
				for x := 0; x < w; x++ {
					yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
					ci := m.COffset(b.Min.X+x, b.Min.Y+y)
					o[3*x], o[3*x+1], o[3*x+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				}
			}
			return out
		}
		for y := 0; y < h; y++ {
			yrow := m.Y[(y)*m.YStride:]
			crow := ((b.Min.Y+y)>>cy - b.Min.Y>>cy) * m.CStride
			o := out.Pix[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				ci := crow + ((b.Min.X+x)>>cx - b.Min.X>>cx)
				o[3*x], o[3*x+1], o[3*x+2] = color.YCbCrToRGB(yrow[x], m.Cb[ci], m.Cr[ci])
			}
		}
		return out
	default:
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				o := out.Pix[(y*w+x)*3:]
				o[0], o[1], o[2] = c.R, c.G, c.B
			}
		}
		return out
	}
}

// checkLabel reports a label outside [−1, nClasses).
func checkLabel(label int64, nClasses int, where string) error {
	if label < -1 || label >= int64(nClasses) {
		return fmt.Errorf("pipeline: %s: label %d out of range [-1, %d)", where, label, nClasses)
	}
	return nil
}
