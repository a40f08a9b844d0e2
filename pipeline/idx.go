package pipeline

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/klauspost/compress/gzip"
)

// maxIDXBytes bounds a decompressed IDX file (a gzip bomb guard).
const maxIDXBytes = MaxDataFileBytes

// ParseIDX parses an IDX file (the MNIST format): two zero bytes, a type
// byte, the number of dimensions, each dimension as a big-endian uint32, then
// the data. Only unsigned-byte data (type 0x08) is supported. It returns the
// dimensions and the payload, which must be exactly their product long.
func ParseIDX(data []byte) (dims []int, payload []byte, err error) {
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("truncated header: %d bytes, want at least 4", len(data))
	}
	if data[0] != 0 || data[1] != 0 {
		return nil, nil, fmt.Errorf("bad magic %02x %02x, want 00 00 (not an IDX file)", data[0], data[1])
	}
	if data[2] != 0x08 {
		return nil, nil, fmt.Errorf("data type 0x%02x, only unsigned byte (0x08) is supported", data[2])
	}
	nd := int(data[3])
	if nd == 0 {
		return nil, nil, errors.New("zero dimensions")
	}
	hdr := 4 + 4*nd
	if len(data) < hdr {
		return nil, nil, fmt.Errorf("truncated header: %d bytes, want %d for %d dimensions", len(data), hdr, nd)
	}
	total := 1
	dims = make([]int, nd)
	for i := range dims {
		d := binary.BigEndian.Uint32(data[4+4*i:])
		dims[i] = int(d)
		if d != 0 && total > maxIDXBytes/int(d) {
			return nil, nil, fmt.Errorf("dimensions %v too large", dims[:i+1])
		}
		total *= int(d)
	}
	payload = data[hdr:]
	if len(payload) < total {
		return nil, nil, fmt.Errorf("truncated: dimensions %v need %d data bytes, file has %d (record %d is incomplete)",
			dims, total, len(payload), len(payload)/max(1, total/max(1, dims[0])))
	}
	if len(payload) > total {
		return nil, nil, fmt.Errorf("%d trailing bytes after the %d data bytes of dimensions %v", len(payload)-total, total, dims)
	}
	return dims, payload, nil
}

// readMaybeGzip reads a whole IDX file, decompressing it if it starts with
// the gzip magic. It reads the header first and refuses dimensions whose
// product exceeds maxIDXBytes or, for image files (3 dimensions), images of
// more than maxPixels pixels (≤ 0: no per-image limit), before reading
// the data: memory never exceeds what the header's checked size needs.
func readMaybeGzip(path string, maxPixels int) ([]byte, error) {
	f, _, err := openRegular(path, MaxDataFileBytes)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	var magic [2]byte
	var gz *readErr
	if n, _ := io.ReadFull(r, magic[:]); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(magic[:]), r))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		gz = &readErr{r: zr}
		r = gz
	} else {
		r = io.MultiReader(bytes.NewReader(magic[:n]), r)
	}
	hdr := make([]byte, 4, 4+4*255)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	nd := int(hdr[3])
	hdr = hdr[:4+4*nd]
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return nil, fmt.Errorf("truncated header (%d dimensions): %w", nd, err)
	}
	total := int64(1)
	for i := range nd {
		d := int64(binary.BigEndian.Uint32(hdr[4+4*i:]))
		if d != 0 && total > maxIDXBytes/d {
			return nil, fmt.Errorf("dimensions of %d bytes exceed the limit of %d", total*d, int64(maxIDXBytes))
		}
		total *= d
	}
	if nd == 3 && maxPixels > 0 {
		h, w := int64(binary.BigEndian.Uint32(hdr[8:])), int64(binary.BigEndian.Uint32(hdr[12:]))
		if h*w > int64(maxPixels) {
			return nil, fmt.Errorf("images of %dx%d pixels exceed the limit of %d pixels (raise --max-pixels if they are real)", h, w, maxPixels)
		}
	}
	buf := make([]byte, len(hdr), int64(len(hdr))+total+1)
	copy(buf, hdr)
	n, err := io.ReadFull(r, buf[len(hdr):cap(buf)])
	if gz != nil && gz.err != nil {
		return nil, fmt.Errorf("gzip: %w", gz.err)
	}
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("read: %w", err)
	}
	return buf[:len(hdr)+n], nil
}

// readErr remembers the first error other than io.EOF its reader returned
// (a truncated gzip stream says io.ErrUnexpectedEOF, which io.ReadFull
// would mistake for a short file).
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// MNIST is an IDX image file plus its label file.
type MNIST struct {
	imagesPath, labelsPath string
	rows, cols             int
	pix                    []byte // n·rows·cols
	labels                 []byte
	classes                []string
}

// findIDX returns dir/name or dir/name.gz, whichever exists.
func findIDX(dir, name string) (string, error) {
	for _, n := range []string{name, name + ".gz"} {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("pipeline: mnist: neither %q nor %q.gz in %q", name, name, dir)
}

// OpenMNIST opens the IDX pair of split "train" (train-*) or "test" (t10k-*)
// in dir, plain or gzipped. classes names the labels; nil means "0".."9".
// Every label must index classes.
// maxPixels bounds each image's rows·cols (≤ 0: [DefaultMaxPixels]).
func OpenMNIST(dir, split string, classes []string, maxPixels int) (*MNIST, error) {
	prefix := map[string]string{"train": "train", "test": "t10k", "t10k": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("pipeline: mnist: split %q, want train or test", split)
	}
	ip, err := findIDX(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lp, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	return OpenIDX(ip, lp, classes, maxPixels)
}

// OpenIDX opens an explicit IDX images file (3 dimensions: n, rows, cols)
// and labels file (1 dimension: n).
func OpenIDX(imagesPath, labelsPath string, classes []string, maxPixels int) (*MNIST, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if classes == nil {
		classes = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	}
	raw, err := readMaybeGzip(imagesPath, maxPixels)
	if err != nil {
		return nil, fmt.Errorf("pipeline: mnist images %q: %w", imagesPath, err)
	}
	dims, pix, err := ParseIDX(raw)
	if err != nil {
		return nil, fmt.Errorf("pipeline: mnist images %q: %w", imagesPath, err)
	}
	if len(dims) != 3 || dims[1] == 0 || dims[2] == 0 {
		return nil, fmt.Errorf("pipeline: mnist images %q: dimensions %v, want [n rows cols]", imagesPath, dims)
	}
	raw, err = readMaybeGzip(labelsPath, 0)
	if err != nil {
		return nil, fmt.Errorf("pipeline: mnist labels %q: %w", labelsPath, err)
	}
	ldims, labels, err := ParseIDX(raw)
	if err != nil {
		return nil, fmt.Errorf("pipeline: mnist labels %q: %w", labelsPath, err)
	}
	if len(ldims) != 1 || ldims[0] != dims[0] {
		return nil, fmt.Errorf("pipeline: mnist labels %q: dimensions %v, want [%d] to match images %q %v", labelsPath, ldims, dims[0], imagesPath, dims)
	}
	for i, l := range labels {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("pipeline: mnist labels %q: record %d: label %d out of range [0, %d)", labelsPath, i, l, len(classes))
		}
	}
	return &MNIST{imagesPath: imagesPath, labelsPath: labelsPath, rows: dims[1], cols: dims[2], pix: pix, labels: labels, classes: classes}, nil
}

func (m *MNIST) Classes() []string { return m.classes }
func (m *MNIST) Len() int          { return len(m.labels) }
func (m *MNIST) Inputs() []string  { return []string{m.imagesPath, m.labelsPath} }

func (m *MNIST) Item(i int) Item {
	return Item{Source: filepath.Base(m.imagesPath) + "#" + strconv.Itoa(i), Label: int32(m.labels[i])}
}

// Load returns record i as a grey image; Pix aliases the parsed file.
func (m *MNIST) Load(i int) (Image, error) {
	n := m.rows * m.cols
	return Image{W: m.cols, H: m.rows, C: 1, Pix: m.pix[i*n : (i+1)*n : (i+1)*n]}, nil
}
