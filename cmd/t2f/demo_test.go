package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/internal/plan"
	"github.com/t2f/t2f/train"
)

// writeIDX writes an MNIST-layout pair of IDX files (uncompressed) with n
// 28×28 images whose class k is a bright 6×6 square at a place set by k,
// over noise.
func writeIDX(t *testing.T, dir, prefix string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	img := make([]byte, 16, 16+n*784)
	binary.BigEndian.PutUint32(img[0:], 0x803)
	binary.BigEndian.PutUint32(img[4:], uint32(n))
	binary.BigEndian.PutUint32(img[8:], 28)
	binary.BigEndian.PutUint32(img[12:], 28)
	lab := make([]byte, 8, 8+n)
	binary.BigEndian.PutUint32(lab[0:], 0x801)
	binary.BigEndian.PutUint32(lab[4:], uint32(n))
	for i := range n {
		k := i % 10
		px := make([]byte, 784)
		for j := range px {
			px[j] = byte(rng.IntN(40))
		}
		x0, y0 := 2+(k%5)*5, 4+(k/5)*12
		for y := y0; y < y0+6; y++ {
			for x := x0; x < x0+6; x++ {
				px[y*28+x] = 255
			}
		}
		img = append(img, px...)
		lab = append(lab, byte(k))
	}
	if err := os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), lab, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tinyDemo(t *testing.T) demoOptions {
	t.Helper()
	root := t.TempDir()
	mn := filepath.Join(root, "mnist")
	if err := os.MkdirAll(mn, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDX(t, mn, "train", 300, 1)
	writeIDX(t, mn, "t10k", 160, 2)
	return demoOptions{
		ID: "mnist", Model: "lenet", Width: 1, Seeds: []int{0}, Epochs: 1, LR: 0.05, WarmupEpochs: 0,
		Data: filepath.Join(root, "data"), Out: filepath.Join(root, "runs"), Methods: "msp,t2fnorm,ebo,knn,mds",
		MNISTDir: mn, FMNISTDir: filepath.Join(root, "no-fashion-mnist"), Fonts: "gofont",
		IDVal: 60, Letters: 80, LettersVal: 40, Noise: 50,
	}
}

// TestDemoEndToEnd runs the whole plan on tiny generated data, in process:
// every step must run (or be skipped for the missing Fashion-MNIST and
// textures), report.md must hold the comparison, and a second run must skip
// every step.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small models")
	}
	o := tinyDemo(t)
	steps := mustDemoPlan(t, o).Steps
	var out, errb bytes.Buffer
	if err := runDemo(context.Background(), &out, &errb, o, steps, false); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	log := errb.String()
	for _, s := range []string{"data-ood-fashionmnist: skipped", "data-ood-textures: skipped", "train-ce-s0: train lenet", "report: compare"} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
	rep, err := os.ReadFile(filepath.Join(o.Out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Did T2FNorm help?", "| **nearood** |", "| **farood** |", "| letters | test | near |", "| gaussian | test | far |", "| knn |"} {
		if !bytes.Contains(rep, []byte(s)) {
			t.Errorf("report.md lacks %q:\n%s", s, rep)
		}
	}
	if _, err := os.Stat(filepath.Join(o.Out, "norm_ratio.png")); err != nil {
		t.Error(err)
	}
	// The score step scored exactly the sets that exist here.
	for _, s := range steps {
		if s.Name == "score-ce" && !slices.Contains(s.Args, "letters") && !slices.Contains(s.Args, "gaussian,uniform,blobs") {
			t.Errorf("score-ce: %v, want near letters and far gaussian,uniform,blobs", s.Args)
		}
	}
	// Second run: nothing to do.
	errb.Reset()
	if err := runDemo(context.Background(), &out, &errb, o, steps, false); err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Skip == "" && !strings.Contains(errb.String(), s.Name+": up to date") {
			t.Errorf("second run did not skip %s:\n%s", s.Name, errb.String())
		}
	}
	// A changed input (a rebuilt training set) makes training stale again.
	later := filepath.Join(o.Data, "mnist-train", "dataset.json")
	st, _ := os.Stat(filepath.Join(o.Out, ".steps", "train-ce-s0"))
	if err := os.Chtimes(later, st.ModTime().Add(1e9), st.ModTime().Add(1e9)); err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Name == "train-ce-s0" && upToDate(o, s) {
			t.Error("train-ce-s0 up to date after its training set changed")
		}
		if s.Name == "score-ce" && !upToDate(o, s) {
			t.Error("score-ce stale although its inputs did not change")
		}
	}
}

// TestDemoTaskfile checks that the Taskfile's demo tasks run the plan's
// steps (one definition: the tasks call t2f demo --step NAME) and that each
// task's generates holds the step's stamp.
func TestDemoTaskfile(t *testing.T) {
	b, err := os.ReadFile("../../Taskfile.yml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	tasks := raw["tasks"].(map[string]any)
	cmdsOf := func(name string) (cmds []string, forItems []string, subtasks []string, generates []string) {
		task, ok := tasks[name].(map[string]any)
		if !ok {
			t.Fatalf("Taskfile has no task %s", name)
		}
		for _, c := range task["cmds"].([]any) {
			switch c := c.(type) {
			case string:
				cmds = append(cmds, c)
			case map[string]any:
				if s, ok := c["cmd"].(string); ok {
					cmds = append(cmds, s)
				}
				if s, ok := c["task"].(string); ok {
					subtasks = append(subtasks, s)
				}
				if f, ok := c["for"].([]any); ok {
					for _, x := range f {
						forItems = append(forItems, x.(string))
					}
				}
			}
		}
		if g, ok := task["generates"].([]any); ok {
			for _, x := range g {
				generates = append(generates, x.(string))
			}
		}
		return
	}
	o := demoOptions{ID: "mnist", Model: "lenet", Width: 1, Seeds: []int{0}, Epochs: 5, LR: 0.1, WarmupEpochs: 1,
		Data: "data", Out: "runs/demo", Methods: demoMethods, MNISTDir: "m", FMNISTDir: ".", Fonts: "gofont", TexturesPK3: "x", Install: true}
	_, dataItems, _, _ := cmdsOf("data")
	_, _, demoTasks, _ := cmdsOf("demo")
	var wantData []string
	for _, s := range mustDemoPlan(t, o).Steps {
		switch {
		case s.Name == "install":
		case strings.HasPrefix(s.Name, "data-"):
			wantData = append(wantData, s.Name)
		default:
			task := "demo:" + s.Name
			if !slices.Contains(demoTasks, task) {
				t.Errorf("task demo does not run %s", task)
			}
			cmds, _, _, gen := cmdsOf(task)
			if !slices.Equal(cmds, []string{"{{.BIN}} demo --step " + s.Name}) {
				t.Errorf("%s runs %q, want {{.BIN}} demo --step %s", task, cmds, s.Name)
			}
			if !slices.Contains(gen, stamp(o, s)) {
				t.Errorf("%s generates %v, want it to include the stamp %s", task, gen, stamp(o, s))
			}
		}
	}
	if !slices.Equal(dataItems, wantData) {
		t.Errorf("task data builds %v, the plan's data steps are %v", dataItems, wantData)
	}
}

// TestDemoPartialStep: a step marked Partial that fails after writing its
// outputs (t2f score with one failed method) warns and the run goes on; one
// that wrote nothing stops the run, and so does a failing ordinary step.
func TestDemoPartialStep(t *testing.T) {
	dir := t.TempDir()
	o := demoOptions{Out: dir, Data: dir}
	out := filepath.Join(dir, "results.json")
	writes := demoStep{Name: "score-x", Exec: true, Partial: true, Args: []string{"sh", "-c", "echo {} > " + out + "; exit 1"}, Outputs: []string{out}}
	after := demoStep{Name: "after", Exec: true, Args: []string{"true"}}
	var w, ew bytes.Buffer
	if err := runDemo(context.Background(), &w, &ew, o, []demoStep{writes, after}, false); err != nil {
		t.Fatalf("partial step with outputs: %v", err)
	}
	if !strings.Contains(ew.String(), "score-x: WARNING") || !upToDate(o, after) {
		t.Errorf("no warning or the next step did not run:\n%s", ew.String())
	}
	silent := demoStep{Name: "score-y", Exec: true, Partial: true, Args: []string{"false"}, Outputs: []string{filepath.Join(dir, "none.json")}}
	plain := writes
	plain.Name, plain.Partial = "plain", false
	for _, s := range []demoStep{silent, plain} {
		if err := runDemo(context.Background(), &w, &ew, o, []demoStep{s}, false); err == nil || !strings.Contains(err.Error(), s.Name) {
			t.Errorf("%s: error %v, want the run to stop naming the step", s.Name, err)
		}
	}
}

// demoStep, runDemo, upToDate and stamp run and inspect demo steps under
// o's stamp folders.
type demoStep = plan.Step

func runDemo(ctx context.Context, w, ew io.Writer, o demoOptions, steps []plan.Step, force bool) error {
	p := demoStamps(o)
	p.Steps = steps
	return runPlan(ctx, w, ew, p, force)
}

func mustDemoPlan(t *testing.T, o demoOptions) *plan.Plan {
	t.Helper()
	p, _, err := demoPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func upToDate(o demoOptions, s plan.Step) bool { return demoStamps(o).UpToDate(s) }

func stamp(o demoOptions, s plan.Step) string { return demoStamps(o).Stamp(s) }

// TestDemoTrainingMethods runs the tiny plan with all four training
// methods: OE trains on the auxiliary letters, every method is scored, and
// the report compares T2FNorm with the baseline first, then every method.
func TestDemoTrainingMethods(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four small models")
	}
	o := tinyDemo(t)
	o.TrainMethods, o.AuxLetters = []string{"ce", "logitnorm", "oe", "t2fnorm"}, 60
	steps := mustDemoPlan(t, o).Steps
	var out, errb bytes.Buffer
	if err := runDemo(context.Background(), &out, &errb, o, steps, false); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	for _, m := range []string{"ce", "logitnorm", "oe", "t2f"} {
		if _, err := os.Stat(filepath.Join(o.Out, "score-"+m, evaluate.ResultsFileName)); err != nil {
			t.Errorf("no scores for %s: %v", m, err)
		}
	}
	cfg, err := train.ReadConfig(filepath.Join(o.Out, "oe-s0", train.ConfigFile))
	if err != nil || cfg.Method() != train.MethodOE || cfg.Outliers != filepath.Join(o.Data, demoAuxDir) {
		t.Errorf("oe-s0 config %+v, %v; want OE on the auxiliary letters", cfg, err)
	}
	rep, err := os.ReadFile(filepath.Join(o.Out, evaluate.ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	// The CE-vs-T2FNorm report first, then the N-way sections.
	last := -1
	for _, s := range []string{"# Cross-entropy baseline vs T2FNorm on mnist", "Made by t2f ", "## Did T2FNorm help?",
		"## All training methods side by side on mnist", "| CE (baseline) | msp | 1 |", "| T2FNorm | t2fnorm | 1 |", "| LogitNorm | msp | 1 |", "| OE | msp | 1 |",
		"## T2FNorm vs the CE baseline", "## LogitNorm vs the CE baseline: did LogitNorm help?", "## OE vs the CE baseline: did OE help?"} {
		i := bytes.Index(rep, []byte(s))
		if i <= last {
			t.Errorf("report.md lacks %q after the previous line:\n%s", s, rep)
			continue
		}
		last = i
	}
	// t2f compare on the scores: one verdict per method, bad --method flags are usage errors.
	sd := func(m string) string { return filepath.Join(o.Out, "score-"+m) }
	out.Reset()
	var stderr bytes.Buffer
	r := filepath.Join(t.TempDir(), "r.md")
	if code := run(context.Background(), []string{"t2f", "compare", "--baseline", sd("ce"), "--method", "logitnorm=" + sd("logitnorm"), "--method", "oe=" + sd("oe"),
		"--note", "oe-s4 left out:\n  diverged", "--note", "second", "--out", r}, &out, &stderr); code != 0 {
		t.Fatalf("compare --method: exit %d: %s", code, stderr.String())
	}
	if b, err := os.ReadFile(r); err != nil || !bytes.HasSuffix(b, []byte("\n## Notes\n\n- oe-s4 left out: diverged\n- second\n")) {
		t.Errorf("compare --note: report ends %q, %v; want a Notes section with both notes, one line each", b[max(0, len(b)-80):], err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "LogitNorm") || !strings.Contains(lines[1], "OE") {
		t.Errorf("compare --method stdout %q, want the LogitNorm and the OE verdict", out.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "logitnorm"}, "want NAME=DIR"},
		{[]string{"--method", "ce=" + sd("ce")}, "unknown training method \"ce\""},
		{[]string{"--t2fnorm", sd("t2f"), "--method", "t2fnorm=" + sd("t2f")}, "given twice"},
		{nil, "give --t2fnorm DIR or --method NAME=DIR"},
		{[]string{"--method", "oe=" + sd("logitnorm")}, "trained with logitnorm, given as oe"},
	} {
		stderr.Reset()
		args := append([]string{"t2f", "compare", "--baseline", sd("ce"), "--out", filepath.Join(t.TempDir(), "r.md")}, tc.args...)
		if code := run(context.Background(), args, &out, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("compare %v: exit %d, %q; want an error saying %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"t2f", "demo", "--methods", "ce,msp", "--list"}, &out, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--posthoc") {
		t.Errorf("--methods ce,msp: exit %d, %q; want a usage error pointing to --posthoc", code, stderr.String())
	}
}

// writeDivergence marks run as diverged, as t2f train does.
func writeDivergence(t *testing.T, run string) {
	t.Helper()
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	d := `{"epoch": 2, "step": 40, "last_good_step": 30, "error": "the weights have diverged"}`
	if err := os.WriteFile(filepath.Join(run, train.DivergedFile), []byte(d), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDemoPlanLeavesOutDivergedRuns: a diverged run's training and
// features are skipped with the reason, its features are not scored, and a
// method whose every seed diverged is neither scored nor in the report.
func TestDemoPlanLeavesOutDivergedRuns(t *testing.T) {
	o := tinyDemo(t)
	o.Seeds, o.TrainMethods = []int{0, 1}, []string{"ce", "oe", "t2fnorm"}
	writeDivergence(t, filepath.Join(o.Out, "oe-s0"))
	writeDivergence(t, filepath.Join(o.Out, "t2f-s0"))
	writeDivergence(t, filepath.Join(o.Out, "t2f-s1"))
	p, diverged, err := demoPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(diverged) != 3 {
		t.Errorf("diverged runs %v, want oe-s0, t2f-s0 and t2f-s1", slices.Collect(maps.Keys(diverged)))
	}
	steps := map[string]plan.Step{}
	for _, s := range p.Steps {
		steps[s.Name] = s
	}
	for name, want := range map[string]string{
		"train-oe-s0": "diverged at step 40 (epoch 2)", "features-oe-s0": "diverged",
		"train-t2f-s1": "left out of the scores", "score-t2f": "every seed diverged",
		"train-oe-s1": "", "score-oe": "", "score-ce": "",
	} {
		if s := steps[name]; (want == "") != (s.Skip == "") || !strings.Contains(s.Skip, want) {
			t.Errorf("%s skip %q, want %q", name, s.Skip, want)
		}
	}
	args := strings.Join(steps["score-oe"].Args, " ")
	if !strings.Contains(args, filepath.Join(o.Out, "oe-s1", runFeaturesName)) || strings.Contains(args, filepath.Join(o.Out, "oe-s0")) {
		t.Errorf("score-oe %s; want the features of oe-s1 only", args)
	}
	rep := strings.Join(steps["report"].Args, " ")
	if !strings.Contains(rep, "--method oe=") || strings.Contains(rep, "--t2fnorm") {
		t.Errorf("report %s; want OE compared and T2FNorm left out", rep)
	}
	for _, run := range []string{"oe-s0", "t2f-s0", "t2f-s1"} {
		if !strings.Contains(rep, "--note "+run+" left out of the scores: diverged at step 40 (epoch 2)") {
			t.Errorf("report %s; want a --note saying %s was left out", rep, run)
		}
	}
	// A DivergedFile t2f did not write stops the plan, naming it.
	if err := os.WriteFile(filepath.Join(o.Out, "oe-s0", train.DivergedFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := demoPlan(o); err == nil || !strings.Contains(err.Error(), filepath.Join("oe-s0", train.DivergedFile)) {
		t.Errorf("demoPlan with a broken %s: %v; want an error naming it", train.DivergedFile, err)
	}
}

// TestDemoGoesOnAfterDivergence: at a learning rate that makes every run
// diverge, the demo records each one, goes on to the next, lists them and
// fails for want of a report, naming the cure.
func TestDemoGoesOnAfterDivergence(t *testing.T) {
	o := tinyDemo(t)
	o.LR = 1e30
	var out, errb bytes.Buffer
	err := runDemoPlan(context.Background(), &out, &errb, o, false, "", false)
	if err == nil || !strings.Contains(err.Error(), "no report") || !strings.Contains(err.Error(), "--lr") {
		t.Fatalf("demo: %v; want a no-report error naming --lr\n%s", err, errb.String())
	}
	for _, run := range []string{"ce-s0", "t2f-s0"} {
		if !strings.Contains(errb.String(), "left out "+filepath.Join(o.Out, run)+": diverged at step") {
			t.Errorf("log does not list %s as left out:\n%s", run, errb.String())
		}
		if _, ok, err := train.ReadDivergence(filepath.Join(o.Out, run)); !ok || err != nil {
			t.Errorf("%s: ReadDivergence = %v, %v; want its record", run, ok, err)
		}
	}
	if n := strings.Count(errb.String(), "going on with the others"); n != 2 {
		t.Errorf("the demo went on %d times, want 2:\n%s", n, errb.String())
	}
}
