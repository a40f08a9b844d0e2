// Package npy reads NumPy arrays: .npy files (format versions 1.0, 2.0 and
// 3.0) and .npz archives (a zip of .npy members, stored or deflated, as
// numpy.savez and numpy.savez_compressed write them), without Python.
//
// A .npy file is the magic "\x93NUMPY", a version (major, minor byte), the
// header length (uint16 little-endian for 1.0, uint32 for 2.0/3.0), an
// ASCII (3.0: UTF-8) Python dict literal
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 512), }
//
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the
// raw elements in C order. Accepted dtypes: little-endian (or byte-order
// free) float16/32/64, int8/16/32/64, uint8/16/32 and bool; each array comes
// back as a safetensors.Tensor (F16, F32, F64, I8, I16, I32, I64, U8, U16,
// U32, BOOL) named by the file stem (.npy) or the member name without
// ".npy" (.npz). Fortran-order arrays, big-endian data, object and
// structured dtypes are refused with what to do instead; nothing in a file
// is executed (an object array would need pickle).
//
// Imported by cmd/t2f (t2f features import); it imports formats/safetensors
// for the tensor type.
package npy
