package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// A fast path for the PNGs datasets are made of: 8-bit, non-interlaced grey,
// grey+alpha, RGB, RGBA or palette images. It decodes straight to HWC with a
// reused inflater (image/png allocates ~40 KB of zlib state per image, which
// dominates for 32×32 files). Anything else — interlacing, other bit depths,
// tRNS on grey/RGB — returns handled=false and goes through image/png. Output
// equals image/png's after conversion to RGB or grey (TestPNGFastMatchesImagePNG).

var pngSig = []byte("\x89PNG\r\n\x1a\n")

type pngState struct {
	zr   io.ReadCloser // flate reader, also a flate.Resetter
	br   bytes.Reader
	raw  []byte // decompressed scanlines
	idat []byte
}

var pngStates = sync.Pool{New: func() any { return &pngState{} }}

// decodePNGFast returns handled=false when b is a PNG it does not handle
// (or not a PNG); otherwise the image or an error.
func decodePNGFast(b []byte, maxPixels int) (img Image, handled bool, err error) {
	if len(b) < 8+25 || !bytes.Equal(b[:8], pngSig) {
		return Image{}, false, nil
	}
	st := pngStates.Get().(*pngState)
	defer pngStates.Put(st)
	var (
		w, h       int
		colorType  byte
		palette    [][3]uint8
		seenHeader bool
	)
	st.idat = st.idat[:0]
	p := b[8:]
	for {
		if len(p) < 12 {
			return Image{}, true, errors.New("undecodable png image: truncated chunk")
		}
		n := binary.BigEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-12) {
			return Image{}, true, errors.New("undecodable png image: truncated chunk")
		}
		typ, data := string(p[4:8]), p[8:8+n]
		if crc32.ChecksumIEEE(p[4:8+n]) != binary.BigEndian.Uint32(p[8+n:]) {
			return Image{}, true, fmt.Errorf("undecodable png image: %s chunk checksum mismatch", typ)
		}
		p = p[12+n:]
		switch typ {
		case "IHDR":
			if n != 13 || seenHeader {
				return Image{}, true, errors.New("undecodable png image: bad IHDR")
			}
			seenHeader = true
			w, h = int(binary.BigEndian.Uint32(data)), int(binary.BigEndian.Uint32(data[4:]))
			depth, ct, comp, filt, inter := data[8], data[9], data[10], data[11], data[12]
			if depth != 8 || inter != 0 || comp != 0 || filt != 0 || (ct != 0 && ct != 2 && ct != 3 && ct != 4 && ct != 6) {
				return Image{}, false, nil
			}
			colorType = ct
			if w <= 0 || h <= 0 || w > 1<<24 || h > 1<<24 {
				return Image{}, true, fmt.Errorf("png image of %dx%d pixels", w, h)
			}
			if int64(w)*int64(h) > int64(maxPixels) {
				return Image{}, true, fmt.Errorf("png image of %dx%d pixels exceeds the limit of %d pixels (possible decompression bomb; raise --max-pixels if it is real)", w, h, maxPixels)
			}
		case "PLTE":
			if n%3 != 0 || n == 0 || n > 256*3 {
				return Image{}, true, errors.New("undecodable png image: bad palette")
			}
			palette = make([][3]uint8, n/3)
			for i := range palette {
				palette[i] = [3]uint8{data[3*i], data[3*i+1], data[3*i+2]}
			}
		case "tRNS":
			if colorType != 3 {
				return Image{}, false, nil // image/png turns these into NRGBA; let it
			}
		case "IDAT":
			st.idat = append(st.idat, data...)
		case "IEND":
			if !seenHeader {
				return Image{}, true, errors.New("undecodable png image: no IHDR")
			}
			return st.decode(w, h, colorType, palette)
		default:
			if !seenHeader {
				return Image{}, true, errors.New("undecodable png image: first chunk is not IHDR")
			}
		}
	}
}

func (st *pngState) decode(w, h int, colorType byte, palette [][3]uint8) (Image, bool, error) {
	bpp := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colorType]
	if colorType == 3 && palette == nil {
		return Image{}, true, errors.New("undecodable png image: paletted image without PLTE")
	}
	z := st.idat
	if len(z) < 6 || (uint16(z[0])<<8|uint16(z[1]))%31 != 0 || z[0]&0x0f != 8 || z[1]&0x20 != 0 {
		return Image{}, true, errors.New("undecodable png image: bad zlib header")
	}
	stride := 1 + w*bpp
	need := h * stride
	if cap(st.raw) < need {
		st.raw = make([]byte, need)
	}
	raw := st.raw[:need]
	st.br.Reset(z[2:])
	if st.zr == nil {
		st.zr = flate.NewReader(&st.br)
	} else if err := st.zr.(flate.Resetter).Reset(&st.br, nil); err != nil {
		return Image{}, true, fmt.Errorf("undecodable png image: %w", err)
	}
	if _, err := io.ReadFull(st.zr, raw); err != nil {
		return Image{}, true, fmt.Errorf("undecodable png image: %w", err)
	}
	var one [1]byte
	if n, err := st.zr.Read(one[:]); n != 0 || err != io.EOF {
		return Image{}, true, errors.New("undecodable png image: too much pixel data")
	}
	rest := z[2+int(st.br.Size())-st.br.Len():]
	if len(rest) < 4 || binary.BigEndian.Uint32(rest) != adler32.Checksum(raw) {
		return Image{}, true, errors.New("undecodable png image: zlib checksum mismatch")
	}
	// Unfilter in place; row y's bytes are raw[y*stride+1 : (y+1)*stride].
	var prev []byte
	for y := 0; y < h; y++ {
		row := raw[y*stride : (y+1)*stride]
		f, cur := row[0], row[1:]
		switch f {
		case 0:
		case 1:
			for i := bpp; i < len(cur); i++ {
				cur[i] += cur[i-bpp]
			}
		case 2:
			if prev != nil {
				for i := range cur {
					cur[i] += prev[i]
				}
			}
		case 3:
			for i := range cur {
				var a, b int
				if i >= bpp {
					a = int(cur[i-bpp])
				}
				if prev != nil {
					b = int(prev[i])
				}
				cur[i] += uint8((a + b) / 2)
			}
		case 4:
			for i := range cur {
				var a, b, c int
				if i >= bpp {
					a = int(cur[i-bpp])
				}
				if prev != nil {
					b = int(prev[i])
					if i >= bpp {
						c = int(prev[i-bpp])
					}
				}
				cur[i] += uint8(paeth(a, b, c))
			}
		default:
			return Image{}, true, fmt.Errorf("undecodable png image: bad filter type %d in row %d", f, y)
		}
		prev = cur
	}
	c := 3
	if colorType == 0 || colorType == 4 {
		c = 1
	}
	out := Image{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}
	for y := 0; y < h; y++ {
		src := raw[y*stride+1 : (y+1)*stride]
		dst := out.Pix[y*w*c : (y+1)*w*c]
		switch colorType {
		case 0, 2:
			copy(dst, src)
		case 4:
			for x := 0; x < w; x++ {
				dst[x] = src[2*x]
			}
		case 6:
			for x := 0; x < w; x++ {
				dst[3*x], dst[3*x+1], dst[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		case 3:
			for x := 0; x < w; x++ {
				var px [3]uint8 // out-of-range indices are black, as image/png pads the palette
				if int(src[x]) < len(palette) {
					px = palette[src[x]]
				}
				dst[3*x], dst[3*x+1], dst[3*x+2] = px[0], px[1], px[2]
			}
		}
	}
	return out, true, nil
}

func paeth(a, b, c int) int {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
