// Package shards owns t2f's on-disk dataset format: Apache Arrow IPC *file*
// shards plus a JSON manifest, the writer that produces them, the
// memory-mapped reader the trainer uses, and verification.
//
// # Directory layout
//
//	DIR/dataset.json        manifest (written last, temp name + rename)
//	DIR/shard-00000.arrow   Arrow IPC file format, uncompressed, memory-mappable
//	DIR/shard-00001.arrow   ...
//
// Every shard is written to "shard-NNNNN.arrow.tmp" and renamed when it is
// complete and synced, so a file ending in ".arrow" is always a whole shard.
// A directory without dataset.json is an unfinished build.
//
// # Schema (every shard)
//
//	id      int64                           stable sample id (the record's index in the source input order)
//	label   int32                           class index, -1 = OOD / unlabelled
//	image   fixed_size_list<item: uint8>[H*W*C]  pixels, row-major HWC (height, width, channel)
//	source  utf8                            where the sample came from: a file path, or "file#record"
//
// All columns are non-nullable in practice (no nulls are written). Schema
// metadata (key → value, all strings): "t2f.format" = "t2f-shards/1",
// "dataset", "split", "classes" (a JSON array of class names, index = label),
// "height", "width", "channels" (decimal) and "layout" = "HWC".
//
// Rows are numbered globally across shards in manifest order: row i of the
// dataset is row i − start(k) of shard k. Each shard holds up to the build's
// shard-rows rows, split into record batches of at most BatchRows rows.
//
// # Manifest (dataset.json)
//
// See [Manifest]: format version, dataset, split, classes, per-class counts
// and the OOD count, H/W/C/layout, total rows, each shard's file name, row
// count and SHA-256, the exact build parameters (an opaque JSON object owned
// by the producer, package pipeline), and the inputs skipped by --skip-bad.
//
// # Reading
//
// [Open] memory-maps every shard (read-only) and exposes zero-copy views:
// [Reader.Image] returns a slice aliasing the mapped file, valid until
// [Reader.Close]. [Verify] re-hashes shards and re-checks schema and counts.
package shards
