//go:build interop

package features

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInteropHyparquet reads a feature file with hyparquet, a JavaScript
// Parquet reader that shares no code with arrow-go, and checks every value
// and the metadata. It needs node and `npm ci` in testdata/interop; run it
// with
//
//	(cd features/testdata/interop && npm ci) && go test -tags interop ./features
func TestInteropHyparquet(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (apt-get install nodejs npm): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "hyparquet")); err != nil {
		t.Fatalf("hyparquet not installed: run `npm ci` in features/testdata/interop: %v", err)
	}

	want := randomTable(40, 5, 3, 11)
	want.Meta.Classes = []string{"airplane", "bird \"quoted\"", "ünïcode"}
	path := filepath.Join(t.TempDir(), FileName(want.Meta.Dataset, want.Meta.Split))
	if err := WriteFile(path, want, WithRowGroupRows(16)); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(node, filepath.Join(dir, "read.mjs"), path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node read.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		KV        map[string]string `json:"kv"`
		NumRows   int               `json:"num_rows"`
		RowGroups int               `json:"row_groups"`
		Rows      []struct {
			ID                int64     `json:"id"`
			Dataset           string    `json:"dataset"`
			Split             string    `json:"split"`
			Label             int32     `json:"label"`
			Feature           []float64 `json:"feature"`
			FeatureNormalized []float64 `json:"feature_normalized"`
			FeatureNorm       float64   `json:"feature_norm"`
			Logits            []float64 `json:"logits"`
			LogitsOOD         []float64 `json:"logits_ood"`
			Pred              int32     `json:"pred"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse hyparquet output: %v", err)
	}
	if got.NumRows != 40 || len(got.Rows) != 40 || got.RowGroups != 3 {
		t.Fatalf("hyparquet sees %d rows (%d decoded) in %d row groups, want 40 in 3", got.NumRows, len(got.Rows), got.RowGroups)
	}
	for key, v := range map[string]string{
		"t2f_features_version": "1", "dataset": "cifar10", "split": "test", "model": "resnet18_32x32",
		"width": "0.5", "head": "t2fnorm", "tau": "0.1", "classes": `["airplane","bird \"quoted\"","ünïcode"]`,
		"checkpoint_sha256": want.Meta.CheckpointSHA256, "dim": "5", "num_classes": "3",
	} {
		if got.KV[key] != v {
			t.Errorf("metadata %s = %q, want %q", key, got.KV[key], v)
		}
	}
	// float32 → JS double is exact, and JSON prints the shortest decimal
	// that round-trips the double, so float32(parsed) must equal exactly.
	same := func(row int, col string, g []float64, w []float32) {
		t.Helper()
		if len(g) != len(w) {
			t.Errorf("row %d %s has %d values, want %d", row, col, len(g), len(w))
			return
		}
		for j := range g {
			if float32(g[j]) != w[j] || float64(float32(g[j])) != g[j] {
				t.Errorf("row %d %s[%d] = %v, want %v", row, col, j, g[j], w[j])
				return
			}
		}
	}
	d, c := want.Dim, want.NumClasses
	for i, r := range got.Rows {
		if r.ID != want.IDs[i] || r.Label != want.Labels[i] || r.Pred != want.Preds[i] || r.Dataset != "cifar10" || r.Split != "test" {
			t.Errorf("row %d = id %d label %d pred %d %s/%s, want id %d label %d pred %d cifar10/test",
				i, r.ID, r.Label, r.Pred, r.Dataset, r.Split, want.IDs[i], want.Labels[i], want.Preds[i])
		}
		same(i, "feature", r.Feature, want.Feature[i*d:(i+1)*d])
		same(i, "feature_normalized", r.FeatureNormalized, want.FeatureNormalized[i*d:(i+1)*d])
		same(i, "feature_norm", []float64{r.FeatureNorm}, want.FeatureNorm[i:i+1])
		same(i, "logits", r.Logits, want.Logits[i*c:(i+1)*c])
		same(i, "logits_ood", r.LogitsOOD, want.LogitsOOD[i*c:(i+1)*c])
	}
}
