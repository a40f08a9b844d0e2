package pipeline

import (
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
const maxIDXBytes = 4 << 30

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

// readMaybeGzip reads a whole file, decompressing it if it starts with the
// gzip magic.
func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer zr.Close()
	// The gzip trailer holds the uncompressed size mod 2³²: a capacity hint
	// (never trusted as the size) that saves regrowing the buffer.
	hint := int(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if len(b) < 18 || hint > maxIDXBytes {
		hint = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(zr, maxIDXBytes+1)); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if buf.Len() > maxIDXBytes {
		return nil, fmt.Errorf("gzip: decompresses to more than %d bytes", maxIDXBytes)
	}
	return buf.Bytes(), nil
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
func OpenMNIST(dir, split string, classes []string) (*MNIST, error) {
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
	return OpenIDX(ip, lp, classes)
}

// OpenIDX opens an explicit IDX images file (3 dimensions: n, rows, cols)
// and labels file (1 dimension: n).
func OpenIDX(imagesPath, labelsPath string, classes []string) (*MNIST, error) {
	if classes == nil {
		classes = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	}
	raw, err := readMaybeGzip(imagesPath)
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
	raw, err = readMaybeGzip(labelsPath)
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
