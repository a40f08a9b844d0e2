// Package pth reads PyTorch checkpoints written by torch.save that hold a
// state_dict, in either of torch.save's formats, without running Python
// and without executing anything the file says.
//
// The zip format (torch ≥ 1.6; a zip archive, records stored uncompressed):
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
// The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False;
// torch/serialization.py _legacy_save), told apart by its first byte (a
// binary pickle, not "PK"): consecutive pickles, then the raw storages
//
//	pickle   magic number 0x1950a86a20f9469cfc6c (else: not a torch.save file)
//	pickle   protocol version 1001
//	pickle   sys_info dict; little_endian False is refused
//	pickle   the object; a storage is the persistent id ('storage',
//	         torch.FloatStorage, root_key, location, numel, view_metadata),
//	         view_metadata None or (view_key, offset, size) in elements: a
//	         storage view (only old torch versions wrote them) of part of
//	         the root
//	pickle   the list of root keys, in the order their data follows
//	per key  int64 element count (little-endian; must equal the pickle's
//	         numel), then the elements, little-endian
//
// Bytes after the last storage are ignored, as torch.load does. Pickles
// written by Python 2 (str as SHORT_BINSTRING/BINSTRING, decoded as UTF-8
// like torch.load does) and int root keys are read too.
//
// The unpickler is restricted: it interprets the opcodes torch.save emits
// (and the protocol 3–5 forms of the same values) into inert Go values and
// resolves a GLOBAL only when it is one of collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter and
// the typed storages torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,
// Byte,Bool}Storage. Any other global is an error naming it; nothing is
// ever called, so a malicious file can at worst be refused.
//
// Both formats share the unpickler and everything below.
//
// Accepted content: a dict (or OrderedDict) of str → tensor, or a dict
// holding one under "state_dict", "model_state_dict", "model" or "net" (the
// rest of such a wrapper, e.g. an optimiser state, must still use only the
// allowed globals, and is not materialised). Tensors may be views: any
// storage offset, shared storages, and any strides (non-contiguous views
// are copied into row-major order); an expanded view with more elements than
// its storage is refused, and so is a storage referenced with two different
// types or sizes.
//
// Output: the repository's safetensors.Tensor (name, dtype, shape, row-major
// little-endian bytes) in the dict's order. F32, F64, F16 and BF16 tensors
// all come back as F32 (F64 rounded to nearest; F16 and BF16 exactly); I64
// (e.g. BatchNorm num_batches_tracked), I32, I16, I8, U8 and BOOL keep their
// dtype. Float32s converts any of the four float dtypes, so callers can read
// .safetensors files the same way.
//
// Refused with a message saying what to do: the tar format of torch 0.1.x
// (re-save with a newer torch), TorchScript archives, pickled whole models,
// big-endian checkpoints, truncated or corrupt files (errors about a legacy
// file say "PyTorch's legacy (pre-1.6) format").
//
// Who may import it: any package that loads a PyTorch checkpoint — train/nn
// (--init weights) and features (--checkpoint). It imports nothing of t2f.
package pth
