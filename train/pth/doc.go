// Package pth reads PyTorch checkpoints written by torch.save (torch ≥ 1.6,
// the zip format) that hold a state_dict, without running Python and
// without executing anything the file says.
//
// File layout (a zip archive, records stored uncompressed):
//
//	<name>/data.pkl      the pickled object (pickle protocol 2); tensors are
//	                     torch._utils._rebuild_tensor_v2(storage, offset,
//	                     size, stride, requires_grad, hooks) whose storage is
//	                     a persistent id ('storage', torch.FloatStorage, key,
//	                     location, numel)
//	<name>/data/<key>    each storage's raw little-endian elements
//	<name>/version       serialisation version (ignored)
//	<name>/byteorder     "little" (written by newer torch versions; absent
//	                     means little-endian)
//
// <name> is the saved file's stem with torch 1.13 (e.g. "resnet50/") and
// "archive" with others; any single folder holding data.pkl is accepted.
//
// The unpickler is restricted: it interprets the opcodes torch.save emits
// (and the protocol 3–5 forms of the same values) into inert Go values and
// resolves a GLOBAL only when it is one of collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter and
// the typed storages torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,
// Byte,Bool}Storage. Any other global is an error naming it; nothing is
// ever called, so a malicious file can at worst be refused.
//
// Accepted content: a dict (or OrderedDict) of str → tensor, or a dict
// holding one under "state_dict", "model_state_dict", "model" or "net" (the
// rest of such a wrapper, e.g. an optimiser state, must still use only the
// allowed globals, and is not materialised). Tensors may be views: any
// storage offset, shared storages, and any strides (non-contiguous views
// are copied into row-major order); an expanded view with more elements than
// its storage is refused.
//
// Output: the repository's safetensors.Tensor (name, dtype, shape, row-major
// little-endian bytes) in the dict's order. F32, F64, F16 and BF16 tensors
// all come back as F32 (F64 rounded to nearest; F16 and BF16 exactly); I64
// (e.g. BatchNorm num_batches_tracked), I32, I16, I8, U8 and BOOL keep their
// dtype. Float32s converts any of the four float dtypes, so callers can read
// .safetensors files the same way.
//
// Refused with a message saying what to do: the legacy pre-1.6 format
// (pickle stream or tar; re-save with torch ≥ 1.6), TorchScript archives,
// pickled whole models, big-endian checkpoints, truncated or corrupt files.
package pth
