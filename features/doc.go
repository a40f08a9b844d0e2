// Package features runs a trained network over dataset shards and owns the
// feature store that OOD scoring reads: one Parquet file per dataset split and
// the classifier head beside them. It never scores anything.
//
// # Feature files
//
// A directory of features holds one file per dataset split, named
// "<dataset>_<split>.parquet" (FileName), plus head.safetensors. Each Parquet
// file has exactly these columns, all non-nullable:
//
//	id                  int64                    the shard's sample id
//	dataset             string                   dataset name, the same on every row (= metadata "dataset")
//	split               string                   split name, the same on every row (= metadata "split")
//	label               int32                    class index, −1 for OOD
//	feature             fixed_size_list<float32, D>  f, the penultimate feature
//	feature_normalized  fixed_size_list<float32, D>  f / max(‖f‖₂, 1e-12)
//	feature_norm        float32                  ‖f‖₂
//	logits              fixed_size_list<float32, C>  training forward: W·f/‖f‖/τ + b (T2FNorm) or W·f + b (linear)
//	logits_ood          fixed_size_list<float32, C>  OOD-inference forward: W·f/τ + b (T2FNorm) or W·f + b (linear)
//	pred                int32                    argmax of logits (first maximum)
//
// In Parquet terms the list columns are standard three-level LIST columns
// (element name "element", required), so any Parquet reader sees them as
// lists of float; the Arrow schema stored in the file (key "ARROW:schema")
// lets Arrow-based readers restore the fixed size. ReadFile accepts list,
// large_list and fixed_size_list columns, and plain or dictionary-encoded
// strings, so files rewritten by other tools (pandas, Polars, DuckDB) still
// read as long as every row has the right length.
//
// The Parquet key/value file metadata holds:
//
//	t2f_features_version  "1", the version of this layout
//	dataset, split        the dataset split of every row
//	model                 e.g. "resnet18_32x32"
//	width                 the width multiplier, shortest decimal that round-trips a float64
//	head                  "t2fnorm" or "linear"
//	tau                   τ, shortest decimal that round-trips a float64
//	classes               the ID class names as a JSON array of strings
//	checkpoint_sha256     hex SHA-256 of the checkpoint file
//	dim, num_classes      D and C, decimal
//	method                the training method the checkpoint records (ce,
//	                      t2fnorm, logitnorm, oe, t2fnorm+oe); absent when
//	                      it records none
//
// Float columns are written PLAIN (no dictionary) with Snappy compression,
// strings dictionary-encoded, in row groups of about 64 MiB. ReadFile checks
// the columns and their types, the metadata, that every list has D (features)
// or C (logits) values, that there are no nulls, that dataset and split
// match the metadata on every row, that every float is finite (an error names
// the file, column and row), that labels are ≥ −1 and preds in [0, C).
//
// # Head file
//
// head.safetensors (HeadFileName) holds the final linear layer so scoring
// needs no network:
//
//	fc.weight  F32 [C, D]   W, row-major
//	fc.bias    F32 [C]      b
//	tau        F64 []       τ (1 for a linear head)
//
// with safetensors metadata t2f_head_version "1", head, model, width,
// checkpoint_sha256, classes (JSON array): the feature files' keys, with
// the same values. See WriteHead and ReadHead.
//
// # Extraction
//
// Extract runs a Network (defined here: what extraction needs from a model,
// in eval mode) over a Source (test-transformed NCHW float32 batches with ids
// and labels) and returns the rows in source order; ExtractTo streams them
// into a Writer instead. See Network for the concurrency contract; Pool
// puts several instances of a network that is not safe for concurrent use
// behind one that is. ShardSource is the Source over shard images with the
// test transform.
//
// # Extra columns
//
// `t2f features --extra` (ExtraSpec, ComputeExtra) runs OpenOOD methods that
// need the network — ODIN and IODIN over their (temperature, noise) grid,
// RankFeat's fused logits, AdaScale's perturbed feature, mds_ensemble's
// score, gram's deviation (from ID-train statistics: TrainGramStats), gmm's
// log-density (from GMMStats, fitted on TrainStageRows: the flattened
// stage-2 maps of ID train, kept in memory or spilled to a temporary file,
// Spill) — through an ExtraNetwork (input gradients, stage maps, the
// forward from a stage, every conv and ReLU module output) and writes
// extra/<dataset>_<split>.parquet beside the feature files (ExtraPath,
// WriteExtra, ReadExtra): an id column, then one fixed-size list<float32>
// column per value (ODINColumn, ColRankFeatLogits, ColAdaScalePerturbed,
// MDSEnsembleColumn, ColGramDeviation, ColGMMScore), with the feature
// file's metadata plus t2f_extra_version. See docs/features.md.
//
// # Import
//
// Import builds a Table from arrays made elsewhere (features N×D, labels,
// optional logits, logits_ood and ids, picked by name with Pick) and a Head
// from ImportHead (weight C×D, bias C, τ): missing logits are computed from
// the head, given ones are checked against it, and the derived columns are
// computed as extraction computes them (import.go). ImportFiles does the
// whole of t2f features import short of writing: it reads one array file
// per split (ReadArrays: .npz, .npy, .safetensors or a directory of .npy),
// takes the dataset and split from each file's name (SplitOfPath), finds the
// head and builds every table, so that nothing is written unless all of them
// pass (importfiles.go).
//
// ReadFile decodes Parquet pages straight into the table (leaves.go);
// writing cuts row groups itself and hands each to pqarrow unbuffered.
package features
