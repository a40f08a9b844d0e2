#!/usr/bin/python3
"""Writes interop.safetensors, the Python-written fixture read by interop_test.go.

Rerun from the repository root with Debian's interpreter:

    /usr/bin/python3 formats/safetensors/testdata/gen_interop.py

Debian ships no python3-safetensors, so the file is written by hand with
struct/json, following the reference writer (huggingface/safetensors,
safetensors/src/tensor.rs `prepare`): tensors ordered by descending dtype
rank of the Dtype enum, then by name; compact JSON header with
"__metadata__" first; header padded with spaces to a multiple of 8 bytes.
Values come from numpy and are listed in interop_test.go as literals.
"""
import json
import os
import struct

import numpy as np

# Rank in the reference Dtype enum (increasing alignment).
RANK = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64",
        "F64", "I64", "U64"]


def save(path, tensors, metadata):
    """tensors: dict name -> (dtype string, shape list, raw little-endian bytes)."""
    order = sorted(tensors.items(), key=lambda kv: (-RANK.index(kv[1][0]), kv[0].encode()))
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(sorted(metadata.items()))
    off = 0
    for name, (dtype, shape, raw) in order:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, (_, _, raw) in order:
            f.write(raw)
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    t = {}
    w = (np.arange(6, dtype=np.float32) - np.float32(2.5)) * np.float32(0.25)
    t["weight"] = ("F32", [2, 3], w.astype("<f4").tobytes())
    t["tau"] = ("F32", [], np.array(0.1, dtype="<f4").tobytes())
    t["num_batches_tracked"] = ("I64", [], np.array(3, dtype="<i8").tobytes())
    t["idx"] = ("I64", [4], np.array([-3, 0, 1 << 40, -(1 << 62)], dtype="<i8").tobytes())
    t["f64"] = ("F64", [3], np.array([1.0 / 3.0, -2.5, 1e300], dtype="<f8").tobytes())
    t["bytes"] = ("U8", [5], np.array([0, 1, 127, 128, 255], dtype=np.uint8).tobytes())
    t["half"] = ("BF16", [2], bytes([0x80, 0x3F, 0x00, 0xC0]))  # bf16 1.0, -2.0
    t["i32"] = ("I32", [2, 2], np.array([1, -1, 2**31 - 1, -2**31], dtype="<i4").tobytes())
    t["empty"] = ("F32", [0, 4], b"")
    save(os.path.join(here, "interop.safetensors"), t, {"format": "pt", "note": "interop"})


if __name__ == "__main__":
    main()
