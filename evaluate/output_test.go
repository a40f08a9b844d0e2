package evaluate

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/t2f/t2f/features"
)

func TestWriteOutputs(t *testing.T) {
	runs := []Run{newGen(20, "t2fnorm").run("a"), newGen(21, "t2fnorm").run("b")}
	cfg := baseConfig("msp", "t2fnorm")
	cfg.CSID = []string{"cc"}
	res, err := Evaluate(context.Background(), cfg, runs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := WriteOutputs(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"msp.csv", "t2fnorm.csv", "msp_fsood.csv", "scores.parquet", "norms.csv", "results.json", "report.md",
		"norm_n1.png", "norm_cc.png", "scores_t2fnorm.png", "roc_msp.png"} {
		if !slices.Contains(paths, filepath.Join(dir, name)) {
			t.Errorf("%s not written (got %v)", name, paths)
		}
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}

	// CSV: OpenOOD layout, values ×100 as "mean ± std".
	f, err := os.Open(filepath.Join(dir, "t2fnorm.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,FPR@95_IDpos,ECE" {
		t.Errorf("header %q", got)
	}
	var names []string
	for _, r := range recs[1:] {
		names = append(names, r[0])
	}
	if got := strings.Join(names, ","); got != "n1,n2,nearood,f1,farood" {
		t.Errorf("rows %q", got)
	}
	row := res.Methods[1].Rows[2] // nearood
	if want := fmt.Sprintf("%.2f ± %.2f", 100*row.Mean.AUROC, 100*row.Std.AUROC); recs[3][2] != want {
		t.Errorf("nearood AUROC cell %q, want %q", recs[3][2], want)
	}

	// scores.parquet: every scored row of every method and run.
	rdr, err := file.OpenParquetFile(filepath.Join(dir, "scores.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	wantRows := 0
	for _, m := range res.Methods {
		for _, s := range m.Scores {
			wantRows += len(s.Values)
		}
	}
	// per method and run: ID test 150 + CSID 100 + OOD 90 + 70 + 110
	if tbl.NumRows() != int64(wantRows) || wantRows != 2*2*(150+100+90+70+110) {
		t.Errorf("scores.parquet has %d rows, want %d", tbl.NumRows(), wantRows)
	}
	var cols []string
	for _, fd := range tbl.Schema().Fields() {
		cols = append(cols, fd.Name)
	}
	if got := strings.Join(cols, ","); got != "method,run,dataset,split,id,label,score" {
		t.Errorf("columns %s", got)
	}
	score := tbl.Column(6).Data().Chunk(0).(*array.Float64)
	if score.Value(0) != res.Methods[0].Scores[0].Values[0] {
		t.Errorf("first score %v, want %v", score.Value(0), res.Methods[0].Scores[0].Values[0])
	}

	// results.json: percent values at full precision.
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Units   string
		Methods []struct {
			Method string
			Rows   []struct {
				Dataset string
				Mean    struct{ AUROC float64 }
			}
		}
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	if j.Units != "percent" || j.Methods[1].Rows[2].Mean.AUROC != 100*row.Mean.AUROC {
		t.Errorf("json units %q, nearood AUROC %v, want %v", j.Units, j.Methods[1].Rows[2].Mean.AUROC, 100*row.Mean.AUROC)
	}

	// norms.csv: one line per run and split, ratio column parses.
	f, err = os.Open(filepath.Join(dir, "norms.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 1+len(res.Norms) || len(res.Norms) != 2*5 {
		t.Fatalf("norms.csv: %d lines, %v (norms %d)", len(recs), err, len(res.Norms))
	}
	if r, err := strconv.ParseFloat(recs[1][14], 64); err != nil || r != 1 {
		t.Errorf("ID test ratio %q", recs[1][14])
	}

	// The plots are PNGs.
	for _, p := range paths {
		if filepath.Ext(p) != ".png" {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 300 {
			t.Errorf("%s: %v", p, err)
		}
	}

	// The readable table names the conventions and every method.
	var sb strings.Builder
	if err := WriteTable(&sb, res); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"OOD positive", "ID positive", "t2fnorm (full-spectrum", "nearood", "±"} {
		if !strings.Contains(sb.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, sb.String())
		}
	}
}

// LoadRun reads only the files the configuration needs, from a directory
// written by package features, and evaluates like the in-memory run.
func TestLoadRunFromFiles(t *testing.T) {
	g := newGen(30, "t2fnorm")
	mem := g.run("mem")
	dir := t.TempDir()
	for _, s := range mem.Splits {
		if err := features.WriteFile(filepath.Join(dir, features.FileName(s.Table.Meta.Dataset, s.Table.Meta.Split)), s.Table); err != nil {
			t.Fatal(err)
		}
	}
	if err := features.WriteHead(dir, g.featuresHead()); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig("t2fnorm", "knn")
	run, err := LoadRun(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var loaded []string
	for _, s := range run.Splits {
		loaded = append(loaded, filepath.Base(s.Path))
	}
	slices.Sort(loaded)
	if got := strings.Join(loaded, " "); got != "cif_test.parquet cif_train.parquet f1_test.parquet n1_test.parquet n2_test.parquet" {
		t.Errorf("loaded %s", got)
	}
	if run.Head == nil || run.Head.Tau != g.tau {
		t.Fatalf("head %+v", run.Head)
	}
	fromFiles, err := Evaluate(context.Background(), cfg, []Run{*run})
	if err != nil {
		t.Fatal(err)
	}
	inMem, err := Evaluate(context.Background(), cfg, []Run{mem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Methods {
		a, b := fromFiles.Methods[i], inMem.Methods[i]
		if a.Err != nil || b.Err != nil {
			t.Fatal(a.Err, b.Err)
		}
		for r := range a.Rows {
			if a.Rows[r].Mean != b.Rows[r].Mean {
				t.Errorf("%s row %s: files %+v, memory %+v", a.Method, a.Rows[r].Dataset, a.Rows[r].Mean, b.Rows[r].Mean)
			}
		}
	}
	// With the search, ID val and the OOD val split are read too; without a
	// head file the run has no head (and says so in a note).
	cfg.OODVal = "tin"
	if err := os.Remove(filepath.Join(dir, features.HeadFileName)); err != nil {
		t.Fatal(err)
	}
	run, err = LoadRun(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	loaded = loaded[:0]
	for _, s := range run.Splits {
		loaded = append(loaded, filepath.Base(s.Path))
	}
	slices.Sort(loaded)
	if got := strings.Join(loaded, " "); got != "cif_test.parquet cif_train.parquet cif_val.parquet f1_test.parquet n1_test.parquet n2_test.parquet tin_val.parquet" || run.Head != nil {
		t.Errorf("with search, no head: loaded %s, head %v", got, run.Head)
	}
	// A file from another checkpoint in the directory is refused by name.
	other := newGen(31, "t2fnorm").table("zz", "test", 10, true, 1)
	if err := features.WriteFile(filepath.Join(dir, features.FileName("zz", "test")), other); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRun(dir, cfg); err == nil || !strings.Contains(err.Error(), "zz_test.parquet") {
		t.Errorf("mixed directory: %v", err)
	}
}
