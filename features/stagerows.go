package features

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// DefaultSpillMemory is the size up to which TrainStageRows keeps the maps
// in memory (Spill.Memory 0).
const DefaultSpillMemory = 1 << 30

// Spill says where TrainStageRows keeps the maps it collects.
type Spill struct {
	// Dir holds the temporary file once the maps outgrow Memory (`t2f
	// features`: the output directory); "" is os.TempDir().
	Dir string
	// Memory is the number of bytes kept in memory before spilling to a
	// file; 0 means DefaultSpillMemory, a negative value spills at once.
	Memory int64
}

// StageRows are the flattened stage maps of a split, one row per image, in
// memory or in a temporary file: posthoc.Rows, read in passes. Close
// removes the file.
type StageRows struct {
	n, d  int
	mem   []float32
	limit int64
	dir   string
	f     *os.File
	bw    *bufio.Writer
	buf   []byte
}

// Dims is the number of rows (images) and values per row.
func (r *StageRows) Dims() (n, d int) { return r.n, r.d }

// Path is the temporary file holding the rows ("" while in memory).
func (r *StageRows) Path() string {
	if r.f == nil {
		return ""
	}
	return r.f.Name()
}

// stageRowsBlock bounds the bytes Scan reads from the file at a time.
const stageRowsBlock = 16 << 20

func (r *StageRows) add(rows []float32) error {
	if r.f == nil && int64(len(r.mem)+len(rows))*4 > r.limit {
		f, err := os.CreateTemp(r.dir, ".t2f-stage-rows-*.f32")
		if err != nil {
			return fmt.Errorf("features: spill stage maps: %w", err)
		}
		r.f, r.bw = f, bufio.NewWriterSize(f, 1<<20)
		old := r.mem
		r.mem = nil
		if err := r.write(old); err != nil {
			return err
		}
	}
	if r.f == nil {
		r.mem = append(r.mem, rows...)
		return nil
	}
	return r.write(rows)
}

func (r *StageRows) write(rows []float32) error {
	if cap(r.buf) < 4*len(rows) {
		r.buf = make([]byte, 4*len(rows))
	}
	b := r.buf[:4*len(rows)]
	for i, v := range rows {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if _, err := r.bw.Write(b); err != nil {
		return fmt.Errorf("features: spill stage maps to %s: %w", r.f.Name(), err)
	}
	return nil
}

// Scan calls f with consecutive blocks of rows in order (posthoc.Rows):
// rows [i0, i0+m) as m×d row-major values, valid during the call.
func (r *StageRows) Scan(f func(i0, m int, block []float32) error) error {
	per := max(1, stageRowsBlock/(4*r.d))
	if r.f == nil {
		for i0 := 0; i0 < r.n; i0 += per {
			m := min(per, r.n-i0)
			if err := f(i0, m, r.mem[i0*r.d:(i0+m)*r.d]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := r.bw.Flush(); err != nil {
		return fmt.Errorf("features: spill stage maps to %s: %w", r.f.Name(), err)
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("features: read spilled stage maps %s: %w", r.f.Name(), err)
	}
	br := bufio.NewReaderSize(r.f, 1<<20)
	raw := make([]byte, per*r.d*4)
	block := make([]float32, per*r.d)
	for i0 := 0; i0 < r.n; i0 += per {
		m := min(per, r.n-i0)
		b := raw[:m*r.d*4]
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("features: read spilled stage maps %s rows %d..%d: %w", r.f.Name(), i0, i0+m-1, err)
		}
		for i := range m * r.d {
			block[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		if err := f(i0, m, block[:m*r.d]); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the temporary file, if any. The rows are gone after it.
func (r *StageRows) Close() error {
	r.mem = nil
	if r.f == nil {
		return nil
	}
	name := r.f.Name()
	err := r.f.Close()
	if rerr := os.Remove(name); err == nil && rerr != nil {
		err = rerr
	}
	r.f = nil
	if err != nil {
		return fmt.Errorf("features: remove spilled stage maps %s: %w", name, err)
	}
	return nil
}

// TrainStageRows runs every sample of src (the ID train split with the test
// transform: OpenOOD's data_aux) through net and collects the output of
// stage (OpenOOD's feature_list index on ResNet18_32x32: 0 the stem, s the
// s-th layer), flattened in C×H×W order (torch's view(N, −1)), one row per
// image: what gmm's PCA and mixture are fitted on. Rows beyond
// spill.Memory bytes go to a temporary file in spill.Dir; the caller
// Closes the result, which removes it (on error nothing is left behind).
func TrainStageRows(ctx context.Context, net ExtraNetwork, src Source, stage int, spill Spill, opts Options) (rows *StageRows, err error) {
	opts = opts.withDefaults()
	c, h, w, err := net.StageShape(stage)
	if err != nil {
		return nil, fmt.Errorf("features: stage %d maps: %w", stage, err)
	}
	nc, nh, nw := net.InputShape()
	if sc, sh, sw := src.Shape(); nc != sc || nh != sh || nw != sw {
		return nil, fmt.Errorf("features: stage %d maps: source images are [N %d %d %d], the network wants [N %d %d %d]", stage, sc, sh, sw, nc, nh, nw)
	}
	limit := spill.Memory
	if limit == 0 {
		limit = DefaultSpillMemory
	}
	total, bs, per, d := src.Len(), opts.BatchSize, nc*nh*nw, c*h*w
	rows = &StageRows{n: total, d: d, limit: limit, dir: spill.Dir}
	defer func() {
		if err != nil {
			rows.Close()
			rows = nil
		}
	}()
	maps := make([]float32, bs*d)
	err = eachBatch(ctx, src, bs, per, opts.Progress, fmt.Sprintf("features: stage %d maps", stage), func(start, n int, in []float32, ids []int64, _ []int32) error {
		if err := net.StageMaps(in, n, []int{stage}, [][]float32{maps[:n*d]}); err != nil {
			return fmt.Errorf("features: stage %d maps: rows %d..%d: %w", stage, start, start+n-1, err)
		}
		if i := firstNonFinite(maps[:n*d]); i >= 0 {
			return fmt.Errorf("features: stage %d maps: row %d (id %d) value %d is %v", stage, start+i/d, ids[i/d], i%d, maps[i])
		}
		return rows.add(maps[:n*d])
	})
	if err != nil {
		return nil, err
	}
	if rows.bw != nil {
		if err := rows.bw.Flush(); err != nil {
			return nil, fmt.Errorf("features: spill stage maps to %s: %w", rows.f.Name(), err)
		}
	}
	return rows, nil
}
