// Package safetensors reads and writes the safetensors tensor file format
// (https://github.com/huggingface/safetensors), the checkpoint format of t2f.
//
// File layout, all integers little-endian:
//
//	bytes [0, 8)      N, the header length as a uint64
//	bytes [8, 8+N)    a UTF-8 JSON object, padded with spaces:
//	                  {"__metadata__": {"k": "v", ...},            (optional, string → string)
//	                   "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//	bytes [8+N, EOF)  the data buffer; tensor "name" is bytes [begin, end) of it,
//	                  row-major ("C" order), little-endian elements.
//
// A scalar has shape [] and one element. Read accepts a file only when the
// header is at most 100,000,000 bytes, starts with '{', holds each name once,
// every dtype is known, end-begin equals product(shape)·(dtype size), and the
// tensors, taken in offset order, tile the data buffer exactly: the first
// starts at 0, each starts where the previous ended, and the last ends at
// end of file. These are the checks of the reference Rust implementation,
// plus the duplicate-name check (serde silently keeps the last duplicate).
//
// Write produces the same bytes as the reference implementation
// (safetensors.torch.save_file) for the same tensors: tensors are laid out in
// descending dtype order of the reference's Dtype enum (so I64 before F32,
// F32 before U8), ties broken by name in byte order; the header is compact
// JSON with "__metadata__" first (its keys sorted, where the reference's
// order is that of a hash map and so unspecified), then the tensors in data
// order with fields dtype, shape, data_offsets; the header is padded with
// spaces to a multiple of 8 bytes so every tensor is 8-byte aligned. Write is
// atomic: a temporary file in the destination's directory is written,
// fsynced, and renamed over the destination.
//
// Element data is kept as raw bytes ([]byte) for every dtype; the typed
// helpers (Float32s, Int64s, ...) decode copies. BF16, F16, F8 and the other
// dtypes without a helper are read and written as raw bytes.
//
// Who may import it: every package that reads or writes tensors on disk —
// train (checkpoints), features and evaluate (head.safetensors). It imports
// nothing of t2f.
package safetensors
