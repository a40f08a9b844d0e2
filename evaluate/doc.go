// Package evaluate scores feature files with post-hoc OOD methods and
// aggregates the metrics exactly as OpenOOD v1.5's Evaluator._eval_ood does;
// it also analyses feature norms and writes tables, per-sample scores and
// plots. It reads only feature files (package features) and runs no network.
// The metrics themselves are in evaluate/metrics, the methods in
// evaluate/posthoc.
//
// # Runs and dataset references
//
// A Run is one trained model's feature directory (one seed): its feature
// files (one per dataset split, each recording its dataset and split) and
// its head file. Several runs are aggregated as mean ± population std.
// Within a Config:
//
//   - ID names the ID dataset; its splits are found by name: "test"
//     (required), "train" (for methods that fit on training features: knn,
//     mds, rmds, vim, dice, she, nnguide, fdbd, ...) and "val" (for
//     methods that fit on ID val — react, klm, temp_scaling, residual — and
//     for the search).
//   - Near, Far and CSID entries are "NAME" or "NAME:SPLIT". Without a split
//     the "test" split is used if the dataset has one, else its only file;
//     otherwise the error lists the splits there are.
//   - OODVal ("NAME" or "NAME:SPLIT", default split "val", else the only
//     file) is the OOD validation set of OpenOOD's automatic
//     hyper-parameter search (APS): methods whose OpenOOD config has
//     APS_mode True (ebo, react, ash, scale, knn, vim, gen, fdbd) are
//     searched on ID val ∪ OOD val, keeping the setting with the highest
//     AUROC. Without OODVal every method uses OpenOOD's defaults and the
//     table header says so.
//
// # Views (what each method sees)
//
// ACC always comes from the feature files' pred column: the argmax of the
// plain (training) forward, as OpenOOD's evaluator does — for T2FNorm the
// normalised forward W·f/‖f‖/τ + b. The methods see a "view" of each split:
//
//   - msp: the plain view — feature f, logits = the logits column. On a
//     T2FNorm model this is MSP of the training forward.
//   - every other method: the scoring view. For a linear head that is f and
//     the logits column. For a T2FNorm head it is the feature f/τ (float32
//     division) and logits = the logits_ood column (W·f/τ + b), i.e. what
//     OpenOOD's post-processors see through fc(f/τ); t2fnorm is MSP on it.
//     If the head is present, logits_ood is checked against W·(f/τ) + b on
//     the first ID test rows; a T2FNorm model whose OOD forward does not
//     divide by τ (OpenOOD's ImageNet-1k rule) is detected there and gets
//     the divisor 1 (RunInfo.ScoringDivisor).
//
// # Aggregation (OpenOOD v1.5)
//
// Per OOD set: all ID test scores vs that set's scores (no subsampling).
// "nearood" and "farood" rows are the plain, unweighted means of each metric
// over the near / far sets. With CSID sets a second, full-spectrum table is
// computed with ID = ID test ∪ all CSID sets (their class labels kept) and
// ACC = accuracy over ID test ∪ CSID. With several runs each run's table is
// computed first, then every cell is the mean and population standard
// deviation over runs (numpy's default, as OpenOOD's scripts/eval_ood.py).
//
// # Validation
//
// Every split used is checked (features.Table.Check: shapes, finite
// values), OOD sets must be labelled −1 throughout, ID and CSID sets must
// have labels in [0, C), all splits and the head of a run must share one
// checkpoint SHA-256, feature dimension, class count, model, head kind and
// τ; runs must share model, head, D and C and come from different
// checkpoints. Errors name the file and row. A method that cannot run (its
// ID train or val split is missing, a score is not finite) is reported in
// its MethodResult.Err; the other methods still run. Nothing is dropped.
//
// # Outputs (see WriteOutputs)
//
//	<method>.csv         OpenOOD layout: dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,FPR@95_IDpos,ECE
//	                     rows near sets, nearood, far sets, farood; ×100
//	<method>_fsood.csv   the same for the full-spectrum table (with CSID sets)
//	scores.parquet       method, run, dataset, split, id, label, score (ScoresSchema)
//	norms.csv            ‖f‖ statistics per run and dataset split (WriteNormCSV)
//	results.json         everything above, percent values at full precision (WriteJSON)
//	report.md            the tables, norms and notes as Markdown, linking the plots (WriteMarkdown)
//	norm_<dataset>.png, scores_<method>.png, roc_<method>.png   plots of the first run
//
// Every file is written under a temporary name and renamed into place
// (internal/atomicfile).
//
// # Where things are
//
//	evaluate.go        the result types and Evaluate (the loop of OpenOOD's _eval_ood)
//	config.go          Config and its checks; what the chosen methods need
//	aggregate.go       per-run values into table rows, mean ± std over runs
//	load.go            LoadRun: a features directory as a Run
//	prepare.go         resolving and validating the splits of a run, the scoring views
//	method.go          fitting and running one posthoc method on one run (and
//	                   the AUROC its hyper-parameter search maximises)
//	extra.go           the extra-column files (features --extra) of a run's splits
//	ensemble.go        the ensemble method's members (every run's logits_ood)
//	training.go        training methods (features.Meta.Method) and their scorers
//	norms.go           feature-norm statistics (NormStats)
//	format.go          formatters: CSV and text tables of rows and norms
//	scores_file.go     scores.parquet (ScoresSchema, WriteScores)
//	results.go         results.json: the Results schema, WriteJSON and ReadResults
//	report.go, plot.go report.md and the plots of one evaluation
//	outdir.go          WriteOutputs: every file above into one directory
//	saturation.go      the saturated-score (ties) diagnosis
//	compare*.go        Compare of two results.json: deltas (compare.go),
//	                   statistics (compare_stats.go), the verdict prose
//	                   (compare_verdict.go), Markdown (compare_report.go), plots
//	                   (compare_plot.go)
package evaluate
