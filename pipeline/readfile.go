package pipeline

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Input files are read only when they are regular files (a FIFO named
// "x.png" would block the build forever, a link to /dev/zero would never
// end) and only up to a size cap, checked before reading.
const (
	// MaxImageFileBytes bounds one encoded image file (a 90-megapixel PNG,
	// the --max-pixels default, is far smaller).
	MaxImageFileBytes = 256 << 20
	// MaxDataFileBytes bounds one whole-dataset file: an IDX or CIFAR
	// binary (decompressed), an image list.
	MaxDataFileBytes = 1 << 30
)

// openRegular opens path for reading without blocking on FIFOs and returns
// it only if it is a regular file of at most limit bytes.
func openRegular(path string, limit int64) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%q is not a regular file (%s); only regular files are read", path, st.Mode().Type())
	}
	if st.Size() > limit {
		f.Close()
		return nil, 0, fmt.Errorf("%q is %d bytes, more than the limit of %d", path, st.Size(), limit)
	}
	return f, st.Size(), nil
}

// readRegular reads the regular file at path, at most limit bytes.
func readRegular(path string, limit int64) ([]byte, error) {
	f, size, err := openRegular(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, size+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("%q grew beyond the limit of %d bytes while being read", path, limit)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
