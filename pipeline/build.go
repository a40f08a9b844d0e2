package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/internal/dirlock"
	"github.com/t2f/t2f/shards"
)

// Source kinds accepted by [Params.Source].
var SourceKinds = []string{"mnist", "cifar10", "cifar100", "imagefolder", "imglist", "synthetic", "letters", "aux-letters"}

// Params are a build's parameters. Everything except Out and Workers is
// recorded in the manifest's "build" object (Workers cannot change the
// output; Out is where the manifest lives).
type Params struct {
	Source    string   `json:"source"`            // one of SourceKinds
	Input     string   `json:"input"`             // mnist/cifar: folder (or cifar .bin); imagefolder: root; imglist: list file; synthetic: gaussian|uniform|blobs
	Root      string   `json:"root,omitempty"`    // imglist data root (default: the list file's folder)
	Split     string   `json:"split"`             // mnist/cifar: train|test; recorded in the shards
	SplitName string   `json:"split_name"`        // split recorded in the shards (default Split, or Split+"-holdout" for --part holdout)
	Name      string   `json:"dataset"`           // dataset name recorded in the shards (default: derived from the source)
	Classes   []string `json:"classes,omitempty"` // override class names (mnist, imglist)
	Coarse    bool     `json:"coarse,omitempty"`  // cifar100: the 20 coarse labels
	Size      int      `json:"size"`              // output side (default 32)
	Resize    int      `json:"resize,omitempty"`  // shorter side before the centre crop (0 = Size; ImageNet's test transform: 256 for Size 224)
	Channels  int      `json:"channels"`          // 1 or 3 (default 3)
	Resample  string   `json:"resample"`          // bilinear (default) | box | bicubic | lanczos
	MaxPixels int      `json:"max_pixels"`        // decompression-bomb limit (default DefaultMaxPixels)
	ShardRows int      `json:"shard_rows"`        // rows per shard (default shards.DefaultShardRows)

	Limit       int    `json:"limit,omitempty"`        // use only the first Limit records (0 = all)
	Holdout     int    `json:"holdout,omitempty"`      // size of a seeded random holdout set (0 = none)
	HoldoutSeed uint64 `json:"holdout_seed,omitempty"` // its seed
	Part        string `json:"part,omitempty"`         // "rest" (default) or "holdout": which side to write
	LabelOOD    bool   `json:"label_ood,omitempty"`    // write every label as −1 (classes dropped)
	SkipBad     bool   `json:"skip_bad,omitempty"`     // skip undecodable inputs, listing them in the manifest

	Count int    `json:"count,omitempty"` // synthetic: number of images
	Seed  uint64 `json:"seed,omitempty"`  // synthetic: seed

	InputFingerprint string `json:"input_fingerprint,omitempty"` // set by Build: SHA-256 of the inputs' names, sizes and mtimes

	Out     string `json:"-"` // output directory
	Workers int    `json:"-"` // decoding goroutines (default 1)
}

// Result describes a finished (or already complete) build.
type Result struct {
	Manifest *shards.Manifest
	UpToDate bool // the directory already held this exact build; nothing was written
	Resumed  int  // rows kept from an interrupted earlier run
}

// progressName is the in-progress marker written before any shard.
const progressName = "build-in-progress.json"

// setDefaults fills the zero parameters that have a default.
func (p *Params) setDefaults() {
	if p.Size == 0 {
		p.Size = 32
	}
	if p.Channels == 0 {
		p.Channels = 3
	}
	if p.Resize == p.Size {
		p.Resize = 0 // one spelling per transform, so re-runs recognise the build
	}
	if p.Resample == "" {
		p.Resample = "bilinear"
	}
	if p.MaxPixels <= 0 {
		p.MaxPixels = DefaultMaxPixels
	}
	if p.ShardRows == 0 {
		p.ShardRows = shards.DefaultShardRows
	}
	if p.Workers <= 0 {
		p.Workers = 1
	}
	if p.Split == "" {
		switch p.Source {
		case "mnist", "cifar10", "cifar100":
			p.Split = "train"
		default:
			p.Split = "test"
		}
	}
	if p.Holdout > 0 && p.Part == "" {
		p.Part = "rest"
	}
	if p.SplitName == "" {
		p.SplitName = p.Split
		if p.Part == "holdout" {
			p.SplitName = p.Split + "-holdout"
		}
	}
	if p.Name == "" {
		switch p.Source {
		case "synthetic":
			p.Name = "synthetic-" + p.Input
		case "imagefolder", "imglist":
			p.Name = strings.TrimSuffix(filepath.Base(filepath.Clean(p.Input)), filepath.Ext(p.Input))
		default:
			p.Name = p.Source
		}
	}
}

// ParamError is a parameter that cannot work; Param is the name of the
// `t2f pipeline build` flag that sets it.
type ParamError struct {
	Param string
	Msg   string // says what is wrong, starting with the flag and its value
}

func (e *ParamError) Error() string { return "pipeline: " + e.Msg }

// Validate reports the first parameter that cannot work, as a *ParamError.
// It checks the values as given: Build fills zero Size, Channels,
// Resample, MaxPixels, ShardRows and Workers with their defaults before it
// validates, but here a zero one is an error.
func (p Params) Validate() error {
	bad := func(param, format string, args ...any) error {
		return &ParamError{Param: param, Msg: fmt.Sprintf(format, args...)}
	}
	imageSource := p.Source != "synthetic" && p.Source != "letters" && p.Source != "aux-letters"
	switch {
	case !slices.Contains(SourceKinds, p.Source):
		return bad("source", "--source %q: want one of %s", p.Source, strings.Join(SourceKinds, ", "))
	case p.Out == "":
		return bad("out", "--out: no output directory")
	case p.Size <= 0 || p.Size > shards.MaxSide:
		return bad("size", "--size %d: must lie in [1, %d]", p.Size, shards.MaxSide)
	case p.Resize > 4*shards.MaxSide:
		return bad("resize", "--resize %d: at most %d", p.Resize, 4*shards.MaxSide)
	case p.Count > MaxCount:
		return bad("count", "--count %d: at most %d", p.Count, MaxCount)
	case p.Resize != 0 && p.Resize < p.Size:
		return bad("resize", "--resize %d: must be at least --size %d (it is the side the crop is cut from)", p.Resize, p.Size)
	case p.Resize != 0 && !imageSource:
		return bad("resize", "--resize applies to image sources; --source %s draws at --size", p.Source)
	case p.Channels != 1 && p.Channels != 3:
		return bad("channels", "--channels %d: want 1 or 3", p.Channels)
	case !slices.Contains(ResampleNames(), p.Resample):
		return bad("resample", "--resample %q: want one of %s", p.Resample, strings.Join(ResampleNames(), ", "))
	case p.Workers <= 0:
		return bad("workers", "--workers %d: must be positive", p.Workers)
	case p.ShardRows <= 0:
		return bad("shard-rows", "--shard-rows %d: must be positive", p.ShardRows)
	case p.Limit < 0 || p.Holdout < 0 || p.Count < 0:
		return bad("limit", "--limit, --holdout and --count must not be negative")
	case p.Part != "" && p.Part != "rest" && p.Part != "holdout":
		return bad("part", "--part %q: want rest or holdout", p.Part)
	case p.Part != "" && p.Holdout == 0:
		return bad("part", "--part needs --holdout N")
	case !imageSource && p.Count == 0:
		return bad("count", "--source %s needs --count N", p.Source)
	case p.Source != "cifar100" && p.Coarse:
		return bad("coarse", "--coarse applies to --source cifar100 only")
	}
	return nil
}

// OpenSource opens the source p describes (p's defaults must be set).
func OpenSource(p Params) (Source, error) {
	switch p.Source {
	case "mnist":
		return OpenMNIST(p.Input, p.Split, p.Classes, p.MaxPixels)
	case "cifar10":
		return OpenCIFAR10(p.Input, p.Split)
	case "cifar100":
		return OpenCIFAR100(p.Input, p.Split, p.Coarse)
	case "imagefolder":
		return OpenImageFolder(p.Input, p.MaxPixels)
	case "imglist":
		root := p.Root
		if root == "" {
			root = filepath.Dir(p.Input)
		}
		return OpenImgList(p.Input, root, p.Classes, p.MaxPixels, p.SkipBad)
	case "synthetic":
		return NewSynthetic(p.Input, p.Count, p.Size, p.Channels, p.Seed)
	case "letters":
		return NewLetters(p.Input, p.Count, p.Size, p.Channels, p.Seed)
	case "aux-letters":
		return NewAuxLetters(p.Input, p.Count, p.Size, p.Channels, p.Seed)
	default:
		return nil, fmt.Errorf("pipeline: source %q, want one of %v", p.Source, SourceKinds)
	}
}

// Select returns the record indices a build with these parameters writes, in
// input order: the first limit records (limit 0 = all n), then, when holdout
// > 0, a seeded random set of holdout of them forms the "holdout" part and
// the others the "rest" part. The two parts are disjoint and together make up
// the limited input.
func Select(n, limit, holdout int, seed uint64, part string) ([]int, error) {
	if limit > 0 && limit < n {
		n = limit
	}
	if holdout == 0 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	if holdout > n {
		return nil, fmt.Errorf("pipeline: holdout %d is larger than the %d input records", holdout, n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x686f6c646f7574)) // "holdout"
	perm := rng.Perm(n)
	in := make([]bool, n)
	for _, i := range perm[:holdout] {
		in[i] = true
	}
	want := part == "holdout"
	out := make([]int, 0, n)
	for i := range n {
		if in[i] == want {
			out = append(out, i)
		}
	}
	return out, nil
}

// fingerprint hashes the inputs' names, sizes and modification times.
func fingerprint(files []string) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	h := sha256.New()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			// A --skip-bad build may list missing or unreadable files (a
			// symlink loop); reading them reports the error, or skips them.
			fmt.Fprintf(h, "%s\x00unreadable\n", f)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type marker struct {
	Build json.RawMessage `json:"build"`
}

// Build reads the source p describes and writes a shard directory at p.Out.
// progress, if not nil, is called from Build's goroutine with rows done and
// the total after each chunk.
func Build(ctx context.Context, p Params, progress func(done, total int)) (*Result, error) {
	p.setDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pre, err := NewPreprocessor(p.Resize, p.Size, p.Channels, p.Resample)
	if err != nil {
		return nil, err
	}
	src, err := OpenSource(p)
	if err != nil {
		return nil, err
	}
	sel, err := Select(src.Len(), p.Limit, p.Holdout, p.HoldoutSeed, p.Part)
	if err != nil {
		return nil, err
	}
	if p.InputFingerprint, err = fingerprint(src.Inputs()); err != nil {
		return nil, err
	}
	build, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	classes := src.Classes()
	if p.LabelOOD {
		classes = nil
	}
	meta := shards.Meta{Dataset: p.Name, Split: p.SplitName, Classes: classes, Height: p.Size, Width: p.Size, Channels: p.Channels}

	// One build per directory at a time: a second one is refused, naming
	// the first.
	_, serr := os.Stat(p.Out)
	created := errors.Is(serr, os.ErrNotExist)
	lock, err := dirlock.Acquire(p.Out, "t2f pipeline build")
	if err != nil {
		return nil, fmt.Errorf("pipeline: --out: %w", err)
	}
	defer lock.Release()
	st, err := prepareOut(p.Out, build, meta, p.ShardRows, p.SkipBad, sel)
	st.created = created
	if err != nil || st.done != nil {
		if st.done != nil {
			return &Result{Manifest: st.done, UpToDate: true}, nil
		}
		return nil, err
	}
	m := &shards.Manifest{Dataset: meta.Dataset, Split: meta.Split, Classes: classes, ClassCounts: make([]int64, len(classes)),
		Height: p.Size, Width: p.Size, Channels: p.Channels, Build: build}
	count := func(l int32) {
		if l < 0 {
			m.OODCount++
		} else {
			m.ClassCounts[l]++
		}
		m.Rows++
	}
	for _, l := range st.labels {
		count(l)
	}
	w, err := shards.NewWriter(p.Out, meta, shards.WithShardRows(p.ShardRows), shards.WithExisting(st.existing))
	if err != nil {
		return nil, err
	}
	err = run(ctx, src, pre, sel[st.next:], p, func(idx int, item Item, pix []uint8, lerr error) error {
		if lerr != nil {
			if p.SkipBad {
				m.Skipped = append(m.Skipped, shards.Skipped{Source: item.Source, Error: lerr.Error()})
				return nil
			}
			return dataError{lerr}
		}
		label := item.Label
		if p.LabelOOD {
			label = -1
		}
		if err := checkLabel(int64(label), len(classes), "record "+item.Source); err != nil {
			return dataError{err}
		}
		if err := w.Append(int64(idx), label, pix, item.Source); err != nil {
			return err
		}
		count(label)
		return nil
	}, func(done int) {
		if progress != nil {
			progress(st.next+done, len(sel))
		}
	})
	if err != nil {
		w.Abort()
		if errors.As(err, new(dataError)) {
			cleanOut(p.Out, st.created) // bad input: leave nothing behind
			return nil, errors.Unwrap(err)
		}
		return nil, err // interrupted or I/O: complete shards stay for a rerun
	}
	if m.Shards, err = w.Close(); err != nil {
		return nil, err
	}
	m.SkippedN = len(m.Skipped)
	if err := shards.WriteManifest(p.Out, m); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(p.Out, progressName))
	return &Result{Manifest: m, Resumed: len(st.labels)}, nil
}

// dataError marks a failure caused by the input data (as opposed to an
// interruption or an I/O error on the output).
type dataError struct{ err error }

func (e dataError) Error() string { return e.err.Error() }
func (e dataError) Unwrap() error { return e.err }

// chunkRows is how many records are decoded per round; one chunk decodes
// while the previous one is written.
const chunkRows = 256

type chunk struct {
	idx  []int
	pix  []uint8
	errs []error
}

// run decodes sel on p.Workers goroutines and calls emit for every record in
// sel order, from the calling goroutine.
func run(ctx context.Context, src Source, pre *Preprocessor, sel []int, p Params,
	emit func(idx int, item Item, pix []uint8, err error) error, progress func(done int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := pre.OutLen()
	chunks := make(chan chunk, 1)
	var prodErr error
	go func() {
		defer close(chunks)
		for lo := 0; lo < len(sel); lo += chunkRows {
			c := chunk{idx: sel[lo:min(lo+chunkRows, len(sel))]}
			c.pix = make([]uint8, len(c.idx)*n)
			c.errs = make([]error, len(c.idx))
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(p.Workers)
			for j, i := range c.idx {
				g.Go(func() error {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					img, err := src.Load(i)
					if err == nil {
						err = pre.Apply(img, c.pix[j*n:(j+1)*n])
					}
					if err != nil {
						c.errs[j] = err
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				prodErr = err
				return
			}
			select {
			case chunks <- c:
			case <-ctx.Done():
				prodErr = ctx.Err()
				return
			}
		}
	}()
	done := 0
	for c := range chunks {
		for j, i := range c.idx {
			if err := emit(i, src.Item(i), c.pix[j*n:(j+1)*n], c.errs[j]); err != nil {
				cancel()
				for range chunks { // let the producer finish
				}
				return err
			}
		}
		done += len(c.idx)
		progress(done)
	}
	if prodErr != nil {
		return fmt.Errorf("pipeline: build stopped: %w", prodErr)
	}
	return ctx.Err()
}

type outState struct {
	done     *shards.Manifest // the directory already holds this exact build
	existing []shards.ShardInfo
	labels   []int32 // labels of the existing shards
	next     int     // position in sel to continue from
	created  bool    // Build created the directory
}

// prepareOut checks the output directory and decides between "already
// built", "continue an interrupted identical build", "start fresh" and an
// error when the directory holds something else.
func prepareOut(dir string, build []byte, meta shards.Meta, shardRows int, skipBad bool, sel []int) (outState, error) {
	var st outState
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		st.created = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("pipeline: output directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, shards.ManifestName)); err == nil {
		m, err := shards.ReadManifest(dir)
		if err != nil {
			return st, fmt.Errorf("pipeline: --out %q holds an unreadable shard set (%v); delete it or choose another --out", dir, err)
		}
		if jsonEqual(m.Build, build) {
			st.done = m
			return st, nil
		}
		return st, fmt.Errorf("pipeline: --out %q already holds dataset %q split %q built with different parameters or inputs; delete it or choose another --out",
			dir, m.Dataset, m.Split)
	}
	markerPath := filepath.Join(dir, progressName)
	if b, err := os.ReadFile(markerPath); err == nil {
		var mk marker
		if json.Unmarshal(b, &mk) != nil || !jsonEqual(mk.Build, build) {
			return st, fmt.Errorf("pipeline: --out %q holds an unfinished build with different parameters or changed inputs; delete it or choose another --out", dir)
		}
		if !skipBad {
			st = resumeState(dir, meta, shardRows, sel)
		}
	} else {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return st, fmt.Errorf("pipeline: output directory: %w", err)
		}
		for _, e := range ents {
			if e.Name() != dirlock.Name && !atomicfile.IsTemp(e.Name()) {
				return st, fmt.Errorf("pipeline: --out %q is not empty and holds no t2f shard set (found %q); choose an empty or new directory", dir, e.Name())
			}
		}
	}
	// Remove what will not be kept: temp files and shards after the kept ones.
	keep := map[string]bool{progressName: true}
	for _, s := range st.existing {
		keep[s.File] = true
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !keep[e.Name()] && (strings.HasSuffix(e.Name(), ".arrow") || strings.HasSuffix(e.Name(), shards.TempSuffix) || atomicfile.IsTemp(e.Name())) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return st, fmt.Errorf("pipeline: %w", err)
			}
		}
	}
	mk, _ := json.Marshal(marker{Build: build})
	if err := atomicfile.WriteFile(markerPath, mk); err != nil {
		return st, fmt.Errorf("pipeline: write %q: %w", markerPath, err)
	}
	return st, nil
}

// resumeState keeps the leading complete, full shards of an interrupted
// build whose ids are exactly the expected prefix of sel.
func resumeState(dir string, meta shards.Meta, shardRows int, sel []int) outState {
	var st outState
	for k := 0; ; k++ {
		info, ids, labels, err := shards.ScanShard(filepath.Join(dir, shards.ShardName(k)), meta)
		if err != nil || info.Rows != shardRows {
			break
		}
		// With no skipping, shard k holds exactly sel[k·rows : (k+1)·rows].
		if (k+1)*shardRows > len(sel) {
			break
		}
		ok := true
		for j, id := range ids {
			if id != int64(sel[k*shardRows+j]) {
				ok = false
				break
			}
		}
		if !ok {
			break
		}
		st.existing = append(st.existing, info)
		st.labels = append(st.labels, labels...)
		st.next = (k + 1) * shardRows
	}
	return st
}

// cleanOut removes everything a build writes, and dir itself when the build
// created it and it is now empty.
func cleanOut(dir string, created bool) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".arrow") || strings.HasSuffix(n, shards.TempSuffix) || atomicfile.IsTemp(n) || n == progressName {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	// The build leaves nothing, its lock file included (it still holds the
	// lock and releases it on return).
	_ = os.Remove(filepath.Join(dir, dirlock.Name))
	if created {
		_ = os.Remove(dir) // only succeeds when empty
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
